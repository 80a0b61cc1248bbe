//! Geometry for the caseload's chart of breakthrough tags per month on the
//! search page, drawn as SVG by the template (no JavaScript). Colour is
//! never the only cue: each tag has a legend entry, and a table repeats the
//! data.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use crate::tags::{TagView, colour};

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
                .any(|c| c.get(&t.family).is_some_and(|n| *n > 0))
        })
        .collect();
    let key = |(y, m): (i32, u32)| format!("{y:04}-{m:02}");
    let max = months
        .iter()
        .map(|ym| {
            counts.get(&key(*ym)).map_or(0, |c| {
                present
                    .iter()
                    .map(|(_, t)| c.get(&t.family).copied().unwrap_or(0))
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
                .and_then(|c| c.get(&t.family))
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
