//! Session notes: the `notes` table, sealed content and signing. Every
//! query is scoped by the owning therapist. Earlier versions live in
//! `versions`, addenda in `addenda`.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::format::{NoteFormat, SessionType};
use crate::crypto::{Keys, OpenError, Opened, Record, hash_parts};
use crate::db::schema::notes;
use crate::db::{DbConn, now, write_transaction};
use crate::ids::{ClientId, NoteId, TherapistId};

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
    /// Tag keys: built-in slugs, `pack:PACK/SLUG@VERSION` and `custom:<id>`.
    pub tags: Vec<String>,
    /// The pack template the note was written with, kept whole with it.
    pub template: Option<super::format::Template>,
}

/// A note's stored row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = notes)]
pub struct NoteRow {
    /// Row id.
    pub id: NoteId,
    /// Owner.
    pub therapist_id: TherapistId,
    /// The client.
    pub client_id: ClientId,
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
    pub(super) sections: Vec<u8>,
    pub(super) key_moment: Vec<u8>,
    pub(super) process_note: Vec<u8>,
    pub(super) tags: Vec<u8>,
    pub(super) content_hash: Option<Vec<u8>>,
    /// When signed.
    pub signed_at: Option<i64>,
    /// When created.
    pub created_at: i64,
    /// Last save.
    pub updated_at: i64,
    /// Who signed it, as they were then (name, credentials, licence).
    pub signed_as: Option<String>,
    /// Who wrote it: their DK seals its private process note.
    pub author_id: TherapistId,
    /// The pack template it was written with, sealed (none: a built-in format).
    pub(super) layout: Option<Vec<u8>>,
}

/// A note's plain columns: enough to list, filter by client and date, and
/// check whether text kept in session memory is still current.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = notes)]
pub struct NoteMeta {
    /// Row id.
    pub id: NoteId,
    /// The client.
    pub client_id: ClientId,
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

/// An opened note: each sealed part its content, or why it did not open.
pub struct Note {
    /// Row id.
    pub id: NoteId,
    /// The client.
    pub client_id: ClientId,
    /// Plain facts.
    pub facts: SessionFacts,
    /// Section key to text.
    pub sections: Opened<BTreeMap<String, String>>,
    /// The key moment.
    pub key_moment: Opened<String>,
    /// The private process note: empty for anyone but its author, who
    /// alone can open it.
    pub process_note: Opened<String>,
    /// Whether the reader wrote the note (and so sees its process note
    /// and may change it).
    pub by_reader: bool,
    /// Tag keys.
    pub tags: Opened<Vec<String>>,
    /// The pack template it was written with.
    pub template: Opened<Option<super::format::Template>>,
    /// Whether signed (and so read-only).
    pub signed: bool,
    /// Revision, for conflict detection.
    pub revision: i32,
    /// When signed.
    pub signed_at: Option<i64>,
    /// Who signed it, as they were then.
    pub signed_as: Option<String>,
    /// Last save.
    pub updated_at: i64,
    /// For a signed note: whether its content and signer still match the
    /// hash sealed at signing. `None` for drafts, when a part failed to
    /// open, and for a note signed before notes could be shared read by
    /// anyone but its author (its hash covers the process note).
    pub intact: Option<bool>,
}

impl Note {
    /// Whether any sealed part failed to open.
    pub fn damaged(&self) -> bool {
        self.sections.is_err()
            || self.key_moment.is_err()
            || self.process_note.is_err()
            || self.tags.is_err()
            || self.template.is_err()
    }

    /// The note's sections: its template's, or its format's.
    pub fn layout(&self) -> Vec<super::format::SectionRef<'_>> {
        let template = self.template.as_ref().ok().and_then(Option::as_ref);
        super::format::sections_of(self.facts.format, template)
    }

    /// The name of its format or template.
    pub fn format_name(&self) -> String {
        let template = self.template.as_ref().ok().and_then(Option::as_ref);
        super::format::name_of(self.facts.format, template)
    }

    /// Everything the note says, when every part opened.
    pub fn content(&self) -> Option<NoteContent> {
        Some(NoteContent {
            sections: self.sections.clone().ok()?,
            key_moment: self.key_moment.clone().ok()?,
            process_note: self.process_note.clone().ok()?,
            tags: self.tags.clone().ok()?,
            template: self.template.clone().ok()?,
        })
    }
}

impl NoteContent {
    /// The note's sections: its template's, or the format's.
    pub fn layout(&self, format: NoteFormat) -> Vec<super::format::SectionRef<'_>> {
        super::format::sections_of(format, self.template.as_ref())
    }
}

/// Open a sealed template (none stored: a built-in format).
pub(super) fn open_layout(
    r: &Record<'_>,
    blob: Option<&[u8]>,
) -> Opened<Option<super::format::Template>> {
    blob.map(|b| json(r.open_field("layout", b))).transpose()
}

/// A note's sealed fields: under its client's key, bound to its row and
/// its client; its process note under its author's DK.
pub(super) fn record(keys: &Keys, author: TherapistId, id: NoteId, client: ClientId) -> Record<'_> {
    Record::of_client(keys, author.0, client.0, "notes", id.0).under(client.0)
}

/// Parse opened JSON; JSON that does not parse counts as a failed check.
pub(super) fn json<T: serde::de::DeserializeOwned>(text: Opened<String>) -> Opened<T> {
    serde_json::from_str(&text?).map_err(|_| OpenError::Integrity)
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

    pub(super) fn record<'a>(&self, keys: &'a Keys) -> Record<'a> {
        record(keys, self.author_id, self.id, self.client_id)
    }

    /// Whether `keys` belong to the note's author.
    pub fn written_by(&self, keys: &Keys) -> bool {
        self.author_id.0 == keys.therapist()
    }

    /// The process note for its author; empty for anyone else, who has no
    /// key to it and is not to know what it says.
    fn open_process_note(&self, r: &Record<'_>, keys: &Keys) -> Opened<String> {
        if self.written_by(keys) {
            r.open_field("process_note", &self.process_note)
        } else {
            Ok(String::new())
        }
    }

    /// Open just the tags (for filters and timelines).
    pub fn open_tags(&self, keys: &Keys) -> Opened<Vec<String>> {
        json(self.record(keys).open_field("tags", &self.tags))
    }

    /// Open just the pack template it was written with, if any (a failure
    /// counts as none here; the full open reports it).
    pub fn open_template(&self, keys: &Keys) -> Option<super::format::Template> {
        open_layout(&self.record(keys), self.layout.as_deref())
            .ok()
            .flatten()
    }

    /// Open just the key moment.
    pub fn open_key_moment(&self, keys: &Keys) -> Opened<String> {
        self.record(keys).open_field("key_moment", &self.key_moment)
    }

    /// Open every sealed field to bytes and parse nothing: decryption
    /// alone, the floor the benchmark measures search against. Returns the
    /// bytes opened.
    #[doc(hidden)]
    pub fn open_raw(&self, keys: &Keys) -> Opened<usize> {
        let r = self.record(keys);
        let mut bytes = r.open_bytes("sections", &self.sections)?.len()
            + r.open_bytes("key_moment", &self.key_moment)?.len()
            + r.open_bytes("tags", &self.tags)?.len();
        if self.written_by(keys) {
            bytes += r.open_bytes("process_note", &self.process_note)?.len();
        }
        if let Some(layout) = &self.layout {
            bytes += r.open_bytes("layout", layout)?.len();
        }
        Ok(bytes)
    }

    /// Open every sealed text of the note, without checking a signed note
    /// against its hash: what search reads. Fails if any part fails to open.
    pub fn open_text(&self, keys: &Keys) -> Opened<NoteContent> {
        let r = self.record(keys);
        Ok(NoteContent {
            sections: json(r.open("sections", &self.sections))?,
            key_moment: r.open("key_moment", &self.key_moment)?,
            process_note: self.open_process_note(&r, keys)?,
            tags: json(r.open("tags", &self.tags))?,
            template: open_layout(&r, self.layout.as_deref())?,
        })
    }

    /// Open everything, and check a signed note against its sealed hash.
    pub fn open(&self, keys: &Keys) -> Note {
        let r = self.record(keys);
        let by_reader = self.written_by(keys);
        let mut note = Note {
            id: self.id,
            client_id: self.client_id,
            facts: self.facts(),
            sections: json(r.open_field("sections", &self.sections)),
            key_moment: r.open_field("key_moment", &self.key_moment),
            process_note: self.open_process_note(&r, keys),
            by_reader,
            tags: json(r.open_field("tags", &self.tags)),
            template: open_layout(&r, self.layout.as_deref()),
            signed: self.is_signed(),
            revision: self.revision,
            signed_at: self.signed_at,
            signed_as: self.signed_as.clone(),
            updated_at: self.updated_at,
            intact: None,
        };
        note.intact = match (&self.content_hash, note.content()) {
            (Some(blob), Some(content)) => {
                let signer = self.signed_as.as_deref();
                match r.open_bytes("content_hash", blob) {
                    Err(_) => Some(false),
                    // Signed since notes could be shared: the hash leaves
                    // the private process note out, so every reader can
                    // check it.
                    Ok(stored)
                        if stored.as_slice() == shared_hash(&note.facts, &content, signer) =>
                    {
                        Some(true)
                    }
                    // Signed before: the hash covers the process note, so
                    // only its author can check it; anyone else is told
                    // nothing rather than warned falsely.
                    Ok(stored) if by_reader => {
                        Some(stored.as_slice() == content_hash(&note.facts, &content, signer))
                    }
                    Ok(_) => None,
                }
            }
            _ => None,
        };
        note
    }
}

/// The hash sealed at signing now: every fact and word of the note but the
/// private process note (which only its author can open, and which is
/// sealed on its own), and who signed it.
pub fn shared_hash(facts: &SessionFacts, content: &NoteContent, signer: Option<&str>) -> [u8; 32] {
    let sections = serde_json::to_string(&content.sections).unwrap_or_default();
    let tags = serde_json::to_string(&content.tags).unwrap_or_default();
    let duration = facts.duration_minutes.to_be_bytes();
    let template = content
        .template
        .as_ref()
        .map(|t| serde_json::to_string(t).unwrap_or_default());
    let mut parts: Vec<&[u8]> = vec![
        b"tearsheet/v3/note-content",
        facts.session_date.as_bytes(),
        &duration,
        facts.session_type.key().as_bytes(),
        facts.format.key().as_bytes(),
        sections.as_bytes(),
        content.key_moment.as_bytes(),
        tags.as_bytes(),
        signer.unwrap_or_default().as_bytes(),
    ];
    // A note written with a template: its headings are part of what was
    // signed (notes without one hash as they always have).
    if let Some(template) = &template {
        parts.push(b"template");
        parts.push(template.as_bytes());
    }
    hash_parts(&parts)
}

/// The hash sealed at signing: every fact and every word of the note, and
/// who signed it. Notes signed before the signer was recorded (`signer`
/// `None`) carry the first form of the hash, without it.
pub fn content_hash(facts: &SessionFacts, content: &NoteContent, signer: Option<&str>) -> [u8; 32] {
    let sections = serde_json::to_string(&content.sections).unwrap_or_default();
    let tags = serde_json::to_string(&content.tags).unwrap_or_default();
    let duration = facts.duration_minutes.to_be_bytes();
    let mut parts: Vec<&[u8]> = vec![
        b"tearsheet/v1/note-content",
        facts.session_date.as_bytes(),
        &duration,
        facts.session_type.key().as_bytes(),
        facts.format.key().as_bytes(),
        sections.as_bytes(),
        content.key_moment.as_bytes(),
        content.process_note.as_bytes(),
        tags.as_bytes(),
    ];
    if let Some(signer) = signer {
        parts[0] = b"tearsheet/v2/note-content";
        parts.push(signer.as_bytes());
    }
    hash_parts(&parts)
}

/// The sealed columns of a note (and of each earlier version of it).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = notes)]
#[diesel(treat_none_as_null = true)]
pub(super) struct SealedContent {
    pub(super) sections: Vec<u8>,
    pub(super) key_moment: Vec<u8>,
    pub(super) process_note: Vec<u8>,
    pub(super) tags: Vec<u8>,
    pub(super) layout: Option<Vec<u8>>,
}

impl SealedContent {
    /// Seal `content` at the place `r` names.
    pub(super) fn new(r: &Record<'_>, content: &NoteContent) -> Self {
        Self {
            sections: r.seal(
                "sections",
                &serde_json::to_string(&content.sections).unwrap_or_default(),
            ),
            key_moment: r.seal("key_moment", &content.key_moment),
            process_note: r.seal_private("process_note", &content.process_note),
            tags: r.seal(
                "tags",
                &serde_json::to_string(&content.tags).unwrap_or_default(),
            ),
            layout: content
                .template
                .as_ref()
                .map(|t| r.seal("layout", &serde_json::to_string(t).unwrap_or_default())),
        }
    }
}

/// A note's plain facts, as stored.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = notes)]
struct StoredFacts<'a> {
    session_date: &'a str,
    duration_minutes: i32,
    session_type: &'a str,
    format: &'a str,
}

impl<'a> From<&'a SessionFacts> for StoredFacts<'a> {
    fn from(f: &'a SessionFacts) -> Self {
        Self {
            session_date: &f.session_date,
            duration_minutes: f.duration_minutes,
            session_type: f.session_type.key(),
            format: f.format.key(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = notes)]
struct NewNote<'a> {
    id: NoteId,
    therapist_id: TherapistId,
    client_id: ClientId,
    #[diesel(embed)]
    facts: StoredFacts<'a>,
    status: &'a str,
    revision: i32,
    #[diesel(embed)]
    content: SealedContent,
    created_at: i64,
    updated_at: i64,
    form_id: Option<&'a str>,
    author_id: TherapistId,
}

/// A note by id, whoever owns it: for access rules that are not
/// ownership (a supervisor's), which the caller checks.
pub fn find_any(conn: &mut DbConn, id: NoteId) -> QueryResult<Option<NoteRow>> {
    notes::table
        .find(id)
        .select(NoteRow::as_select())
        .first(conn)
        .optional()
}

/// One of this therapist's notes.
pub fn find(conn: &mut DbConn, therapist: TherapistId, id: NoteId) -> QueryResult<Option<NoteRow>> {
    notes::table
        .filter(notes::id.eq(id))
        .filter(notes::therapist_id.eq(therapist))
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
        .filter(notes::therapist_id.eq(therapist))
        .filter(notes::client_id.eq(client))
        .order((notes::session_date.desc(), notes::created_at.desc()))
        .select(NoteRow::as_select())
        .load(conn)
}

/// The plain columns of every note of this therapist, newest session first.
pub fn metas(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Vec<NoteMeta>> {
    notes::table
        .filter(notes::therapist_id.eq(therapist))
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
        .find(therapist)
        .select(note_list_versions::version)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Every note of this therapist (in no particular order).
pub fn all_rows(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Vec<NoteRow>> {
    notes::table
        .filter(notes::therapist_id.eq(therapist))
        .select(NoteRow::as_select())
        .load(conn)
}

/// These notes of this therapist (in no particular order).
pub fn rows_by_ids(
    conn: &mut DbConn,
    therapist: TherapistId,
    ids: &[NoteId],
) -> QueryResult<Vec<NoteRow>> {
    let mut rows = Vec::with_capacity(ids.len());
    // Well under both databases' limits on bound parameters.
    for chunk in ids.chunks(500) {
        rows.extend(
            notes::table
                .filter(notes::therapist_id.eq(therapist))
                .filter(notes::id.eq_any(chunk))
                .select(NoteRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// The note this therapist first saved from the form with this one-time id.
pub fn made_from_form(
    conn: &mut DbConn,
    therapist: TherapistId,
    form_id: &str,
) -> QueryResult<Option<NoteId>> {
    notes::table
        .filter(notes::therapist_id.eq(therapist))
        .filter(notes::form_id.eq(form_id))
        .select(notes::id)
        .first(conn)
        .optional()
}

/// Write a new draft; returns its id. `form_id` is the one-time id of the
/// form it came from, if any (see [`made_from_form`]).
pub fn create(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    client: ClientId,
    facts: &SessionFacts,
    content: &NoteContent,
    form_id: Option<&str>,
) -> QueryResult<NoteId> {
    let id = NoteId::generate();
    let at = now();
    diesel::insert_into(notes::table)
        .values(NewNote {
            id,
            therapist_id: therapist,
            client_id: client,
            facts: facts.into(),
            status: "draft",
            revision: 1,
            content: SealedContent::new(&record(keys, therapist, id, client), content),
            created_at: at,
            updated_at: at,
            form_id,
            author_id: therapist,
        })
        .execute(conn)?;
    Ok(id)
}

/// What happened to a save.
pub enum SaveOutcome {
    /// Saved as this revision.
    Saved(i32),
    /// Someone saved first; here is what is stored now.
    Stale(Box<NoteRow>),
    /// The note is signed and cannot change.
    Signed,
    /// The stored note failed its integrity check, so it is not changed
    /// (its text could not be kept in its history).
    Damaged,
    /// No such note of this therapist.
    NotFound,
}

/// Save a draft edited from `base_revision`, keeping the previous version.
pub fn save_draft(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
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
        let Some(previous) = current.open(keys).content() else {
            // Never copy placeholder text into history as if it were the note.
            return Ok(SaveOutcome::Damaged);
        };
        super::versions::keep(conn, keys, &current, &previous)?;
        let next = current.revision + 1;
        let n = diesel::update(
            notes::table
                .filter(notes::id.eq(id))
                .filter(notes::therapist_id.eq(therapist))
                .filter(notes::revision.eq(base_revision))
                .filter(notes::status.eq("draft")),
        )
        .set((
            StoredFacts::from(facts),
            SealedContent::new(
                &record(keys, current.author_id, id, current.client_id),
                content,
            ),
            notes::revision.eq(next),
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

/// What happened to a request to sign.
#[derive(Debug, PartialEq, Eq)]
pub enum SignOutcome {
    /// Signed now.
    Signed,
    /// Was already signed.
    AlreadySigned,
    /// The draft changed since the page was loaded; sign what you have seen.
    Stale,
    /// Sections still empty (their headings): a note is signed with
    /// something written under every heading of its format.
    Incomplete(Vec<String>),
    /// The stored draft failed its integrity check, so it cannot be signed.
    Damaged,
    /// No such note.
    NotFound,
}

/// Sign a draft as seen at `revision`, as `signed_as` (the signer's name,
/// credentials and licence): lock it and seal its content hash.
pub fn sign(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    id: NoteId,
    revision: i32,
    signed_as: &str,
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
        let note = row.open(keys);
        let Some(content) = note.content() else {
            return Ok(SignOutcome::Damaged);
        };
        let missing = missing_sections(note.facts.format, &content);
        let missing: Vec<String> = missing.into_iter().map(str::to_owned).collect();
        if !missing.is_empty() {
            return Ok(SignOutcome::Incomplete(missing));
        }
        let hash = shared_hash(&note.facts, &content, Some(signed_as));
        let sealed = row.record(keys).seal_bytes("content_hash", &hash);
        let n = diesel::update(
            notes::table
                .filter(notes::id.eq(id))
                .filter(notes::therapist_id.eq(therapist))
                .filter(notes::revision.eq(revision))
                .filter(notes::status.eq("draft")),
        )
        .set((
            notes::status.eq("signed"),
            notes::signed_at.eq(now()),
            notes::content_hash.eq(sealed),
            notes::signed_as.eq(signed_as),
        ))
        .execute(conn)?;
        Ok(if n == 1 {
            SignOutcome::Signed
        } else {
            SignOutcome::Stale
        })
    })
}

/// The headings of a note's sections that have nothing written yet.
pub fn missing_sections(format: NoteFormat, content: &NoteContent) -> Vec<&str> {
    content
        .layout(format)
        .into_iter()
        .filter(|s| {
            content
                .sections
                .get(s.key)
                .is_none_or(|t| t.trim().is_empty())
        })
        .map(|s| s.label)
        .collect()
}

/// Delete a draft. `Ok(false)` if it is signed or not found.
pub fn delete_draft(conn: &mut DbConn, therapist: TherapistId, id: NoteId) -> QueryResult<bool> {
    let n = diesel::delete(
        notes::table
            .filter(notes::id.eq(id))
            .filter(notes::therapist_id.eq(therapist))
            .filter(notes::status.eq("draft")),
    )
    .execute(conn)?;
    Ok(n == 1)
}
