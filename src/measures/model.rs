//! The `measures` table: a rating scale taken by a client on a date.
//! Which instrument, every answer and the note it belongs to are sealed
//! together in one field under the therapist's DK, bound to the client;
//! only the date is plain, like a session date.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::instrument::{Instrument, Score, score};
use crate::crypto::{DataKey, OpenError, Opened, Record};
use crate::db::schema::measures;
use crate::db::{DbConn, now};
use crate::ids::{ClientId, MeasureId, NoteId, TherapistId};

fn record(dk: &DataKey, therapist: TherapistId, id: MeasureId, client: ClientId) -> Record<'_> {
    Record::new(dk, therapist.0, "measures", id.0).under(client.0)
}

/// What is sealed: the instrument, one answer per item, the note.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Answers {
    /// [`Instrument::slug`].
    pub instrument: String,
    /// One per item, in order: 0–3, or `None` when not answered.
    pub items: Vec<Option<u8>>,
    /// The session note it was recorded with, if any.
    #[serde(default)]
    pub note: Option<NoteId>,
}

/// A measure, opened and scored.
#[derive(Clone, Debug)]
pub struct Measure {
    /// Its id.
    pub id: MeasureId,
    /// The client.
    pub client: ClientId,
    /// `YYYY-MM-DD`.
    pub taken_on: String,
    /// When recorded.
    pub created_at: i64,
    /// What was answered, or why it did not open.
    pub content: Opened<Taken>,
}

/// The opened part of a measure.
#[derive(Clone, Debug)]
pub struct Taken {
    /// Which scale.
    pub instrument: Instrument,
    /// One per item.
    pub items: Vec<Option<u8>>,
    /// The note it belongs to.
    pub note: Option<NoteId>,
    /// The score.
    pub score: Score,
}

impl Answers {
    fn taken(self) -> Option<Taken> {
        let instrument = Instrument::from_slug(&self.instrument)?;
        let score = score(instrument, &self.items)?;
        Some(Taken {
            instrument,
            items: self.items,
            note: self.note,
            score,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = measures)]
struct NewMeasure<'a> {
    id: MeasureId,
    therapist_id: TherapistId,
    client_id: ClientId,
    taken_on: &'a str,
    answers: Vec<u8>,
    created_at: i64,
}

/// A measure as stored, not yet opened: the caseload opens only the few
/// it needs (each client's latest, and first when asked for change).
#[derive(Queryable, Selectable)]
#[diesel(table_name = measures)]
pub struct MeasureRow {
    id: MeasureId,
    /// The client.
    pub client_id: ClientId,
    taken_on: String,
    answers: Vec<u8>,
    created_at: i64,
}

impl MeasureRow {
    /// Open and score it.
    pub fn open(&self, dk: &DataKey, therapist: TherapistId) -> Measure {
        let content = record(dk, therapist, self.id, self.client_id)
            .open_bytes("answers", &self.answers)
            .and_then(|plain| {
                serde_json::from_slice::<Answers>(&plain).map_err(|_| OpenError::Integrity)
            })
            .and_then(|answers| answers.taken().ok_or(OpenError::Integrity))
            .inspect_err(|err| {
                tracing::warn!(table = "measures", row = self.id.0, error = %err, "a sealed measure failed to open");
            });
        Measure {
            id: self.id,
            client: self.client_id,
            taken_on: self.taken_on.clone(),
            created_at: self.created_at,
            content,
        }
    }
}

/// Record a measure for a client (who must be the therapist's: the caller
/// checked). `answers` must score (see [`score`]).
pub fn insert(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    client: ClientId,
    taken_on: &str,
    answers: &Answers,
) -> QueryResult<MeasureId> {
    let id = MeasureId::generate();
    let plain = serde_json::to_vec(answers)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::insert_into(measures::table)
        .values(NewMeasure {
            id,
            therapist_id: therapist,
            client_id: client,
            taken_on,
            answers: record(dk, therapist, id, client).seal_bytes("answers", &plain),
            created_at: now(),
        })
        .execute(conn)?;
    Ok(id)
}

/// A client's measures, oldest first.
pub fn for_client(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    client: ClientId,
) -> QueryResult<Vec<Measure>> {
    load(conn, therapist, dk, Some(client))
}

/// Every measure of the therapist, oldest first, still sealed (for the
/// caseload, which opens only what it shows).
pub fn all_sealed(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Vec<MeasureRow>> {
    rows(conn, therapist, None)
}

fn load(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    client: Option<ClientId>,
) -> QueryResult<Vec<Measure>> {
    Ok(rows(conn, therapist, client)?
        .iter()
        .map(|row| row.open(dk, therapist))
        .collect())
}

fn rows(
    conn: &mut DbConn,
    therapist: TherapistId,
    client: Option<ClientId>,
) -> QueryResult<Vec<MeasureRow>> {
    let mut query = measures::table
        .filter(measures::therapist_id.eq(therapist))
        .into_boxed();
    if let Some(client) = client {
        query = query.filter(measures::client_id.eq(client));
    }
    query
        .order((
            measures::taken_on.asc(),
            measures::created_at.asc(),
            measures::id.asc(),
        ))
        .select(MeasureRow::as_select())
        .load(conn)
}
