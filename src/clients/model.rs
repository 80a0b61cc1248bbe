//! Client records: the row, its sealed fields, and queries scoped by owner.

use diesel::prelude::*;

use crate::crypto::{DataKey, Record};
use crate::db::schema::{clients, notes};
use crate::db::{DbConn, now};
use crate::ids::{ClientId, TherapistId};
use crate::web::layout::shown;

const TABLE: &str = "clients";

/// A client's stored row: sealed columns as blobs.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub therapist_id: i64,
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
}

/// A client, opened.
#[derive(Clone)]
pub struct Client {
    /// Row id.
    pub id: ClientId,
    /// The fields.
    pub fields: ClientFields,
    /// Whether archived.
    pub archived: bool,
    /// Whether any field failed its integrity check.
    pub damaged: bool,
}

impl Client {
    /// Every name the client goes by (full, and preferred when set).
    pub fn names(&self) -> Vec<&str> {
        let mut names = vec![self.fields.full_name.as_str()];
        if !self.fields.preferred_name.trim().is_empty() {
            names.push(self.fields.preferred_name.as_str());
        }
        names
    }

    /// The name to address the client by: preferred name, else full name.
    pub fn called(&self) -> &str {
        if self.fields.preferred_name.trim().is_empty() {
            &self.fields.full_name
        } else {
            &self.fields.preferred_name
        }
    }
}

impl ClientRow {
    fn record<'a>(&self, dk: &'a DataKey) -> Record<'a> {
        Record::new(dk, self.therapist_id, TABLE, self.id)
    }

    /// Open every field.
    pub fn open(&self, dk: &DataKey) -> Client {
        let r = self.record(dk);
        let mut damaged = false;
        let fields = ClientFields {
            full_name: shown(r.open("full_name", &self.full_name), &mut damaged),
            preferred_name: shown(r.open("preferred_name", &self.preferred_name), &mut damaged),
            pronouns: shown(r.open("pronouns", &self.pronouns), &mut damaged),
            date_of_birth: shown(r.open("date_of_birth", &self.date_of_birth), &mut damaged),
            about: shown(r.open("about", &self.about), &mut damaged),
        };
        Client {
            id: ClientId(self.id),
            fields,
            archived: self.archived_at.is_some(),
            damaged,
        }
    }

    /// Open just the names (for lists); cheaper than [`ClientRow::open`].
    pub fn open_names(&self, dk: &DataKey) -> (String, String, bool) {
        let r = self.record(dk);
        let mut damaged = false;
        let full = shown(r.open("full_name", &self.full_name), &mut damaged);
        let preferred = shown(r.open("preferred_name", &self.preferred_name), &mut damaged);
        (full, preferred, damaged)
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
    errors
}

fn trimmed(fields: &ClientFields) -> ClientFields {
    ClientFields {
        full_name: fields.full_name.trim().to_owned(),
        preferred_name: fields.preferred_name.trim().to_owned(),
        pronouns: fields.pronouns.trim().to_owned(),
        date_of_birth: fields.date_of_birth.trim().to_owned(),
        about: fields.about.trim_end().to_owned(),
    }
}

/// Find one of this therapist's clients.
pub fn find(
    conn: &mut DbConn,
    therapist: TherapistId,
    id: ClientId,
) -> QueryResult<Option<ClientRow>> {
    clients::table
        .filter(clients::id.eq(id.0))
        .filter(clients::therapist_id.eq(therapist.0))
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
        .filter(clients::therapist_id.eq(therapist.0))
        .select((ClientRow::as_select(), latest))
        .load(conn)
}

/// Add a client; returns the new id.
pub fn insert(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    fields: &ClientFields,
) -> QueryResult<ClientId> {
    let id = ClientId::generate();
    let f = trimmed(fields);
    let r = Record::new(dk, therapist.0, TABLE, id.0);
    let at = now();
    diesel::insert_into(clients::table)
        .values((
            clients::id.eq(id.0),
            clients::therapist_id.eq(therapist.0),
            clients::full_name.eq(r.seal("full_name", &f.full_name)),
            clients::preferred_name.eq(r.seal("preferred_name", &f.preferred_name)),
            clients::pronouns.eq(r.seal("pronouns", &f.pronouns)),
            clients::date_of_birth.eq(r.seal("date_of_birth", &f.date_of_birth)),
            clients::about.eq(r.seal("about", &f.about)),
            clients::created_at.eq(at),
            clients::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Replace a client's fields. `false` if no such client of this therapist.
pub fn update(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    id: ClientId,
    fields: &ClientFields,
) -> QueryResult<bool> {
    let f = trimmed(fields);
    let r = Record::new(dk, therapist.0, TABLE, id.0);
    let n = diesel::update(
        clients::table
            .filter(clients::id.eq(id.0))
            .filter(clients::therapist_id.eq(therapist.0)),
    )
    .set((
        clients::full_name.eq(r.seal("full_name", &f.full_name)),
        clients::preferred_name.eq(r.seal("preferred_name", &f.preferred_name)),
        clients::pronouns.eq(r.seal("pronouns", &f.pronouns)),
        clients::date_of_birth.eq(r.seal("date_of_birth", &f.date_of_birth)),
        clients::about.eq(r.seal("about", &f.about)),
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
            .filter(clients::id.eq(id.0))
            .filter(clients::therapist_id.eq(therapist.0)),
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
    /// Deleted, with this many draft notes.
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
    crate::db::write_transaction(conn, |conn| {
        if find(conn, therapist, id)?.is_none() {
            return Ok(DeleteOutcome::NotFound);
        }
        let signed: i64 = notes::table
            .filter(notes::client_id.eq(id.0))
            .filter(notes::therapist_id.eq(therapist.0))
            .filter(notes::status.eq("signed"))
            .count()
            .get_result(conn)?;
        if signed > 0 {
            return Ok(DeleteOutcome::HasSignedNotes(signed));
        }
        diesel::delete(
            clients::table
                .filter(clients::id.eq(id.0))
                .filter(clients::therapist_id.eq(therapist.0)),
        )
        .execute(conn)?;
        Ok(DeleteOutcome::Deleted)
    })
}
