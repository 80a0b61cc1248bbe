//! Addenda to signed notes: the `addenda` table. A signed note cannot
//! change; what needs adding is appended, sealed and bound to its note.

use std::collections::HashMap;

use diesel::prelude::*;

use super::model::find;
use super::upgrade::reseal;
use crate::crypto::{Keys, Opened, Record};
use crate::db::schema::{addenda, notes};
use crate::db::{DbConn, now, write_transaction};
use crate::ids::{AddendumId, ClientId, NoteId, TherapistId};

fn record(
    keys: &Keys,
    therapist: TherapistId,
    client: ClientId,
    id: AddendumId,
    note: NoteId,
) -> Record<'_> {
    Record::of_client(keys, therapist.0, client.0, "addenda", id.0).under(note.0)
}

#[derive(Insertable)]
#[diesel(table_name = addenda)]
struct NewAddendum<'a> {
    id: AddendumId,
    note_id: NoteId,
    therapist_id: TherapistId,
    body: Vec<u8>,
    created_at: i64,
    written_as: &'a str,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = addenda)]
struct AddendumRow {
    id: AddendumId,
    note_id: NoteId,
    #[diesel(select_expression = notes::client_id)]
    client_id: ClientId,
    body: Vec<u8>,
    created_at: i64,
    written_as: Option<String>,
}

/// An addendum, opened.
pub struct Addendum {
    /// When written.
    pub created_at: i64,
    /// Its text, or why it did not open.
    pub body: Opened<String>,
    /// Who wrote it, as they were then (name, credentials, licence).
    pub written_as: Option<String>,
}

/// Append an addendum to a signed note of `therapist`'s, written by
/// `written_as` (name, credentials, licence; a supervisor's says so).
/// `Ok(false)` if not signed or not found.
pub fn add(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    note: NoteId,
    body: &str,
    written_as: &str,
) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let client = match find(conn, therapist, note)? {
            Some(row) if row.is_signed() => row.client_id,
            _ => return Ok(false),
        };
        let id = AddendumId::generate();
        diesel::insert_into(addenda::table)
            .values(NewAddendum {
                id,
                note_id: note,
                therapist_id: therapist,
                body: record(keys, therapist, client, id, note).seal("body", body),
                created_at: now(),
                written_as,
            })
            .execute(conn)?;
        Ok(true)
    })
}

fn rows(
    conn: &mut DbConn,
    therapist: TherapistId,
    note: Option<NoteId>,
) -> QueryResult<Vec<AddendumRow>> {
    let mut query = addenda::table
        .inner_join(notes::table)
        .filter(addenda::therapist_id.eq(therapist))
        .into_boxed();
    if let Some(note) = note {
        query = query.filter(addenda::note_id.eq(note));
    }
    query
        .order(addenda::created_at.asc())
        .select(AddendumRow::as_select())
        .load(conn)
}

/// A note's addenda, oldest first.
pub fn of_note(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    note: NoteId,
) -> QueryResult<Vec<Addendum>> {
    Ok(rows(conn, therapist, Some(note))?
        .into_iter()
        .map(|row| Addendum {
            created_at: row.created_at,
            body: record(keys, therapist, row.client_id, row.id, note)
                .open_field("body", &row.body),
            written_as: row.written_as,
        })
        .collect())
}

/// Every addendum's text, by note (for search); those that fail to open
/// are left out.
pub fn texts_by_note(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
) -> QueryResult<HashMap<NoteId, Vec<String>>> {
    let mut map: HashMap<NoteId, Vec<String>> = HashMap::new();
    for row in rows(conn, therapist, None)? {
        if let Ok(body) = record(keys, therapist, row.client_id, row.id, row.note_id)
            .open_field("body", &row.body)
        {
            map.entry(row.note_id).or_default().push(body);
        }
    }
    Ok(map)
}

/// Seal a note's addenda again in the current form: under the client's
/// key, bound to the note (part of `upgrade::upgrade_batch`).
pub fn upgrade(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    client: ClientId,
    note: NoteId,
) -> QueryResult<()> {
    for row in rows(conn, therapist, Some(note))? {
        let r = record(keys, therapist, client, row.id, note);
        if let Some(body) = (!r.is_current(&row.body))
            .then(|| reseal(&r, "body", &row.body))
            .flatten()
        {
            diesel::update(addenda::table.find(row.id))
                .set(addenda::body.eq(body))
                .execute(conn)?;
        }
    }
    Ok(())
}
