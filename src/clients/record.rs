//! A client's record, as they are entitled to it: a printable page and a
//! JSON file with every note, addendum, tag and handout given. Private
//! process notes are never part of the record, so they are left out of both.
//! The JSON format is documented in `docs/EXPORT.md`.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Serialize;

use super::model::ClientFields;
use crate::audit::{self, Action};
use crate::auth::extract::Signed;
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::handouts::given::GivenText;
use crate::ids::ClientId;
use crate::notes::model::{NoteContent, SessionFacts};
use crate::tags::{self, Vocabulary};
use crate::web::dates::DateStyle;
use crate::web::{AppError, AppState, Layout};

/// Register the record routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients/{id}/record", web::get().to(record_page))
        .route("/clients/{id}/record.json", web::get().to(record_json));
}

/// The export format's version; bump on any change to its shape.
pub const FORMAT: &str = "tearsheet.client-record.v2";

/// One note in the record.
#[derive(Serialize)]
pub struct NoteRecord {
    /// `YYYY-MM-DD`.
    pub session_date: String,
    /// Minutes.
    pub duration_minutes: i32,
    /// individual, couple, family, group.
    pub session_type: &'static str,
    /// soap, dap, birp, free.
    pub format: &'static str,
    /// Whether signed.
    pub signed: bool,
    /// When signed (RFC 3339), if signed.
    pub signed_at: Option<String>,
    /// Who signed it, as they were then (name, credentials, licence).
    pub signed_by: Option<String>,
    /// When signed, for the printed page.
    #[serde(skip)]
    pub signed_unix: Option<i64>,
    /// Section heading and text, in the format's order.
    pub sections: Vec<(String, String)>,
    /// The key moment.
    pub key_moment: String,
    /// Tag names.
    pub tags: Vec<String>,
    /// Addenda, oldest first.
    pub addenda: Vec<AddendumRecord>,
}

/// An addendum in the record.
#[derive(Serialize)]
pub struct AddendumRecord {
    /// When written (RFC 3339).
    pub at: String,
    /// Who wrote it, as they were then, if recorded.
    pub by: Option<String>,
    /// Its text.
    pub text: String,
    /// When written, for the printed page.
    #[serde(skip)]
    pub unix: i64,
}

/// A handout given.
#[derive(Serialize)]
pub struct HandoutRecord {
    /// Its title as printed.
    pub title: String,
    /// Its version.
    pub version: i32,
    /// When (RFC 3339).
    pub given_at: String,
    /// When, for the printed page.
    #[serde(skip)]
    pub given_unix: i64,
    /// The personal note printed on it.
    pub personal_note: String,
}

/// The whole record.
#[derive(Serialize)]
pub struct ClientRecord {
    /// [`FORMAT`].
    pub format: &'static str,
    /// When exported (RFC 3339).
    pub exported_at: String,
    /// Full name.
    pub full_name: String,
    /// Preferred name.
    pub preferred_name: String,
    /// Pronouns.
    pub pronouns: String,
    /// `YYYY-MM-DD` or empty.
    pub date_of_birth: String,
    /// Notes, oldest first.
    pub notes: Vec<NoteRecord>,
    /// Handouts given, oldest first.
    pub handouts: Vec<HandoutRecord>,
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

/// A note whose every part opened, with its addenda (when, text).
pub struct WholeNote {
    /// Plain facts.
    pub facts: SessionFacts,
    /// Everything it says (its process note is never read from here).
    pub content: NoteContent,
    /// Whether signed.
    pub signed: bool,
    /// When signed.
    pub signed_at: Option<i64>,
    /// Who signed it.
    pub signed_as: Option<String>,
    /// Addenda, oldest first: when, by whom, text.
    pub addenda: Vec<(i64, Option<String>, String)>,
}

/// A handout given, whole: its text, version and when.
pub struct WholeGiven {
    /// What was printed.
    pub text: GivenText,
    /// The handout's version.
    pub version: i32,
    /// When given.
    pub given_at: i64,
}

/// Build the record (process notes deliberately absent from every type here).
pub fn build(
    client: &ClientFields,
    notes: &[WholeNote],
    given: &[WholeGiven],
    vocabulary: &Vocabulary,
) -> ClientRecord {
    let mut notes: Vec<NoteRecord> = notes
        .iter()
        .map(|n| NoteRecord {
            session_date: n.facts.session_date.clone(),
            duration_minutes: n.facts.duration_minutes,
            session_type: n.facts.session_type.key(),
            format: n.facts.format.key(),
            signed: n.signed,
            signed_at: n.signed_at.map(rfc3339),
            signed_by: n.signed_as.clone(),
            signed_unix: n.signed_at,
            sections: n
                .facts
                .format
                .sections()
                .iter()
                .map(|s| {
                    (
                        s.label.to_owned(),
                        n.content.sections.get(s.key).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
            key_moment: n.content.key_moment.clone(),
            tags: vocabulary
                .views(&n.content.tags)
                .into_iter()
                .map(|t| t.label)
                .collect(),
            addenda: n
                .addenda
                .iter()
                .map(|(at, by, text)| AddendumRecord {
                    at: rfc3339(*at),
                    by: by.clone(),
                    text: text.clone(),
                    unix: *at,
                })
                .collect(),
        })
        .collect();
    notes.sort_by(|a, b| a.session_date.cmp(&b.session_date));
    let mut handouts: Vec<HandoutRecord> = given
        .iter()
        .map(|g| HandoutRecord {
            title: g.text.title.clone(),
            version: g.version,
            given_at: rfc3339(g.given_at),
            given_unix: g.given_at,
            personal_note: g.text.personal_note.clone(),
        })
        .collect();
    handouts.sort_by(|a, b| a.given_at.cmp(&b.given_at));
    ClientRecord {
        format: FORMAT,
        exported_at: rfc3339(crate::db::now()),
        full_name: client.full_name.clone(),
        preferred_name: client.preferred_name.clone(),
        pronouns: client.pronouns.clone(),
        date_of_birth: client.date_of_birth.clone(),
        notes,
        handouts,
    }
}

/// Everything in a client's record, opened, or a 409 if any part failed
/// its integrity check (a record is exported whole or not at all). The
/// export is audited.
async fn load_record(
    state: &AppState,
    session: &CurrentSession,
    raw_id: &str,
) -> Result<(ClientId, ClientRecord), AppError> {
    let row = super::owned(state, session, raw_id).await?;
    let id = row.id;
    let (therapist, dk) = (session.therapist, session.dk.duplicate());
    let built = state
        .db(move |conn| {
            let client = row.open(&dk);
            let vocabulary = Vocabulary::new(&tags::custom::all(conn, therapist, &dk)?);
            let mut notes = Vec::new();
            for note_row in crate::notes::model::for_client(conn, therapist, client.id)? {
                let note = note_row.open(&dk);
                let addenda = crate::notes::addenda::of_note(conn, therapist, &dk, note.id)?
                    .into_iter()
                    .map(|a| a.body.map(|body| (a.created_at, a.written_as, body)).ok())
                    .collect::<Option<Vec<_>>>();
                notes.push(
                    note.content()
                        .zip(addenda)
                        .map(|(content, addenda)| WholeNote {
                            facts: note.facts,
                            content,
                            signed: note.signed,
                            signed_at: note.signed_at,
                            signed_as: note.signed_as,
                            addenda,
                        }),
                );
            }
            let given = crate::handouts::given::to_client(conn, therapist, &dk, &client)?
                .into_iter()
                .map(|g| {
                    g.text.ok().map(|text| WholeGiven {
                        text,
                        version: g.version,
                        given_at: g.given_at,
                    })
                })
                .collect::<Option<Vec<_>>>();
            let whole = client
                .fields()
                .zip(notes.into_iter().collect::<Option<Vec<_>>>())
                .zip(given);
            let Some(((fields, notes), given)) = whole else {
                return Ok(None);
            };
            audit::record(
                conn,
                Some(therapist),
                Action::ClientExport,
                Some(client.id.0),
            )?;
            Ok(Some(build(&fields, &notes, &given, &vocabulary)))
        })
        .await?;
    built.map(|record| (id, record)).ok_or_else(|| {
        AppError::conflict(
            "Part of this record failed an integrity check, so it cannot be exported whole. Nothing was exported.",
        )
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "clients/record.html")]
struct RecordPage {
    layout: Layout,
    id: ClientId,
    record: ClientRecord,
    /// How the practice writes dates.
    dates: DateStyle,
    /// When the page was made.
    exported: i64,
}

/// `GET /clients/{id}/record`: the printable record, without process notes.
async fn record_page(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<RecordPage, AppError> {
    let (id, record) = load_record(&state, &session, &path).await?;
    Ok(RecordPage {
        layout: layout_for(&session, "clients"),
        id,
        record,
        dates: session.dates,
        exported: crate::db::now(),
    })
}

/// `GET /clients/{id}/record.json`: the same record as a file.
async fn record_json(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, record) = load_record(&state, &session, &path).await?;
    let body = serde_json::to_vec_pretty(&record).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"client-record-{id}.json\""),
        ))
        .body(body))
}
