//! The `measures` table: a rating scale taken by a client on a date.
//! Which instrument, every answer and the note it belongs to are sealed
//! together in one field under the therapist's DK, bound to the client;
//! only the date is plain, like a session date.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::instrument::{Instrument, Score, score};
use crate::crypto::{Keys, OpenError, Opened, Record};
use crate::db::schema::measures;
use crate::db::{DbConn, now};
use crate::ids::{ClientId, MeasureId, NoteId, TherapistId};
use crate::packs::content::PackInstrument;

fn record(keys: &Keys, therapist: TherapistId, id: MeasureId, client: ClientId) -> Record<'_> {
    Record::of_client(keys, therapist.0, client.0, "measures", id.0).under(client.0)
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
    /// For a rating scale from a pack: the scale itself (its questionnaire,
    /// kept whole, as a note keeps its template), and `items` hold the
    /// index of each chosen answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<PackInstrument>,
}

/// A pack's rating scale as recorded and scored.
#[derive(Clone, Debug)]
pub struct ScaleTaken {
    /// The scale, as it was when recorded.
    pub scale: PackInstrument,
    /// The index of each chosen answer, or `None` when not answered.
    pub items: Vec<Option<u8>>,
    /// The note it belongs to.
    pub note: Option<NoteId>,
    /// The sum of every item's score; `None` unless every item is answered.
    pub total: Option<u32>,
    /// How many items are answered.
    pub answered: usize,
}

impl ScaleTaken {
    /// Score `items` (answer indexes) on `scale`; `None` if they do not fit it.
    pub fn score(
        scale: PackInstrument,
        items: Vec<Option<u8>>,
        note: Option<NoteId>,
    ) -> Option<Self> {
        if items.len() != scale.items.len() {
            return None;
        }
        let mut sum = 0u32;
        for (item, chosen) in scale.items.iter().zip(&items) {
            if let Some(i) = chosen {
                sum += u32::from(item.answers.get(usize::from(*i))?.score);
            }
        }
        let answered = items.iter().flatten().count();
        Some(Self {
            total: (answered == items.len()).then_some(sum),
            answered,
            scale,
            items,
            note,
        })
    }

    /// The chosen answer of item `index`, in words.
    pub fn answer(&self, index: usize) -> Option<&str> {
        let chosen = usize::from(self.items.get(index).copied().flatten()?);
        Some(
            self.scale
                .items
                .get(index)?
                .answers
                .get(chosen)?
                .display
                .as_str(),
        )
    }
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
    /// When marked entered in error, if it was.
    pub entered_in_error_at: Option<i64>,
    /// What was answered, or why it did not open (for a pack's scale, see
    /// `scale`: PHQ-9 and GAD-7 alone are `Taken`, and only they are scored
    /// into bands, trends and alerts).
    pub content: Opened<Taken>,
    /// A pack's rating scale, answered.
    pub scale: Option<ScaleTaken>,
}

impl Measure {
    /// Whether it failed its integrity check.
    pub fn damaged(&self) -> bool {
        self.content.is_err() && self.scale.is_none()
    }

    /// The note it was recorded with, whichever kind it is.
    pub fn note(&self) -> Option<NoteId> {
        match (&self.content, &self.scale) {
            (Ok(t), _) => t.note,
            (_, Some(s)) => s.note,
            _ => None,
        }
    }

    /// Its answers, if it opened and was not entered in error: what
    /// scores, charts and alerts use.
    pub fn counted(&self) -> Option<&Taken> {
        self.content
            .as_ref()
            .ok()
            .filter(|_| self.entered_in_error_at.is_none())
    }
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
    form_id: Option<&'a str>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = measures)]
struct MeasureRow {
    id: MeasureId,
    client_id: ClientId,
    taken_on: String,
    answers: Vec<u8>,
    created_at: i64,
    entered_in_error_at: Option<i64>,
}

impl MeasureRow {
    fn open(&self, keys: &Keys, therapist: TherapistId) -> Measure {
        let answers = record(keys, therapist, self.id, self.client_id)
            .open_bytes("answers", &self.answers)
            .and_then(|plain| {
                serde_json::from_slice::<Answers>(&plain).map_err(|_| OpenError::Integrity)
            });
        let (content, scale) = match answers {
            Ok(Answers {
                scale: Some(scale),
                items,
                note,
                ..
            }) => match ScaleTaken::score(scale, items, note) {
                Some(s) => (Err(OpenError::Integrity), Some(s)),
                None => (Err(OpenError::Integrity), None),
            },
            Ok(answers) => (answers.taken().ok_or(OpenError::Integrity), None),
            Err(err) => (Err(err), None),
        };
        if content.is_err() && scale.is_none() {
            tracing::warn!(
                table = "measures",
                row = self.id.0,
                "a sealed measure failed to open"
            );
        }
        Measure {
            id: self.id,
            client: self.client_id,
            taken_on: self.taken_on.clone(),
            created_at: self.created_at,
            entered_in_error_at: self.entered_in_error_at,
            content,
            scale,
        }
    }
}

/// Every sealed measure is this long before sealing, so the ciphertext's
/// length tells nothing: not the instrument (9 items or 7), not how many
/// were answered, not whether a note is named. The longest JSON (nine
/// nulls and a 19-digit note id) is under 100 bytes.
pub const SEALED_LEN: usize = 128;

/// A pack's scale, kept whole with its answers, is padded to a multiple of
/// this: its length tells no more than roughly how long the scale is.
pub const SCALE_BUCKET: usize = 4096;

/// The answers as JSON, padded with spaces (which JSON ignores) to
/// [`SEALED_LEN`] (or, with a pack's scale, to a multiple of [`SCALE_BUCKET`]).
fn padded(answers: &Answers) -> QueryResult<Vec<u8>> {
    let mut plain = serde_json::to_vec(answers)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    if answers.scale.is_some() {
        let len = plain.len().div_ceil(SCALE_BUCKET) * SCALE_BUCKET;
        plain.resize(len, b' ');
        return Ok(plain);
    }
    if plain.len() > SEALED_LEN {
        return Err(diesel::result::Error::SerializationError(
            "a measure's answers are longer than their fixed sealed size".into(),
        ));
    }
    plain.resize(SEALED_LEN, b' ');
    Ok(plain)
}

/// Record a measure for a client (who must be the therapist's: the caller
/// checked). `answers` must score (see [`score`]).
pub fn insert(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    client: ClientId,
    taken_on: &str,
    answers: &Answers,
    form_id: Option<&str>,
) -> QueryResult<MeasureId> {
    let id = MeasureId::generate();
    let plain = padded(answers)?;
    diesel::insert_into(measures::table)
        .values(NewMeasure {
            id,
            therapist_id: therapist,
            client_id: client,
            taken_on,
            answers: record(keys, therapist, id, client).seal_bytes("answers", &plain),
            created_at: now(),
            form_id,
        })
        .execute(conn)?;
    Ok(id)
}

/// Whether this therapist already saved a measure from the form with this
/// one-time id.
pub fn made_from_form(
    conn: &mut DbConn,
    therapist: TherapistId,
    form_id: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        measures::table
            .filter(measures::therapist_id.eq(therapist))
            .filter(measures::form_id.eq(form_id)),
    ))
    .get_result(conn)
}

/// Mark a client's measure entered in error (it stays, struck through,
/// and no longer counts). `Ok(false)` if there is no such measure of this
/// therapist and client, or it is already marked.
pub fn mark_in_error(
    conn: &mut DbConn,
    therapist: TherapistId,
    client: ClientId,
    id: MeasureId,
) -> QueryResult<bool> {
    diesel::update(
        measures::table
            .filter(measures::id.eq(id))
            .filter(measures::therapist_id.eq(therapist))
            .filter(measures::client_id.eq(client))
            .filter(measures::entered_in_error_at.is_null()),
    )
    .set(measures::entered_in_error_at.eq(now()))
    .execute(conn)
    .map(|n| n == 1)
}

/// A client's measures, oldest first.
pub fn for_client(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    client: ClientId,
) -> QueryResult<Vec<Measure>> {
    load(conn, therapist, keys, Some(client))
}

/// A number that changes whenever any measure of this therapist is added
/// or removed (kept by database triggers, so every writer moves it; 0
/// before the first).
pub fn list_version(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<i64> {
    use crate::db::schema::measure_list_versions;
    Ok(measure_list_versions::table
        .find(therapist)
        .select(measure_list_versions::version)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Each client's measures as a stamp: how many (and how many marked
/// entered in error), and the newest write. Measures are only ever added
/// or marked (a client's go only with the client), so the stamp changes
/// whenever a client's measures do. Answered from the
/// index `measures_therapist` alone.
pub fn client_stamps(
    conn: &mut DbConn,
    therapist: TherapistId,
) -> QueryResult<Vec<(ClientId, i64, Option<i64>)>> {
    use diesel::dsl::count_star;
    measures::table
        .filter(measures::therapist_id.eq(therapist))
        .group_by(measures::client_id)
        .select((
            measures::client_id,
            count_star(),
            diesel::dsl::count(measures::entered_in_error_at),
            diesel::dsl::max(measures::created_at),
        ))
        .load::<(ClientId, i64, i64, Option<i64>)>(conn)
        .map(|rows| {
            rows.into_iter()
                // A measure marked entered in error moves the stamp too.
                .map(|(client, count, in_error, newest)| (client, count + (in_error << 32), newest))
                .collect()
        })
}

/// A client's measure ids, oldest first (plain columns only).
pub fn client_order(
    conn: &mut DbConn,
    therapist: TherapistId,
    client: ClientId,
) -> QueryResult<Vec<MeasureId>> {
    measures::table
        .filter(measures::client_id.eq(client))
        .filter(measures::therapist_id.eq(therapist))
        .order((
            measures::taken_on.asc(),
            measures::created_at.asc(),
            measures::id.asc(),
        ))
        .select(measures::id)
        .load(conn)
}

/// These measures of the therapist, opened: `None` for one that failed
/// its integrity check or was entered in error.
pub fn open_by_ids(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    ids: &[MeasureId],
) -> QueryResult<std::collections::HashMap<MeasureId, Option<Taken>>> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    // In slices, well under every backend's limit on bound parameters.
    for chunk in ids.chunks(500) {
        // By primary key; the therapist is checked on each row (and is
        // bound into every seal besides).
        let rows: Vec<(TherapistId, MeasureRow)> = measures::table
            .filter(measures::id.eq_any(chunk))
            .select((measures::therapist_id, MeasureRow::as_select()))
            .load(conn)?;
        let rows = rows
            .into_iter()
            .filter(|(owner, _)| *owner == therapist)
            .map(|(_, row)| row);
        for row in rows {
            let measure = row.open(keys, therapist);
            out.insert(row.id, measure.counted().cloned());
        }
    }
    Ok(out)
}

fn load(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    client: Option<ClientId>,
) -> QueryResult<Vec<Measure>> {
    Ok(rows(conn, therapist, client)?
        .iter()
        .map(|row| row.open(keys, therapist))
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

/// Seal up to `limit` of this therapist's measures after id `after` again
/// under their client's key (part of `crate::upgrade`). One transaction; a
/// value that does not open is left as it is. Returns the last id looked
/// at, or `None` past the end.
pub fn upgrade_batch(
    conn: &mut DbConn,
    therapist: TherapistId,
    keys: &Keys,
    after: MeasureId,
    limit: i64,
) -> QueryResult<Option<MeasureId>> {
    crate::db::write_transaction(conn, |conn| {
        let rows: Vec<(MeasureId, ClientId, Vec<u8>)> = measures::table
            .filter(measures::therapist_id.eq(therapist))
            .filter(measures::id.gt(after))
            .order(measures::id.asc())
            .limit(limit)
            .select((measures::id, measures::client_id, measures::answers))
            .load(conn)?;
        for (id, client, answers) in &rows {
            let r = record(keys, therapist, *id, *client);
            if r.is_current(answers) {
                continue;
            }
            if let Ok(plain) = r.open_bytes("answers", answers) {
                diesel::update(
                    measures::table
                        .find(*id)
                        .filter(measures::answers.eq(answers)),
                )
                .set(measures::answers.eq(r.seal_bytes("answers", &plain)))
                .execute(conn)?;
            }
        }
        Ok(rows.last().map(|r| r.0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_measure_seals_to_the_same_length() {
        let shapes = [
            Answers {
                instrument: "phq-9".into(),
                items: vec![Some(3); 9],
                note: Some(NoteId(i64::MAX)),
                scale: None,
            },
            Answers {
                instrument: "phq-9".into(),
                items: vec![None; 9],
                note: None,
                scale: None,
            },
            Answers {
                instrument: "gad-7".into(),
                items: vec![Some(0); 7],
                note: None,
                scale: None,
            },
        ];
        for answers in &shapes {
            let plain = padded(answers).expect("fits");
            assert_eq!(plain.len(), SEALED_LEN);
            let back: Answers = serde_json::from_slice(&plain).expect("still JSON");
            assert_eq!(&back, answers);
        }
    }
}
