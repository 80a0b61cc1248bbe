//! From Markdown to safe HTML, and how hard a text is to read.
//!
//! Every handout body (built-in, pack, imported) goes through the same
//! path: pulldown-cmark renders it, the `[lines: N]` marker becomes lines to
//! write on, and ammonia removes anything that is not plain, passive
//! markup. Templates mark only this output `|safe`.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Options, Parser, html};

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let tags: HashSet<&str> = [
        "h1",
        "h2",
        "h3",
        "h4",
        "p",
        "br",
        "hr",
        "ul",
        "ol",
        "li",
        "strong",
        "em",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "a",
        "div",
        "span",
        "section",
    ]
    .into_iter()
    .collect();
    let mut b = ammonia::Builder::default();
    b.tags(tags)
        .tag_attributes(Default::default())
        .add_tag_attributes("a", ["href"])
        .allowed_classes(
            [
                ("div", ["write-lines"].into_iter().collect()),
                ("span", ["write-line"].into_iter().collect()),
                ("section", ["part", "wide"].into_iter().collect()),
            ]
            .into_iter()
            .collect(),
        )
        .url_schemes(["https", "http", "mailto"].into_iter().collect())
        // No rel on links: links cannot open new windows (no target), every
        // page is sent with Referrer-Policy: no-referrer, and a link whose
        // URL was removed (javascript:) must stay a valid placeholder <a>,
        // which a rel attribute would make invalid HTML.
        .link_rel(None)
        .strip_comments(true);
    b
});

/// Clean any HTML down to passive markup.
pub fn sanitize(html: &str) -> String {
    SANITIZER.clean(html).to_string()
}

fn write_lines(n: usize) -> String {
    let n = n.clamp(1, 12);
    let lines: String = (0..n)
        .map(|_| "<span class=\"write-line\"></span>")
        .collect();
    format!("<div class=\"write-lines\">{lines}</div>")
}

/// Wrap each top-level `##` heading and what follows it (and whatever
/// comes before the first one) in a `<section>`, so a print page can lay
/// the parts out and box them. A short part (a paragraph or two of prose)
/// is `part`, and a print page sets short parts two to a row; anything
/// longer, with a list, a table or lines to write on, and the opening, is
/// `part wide`. A short part left alone in its run is widened too, so the
/// two-column rows never leave a hole.
fn in_parts<'a>(
    events: impl Iterator<Item = pulldown_cmark::Event<'a>>,
) -> impl Iterator<Item = pulldown_cmark::Event<'a>> {
    use pulldown_cmark::{CowStr, Event, HeadingLevel, Tag};
    let mut parts: Vec<Vec<Event<'a>>> = Vec::new();
    let mut depth = 0usize;
    for event in events {
        let starts_part = depth == 0
            && match &event {
                Event::Start(Tag::Heading {
                    level: HeadingLevel::H2,
                    ..
                }) => true,
                Event::Start(_) => parts.is_empty(),
                _ => false,
            };
        if starts_part {
            parts.push(Vec::new());
        }
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if let Some(part) = parts.last_mut() {
            part.push(event);
        }
    }
    let mut wide: Vec<bool> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| i == 0 || !is_short(part))
        .collect();
    // Widen the last short part of every run of odd length.
    let mut run = 0;
    for i in 0..=wide.len() {
        if i < wide.len() && !wide[i] {
            run += 1;
            continue;
        }
        if run % 2 == 1 {
            wide[i - 1] = true;
        }
        run = 0;
    }
    parts.into_iter().zip(wide).flat_map(|(part, wide)| {
        let open = if wide {
            "<section class=\"part wide\">\n"
        } else {
            "<section class=\"part\">\n"
        };
        std::iter::once(Event::Html(CowStr::Borrowed(open)))
            .chain(part)
            .chain(std::iter::once(Event::Html(CowStr::Borrowed(
                "</section>\n",
            ))))
    })
}

/// Whether a part is a heading and a little prose: at most two
/// paragraphs, about seventy words, no list, table or lines to write on.
fn is_short(part: &[pulldown_cmark::Event<'_>]) -> bool {
    use pulldown_cmark::{Event, Tag};
    let mut paragraphs = 0;
    let mut words = 0;
    for event in part {
        match event {
            Event::Start(Tag::Paragraph) => paragraphs += 1,
            Event::Start(Tag::List(_) | Tag::Table(_) | Tag::BlockQuote(_)) => return false,
            Event::Text(t) if t.starts_with("[lines:") => return false,
            Event::Text(t) => words += t.split_whitespace().count(),
            _ => {}
        }
    }
    paragraphs <= 2 && words <= 70
}

/// Render a Markdown body to sanitised HTML.
pub fn to_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut raw = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut raw, in_parts(Parser::new_ext(markdown, options)));
    // `[lines: N]` alone in a paragraph becomes lines to write on.
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw.as_str();
    while let Some(at) = rest.find("<p>[lines: ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "<p>[lines: ".len()..];
        match after.split_once("]</p>") {
            Some((n, tail)) if n.trim().parse::<usize>().is_ok() => {
                out.push_str(&write_lines(n.trim().parse().unwrap_or(2)));
                rest = tail;
            }
            _ => {
                out.push_str("<p>[lines: ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    sanitize(&out)
}

/// The words of a Markdown body without markup, for counting.
pub fn plain_text(markdown: &str) -> String {
    use pulldown_cmark::{Event, Tag, TagEnd};
    let mut text = String::new();
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Text(t) | Event::Code(t) if !t.starts_with("[lines:") => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::TableCell,
            ) => text.push_str(".\n"),
            Event::Start(Tag::Item) => text.push(' '),
            _ => {}
        }
    }
    text
}

/// English syllables in a word, by the usual vowel-group rule.
fn syllables(word: &str) -> usize {
    let w: Vec<char> = word
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphabetic())
        .collect();
    if w.is_empty() {
        return 0;
    }
    if w.len() <= 3 {
        return 1;
    }
    // "y" is a consonant at the start of a word ("young"); next to another
    // vowel after it, it starts a new syllable ("cry-ing", "play-er").
    let vowel = |i: usize| "aeiouy".contains(w[i]) && !(i == 0 && w[i] == 'y');
    let mut count = 0;
    let mut previous = false;
    for i in 0..w.len() {
        let v = vowel(i);
        let after_y = i > 0 && w[i - 1] == 'y' && previous && w[i] != 'y';
        if v && (!previous || after_y) {
            count += 1;
        }
        previous = v;
    }
    let ends = |s: &str| w.iter().rev().take(s.len()).rev().collect::<String>() == s;
    if ends("e") && !ends("le") && count > 1 {
        count -= 1;
    }
    if (ends("es") || ends("ed")) && count > 1 && !ends("ted") && !ends("ded") {
        count -= 1;
    }
    count.max(1)
}

/// How hard a text is to read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Readability {
    /// Flesch–Kincaid US grade level.
    pub grade: f64,
    /// Words counted.
    pub words: usize,
    /// Sentences counted.
    pub sentences: usize,
}

/// The Flesch–Kincaid grade level of a Markdown body.
pub fn readability(markdown: &str) -> Readability {
    let (words, sentences, syllable_total) = counts(markdown, syllables);
    let n = words.max(1) as f64;
    let grade = 0.39 * (n / sentences as f64) + 11.8 * (syllable_total as f64 / n) - 15.59;
    Readability {
        grade: (grade * 10.0).round() / 10.0,
        words,
        sentences,
    }
}

/// Spanish syllables in a word: each group of vowels is one syllable,
/// except that two strong vowels (a, e, o, or an accented í or ú) side by
/// side are two (hiatus: "le-er", "dí-a"); a final y after a vowel joins it
/// ("hoy", "muy").
fn spanish_syllables(word: &str) -> usize {
    let w: Vec<char> = word
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphabetic())
        .collect();
    let strong = |c: char| "aeoáéóíú".contains(c);
    let vowel = |c: char| strong(c) || "iuü".contains(c);
    let mut count = 0;
    let mut previous: Option<char> = None;
    for (i, &c) in w.iter().enumerate() {
        let final_y = c == 'y' && i + 1 == w.len() && previous.is_some();
        if !vowel(c) && !final_y {
            previous = None;
            continue;
        }
        match previous {
            None => count += 1,
            Some(p) if strong(p) && strong(c) => count += 1,
            Some(_) => {}
        }
        previous = Some(c);
    }
    count.max(1)
}

/// Words, sentences and syllables of a Markdown body, by a language's
/// syllable rule.
fn counts(markdown: &str, syllables_of: fn(&str) -> usize) -> (usize, usize, usize) {
    let text = plain_text(markdown);
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    let sentences = text
        .split(['.', '!', '?', '\n'])
        .filter(|s| {
            s.split_whitespace()
                .any(|w| w.chars().any(char::is_alphanumeric))
        })
        .count()
        .max(1);
    let syllables = words.iter().map(|w| syllables_of(w)).sum();
    (words.len(), sentences, syllables)
}

/// How hard a handout is to read, by a formula made for its language.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadingLevel {
    /// The formula's name, as shown.
    pub formula: &'static str,
    /// Its result as shown: "grade 3.2", "78.4 of 100, fairly easy"; or
    /// why there is none.
    pub result: String,
    /// The number itself (a grade, or an ease score), when there is one.
    pub value: Option<f64>,
    /// Whether it reads harder than most clients can easily manage (above
    /// grade 8; below 55, "somewhat hard", on the INFLESZ scale).
    pub hard: bool,
}

impl ReadingLevel {
    /// "Reading level: grade 3.2 (Flesch–Kincaid)".
    pub fn describe(&self) -> String {
        if self.value.is_some() {
            format!("Reading level: {} ({})", self.result, self.formula)
        } else {
            format!("Reading level: {}", self.result)
        }
    }
}

/// The Szigriszt-Pazos perspicuity of a Spanish text, 0 (hardest) to 100:
/// 206.835 − 62.3 × syllables per word − words per sentence (Szigriszt
/// Pazos, 1993), the Spanish adaptation of Flesch's reading ease.
pub fn szigriszt_pazos(markdown: &str) -> f64 {
    let (words, sentences, syllables) = counts(markdown, spanish_syllables);
    let n = words.max(1) as f64;
    let score = 206.835 - 62.3 * (syllables as f64 / n) - n / sentences as f64;
    (score.clamp(0.0, 100.0) * 10.0).round() / 10.0
}

/// The INFLESZ band of a perspicuity score (Barrio-Cantalejo et al., 2008).
fn inflesz(score: f64) -> &'static str {
    match score {
        s if s < 40.0 => "very hard",
        s if s < 55.0 => "somewhat hard",
        s if s < 65.0 => "normal",
        s if s <= 80.0 => "fairly easy",
        _ => "very easy",
    }
}

/// A handout's reading level by its language's formula: Flesch–Kincaid
/// grade for English, Szigriszt-Pazos perspicuity on the INFLESZ scale for
/// Spanish; for other languages none (an English formula would mislead).
pub fn reading_level(markdown: &str, lang: &str) -> ReadingLevel {
    match crate::lang::primary(lang).as_str() {
        "en" => {
            let grade = readability(markdown).grade;
            ReadingLevel {
                formula: "Flesch–Kincaid",
                result: format!("grade {grade:.1}"),
                value: Some(grade),
                hard: grade > 8.0,
            }
        }
        "es" => {
            let score = szigriszt_pazos(markdown);
            ReadingLevel {
                formula: "Szigriszt-Pazos perspicuity, INFLESZ scale",
                result: format!("{score:.1} of 100, {}", inflesz(score)),
                value: Some(score),
                hard: score < 55.0,
            }
        }
        _ => ReadingLevel {
            formula: "",
            result: format!(
                "not measured (Tearsheet has formulas for English and Spanish, not {})",
                crate::lang::name(lang)
            ),
            value: None,
            hard: false,
        },
    }
}

/// Printed pages at normal size, estimated from the words (the print tests
/// measure the real count in Chromium on Letter and A4).
pub fn estimated_pages(markdown: &str) -> usize {
    let r = readability(markdown);
    let lines = markdown.matches("[lines:").count();
    (r.words + lines * 40).div_ceil(520).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_markup_in_markdown_is_removed() {
        let html = to_html(
            "Hi <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3)) <a href=\"https://ok.example\" onclick=\"x()\">ok</a>",
        );
        for bad in ["<script", "onerror", "javascript:", "onclick", "<img"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(html.contains("href=\"https://ok.example\""));
    }

    #[test]
    fn lines_to_write_on_are_drawn() {
        let html = to_html("Prompt\n\n[lines: 3]\n\n[lines: x]");
        assert_eq!(html.matches("write-line\"").count(), 3);
        assert!(html.contains("[lines: x]"));
    }

    #[test]
    fn short_parts_pair_up_and_a_lone_one_is_widened() {
        let html = to_html(
            "Opening words.\n\n## One\n\nShort.\n\n## Two\n\nShort.\n\n## Three\n\nShort.\n\n\
             ## Listed\n\n- a\n- b\n\n## Four\n\nShort.\n\n## Five\n\nShort.\n\n\
             ## Ask\n\n**Q?**\n\n[lines: 2]",
        );
        let classes: Vec<&str> = html
            .split("<section class=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap_or(""))
            .collect();
        assert_eq!(
            classes,
            [
                "part wide", // the opening
                "part",
                "part",
                "part wide", // Three: alone after a pair
                "part wide", // a list
                "part",
                "part",
                "part wide", // lines to write on
            ]
        );
        assert_eq!(html.matches("</section>").count(), 8);
    }

    #[test]
    fn simple_text_reads_easier_than_dense_text() {
        let easy = readability("The cat sat on the mat. It was warm. We were glad.");
        let hard = readability(
            "Institutional considerations notwithstanding, psychotherapeutic interventions necessitate comprehensive multidisciplinary evaluation.",
        );
        assert!(easy.grade < 3.0, "{easy:?}");
        assert!(hard.grade > 14.0, "{hard:?}");
        assert_eq!(easy.sentences, 3);
    }

    #[test]
    fn the_crying_handouts_read_easily_by_their_languages_formula() {
        for h in super::super::content::builtins() {
            let level = reading_level(&h.body, &h.lang);
            match h.lang.as_str() {
                "en" => assert!(
                    level.value.expect("measured") <= 7.0,
                    "{}: {level:?}",
                    h.slug
                ),
                "es" => {
                    assert_eq!(level.formula, "Szigriszt-Pazos perspicuity, INFLESZ scale");
                    assert!(
                        level.value.expect("measured") >= 65.0,
                        "{}: {level:?}",
                        h.slug
                    );
                }
                other => panic!("{} is in {other}", h.slug),
            }
            assert!(!level.hard, "{}: {level:?}", h.slug);
        }
    }

    #[test]
    fn spanish_syllables_follow_diphthong_and_hiatus() {
        for (word, n) in [
            ("llorar", 2),
            ("terapia", 3),
            ("emoción", 3),
            ("día", 2),
            ("país", 2),
            ("leer", 2),
            ("hoy", 1),
            ("cuidado", 3),
            ("que", 1),
            ("pingüino", 3),
            ("y", 1),
            ("estrés", 2),
        ] {
            assert_eq!(spanish_syllables(word), n, "{word}");
        }
    }

    #[test]
    fn the_spanish_formula_is_szigriszt_pazos() {
        // 4 words, 8 syllables, 1 sentence: 206.835 - 62.3 * 2 - 4.
        assert_eq!(szigriszt_pazos("El gato come pescado."), 78.2);
        let level = reading_level("El gato come pescado.", "es-MX");
        assert_eq!(
            level.describe(),
            "Reading level: 78.2 of 100, fairly easy (Szigriszt-Pazos perspicuity, INFLESZ scale)"
        );
        let hard = reading_level(
            "La implementación institucional de intervenciones psicoterapéuticas multidisciplinarias requiere consideraciones extraordinariamente pormenorizadas.",
            "es",
        );
        assert!(hard.hard, "{hard:?}");
        assert!(reading_level("Bonjour.", "fr").value.is_none());
        assert!(
            reading_level("The cat sat.", "en")
                .describe()
                .ends_with("(Flesch–Kincaid)")
        );
    }

    #[test]
    fn syllables_follow_the_usual_rule() {
        for (word, n) in [
            ("cry", 1),
            ("crying", 2),
            ("therapy", 3),
            ("breakthrough", 2),
            ("vulnerable", 4),
            ("tears", 1),
            ("hopes", 1),
            ("young", 1),
            ("player", 2),
        ] {
            assert_eq!(syllables(word), n, "{word}");
        }
    }
}
