//! A therapist's whole caseload as one plaintext JSON file, for moving to
//! another practice: `tearsheet.caseload.v3` (documented in docs/EXPORT.md;
//! v1 files, which have no measures, are still read).
//! Private process notes are never exported. `tearsheet import` brings such
//! a file into another account: it checks the whole file first and writes
//! everything in one transaction, so nothing is ever half-imported.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::model::{self as clients, ClientFields};
use crate::audit::{self, Action};
use crate::auth::extract::SignedForm;
use crate::crypto::Keys;
use crate::db::{DbConn, write_transaction};
use crate::ids::{ClientId, NoteId, TherapistId};
use crate::measures::instrument::{Instrument, score};
use crate::notes::addenda;
use crate::notes::format::{NoteFormat, SessionType};
use crate::notes::model::{self, NoteContent, SessionFacts};
use crate::tags::{self, Vocabulary};
use crate::web::{AppError, AppState};

/// Register the caseload export (a form on the settings page).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/export", web::post().to(export_caseload));
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordOnly {
    password: String,
}

/// `POST /settings/export`: the whole caseload as plaintext JSON, for moving
/// practices. Password required; audited; process notes left out.
async fn export_caseload(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<PasswordOnly>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    if let Some(refusal) = crate::auth::settings::wrong_password(
        &req,
        &state,
        &session,
        &form.form.password,
        "export_password",
        "That is not your password. Nothing was exported.",
    )
    .await?
    {
        return Ok(refusal);
    }
    let (therapist, dk) = (session.therapist, session.keys.clone());
    let caseload = state
        .db(move |conn| {
            let caseload = export(conn, therapist, &dk)?;
            if caseload.is_some() {
                audit::record(conn, Some(therapist), Action::CaseloadExport, None)?;
            }
            Ok(caseload)
        })
        .await?
        .ok_or_else(|| {
            AppError::conflict(
                "Part of your caseload failed an integrity check, so it cannot be exported whole. Nothing was exported.",
            )
        })?;
    crate::web::json_download(&caseload, "application/json", "tearsheet-caseload.json")
}

/// The format's name; bump on any change to its shape. v3 adds a note's
/// pack `template` and a measure's pack `scale`.
pub const FORMAT: &str = "tearsheet.caseload.v3";

/// The earlier format, which `check` still reads: v3 without templates
/// and scales.
pub const FORMAT_V2: &str = "tearsheet.caseload.v2";

/// The first format, which `check` still reads: v2 without measures.
pub const FORMAT_V1: &str = "tearsheet.caseload.v1";

/// The whole file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caseload {
    /// [`FORMAT`].
    pub format: String,
    /// When exported (RFC 3339).
    pub exported_at: String,
    /// Every client, with their notes.
    pub clients: Vec<ClientExport>,
}

/// One client.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientExport {
    /// Full name.
    pub full_name: String,
    /// Preferred name.
    #[serde(default)]
    pub preferred_name: String,
    /// Pronouns.
    #[serde(default)]
    pub pronouns: String,
    /// `YYYY-MM-DD` or empty.
    #[serde(default)]
    pub date_of_birth: String,
    /// Free text.
    #[serde(default)]
    pub about: String,
    /// Preferred language, a BCP 47 tag; left out when not recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub language: String,
    /// Whether archived.
    #[serde(default)]
    pub archived: bool,
    /// Notes, oldest first.
    #[serde(default)]
    pub notes: Vec<NoteExport>,
    /// Measures, oldest first (v2).
    #[serde(default)]
    pub measures: Vec<MeasureExport>,
}

/// One measure.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureExport {
    /// `YYYY-MM-DD`.
    pub taken_on: String,
    /// `phq-9` or `gad-7`, or a pack's scale as `PACK/SLUG`.
    pub instrument: String,
    /// One per item, 0–3 or null (for a pack's scale, the index of the
    /// chosen answer in the scale below).
    pub answers: Vec<Option<u8>>,
    /// A pack's rating scale, kept whole (a FHIR Questionnaire as Tearsheet
    /// reads it), when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<crate::packs::content::PackInstrument>,
    /// The note it was recorded with: its place in this client's `notes`
    /// (from 0).
    #[serde(default)]
    pub note: Option<usize>,
    /// Marked entered in error (kept, not counted).
    #[serde(default)]
    pub entered_in_error: bool,
}

/// One note (never its private process note).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteExport {
    /// `YYYY-MM-DD`.
    pub session_date: String,
    /// Minutes.
    pub duration_minutes: i32,
    /// individual, couple, family, group.
    pub session_type: String,
    /// soap, dap, birp, free.
    pub format: String,
    /// Section key to text.
    pub sections: BTreeMap<String, String>,
    /// The pack template the note was written with (its name, pack and
    /// sections), when it was; format is then `free`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<crate::packs::content::Template>,
    /// The key moment.
    #[serde(default)]
    pub key_moment: String,
    /// Built-in tag slugs.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The therapist's own tag names.
    #[serde(default)]
    pub own_tags: Vec<String>,
    /// Whether signed.
    #[serde(default)]
    pub signed: bool,
    /// Addenda, oldest first.
    #[serde(default)]
    pub addenda: Vec<String>,
}

/// Build the export for a therapist (DK open).
pub fn export(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &Keys,
) -> diesel::QueryResult<Option<Caseload>> {
    let vocabulary = Vocabulary::new(
        &tags::custom::all(conn, therapist, dk.dk())?,
        &crate::packs::registry::PackSet::archived(conn)?,
    );
    let mut out = Vec::new();
    for (row, _) in clients::list(conn, therapist)? {
        let client = row.open(dk);
        let Some(f) = client.fields() else {
            return Ok(None);
        };
        let mut notes = Vec::new();
        let mut rows = model::for_client(conn, therapist, client.id)?;
        rows.reverse();
        let places: std::collections::HashMap<NoteId, usize> =
            rows.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        let mut measures = Vec::new();
        for m in crate::measures::model::for_client(conn, therapist, dk, client.id)? {
            let (instrument, answers, note, scale) = match (m.content, m.scale) {
                (Ok(taken), _) => (
                    taken.instrument.slug().to_owned(),
                    taken.items,
                    taken.note,
                    None,
                ),
                (_, Some(s)) => (s.scale.key.clone(), s.items, s.note, Some(s.scale)),
                _ => return Ok(None),
            };
            measures.push(MeasureExport {
                taken_on: m.taken_on,
                instrument,
                answers,
                note: note.and_then(|n| places.get(&n).copied()),
                entered_in_error: m.entered_in_error_at.is_some(),
                scale,
            });
        }
        for n in rows {
            let note = n.open(dk);
            let addenda: Option<Vec<String>> = addenda::of_note(conn, therapist, dk, n.id)?
                .into_iter()
                .map(|a| a.body.ok())
                .collect();
            let (Some(content), Some(addenda)) = (note.content(), addenda) else {
                return Ok(None);
            };
            notes.push(NoteExport {
                session_date: note.facts.session_date.clone(),
                duration_minutes: note.facts.duration_minutes,
                session_type: note.facts.session_type.key().into(),
                format: note.facts.format.key().into(),
                sections: content.sections,
                template: content.template,
                key_moment: content.key_moment,
                tags: content
                    .tags
                    .iter()
                    .filter(|t| tags::builtin(t).is_some())
                    .cloned()
                    .collect(),
                own_tags: vocabulary
                    .views(&content.tags)
                    .into_iter()
                    .filter(|t| !t.builtin)
                    .map(|t| t.label)
                    .collect(),
                signed: note.signed,
                addenda,
            });
        }
        out.push(ClientExport {
            full_name: f.full_name,
            preferred_name: f.preferred_name,
            pronouns: f.pronouns,
            date_of_birth: f.date_of_birth,
            about: f.about,
            language: f.language,
            archived: client.archived,
            notes,
            measures,
        });
    }
    Ok(Some(Caseload {
        format: FORMAT.into(),
        exported_at: chrono::DateTime::from_timestamp(crate::db::now(), 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        clients: out,
    }))
}

/// Check a whole file; every problem names where it is.
pub fn check(text: &str) -> Result<Caseload, String> {
    let caseload: Caseload = serde_json::from_str(text)
        .map_err(|e| format!("the file is not a Tearsheet caseload export: {e}"))?;
    if ![FORMAT, FORMAT_V2, FORMAT_V1].contains(&caseload.format.as_str()) {
        return Err(format!("the file is {:?}, not {FORMAT}", caseload.format));
    }
    for (ci, c) in caseload.clients.iter().enumerate() {
        let at = |what: String| {
            format!(
                "client {} ({}): {what}",
                ci + 1,
                if c.full_name.is_empty() {
                    "no name"
                } else {
                    "named"
                }
            )
        };
        let errors = clients::validate(&ClientFields {
            full_name: c.full_name.clone(),
            preferred_name: c.preferred_name.clone(),
            pronouns: c.pronouns.clone(),
            date_of_birth: c.date_of_birth.clone(),
            about: c.about.clone(),
            language: c.language.clone(),
        });
        if let Some((field, message)) = errors.all().first() {
            return Err(at(format!("{field}: {message}")));
        }
        for (ni, n) in c.notes.iter().enumerate() {
            let at = |what: String| at(format!("note {}: {what}", ni + 1));
            if chrono::NaiveDate::parse_from_str(&n.session_date, "%Y-%m-%d").is_err() {
                return Err(at(format!(
                    "session_date {:?} is not a date",
                    n.session_date
                )));
            }
            if !(1..=600).contains(&n.duration_minutes) {
                return Err(at(format!(
                    "duration_minutes {} is not between 1 and 600",
                    n.duration_minutes
                )));
            }
            if SessionType::parse(&n.session_type).is_none() {
                return Err(at(format!(
                    "session_type {:?} is not known",
                    n.session_type
                )));
            }
            if NoteFormat::parse(&n.format).is_none() {
                return Err(at(format!("format {:?} is not known", n.format)));
            }
            if n.template
                .as_ref()
                .is_some_and(|t| !crate::packs::content::template_is_sound(t))
            {
                return Err(at(
                    "its template needs a name and 1 to 12 sections with distinct keys and labels"
                        .to_owned(),
                ));
            }
            if let Some(bad) = n.tags.iter().find(|t| tags::builtin(t).is_none()) {
                return Err(at(format!(
                    "tag {bad:?} is not a built-in tag (put the therapist's own tags in own_tags)"
                )));
            }
        }
        for (mi, m) in c.measures.iter().enumerate() {
            let at = |what: String| at(format!("measure {}: {what}", mi + 1));
            match chrono::NaiveDate::parse_from_str(&m.taken_on, "%Y-%m-%d") {
                Ok(day) if chrono::Datelike::year(&day) >= 1950 => {}
                _ => {
                    return Err(at(format!(
                        "taken_on {:?} is not a date since 1950",
                        m.taken_on
                    )));
                }
            }
            if let Some(scale) = &m.scale {
                if m.instrument != scale.key
                    || !crate::packs::content::instrument_is_sound(scale)
                    || crate::measures::model::ScaleTaken::score(
                        scale.clone(),
                        m.answers.clone(),
                        None,
                    )
                    .is_none()
                {
                    return Err(at(
                        "its scale, or its answers to it, do not check out".to_owned()
                    ));
                }
            } else {
                let Some(instrument) = Instrument::from_slug(&m.instrument) else {
                    return Err(at(format!(
                        "instrument {:?} is not phq-9 or gad-7",
                        m.instrument
                    )));
                };
                if score(instrument, &m.answers).is_none() {
                    return Err(at(format!(
                        "answers must be {} values, each 0 to 3 or null",
                        instrument.item_count()
                    )));
                }
            }
            if m.answers.iter().all(Option::is_none) {
                return Err(at("no item is answered".to_owned()));
            }
            if m.note.is_some_and(|i| i >= c.notes.len()) {
                return Err(at("note is not one of this client's notes".to_owned()));
            }
        }
    }
    Ok(caseload)
}

/// What an import wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Clients.
    pub clients: usize,
    /// Notes.
    pub notes: usize,
    /// Measures.
    pub measures: usize,
    /// Notes signed in the file that arrived as drafts, because a heading
    /// was empty and a signed note needs every one (they can be finished
    /// and signed in the app).
    pub left_unsigned: usize,
}

/// Write a checked caseload into a therapist's account, in one transaction.
pub fn import(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &Keys,
    caseload: &Caseload,
) -> diesel::QueryResult<Imported> {
    write_transaction(conn, |conn| {
        let mut own = tags::custom::all(conn, therapist, dk.dk())?;
        // What the export says was signed is signed again here, by the
        // account it is imported into.
        let signature = crate::auth::account::signature_of(conn, therapist)?;
        let mut done = Imported::default();
        for c in &caseload.clients {
            let fields = ClientFields {
                full_name: c.full_name.clone(),
                preferred_name: c.preferred_name.clone(),
                pronouns: c.pronouns.clone(),
                date_of_birth: c.date_of_birth.clone(),
                about: c.about.clone(),
                language: c.language.clone(),
            };
            let client: ClientId = clients::insert(conn, therapist, dk, &fields)?;
            if c.archived {
                clients::set_archived(conn, therapist, client, true)?;
            }
            let mut note_ids = Vec::with_capacity(c.notes.len());
            for n in &c.notes {
                let mut tags = n.tags.clone();
                for label in &n.own_tags {
                    tags.push(tags::custom_key(tags::custom::find_or_create(
                        conn,
                        therapist,
                        dk.dk(),
                        &mut own,
                        label,
                    )?));
                }
                let facts = SessionFacts {
                    session_date: n.session_date.clone(),
                    duration_minutes: n.duration_minutes,
                    session_type: SessionType::parse(&n.session_type)
                        .unwrap_or(SessionType::Individual),
                    format: NoteFormat::parse(&n.format).unwrap_or(NoteFormat::Free),
                };
                let content = NoteContent {
                    sections: n.sections.clone(),
                    key_moment: n.key_moment.clone(),
                    process_note: String::new(),
                    tags,
                    template: n.template.clone(),
                };
                let id = model::create(conn, therapist, dk, client, &facts, &content, None)?;
                if n.signed
                    && model::sign(conn, therapist, dk, id, 1, &signature)?
                        != model::SignOutcome::Signed
                {
                    done.left_unsigned += 1;
                }
                for a in &n.addenda {
                    addenda::add(conn, therapist, dk, id, a, &signature)?;
                }
                note_ids.push(id);
                done.notes += 1;
            }
            for m in &c.measures {
                let id = crate::measures::model::insert(
                    conn,
                    therapist,
                    dk,
                    client,
                    // Checked above; written as YYYY-MM-DD however the
                    // file wrote it.
                    &chrono::NaiveDate::parse_from_str(&m.taken_on, "%Y-%m-%d")
                        .map(|d| d.to_string())
                        .unwrap_or_else(|_| m.taken_on.clone()),
                    &crate::measures::model::Answers {
                        instrument: m.instrument.clone(),
                        items: m.answers.clone(),
                        note: m.note.and_then(|i| note_ids.get(i).copied()),
                        scale: m.scale.clone(),
                    },
                    None,
                )?;
                if m.entered_in_error {
                    crate::measures::model::mark_in_error(conn, therapist, client, id)?;
                }
                done.measures += 1;
            }
            done.clients += 1;
        }
        Ok(done)
    })
}
