//! Measures as pages show them: a row per measure (score, band, item 9),
//! the self-harm answers that must be seen, and each client's latest
//! scores for the caseload. The words are decided here, not in the model.

use std::collections::HashMap;

use super::instrument::{ANSWERS, Band, Instrument};
use super::model::Measure;
use crate::ids::{ClientId, NoteId};
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
    /// How many scored totals.
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

/// Every client's scores, from measures oldest first.
pub fn by_client(measures: &[Measure]) -> HashMap<ClientId, ClientScores> {
    let mut out: HashMap<ClientId, ClientScores> = HashMap::new();
    for m in measures {
        let Ok(taken) = &m.content else { continue };
        let scores = out.entry(m.client).or_default();
        if taken.instrument == Instrument::Phq9 {
            scores.self_harm = taken.score.self_harm.is_some();
        }
        let (Some(total), Some(band)) = (taken.score.total, taken.score.band) else {
            continue;
        };
        scores
            .trends
            .entry(taken.instrument)
            .and_modify(|t| {
                t.latest = total;
                t.band = band;
                t.count += 1;
            })
            .or_insert(Trend {
                first: total,
                latest: total,
                band,
                count: 1,
            });
    }
    out
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
