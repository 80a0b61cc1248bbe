//! Session notes: rows, sealed content, versions, signing and addenda.
//! Every query is scoped by the owning therapist.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::format::{NoteFormat, SessionType};
use crate::crypto::{DataKey, OpenError, Record, hash_parts};
use crate::db::schema::{addenda, note_versions, notes};
use crate::db::{DbConn, new_row_id, now, write_transaction};
use crate::ids::{ClientId, NoteId, TherapistId};
use crate::web::layout::shown;

/// The most text one note may hold, in characters (sections, key moment and
/// process note together). The form says so.
pub const MAX_NOTE_CHARS: usize = 1_000_000;

/// The plain (unsealed) facts of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFacts {
    /// `YYYY-MM-DD`.
    pub session_date: String,
    /// Minutes.
    pub duration_minutes: i32,
    /// Individual, couple, family or group.
    pub session_type: SessionType,
    /// SOAP, DAP, BIRP or free text.
    pub format: NoteFormat,
}

/// What a note says: everything here is sealed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoteContent {
    /// Section key to text.
    pub sections: BTreeMap<String, String>,
    /// One line shown on timelines.
    pub key_moment: String,
    /// The private process note, kept apart from the record.
    pub process_note: String,
    /// Tag keys: built-in slugs and `custom:<id>`.
    pub tags: Vec<String>,
}

/// A note's stored row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = notes)]
pub struct NoteRow {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub therapist_id: i64,
    /// The client.
    pub client_id: i64,
    /// `YYYY-MM-DD`.
    pub session_date: String,
    /// Minutes.
    pub duration_minutes: i32,
    /// Stored session type.
    pub session_type: String,
    /// Stored format.
    pub format: String,
    /// `draft` or `signed`.
    pub status: String,
    /// Increases with every save.
    pub revision: i32,
    sections: Vec<u8>,
    key_moment: Vec<u8>,
    process_note: Vec<u8>,
    tags: Vec<u8>,
    content_hash: Option<Vec<u8>>,
    /// When signed.
    pub signed_at: Option<i64>,
    /// When created.
    pub created_at: i64,
    /// Last save.
    pub updated_at: i64,
}

/// A note's plain columns: enough to list, filter by client and date, and
/// check whether text kept in session memory is still current.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = notes)]
pub struct NoteMeta {
    /// Row id.
    pub id: i64,
    /// The client.
    pub client_id: i64,
    /// `YYYY-MM-DD`.
    pub session_date: String,
    /// Stored format.
    pub format: String,
    /// `draft` or `signed`.
    pub status: String,
    /// Increases with every save.
    pub revision: i32,
    /// Last save.
    pub updated_at: i64,
}

impl NoteMeta {
    /// What session memory checks its entry against.
    pub fn stamp(&self) -> (i64, i64) {
        (i64::from(self.revision), self.updated_at)
    }
}

/// An opened note.
pub struct Note {
    /// Row id.
    pub id: NoteId,
    /// The client.
    pub client_id: ClientId,
    /// Plain facts.
    pub facts: SessionFacts,
    /// Sealed content, opened.
    pub content: NoteContent,
    /// Whether signed (and so read-only).
    pub signed: bool,
    /// Revision, for conflict detection.
    pub revision: i32,
    /// When signed.
    pub signed_at: Option<i64>,
    /// Last save.
    pub updated_at: i64,
    /// Whether any sealed part failed to open.
    pub damaged: bool,
    /// For a signed note: whether its content still matches the hash sealed
    /// at signing. `None` for drafts.
    pub intact: Option<bool>,
}

/// A note's sealed fields: bound to its therapist, its row and its client.
fn record(dk: &DataKey, therapist: i64, id: i64, client: i64) -> Record<'_> {
    Record::new(dk, therapist, "notes", id).under(client)
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(
    text: Result<String, OpenError>,
    damaged: &mut bool,
) -> T {
    match text {
        Ok(t) => serde_json::from_str(&t).unwrap_or_else(|_| {
            *damaged = true;
            T::default()
        }),
        Err(err) => {
            tracing::warn!(error = %err, "a sealed note field failed to open");
            *damaged = true;
            T::default()
        }
    }
}

impl NoteRow {
    /// The plain facts.
    pub fn facts(&self) -> SessionFacts {
        SessionFacts {
            session_date: self.session_date.clone(),
            duration_minutes: self.duration_minutes,
            session_type: SessionType::parse(&self.session_type).unwrap_or(SessionType::Individual),
            format: NoteFormat::parse(&self.format).unwrap_or(NoteFormat::Free),
        }
    }

    /// Whether signed.
    pub fn is_signed(&self) -> bool {
        self.status == "signed"
    }

    /// Open just the tags (for filters and timelines).
    pub fn open_tags(&self, dk: &DataKey) -> Result<Vec<String>, OpenError> {
        let text =
            record(dk, self.therapist_id, self.id, self.client_id).open("tags", &self.tags)?;
        serde_json::from_str(&text).map_err(|_| OpenError::Integrity)
    }

    /// Open just the key moment.
    pub fn open_key_moment(&self, dk: &DataKey) -> Result<String, OpenError> {
        record(dk, self.therapist_id, self.id, self.client_id).open("key_moment", &self.key_moment)
    }

    /// Open every sealed text of the note, without checking a signed note
    /// against its hash: what search reads. Fails if any part fails to open.
    pub fn open_text(&self, dk: &DataKey) -> Result<NoteContent, OpenError> {
        let r = record(dk, self.therapist_id, self.id, self.client_id);
        fn json<T: serde::de::DeserializeOwned>(text: String) -> Result<T, OpenError> {
            serde_json::from_str(&text).map_err(|_| OpenError::Integrity)
        }
        Ok(NoteContent {
            sections: json(r.open("sections", &self.sections)?)?,
            key_moment: r.open("key_moment", &self.key_moment)?,
            process_note: r.open("process_note", &self.process_note)?,
            tags: json(r.open("tags", &self.tags)?)?,
        })
    }

    /// Open everything, and check a signed note against its sealed hash.
    pub fn open(&self, dk: &DataKey) -> Note {
        let r = record(dk, self.therapist_id, self.id, self.client_id);
        let mut damaged = false;
        let content = NoteContent {
            sections: parse_json(r.open("sections", &self.sections), &mut damaged),
            key_moment: shown(r.open("key_moment", &self.key_moment), &mut damaged),
            process_note: shown(r.open("process_note", &self.process_note), &mut damaged),
            tags: parse_json(r.open("tags", &self.tags), &mut damaged),
        };
        let facts = self.facts();
        let intact = self.content_hash.as_ref().map(|blob| {
            r.open_bytes("content_hash", blob)
                .is_ok_and(|stored| stored.as_slice() == content_hash(&facts, &content))
        });
        Note {
            id: NoteId(self.id),
            client_id: ClientId(self.client_id),
            facts,
            content,
            signed: self.is_signed(),
            revision: self.revision,
            signed_at: self.signed_at,
            updated_at: self.updated_at,
            damaged,
            intact,
        }
    }
}

/// The hash sealed at signing: every fact and every word of the note.
pub fn content_hash(facts: &SessionFacts, content: &NoteContent) -> [u8; 32] {
    let sections = serde_json::to_string(&content.sections).unwrap_or_default();
    let tags = serde_json::to_string(&content.tags).unwrap_or_default();
    hash_parts(&[
        b"tearsheet/v1/note-content",
        facts.session_date.as_bytes(),
        &facts.duration_minutes.to_be_bytes(),
        facts.session_type.key().as_bytes(),
        facts.format.key().as_bytes(),
        sections.as_bytes(),
        content.key_moment.as_bytes(),
        content.process_note.as_bytes(),
        tags.as_bytes(),
    ])
}

struct Sealed {
    sections: Vec<u8>,
    key_moment: Vec<u8>,
    process_note: Vec<u8>,
    tags: Vec<u8>,
}

fn seal_content(r: &Record<'_>, content: &NoteContent) -> Sealed {
    Sealed {
        sections: r.seal(
            "sections",
            &serde_json::to_string(&content.sections).unwrap_or_default(),
        ),
        key_moment: r.seal("key_moment", &content.key_moment),
        process_note: r.seal("process_note", &content.process_note),
        tags: r.seal(
            "tags",
            &serde_json::to_string(&content.tags).unwrap_or_default(),
        ),
    }
}

/// One of this therapist's notes.
pub fn find(conn: &mut DbConn, therapist: TherapistId, id: NoteId) -> QueryResult<Option<NoteRow>> {
    notes::table
        .filter(notes::id.eq(id.0))
        .filter(notes::therapist_id.eq(therapist.0))
        .select(NoteRow::as_select())
        .first(conn)
        .optional()
}

/// A client's notes, newest session first.
pub fn for_client(
    conn: &mut DbConn,
    therapist: TherapistId,
    client: ClientId,
) -> QueryResult<Vec<NoteRow>> {
    notes::table
        .filter(notes::therapist_id.eq(therapist.0))
        .filter(notes::client_id.eq(client.0))
        .order((notes::session_date.desc(), notes::created_at.desc()))
        .select(NoteRow::as_select())
        .load(conn)
}

/// This therapist's notes within optional bounds, newest session first.
pub fn matching(
    conn: &mut DbConn,
    therapist: TherapistId,
    client: Option<ClientId>,
    from: Option<&str>,
    to: Option<&str>,
) -> QueryResult<Vec<NoteRow>> {
    let mut query = notes::table
        .filter(notes::therapist_id.eq(therapist.0))
        .into_boxed();
    if let Some(client) = client {
        query = query.filter(notes::client_id.eq(client.0));
    }
    if let Some(from) = from {
        query = query.filter(notes::session_date.ge(from.to_owned()));
    }
    if let Some(to) = to {
        query = query.filter(notes::session_date.le(to.to_owned()));
    }
    query
        .order((notes::session_date.desc(), notes::created_at.desc()))
        .select(NoteRow::as_select())
        .load(conn)
}

/// The plain columns of every note of this therapist, newest session first.
pub fn metas(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Vec<NoteMeta>> {
    notes::table
        .filter(notes::therapist_id.eq(therapist.0))
        .order((notes::session_date.desc(), notes::created_at.desc()))
        .select(NoteMeta::as_select())
        .load(conn)
}

/// A number that changes whenever any note of this therapist is written
/// (kept by database triggers, so every writer moves it; 0 before the
/// first note).
pub fn list_version(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<i64> {
    use crate::db::schema::note_list_versions;
    Ok(note_list_versions::table
        .find(therapist.0)
        .select(note_list_versions::version)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// These notes of this therapist (in no particular order).
pub fn rows_by_ids(
    conn: &mut DbConn,
    therapist: TherapistId,
    ids: &[i64],
) -> QueryResult<Vec<NoteRow>> {
    let mut rows = Vec::with_capacity(ids.len());
    // Well under both databases' limits on bound parameters.
    for chunk in ids.chunks(500) {
        rows.extend(
            notes::table
                .filter(notes::therapist_id.eq(therapist.0))
                .filter(notes::id.eq_any(chunk))
                .select(NoteRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// Write a new draft; returns its id.
pub fn create(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    client: ClientId,
    facts: &SessionFacts,
    content: &NoteContent,
) -> QueryResult<NoteId> {
    let id = NoteId::generate();
    let sealed = seal_content(&record(dk, therapist.0, id.0, client.0), content);
    let at = now();
    diesel::insert_into(notes::table)
        .values((
            notes::id.eq(id.0),
            notes::therapist_id.eq(therapist.0),
            notes::client_id.eq(client.0),
            notes::session_date.eq(&facts.session_date),
            notes::duration_minutes.eq(facts.duration_minutes),
            notes::session_type.eq(facts.session_type.key()),
            notes::format.eq(facts.format.key()),
            notes::status.eq("draft"),
            notes::revision.eq(1),
            notes::sections.eq(sealed.sections),
            notes::key_moment.eq(sealed.key_moment),
            notes::process_note.eq(sealed.process_note),
            notes::tags.eq(sealed.tags),
            notes::created_at.eq(at),
            notes::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// What happened to a save.
pub enum SaveOutcome {
    /// Saved as this revision.
    Saved(i32),
    /// Someone saved first; here is what is stored now.
    Stale(Box<NoteRow>),
    /// The note was signed meanwhile and cannot change.
    Signed,
    /// No such note of this therapist.
    NotFound,
}

/// Save a draft edited from `base_revision`, keeping the previous version.
pub fn save_draft(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    id: NoteId,
    base_revision: i32,
    facts: &SessionFacts,
    content: &NoteContent,
) -> QueryResult<SaveOutcome> {
    write_transaction(conn, |conn| {
        let Some(current) = find(conn, therapist, id)? else {
            return Ok(SaveOutcome::NotFound);
        };
        if current.is_signed() {
            return Ok(SaveOutcome::Signed);
        }
        if current.revision != base_revision {
            return Ok(SaveOutcome::Stale(Box::new(current)));
        }
        keep_version(conn, therapist, dk, &current)?;
        let sealed = seal_content(&record(dk, therapist.0, id.0, current.client_id), content);
        let next = current.revision + 1;
        let n = diesel::update(
            notes::table
                .filter(notes::id.eq(id.0))
                .filter(notes::therapist_id.eq(therapist.0))
                .filter(notes::revision.eq(base_revision))
                .filter(notes::status.eq("draft")),
        )
        .set((
            notes::session_date.eq(&facts.session_date),
            notes::duration_minutes.eq(facts.duration_minutes),
            notes::session_type.eq(facts.session_type.key()),
            notes::format.eq(facts.format.key()),
            notes::revision.eq(next),
            notes::sections.eq(sealed.sections),
            notes::key_moment.eq(sealed.key_moment),
            notes::process_note.eq(sealed.process_note),
            notes::tags.eq(sealed.tags),
            notes::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if n != 1 {
            // Another writer got in between (possible on PostgreSQL); roll back.
            return Err(diesel::result::Error::RollbackTransaction);
        }
        Ok(SaveOutcome::Saved(next))
    })
    .or_else(|err| match err {
        diesel::result::Error::RollbackTransaction => Ok(find(conn, therapist, id)?
            .map_or(SaveOutcome::NotFound, |row| {
                SaveOutcome::Stale(Box::new(row))
            })),
        other => Err(other),
    })
}

/// Copy a note's current content into its history, re-sealed for its new place.
fn keep_version(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    current: &NoteRow,
) -> QueryResult<()> {
    let opened = current.open(dk);
    if opened.damaged {
        // Never copy placeholder text into history as if it were the note.
        return Err(diesel::result::Error::QueryBuilderError(
            "refusing to version a note that failed its integrity check".into(),
        ));
    }
    let version_id = new_row_id();
    let sealed = seal_content(
        &Record::new(dk, therapist.0, "note_versions", version_id).under(current.id),
        &opened.content,
    );
    diesel::insert_into(note_versions::table)
        .values((
            note_versions::id.eq(version_id),
            note_versions::note_id.eq(current.id),
            note_versions::therapist_id.eq(therapist.0),
            note_versions::revision.eq(current.revision),
            note_versions::saved_at.eq(current.updated_at),
            note_versions::format.eq(&current.format),
            note_versions::sections.eq(sealed.sections),
            note_versions::key_moment.eq(sealed.key_moment),
            note_versions::process_note.eq(sealed.process_note),
            note_versions::tags.eq(sealed.tags),
        ))
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
    /// Its content.
    pub content: NoteContent,
    /// Whether it failed to open.
    pub damaged: bool,
}

/// A note's past revisions, oldest first.
pub fn versions(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    id: NoteId,
) -> QueryResult<Vec<Version>> {
    type VersionRow = (i64, i32, i64, String, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);
    let rows: Vec<VersionRow> = note_versions::table
        .filter(note_versions::note_id.eq(id.0))
        .filter(note_versions::therapist_id.eq(therapist.0))
        .order(note_versions::revision.asc())
        .select((
            note_versions::id,
            note_versions::revision,
            note_versions::saved_at,
            note_versions::format,
            note_versions::sections,
            note_versions::key_moment,
            note_versions::process_note,
            note_versions::tags,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(vid, revision, saved_at, format, sections, key_moment, process_note, tags)| {
                let r = Record::new(dk, therapist.0, "note_versions", vid).under(id.0);
                let mut damaged = false;
                let content = NoteContent {
                    sections: parse_json(r.open("sections", &sections), &mut damaged),
                    key_moment: shown(r.open("key_moment", &key_moment), &mut damaged),
                    process_note: shown(r.open("process_note", &process_note), &mut damaged),
                    tags: parse_json(r.open("tags", &tags), &mut damaged),
                };
                Version {
                    revision,
                    saved_at,
                    format: NoteFormat::parse(&format).unwrap_or(NoteFormat::Free),
                    content,
                    damaged,
                }
            },
        )
        .collect())
}

/// What happened to a request to sign.
#[derive(Debug, PartialEq, Eq)]
pub enum SignOutcome {
    /// Signed now.
    Signed,
    /// Was already signed.
    AlreadySigned,
    /// The draft changed since the page was loaded; sign what you have seen.
    Stale,
    /// No such note.
    NotFound,
}

/// Sign a draft as seen at `revision`: lock it and seal its content hash.
pub fn sign(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    id: NoteId,
    revision: i32,
) -> QueryResult<SignOutcome> {
    write_transaction(conn, |conn| {
        let Some(row) = find(conn, therapist, id)? else {
            return Ok(SignOutcome::NotFound);
        };
        if row.is_signed() {
            return Ok(SignOutcome::AlreadySigned);
        }
        if row.revision != revision {
            return Ok(SignOutcome::Stale);
        }
        let note = row.open(dk);
        if note.damaged {
            return Err(diesel::result::Error::QueryBuilderError(
                "refusing to sign a note that failed its integrity check".into(),
            ));
        }
        let hash = content_hash(&note.facts, &note.content);
        let sealed = record(dk, therapist.0, id.0, row.client_id).seal_bytes("content_hash", &hash);
        let n = diesel::update(
            notes::table
                .filter(notes::id.eq(id.0))
                .filter(notes::therapist_id.eq(therapist.0))
                .filter(notes::revision.eq(revision))
                .filter(notes::status.eq("draft")),
        )
        .set((
            notes::status.eq("signed"),
            notes::signed_at.eq(now()),
            notes::content_hash.eq(sealed),
        ))
        .execute(conn)?;
        Ok(if n == 1 {
            SignOutcome::Signed
        } else {
            SignOutcome::Stale
        })
    })
}

/// Delete a draft. `Ok(false)` if it is signed or not found.
pub fn delete_draft(conn: &mut DbConn, therapist: TherapistId, id: NoteId) -> QueryResult<bool> {
    let n = diesel::delete(
        notes::table
            .filter(notes::id.eq(id.0))
            .filter(notes::therapist_id.eq(therapist.0))
            .filter(notes::status.eq("draft")),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Whether a note has earlier revisions to show.
pub fn has_versions(conn: &mut DbConn, therapist: TherapistId, id: NoteId) -> QueryResult<bool> {
    let n: i64 = note_versions::table
        .filter(note_versions::note_id.eq(id.0))
        .filter(note_versions::therapist_id.eq(therapist.0))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// An addendum, opened.
pub struct Addendum {
    /// When written.
    pub created_at: i64,
    /// Its text.
    pub body: String,
}

/// Append an addendum to a signed note. `Ok(false)` if not signed or not found.
pub fn add_addendum(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    id: NoteId,
    body: &str,
) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        match find(conn, therapist, id)? {
            Some(row) if row.is_signed() => {}
            _ => return Ok(false),
        }
        let addendum_id = new_row_id();
        let sealed = Record::new(dk, therapist.0, "addenda", addendum_id)
            .under(id.0)
            .seal("body", body);
        diesel::insert_into(addenda::table)
            .values((
                addenda::id.eq(addendum_id),
                addenda::note_id.eq(id.0),
                addenda::therapist_id.eq(therapist.0),
                addenda::body.eq(sealed),
                addenda::created_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// A note's addenda, oldest first.
pub fn addenda(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    id: NoteId,
) -> QueryResult<(Vec<Addendum>, bool)> {
    let rows: Vec<(i64, Vec<u8>, i64)> = addenda::table
        .filter(addenda::note_id.eq(id.0))
        .filter(addenda::therapist_id.eq(therapist.0))
        .order(addenda::created_at.asc())
        .select((addenda::id, addenda::body, addenda::created_at))
        .load(conn)?;
    let mut damaged = false;
    let list = rows
        .into_iter()
        .map(|(aid, blob, created_at)| Addendum {
            created_at,
            body: shown(
                Record::new(dk, therapist.0, "addenda", aid)
                    .under(id.0)
                    .open("body", &blob),
                &mut damaged,
            ),
        })
        .collect();
    Ok((list, damaged))
}

/// Addenda bodies for many notes at once (for search), keyed by note.
pub fn addenda_for_search(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
) -> QueryResult<std::collections::HashMap<i64, Vec<String>>> {
    let rows: Vec<(i64, i64, Vec<u8>)> = addenda::table
        .filter(addenda::therapist_id.eq(therapist.0))
        .select((addenda::id, addenda::note_id, addenda::body))
        .load(conn)?;
    let mut map: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    for (aid, note, blob) in rows {
        let opened = Record::new(dk, therapist.0, "addenda", aid)
            .under(note)
            .open("body", &blob);
        if let Ok(body) = opened {
            map.entry(note).or_default().push(body);
        }
    }
    Ok(map)
}

/// Whether a sealed value is still blob version 1 (bound to no owner).
fn is_legacy(blob: &[u8]) -> bool {
    crate::crypto::seal::version_of(blob) == Some(crate::crypto::seal::LEGACY_VERSION)
}

/// Open a sealed value and seal it again as the current blob version, at
/// the same place. `None` if it does not open: a damaged value is left as
/// it is, never re-sealed as if it were whole.
fn reseal(r: &Record<'_>, column: &'static str, blob: &[u8]) -> Option<Vec<u8>> {
    let plain = r.open_bytes(column, blob).ok()?;
    Some(r.seal_bytes(column, &plain))
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
    dk: &DataKey,
    after: i64,
    limit: i64,
) -> QueryResult<Option<i64>> {
    write_transaction(conn, |conn| {
        let rows: Vec<NoteRow> = notes::table
            .filter(notes::therapist_id.eq(therapist.0))
            .filter(notes::id.gt(after))
            .order(notes::id.asc())
            .limit(limit)
            .select(NoteRow::as_select())
            .load(conn)?;
        for row in &rows {
            upgrade_note(conn, therapist, dk, row)?;
            upgrade_children(conn, therapist, dk, NoteId(row.id))?;
        }
        Ok(rows.last().map(|r| r.id))
    })
}

fn upgrade_note(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    row: &NoteRow,
) -> QueryResult<()> {
    let legacy = [&row.sections, &row.key_moment, &row.process_note, &row.tags]
        .into_iter()
        .chain(&row.content_hash)
        .any(|b| is_legacy(b));
    if !legacy {
        return Ok(());
    }
    let r = record(dk, therapist.0, row.id, row.client_id);
    let (Some(sections), Some(key_moment), Some(process_note), Some(tags)) = (
        reseal(&r, "sections", &row.sections),
        reseal(&r, "key_moment", &row.key_moment),
        reseal(&r, "process_note", &row.process_note),
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
            .filter(notes::therapist_id.eq(therapist.0))
            .filter(notes::revision.eq(row.revision))
            .filter(notes::updated_at.eq(row.updated_at))
            .filter(notes::status.eq(&row.status)),
    )
    .set((
        notes::sections.eq(sections),
        notes::key_moment.eq(key_moment),
        notes::process_note.eq(process_note),
        notes::tags.eq(tags),
        notes::content_hash.eq(content_hash),
    ))
    .execute(conn)
    .map(|_| ())
}

fn upgrade_children(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    note: NoteId,
) -> QueryResult<()> {
    type VersionBlobs = (i64, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);
    let versions: Vec<VersionBlobs> = note_versions::table
        .filter(note_versions::note_id.eq(note.0))
        .filter(note_versions::therapist_id.eq(therapist.0))
        .select((
            note_versions::id,
            note_versions::sections,
            note_versions::key_moment,
            note_versions::process_note,
            note_versions::tags,
        ))
        .load(conn)?;
    for (id, sections, key_moment, process_note, tags) in versions {
        if ![&sections, &key_moment, &process_note, &tags]
            .into_iter()
            .any(|b| is_legacy(b))
        {
            continue;
        }
        let r = Record::new(dk, therapist.0, "note_versions", id).under(note.0);
        if let (Some(sections), Some(key_moment), Some(process_note), Some(tags)) = (
            reseal(&r, "sections", &sections),
            reseal(&r, "key_moment", &key_moment),
            reseal(&r, "process_note", &process_note),
            reseal(&r, "tags", &tags),
        ) {
            diesel::update(note_versions::table.find(id))
                .set((
                    note_versions::sections.eq(sections),
                    note_versions::key_moment.eq(key_moment),
                    note_versions::process_note.eq(process_note),
                    note_versions::tags.eq(tags),
                ))
                .execute(conn)?;
        }
    }
    let bodies: Vec<(i64, Vec<u8>)> = addenda::table
        .filter(addenda::note_id.eq(note.0))
        .filter(addenda::therapist_id.eq(therapist.0))
        .select((addenda::id, addenda::body))
        .load(conn)?;
    for (id, body) in bodies {
        let r = Record::new(dk, therapist.0, "addenda", id).under(note.0);
        if let Some(body) = is_legacy(&body)
            .then(|| reseal(&r, "body", &body))
            .flatten()
        {
            diesel::update(addenda::table.find(id))
                .set(addenda::body.eq(body))
                .execute(conn)?;
        }
    }
    Ok(())
}
