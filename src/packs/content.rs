//! What a verified pack holds, parsed: handouts (today's Markdown format),
//! note templates, tag vocabularies and rating scales (FHIR R4
//! `Questionnaire`). Every text here is shown escaped by the templates, and
//! handout bodies go through the same sanitiser as built-in ones; a pack
//! can add words, never markup or code.

use serde::{Deserialize, Serialize};

use super::files::{Files, Refusal};
use super::manifest::Manifest;
use crate::handouts::content::{self as handout, Handout, Origin};

/// Which pack something came from, as shown beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackLabel {
    /// The pack's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: i32,
}

/// One section of a note template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSection {
    /// Stored key: lower-case letters, digits and `_`.
    pub key: String,
    /// Heading.
    pub label: String,
    /// A prompt shown under the heading.
    #[serde(default)]
    pub prompt: String,
}

/// A note template: named sections with prompts. A note written with one
/// keeps a copy (sealed with the note), so it reads the same whatever
/// happens to the pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// `PACK/SLUG`: what the note form offers.
    pub key: String,
    /// Name shown.
    pub name: String,
    /// A line about when to use it.
    pub description: String,
    /// The pack it came from, at the version the note was written with.
    pub pack: PackLabel,
    /// Its sections, in order.
    pub sections: Vec<TemplateSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    name: String,
    #[serde(default)]
    description: String,
    sections: Vec<TemplateSection>,
}

/// A tag a pack adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackTag {
    /// What notes store: `pack:PACK/SLUG@VERSION`.
    pub term: String,
    /// The same tag in any version: `pack:PACK/SLUG`.
    pub family: String,
    /// Name shown.
    pub label: String,
    /// Help text.
    pub help: String,
    /// The pack's name.
    pub pack_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyFile {
    #[allow(dead_code)]
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    tags: Vec<TagEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagEntry {
    slug: String,
    label: String,
    #[serde(default)]
    help: String,
}

/// One answer of a rating-scale item and the score it counts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Its code in the questionnaire.
    pub code: String,
    /// Its words.
    pub display: String,
    /// The score it counts for.
    pub score: u8,
}

/// One item of a rating scale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The questionnaire's `linkId`.
    pub link_id: String,
    /// Its words.
    pub text: String,
    /// Its answers, in order.
    pub answers: Vec<Answer>,
}

/// A rating scale from a pack (a FHIR R4 `Questionnaire` of choice items,
/// each answer carrying its score as an `ordinalValue` extension).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackInstrument {
    /// `PACK/SLUG`.
    pub key: String,
    /// Its title.
    pub title: String,
    /// The questionnaire's canonical URL, if it has one.
    pub url: Option<String>,
    /// Its items.
    pub items: Vec<Item>,
    /// The pack it came from.
    pub pack: PackLabel,
}

impl PackInstrument {
    /// The highest total.
    pub fn max_total(&self) -> u32 {
        self.items
            .iter()
            .map(|i| u32::from(i.answers.iter().map(|a| a.score).max().unwrap_or(0)))
            .sum()
    }
}

/// Everything a pack adds.
#[derive(Clone, Debug, Default)]
pub struct Contents {
    /// Handouts.
    pub handouts: Vec<Handout>,
    /// Each handout's file in the pack, by slug.
    pub handout_files: std::collections::BTreeMap<String, String>,
    /// Note templates.
    pub templates: Vec<Template>,
    /// Tags.
    pub tags: Vec<PackTag>,
    /// Rating scales.
    pub instruments: Vec<PackInstrument>,
}

impl Contents {
    /// "2 handouts, 1 template, 8 tags, 1 rating scale".
    pub fn summary(&self) -> String {
        let part = |n: usize, one: &str, many: &str| match n {
            0 => None,
            1 => Some(format!("1 {one}")),
            n => Some(format!("{n} {many}")),
        };
        let parts: Vec<String> = [
            part(self.handouts.len(), "handout", "handouts"),
            part(self.templates.len(), "note template", "note templates"),
            part(self.tags.len(), "tag", "tags"),
            part(self.instruments.len(), "rating scale", "rating scales"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "nothing yet".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// The file's name without folder and extension: its slug in the pack.
fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

fn slug_ok(s: &str) -> bool {
    handout::valid_slug(s)
}

fn key_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Text a pack shows: not blank, not too long, no control characters.
fn text_ok(s: &str, max: usize) -> bool {
    !s.trim().is_empty()
        && s.chars().count() <= max
        && !s.chars().any(|c| c.is_control() && c != '\n')
}

fn toml_error(path: &str, e: &toml::de::Error, text: &str, keys: &str) -> Refusal {
    let line = e
        .span()
        .map(|s| {
            format!(
                " (line {})",
                1 + text[..s.start.min(text.len())].matches('\n').count()
            )
        })
        .unwrap_or_default();
    Refusal::new(path, format!("it is not valid: the keys are {keys}{line}"))
}

/// Parse every file of a verified pack. Any file that does not parse
/// refuses the pack whole, naming the file.
pub fn parse(
    manifest: &Manifest,
    files: &Files,
    origin: &dyn Fn(&str) -> Origin,
) -> Result<Contents, Refusal> {
    let pack = PackLabel {
        id: manifest.id.clone(),
        name: manifest.name.clone(),
        version: manifest.version,
    };
    let mut contents = Contents::default();
    for (path, text) in files {
        let Some((folder, _)) = path.split_once('/') else {
            continue;
        };
        let slug = stem(path);
        match folder {
            "handouts" => {
                let h = handout::parse(text, origin(path))
                    .map_err(|reason| Refusal::new(path, reason))?;
                if contents
                    .handout_files
                    .insert(h.slug.clone(), path.clone())
                    .is_some()
                {
                    return Err(Refusal::new(
                        path,
                        "its slug is already used by another handout in the pack",
                    ));
                }
                contents.handouts.push(h);
            }
            "templates" => contents.templates.push(template(&pack, path, slug, text)?),
            "vocabularies" => contents.tags.extend(vocabulary(&pack, path, text)?),
            "instruments" => contents
                .instruments
                .push(instrument(&pack, path, slug, text)?),
            _ => return Err(Refusal::new(path, super::files::kinds_allowed())),
        }
    }
    // Full handouts before their one-page cards, as the library lists them.
    contents
        .handouts
        .sort_by_key(|h| (h.card_of.is_some(), h.slug.clone()));
    let mut terms: Vec<&str> = contents.tags.iter().map(|t| t.term.as_str()).collect();
    terms.sort_unstable();
    if let Some(pair) = terms.windows(2).find(|w| w[0] == w[1]) {
        return Err(Refusal::new(
            "vocabularies/",
            format!(
                "two tags have the same slug ({})",
                pair[0].rsplit('/').next().unwrap_or("")
            ),
        ));
    }
    Ok(contents)
}

/// Whether a template (from a pack, or carried by an imported note) keeps
/// the rules a pack's must: a name, 1 to 12 sections with distinct keys of
/// lower-case letters, digits and `_`, each with a label.
pub fn template_is_sound(t: &Template) -> bool {
    text_ok(&t.name, 80)
        && (1..=12).contains(&t.sections.len())
        && t.sections.iter().enumerate().all(|(i, s)| {
            key_ok(&s.key)
                && text_ok(&s.label, 80)
                && s.prompt.chars().count() <= 300
                && !t.sections[..i].iter().any(|o| o.key == s.key)
        })
}

/// Whether a rating scale (from a pack, or carried by an imported measure)
/// keeps the rules a pack's must: a title, 1 to 60 items each with 2 to 11
/// answers scored 0 to 10.
pub fn instrument_is_sound(s: &PackInstrument) -> bool {
    text_ok(&s.title, 120)
        && !takes_a_builtin_name(&s.title)
        && s.url.as_deref().is_none_or(url_ok)
        && s.key
            .split_once('/')
            .is_some_and(|(pack, slug)| slug_ok(pack) && slug_ok(slug) && pack == s.pack.id)
        && text_ok(&s.pack.name, 120)
        && s.pack.version >= 1
        && (1..=60).contains(&s.items.len())
        && s.items.iter().all(|i| {
            text_ok(&i.text, 500)
                && text_ok(&i.link_id, 64)
                && (2..=11).contains(&i.answers.len())
                && i.answers
                    .iter()
                    .all(|a| a.score <= 10 && text_ok(&a.display, 200) && text_ok(&a.code, 64))
        })
}

fn template(pack: &PackLabel, path: &str, slug: &str, text: &str) -> Result<Template, Refusal> {
    let file: TemplateFile = toml::from_str(text).map_err(|e| {
        toml_error(
            path,
            &e,
            text,
            "name, description and [[sections]] with key, label and prompt",
        )
    })?;
    if !slug_ok(slug) {
        return Err(Refusal::new(
            path,
            "its file name must be lower-case letters, digits and dashes",
        ));
    }
    if !text_ok(&file.name, 80) || file.description.chars().count() > 300 {
        return Err(Refusal::new(
            path,
            "its name must be 1 to 80 characters and its description at most 300",
        ));
    }
    if file.sections.is_empty() || file.sections.len() > 12 {
        return Err(Refusal::new(path, "it must have between 1 and 12 sections"));
    }
    for (i, s) in file.sections.iter().enumerate() {
        if !key_ok(&s.key) {
            return Err(Refusal::new(
                path,
                format!(
                    "section {} has a key that is not lower-case letters, digits and _",
                    i + 1
                ),
            ));
        }
        if file.sections[..i].iter().any(|o| o.key == s.key) {
            return Err(Refusal::new(
                path,
                format!("section {} repeats the key of an earlier section", i + 1),
            ));
        }
        if !text_ok(&s.label, 80) || s.prompt.chars().count() > 300 {
            return Err(Refusal::new(
                path,
                format!(
                    "section {} needs a label of 1 to 80 characters and a prompt of at most 300",
                    i + 1
                ),
            ));
        }
    }
    Ok(Template {
        key: format!("{}/{slug}", pack.id),
        name: file.name.trim().to_owned(),
        description: file.description.trim().to_owned(),
        pack: pack.clone(),
        sections: file
            .sections
            .into_iter()
            .map(|s| TemplateSection {
                key: s.key,
                label: s.label.trim().to_owned(),
                prompt: s.prompt.trim().to_owned(),
            })
            .collect(),
    })
}

fn vocabulary(pack: &PackLabel, path: &str, text: &str) -> Result<Vec<PackTag>, Refusal> {
    let file: VocabularyFile = toml::from_str(text).map_err(|e| {
        toml_error(
            path,
            &e,
            text,
            "name, description and [[tags]] with slug, label and help",
        )
    })?;
    if file.tags.is_empty() || file.tags.len() > 100 {
        return Err(Refusal::new(path, "it must have between 1 and 100 tags"));
    }
    file.tags
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            if !slug_ok(&t.slug) || t.slug.len() > 60 {
                return Err(Refusal::new(
                    path,
                    format!(
                        "tag {} has a slug that is not lower-case letters, digits and dashes",
                        i + 1
                    ),
                ));
            }
            if !text_ok(&t.label, 60) || t.help.chars().count() > 300 {
                return Err(Refusal::new(
                    path,
                    format!(
                        "tag {} needs a label of 1 to 60 characters and help of at most 300",
                        i + 1
                    ),
                ));
            }
            let family = format!("pack:{}/{}", pack.id, t.slug);
            Ok(PackTag {
                term: format!("{family}@{}", pack.version),
                family,
                label: t.label.trim().to_owned(),
                help: t.help.trim().to_owned(),
                pack_name: pack.name.clone(),
            })
        })
        .collect()
}

/// Whether a scale's title is a built-in instrument's name (a pack may not
/// pass its scale off as the PHQ-9 or GAD-7, whose answers mean more).
fn takes_a_builtin_name(title: &str) -> bool {
    let t: String = title
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    ["phq9", "gad7"].iter().any(|n| t.starts_with(n))
}

/// A canonical URL a scale may name: http(s), at most 200 characters, no
/// spaces or controls.
fn url_ok(url: &str) -> bool {
    url.len() <= 200
        && (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The FHIR extension that gives an answer its score.
const ORDINAL: [&str; 2] = [
    "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
];

fn instrument(
    pack: &PackLabel,
    path: &str,
    slug: &str,
    text: &str,
) -> Result<PackInstrument, Refusal> {
    let bad = |why: String| Refusal::new(path, why);
    let q: serde_json::Value =
        serde_json::from_str(text).map_err(|_| bad("it is not valid JSON".into()))?;
    if q.get("resourceType").and_then(|v| v.as_str()) != Some("Questionnaire") {
        return Err(bad("it is not a FHIR Questionnaire (resourceType)".into()));
    }
    if !slug_ok(slug) {
        return Err(bad(
            "its file name must be lower-case letters, digits and dashes".into(),
        ));
    }
    let title = q
        .get("title")
        .and_then(|v| v.as_str())
        .filter(|t| text_ok(t, 120))
        .ok_or_else(|| bad("it needs a title of 1 to 120 characters".into()))?;
    if takes_a_builtin_name(title) {
        return Err(bad(
            "its title is a built-in scale's name (PHQ-9, GAD-7); a pack's scale needs its own"
                .into(),
        ));
    }
    let url = match q.get("url") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .filter(|u| url_ok(u))
                .ok_or_else(|| {
                    bad("its url must be an http(s) address of at most 200 characters".into())
                })?
                .to_owned(),
        ),
    };
    let items = q
        .get("item")
        .and_then(|v| v.as_array())
        .filter(|a| !a.is_empty() && a.len() <= 60)
        .ok_or_else(|| bad("it needs between 1 and 60 items".into()))?;
    let mut parsed = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let n = n + 1;
        let link_id = item
            .get("linkId")
            .and_then(|v| v.as_str())
            .filter(|s| text_ok(s, 64));
        let text = item
            .get("text")
            .and_then(|v| v.as_str())
            .filter(|s| text_ok(s, 500));
        let (Some(link_id), Some(text)) = (link_id, text) else {
            return Err(bad(format!("item {n} needs a linkId and a text")));
        };
        if item.get("type").and_then(|v| v.as_str()) != Some("choice") {
            return Err(bad(format!(
                "item {n} is not a choice item; a rating scale's items are choices"
            )));
        }
        let options = item
            .get("answerOption")
            .and_then(|v| v.as_array())
            .filter(|a| (2..=11).contains(&a.len()))
            .ok_or_else(|| {
                bad(format!(
                    "item {n} needs between 2 and 11 answerOption entries"
                ))
            })?;
        let mut answers = Vec::new();
        for option in options {
            let coding = option.get("valueCoding");
            let code = coding
                .and_then(|c| c.get("code"))
                .and_then(|v| v.as_str())
                .filter(|s| text_ok(s, 64));
            let display = coding
                .and_then(|c| c.get("display"))
                .and_then(|v| v.as_str())
                .filter(|s| text_ok(s, 200));
            let score = option
                .get("extension")
                .and_then(|v| v.as_array())
                .and_then(|exts| {
                    exts.iter().find(|e| {
                        e.get("url")
                            .and_then(|u| u.as_str())
                            .is_some_and(|u| ORDINAL.contains(&u))
                    })
                })
                .and_then(|e| e.get("valueDecimal").or_else(|| e.get("valueInteger")))
                .and_then(serde_json::Value::as_f64)
                .filter(|s| s.fract() == 0.0 && (0.0..=10.0).contains(s));
            let (Some(code), Some(display), Some(score)) = (code, display, score) else {
                return Err(bad(format!(
                    "an answer of item {n} needs a valueCoding with code and display, and a whole score from 0 to 10 in an ordinalValue extension"
                )));
            };
            answers.push(Answer {
                code: code.to_owned(),
                display: display.to_owned(),
                score: score as u8,
            });
        }
        parsed.push(Item {
            link_id: link_id.to_owned(),
            text: text.to_owned(),
            answers,
        });
    }
    Ok(PackInstrument {
        key: format!("{}/{slug}", pack.id),
        title: title.to_owned(),
        url,
        items: parsed,
        pack: pack.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack() -> PackLabel {
        PackLabel {
            id: "p".into(),
            name: "P".into(),
            version: 1,
        }
    }

    fn scale(title: &str, url: &str) -> String {
        serde_json::json!({
            "resourceType": "Questionnaire",
            "title": title,
            "url": url,
            "item": [{"linkId": "1", "text": "Q", "type": "choice", "answerOption": [
                {"valueCoding": {"code": "a", "display": "A"}, "extension": [{"url": ORDINAL[0], "valueDecimal": 0}]},
                {"valueCoding": {"code": "b", "display": "B"}, "extension": [{"url": ORDINAL[0], "valueDecimal": 1}]}
            ]}]
        })
        .to_string()
    }

    #[test]
    fn a_scale_may_not_take_a_builtin_name_or_a_strange_url() {
        let ok = instrument(
            &pack(),
            "instruments/s.json",
            "s",
            &scale("Mood check", "https://example.org/q/s"),
        )
        .expect("a sound scale");
        assert!(instrument_is_sound(&ok));
        for (title, url) in [
            ("PHQ-9", "https://example.org/q"),
            ("phq 9 (short)", "https://example.org/q"),
            ("GAD-7", "https://example.org/q"),
            ("Mood", "javascript:alert(1)"),
            ("Mood", "https://example.org/has space"),
        ] {
            let err = instrument(&pack(), "instruments/s.json", "s", &scale(title, url));
            assert!(err.is_err(), "{title} {url}");
        }
    }
}
