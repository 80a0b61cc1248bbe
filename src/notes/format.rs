//! Note formats and their sections, session types, and moving text between
//! formats without losing any.

use std::collections::BTreeMap;

pub use crate::packs::content::Template;

/// One section of a note format.
#[derive(Debug)]
pub struct Section {
    /// Stored key (also the form field `section_<key>`).
    pub key: &'static str,
    /// Heading shown to the therapist.
    pub label: &'static str,
    /// A one-line prompt shown under the heading.
    pub hint: &'static str,
}

/// Each format's sections, read from the built-in pack's templates
/// (`src/packs/builtin/templates/`), in [`NoteFormat::ALL`] order.
static SECTIONS: std::sync::LazyLock<[Vec<Section>; 4]> = std::sync::LazyLock::new(|| {
    NoteFormat::ALL.map(|format| {
        let key = format!("tearsheet/{}", format.key());
        crate::packs::builtin::BUILTIN
            .contents
            .templates
            .iter()
            .find(|t| t.key == key)
            .map(|t| {
                t.sections
                    .iter()
                    .map(|s| Section {
                        key: s.key.as_str(),
                        label: s.label.as_str(),
                        hint: s.prompt.as_str(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
});

/// A note's documentation format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteFormat {
    /// Subjective, Objective, Assessment, Plan.
    Soap,
    /// Data, Assessment, Plan.
    Dap,
    /// Behaviour, Intervention, Response, Plan.
    Birp,
    /// One free-text section.
    Free,
}

impl NoteFormat {
    /// Every format, in the order offered.
    pub const ALL: [Self; 4] = [Self::Soap, Self::Dap, Self::Birp, Self::Free];

    /// Stored name.
    pub fn key(self) -> &'static str {
        match self {
            Self::Soap => "soap",
            Self::Dap => "dap",
            Self::Birp => "birp",
            Self::Free => "free",
        }
    }

    /// Name shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::Soap => "SOAP",
            Self::Dap => "DAP",
            Self::Birp => "BIRP",
            Self::Free => "Free text",
        }
    }

    /// Read a stored or submitted name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.key() == s)
    }

    /// The format's sections, in order.
    pub fn sections(self) -> &'static [Section] {
        let index = Self::ALL.iter().position(|f| *f == self).unwrap_or(0);
        &SECTIONS[index]
    }
}

/// A section to show or fill: from a built-in format, or from the pack
/// template a note keeps with it.
#[derive(Clone, Copy, Debug)]
pub struct SectionRef<'a> {
    /// Stored key (also the form field `section_<key>`).
    pub key: &'a str,
    /// Heading.
    pub label: &'a str,
    /// Prompt under the heading.
    pub hint: &'a str,
}

/// The form value that chooses a pack template: `template:PACK/SLUG`.
pub const TEMPLATE_PREFIX: &str = "template:";

/// The sections of a note: its template's when it was written with one
/// (kept with the note, so they read the same whatever happens to the
/// pack), else its format's.
pub fn sections_of(format: NoteFormat, template: Option<&Template>) -> Vec<SectionRef<'_>> {
    match template {
        Some(t) => t
            .sections
            .iter()
            .map(|s| SectionRef {
                key: &s.key,
                label: &s.label,
                hint: &s.prompt,
            })
            .collect(),
        None => format
            .sections()
            .iter()
            .map(|s| SectionRef {
                key: s.key,
                label: s.label,
                hint: s.hint,
            })
            .collect(),
    }
}

/// The name of a note's format, or of its template and the pack it came
/// from.
pub fn name_of(format: NoteFormat, template: Option<&Template>) -> String {
    match template {
        Some(t) => format!(
            "{} (from {}, version {})",
            t.name, t.pack.name, t.pack.version
        ),
        None => format.label().to_owned(),
    }
}

/// The note form's value for a format or template.
pub fn form_value(format: NoteFormat, template: Option<&Template>) -> String {
    match template {
        Some(t) => format!("{TEMPLATE_PREFIX}{}", t.key),
        None => format.key().to_owned(),
    }
}

/// A heading for a stored section key: the template's label, a built-in
/// format's, or the key itself in words.
fn label_of(key: &str, from: Option<&Template>) -> String {
    if let Some(s) = from.and_then(|t| t.sections.iter().find(|s| s.key == key)) {
        return s.label.clone();
    }
    NoteFormat::ALL
        .iter()
        .flat_map(|f| f.sections())
        .find(|s| s.key == key)
        .map_or_else(
            || {
                let words = key.replace('_', " ");
                let mut chars = words.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                    .unwrap_or_default()
            },
            |s| s.label.to_owned(),
        )
}

/// Where a section stands among the sections it came from, in the order
/// they are written (Subjective before Objective, a template's in its
/// order); unknown keys last. Text moved between formats keeps this order.
fn written_order(key: &str, from: Option<&Template>) -> usize {
    if let Some(i) = from.and_then(|t| t.sections.iter().position(|s| s.key == key)) {
        return i;
    }
    NoteFormat::ALL
        .iter()
        .flat_map(|f| f.sections())
        .position(|s| s.key == key)
        .map_or(usize::MAX, |i| 100 + i)
}

/// Move text into another format's sections. Sections both formats share
/// keep their text; text from sections the new format lacks is appended to
/// its first section under its old heading, so nothing typed is ever lost.
/// Returns the new sections and the headings that were moved.
pub fn reformat(
    sections: &BTreeMap<String, String>,
    to: NoteFormat,
) -> (BTreeMap<String, String>, Vec<String>) {
    reformat_into(sections, &sections_of(to, None), None)
}

/// [`reformat`] into any sections (a template's), naming moved text by the
/// headings of `from` (the template it was written in, if any).
pub fn reformat_into(
    sections: &BTreeMap<String, String>,
    targets: &[SectionRef<'_>],
    from: Option<&Template>,
) -> (BTreeMap<String, String>, Vec<String>) {
    if targets.is_empty() {
        // Nowhere to put anything (a template without sections, which only
        // a hand-made import could hold): keep every section as it is.
        return (sections.clone(), Vec::new());
    }
    let mut out: BTreeMap<String, String> = targets
        .iter()
        .map(|s| {
            (
                s.key.to_owned(),
                sections.get(s.key).cloned().unwrap_or_default(),
            )
        })
        .collect();
    let mut moved = Vec::new();
    let mut leaving: Vec<(&String, &String)> = sections
        .iter()
        .filter(|(key, text)| !text.trim().is_empty() && !targets.iter().any(|s| s.key == *key))
        .collect();
    leaving.sort_by_key(|(key, _)| written_order(key, from));
    let Some(first) = targets.first() else {
        return (out, moved);
    };
    for (key, text) in leaving {
        let label = label_of(key, from);
        let first = out.entry(first.key.to_owned()).or_default();
        if !first.trim().is_empty() {
            first.push_str("\n\n");
        }
        first.push_str(&format!("{label}:\n{}", text.trim_end()));
        moved.push(label);
    }
    (out, moved)
}

/// The kind of session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionType {
    /// One client.
    Individual,
    /// A couple.
    Couple,
    /// A family.
    Family,
    /// A group.
    Group,
}

impl SessionType {
    /// Every type, in the order offered.
    pub const ALL: [Self; 4] = [Self::Individual, Self::Couple, Self::Family, Self::Group];

    /// Stored name.
    pub fn key(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Couple => "couple",
            Self::Family => "family",
            Self::Group => "group",
        }
    }

    /// Name shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::Individual => "Individual",
            Self::Couple => "Couple",
            Self::Family => "Family",
            Self::Group => "Group",
        }
    }

    /// Read a stored or submitted name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.key() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn shared_sections_keep_their_text_and_the_rest_moves_into_the_first() {
        let soap = map(&[
            ("subjective", "felt alone"),
            ("objective", "tearful"),
            ("assessment", "grief"),
            ("plan", "journal"),
        ]);
        let (dap, moved) = reformat(&soap, NoteFormat::Dap);
        assert_eq!(dap["assessment"], "grief");
        assert_eq!(dap["plan"], "journal");
        assert_eq!(
            dap["data"],
            "Subjective:\nfelt alone\n\nObjective:\ntearful"
        );
        assert_eq!(
            moved,
            ["Subjective", "Objective"],
            "in the order they were written"
        );
        assert_eq!(dap.len(), 3);
    }

    #[test]
    fn every_word_survives_any_chain_of_format_changes() {
        let mut sections = map(&[
            ("subjective", "alpha"),
            ("objective", "beta"),
            ("assessment", "gamma"),
            ("plan", "delta"),
        ]);
        for to in [
            NoteFormat::Birp,
            NoteFormat::Free,
            NoteFormat::Dap,
            NoteFormat::Soap,
        ] {
            sections = reformat(&sections, to).0;
            let all: String = sections.values().cloned().collect::<Vec<_>>().join(" ");
            for word in ["alpha", "beta", "gamma", "delta"] {
                assert!(
                    all.contains(word),
                    "{word} lost going to {to:?}: {sections:?}"
                );
            }
        }
    }

    #[test]
    fn empty_sections_are_not_moved() {
        let (free, moved) = reformat(&map(&[("subjective", " "), ("plan", "")]), NoteFormat::Free);
        assert_eq!(free["text"], "");
        assert!(moved.is_empty());
    }
}
