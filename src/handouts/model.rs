//! The practice's own handouts and the record of handouts given to clients.

use diesel::prelude::*;

use super::content::{Handout, Origin, PracticeMeta};
use crate::clients::model::{self as clients, Client};
use crate::crypto::{DataKey, Record, hash_parts};
use crate::db::schema::{handouts_given, practice, practice_handout_versions, practice_handouts};
use crate::db::{DbConn, new_row_id, now};
use crate::ids::{ClientId, TherapistId};

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
    created_by: i64,
    updated_by: Option<i64>,
    updated_at: i64,
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
            origin: Origin::Practice(PracticeMeta {
                id: r.id,
                author: TherapistId(r.created_by),
                last_editor: TherapistId(r.updated_by.unwrap_or(r.created_by)),
                changed_at: r.updated_at,
            }),
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
            practice_handouts::updated_by.eq(author.0),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Replace a practice handout's text, keeping the text it replaces (with
/// who wrote it and when) as an earlier version; its version goes up by one.
pub fn update(conn: &mut DbConn, id: i64, editor: TherapistId, h: &Handout) -> QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let Some(current) = practice_handouts::table
            .find(id)
            .select(PracticeRow::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(false);
        };
        diesel::insert_into(practice_handout_versions::table)
            .values((
                practice_handout_versions::id.eq(new_row_id()),
                practice_handout_versions::handout_id.eq(id),
                practice_handout_versions::version.eq(current.version),
                practice_handout_versions::title.eq(&current.title),
                practice_handout_versions::summary.eq(&current.summary),
                practice_handout_versions::body.eq(&current.body),
                practice_handout_versions::fits.eq(&current.fits),
                practice_handout_versions::written_by
                    .eq(current.updated_by.unwrap_or(current.created_by)),
                practice_handout_versions::written_at.eq(current.updated_at),
            ))
            .execute(conn)?;
        let n = diesel::update(
            practice_handouts::table
                .find(id)
                .filter(practice_handouts::version.eq(current.version)),
        )
        .set((
            practice_handouts::title.eq(&h.title),
            practice_handouts::summary.eq(&h.summary),
            practice_handouts::body.eq(&h.body),
            practice_handouts::fits.eq(serde_json::to_string(&h.fits).unwrap_or_default()),
            practice_handouts::version.eq(current.version + 1),
            practice_handouts::updated_at.eq(now()),
            practice_handouts::updated_by.eq(editor.0),
        ))
        .execute(conn)?;
        Ok(n == 1)
    })
}

/// An earlier version of a practice handout.
#[derive(Queryable, Selectable)]
#[diesel(table_name = practice_handout_versions)]
pub struct PracticeVersion {
    /// Its version number.
    pub version: i32,
    /// Its title then.
    pub title: String,
    /// Its Markdown then.
    pub body: String,
    /// Who wrote it (none for versions from before this was recorded).
    pub written_by: Option<i64>,
    /// When it was written.
    pub written_at: i64,
}

/// A practice handout's earlier versions, newest first.
pub fn earlier_versions(conn: &mut DbConn, id: i64) -> QueryResult<Vec<PracticeVersion>> {
    practice_handout_versions::table
        .filter(practice_handout_versions::handout_id.eq(id))
        .order(practice_handout_versions::version.desc())
        .select(PracticeVersion::as_select())
        .load(conn)
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
    /// The name it was printed for ("For Sam"), as printed.
    pub for_name: String,
}

/// The hash of exactly what was given, and to whom: sealed with the record
/// and compared whenever it is opened, so text or an owner changed in the
/// database shows the integrity notice.
pub fn text_hash(client: ClientId, slug: &str, version: i32, text: &GivenText) -> [u8; 32] {
    hash_parts(&[
        b"tearsheet/v2/handout-given",
        &client.0.to_be_bytes(),
        slug.as_bytes(),
        &version.to_be_bytes(),
        text.title.as_bytes(),
        text.body.as_bytes(),
        text.personal_note.as_bytes(),
        text.for_name.as_bytes(),
    ])
}

/// The hash records made before version 2 carry: the name printed was not
/// stored, only hashed, so it is checked against the client's names.
fn legacy_text_hash(slug: &str, version: i32, text: &GivenText, name: &str) -> [u8; 32] {
    hash_parts(&[
        b"tearsheet/v1/handout-given",
        slug.as_bytes(),
        &version.to_be_bytes(),
        text.title.as_bytes(),
        text.body.as_bytes(),
        text.personal_note.as_bytes(),
        name.as_bytes(),
    ])
}

/// A given-handout record's sealed fields: bound to its row and its client.
fn given_record(dk: &DataKey, therapist: TherapistId, id: i64, client: ClientId) -> Record<'_> {
    Record::new(dk, therapist.0, "handouts_given", id).under(client.0)
}

/// A given record's sealed columns: the text hash, the body (title, text
/// and the name printed), the personal note.
fn seal_given(
    r: &Record<'_>,
    client: ClientId,
    slug: &str,
    version: i32,
    text: &GivenText,
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let body = serde_json::json!({
        "title": text.title,
        "body": text.body,
        "for_name": text.for_name,
    })
    .to_string();
    (
        r.seal_bytes("text_hash", &text_hash(client, slug, version, text)),
        r.seal("body", &body),
        r.seal("personal_note", &text.personal_note),
    )
}

/// Record that a handout was given to a client; returns the record's id.
pub fn record_given(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    client: ClientId,
    handout: &Handout,
    text: &GivenText,
    options: &PrintOptions,
) -> QueryResult<i64> {
    let id = new_row_id();
    let r = given_record(dk, therapist, id, client);
    let (hash, body, note) = seal_given(&r, client, &handout.slug, handout.version, text);
    diesel::insert_into(handouts_given::table)
        .values((
            handouts_given::id.eq(id),
            handouts_given::therapist_id.eq(therapist.0),
            handouts_given::client_id.eq(client.0),
            handouts_given::slug.eq(&handout.slug),
            handouts_given::version.eq(handout.version),
            handouts_given::text_hash.eq(hash),
            handouts_given::body.eq(body),
            handouts_given::personal_note.eq(note),
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
    /// Whether a sealed field failed to open, or the text no longer matches
    /// the hash sealed when it was given (for this client).
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

/// Open a record. `client_names` are the client's full and preferred names:
/// records made before version 2 did not store the name printed, so their
/// hash is checked against those.
fn open_given(dk: &DataKey, therapist: TherapistId, row: GivenRow, client_names: &[&str]) -> Given {
    let client = ClientId(row.client_id);
    let r = given_record(dk, therapist, row.id, client);
    let opened = (|| {
        let body = r.open("body", &row.body).ok()?;
        let parsed: serde_json::Value = serde_json::from_str(&body).ok()?;
        let field = |name: &str| parsed[name].as_str().map(str::to_owned);
        let text = GivenText {
            title: field("title")?,
            body: field("body")?,
            personal_note: r.open("personal_note", &row.personal_note).ok()?,
            for_name: field("for_name").unwrap_or_default(),
        };
        let stored = r.open_bytes("text_hash", &row.text_hash).ok()?;
        let matches = |hash: [u8; 32]| crate::crypto::constant_time_eq(&hash, &stored);
        if parsed.get("for_name").is_some() {
            return matches(text_hash(client, &row.slug, row.version, &text)).then_some(text);
        }
        // A record from before version 2: the name it was printed for is
        // whichever of the client's names its hash was made with.
        let name = client_names
            .iter()
            .find(|name| matches(legacy_text_hash(&row.slug, row.version, &text, name)))?;
        Some(GivenText {
            for_name: (*name).to_owned(),
            ..text
        })
    })();
    if opened.is_none() {
        tracing::warn!(
            record = row.id,
            "a given-handout record failed its integrity check"
        );
    }
    let damaged = opened.is_none();
    Given {
        id: row.id,
        client_id: client,
        slug: row.slug,
        version: row.version,
        given_at: row.given_at,
        text: opened.unwrap_or(GivenText {
            title: String::new(),
            body: String::new(),
            personal_note: String::new(),
            for_name: String::new(),
        }),
        options: PrintOptions {
            paper: if row.paper == "a4" { "a4" } else { "letter" },
            large_print: row.large_print,
            discreet: row.discreet,
        },
        damaged,
    }
}

/// One of this therapist's given-handout records, with its client.
pub fn find_given(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    id: i64,
) -> QueryResult<Option<(Given, Client)>> {
    let row: Option<GivenRow> = handouts_given::table
        .filter(handouts_given::id.eq(id))
        .filter(handouts_given::therapist_id.eq(therapist.0))
        .select(GivenRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    let Some(client) = clients::find(conn, therapist, ClientId(row.client_id))? else {
        return Ok(None);
    };
    let client = client.open(dk);
    let given = open_given(dk, therapist, row, &client.names());
    Ok(Some((given, client)))
}

/// Handouts given to a client, newest first.
pub fn given_to(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    client: &Client,
) -> QueryResult<Vec<Given>> {
    let rows: Vec<GivenRow> = handouts_given::table
        .filter(handouts_given::therapist_id.eq(therapist.0))
        .filter(handouts_given::client_id.eq(client.id.0))
        .order(handouts_given::given_at.desc())
        .select(GivenRow::as_select())
        .load(conn)?;
    let names = client.names();
    Ok(rows
        .into_iter()
        .map(|r| open_given(dk, therapist, r, &names))
        .collect())
}

/// Bring up to `limit` of this therapist's given-handout records after id
/// `after` to the current sealed format: blob version 2 bound to the
/// client, with the name printed stored and a version 2 hash. A record
/// whose old hash matches none of its client's names is left as it is (it
/// shows the integrity notice). Returns the last id looked at, or `None`
/// past the end.
pub fn upgrade_given_batch(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    after: i64,
    limit: i64,
) -> QueryResult<Option<i64>> {
    crate::db::write_transaction(conn, |conn| {
        let rows: Vec<GivenRow> = handouts_given::table
            .filter(handouts_given::therapist_id.eq(therapist.0))
            .filter(handouts_given::id.gt(after))
            .order(handouts_given::id.asc())
            .limit(limit)
            .select(GivenRow::as_select())
            .load(conn)?;
        let last = rows.last().map(|r| r.id);
        for row in rows {
            let legacy = crate::crypto::seal::version_of(&row.body)
                == Some(crate::crypto::seal::LEGACY_VERSION);
            if !legacy {
                continue;
            }
            let client = ClientId(row.client_id);
            let Some(owner) = clients::find(conn, therapist, client)? else {
                continue;
            };
            let owner = owner.open(dk);
            let (id, slug, version) = (row.id, row.slug.clone(), row.version);
            let given = open_given(dk, therapist, row, &owner.names());
            if given.damaged {
                continue;
            }
            let r = given_record(dk, therapist, id, client);
            let (hash, body, note) = seal_given(&r, client, &slug, version, &given.text);
            diesel::update(handouts_given::table.find(id))
                .set((
                    handouts_given::text_hash.eq(hash),
                    handouts_given::body.eq(body),
                    handouts_given::personal_note.eq(note),
                ))
                .execute(conn)?;
        }
        Ok(last)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(dk: &DataKey, hashed: &GivenText, stored: &GivenText) -> GivenRow {
        let (therapist, id, client) = (TherapistId(1), 5, ClientId(9));
        let r = given_record(dk, therapist, id, client);
        let body = serde_json::json!({
            "title": stored.title, "body": stored.body, "for_name": stored.for_name,
        });
        GivenRow {
            id,
            client_id: client.0,
            slug: "crying-in-therapy".into(),
            version: 1,
            text_hash: r.seal_bytes(
                "text_hash",
                &text_hash(client, "crying-in-therapy", 1, hashed),
            ),
            body: r.seal("body", &body.to_string()),
            personal_note: r.seal("personal_note", &stored.personal_note),
            paper: "letter".into(),
            large_print: false,
            discreet: false,
            given_at: 0,
        }
    }

    fn text(note: &str) -> GivenText {
        GivenText {
            title: "It's okay to cry".into(),
            body: "Tears are welcome here.".into(),
            personal_note: note.into(),
            for_name: "Sam".into(),
        }
    }

    #[test]
    fn a_record_opens_only_when_its_text_matches_the_sealed_hash() {
        let dk = DataKey::from_bytes([3; 32]);
        let whole = open_given(
            &dk,
            TherapistId(1),
            row(&dk, &text("brave"), &text("brave")),
            &[],
        );
        assert!(!whole.damaged);
        assert_eq!(whole.text.personal_note, "brave");
        let changed = open_given(
            &dk,
            TherapistId(1),
            row(&dk, &text("brave"), &text("other")),
            &[],
        );
        assert!(
            changed.damaged,
            "text that does not match its hash is flagged"
        );
        assert!(changed.text.personal_note.is_empty(), "and not shown");
    }
}
