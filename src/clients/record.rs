//! A client's record, as they are entitled to it: a printable page and a
//! JSON file with every note, addendum, tag, handout given and measure. Private
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
use crate::ids::{ClientId, MeasureId, NoteId};
use crate::measures::instrument::ANSWERS;
use crate::measures::model::Taken;
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
pub const FORMAT: &str = "tearsheet.client-record.v4";

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
    /// For a note written with a pack template: its name, pack and version
    /// (format is then `free`; the sections are the template's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Whether signed.
    pub signed: bool,
    /// When signed (RFC 3339), if signed.
    pub signed_at: Option<String>,
    /// Who signed it, as they were then (name, credentials, licence).
    pub signed_by: Option<String>,
    /// When signed, for the printed page.
    #[serde(skip)]
    pub signed_unix: Option<i64>,
    /// Who co-signed it as supervisor, as they were then, if anyone.
    pub cosigned_by: Option<String>,
    /// When co-signed (RFC 3339).
    pub cosigned_at: Option<String>,
    /// When co-signed, for the printed page.
    #[serde(skip)]
    pub cosigned_unix: Option<i64>,
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

/// A measure in the record.
#[derive(Serialize)]
pub struct MeasureRecord {
    /// `YYYY-MM-DD`.
    pub taken_on: String,
    /// `phq-9` or `gad-7`, or a pack's scale as `PACK/SLUG`.
    pub instrument: String,
    /// A pack's scale: its title, as it was when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// One per item, 0–3, or null when not answered (for a pack's scale,
    /// each chosen answer's score).
    pub answers: Vec<Option<u8>>,
    /// The total, only when every item is answered.
    pub total: Option<u32>,
    /// The total's band (`moderately severe`), with the total.
    pub band: Option<&'static str>,
    /// PHQ-9 item 9 answered above 0, in words.
    pub self_harm: Option<&'static str>,
    /// The session date of the note it was recorded with.
    pub session_date: Option<String>,
    /// Marked entered in error by the therapist: kept, not counted.
    pub entered_in_error: bool,
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
    /// Preferred language (BCP 47), left out when not recorded.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub language: String,
    /// `YYYY-MM-DD` or empty.
    pub date_of_birth: String,
    /// Notes, oldest first.
    pub notes: Vec<NoteRecord>,
    /// Handouts given, oldest first.
    pub handouts: Vec<HandoutRecord>,
    /// Measures, oldest first.
    pub measures: Vec<MeasureRecord>,
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

/// A note whose every part opened, with its addenda (when, text).
pub struct WholeNote {
    /// Its id (for links between exported resources).
    pub id: NoteId,
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
    /// Who co-signed it as supervisor, and when.
    pub cosigned: Option<(String, i64)>,
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

/// Everything in a client's record, opened whole: what the printed
/// record, the JSON record and the FHIR bundle are made from. Process
/// notes are emptied before a note is put here, so no export can use one.
pub struct Whole {
    /// The client.
    pub id: ClientId,
    /// Their details.
    pub client: ClientFields,
    /// Their notes.
    pub notes: Vec<WholeNote>,
    /// Handouts given.
    pub given: Vec<WholeGiven>,
    /// Measures, oldest first.
    pub measures: Vec<WholeMeasure>,
    /// Pack rating scales recorded, oldest first.
    pub scales: Vec<WholeScale>,
    /// Tag names.
    pub vocabulary: Vocabulary,
}

/// A measure whose answers opened.
pub struct WholeMeasure {
    /// Its id.
    pub id: MeasureId,
    /// `YYYY-MM-DD`.
    pub taken_on: String,
    /// When recorded.
    pub created_at: i64,
    /// When marked entered in error, if it was.
    pub entered_in_error_at: Option<i64>,
    /// What was answered, scored.
    pub taken: Taken,
}

/// A pack's rating scale recorded, opened.
pub struct WholeScale {
    /// `YYYY-MM-DD`.
    pub taken_on: String,
    /// When recorded.
    pub created_at: i64,
    /// When marked entered in error, if it was.
    pub entered_in_error_at: Option<i64>,
    /// The scale and its answers, scored.
    pub taken: crate::measures::model::ScaleTaken,
}

/// Build the record.
pub fn build(whole: &Whole) -> ClientRecord {
    let Whole {
        client,
        notes,
        given,
        vocabulary,
        ..
    } = whole;
    let note_dates: std::collections::HashMap<NoteId, &str> = notes
        .iter()
        .map(|n| (n.id, n.facts.session_date.as_str()))
        .collect();
    let scales = whole.scales.iter().map(|s| {
        (
            s.created_at,
            MeasureRecord {
                taken_on: s.taken_on.clone(),
                instrument: s.taken.scale.key.clone(),
                title: Some(s.taken.scale.title.clone()),
                answers: s
                    .taken
                    .items
                    .iter()
                    .zip(&s.taken.scale.items)
                    .map(|(chosen, item)| {
                        chosen.and_then(|i| item.answers.get(usize::from(i)).map(|a| a.score))
                    })
                    .collect(),
                total: s.taken.total,
                band: None,
                self_harm: None,
                session_date: s
                    .taken
                    .note
                    .and_then(|n| note_dates.get(&n))
                    .map(|d| (*d).to_owned()),
                entered_in_error: s.entered_in_error_at.is_some(),
            },
        )
    });
    let mut measures: Vec<(i64, MeasureRecord)> = whole
        .measures
        .iter()
        .map(|m| {
            (
                m.created_at,
                MeasureRecord {
                    taken_on: m.taken_on.clone(),
                    instrument: m.taken.instrument.slug().to_owned(),
                    title: None,
                    answers: m.taken.items.clone(),
                    total: m.taken.score.total.map(u32::from),
                    band: m.taken.score.band.map(|b| b.label()),
                    self_harm: m.taken.score.self_harm.map(|a| ANSWERS[a as usize].0),
                    session_date: m
                        .taken
                        .note
                        .and_then(|n| note_dates.get(&n))
                        .map(|d| (*d).to_owned()),
                    entered_in_error: m.entered_in_error_at.is_some(),
                },
            )
        })
        .chain(scales)
        .collect();
    // Oldest first, in the order recorded on the same day, either kind.
    measures.sort_by(|a, b| (&a.1.taken_on, a.0).cmp(&(&b.1.taken_on, b.0)));
    let measures: Vec<MeasureRecord> = measures.into_iter().map(|(_, m)| m).collect();
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
            cosigned_by: n.cosigned.as_ref().map(|c| c.0.clone()),
            cosigned_at: n.cosigned.as_ref().map(|c| rfc3339(c.1)),
            cosigned_unix: n.cosigned.as_ref().map(|c| c.1),
            template: n
                .content
                .template
                .as_ref()
                .map(|t| crate::notes::format::name_of(n.facts.format, Some(t))),
            sections: n
                .content
                .layout(n.facts.format)
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
        language: client.language.clone(),
        date_of_birth: client.date_of_birth.clone(),
        notes,
        handouts,
        measures,
    }
}

/// Everything in a client's record, opened, or a 409 if any part failed
/// its integrity check (a record is exported whole or not at all). The
/// export is audited. Its owner reads it, and so does a records custodian
/// once access is released (read-only, audited on both sides). A foreign
/// or unknown id is an audited 404.
pub async fn load_whole(
    state: &AppState,
    session: &CurrentSession,
    raw_id: &str,
) -> Result<Whole, AppError> {
    let (row, custodian) = super::readable(state, session, raw_id).await?;
    let (reader, therapist, dk) = (session.therapist, row.therapist_id, session.keys.clone());
    let packs = state.packs.current();
    let built = state
        .db(move |conn| {
            let client = row.open(&dk);
            let vocabulary = Vocabulary::new(&tags::custom::all(conn, reader, dk.dk())?, &packs);
            let note_rows = crate::notes::model::for_client(conn, therapist, client.id)?;
            let ids: Vec<_> = note_rows.iter().map(|n| n.id).collect();
            let cosigned = crate::sharing::review::cosignatures(conn, &ids)?;
            let mut notes = Vec::new();
            for note_row in note_rows {
                let note = note_row.open(&dk);
                let addenda = crate::notes::addenda::of_note(conn, therapist, &dk, note.id)?
                    .into_iter()
                    .map(|a| a.body.map(|body| (a.created_at, a.written_as, body)).ok())
                    .collect::<Option<Vec<_>>>();
                notes.push(
                    note.content()
                        .zip(addenda)
                        .map(|(mut content, addenda)| {
                            // Never part of the record: not even carried.
                            content.process_note.clear();
                            (content, addenda)
                        })
                        .map(|(content, addenda)| WholeNote {
                            id: note.id,
                            facts: note.facts,
                            content,
                            signed: note.signed,
                            signed_at: note.signed_at,
                            signed_as: note.signed_as,
                            cosigned: cosigned.get(&note.id).cloned(),
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
            let mut scales = Vec::new();
            let measures = crate::measures::model::for_client(conn, therapist, &dk, client.id)?
                .into_iter()
                .filter_map(|m| match (m.content, m.scale) {
                    (Ok(taken), _) => Some(Some(WholeMeasure {
                        id: m.id,
                        taken_on: m.taken_on,
                        created_at: m.created_at,
                        entered_in_error_at: m.entered_in_error_at,
                        taken,
                    })),
                    (_, Some(taken)) => {
                        scales.push(WholeScale {
                            created_at: m.created_at,
                            taken_on: m.taken_on,
                            entered_in_error_at: m.entered_in_error_at,
                            taken,
                        });
                        None
                    }
                    _ => Some(None),
                })
                .collect::<Option<Vec<_>>>();
            let whole = client
                .fields()
                .zip(notes.into_iter().collect::<Option<Vec<_>>>())
                .zip(given)
                .zip(measures);
            let Some((((fields, notes), given), measures)) = whole else {
                return Ok(None);
            };
            if custodian {
                audit::record(conn, Some(reader), Action::CustodyRead, Some(client.id.0))?;
                audit::record(
                    conn,
                    Some(therapist),
                    Action::CustodyRead,
                    Some(client.id.0),
                )?;
            } else {
                audit::record(conn, Some(reader), Action::ClientExport, Some(client.id.0))?;
            }
            Ok(Some(Whole {
                id: client.id,
                client: fields,
                notes,
                given,
                measures,
                scales,
                vocabulary,
            }))
        })
        .await?;
    built.ok_or_else(|| {
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
    let whole = load_whole(&state, &session, &path).await?;
    let (id, record) = (whole.id, build(&whole));
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
    let whole = load_whole(&state, &session, &path).await?;
    let (id, record) = (whole.id, build(&whole));
    crate::web::json_download(
        &record,
        "application/json",
        &format!("client-record-{id}.json"),
    )
}
