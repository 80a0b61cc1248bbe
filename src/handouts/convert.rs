//! Turning an article into a handout draft: plain text as copied from a web
//! page (repeated headings, bullet characters, flattened tables), Markdown,
//! or HTML. The result is always Markdown, which the therapist previews,
//! edits and saves; rendering sanitises it again.

use std::sync::LazyLock;

/// What the pasted text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Text copied from a web page or a document.
    Plain,
    /// Markdown (with or without `+++` front matter).
    Markdown,
    /// HTML.
    Html,
}

impl SourceKind {
    /// Read the form's choice; `None` means "work it out".
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "plain" => Some(Self::Plain),
            "markdown" => Some(Self::Markdown),
            "html" => Some(Self::Html),
            _ => None,
        }
    }

    /// Guess from the text itself.
    pub fn detect(text: &str) -> Self {
        let lower = text.to_ascii_lowercase();
        let html_tags = [
            "<p>", "<p ", "<h1", "<h2", "<div", "<ul", "<ol", "<br", "<html", "<body", "<table",
            "<script", "<li>", "<a ",
        ];
        if html_tags.iter().any(|t| lower.contains(t)) {
            return Self::Html;
        }
        let markdownish = text.trim_start().starts_with("+++")
            || text.lines().any(|l| {
                l.starts_with("# ")
                    || l.starts_with("## ")
                    || l.starts_with("### ")
                    || l.starts_with("* ")
                    || l.contains("**")
            });
        if markdownish {
            Self::Markdown
        } else {
            Self::Plain
        }
    }
}

/// Convert pasted text of a kind into Markdown.
pub fn to_markdown(text: &str, kind: SourceKind) -> String {
    match kind {
        SourceKind::Plain => from_plain_text(text),
        SourceKind::Markdown => strip_front_matter(text).trim().to_owned() + "\n",
        SourceKind::Html => from_html(text),
    }
}

fn strip_front_matter(text: &str) -> &str {
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix("+++") {
        if let Some((_, body)) = rest.split_once("\n+++") {
            return body;
        }
    }
    text
}

/// Fold a line for comparison: case, quotes and spacing do not matter.
fn fold(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{201b}' | '`' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            c => c,
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

const BULLETS: [char; 7] = ['•', '◦', '▪', '‣', '·', '–', '-'];

fn bullet(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let first = t.chars().next()?;
    if BULLETS.contains(&first) || (first == '*' && t.starts_with("* ")) {
        let rest = t[first.len_utf8()..].trim_start();
        return (!rest.is_empty()).then_some(rest);
    }
    None
}

/// "1. text", "2) text", or a flattened table's "1Text".
fn numbered(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let (n, rest) = t.split_at(digits);
    let rest = rest
        .strip_prefix(". ")
        .or_else(|| rest.strip_prefix(") "))
        .or_else(|| {
            rest.chars()
                .next()
                .filter(|c| c.is_uppercase())
                .map(|_| rest)
        })?;
    Some((n, rest.trim()))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Split a line whose table cells were run together ("Cried in TherapyFound
/// it Therapeutic", "US Population60%Nearly 100%") at the seams.
fn cells(line: &str) -> Vec<String> {
    if line.contains('\t') {
        return line
            .split('\t')
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
    }
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 {
            let p = chars[i - 1];
            let seam = (p.is_lowercase() && c.is_uppercase())
                || (p.is_alphabetic()
                    && c.is_ascii_digit()
                    && !i
                        .checked_sub(2)
                        .and_then(|j| chars.get(j))
                        .is_some_and(|q| q.is_ascii_digit()))
                || (p == '%' && c.is_alphabetic());
            if seam {
                out.push(std::mem::take(&mut current).trim().to_owned());
            }
        }
        current.push(c);
    }
    out.push(current.trim().to_owned());
    out.retain(|c| !c.is_empty());
    out
}

fn looks_like_heading(line: &str, next_blank: bool) -> bool {
    let t = line.trim();
    let words = t.split_whitespace().count();
    let first_upper = t.chars().next().is_some_and(char::is_uppercase);
    let ends_plainly = !t.ends_with(['.', ',', ';', ':', '!', '"', '\u{201d}']);
    next_blank
        && first_upper
        && ends_plainly
        && (1..=12).contains(&words)
        && t.chars().count() <= 80
}

/// Convert text copied from a web page into Markdown.
pub fn from_plain_text(text: &str) -> String {
    let text = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\u{a0}', " ");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut out: Vec<String> = Vec::new();
    let mut headings: Vec<String> = Vec::new();
    let mut paragraph: Vec<String> = Vec::new();
    let mut list_open = false;
    let flush = |paragraph: &mut Vec<String>, out: &mut Vec<String>| {
        if !paragraph.is_empty() {
            out.push(paragraph.join(" "));
            out.push(String::new());
            paragraph.clear();
        }
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let next_blank = lines.get(i + 1).is_none_or(|l| l.trim().is_empty());
        if line.trim().is_empty() {
            flush(&mut paragraph, &mut out);
            i += 1;
            continue;
        }
        // A heading repeated (web pages often print it twice) is kept once.
        let folded = fold(line);
        if headings.last().is_some_and(|h| *h == folded) {
            i += 1;
            continue;
        }
        if let Some(item) = bullet(line) {
            flush(&mut paragraph, &mut out);
            out.push(format!("- {}", escape(item.trim())));
            list_open = true;
            i += 1;
            continue;
        }
        if let Some((n, item)) = numbered(line) {
            flush(&mut paragraph, &mut out);
            out.push(format!("{n}. {}", escape(item)));
            list_open = true;
            i += 1;
            continue;
        }
        if list_open {
            out.push(String::new());
            list_open = false;
        }
        // Two or more lines in a row that split into cells make a table.
        let row = cells(line);
        if row.len() >= 2 && paragraph.is_empty() {
            let mut rows = vec![row];
            let mut j = i + 1;
            while j < lines.len() && !lines[j].trim().is_empty() {
                let next = cells(lines[j]);
                if next.len() < 2 {
                    break;
                }
                rows.push(next);
                j += 1;
            }
            if rows.len() >= 2 {
                let width = rows.iter().map(Vec::len).max().unwrap_or(2);
                for r in &mut rows {
                    while r.len() < width {
                        r.insert(0, String::new());
                    }
                }
                let line_of = |r: &Vec<String>| {
                    format!(
                        "| {} |",
                        r.iter().map(|c| escape(c)).collect::<Vec<_>>().join(" | ")
                    )
                };
                out.push(line_of(&rows[0]));
                out.push(format!("|{}|", vec![" --- "; width].join("|")));
                for r in &rows[1..] {
                    out.push(line_of(r));
                }
                out.push(String::new());
                i = j;
                continue;
            }
        }
        if paragraph.is_empty() && headings.is_empty() && out.is_empty() {
            out.push(format!("# {}", escape(line.trim())));
            out.push(String::new());
            headings.push(folded);
            i += 1;
            continue;
        }
        if paragraph.is_empty()
            && (looks_like_heading(line, next_blank)
                || (line.trim().ends_with('?') && line.trim().chars().count() <= 100 && next_blank))
        {
            let level = if line.trim().ends_with('?') {
                "###"
            } else {
                "##"
            };
            out.push(format!("{level} {}", escape(line.trim())));
            out.push(String::new());
            headings.push(folded);
            i += 1;
            continue;
        }
        paragraph.push(escape(line.trim()));
        i += 1;
    }
    flush(&mut paragraph, &mut out);
    let mut md = out.join("\n");
    while md.contains("\n\n\n") {
        md = md.replace("\n\n\n", "\n\n");
    }
    md.trim().to_owned() + "\n"
}

static STRICT: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.add_tags([
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "p",
        "br",
        "ul",
        "ol",
        "li",
        "strong",
        "b",
        "em",
        "i",
        "a",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ])
    .add_tag_attributes("a", ["href"])
    .url_schemes(["https", "http", "mailto"].into_iter().collect())
    .link_rel(None)
    .add_clean_content_tags([
        "script", "style", "noscript", "template", "iframe", "object",
    ]);
    b
});

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// Convert HTML into Markdown: sanitise first (scripts, event handlers,
/// `javascript:` links and images go), then map the remaining tags.
pub fn from_html(html: &str) -> String {
    let clean = STRICT.clean(html).to_string();
    let mut md = String::new();
    let mut list_stack: Vec<(bool, usize)> = Vec::new();
    let mut href: Vec<Option<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell: Option<String> = None;
    let mut table_rows = 0usize;
    let mut rest = clean.as_str();
    let push_text = |md: &mut String, cell: &mut Option<String>, text: &str| match cell {
        Some(c) => c.push_str(text),
        None => md.push_str(text),
    };
    while !rest.is_empty() {
        let Some(start) = rest.find('<') else {
            push_text(
                &mut md,
                &mut cell,
                &escape(&decode_entities(rest)).replace('\n', " "),
            );
            break;
        };
        let text = &rest[..start];
        if !text.is_empty() {
            push_text(
                &mut md,
                &mut cell,
                &escape(&decode_entities(text)).replace('\n', " "),
            );
        }
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start + 1..start + end];
        rest = &rest[start + end + 1..];
        let closing = tag.starts_with('/');
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                let level = name[1..].parse::<usize>().unwrap_or(2).min(4);
                md.push_str(&format!("\n\n{} ", "#".repeat(level)));
            }
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "p" | "blockquote", true) => {
                md.push_str("\n\n")
            }
            ("p", false) => md.push_str("\n\n"),
            ("blockquote", false) => md.push_str("\n\n> "),
            ("br", _) => push_text(&mut md, &mut cell, "  \n"),
            ("ul", false) => list_stack.push((false, 0)),
            ("ol", false) => list_stack.push((true, 0)),
            ("ul" | "ol", true) => {
                list_stack.pop();
                md.push_str("\n\n");
            }
            ("li", false) => {
                let depth = list_stack.len().saturating_sub(1);
                let marker = match list_stack.last_mut() {
                    Some((true, n)) => {
                        *n += 1;
                        format!("{n}.")
                    }
                    _ => "-".to_owned(),
                };
                md.push_str(&format!("\n{}{marker} ", "  ".repeat(depth)));
            }
            ("strong" | "b", _) => push_text(&mut md, &mut cell, "**"),
            ("em" | "i", _) => push_text(&mut md, &mut cell, "*"),
            ("a", false) => {
                let target = tag
                    .split("href=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .map(decode_entities);
                if target.is_some() {
                    push_text(&mut md, &mut cell, "[");
                }
                href.push(target);
            }
            ("a", true) => {
                if let Some(Some(target)) = href.pop() {
                    push_text(&mut md, &mut cell, &format!("]({target})"));
                }
            }
            ("table", false) => {
                md.push_str("\n\n");
                table_rows = 0;
            }
            ("table", true) => md.push('\n'),
            ("tr", false) => row.clear(),
            ("tr", true) => {
                md.push_str(&format!("| {} |\n", row.join(" | ")));
                if table_rows == 0 {
                    md.push_str(&format!(
                        "|{}|\n",
                        vec![" --- "; row.len().max(1)].join("|")
                    ));
                }
                table_rows += 1;
            }
            ("td" | "th", false) => cell = Some(String::new()),
            ("td" | "th", true) => row.push(cell.take().unwrap_or_default().trim().to_owned()),
            _ => {}
        }
    }
    let mut out: Vec<String> = md.lines().map(|l| l.trim_end().to_owned()).collect();
    out.dedup_by(|a, b| a.is_empty() && b.is_empty());
    out.join("\n").trim().to_owned() + "\n"
}

/// The first `# Title` of a draft, and the body without it.
pub fn split_title(markdown: &str) -> (Option<String>, String) {
    let mut lines = markdown.lines();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(title) = line.strip_prefix("# ") {
            let title = title.replace('\\', "");
            return (
                Some(title.trim().to_owned()),
                lines.collect::<Vec<_>>().join("\n").trim_start().to_owned(),
            );
        }
        break;
    }
    (None, markdown.to_owned())
}

/// A URL slug from a title: lower-case ASCII words joined by dashes.
pub fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "handout".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_run_together_are_split_at_their_seams() {
        assert_eq!(
            cells("Cried in TherapyFound it Therapeutic"),
            ["Cried in Therapy", "Found it Therapeutic"]
        );
        assert_eq!(
            cells("US Population60%Nearly 100%"),
            ["US Population", "60%", "Nearly 100%"]
        );
        assert_eq!(cells("a\tb\tc"), ["a", "b", "c"]);
        assert_eq!(cells("Just a sentence here."), ["Just a sentence here."]);
        // Found by the property test: a digit right after a first letter.
        assert_eq!(cells("a1"), ["a", "1"]);
    }

    #[test]
    fn hostile_html_becomes_harmless_markdown() {
        let md = from_html(
            r#"<h2 onclick="x()">Title</h2><script>alert(1)</script><p>Hi <a href="javascript:alert(2)">there</a> <img src="https://evil.example/t.png"><a href="https://ok.example">ok</a></p>"#,
        );
        assert!(md.contains("## Title"), "{md}");
        for bad in [
            "script",
            "alert",
            "javascript",
            "onclick",
            "evil.example",
            "<img",
        ] {
            assert!(!md.contains(bad), "{bad} in {md}");
        }
        assert!(md.contains("[ok](https://ok.example)"), "{md}");
    }

    #[test]
    fn html_lists_and_tables_survive() {
        let md = from_html(
            "<ul><li>one</li><li>two</li></ul><table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>",
        );
        assert!(md.contains("- one") && md.contains("- two"), "{md}");
        assert!(md.contains("| A | B |") && md.contains("| 1 | 2 |"), "{md}");
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(
            slugify("Embracing Tears: Why It’s Okay!"),
            "embracing-tears-why-it-s-okay"
        );
        assert_eq!(slugify("???"), "handout");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_of_any_kind_imports_without_panic(text in "\\PC{0,400}") {
            for kind in [SourceKind::Plain, SourceKind::Markdown, SourceKind::Html, SourceKind::detect(&text)] {
                let md = to_markdown(&text, kind);
                let html = crate::handouts::render::to_html(&md);
                prop_assert!(!html.contains("<script"));
            }
        }

        #[test]
        fn html_with_scripts_and_handlers_never_survives(
            words in "[a-zA-Z ]{1,40}",
            handler in "(onclick|onerror|onload|onmouseover)",
        ) {
            let html = format!("<p {handler}=\"evil()\">{words}<script>evil()</script><a href=\"javascript:evil()\">x</a></p>");
            let md = from_html(&html);
            prop_assert!(!md.contains("evil"), "{}", md);
        }

        #[test]
        fn plain_text_keeps_every_word(words in proptest::collection::vec("[a-z]{3,12}", 1..40)) {
            let text = words.join(" ");
            let md = from_plain_text(&text);
            for w in &words {
                prop_assert!(md.contains(w.as_str()), "{} lost from {}", w, md);
            }
        }
    }
}
