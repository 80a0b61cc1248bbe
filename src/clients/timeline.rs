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

/// A client's breakthrough timeline.
pub struct Timeline {
    /// One row per tag that occurs, in vocabulary order.
    pub rows: Vec<Row>,
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

/// Lay out a timeline; `None` when there are no sessions.
pub fn timeline(points: &[Point], vocabulary: &[TagView], dates: DateStyle) -> Option<Timeline> {
    let days: Vec<NaiveDate> = points.iter().filter_map(|p| day(&p.date)).collect();
    let (first, last) = (*days.iter().min()?, *days.iter().max()?);
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
                .filter(|p| p.tags.iter().any(|pt| pt.key == t.key))
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
    let tagged = points.iter().filter(|p| !p.tags.is_empty()).count();
    let sessions = if points.len() == 1 {
        "1 session".to_owned()
    } else {
        format!("{} sessions", points.len())
    };
    let description = if span == 0 {
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
    Some(Timeline {
        rows,
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
