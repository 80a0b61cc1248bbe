//! Measures as pages show them: a row per measure (score, band, item 9),
//! the self-harm answers that must be seen, and each client's latest
//! scores for the caseload. The words are decided here, not in the model.

use std::collections::HashMap;

use super::instrument::{ANSWERS, Band, Instrument};
use super::model::{Measure, MeasureRow};
use crate::crypto::DataKey;
use crate::ids::{ClientId, NoteId, TherapistId};
use crate::web::dates::DateStyle;

/// A measure in a table.
#[derive(Clone)]
pub struct MeasureView {
    /// When taken, as the practice writes dates.
    pub date: String,
    /// `PHQ-9`, or empty if it failed to open.
    pub instrument: &'static str,
    /// "12", or "Not scored".
    pub total: String,
    /// "moderate", or why there is no band ("7 of 9 items answered").
    pub band: String,
    /// The band's slug, for a quiet colour; empty without a band.
    pub band_slug: &'static str,
    /// PHQ-9 item 9 when above 0, in words ("Several days").
    pub self_harm: Option<&'static str>,
    /// The note it was recorded with.
    pub note_href: Option<String>,
    /// It failed an integrity check.
    pub damaged: bool,
}

/// What PHQ-9 item 9 asks, for the warning beside its answer.
pub const SELF_HARM_QUESTION: &str =
    "Thoughts that you would be better off dead, or of hurting yourself in some way";

/// One row per measure, in the order given.
pub fn rows(measures: &[Measure], dates: DateStyle) -> Vec<MeasureView> {
    measures.iter().map(|m| row(m, dates)).collect()
}

/// One measure as a row.
pub fn row(m: &Measure, dates: DateStyle) -> MeasureView {
    let date = dates.day(&m.taken_on);
    match &m.content {
        Ok(taken) => {
            let s = &taken.score;
            MeasureView {
                date,
                instrument: taken.instrument.name(),
                total: s
                    .total
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "Not scored".to_owned()),
                band: match s.band {
                    Some(b) => b.label().to_owned(),
                    None => format!(
                        "{} of {} items answered",
                        s.answered,
                        taken.instrument.item_count()
                    ),
                },
                band_slug: s.band.map(Band::slug).unwrap_or(""),
                self_harm: s.self_harm.map(|a| ANSWERS[a as usize].0),
                note_href: taken.note.map(|n| format!("/notes/{n}")),
                damaged: false,
            }
        }
        Err(_) => MeasureView {
            date,
            instrument: "",
            total: String::new(),
            band: String::new(),
            band_slug: "",
            self_harm: None,
            note_href: None,
            damaged: true,
        },
    }
}

/// The measures recorded with `note`.
pub fn of_note(measures: &[Measure], note: NoteId) -> Vec<&Measure> {
    measures
        .iter()
        .filter(|m| m.content.as_ref().is_ok_and(|t| t.note == Some(note)))
        .collect()
}

/// Every PHQ-9 whose item 9 was answered above 0, newest first: date and
/// answer in words. Never filtered.
pub fn self_harm_answers(measures: &[Measure], dates: DateStyle) -> Vec<(String, &'static str)> {
    let mut found: Vec<(String, &'static str)> = measures
        .iter()
        .rev()
        .filter_map(|m| {
            let taken = m.content.as_ref().ok()?;
            let answer = taken.score.self_harm?;
            Some((dates.day(&m.taken_on), ANSWERS[answer as usize].0))
        })
        .collect();
    found.dedup();
    found
}

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

/// What the caseload knows of one client's measures.
#[derive(Clone, Debug, Default)]
pub struct ClientScores {
    /// Per instrument, from scored totals only.
    pub trends: HashMap<Instrument, Trend>,
    /// The latest PHQ-9 had item 9 above 0.
    pub self_harm: bool,
}

/// Every client's scores, from their measures still sealed, oldest first.
/// It opens only what it needs: from the newest back until each
/// instrument's latest total (and the latest PHQ-9's item 9) is found, and
/// from the oldest on until each first total is found, so a long history
/// costs a few openings per client, not one per measure.
pub fn by_client(
    rows: &[MeasureRow],
    dk: &DataKey,
    therapist: TherapistId,
) -> HashMap<ClientId, ClientScores> {
    let mut per_client: HashMap<ClientId, Vec<&MeasureRow>> = HashMap::new();
    for row in rows {
        per_client.entry(row.client_id).or_default().push(row);
    }
    per_client
        .into_iter()
        .map(|(client, rows)| (client, client_scores(&rows, dk, therapist)))
        .collect()
}

fn client_scores(rows: &[&MeasureRow], dk: &DataKey, therapist: TherapistId) -> ClientScores {
    let mut scores = ClientScores::default();
    let mut latest: HashMap<Instrument, (usize, u8, Band)> = HashMap::new();
    let mut seen_phq = false;
    for (i, row) in rows.iter().enumerate().rev() {
        if latest.len() == Instrument::ALL.len() {
            break;
        }
        let Ok(taken) = row.open(dk, therapist).content else {
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
    for (i, row) in rows.iter().enumerate() {
        if first.len() == latest.len() {
            break;
        }
        // Nothing before an instrument's latest total needs opening once
        // every instrument's first total is known.
        let Ok(taken) = row.open(dk, therapist).content else {
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

    #[test]
    fn change_needs_the_instruments_meaningful_step() {
        assert_eq!(Change::between(Instrument::Phq9, 15, 10), Change::Better);
        assert_eq!(Change::between(Instrument::Phq9, 15, 11), Change::Steady);
        assert_eq!(Change::between(Instrument::Phq9, 10, 15), Change::Worse);
        assert_eq!(Change::between(Instrument::Gad7, 12, 8), Change::Better);
        assert_eq!(Change::between(Instrument::Gad7, 12, 9), Change::Steady);
        assert_eq!(Change::between(Instrument::Gad7, 0, 4), Change::Worse);
    }
}
