//! Geometry for the server-rendered SVG charts: a client's breakthrough
//! timeline and the caseload's tag counts per month. The templates draw
//! them; no JavaScript is involved. Colour is never the only cue: each tag
//! has its own row or a legend entry, and a table repeats the data.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use super::tags::TagView;
use crate::web::layout::long_date;

/// Okabe–Ito colours, distinguishable with common colour-vision differences.
const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B8860B", "#56B4E9", "#7A4B00", "#555555",
];

/// The colour of the n-th tag in the vocabulary.
pub fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// One tagged session on the timeline.
pub struct Marker {
    /// Centre x.
    pub x: i32,
    /// Centre y.
    pub y: i32,
    /// Fill colour.
    pub colour: &'static str,
    /// Tooltip and accessible name.
    pub label: String,
    /// The note it links to.
    pub href: String,
}

/// One tag's row.
pub struct Row {
    /// Baseline y.
    pub y: i32,
    /// Label text y.
    pub text_y: i32,
    /// The tag's name.
    pub label: String,
    /// Its colour.
    pub colour: &'static str,
}

/// A date label under the axis.
pub struct AxisLabel {
    /// Centre x.
    pub x: i32,
    /// Text.
    pub text: String,
}

/// A client's breakthrough timeline.
pub struct Timeline {
    /// Drawing width.
    pub width: i32,
    /// Drawing height.
    pub height: i32,
    /// Left edge of the plot.
    pub left: i32,
    /// Right edge of the plot.
    pub right: i32,
    /// y of the session axis.
    pub axis_y: i32,
    /// One row per tag that occurs.
    pub rows: Vec<Row>,
    /// One marker per (session, tag).
    pub markers: Vec<Marker>,
    /// Every session as a tick on the axis.
    pub sessions: Vec<i32>,
    /// Dates under the axis.
    pub axis_labels: Vec<AxisLabel>,
    /// Accessible summary.
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

fn day(date: &str) -> Option<i32> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .map(|d| d.num_days_from_ce())
}

/// Lay out a timeline; `None` when there are no sessions.
pub fn timeline(points: &[Point], vocabulary: &[TagView]) -> Option<Timeline> {
    let days: Vec<i32> = points.iter().filter_map(|p| day(&p.date)).collect();
    let (first, last) = (*days.iter().min()?, *days.iter().max()?);
    let (left, right, width) = (180, 740, 760);
    let span = (last - first).max(1);
    let x_of = |d: i32| {
        if first == last {
            (left + right) / 2
        } else {
            left + (d - first) * (right - left) / span
        }
    };
    let present: Vec<(usize, &TagView)> = vocabulary
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            points
                .iter()
                .any(|p| p.tags.iter().any(|pt| pt.key == t.key))
        })
        .collect();
    let row_h = 30;
    let top = 16;
    let rows: Vec<Row> = present
        .iter()
        .enumerate()
        .map(|(i, (vi, t))| {
            let y = top + row_h / 2 + i as i32 * row_h;
            Row {
                y,
                text_y: y + 5,
                label: t.label.clone(),
                colour: colour(*vi),
            }
        })
        .collect();
    let axis_y = top + row_h * present.len() as i32 + 14;
    let mut markers = Vec::new();
    for p in points {
        let Some(d) = day(&p.date) else { continue };
        for t in &p.tags {
            if let Some(row) = present.iter().position(|(_, v)| v.key == t.key) {
                markers.push(Marker {
                    x: x_of(d),
                    y: rows[row].y,
                    colour: rows[row].colour,
                    label: format!("{}: {}", long_date(&p.date), t.label),
                    href: p.href.clone(),
                });
            }
        }
    }
    let mut axis_labels = vec![AxisLabel {
        x: x_of(first),
        text: long_date(&points_date(points, first)),
    }];
    if last != first {
        axis_labels.push(AxisLabel {
            x: x_of(last),
            text: long_date(&points_date(points, last)),
        });
    }
    let tagged = points.iter().filter(|p| !p.tags.is_empty()).count();
    let sessions = if points.len() == 1 {
        "1 session".to_owned()
    } else {
        format!("{} sessions", points.len())
    };
    let description = format!(
        "{sessions} from {} to {}; {} with breakthrough tags. Each row is a tag; each dot a session where it was noted. The same data is in the table below.",
        long_date(&points_date(points, first)),
        long_date(&points_date(points, last)),
        tagged
    );
    Some(Timeline {
        width,
        height: axis_y + 34,
        left,
        right,
        axis_y,
        rows,
        markers,
        sessions: days.iter().map(|d| x_of(*d)).collect(),
        axis_labels,
        description,
    })
}

fn points_date(points: &[Point], wanted: i32) -> String {
    points
        .iter()
        .find(|p| day(&p.date) == Some(wanted))
        .map(|p| p.date.clone())
        .unwrap_or_default()
}

/// One stacked segment of a month's bar.
pub struct Segment {
    /// Top y.
    pub y: i32,
    /// Height.
    pub h: i32,
    /// Colour.
    pub colour: &'static str,
    /// Tooltip.
    pub label: String,
}

/// One month's bar.
pub struct Bar {
    /// Left x.
    pub x: i32,
    /// Label x (centre).
    pub label_x: i32,
    /// Bar width.
    pub w: i32,
    /// "Mar" (and the year on January and the first bar).
    pub label: String,
    /// Segments, bottom up.
    pub segments: Vec<Segment>,
}

/// Tag counts per month across the caseload.
pub struct MonthChart {
    /// Drawing width.
    pub width: i32,
    /// Drawing height.
    pub height: i32,
    /// y of the baseline.
    pub base_y: i32,
    /// The bars, oldest first.
    pub bars: Vec<Bar>,
    /// Legend: label and colour for each tag that occurs.
    pub legend: Vec<(String, &'static str)>,
    /// Table rows: month label, then a count per legend tag.
    pub table: Vec<(String, Vec<u32>)>,
    /// The largest monthly total.
    pub max: u32,
    /// Accessible summary.
    pub description: String,
}

/// Count tags per month for the twelve months ending with `today`'s month.
pub fn monthly(
    counts: &BTreeMap<String, BTreeMap<String, u32>>,
    vocabulary: &[TagView],
    today: &str,
) -> MonthChart {
    let today = NaiveDate::parse_from_str(today, "%Y-%m-%d").unwrap_or_default();
    let mut months: Vec<(i32, u32)> = Vec::new();
    let (mut y, mut m) = (today.year(), today.month());
    for _ in 0..12 {
        months.push((y, m));
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    months.reverse();
    let present: Vec<(usize, &TagView)> = vocabulary
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            counts
                .values()
                .any(|c| c.get(&t.key).is_some_and(|n| *n > 0))
        })
        .collect();
    let key = |(y, m): (i32, u32)| format!("{y:04}-{m:02}");
    let max = months
        .iter()
        .map(|ym| {
            counts.get(&key(*ym)).map_or(0, |c| {
                present
                    .iter()
                    .map(|(_, t)| c.get(&t.key).copied().unwrap_or(0))
                    .sum()
            })
        })
        .max()
        .unwrap_or(0);
    let (left, plot_h, top, bar_w, gap) = (10, 160, 10, 40, 16);
    let base_y = top + plot_h;
    let scale = |n: u32| {
        if max == 0 {
            0
        } else {
            (n as i64 * plot_h as i64 / max as i64) as i32
        }
    };
    let month_name = |(y, m): (i32, u32)| {
        let name = NaiveDate::from_ymd_opt(y, m, 1)
            .map(|d| d.format("%b").to_string())
            .unwrap_or_default();
        if m == 1 { format!("{name} {y}") } else { name }
    };
    let mut bars = Vec::new();
    let mut table = Vec::new();
    for (i, ym) in months.iter().enumerate() {
        let x = left + i as i32 * (bar_w + gap);
        let month_counts = counts.get(&key(*ym));
        let mut y_cursor = base_y;
        let mut segments = Vec::new();
        let mut row = Vec::new();
        for (vi, t) in &present {
            let n = month_counts
                .and_then(|c| c.get(&t.key))
                .copied()
                .unwrap_or(0);
            row.push(n);
            if n == 0 {
                continue;
            }
            let h = scale(n).max(2);
            y_cursor -= h;
            segments.push(Segment {
                y: y_cursor,
                h,
                colour: colour(*vi),
                label: format!("{}: {} × {}", month_name(*ym), n, t.label),
            });
        }
        let label = if i == 0 && ym.1 != 1 {
            format!("{} {}", month_name(*ym), ym.0)
        } else {
            month_name(*ym)
        };
        table.push((label.clone(), row));
        bars.push(Bar {
            x,
            label_x: x + bar_w / 2,
            w: bar_w,
            label,
            segments,
        });
    }
    let total: u32 = table.iter().flat_map(|(_, r)| r.iter()).sum();
    MonthChart {
        width: left * 2 + 12 * (bar_w + gap),
        height: base_y + 40,
        base_y,
        bars,
        legend: present
            .iter()
            .map(|(vi, t)| (t.label.clone(), colour(*vi)))
            .collect(),
        table,
        max,
        description: format!(
            "Breakthrough tags noted per month over the last twelve months: {total} in all. The same counts are in the table below."
        ),
    }
}
