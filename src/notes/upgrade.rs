//! Bringing a therapist's notes to the current sealed format (called by
//! `crate::upgrade` after they sign in): every part is sealed as blob
//! version 2 under the client's key, bound to the client (earlier versions
//! and addenda to their note), except the private process note, which
//! stays under its author's DK.

use diesel::prelude::*;

use super::model::{NoteRow, SealedContent};
use crate::crypto::{Keys, Record};
use crate::db::schema::notes;
use crate::db::{DbConn, write_transaction};
use crate::ids::{NoteId, TherapistId};

/// Whether a sealed value is still blob version 1 (bound to no owner).
pub fn is_legacy(blob: &[u8]) -> bool {
    crate::crypto::seal::version_of(blob) == Some(crate::crypto::seal::LEGACY_VERSION)
}

/// Whether a row needs sealing again: a shared part not yet under the
/// client's key (or not yet version 2), or a private part still version 1.
pub fn needs_upgrade<const N: usize>(
    r: &Record<'_>,
    shared: [&Vec<u8>; N],
    private: &[u8],
) -> bool {
    shared.into_iter().any(|b| !r.is_current(b)) || is_legacy(private)
}

/// Open a sealed value and seal it again in the current form, at the same
/// place (under the client's key, for a client's row). `None` if it does
/// not open: a damaged value is left as it is, never re-sealed as if it
/// were whole.
pub fn reseal(r: &Record<'_>, column: &'static str, blob: &[u8]) -> Option<Vec<u8>> {
    let plain = r.open_bytes(column, blob).ok()?;
    Some(r.seal_bytes(column, &plain))
}

/// As [`reseal`], for a private part (under its author's DK).
pub fn reseal_private(r: &Record<'_>, column: &'static str, blob: &[u8]) -> Option<Vec<u8>> {
    if !is_legacy(blob) {
        return Some(blob.to_vec());
    }
    let plain = r.open(column, blob).ok()?;
    Some(r.seal_private(column, &plain))
}

/// Bring up to `limit` of this therapist's notes after id `after` (with
/// their earlier versions and addenda) to the current sealed format: every
/// field sealed as blob version 2, bound to the note's client (versions and
/// addenda to their note). One transaction; a note changed meanwhile is
/// left for the next run. Returns the last note id looked at, or `None`
/// past the end.
pub fn upgrade_batch(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    after: NoteId,
    limit: i64,
) -> QueryResult<Option<NoteId>> {
    write_transaction(conn, |conn| {
        let rows: Vec<NoteRow> = notes::table
            .filter(notes::therapist_id.eq(therapist))
            .filter(notes::id.gt(after))
            .order(notes::id.asc())
            .limit(limit)
            .select(NoteRow::as_select())
            .load(conn)?;
        for row in &rows {
            upgrade_note(conn, keys, row)?;
            super::versions::upgrade(conn, therapist, keys, row.client_id, row.id)?;
            super::addenda::upgrade(conn, therapist, keys, row.client_id, row.id)?;
        }
        Ok(rows.last().map(|r| r.id))
    })
}

fn upgrade_note(conn: &mut DbConn, keys: &Keys, row: &NoteRow) -> QueryResult<()> {
    let r = row.record(keys);
    let mut shared = vec![&row.sections, &row.key_moment, &row.tags];
    shared.extend(&row.content_hash);
    if !shared.iter().any(|b| !r.is_current(b)) && !is_legacy(&row.process_note) {
        return Ok(());
    }
    let (Some(sections), Some(key_moment), Some(process_note), Some(tags)) = (
        reseal(&r, "sections", &row.sections),
        reseal(&r, "key_moment", &row.key_moment),
        reseal_private(&r, "process_note", &row.process_note),
        reseal(&r, "tags", &row.tags),
    ) else {
        return Ok(());
    };
    let content_hash = match &row.content_hash {
        Some(blob) => match reseal(&r, "content_hash", blob) {
            Some(sealed) => Some(sealed),
            None => return Ok(()),
        },
        None => None,
    };
    diesel::update(
        notes::table
            .filter(notes::id.eq(row.id))
            .filter(notes::therapist_id.eq(row.therapist_id))
            .filter(notes::revision.eq(row.revision))
            .filter(notes::updated_at.eq(row.updated_at))
            .filter(notes::status.eq(&row.status)),
    )
    .set((
        SealedContent {
            sections,
            key_moment,
            process_note,
            tags,
            // Written only under a client key, so never older than this
            // upgrade: kept as it is.
            layout: row.layout.clone(),
        },
        notes::content_hash.eq(content_hash),
    ))
    .execute(conn)
    .map(|_| ())
}
