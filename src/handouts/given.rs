//! The record of handouts given to clients: the `handouts_given` table.
//! Giving a handout seals the exact title and text printed, the name it was
//! printed for, the personal note, and a hash of all of them with the
//! client's id, compared whenever the record is opened; so a reprint is
//! exactly what was given, and a record moved or altered in the database
//! shows the integrity notice.

use diesel::prelude::*;

use super::content::Handout;
use crate::clients::model::{self as clients, Client};
use crate::crypto::{Keys, OpenError, Opened, Record, hash_parts};
use crate::db::schema::handouts_given;
use crate::db::{DbConn, now};
use crate::ids::{ClientId, GivenHandoutId, TherapistId};

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
fn given_record(
    keys: &Keys,
    therapist: TherapistId,
    id: GivenHandoutId,
    client: ClientId,
) -> Record<'_> {
    Record::of_client(keys, therapist.0, client.0, "handouts_given", id.0).under(client.0)
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

#[derive(Insertable)]
#[diesel(table_name = handouts_given)]
struct NewGiven<'a> {
    id: GivenHandoutId,
    therapist_id: TherapistId,
    client_id: ClientId,
    slug: &'a str,
    version: i32,
    text_hash: Vec<u8>,
    body: Vec<u8>,
    personal_note: Vec<u8>,
    paper: &'a str,
    large_print: bool,
    discreet: bool,
    given_at: i64,
    lang: &'a str,
}

/// Record that a handout was given to a client; returns the record's id.
pub fn record(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    client: ClientId,
    handout: &Handout,
    text: &GivenText,
    options: &PrintOptions,
) -> QueryResult<GivenHandoutId> {
    let id = GivenHandoutId::generate();
    let r = given_record(keys, therapist, id, client);
    let (text_hash, body, personal_note) =
        seal_given(&r, client, &handout.slug, handout.version, text);
    diesel::insert_into(handouts_given::table)
        .values(NewGiven {
            id,
            therapist_id: therapist,
            client_id: client,
            slug: &handout.slug,
            version: handout.version,
            text_hash,
            body,
            personal_note,
            paper: options.paper,
            large_print: options.large_print,
            discreet: options.discreet,
            given_at: now(),
            lang: &handout.lang,
        })
        .execute(conn)?;
    Ok(id)
}

/// A given handout, opened.
pub struct Given {
    /// Record id.
    pub id: GivenHandoutId,
    /// The client.
    pub client_id: ClientId,
    /// Which handout.
    pub slug: String,
    /// Which version.
    pub version: i32,
    /// When.
    pub given_at: i64,
    /// The language it was printed in.
    pub lang: String,
    /// Exactly what was printed; an error when a sealed field failed to
    /// open or the text no longer matches the hash sealed when it was given
    /// (for this client).
    pub text: Opened<GivenText>,
    /// How it was printed.
    pub options: PrintOptions,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = handouts_given)]
struct GivenRow {
    id: GivenHandoutId,
    client_id: ClientId,
    slug: String,
    version: i32,
    text_hash: Vec<u8>,
    body: Vec<u8>,
    personal_note: Vec<u8>,
    paper: String,
    large_print: bool,
    discreet: bool,
    given_at: i64,
    lang: String,
}

/// Open a record. `client_names` are the client's full and preferred names:
/// records made before version 2 did not store the name printed, so their
/// hash is checked against those.
fn open_given(keys: &Keys, therapist: TherapistId, row: GivenRow, client_names: &[&str]) -> Given {
    let client = row.client_id;
    let r = given_record(keys, therapist, row.id, client);
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
            record = row.id.0,
            "a given-handout record failed its integrity check"
        );
    }
    Given {
        id: row.id,
        client_id: client,
        slug: row.slug,
        version: row.version,
        given_at: row.given_at,
        lang: row.lang,
        text: opened.ok_or(OpenError::Integrity),
        options: PrintOptions {
            paper: if row.paper == "a4" { "a4" } else { "letter" },
            large_print: row.large_print,
            discreet: row.discreet,
        },
    }
}

/// One of this therapist's given-handout records, with its client.
pub fn find(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    id: GivenHandoutId,
) -> QueryResult<Option<(Given, Client)>> {
    let row: Option<GivenRow> = handouts_given::table
        .filter(handouts_given::id.eq(id))
        .filter(handouts_given::therapist_id.eq(therapist))
        .select(GivenRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    let Some(client) = clients::find(conn, therapist, row.client_id)? else {
        return Ok(None);
    };
    let client = client.open(keys);
    let given = open_given(keys, therapist, row, &client.names());
    Ok(Some((given, client)))
}

/// Handouts given to a client, newest first.
pub fn to_client(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    client: &Client,
) -> QueryResult<Vec<Given>> {
    let rows: Vec<GivenRow> = handouts_given::table
        .filter(handouts_given::therapist_id.eq(therapist))
        .filter(handouts_given::client_id.eq(client.id))
        .order(handouts_given::given_at.desc())
        .select(GivenRow::as_select())
        .load(conn)?;
    let names = client.names();
    Ok(rows
        .into_iter()
        .map(|r| open_given(keys, therapist, r, &names))
        .collect())
}

/// Take back a record of a handout given, if it was given at or after
/// `since`: `None` if there is no such record of this therapist, else its
/// client and whether it was removed.
pub fn undo(
    conn: &mut DbConn,
    therapist: TherapistId,
    id: GivenHandoutId,
    since: i64,
) -> QueryResult<Option<(ClientId, bool)>> {
    let found: Option<(ClientId, i64)> = handouts_given::table
        .filter(handouts_given::id.eq(id))
        .filter(handouts_given::therapist_id.eq(therapist))
        .select((handouts_given::client_id, handouts_given::given_at))
        .first(conn)
        .optional()?;
    let Some((client, given_at)) = found else {
        return Ok(None);
    };
    if given_at < since {
        return Ok(Some((client, false)));
    }
    let n = diesel::delete(
        handouts_given::table
            .filter(handouts_given::id.eq(id))
            .filter(handouts_given::therapist_id.eq(therapist)),
    )
    .execute(conn)?;
    Ok(Some((client, n == 1)))
}

/// Bring up to `limit` of this therapist's given-handout records after id
/// `after` to the current sealed format: blob version 2 under the client's
/// key, bound to the client, with the name printed stored and a version 2
/// hash. A record
/// whose old hash matches none of its client's names is left as it is (it
/// shows the integrity notice). Returns the last id looked at, or `None`
/// past the end.
pub fn upgrade_batch(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    after: GivenHandoutId,
    limit: i64,
) -> QueryResult<Option<GivenHandoutId>> {
    crate::db::write_transaction(conn, |conn| {
        let rows: Vec<GivenRow> = handouts_given::table
            .filter(handouts_given::therapist_id.eq(therapist))
            .filter(handouts_given::id.gt(after))
            .order(handouts_given::id.asc())
            .limit(limit)
            .select(GivenRow::as_select())
            .load(conn)?;
        let last = rows.last().map(|r| r.id);
        for row in rows {
            let current = given_record(keys, therapist, row.id, row.client_id);
            if [&row.body, &row.text_hash, &row.personal_note]
                .into_iter()
                .all(|b| current.is_current(b))
            {
                continue;
            }
            let Some(owner) = clients::find(conn, therapist, row.client_id)? else {
                continue;
            };
            let owner = owner.open(keys);
            let (id, client, slug, version) =
                (row.id, row.client_id, row.slug.clone(), row.version);
            let Ok(text) = open_given(keys, therapist, row, &owner.names()).text else {
                continue;
            };
            let r = given_record(keys, therapist, id, client);
            let (hash, body, note) = seal_given(&r, client, &slug, version, &text);
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

    fn row(keys: &Keys, hashed: &GivenText, stored: &GivenText) -> GivenRow {
        let (therapist, id, client) = (TherapistId(1), GivenHandoutId(5), ClientId(9));
        let r = given_record(keys, therapist, id, client);
        let body = serde_json::json!({
            "title": stored.title, "body": stored.body, "for_name": stored.for_name,
        });
        GivenRow {
            id,
            client_id: client,
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
            lang: "en".into(),
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
        let keys = Keys::only(1, crate::crypto::DataKey::from_bytes([3; 32]));
        let whole = open_given(
            &keys,
            TherapistId(1),
            row(&keys, &text("brave"), &text("brave")),
            &[],
        );
        assert_eq!(whole.text.expect("opens").personal_note, "brave");
        let changed = open_given(
            &keys,
            TherapistId(1),
            row(&keys, &text("brave"), &text("other")),
            &[],
        );
        assert!(
            changed.text.is_err(),
            "text that does not match its hash is flagged, and not shown"
        );
    }
}
