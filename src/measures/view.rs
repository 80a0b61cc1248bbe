//! Measures as pages show them: a row per measure (score, band, item 9)
//! and the self-harm answers that must be seen. The words are decided
//! here, not in the model.

use super::instrument::{ANSWERS, Band};
use super::model::Measure;
use crate::ids::NoteId;
use crate::web::dates::DateStyle;

/// A measure in a table.
#[derive(Clone)]
pub struct MeasureView {
    /// When taken, as the practice writes dates.
    pub date: String,
    /// `PHQ-9`, a pack scale's title, or empty if it failed to open.
    pub instrument: String,
    /// "12", or "Not scored".
    pub total: String,
    /// "moderate", or why there is no band ("7 of 9 items answered").
    pub band: String,
    /// The band's slug, for a quiet colour; empty without a band.
    pub band_slug: &'static str,
    /// PHQ-9 item 9 when above 0, in words ("Several days").
    pub self_harm: Option<&'static str>,
    /// A PHQ-9 whose item 9 was left unanswered (worth asking about).
    pub self_harm_unanswered: bool,
    /// Whether it asks PHQ-9 item 9 at all (only the PHQ-9 does: never a
    /// pack's scale, whatever its title says).
    pub asks_item9: bool,
    /// The note it was recorded with.
    pub note_href: Option<String>,
    /// It failed an integrity check.
    pub damaged: bool,
    /// When it was marked entered in error, as the practice writes dates.
    pub in_error: Option<String>,
    /// The page that marks it entered in error.
    pub error_href: String,
}

/// What PHQ-9 item 9 asks, for the warning beside its answer.
pub const SELF_HARM_QUESTION: &str =
    "Thoughts that you would be better off dead, or of hurting yourself in some way";

/// One row per measure, in the order given; a link to its note only when
/// `note_exists` (a deleted draft leaves none).
pub fn rows(
    measures: &[Measure],
    dates: DateStyle,
    note_exists: impl Fn(NoteId) -> bool,
) -> Vec<MeasureView> {
    measures
        .iter()
        .map(|m| row(m, dates, &note_exists))
        .collect()
}

/// One measure as a row.
fn row(m: &Measure, dates: DateStyle, note_exists: &impl Fn(NoteId) -> bool) -> MeasureView {
    let date = dates.day(&m.taken_on);
    let in_error = m.entered_in_error_at.map(|at| dates.day_of(at));
    let error_href = format!("/clients/{}/measures/{}/error", m.client, m.id);
    if let Some(s) = &m.scale {
        let max = s.scale.max_total();
        return MeasureView {
            date,
            instrument: format!("{} (from {})", s.scale.title, s.scale.pack.name),
            total: s
                .total
                .map_or_else(|| "Not scored".to_owned(), |t| format!("{t} of {max}")),
            band: if s.total.is_some() {
                String::new()
            } else {
                format!("{} of {} items answered", s.answered, s.items.len())
            },
            band_slug: "",
            self_harm: None,
            self_harm_unanswered: false,
            asks_item9: false,
            note_href: s
                .note
                .filter(|n| note_exists(*n))
                .map(|n| format!("/notes/{n}")),
            damaged: false,
            in_error,
            error_href,
        };
    }
    match &m.content {
        Ok(taken) => {
            let s = &taken.score;
            MeasureView {
                date,
                instrument: taken.instrument.name().to_owned(),
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
                self_harm_unanswered: taken
                    .instrument
                    .self_harm_item()
                    .is_some_and(|i| taken.items.get(i).copied().flatten().is_none()),
                asks_item9: taken.instrument.self_harm_item().is_some(),
                note_href: taken
                    .note
                    .filter(|n| note_exists(*n))
                    .map(|n| format!("/notes/{n}")),
                damaged: false,
                in_error,
                error_href,
            }
        }
        Err(_) => MeasureView {
            date,
            instrument: String::new(),
            total: String::new(),
            band: String::new(),
            band_slug: "",
            self_harm: None,
            self_harm_unanswered: false,
            asks_item9: false,
            note_href: None,
            damaged: true,
            in_error,
            error_href,
        },
    }
}

/// The measures recorded with `note`.
pub fn of_note(measures: &[Measure], note: NoteId) -> Vec<&Measure> {
    measures.iter().filter(|m| m.note() == Some(note)).collect()
}

/// Every PHQ-9 whose item 9 was answered above 0, newest first: date and
/// answer in words. Never filtered (only a measure the therapist marked
/// entered in error is left out).
pub fn self_harm_answers(measures: &[Measure], dates: DateStyle) -> Vec<(String, &'static str)> {
    let mut found: Vec<(String, &'static str)> = measures
        .iter()
        .rev()
        .filter_map(|m| {
            let taken = m.counted()?;
            let answer = taken.score.self_harm?;
            Some((dates.day(&m.taken_on), ANSWERS[answer as usize].0))
        })
        .collect();
    found.dedup();
    found
}
