//! A client's record, as they are entitled to it: a printable page and a
//! JSON file with every note, addendum, tag and handout given. Private
//! process notes are never part of the record, so they are left out of both.
//! The JSON format is documented in `docs/EXPORT.md`.

use serde::Serialize;

use super::model::Client;
use crate::handouts::model::Given;
use crate::notes::model::{Addendum, Note};
use crate::notes::tags::Vocabulary;
use crate::web::layout::{local_time, long_date};

/// The export format's version; bump on any change to its shape.
pub const FORMAT: &str = "tearsheet.client-record.v1";

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
    /// Section heading and text, in the format's order.
    pub sections: Vec<(String, String)>,
    /// The key moment.
    pub key_moment: String,
    /// Tag names.
    pub tags: Vec<String>,
    /// Addenda, oldest first: when (RFC 3339) and text.
    pub addenda: Vec<(String, String)>,
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

/// Build the record (process notes deliberately absent from every type here).
pub fn build(
    client: &Client,
    notes: &[(Note, Vec<Addendum>)],
    given: &[Given],
    vocabulary: &Vocabulary,
) -> ClientRecord {
    let mut notes: Vec<NoteRecord> = notes
        .iter()
        .map(|(n, addenda)| NoteRecord {
            session_date: n.facts.session_date.clone(),
            duration_minutes: n.facts.duration_minutes,
            session_type: n.facts.session_type.key(),
            format: n.facts.format.key(),
            signed: n.signed,
            signed_at: n.signed_at.map(rfc3339),
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
            addenda: addenda
                .iter()
                .map(|a| (rfc3339(a.created_at), a.body.clone()))
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
            personal_note: g.text.personal_note.clone(),
        })
        .collect();
    handouts.sort_by(|a, b| a.given_at.cmp(&b.given_at));
    ClientRecord {
        format: FORMAT,
        exported_at: rfc3339(crate::db::now()),
        full_name: client.fields.full_name.clone(),
        preferred_name: client.fields.preferred_name.clone(),
        pronouns: client.fields.pronouns.clone(),
        date_of_birth: client.fields.date_of_birth.clone(),
        notes,
        handouts,
    }
}

/// Dates as people read them, for the printable page.
pub fn readable_date(iso: &str) -> String {
    long_date(iso)
}

/// Times as people read them, for the printable page.
pub fn readable_time(unix: i64) -> String {
    local_time(unix)
}
