//! A supervisor's review of an associate's signed note: co-signing it, or
//! returning it with a comment (sealed under the client's key, bound to
//! the note). The `note_reviews` table.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::crypto::{Keys, Opened, Record};
use crate::db::schema::{addenda, note_reviews, notes};
use crate::db::{DbConn, now, write_transaction};
use crate::ids::{NoteId, NoteReviewId, TherapistId};
use crate::notes::model::NoteRow;

#[derive(Queryable, Selectable)]
#[diesel(table_name = note_reviews)]
struct ReviewRow {
    id: NoteReviewId,
    action: String,
    comment: Option<Vec<u8>>,
    written_as: String,
    created_at: i64,
    supervisor_id: TherapistId,
}

/// A review, opened.
pub struct Review {
    /// Whether it co-signed the note (else it returned it).
    pub cosigned: bool,
    /// The comment of a return, or why it did not open.
    pub comment: Opened<String>,
    /// Who, as they signed then.
    pub written_as: String,
    /// When.
    pub created_at: i64,
}

fn record<'a>(
    keys: &'a Keys,
    note: &NoteRow,
    supervisor: TherapistId,
    id: NoteReviewId,
) -> Record<'a> {
    Record::of_client(keys, supervisor.0, note.client_id.0, "note_reviews", id.0).under(note.id.0)
}

/// A note's reviews, oldest first.
pub fn of_note(conn: &mut DbConn, keys: &Keys, note: &NoteRow) -> QueryResult<Vec<Review>> {
    let rows: Vec<ReviewRow> = note_reviews::table
        .filter(note_reviews::note_id.eq(note.id))
        .order(note_reviews::created_at.asc())
        .select(ReviewRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| Review {
            cosigned: row.action == "cosign",
            comment: match &row.comment {
                Some(blob) => {
                    record(keys, note, row.supervisor_id, row.id).open_field("comment", blob)
                }
                None => Ok(String::new()),
            },
            written_as: row.written_as,
            created_at: row.created_at,
        })
        .collect())
}

/// Co-signatures of these notes: who and when.
pub fn cosignatures(
    conn: &mut DbConn,
    ids: &[NoteId],
) -> QueryResult<HashMap<NoteId, (String, i64)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(NoteId, String, i64)> = note_reviews::table
            .filter(note_reviews::note_id.eq_any(chunk))
            .filter(note_reviews::action.eq("cosign"))
            .select((
                note_reviews::note_id,
                note_reviews::written_as,
                note_reviews::created_at,
            ))
            .load(conn)?;
        out.extend(rows.into_iter().map(|(id, by, at)| (id, (by, at))));
    }
    Ok(out)
}

/// What a review did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reviewed {
    /// Recorded.
    Done,
    /// The note was already co-signed.
    AlreadyCosigned,
}

/// Co-sign `note` (or return it, when `comment` is given) as `supervisor`,
/// signing as `written_as`.
pub fn review(
    conn: &mut DbConn,
    keys: &Keys,
    supervisor: TherapistId,
    note: &NoteRow,
    comment: Option<&str>,
    written_as: &str,
) -> QueryResult<Reviewed> {
    write_transaction(conn, |conn| {
        let cosigned: i64 = note_reviews::table
            .filter(note_reviews::note_id.eq(note.id))
            .filter(note_reviews::action.eq("cosign"))
            .count()
            .get_result(conn)?;
        if cosigned > 0 {
            return Ok(Reviewed::AlreadyCosigned);
        }
        let id = NoteReviewId::generate();
        let sealed = comment.map(|c| record(keys, note, supervisor, id).seal("comment", c));
        diesel::insert_into(note_reviews::table)
            .values((
                note_reviews::id.eq(id),
                note_reviews::note_id.eq(note.id),
                note_reviews::supervisor_id.eq(supervisor),
                note_reviews::action.eq(if comment.is_some() {
                    "return"
                } else {
                    "cosign"
                }),
                note_reviews::comment.eq(sealed),
                note_reviews::written_as.eq(written_as),
                note_reviews::created_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(Reviewed::Done)
    })
}

/// A supervisee's signed notes still waiting for their supervisor: not
/// co-signed, and not returned since the associate last added to them.
/// Newest signature first.
pub fn awaiting(conn: &mut DbConn, supervisees: &[TherapistId]) -> QueryResult<Vec<NoteRow>> {
    let rows: Vec<NoteRow> = notes::table
        .filter(notes::therapist_id.eq_any(supervisees))
        .filter(notes::author_id.eq(notes::therapist_id))
        .filter(notes::status.eq("signed"))
        .order(notes::signed_at.desc())
        .select(NoteRow::as_select())
        .load(conn)?;
    let ids: Vec<NoteId> = rows.iter().map(|r| r.id).collect();
    let mut latest_return: HashMap<NoteId, i64> = HashMap::new();
    let mut cosigned = std::collections::HashSet::new();
    let mut latest_addendum: HashMap<NoteId, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        let reviews: Vec<(NoteId, String, i64)> = note_reviews::table
            .filter(note_reviews::note_id.eq_any(chunk))
            .select((
                note_reviews::note_id,
                note_reviews::action,
                note_reviews::created_at,
            ))
            .load(conn)?;
        for (id, action, at) in reviews {
            if action == "cosign" {
                cosigned.insert(id);
            } else {
                let e = latest_return.entry(id).or_insert(at);
                *e = (*e).max(at);
            }
        }
        let added: Vec<(NoteId, i64)> = addenda::table
            .filter(addenda::note_id.eq_any(chunk))
            .select((addenda::note_id, addenda::created_at))
            .load(conn)?;
        for (id, at) in added {
            let e = latest_addendum.entry(id).or_insert(at);
            *e = (*e).max(at);
        }
    }
    Ok(rows
        .into_iter()
        .filter(|r| !cosigned.contains(&r.id))
        .filter(|r| match latest_return.get(&r.id) {
            None => true,
            Some(returned) => latest_addendum.get(&r.id).is_some_and(|a| a >= returned),
        })
        .collect())
}
