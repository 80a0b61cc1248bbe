//! Searching and filtering the caseload. Notes are sealed, so there is no
//! index: the server reads opened text, which a session keeps in its own
//! memory once opened (see `web::session_memory`), and opens only notes that
//! are new or changed since. Plain columns (client, dates) narrow the
//! candidates before any text is read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use zeroize::Zeroize;

use super::format::NoteFormat;
use super::model::{self, NoteContent, NoteMeta, NoteRow};
use crate::tags::{TagView, Vocabulary};
use diesel::QueryResult;

use crate::crypto::Keys;
use crate::db::DbConn;
use crate::ids::{ClientId, NoteId, TherapistId};
use crate::web::session_memory::SessionMemory;

/// The session-memory kind of a note's opened text.
const KIND: &str = "note-text";

/// A note's opened text, as search reads it. Zeroized when dropped.
pub struct NoteText {
    /// Everything sealed in the note.
    pub content: NoteContent,
}

impl NoteText {
    fn bytes(&self) -> usize {
        let c = &self.content;
        c.sections.values().map(String::len).sum::<usize>()
            + c.key_moment.len()
            + c.process_note.len()
            + c.tags.iter().map(String::len).sum::<usize>()
    }
}

impl Drop for NoteText {
    fn drop(&mut self) {
        let c = &mut self.content;
        c.sections.values_mut().for_each(Zeroize::zeroize);
        c.key_moment.zeroize();
        c.process_note.zeroize();
        c.tags.iter_mut().for_each(Zeroize::zeroize);
    }
}

/// The session-memory kind of a therapist's whole list of notes.
const LIST_KIND: &str = "note-list";

/// Everything search and the monthly chart need from a therapist's notes,
/// built once per version of the list (`model::list_version`) and kept in
/// session memory until any note changes.
pub struct NoteList {
    /// Plain columns, newest session first.
    pub metas: Vec<NoteMeta>,
    /// Opened text, in step with `metas` (`None`: would not open).
    pub texts: Vec<Option<Arc<NoteText>>>,
    /// Tag counts by month (`YYYY-MM`), for the chart.
    pub months: BTreeMap<String, BTreeMap<String, u32>>,
}

/// What [`fetch`] read: the list itself while no note changed, otherwise
/// what is needed to build it again.
pub enum Fetched {
    /// The list this session built at the current version.
    Held(Arc<NoteList>),
    /// The version, every note's plain columns, the texts memory holds,
    /// and the rows of the notes it lacks.
    Stale(i64, Vec<NoteMeta>, Vec<Option<Arc<NoteText>>>, Vec<NoteRow>),
}

/// Read what search needs from the database, given what `memory` holds: the
/// list version, and only if it moved, the plain columns and the rows of
/// notes whose text this session lacks. Run on a blocking thread.
pub fn fetch(
    conn: &mut DbConn,
    memory: &SessionMemory,
    therapist: TherapistId,
) -> QueryResult<Fetched> {
    // The version first: see `build_list`.
    let version = model::list_version(conn, therapist)?;
    if let Some(list) = memory.get(LIST_KIND, 0, (version, 0)) {
        return Ok(Fetched::Held(list));
    }
    let metas = model::metas(conn, therapist)?;
    let texts = held(memory, &metas);
    let rows = model::rows_by_ids(conn, therapist, &missing(&metas, &texts))?;
    Ok(Fetched::Stale(version, metas, texts, rows))
}

impl Fetched {
    /// The list: as held, or built now (opening the missing notes) and kept.
    /// CPU work: run on a blocking thread.
    pub fn into_list(self, memory: &SessionMemory, dk: &Keys) -> Arc<NoteList> {
        match self {
            Self::Held(list) => list,
            Self::Stale(version, metas, texts, rows) => {
                build_list(memory, version, metas, texts, rows, dk)
            }
        }
    }
}

/// The note list at the current version, given what a first read found:
/// the list held in memory, or else one build per session and version.
/// Requests of the same session that find no list wait for the first one
/// to build it and then read it (`again` reads the database again), so a
/// burst of first searches opens the caseload once, not once each. `build`
/// turns what was read into the list (CPU work: a blocking thread).
pub async fn current_list<E>(
    memory: &SessionMemory,
    first: Fetched,
    again: impl AsyncFnOnce() -> Result<Fetched, E>,
    build: impl AsyncFnOnce(Fetched) -> Result<Arc<NoteList>, E>,
) -> Result<Arc<NoteList>, E> {
    if let Fetched::Held(list) = first {
        return Ok(list);
    }
    let turn = memory.turn().await;
    let fetched = if turn.waited { again().await? } else { first };
    match fetched {
        Fetched::Held(list) => Ok(list),
        stale => build(stale).await,
    }
}

/// Build the list from `metas`, the texts memory `held` and the `rows` it
/// lacked (opened now), and keep it for `version`. Read `version` before
/// `metas`: a write in between then labels a newer list with an older
/// version, which the next request rebuilds, never the other way round.
fn build_list(
    memory: &SessionMemory,
    version: i64,
    metas: Vec<NoteMeta>,
    mut texts: Vec<Option<Arc<NoteText>>>,
    rows: Vec<NoteRow>,
    dk: &Keys,
) -> Arc<NoteList> {
    fill(memory, &metas, &mut texts, rows, dk);
    let mut months: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    for (meta, text) in metas.iter().zip(&texts) {
        let Some(text) = text else { continue };
        let month = meta.session_date.get(..7).unwrap_or_default();
        let counts = months.entry(month.to_owned()).or_default();
        for tag in &text.content.tags {
            *counts
                .entry(crate::tags::family(tag).to_owned())
                .or_default() += 1;
        }
    }
    // The texts are counted once, under their own entries; this is the
    // plain columns and the pointers.
    let bytes = metas.len() * (std::mem::size_of::<NoteMeta>() + 32);
    let list = Arc::new(NoteList {
        metas,
        texts,
        months,
    });
    memory.put(LIST_KIND, 0, (version, 0), list.clone(), bytes);
    list
}

/// The opened text of each note in `metas` that this session holds (and
/// that is current), in order.
fn held(memory: &SessionMemory, metas: &[NoteMeta]) -> Vec<Option<Arc<NoteText>>> {
    memory.get_many(KIND, metas.iter().map(|m| (m.id.0, m.stamp())))
}

/// Ids of the notes `held` lacks.
fn missing(metas: &[NoteMeta], held: &[Option<Arc<NoteText>>]) -> Vec<NoteId> {
    metas
        .iter()
        .zip(held)
        .filter(|(_, text)| text.is_none())
        .map(|(m, _)| m.id)
        .collect()
}

/// Fill the gaps in `held` by opening `rows` (the missing notes), keeping
/// what was opened in session memory. A note that fails to open stays
/// `None`. Memory of notes no longer listed is dropped.
fn fill(
    memory: &SessionMemory,
    metas: &[NoteMeta],
    held: &mut [Option<Arc<NoteText>>],
    rows: Vec<NoteRow>,
    dk: &Keys,
) {
    if rows.is_empty() && memory.count(KIND) == metas.len() {
        return;
    }
    let mut opened: HashMap<NoteId, Arc<NoteText>> = HashMap::with_capacity(rows.len());
    for row in rows {
        if let Ok(content) = row.open_text(dk) {
            let text = Arc::new(NoteText { content });
            let stamp = (i64::from(row.revision), row.updated_at);
            memory.put(KIND, row.id.0, stamp, text.clone(), text.bytes());
            opened.insert(row.id, text);
        }
    }
    for (meta, slot) in metas.iter().zip(held.iter_mut()) {
        if slot.is_none() {
            *slot = opened.get(&meta.id).cloned();
        }
    }
    let listed: HashSet<i64> = metas.iter().map(|m| m.id.0).collect();
    memory.retain(KIND, |id| listed.contains(&id));
}

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
    pub note_id: NoteId,
    /// Its client.
    pub client_id: ClientId,
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
        // Jump between places the first byte occurs (in either case) and
        // compare there: no lower-cased copy of the text. An ASCII needle
        // matches only ASCII bytes, so byte offsets are char boundaries.
        let (hay_b, n) = (hay.as_bytes(), needle.as_bytes());
        let (lo, up) = (n[0].to_ascii_lowercase(), n[0].to_ascii_uppercase());
        let mut from = 0;
        while let Some(i) = memchr::memchr2(lo, up, &hay_b[from..]) {
            let at = from + i;
            if hay_b
                .get(at..at + n.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(n))
            {
                return Some((at, at + n.len()));
            }
            from = at + 1;
        }
        return None;
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

/// Run the filter over the notes `within` accepts (`texts` is in step with
/// `metas`; notes without text are skipped). `client_names` lets a search
/// for a client's name find their notes; `addenda` are searched too.
/// Returns how many notes match and the first `limit` of them; only those
/// are given tags, key moment and snippet, so a filter matching thousands
/// of notes copies no more text than the page shows.
#[allow(clippy::too_many_arguments)]
pub fn run(
    metas: &[NoteMeta],
    texts: &[Option<Arc<NoteText>>],
    within: impl Fn(&NoteMeta) -> bool,
    vocabulary: &Vocabulary,
    client_names: &HashMap<ClientId, String>,
    addenda: &HashMap<NoteId, Vec<String>>,
    filter: &Filter<'_>,
    limit: usize,
) -> (usize, Vec<Hit>) {
    let words = filter.words.trim();
    let mut total = 0;
    let mut hits = Vec::new();
    for (meta, text) in metas.iter().zip(texts) {
        let Some(text) = text else {
            continue;
        };
        if !within(meta) {
            continue;
        }
        let note = &text.content;
        if let Some(tag) = filter.tag {
            let tag = crate::tags::family(tag);
            if !note.tags.iter().any(|t| crate::tags::family(t) == tag) {
                continue;
            }
        }
        // Where the words are: (field label, its text).
        let place = if words.is_empty() {
            None
        } else {
            let format = NoteFormat::parse(&meta.format).unwrap_or(NoteFormat::Free);
            let layout = note.layout(format);
            let sections = layout
                .iter()
                .filter_map(|s| Some((s.label, note.sections.get(s.key)?.as_str())));
            let tags = note
                .tags
                .iter()
                .filter_map(|k| Some(("Tag", vocabulary.get(k)?.label.as_str())));
            let addenda = addenda
                .get(&meta.id)
                .into_iter()
                .flatten()
                .map(|a| ("Addendum", a.as_str()));
            let client = client_names
                .get(&meta.client_id)
                .map(|n| ("Client", n.as_str()));
            let found = sections
                .chain([
                    ("Key moment", note.key_moment.as_str()),
                    ("Private process note", note.process_note.as_str()),
                ])
                .chain(tags)
                .chain(addenda)
                .chain(client)
                .find(|(_, text)| find_ci(text, words).is_some());
            match found {
                Some(place) => Some(place),
                None => continue,
            }
        };
        total += 1;
        if hits.len() < limit {
            hits.push(Hit {
                note_id: meta.id,
                client_id: meta.client_id,
                session_date: meta.session_date.clone(),
                signed: meta.status == "signed",
                tags: vocabulary.views(&note.tags),
                key_moment: note.key_moment.clone(),
                snippet: place.and_then(|(label, text)| snippet(label, text, words)),
            });
        }
    }
    (total, hits)
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

#[cfg(test)]
mod single_build {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::web::session_memory::SessionMemories;

    fn empty_list() -> Arc<NoteList> {
        Arc::new(NoteList {
            metas: vec![],
            texts: vec![],
            months: BTreeMap::new(),
        })
    }

    /// What a read finds: the list if memory holds it at version 1.
    fn read(memory: &SessionMemory) -> Fetched {
        match memory.get(LIST_KIND, 0, (1, 0)) {
            Some(list) => Fetched::Held(list),
            None => Fetched::Stale(1, vec![], vec![], vec![]),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_first_searches_builds_the_list_once() {
        let memories = SessionMemories::default();
        let memory = memories.of(crate::ids::SessionId(1));
        let builds = Arc::new(AtomicUsize::new(0));
        let mut requests = Vec::new();
        for _ in 0..8 {
            let (memory, builds) = (memory.clone(), builds.clone());
            requests.push(tokio::spawn(async move {
                // Every request reads first, before any list exists.
                let first = read(&memory);
                let again = async || Ok::<_, ()>(read(&memory));
                let build = async |_| {
                    builds.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    let list = empty_list();
                    memory.put(LIST_KIND, 0, (1, 0), list.clone(), 1);
                    Ok(list)
                };
                current_list(&memory, first, again, build).await
            }));
        }
        for request in requests {
            assert!(request.await.expect("task").is_ok());
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }
}
