//! Client records: the `clients` table, its sealed fields, and queries
//! scoped by owner.

use diesel::prelude::*;

use crate::crypto::{Keys, Opened, Record};
use crate::db::schema::{clients, notes};
use crate::db::{DbConn, now, write_transaction};
use crate::ids::{ClientId, TherapistId};

const TABLE: &str = "clients";

/// A client's stored row: sealed columns as blobs.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    /// Row id.
    pub id: ClientId,
    /// Owner.
    pub therapist_id: TherapistId,
    full_name: Vec<u8>,
    preferred_name: Vec<u8>,
    pronouns: Vec<u8>,
    date_of_birth: Vec<u8>,
    about: Vec<u8>,
    /// When archived, if archived.
    pub archived_at: Option<i64>,
    /// When added.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    language: Option<Vec<u8>>,
}

/// A client's fields in plaintext, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ClientFields {
    /// Full name (required).
    pub full_name: String,
    /// The name used on handouts ("For Sam").
    pub preferred_name: String,
    /// Pronouns.
    pub pronouns: String,
    /// `YYYY-MM-DD` or empty.
    pub date_of_birth: String,
    /// Free text.
    pub about: String,
    /// Preferred language, a BCP 47 tag (`es`), or empty when not
    /// recorded: handouts are printed in it when they have a version in it.
    pub language: String,
}

/// A client, opened: each field its text, or why it did not open.
#[derive(Clone)]
pub struct Client {
    /// Row id.
    pub id: ClientId,
    /// Full name.
    pub full_name: Opened<String>,
    /// Preferred name.
    pub preferred_name: Opened<String>,
    /// Pronouns.
    pub pronouns: Opened<String>,
    /// `YYYY-MM-DD` or empty.
    pub date_of_birth: Opened<String>,
    /// Free text.
    pub about: Opened<String>,
    /// Preferred language (a BCP 47 tag), empty when not recorded.
    pub language: Opened<String>,
    /// Whether archived.
    pub archived: bool,
}

impl Client {
    /// Whether any field failed its integrity check.
    pub fn damaged(&self) -> bool {
        [
            &self.full_name,
            &self.preferred_name,
            &self.pronouns,
            &self.date_of_birth,
            &self.about,
            &self.language,
        ]
        .iter()
        .any(|f| f.is_err())
    }

    /// Every field, when all of them opened (for forms and exports, which
    /// must never carry a placeholder as if it were what was typed).
    pub fn fields(&self) -> Option<ClientFields> {
        Some(ClientFields {
            full_name: self.full_name.clone().ok()?,
            preferred_name: self.preferred_name.clone().ok()?,
            pronouns: self.pronouns.clone().ok()?,
            date_of_birth: self.date_of_birth.clone().ok()?,
            about: self.about.clone().ok()?,
            language: self.language.clone().ok()?,
        })
    }

    /// Every name the client goes by (full, and preferred when set).
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.full_name.as_deref().into_iter().collect();
        if let Ok(preferred) = &self.preferred_name {
            if !preferred.trim().is_empty() {
                names.push(preferred);
            }
        }
        names
    }

    /// The name to address the client by: preferred name, else full name;
    /// `None` if the name needed failed its integrity check.
    pub fn called(&self) -> Option<&str> {
        match &self.preferred_name {
            Ok(p) if !p.trim().is_empty() => Some(p),
            Ok(_) => self.full_name.as_deref().ok(),
            Err(_) => None,
        }
    }
}

impl ClientRow {
    fn record<'a>(&self, keys: &'a Keys) -> Record<'a> {
        Record::of_client(keys, self.therapist_id.0, self.id.0, TABLE, self.id.0)
    }

    /// Open every field.
    pub fn open(&self, keys: &Keys) -> Client {
        let r = self.record(keys);
        Client {
            id: self.id,
            full_name: r.open_field("full_name", &self.full_name),
            preferred_name: r.open_field("preferred_name", &self.preferred_name),
            pronouns: r.open_field("pronouns", &self.pronouns),
            date_of_birth: r.open_field("date_of_birth", &self.date_of_birth),
            about: r.open_field("about", &self.about),
            // Records from before languages were kept have none.
            language: self
                .language
                .as_ref()
                .map_or_else(|| Ok(String::new()), |l| r.open_field("language", l)),
            archived: self.archived_at.is_some(),
        }
    }

    /// Open just the names (for lists); cheaper than [`ClientRow::open`].
    pub fn open_names(&self, keys: &Keys) -> (Opened<String>, Opened<String>) {
        let r = self.record(keys);
        (
            r.open_field("full_name", &self.full_name),
            r.open_field("preferred_name", &self.preferred_name),
        )
    }
}

/// Check a client's fields; messages keyed by field.
pub fn validate(fields: &ClientFields) -> crate::web::form::FieldErrors {
    let mut errors = crate::web::form::FieldErrors::default();
    let name = fields.full_name.trim();
    if name.is_empty() {
        errors.add("full_name", "Enter the client's full name.");
    } else if name.chars().count() > 200 {
        errors.add("full_name", "Keep the full name under 200 characters.");
    }
    if fields.preferred_name.chars().count() > 100 {
        errors.add(
            "preferred_name",
            "Keep the preferred name under 100 characters.",
        );
    }
    if fields.pronouns.chars().count() > 50 {
        errors.add("pronouns", "Keep pronouns under 50 characters.");
    }
    let dob = fields.date_of_birth.trim();
    if !dob.is_empty() {
        match chrono::NaiveDate::parse_from_str(dob, "%Y-%m-%d") {
            Ok(date) if date > chrono::Local::now().date_naive() => {
                errors.add("date_of_birth", "The date of birth is in the future.")
            }
            Ok(date) if chrono::Datelike::year(&date) < 1900 => {
                errors.add("date_of_birth", "Check the year of birth.")
            }
            Ok(_) => {}
            Err(_) => errors.add(
                "date_of_birth",
                "Enter a real date as year-month-day, like 1984-07-21.",
            ),
        }
    }
    if fields.about.chars().count() > 20_000 {
        errors.add(
            "about",
            "Keep this under 20,000 characters; longer material belongs in notes.",
        );
    }
    let language = fields.language.trim();
    if !language.is_empty() && !crate::lang::valid_tag(language) {
        errors.add(
            "language",
            "Choose a language from the list, or give a language tag such as es or pt-BR.",
        );
    }
    errors
}

/// The sealed columns of a client's row, as written.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = clients)]
struct SealedFields {
    full_name: Vec<u8>,
    preferred_name: Vec<u8>,
    pronouns: Vec<u8>,
    date_of_birth: Vec<u8>,
    about: Vec<u8>,
    language: Option<Vec<u8>>,
}

impl SealedFields {
    /// Seal the fields (trimmed) for row `id` of `therapist`.
    fn new(keys: &Keys, therapist: TherapistId, id: ClientId, f: &ClientFields) -> Self {
        let r = Record::of_client(keys, therapist.0, id.0, TABLE, id.0);
        Self {
            full_name: r.seal("full_name", f.full_name.trim()),
            preferred_name: r.seal("preferred_name", f.preferred_name.trim()),
            pronouns: r.seal("pronouns", f.pronouns.trim()),
            date_of_birth: r.seal("date_of_birth", f.date_of_birth.trim()),
            about: r.seal("about", f.about.trim_end()),
            language: Some(r.seal("language", &crate::lang::canonical(&f.language))),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = clients)]
struct NewClient {
    id: ClientId,
    therapist_id: TherapistId,
    #[diesel(embed)]
    fields: SealedFields,
    created_at: i64,
    updated_at: i64,
}

/// Find one of this therapist's clients.
pub fn find(
    conn: &mut DbConn,
    therapist: TherapistId,
    id: ClientId,
) -> QueryResult<Option<ClientRow>> {
    clients::table
        .filter(clients::id.eq(id))
        .filter(clients::therapist_id.eq(therapist))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
}

/// A client by id, whoever owns them: for access rules other than
/// ownership (a released custodian's, a transfer's), which the caller checks.
pub fn find_any(conn: &mut DbConn, id: ClientId) -> QueryResult<Option<ClientRow>> {
    clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
}

/// Every client of this therapist, with the date of their latest session.
pub fn list(
    conn: &mut DbConn,
    therapist: TherapistId,
) -> QueryResult<Vec<(ClientRow, Option<String>)>> {
    // One index seek per client (notes_client is on client, date), rather
    // than grouping every note of the caseload.
    let latest = notes::table
        .filter(notes::client_id.eq(clients::id))
        .select(diesel::dsl::max(notes::session_date))
        .single_value();
    clients::table
        .filter(clients::therapist_id.eq(therapist))
        .select((ClientRow::as_select(), latest))
        .load(conn)
}

/// Add a client with their first client key (sealed to the owner, and to
/// whoever the owner shares their caseload with); returns the new id.
pub fn insert(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    fields: &ClientFields,
) -> QueryResult<ClientId> {
    let id = ClientId::generate();
    let at = now();
    let key = keys.adopt(id.0, crate::crypto::ClientKey::generate(1));
    write_transaction(conn, |conn| {
        // The row (sealed under its new key) before the key's row, which
        // refers to it.
        diesel::insert_into(clients::table)
            .values(NewClient {
                id,
                therapist_id: therapist,
                fields: SealedFields::new(keys, therapist, id, fields),
                created_at: at,
                updated_at: at,
            })
            .execute(conn)?;
        crate::sharing::keys::store_owner_copy(conn, keys, id, &key)?;
        crate::sharing::grants::share_new_client(conn, keys, id)?;
        Ok(id)
    })
}

/// Replace a client's fields. `false` if no such client of this therapist.
pub fn update(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    id: ClientId,
    fields: &ClientFields,
) -> QueryResult<bool> {
    let n = diesel::update(
        clients::table
            .filter(clients::id.eq(id))
            .filter(clients::therapist_id.eq(therapist)),
    )
    .set((
        SealedFields::new(keys, therapist, id, fields),
        clients::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Archive or bring back a client. `false` if no such client.
pub fn set_archived(
    conn: &mut DbConn,
    therapist: TherapistId,
    id: ClientId,
    archived: bool,
) -> QueryResult<bool> {
    let at = now();
    let n = diesel::update(
        clients::table
            .filter(clients::id.eq(id))
            .filter(clients::therapist_id.eq(therapist)),
    )
    .set((
        clients::archived_at.eq(archived.then_some(at)),
        clients::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Why a client could not be deleted.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Deleted, with their draft notes.
    Deleted,
    /// The client has signed notes, which are part of the clinical record.
    HasSignedNotes(i64),
    /// No such client of this therapist.
    NotFound,
}

/// Delete a client and their drafts, unless signed notes exist.
pub fn delete(
    conn: &mut DbConn,
    therapist: TherapistId,
    id: ClientId,
) -> QueryResult<DeleteOutcome> {
    write_transaction(conn, |conn| {
        if find(conn, therapist, id)?.is_none() {
            return Ok(DeleteOutcome::NotFound);
        }
        let signed: i64 = notes::table
            .filter(notes::client_id.eq(id))
            .filter(notes::therapist_id.eq(therapist))
            .filter(notes::status.eq("signed"))
            .count()
            .get_result(conn)?;
        if signed > 0 {
            return Ok(DeleteOutcome::HasSignedNotes(signed));
        }
        diesel::delete(
            clients::table
                .filter(clients::id.eq(id))
                .filter(clients::therapist_id.eq(therapist)),
        )
        .execute(conn)?;
        Ok(DeleteOutcome::Deleted)
    })
}

/// Seal up to `limit` of this therapist's clients after id `after` again
/// under each client's own key (part of `crate::upgrade`). One
/// transaction; a client with any field that does not open is left as it
/// is. Returns the last id looked at, or `None` past the end.
pub fn upgrade_batch(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    after: ClientId,
    limit: i64,
) -> QueryResult<Option<ClientId>> {
    write_transaction(conn, |conn| {
        let rows: Vec<ClientRow> = clients::table
            .filter(clients::therapist_id.eq(therapist))
            .filter(clients::id.gt(after))
            .order(clients::id.asc())
            .limit(limit)
            .select(ClientRow::as_select())
            .load(conn)?;
        for row in &rows {
            let r = row.record(keys);
            let blobs = [
                &row.full_name,
                &row.preferred_name,
                &row.pronouns,
                &row.date_of_birth,
                &row.about,
            ];
            if blobs.iter().all(|b| r.is_current(b)) {
                continue;
            }
            let Some(fields) = row.open(keys).fields() else {
                continue;
            };
            diesel::update(
                clients::table
                    .find(row.id)
                    .filter(clients::updated_at.eq(row.updated_at)),
            )
            .set(SealedFields::new(keys, therapist, row.id, &fields))
            .execute(conn)?;
        }
        Ok(rows.last().map(|r| r.id))
    })
}
