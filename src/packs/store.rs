//! The packs tables: trusted publisher keys, uploaded packs, and every pack
//! tag ever loaded. Practice material about no client, stored as written.
//! Every change bumps `practice.packs_changed`, which other app servers
//! watch to load the same packs.

use diesel::prelude::*;

use super::content::PackTag;
use super::files::Files;
use crate::db::schema::{pack_keys, pack_terms, packs, practice};
use crate::db::{DbConn, now, write_transaction};
use crate::ids::{PackUploadId, TherapistId};

/// A trusted key as stored.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = pack_keys)]
pub struct StoredKey {
    /// As minisign prints it.
    pub key_id: String,
    /// The base64 line.
    pub public_key: String,
    /// The administrator who trusted it (none: from the command line).
    pub trusted_by: Option<TherapistId>,
    /// When.
    pub trusted_at: i64,
}

/// Every trusted key, oldest first.
pub fn keys(conn: &mut DbConn) -> QueryResult<Vec<StoredKey>> {
    pack_keys::table
        .order(pack_keys::trusted_at.asc())
        .select(StoredKey::as_select())
        .load(conn)
}

fn bump(conn: &mut DbConn) -> QueryResult<()> {
    diesel::update(practice::table)
        .set(practice::packs_changed.eq(practice::packs_changed + 1))
        .execute(conn)
        .map(|_| ())
}

/// What other servers compare to know the packs changed.
pub fn stamp(conn: &mut DbConn) -> QueryResult<i64> {
    Ok(practice::table
        .select(practice::packs_changed)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Trust a key; false if it was trusted already.
pub fn trust(
    conn: &mut DbConn,
    key_id: &str,
    public_key: &str,
    by: Option<TherapistId>,
) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let known = pack_keys::table
            .find(key_id)
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if known {
            return Ok(false);
        }
        diesel::insert_into(pack_keys::table)
            .values((
                pack_keys::key_id.eq(key_id),
                pack_keys::public_key.eq(public_key),
                pack_keys::trusted_by.eq(by),
                pack_keys::trusted_at.eq(now()),
            ))
            .execute(conn)?;
        bump(conn)?;
        Ok(true)
    })
}

/// Stop trusting a key; false if it was not trusted.
pub fn untrust(conn: &mut DbConn, key_id: &str) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let n = diesel::delete(pack_keys::table.find(key_id)).execute(conn)?;
        if n > 0 {
            bump(conn)?;
        }
        Ok(n > 0)
    })
}

/// A pack uploaded in the app.
pub struct Upload {
    /// Row id.
    pub id: PackUploadId,
    /// Its files as they arrived.
    pub files: Files,
    /// Who uploaded it.
    pub uploaded_by: TherapistId,
    /// When.
    pub uploaded_at: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = packs)]
struct UploadRow {
    id: PackUploadId,
    files: String,
    uploaded_by: TherapistId,
    uploaded_at: i64,
}

/// Every uploaded pack, oldest first.
pub fn uploads(conn: &mut DbConn) -> QueryResult<Vec<Upload>> {
    let rows: Vec<UploadRow> = packs::table
        .order(packs::uploaded_at.asc())
        .select(UploadRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Upload {
            id: r.id,
            // Stored by this code from a checked map; unreadable means
            // tampered, which the pack's own checks then refuse (no files).
            files: serde_json::from_str(&r.files).unwrap_or_default(),
            uploaded_by: r.uploaded_by,
            uploaded_at: r.uploaded_at,
        })
        .collect())
}

/// The version of the uploaded pack with this id, if any.
pub fn uploaded_version(conn: &mut DbConn, pack_id: &str) -> QueryResult<Option<i32>> {
    packs::table
        .filter(packs::pack_id.eq(pack_id))
        .select(packs::version)
        .first(conn)
        .optional()
}

/// Store an uploaded pack, replacing an earlier version of it.
pub fn save_upload(
    conn: &mut DbConn,
    pack_id: &str,
    version: i32,
    files: &Files,
    by: TherapistId,
) -> QueryResult<PackUploadId> {
    let id = PackUploadId::generate();
    let text = serde_json::to_string(files).unwrap_or_default();
    write_transaction(conn, |conn| {
        diesel::delete(packs::table.filter(packs::pack_id.eq(pack_id))).execute(conn)?;
        diesel::insert_into(packs::table)
            .values((
                packs::id.eq(id),
                packs::pack_id.eq(pack_id),
                packs::version.eq(version),
                packs::files.eq(&text),
                packs::uploaded_by.eq(by),
                packs::uploaded_at.eq(now()),
            ))
            .execute(conn)?;
        bump(conn)?;
        Ok(id)
    })
}

/// Remove an uploaded pack; false if there was none.
pub fn remove_upload(conn: &mut DbConn, id: PackUploadId) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let n = diesel::delete(packs::table.find(id)).execute(conn)?;
        if n > 0 {
            bump(conn)?;
        }
        Ok(n > 0)
    })
}

/// A pack tag as recorded when its pack was loaded.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = pack_terms)]
pub struct Term {
    /// `pack:PACK/SLUG@VERSION`.
    pub term: String,
    /// Its label.
    pub label: String,
    /// Its help text.
    pub help: String,
    /// Its pack's name.
    pub pack_name: String,
}

/// Every pack tag ever loaded.
pub fn terms(conn: &mut DbConn) -> QueryResult<Vec<Term>> {
    pack_terms::table.select(Term::as_select()).load(conn)
}

/// Record the tags of loaded packs that are not recorded yet. A tag's words
/// at a version never change once recorded.
pub fn record_terms(conn: &mut DbConn, tags: &[&PackTag]) -> QueryResult<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let known: std::collections::HashSet<String> = pack_terms::table
        .select(pack_terms::term)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let at = now();
    for tag in tags.iter().filter(|t| !known.contains(&t.term)) {
        let inserted = write_transaction(conn, |conn| {
            diesel::insert_into(pack_terms::table)
                .values((
                    pack_terms::term.eq(&tag.term),
                    pack_terms::label.eq(&tag.label),
                    pack_terms::help.eq(&tag.help),
                    pack_terms::pack_name.eq(&tag.pack_name),
                    pack_terms::recorded_at.eq(at),
                ))
                .execute(conn)
        });
        match inserted {
            // Another app server recorded it first: the same words.
            Err(err) if crate::db::is_unique_violation(&err) => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}
