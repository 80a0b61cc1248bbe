//! The breakthrough timeline on a client's page: each session on a time
//! axis, a row per tag with a dot where it was noted, drawn as SVG by the
//! template (no JavaScript), and a table of the same sessions beneath.
//! Colour is never the only cue: each tag has its own labelled row.

use chrono::{Datelike, NaiveDate};

use crate::tags::{TagView, colour};
use crate::web::layout::long_date;

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
