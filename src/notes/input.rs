//! Reading and checking the note form. Every problem becomes a message next
//! to its field, and the typed text always comes back in the form.

use std::collections::BTreeMap;

use super::format::{
    NoteFormat, SessionType, TEMPLATE_PREFIX, Template, reformat_into, sections_of,
};
use super::model::{MAX_NOTE_CHARS, NoteContent, SessionFacts};
use crate::tags::custom::clean_label;
use crate::tags::{Vocabulary, builtin};
use crate::web::form::{FieldErrors, Pairs};

/// The note form as typed (strings, so nothing is lost on a bad value).
#[derive(Clone, Debug, Default)]
pub struct NoteInput {
    /// As typed.
    pub session_date: String,
    /// As typed.
    pub duration_minutes: String,
    /// As chosen.
    pub session_type: String,
    /// As chosen: a format (`soap`) or a pack template (`template:PACK/SLUG`).
    pub format: String,
    /// The format the form was in before a "Switch to …" button.
    pub previous_format: String,
    /// Section key to text, for every section sent.
    pub sections: BTreeMap<String, String>,
    /// As typed.
    pub key_moment: String,
    /// As typed.
    pub process_note: String,
    /// Chosen tag keys.
    pub tags: Vec<String>,
    /// New tag labels, comma-separated, as typed.
    pub new_tags: String,
    /// The revision the form was loaded at (0 for a new note).
    pub revision: i32,
    /// `save`, `sign` (save, then sign) or `reformat`.
    pub intent: String,
    /// The form's one-time id: a new note sent twice is saved once.
    pub form_id: String,
}

/// Whether a submitted format names one: built-in, or a template.
fn is_format(value: &str) -> bool {
    NoteFormat::parse(value).is_some() || value.starts_with(TEMPLATE_PREFIX)
}

/// The longest key moment line.
pub const MAX_KEY_MOMENT: usize = 300;
const MAX_NEW_TAGS: usize = 10;
const MAX_TAG_LABEL: usize = 40;

impl NoteInput {
    /// Read the form's pairs.
    pub fn from_pairs(pairs: &Pairs) -> Self {
        let get = |k: &str| pairs.get(k).unwrap_or_default().to_owned();
        let sections = pairs
            .all()
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("section_")
                    .map(|key| (key.to_owned(), v.clone()))
            })
            .collect();
        Self {
            session_date: get("session_date").trim().to_owned(),
            duration_minutes: get("duration_minutes").trim().to_owned(),
            session_type: get("session_type"),
            // A "Switch to …" button names the format to switch to.
            format: if is_format(&get("switch_format")) {
                get("switch_format")
            } else {
                get("format")
            },
            previous_format: get("format"),
            sections,
            key_moment: get("key_moment"),
            process_note: get("process_note"),
            tags: pairs.values("tag").into_iter().map(str::to_owned).collect(),
            new_tags: get("new_tags"),
            revision: get("revision").parse().unwrap_or(0),
            intent: if is_format(&get("switch_format")) {
                "reformat".to_owned()
            } else {
                get("intent")
            },
            form_id: get("form_id"),
        }
    }

    /// The chosen format (SOAP if none or unknown; free for a template,
    /// which is what a template note's plain format column says).
    pub fn chosen_format(&self) -> NoteFormat {
        if self.template_key().is_some() {
            return NoteFormat::Free;
        }
        NoteFormat::parse(&self.format).unwrap_or(NoteFormat::Soap)
    }

    /// The pack template chosen, by key, if one is.
    pub fn template_key(&self) -> Option<&str> {
        self.format
            .strip_prefix(TEMPLATE_PREFIX)
            .filter(|k| !k.is_empty())
    }

    /// The pack template the form was in before a switch, by key.
    pub fn previous_template_key(&self) -> Option<&str> {
        self.previous_format
            .strip_prefix(TEMPLATE_PREFIX)
            .filter(|k| !k.is_empty())
    }

    /// Move the typed sections into the chosen format or `template` (the
    /// chosen one, found by the caller); `from` names the headings of the
    /// template the text was in. Returns moved headings.
    pub fn apply_format(
        &mut self,
        template: Option<&Template>,
        from: Option<&Template>,
    ) -> Vec<String> {
        let (sections, moved) = reformat_into(
            &self.sections,
            &sections_of(self.chosen_format(), template),
            from,
        );
        self.sections = sections;
        moved
    }

    /// The new tag labels typed, cleaned and de-duplicated.
    pub fn new_tag_labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = Vec::new();
        for label in self
            .new_tags
            .split(',')
            .map(clean_label)
            .filter(|l| !l.is_empty())
        {
            if !labels
                .iter()
                .any(|l| l.to_lowercase() == label.to_lowercase())
            {
                labels.push(label);
            }
        }
        labels
    }

    /// Check everything. On success, the facts and content to store (new
    /// tag labels still to be turned into ids by the caller).
    pub fn validate(
        &self,
        vocabulary: &Vocabulary,
        template: Option<&Template>,
        today: &str,
    ) -> Result<(SessionFacts, NoteContent), FieldErrors> {
        let mut errors = FieldErrors::default();
        let date = chrono::NaiveDate::parse_from_str(&self.session_date, "%Y-%m-%d");
        match date {
            Err(_) if self.session_date.is_empty() => {
                errors.add("session_date", "Enter the date of the session.")
            }
            Err(_) => errors.add(
                "session_date",
                "That is not a real date. Use year-month-day, like 2026-03-02.",
            ),
            Ok(d) if d.format("%Y-%m-%d").to_string().as_str() > today => {
                errors.add("session_date", "The session date is in the future.")
            }
            Ok(d) if d.format("%Y").to_string().as_str() < "1950" => {
                errors.add("session_date", "Check the year of the session.")
            }
            Ok(_) => {}
        }
        let duration = self.duration_minutes.parse::<i32>();
        match duration {
            Ok(n) if (1..=600).contains(&n) => {}
            Ok(_) => errors.add(
                "duration_minutes",
                "Enter a duration between 1 and 600 minutes.",
            ),
            Err(_) => errors.add(
                "duration_minutes",
                "Enter the duration as a whole number of minutes, like 50.",
            ),
        }
        let session_type = SessionType::parse(&self.session_type);
        if session_type.is_none() {
            errors.add("session_type", "Choose the kind of session.");
        }
        let template = template.filter(|t| Some(t.key.as_str()) == self.template_key());
        let format = if self.template_key().is_some() {
            if template.is_none() {
                errors.add(
                    "format",
                    "That note template is no longer offered (its pack was removed). Everything you typed is below in free text, under its headings: check it and save, or switch to another format.",
                );
            }
            Some(NoteFormat::Free)
        } else {
            NoteFormat::parse(&self.format)
        };
        if format.is_none() {
            errors.add("format", "Choose a note format.");
        }
        let key_moment = self.key_moment.trim().to_owned();
        if key_moment.chars().count() > MAX_KEY_MOMENT {
            errors.add(
                "key_moment",
                format!("Keep the key moment to one line of at most {MAX_KEY_MOMENT} characters."),
            );
        }
        let total: usize = self
            .sections
            .values()
            .map(|t| t.chars().count())
            .sum::<usize>()
            + self.key_moment.chars().count()
            + self.process_note.chars().count();
        if total > MAX_NOTE_CHARS {
            errors.add(
                "section_",
                format!(
                    "A note can hold up to {} characters; this one has {}. Move some of it into a second note.",
                    crate::web::layout::thousands(MAX_NOTE_CHARS),
                    crate::web::layout::thousands(total)
                ),
            );
        }
        for key in &self.tags {
            let known = builtin(key).is_some() || vocabulary.get(key).is_some();
            if !known {
                errors.add(
                    "tags",
                    "One of the chosen tags is not known any more. Check the tags and save again.",
                );
                break;
            }
        }
        let labels = self.new_tag_labels();
        if labels.len() > MAX_NEW_TAGS {
            errors.add(
                "new_tags",
                format!("Add at most {MAX_NEW_TAGS} new tags at a time."),
            );
        } else if labels.iter().any(|l| l.chars().count() > MAX_TAG_LABEL) {
            errors.add(
                "new_tags",
                format!("Keep each tag under {MAX_TAG_LABEL} characters."),
            );
        }
        let (Ok(_), Ok(duration_minutes), Some(session_type), Some(format)) =
            (date, duration, session_type, format)
        else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let (sections, _) = reformat_into(&self.sections, &sections_of(format, template), None);
        let mut tags: Vec<String> = Vec::new();
        for key in &self.tags {
            if !tags.contains(key) {
                tags.push(key.clone());
            }
        }
        Ok((
            SessionFacts {
                session_date: self.session_date.clone(),
                duration_minutes,
                session_type,
                format,
            },
            NoteContent {
                sections,
                key_moment,
                process_note: self.process_note.clone(),
                tags,
                template: template.cloned(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(pairs: &[(&str, &str)]) -> NoteInput {
        let body = serde_urlencoded::to_string(pairs).expect("encode");
        NoteInput::from_pairs(&Pairs::parse(body.as_bytes()).expect("parse"))
    }

    fn valid() -> Vec<(&'static str, &'static str)> {
        vec![
            ("session_date", "2026-03-02"),
            ("duration_minutes", "50"),
            ("session_type", "individual"),
            ("format", "soap"),
            ("section_subjective", "felt heard"),
            ("tag", "tearful-breakthrough"),
            ("tag", "vulnerability"),
        ]
    }

    #[test]
    fn a_good_note_validates_with_its_tags() {
        let (facts, content) = input(&valid())
            .validate(
                &Vocabulary::new(&[], &Default::default()),
                None,
                "2026-03-03",
            )
            .expect("valid");
        assert_eq!(facts.duration_minutes, 50);
        assert_eq!(content.tags, ["tearful-breakthrough", "vulnerability"]);
        assert_eq!(content.sections["subjective"], "felt heard");
    }

    #[test]
    fn impossible_dates_negative_durations_and_unknown_tags_are_named() {
        let mut bad = valid();
        bad[0] = ("session_date", "2026-02-30");
        bad[1] = ("duration_minutes", "-5");
        bad.push(("tag", "no-such-tag"));
        let errors = input(&bad)
            .validate(
                &Vocabulary::new(&[], &Default::default()),
                None,
                "2026-03-03",
            )
            .expect_err("invalid");
        assert!(errors.get("session_date").is_some());
        assert!(errors.get("duration_minutes").is_some());
        assert!(errors.get("tags").is_some());
    }

    #[test]
    fn the_future_is_refused_but_today_is_fine() {
        let mut v = valid();
        v[0] = ("session_date", "2026-03-03");
        assert!(
            input(&v)
                .validate(
                    &Vocabulary::new(&[], &Default::default()),
                    None,
                    "2026-03-03"
                )
                .is_ok()
        );
        v[0] = ("session_date", "2026-03-04");
        assert!(
            input(&v)
                .validate(
                    &Vocabulary::new(&[], &Default::default()),
                    None,
                    "2026-03-03"
                )
                .is_err()
        );
    }

    #[test]
    fn new_tags_are_cleaned_and_deduplicated() {
        let mut v = valid();
        v.push(("new_tags", " first  laugh , First Laugh,, anger softened "));
        assert_eq!(
            input(&v).new_tag_labels(),
            ["first laugh", "anger softened"]
        );
    }
}
