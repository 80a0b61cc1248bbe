//! Searching and filtering the caseload. Notes are sealed, so there is no
//! index: the server opens each candidate's fields in memory for this
//! request only, and opens no more than the query needs (tags alone for a
//! tag filter). Plain columns (client, dates) narrow the candidates in SQL.

use std::collections::HashMap;

use super::model::NoteRow;
use super::tags::{TagView, Vocabulary};
use crate::crypto::DataKey;

/// A piece of text around a match.
#[derive(Debug, PartialEq, Eq)]
pub struct Snippet {
    /// Where it was found ("Plan", "Key moment", …).
    pub field: String,
    /// Text before the match.
    pub before: String,
    /// The match itself.
    pub matched: String,
    /// Text after the match.
    pub after: String,
}

/// One search result.
pub struct Hit {
    /// The note.
    pub note_id: i64,
    /// Its client.
    pub client_id: i64,
    /// `YYYY-MM-DD`.
    pub session_date: String,
    /// Signed or draft.
    pub signed: bool,
    /// Its tags.
    pub tags: Vec<TagView>,
    /// Its key moment.
    pub key_moment: String,
    /// Where the words matched, if searching words.
    pub snippet: Option<Snippet>,
}

/// Find `needle` in `hay` ignoring case; byte range of the match in `hay`.
pub fn find_ci(hay: &str, needle: &str) -> Option<(usize, usize)> {
    if needle.is_empty() {
        return None;
    }
    if needle.is_ascii() {
        // Lower-casing ASCII leaves byte offsets unchanged.
        let lower = hay.to_ascii_lowercase();
        let at = lower.find(&needle.to_ascii_lowercase())?;
        return Some((at, at + needle.len()));
    }
    let folded: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
    let chars: Vec<(usize, char)> = hay.char_indices().collect();
    'start: for start in 0..chars.len() {
        let mut i = start;
        for want in &folded {
            let Some((_, c)) = chars.get(i) else {
                continue 'start;
            };
            if c.to_lowercase().next() != Some(*want) {
                continue 'start;
            }
            i += 1;
        }
        let end = chars.get(i).map_or(hay.len(), |(b, _)| *b);
        return Some((chars[start].0, end));
    }
    None
}

const CONTEXT: usize = 70;

/// A snippet around the first match in `text`.
pub fn snippet(field: &str, text: &str, needle: &str) -> Option<Snippet> {
    let (start, end) = find_ci(text, needle)?;
    let before: String = text[..start]
        .chars()
        .rev()
        .take(CONTEXT)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let after: String = text[end..].chars().take(CONTEXT).collect();
    let lead = if before.len() < start { "…" } else { "" };
    let trail = if after.len() < text.len() - end {
        "…"
    } else {
        ""
    };
    Some(Snippet {
        field: field.to_owned(),
        before: format!("{lead}{}", before.replace('\n', " ")),
        matched: text[start..end].to_owned(),
        after: format!("{}{trail}", after.replace('\n', " ")),
    })
}

/// What to look for.
pub struct Filter<'a> {
    /// Words to find in any sealed field (empty: no word filter).
    pub words: &'a str,
    /// A tag key to require.
    pub tag: Option<&'a str>,
}

/// Run the filter over candidate rows. `client_names` lets a search for a
/// client's name find their notes; `addenda` are searched too.
pub fn run(
    rows: &[NoteRow],
    dk: &DataKey,
    vocabulary: &Vocabulary,
    client_names: &HashMap<i64, String>,
    addenda: &HashMap<i64, Vec<String>>,
    filter: &Filter<'_>,
) -> Vec<Hit> {
    let words = filter.words.trim();
    let mut hits = Vec::new();
    for row in rows {
        let Ok(tags) = row.open_tags(dk) else {
            continue;
        };
        if let Some(tag) = filter.tag {
            if !tags.iter().any(|t| t == tag) {
                continue;
            }
        }
        let views = vocabulary.views(&tags);
        let snippet = if words.is_empty() {
            None
        } else {
            let note = row.open(dk);
            if note.damaged {
                continue;
            }
            let format = note.facts.format;
            let mut found = None;
            for section in format.sections() {
                if let Some(text) = note.content.sections.get(section.key) {
                    found = snippet(section.label, text, words);
                    if found.is_some() {
                        break;
                    }
                }
            }
            found = found
                .or_else(|| snippet("Key moment", &note.content.key_moment, words))
                .or_else(|| snippet("Private process note", &note.content.process_note, words))
                .or_else(|| views.iter().find_map(|t| snippet("Tag", &t.label, words)))
                .or_else(|| {
                    addenda
                        .get(&row.id)
                        .and_then(|list| list.iter().find_map(|a| snippet("Addendum", a, words)))
                })
                .or_else(|| {
                    client_names
                        .get(&row.client_id)
                        .and_then(|n| snippet("Client", n, words))
                });
            match found {
                Some(s) => Some(s),
                None => continue,
            }
        };
        let key_moment = row.open_key_moment(dk).unwrap_or_default();
        hits.push(Hit {
            note_id: row.id,
            client_id: row.client_id,
            session_date: row.session_date.clone(),
            signed: row.is_signed(),
            tags: views,
            key_moment,
            snippet,
        });
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_words_regardless_of_case_in_any_script() {
        assert_eq!(find_ci("She CRIED today", "cried"), Some((4, 9)));
        assert_eq!(find_ci("Über die Tränen", "tränen"), Some((10, 17)));
        assert_eq!(find_ci("ÉMOTION", "émo"), Some((0, 4)));
        assert_eq!(find_ci("nothing here", "tears"), None);
        assert_eq!(find_ci("x", ""), None);
    }

    #[test]
    fn snippets_mark_the_match_with_context() {
        let s = snippet("Plan", "Practise self-compassion daily.", "SELF").expect("found");
        assert_eq!(
            (s.before.as_str(), s.matched.as_str(), s.after.as_str()),
            ("Practise ", "self", "-compassion daily.")
        );
        let long = format!("{}needle{}", "a".repeat(200), "b".repeat(200));
        let s = snippet("Data", &long, "needle").expect("found");
        assert!(s.before.starts_with('…') && s.after.ends_with('…'));
    }
}
