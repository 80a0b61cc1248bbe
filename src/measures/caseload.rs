//! What the caseload (`/clients`) knows of each client's measures: the
//! latest total and band per instrument, the change since the first, and
//! whether the latest PHQ-9 had item 9 above 0.
//!
//! A caseload holds thousands of measures and the instrument is sealed, so
//! this keeps each client's scores in the session's memory under a stamp
//! (how many measures, the newest write) read from an index, and for a
//! client whose stamp moved fetches and opens as few as it can: their two
//! newest and two oldest first, the rest only when those did not tell (a
//! client who takes one scale, or whose newest forms were partial).

use std::collections::HashMap;
use std::sync::Arc;

use zeroize::Zeroize;

use super::instrument::{Band, Instrument};
use super::model::{self, Taken};
use crate::crypto::Keys;
use crate::db::DbConn;
use crate::ids::{ClientId, MeasureId, TherapistId};
use crate::web::session_memory::{SessionMemory, Stamp};

/// How a client's scores on one instrument moved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Change {
    /// Lower by at least the instrument's meaningful change.
    Better,
    /// Higher by at least that.
    Worse,
    /// Less than that either way.
    Steady,
}

impl Change {
    /// The change between a first and a latest total.
    pub fn between(instrument: Instrument, first: u8, latest: u8) -> Change {
        let step = instrument.meaningful_change();
        if latest + step <= first {
            Change::Better
        } else if first + step <= latest {
            Change::Worse
        } else {
            Change::Steady
        }
    }

    /// Its name in a URL or form.
    pub fn slug(self) -> &'static str {
        match self {
            Change::Better => "better",
            Change::Worse => "worse",
            Change::Steady => "steady",
        }
    }

    /// The change named by [`Change::slug`].
    pub fn from_slug(slug: &str) -> Option<Change> {
        [Change::Better, Change::Worse, Change::Steady]
            .into_iter()
            .find(|c| c.slug() == slug)
    }
}

/// A client's scores on one instrument, for the caseload.
#[derive(Clone, Debug)]
pub struct Trend {
    /// The first scored total.
    pub first: u8,
    /// The latest scored total.
    pub latest: u8,
    /// Its band.
    pub band: Band,
    /// How many scored totals, counted up to two (enough to tell change).
    pub count: usize,
}

impl Trend {
    /// Since the first score; `None` with only one.
    pub fn change(&self, instrument: Instrument) -> Option<Change> {
        (self.count > 1).then(|| Change::between(instrument, self.first, self.latest))
    }
}

/// What the caseload knows of one client's measures. Kept in session
/// memory, so its scores are wiped when dropped.
#[derive(Clone, Debug, Default)]
pub struct ClientScores {
    /// Per instrument, from scored totals only.
    pub trends: HashMap<Instrument, Trend>,
    /// The latest PHQ-9 had item 9 above 0.
    pub self_harm: bool,
}

impl Drop for ClientScores {
    fn drop(&mut self) {
        for t in self.trends.values_mut() {
            t.first.zeroize();
            t.latest.zeroize();
        }
        self.self_harm.zeroize();
    }
}

/// The session-memory kind of a client's scores, kept under their
/// measures' stamp.
const KIND: &str = "measures.client_scores";
/// The session-memory kind of every client's scores, kept under the
/// therapist's measure list version.
const ALL_KIND: &str = "measures.caseload";

/// Every client's scores. Run it on a blocking thread (it may open
/// blobs). The answer is kept in the session's memory under the
/// therapist's measure list version (one row read while nothing changed);
/// when it moved, each client's scores are reused under their own stamp,
/// so adding one measure reopens one client's.
pub fn by_client(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &Keys,
    memory: &SessionMemory,
) -> diesel::QueryResult<Arc<Caseload>> {
    // While no measure of the therapist changed, the whole answer is kept.
    let version = model::list_version(conn, therapist)?;
    if let Some(all) = memory.get::<Caseload>(ALL_KIND, 0, (version, 0)) {
        return Ok(all);
    }
    let stamps: Vec<(ClientId, Stamp)> = model::client_stamps(conn, therapist)?
        .into_iter()
        .map(|(client, count, newest)| (client, (count, newest.unwrap_or(0))))
        .collect();
    let held: Vec<Option<Arc<ClientScores>>> =
        memory.get_many(KIND, stamps.iter().map(|(c, stamp)| (c.0, *stamp)));
    let mut out = HashMap::with_capacity(stamps.len());
    for ((client, stamp), held) in stamps.into_iter().zip(held) {
        let scores = match held {
            Some(scores) => scores,
            None => {
                let scores = Arc::new(open_client(conn, therapist, dk, client)?);
                memory.put(KIND, client.0, stamp, scores.clone(), 64);
                scores
            }
        };
        out.insert(client, scores);
    }
    let all = Arc::new(Caseload(out));
    memory.put(ALL_KIND, 0, (version, 0), all.clone(), 64);
    Ok(all)
}

/// Every client's scores (see [`by_client`]).
#[derive(Default)]
pub struct Caseload(pub HashMap<ClientId, Arc<ClientScores>>);

impl Caseload {
    /// A client's scores, if they have any measure.
    pub fn get(&self, client: ClientId) -> Option<&ClientScores> {
        self.0.get(&client).map(|s| &**s)
    }

    /// Whether any client has a measure.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One client's scores from the database: their two newest and two oldest
/// measures first, the rest only if those did not tell.
fn open_client(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &Keys,
    client: ClientId,
) -> diesel::QueryResult<ClientScores> {
    let ids = model::client_order(conn, therapist, client)?;
    let n = ids.len();
    let first_look: Vec<MeasureId> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < 2 || *i + 2 >= n)
        .map(|(_, id)| *id)
        .collect();
    let mut opened = model::open_by_ids(conn, therapist, dk, &first_look)?;
    let mut fetch_error = None;
    let scores = client_scores(&ids, |id| {
        if !opened.contains_key(&id) {
            let rest: Vec<MeasureId> = ids
                .iter()
                .filter(|i| !opened.contains_key(i))
                .copied()
                .collect();
            match model::open_by_ids(conn, therapist, dk, &rest) {
                Ok(more) => opened.extend(more),
                Err(e) => fetch_error = Some(e),
            }
        }
        opened.get(&id).cloned().flatten()
    });
    match fetch_error {
        Some(e) => Err(e),
        None => Ok(scores),
    }
}

/// One client's scores from their measures in order (oldest first),
/// opening through `open` from the newest back until both instruments'
/// latest totals are found, and from the oldest on until each first total
/// is found.
fn client_scores(
    ids: &[MeasureId],
    mut open: impl FnMut(MeasureId) -> Option<Taken>,
) -> ClientScores {
    let mut scores = ClientScores::default();
    let mut latest: HashMap<Instrument, (usize, u8, Band)> = HashMap::new();
    let mut seen_phq = false;
    for (i, id) in ids.iter().enumerate().rev() {
        if latest.len() == Instrument::ALL.len() {
            break;
        }
        let Some(taken) = open(*id) else {
            continue;
        };
        if taken.instrument == Instrument::Phq9 && !seen_phq {
            seen_phq = true;
            scores.self_harm = taken.score.self_harm.is_some();
        }
        if let (Some(total), Some(band)) = (taken.score.total, taken.score.band) {
            latest.entry(taken.instrument).or_insert((i, total, band));
        }
    }
    let mut first: HashMap<Instrument, (usize, u8)> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if first.len() == latest.len() {
            break;
        }
        let Some(taken) = open(*id) else {
            continue;
        };
        if let Some(total) = taken.score.total {
            first.entry(taken.instrument).or_insert((i, total));
        }
    }
    for (instrument, (at_latest, total, band)) in latest {
        let (at_first, first_total) = first
            .get(&instrument)
            .copied()
            .unwrap_or((at_latest, total));
        scores.trends.insert(
            instrument,
            Trend {
                first: first_total,
                latest: total,
                band,
                count: if at_first == at_latest { 1 } else { 2 },
            },
        );
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measures::instrument::score;

    #[test]
    fn change_needs_the_instruments_meaningful_step() {
        assert_eq!(Change::between(Instrument::Phq9, 15, 10), Change::Better);
        assert_eq!(Change::between(Instrument::Phq9, 15, 11), Change::Steady);
        assert_eq!(Change::between(Instrument::Phq9, 10, 15), Change::Worse);
        assert_eq!(Change::between(Instrument::Gad7, 12, 8), Change::Better);
        assert_eq!(Change::between(Instrument::Gad7, 12, 9), Change::Steady);
        assert_eq!(Change::between(Instrument::Gad7, 0, 4), Change::Worse);
    }

    fn taken(instrument: Instrument, items: Vec<Option<u8>>) -> Taken {
        Taken {
            instrument,
            score: score(instrument, &items).expect("valid"),
            items,
            note: None,
        }
    }

    #[test]
    fn first_latest_and_item_nine_come_from_the_right_forms() {
        // Oldest first: PHQ-9 18, GAD-7 partial, PHQ-9 partial with item 9,
        // PHQ-9 9, a damaged row, PHQ-9 partial with item 9 blank.
        let mut phq18 = vec![Some(2); 9];
        phq18[8] = Some(0);
        let mut partial_nine = vec![None; 9];
        partial_nine[8] = Some(2);
        let mut phq9 = vec![Some(1); 9];
        phq9[8] = Some(1);
        let forms: Vec<Option<Taken>> = vec![
            Some(taken(Instrument::Phq9, phq18)),
            Some(taken(
                Instrument::Gad7,
                vec![Some(1), None, None, None, None, None, None],
            )),
            Some(taken(Instrument::Phq9, partial_nine)),
            Some(taken(Instrument::Phq9, phq9)),
            None,
            Some(taken(
                Instrument::Phq9,
                vec![Some(0), None, None, None, None, None, None, None, None],
            )),
        ];
        let ids: Vec<MeasureId> = (1..=forms.len() as i64).map(MeasureId).collect();
        let mut opens = 0;
        let s = client_scores(&ids, |id| {
            opens += 1;
            forms[(id.0 - 1) as usize].clone()
        });
        // The newest PHQ-9 (partial, item 9 blank) decides item 9: not flagged.
        assert!(!s.self_harm);
        let t = &s.trends[&Instrument::Phq9];
        assert_eq!((t.first, t.latest, t.band, t.count), (16, 9, Band::Mild, 2));
        assert_eq!(t.change(Instrument::Phq9), Some(Change::Better));
        // The GAD-7 was never scored: no trend.
        assert!(!s.trends.contains_key(&Instrument::Gad7));
        assert!(opens <= forms.len() + 1, "{opens}");
    }
}
