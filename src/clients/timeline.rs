//! The breakthrough timeline on a client's page: a row per tag with a dot
//! for each session where it was noted, over an axis of every session with
//! a few dated ticks, and a table of the same sessions beneath.
//!
//! It reflows rather than scales: the labels are HTML, and each row's
//! track is an SVG as wide as the panel whose dots sit at percentages of
//! its width, so text stays its real size on a phone (where a label sits
//! above its track) and the track uses the width on a desktop. No
//! JavaScript. Colour is never the only cue: each tag has its own
//! labelled row, and the table carries everything for screen readers.

use chrono::{Datelike, Months, NaiveDate};

use crate::measures::instrument::{Band, Instrument};
use crate::tags::{TagView, colour};
use crate::web::dates::DateStyle;

/// A dot: one session where a tag was noted.
pub struct Marker {
    /// Centre, as a percentage of the track's width (`"37.50%"`).
    pub x: String,
    /// Tooltip: the session's date and the tag.
    pub label: String,
    /// The note it links to.
    pub href: String,
}

/// One tag's row.
pub struct Row {
    /// The tag's name.
    pub label: String,
    /// Its colour.
    pub colour: &'static str,
    /// Its dots.
    pub markers: Vec<Marker>,
}

/// A dated tick under the axis.
pub struct Tick {
    /// Position, as a percentage of the track's width.
    pub x: String,
    /// The date, short.
    pub text: String,
    /// `start`, `middle` or `end`, so labels at the ends stay inside.
    pub anchor: &'static str,
    /// Hidden on a phone, where there is room for about three.
    pub minor: bool,
}

/// A measure's total, for the timeline.
pub struct ScorePoint {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Which scale.
    pub instrument: Instrument,
    /// Its total.
    pub total: u8,
    /// The total's band.
    pub band: Band,
}

/// A band behind a score line: a quiet horizontal stripe.
pub struct BandStripe {
    /// Top, in pixels.
    pub y: String,
    /// Height, in pixels.
    pub height: String,
    /// [`Band::slug`], for its shade.
    pub slug: &'static str,
}

/// A stretch of a score line between two totals.
pub struct Segment {
    pub x1: String,
    pub y1: String,
    pub x2: String,
    pub y2: String,
}

/// A total on a score line.
pub struct ScoreMark {
    /// Centre, as a percentage of the track's width.
    pub x: String,
    /// Centre, in pixels from the top.
    pub y: String,
    /// Tooltip: date, total, band.
    pub label: String,
}

/// One instrument's scores over time, on the same axis as the tags.
pub struct ScoreRow {
    /// `PHQ-9`.
    pub label: &'static str,
    /// The highest total, for the scale's label.
    pub max: u8,
    /// The severity bands, mildest at the bottom.
    pub bands: Vec<BandStripe>,
    /// The line.
    pub segments: Vec<Segment>,
    /// A dot per total.
    pub marks: Vec<ScoreMark>,
}

/// Height of a score row's drawing, in pixels.
pub const SCORE_HEIGHT: f64 = 84.0;
const SCORE_PAD: f64 = 7.0;

fn score_yf(total: f64, max: u8) -> f64 {
    SCORE_PAD + (1.0 - total / f64::from(max)) * (SCORE_HEIGHT - 2.0 * SCORE_PAD)
}

fn score_y(total: u8, max: u8) -> f64 {
    score_yf(f64::from(total), max)
}

fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// A client's breakthrough timeline.
pub struct Timeline {
    /// One row per tag that occurs, in vocabulary order.
    pub rows: Vec<Row>,
    /// One row per instrument with a scored total, PHQ-9 first.
    pub scores: Vec<ScoreRow>,
    /// Every session, as a position on the axis.
    pub sessions: Vec<String>,
    /// A few dated ticks.
    pub ticks: Vec<Tick>,
    /// What it shows, in words.
    pub description: String,
}

/// A session for the timeline: its date, its tags, its note's link.
pub struct Point {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Its tags, in vocabulary order.
    pub tags: Vec<TagView>,
    /// Link to the note.
    pub href: String,
}

fn day(date: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// The most dated ticks on a desktop axis.
const MAX_TICKS: usize = 5;

fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction.clamp(0.0, 1.0) * 100.0)
}

/// Lay out a timeline of sessions and scores on one axis; `None` when
/// there are neither.
pub fn timeline(
    points: &[Point],
    vocabulary: &[TagView],
    scores: &[ScorePoint],
    dates: DateStyle,
) -> Option<Timeline> {
    let days: Vec<NaiveDate> = points.iter().filter_map(|p| day(&p.date)).collect();
    let all_days = days
        .iter()
        .copied()
        .chain(scores.iter().filter_map(|s| day(&s.date)));
    let (first, last) = (all_days.clone().min()?, all_days.max()?);
    let span = (last - first).num_days();
    let place = |d: NaiveDate| {
        if span == 0 {
            0.5
        } else {
            (d - first).num_days() as f64 / span as f64
        }
    };
    let rows: Vec<Row> = vocabulary
        .iter()
        .enumerate()
        .filter_map(|(vi, t)| {
            let markers: Vec<Marker> = points
                .iter()
                .filter(|p| p.tags.iter().any(|pt| pt.family == t.family))
                .filter_map(|p| {
                    Some(Marker {
                        x: percent(place(day(&p.date)?)),
                        label: format!("{}: {}", dates.session(&p.date), t.label),
                        href: p.href.clone(),
                    })
                })
                .collect();
            (!markers.is_empty()).then(|| Row {
                label: t.label.clone(),
                colour: colour(vi),
                markers,
            })
        })
        .collect();
    let ticks = ticks(first, last, dates)
        .into_iter()
        .enumerate()
        .map(|(i, (date, text))| {
            let at = place(date);
            Tick {
                x: percent(at),
                text,
                anchor: if at < 0.08 {
                    "start"
                } else if at > 0.92 {
                    "end"
                } else {
                    "middle"
                },
                minor: i % 2 == 1,
            }
        })
        .collect();
    let score_rows: Vec<ScoreRow> = Instrument::ALL
        .into_iter()
        .filter_map(|instrument| {
            let max = instrument.max_total();
            let placed: Vec<(f64, &ScorePoint)> = scores
                .iter()
                .filter(|s| s.instrument == instrument)
                .filter_map(|s| Some((place(day(&s.date)?), s)))
                .collect();
            if placed.is_empty() {
                return None;
            }
            let bands = instrument
                .bands()
                .into_iter()
                .map(|(band, low, high)| {
                    // Each stripe runs half a point past its totals, so
                    // neighbours meet without a gap.
                    let top = score_yf(f64::from(high) + 0.5, max).max(0.0);
                    let bottom = score_yf(f64::from(low) - 0.5, max).min(SCORE_HEIGHT);
                    BandStripe {
                        y: px(top),
                        height: px(bottom - top),
                        slug: band.slug(),
                    }
                })
                .collect();
            let marks: Vec<(String, f64, &ScorePoint)> = placed
                .iter()
                .map(|(at, s)| (percent(*at), score_y(s.total, max), *s))
                .collect();
            Some(ScoreRow {
                label: instrument.name(),
                max,
                bands,
                segments: marks
                    .windows(2)
                    .map(|w| Segment {
                        x1: w[0].0.clone(),
                        y1: px(w[0].1),
                        x2: w[1].0.clone(),
                        y2: px(w[1].1),
                    })
                    .collect(),
                marks: marks
                    .iter()
                    .map(|(x, y, s)| ScoreMark {
                        x: x.clone(),
                        y: px(*y),
                        label: format!(
                            "{}: {} {} ({})",
                            dates.day(&s.date),
                            instrument.name(),
                            s.total,
                            s.band.label()
                        ),
                    })
                    .collect(),
            })
        })
        .collect();
    let tagged = points.iter().filter(|p| !p.tags.is_empty()).count();
    let sessions = if points.len() == 1 {
        "1 session".to_owned()
    } else {
        format!("{} sessions", points.len())
    };
    let description = if points.is_empty() {
        "No session notes yet.".to_owned()
    } else if span == 0 {
        format!(
            "{sessions} on {}; {tagged} with breakthrough tags.",
            dates.session(&first.to_string())
        )
    } else {
        format!(
            "{sessions} from {} to {}; {tagged} with breakthrough tags.",
            dates.session(&first.to_string()),
            dates.session(&last.to_string()),
        )
    };
    let score_counts: Vec<String> = score_rows
        .iter()
        .map(|r| match r.marks.len() {
            1 => format!(" One {} score.", r.label),
            n => format!(" {n} {} scores.", r.label),
        })
        .collect();
    let description = format!("{description}{}", score_counts.concat());
    Some(Timeline {
        rows,
        scores: score_rows,
        sessions: days.iter().map(|d| percent(place(*d))).collect(),
        ticks,
        description,
    })
}

/// A few dated ticks between two days, at round dates: the first of a
/// month (every 1, 2, 3, 6 or 12 months) for a long span, every week or
/// fortnight from the first session for a short one. At most
/// [`MAX_TICKS`]; when fewer than two round dates fall inside, the first
/// and last session.
fn ticks(first: NaiveDate, last: NaiveDate, dates: DateStyle) -> Vec<(NaiveDate, String)> {
    if first == last {
        return vec![(first, dates.short_day(first))];
    }
    let span = (last - first).num_days();
    let mut chosen: Vec<(NaiveDate, String)> = Vec::new();
    if span <= 10 * 7 {
        for step in [7, 14, 28] {
            let found: Vec<NaiveDate> = (0..)
                .map(|k| first + chrono::Days::new(k * step))
                .take_while(|d| *d <= last)
                .collect();
            if found.len() <= MAX_TICKS {
                chosen = found.into_iter().map(|d| (d, dates.short_day(d))).collect();
                break;
            }
        }
    } else {
        let start = first.with_day(1).unwrap_or(first);
        for step in [1, 2, 3, 6, 12, 24, 60] {
            let found: Vec<NaiveDate> = (0..)
                .map_while(|k| start.checked_add_months(Months::new(k)))
                .take_while(|d| *d <= last)
                .filter(|d| *d >= first && d.month0() % step.min(12) == 0)
                .filter(|d| step <= 12 || d.year() % (step as i32 / 12) == 0)
                .collect();
            if found.len() <= MAX_TICKS {
                chosen = found
                    .into_iter()
                    .map(|d| {
                        let text = if step >= 12 {
                            d.year().to_string()
                        } else {
                            dates.month(d)
                        };
                        (d, text)
                    })
                    .collect();
                break;
            }
        }
    }
    if chosen.len() < 2 {
        chosen = vec![
            (first, dates.short_day(first)),
            (last, dates.short_day(last)),
        ];
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
    }

    fn texts(first: &str, last: &str, style: DateStyle) -> Vec<String> {
        ticks(d(first), d(last), style)
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    #[test]
    fn a_long_span_is_ticked_at_round_months() {
        assert_eq!(
            texts("2026-01-14", "2026-11-20", DateStyle::International),
            ["Mar 2026", "May 2026", "Jul 2026", "Sep 2026", "Nov 2026"]
        );
        assert_eq!(
            texts("2026-03-10", "2026-06-20", DateStyle::Us),
            ["Apr 2026", "May 2026", "Jun 2026"]
        );
        assert_eq!(
            texts("2019-05-01", "2026-11-20", DateStyle::Us),
            ["2020", "2022", "2024", "2026"]
        );
    }

    #[test]
    fn a_short_span_is_ticked_by_week_from_the_first_session() {
        assert_eq!(
            texts("2026-03-03", "2026-03-24", DateStyle::International),
            ["3 Mar", "10 Mar", "17 Mar", "24 Mar"]
        );
        assert_eq!(
            texts("2026-03-03", "2026-03-05", DateStyle::Us),
            ["Mar 3", "Mar 5"]
        );
        assert_eq!(texts("2026-03-03", "2026-03-03", DateStyle::Us), ["Mar 3"]);
    }

    #[test]
    fn never_more_than_five_ticks() {
        let start = d("2020-01-01");
        for days in [1, 9, 30, 69, 70, 71, 100, 200, 400, 800, 2000, 5000] {
            let end = start + chrono::Days::new(days);
            let t = ticks(start, end, DateStyle::International);
            assert!(
                (1..=MAX_TICKS).contains(&t.len()),
                "{days} days: {}",
                t.len()
            );
            assert!(t.iter().all(|(d, _)| *d >= start && *d <= end));
        }
    }
}
