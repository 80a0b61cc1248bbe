//! Dates and times as people in the practice read them. The practice
//! chooses one style (international or US); each kind of date has one form
//! in it: a session's date with its weekday, a plain date (a date of birth,
//! the day a handout was printed), and a moment (a date and a time).

use chrono::{NaiveDate, TimeZone as _};

/// How the practice writes dates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateStyle {
    /// 26 Nov 2026, 07:25.
    #[default]
    International,
    /// Nov 26, 2026, 7:25 AM.
    Us,
}

impl DateStyle {
    /// Every style, in the order offered.
    pub const ALL: [Self; 2] = [Self::International, Self::Us];

    /// Read the stored name; anything unknown is international.
    pub fn parse(s: &str) -> Self {
        if s == "us" {
            Self::Us
        } else {
            Self::International
        }
    }

    /// The stored name.
    pub fn key(self) -> &'static str {
        match self {
            Self::International => "intl",
            Self::Us => "us",
        }
    }

    /// How the choice is described, with an example.
    pub fn label(self) -> &'static str {
        match self {
            Self::International => "International: Thu 26 Nov 2026, 14:05",
            Self::Us => "United States: Thu, Nov 26, 2026, 2:05 PM",
        }
    }

    fn date_format(self) -> &'static str {
        match self {
            Self::International => "%-d %b %Y",
            Self::Us => "%b %-d, %Y",
        }
    }

    /// A session's date (`YYYY-MM-DD`), with its weekday: "Thu 26 Nov 2026"
    /// or "Thu, Nov 26, 2026". Text that is not a date is returned as is.
    pub fn session(self, iso: &str) -> String {
        let weekday = match self {
            Self::International => "%a ",
            Self::Us => "%a, ",
        };
        NaiveDate::parse_from_str(iso, "%Y-%m-%d").map_or_else(
            |_| iso.to_owned(),
            |d| {
                d.format(&format!("{weekday}{}", self.date_format()))
                    .to_string()
            },
        )
    }

    /// A plain date (`YYYY-MM-DD`): "21 Jul 1984" or "Jul 21, 1984".
    pub fn day(self, iso: &str) -> String {
        NaiveDate::parse_from_str(iso, "%Y-%m-%d").map_or_else(
            |_| iso.to_owned(),
            |d| d.format(self.date_format()).to_string(),
        )
    }

    /// A day without its year, for a chart's axis: "3 Mar" or "Mar 3".
    pub fn short_day(self, date: NaiveDate) -> String {
        match self {
            Self::International => date.format("%-d %b").to_string(),
            Self::Us => date.format("%b %-d").to_string(),
        }
    }

    /// A month, for a chart's axis: "Mar 2026" in either style.
    pub fn month(self, date: NaiveDate) -> String {
        date.format("%b %Y").to_string()
    }

    /// The date of a moment (Unix seconds), in the server's time zone.
    pub fn day_of(self, unix: i64) -> String {
        chrono::Local
            .timestamp_opt(unix, 0)
            .single()
            .map_or_else(String::new, |t| t.format(self.date_format()).to_string())
    }

    /// A moment (Unix seconds) in the server's time zone: "26 Nov 2026,
    /// 14:05" or "Nov 26, 2026, 2:05 PM".
    pub fn moment(self, unix: i64) -> String {
        let time = match self {
            Self::International => "%H:%M",
            Self::Us => "%-I:%M %p",
        };
        chrono::Local
            .timestamp_opt(unix, 0)
            .single()
            .map_or_else(String::new, |t| {
                t.format(&format!("{}, {time}", self.date_format()))
                    .to_string()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_date_has_one_form_per_style() {
        let (intl, us) = (DateStyle::International, DateStyle::Us);
        assert_eq!(intl.session("2026-11-26"), "Thu 26 Nov 2026");
        assert_eq!(us.session("2026-11-26"), "Thu, Nov 26, 2026");
        assert_eq!(intl.day("1984-07-21"), "21 Jul 1984");
        assert_eq!(us.day("1984-07-01"), "Jul 1, 1984");
        assert_eq!(intl.session("not a date"), "not a date");
        let noon = chrono::Local
            .with_ymd_and_hms(2026, 11, 26, 14, 5, 0)
            .single()
            .expect("a time")
            .timestamp();
        assert_eq!(intl.moment(noon), "26 Nov 2026, 14:05");
        assert_eq!(us.moment(noon), "Nov 26, 2026, 2:05 PM");
        assert_eq!(DateStyle::parse("us"), us);
        assert_eq!(DateStyle::parse("anything"), intl);
    }
}
