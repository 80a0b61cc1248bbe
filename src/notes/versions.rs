//! Earlier versions of notes: the `note_versions` table. Every save first
//! copies the note's current content here, re-sealed for its new place and
//! bound to its note, so a draft's history can be read back in full.

use diesel::prelude::*;

use super::format::NoteFormat;
use super::model::{NoteContent, NoteRow, SealedContent, json};
use super::upgrade::{needs_upgrade, reseal, reseal_private};
use crate::crypto::{Keys, Opened, Record};
use crate::db::DbConn;
use crate::db::schema::note_versions;
use crate::ids::{ClientId, NoteId, NoteVersionId, TherapistId};

fn record<'a>(
    keys: &'a Keys,
    author: TherapistId,
    client: ClientId,
    id: NoteVersionId,
    note: NoteId,
) -> Record<'a> {
    Record::of_client(keys, author.0, client.0, "note_versions", id.0).under(note.0)
}

/// An earlier version's sealed columns.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = note_versions)]
#[diesel(treat_none_as_null = true)]
struct SealedVersion {
    sections: Vec<u8>,
    key_moment: Vec<u8>,
    process_note: Vec<u8>,
    tags: Vec<u8>,
    layout: Option<Vec<u8>>,
}

impl SealedVersion {
    /// Sealed as a note's content is, at the version's own place.
    fn new(r: &Record<'_>, content: &NoteContent) -> Self {
        let c = SealedContent::new(r, content);
        Self {
            sections: c.sections,
            key_moment: c.key_moment,
            process_note: c.process_note,
            tags: c.tags,
            layout: c.layout,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = note_versions)]
struct NewVersion<'a> {
    id: NoteVersionId,
    note_id: NoteId,
    therapist_id: TherapistId,
    revision: i32,
    saved_at: i64,
    format: &'a str,
    #[diesel(embed)]
    content: SealedVersion,
    author_id: TherapistId,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = note_versions)]
struct VersionRow {
    id: NoteVersionId,
    revision: i32,
    saved_at: i64,
    format: String,
    sections: Vec<u8>,
    key_moment: Vec<u8>,
    process_note: Vec<u8>,
    tags: Vec<u8>,
    author_id: TherapistId,
    layout: Option<Vec<u8>>,
}

/// Keep `content`, what note `current` says now, as its earlier version.
pub fn keep(
    conn: &mut DbConn,
    keys: &Keys,
    current: &NoteRow,
    content: &NoteContent,
) -> QueryResult<()> {
    let id = NoteVersionId::generate();
    let r = record(keys, current.author_id, current.client_id, id, current.id);
    diesel::insert_into(note_versions::table)
        .values(NewVersion {
            id,
            note_id: current.id,
            therapist_id: current.therapist_id,
            revision: current.revision,
            saved_at: current.updated_at,
            format: &current.format,
            content: SealedVersion::new(&r, content),
            author_id: current.author_id,
        })
        .execute(conn)
        .map(|_| ())
}

/// A past revision of a note, opened.
pub struct Version {
    /// Its revision number.
    pub revision: i32,
    /// When it was saved.
    pub saved_at: i64,
    /// Its format.
    pub format: NoteFormat,
    /// Its content, or why it did not open.
    pub content: Opened<NoteContent>,
}

/// A note's past revisions, oldest first (process notes only for their
/// author; empty for anyone else).
pub fn all(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    client: ClientId,
    note: NoteId,
) -> QueryResult<Vec<Version>> {
    let rows: Vec<VersionRow> = note_versions::table
        .filter(note_versions::note_id.eq(note))
        .filter(note_versions::therapist_id.eq(therapist))
        .order(note_versions::revision.asc())
        .select(VersionRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let r = record(keys, row.author_id, client, row.id, note);
            let mine = row.author_id.0 == keys.therapist();
            let content = (|| {
                Ok(NoteContent {
                    sections: json(r.open_field("sections", &row.sections))?,
                    key_moment: r.open_field("key_moment", &row.key_moment)?,
                    process_note: if mine {
                        r.open_field("process_note", &row.process_note)?
                    } else {
                        String::new()
                    },
                    tags: json(r.open_field("tags", &row.tags))?,
                    template: super::model::open_layout(&r, row.layout.as_deref())?,
                })
            })();
            Version {
                revision: row.revision,
                saved_at: row.saved_at,
                format: NoteFormat::parse(&row.format).unwrap_or(NoteFormat::Free),
                content,
            }
        })
        .collect())
}

/// Whether a note has earlier revisions to show.
pub fn exist(conn: &mut DbConn, therapist: TherapistId, note: NoteId) -> QueryResult<bool> {
    let n: i64 = note_versions::table
        .filter(note_versions::note_id.eq(note))
        .filter(note_versions::therapist_id.eq(therapist))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Seal a note's earlier versions again in the current form: under the
/// client's key, bound to the note; the process note under its author's DK
/// (part of `upgrade::upgrade_batch`).
pub fn upgrade(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    client: ClientId,
    note: NoteId,
) -> QueryResult<()> {
    let rows: Vec<VersionRow> = note_versions::table
        .filter(note_versions::note_id.eq(note))
        .filter(note_versions::therapist_id.eq(therapist))
        .select(VersionRow::as_select())
        .load(conn)?;
    for row in rows {
        let r = record(keys, row.author_id, client, row.id, note);
        if !needs_upgrade(
            &r,
            [&row.sections, &row.key_moment, &row.tags],
            &row.process_note,
        ) {
            continue;
        }
        if let (Some(sections), Some(key_moment), Some(process_note), Some(tags)) = (
            reseal(&r, "sections", &row.sections),
            reseal(&r, "key_moment", &row.key_moment),
            reseal_private(&r, "process_note", &row.process_note),
            reseal(&r, "tags", &row.tags),
        ) {
            diesel::update(note_versions::table.find(row.id))
                .set(SealedVersion {
                    sections,
                    key_moment,
                    process_note,
                    tags,
                    layout: row.layout.clone(),
                })
                .execute(conn)?;
        }
    }
    Ok(())
}
