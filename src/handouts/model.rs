//! The practice's own handouts and the record of handouts given to clients.

use diesel::prelude::*;

use super::content::{Handout, Origin};
use crate::crypto::{DataKey, Record, hash_parts};
use crate::db::schema::{handouts_given, practice, practice_handouts};
use crate::db::{DbConn, new_row_id, now};
use crate::ids::{ClientId, TherapistId};
use crate::web::layout::shown;

#[derive(Queryable, Selectable)]
#[diesel(table_name = practice_handouts)]
struct PracticeRow {
    id: i64,
    slug: String,
    title: String,
    summary: String,
    body: String,
    fits: String,
    sources: String,
    version: i32,
}

impl From<PracticeRow> for Handout {
    fn from(r: PracticeRow) -> Self {
        Handout {
            slug: r.slug,
            title: r.title,
            version: r.version,
            summary: r.summary,
            fits: serde_json::from_str(&r.fits).unwrap_or_default(),
            sources: serde_json::from_str(&r.sources).unwrap_or_default(),
            card_of: None,
            body: r.body,
            origin: Origin::Practice(r.id),
        }
    }
}

/// The practice's own handouts.
pub fn practice_handouts(conn: &mut DbConn) -> QueryResult<Vec<Handout>> {
    let rows: Vec<PracticeRow> = practice_handouts::table
        .order(practice_handouts::title.asc())
        .select(PracticeRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(Handout::from).collect())
}

/// Save a new practice handout; a taken slug is a unique violation.
pub fn insert(conn: &mut DbConn, author: TherapistId, h: &Handout) -> QueryResult<i64> {
    let id = new_row_id();
    let at = now();
    diesel::insert_into(practice_handouts::table)
        .values((
            practice_handouts::id.eq(id),
            practice_handouts::slug.eq(&h.slug),
            practice_handouts::title.eq(&h.title),
            practice_handouts::summary.eq(&h.summary),
            practice_handouts::body.eq(&h.body),
            practice_handouts::fits.eq(serde_json::to_string(&h.fits).unwrap_or_default()),
            practice_handouts::sources.eq(serde_json::to_string(&h.sources).unwrap_or_default()),
            practice_handouts::version.eq(1),
            practice_handouts::created_by.eq(author.0),
            practice_handouts::created_at.eq(at),
            practice_handouts::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Replace a practice handout's text; its version goes up by one.
pub fn update(conn: &mut DbConn, id: i64, h: &Handout) -> QueryResult<bool> {
    let n = diesel::update(practice_handouts::table.find(id))
        .set((
            practice_handouts::title.eq(&h.title),
            practice_handouts::summary.eq(&h.summary),
            practice_handouts::body.eq(&h.body),
            practice_handouts::fits.eq(serde_json::to_string(&h.fits).unwrap_or_default()),
            practice_handouts::version.eq(practice_handouts::version + 1),
            practice_handouts::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// The practice's name, if set.
pub fn practice_name(conn: &mut DbConn) -> QueryResult<Option<String>> {
    Ok(practice::table
        .select(practice::name)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// How a handout was printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintOptions {
    /// `letter` or `a4`.
    pub paper: &'static str,
    /// Larger type.
    pub large_print: bool,
    /// No practice name and no "therapy" in headers and footers.
    pub discreet: bool,
}

/// What a given handout said, exactly as printed.
pub struct GivenText {
    /// The handout's title.
    pub title: String,
    /// The Markdown body.
    pub body: String,
    /// The therapist's personal note.
    pub personal_note: String,
}

/// The hash of exactly what was printed.
pub fn text_hash(slug: &str, version: i32, text: &GivenText, client_name: &str) -> [u8; 32] {
    hash_parts(&[
        b"tearsheet/v1/handout-given",
        slug.as_bytes(),
        &version.to_be_bytes(),
        text.title.as_bytes(),
        text.body.as_bytes(),
        text.personal_note.as_bytes(),
        client_name.as_bytes(),
    ])
}

/// Record that a handout was given to a client; returns the record's id.
#[allow(clippy::too_many_arguments)]
pub fn record_given(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    client: ClientId,
    handout: &Handout,
    text: &GivenText,
    client_name: &str,
    options: &PrintOptions,
) -> QueryResult<i64> {
    let id = new_row_id();
    let r = Record::new(dk, therapist.0, "handouts_given", id);
    let body = serde_json::json!({ "title": text.title, "body": text.body }).to_string();
    diesel::insert_into(handouts_given::table)
        .values((
            handouts_given::id.eq(id),
            handouts_given::therapist_id.eq(therapist.0),
            handouts_given::client_id.eq(client.0),
            handouts_given::slug.eq(&handout.slug),
            handouts_given::version.eq(handout.version),
            handouts_given::text_hash.eq(r.seal_bytes(
                "text_hash",
                &text_hash(&handout.slug, handout.version, text, client_name),
            )),
            handouts_given::body.eq(r.seal("body", &body)),
            handouts_given::personal_note.eq(r.seal("personal_note", &text.personal_note)),
            handouts_given::paper.eq(options.paper),
            handouts_given::large_print.eq(options.large_print),
            handouts_given::discreet.eq(options.discreet),
            handouts_given::given_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A given handout, opened.
pub struct Given {
    /// Record id.
    pub id: i64,
    /// The client.
    pub client_id: ClientId,
    /// Which handout.
    pub slug: String,
    /// Which version.
    pub version: i32,
    /// When.
    pub given_at: i64,
    /// Exactly what was printed.
    pub text: GivenText,
    /// How it was printed.
    pub options: PrintOptions,
    /// Whether the sealed text still matches its sealed hash (for the name
    /// it was printed for).
    pub damaged: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = handouts_given)]
struct GivenRow {
    id: i64,
    client_id: i64,
    slug: String,
    version: i32,
    text_hash: Vec<u8>,
    body: Vec<u8>,
    personal_note: Vec<u8>,
    paper: String,
    large_print: bool,
    discreet: bool,
    given_at: i64,
}

fn open_given(dk: &DataKey, therapist: TherapistId, row: GivenRow) -> Given {
    let r = Record::new(dk, therapist.0, "handouts_given", row.id);
    let mut damaged = false;
    let body = shown(r.open("body", &row.body), &mut damaged);
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let text = GivenText {
        title: parsed["title"].as_str().unwrap_or_default().to_owned(),
        body: parsed["body"].as_str().unwrap_or_default().to_owned(),
        personal_note: shown(r.open("personal_note", &row.personal_note), &mut damaged),
    };
    damaged |= r.open_bytes("text_hash", &row.text_hash).is_err();
    Given {
        id: row.id,
        client_id: ClientId(row.client_id),
        slug: row.slug,
        version: row.version,
        given_at: row.given_at,
        text,
        options: PrintOptions {
            paper: if row.paper == "a4" { "a4" } else { "letter" },
            large_print: row.large_print,
            discreet: row.discreet,
        },
        damaged,
    }
}

/// One of this therapist's given-handout records.
pub fn find_given(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    id: i64,
) -> QueryResult<Option<Given>> {
    let row: Option<GivenRow> = handouts_given::table
        .filter(handouts_given::id.eq(id))
        .filter(handouts_given::therapist_id.eq(therapist.0))
        .select(GivenRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(|r| open_given(dk, therapist, r)))
}

/// Handouts given to a client, newest first.
pub fn given_to(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    client: ClientId,
) -> QueryResult<Vec<Given>> {
    let rows: Vec<GivenRow> = handouts_given::table
        .filter(handouts_given::therapist_id.eq(therapist.0))
        .filter(handouts_given::client_id.eq(client.0))
        .order(handouts_given::given_at.desc())
        .select(GivenRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| open_given(dk, therapist, r))
        .collect())
}
