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
use crate::web::session_memory::{SessionMemory, Stamp};

/// The session-memory kind of a note's opened text.
const KIND: &str = "note-text";

/// A note's opened text, as search reads it, packed: every field in one
/// buffer with offsets, so a caseload of 100,000 notes held across a
/// practice's sessions costs about its text plus a few dozen bytes a note
/// (a `NoteContent` costs about a kilobyte more: a tree node and a heap
/// string per field). Zeroized when dropped.
pub struct NoteText {
    /// Every field one after another: section keys and texts, key moment,
    /// process note, tags.
    text: String,
    /// Section key and text, as ranges of `text`, in key order.
    sections: Box<[(Span, Span)]>,
    key_moment: Span,
    process_note: Span,
    tags: Box<[Span]>,
    /// The pack template the note was written with (rare).
    template: Option<Box<super::format::Template>>,
}

/// A range of [`NoteText::text`].
#[derive(Clone, Copy)]
struct Span(u32, u32);

impl NoteText {
    /// Pack opened content, zeroizing the strings it came in.
    pub fn new(mut content: NoteContent) -> Self {
        let len = content
            .sections
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
            + content.key_moment.len()
            + content.process_note.len()
            + content.tags.iter().map(String::len).sum::<usize>();
        let mut text = String::with_capacity(len);
        // A note is at most a few megabytes (MAX_NOTE_CHARS), far below u32.
        let mut push = |s: &str| {
            let start = u32::try_from(text.len()).unwrap_or(u32::MAX);
            text.push_str(s);
            Span(start, u32::try_from(text.len()).unwrap_or(u32::MAX))
        };
        let sections = content
            .sections
            .iter()
            .map(|(k, v)| (push(k), push(v)))
            .collect();
        let key_moment = push(&content.key_moment);
        let process_note = push(&content.process_note);
        let tags = content.tags.iter().map(|t| push(t)).collect();
        let template = content.template.take().map(Box::new);
        wipe(&mut content);
        Self {
            text,
            sections,
            key_moment,
            process_note,
            tags,
            template,
        }
    }

    fn at(&self, span: Span) -> &str {
        self.text
            .get(span.0 as usize..span.1 as usize)
            .unwrap_or_default()
    }

    /// The text of section `key`.
    pub fn section(&self, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|(k, _)| self.at(*k) == key)
            .map(|(_, v)| self.at(*v))
    }

    /// The key moment.
    pub fn key_moment(&self) -> &str {
        self.at(self.key_moment)
    }

    /// The private process note (empty for anyone but its author).
    pub fn process_note(&self) -> &str {
        self.at(self.process_note)
    }

    /// Tag keys.
    pub fn tags(&self) -> impl Iterator<Item = &str> + Clone {
        self.tags.iter().map(|t| self.at(*t))
    }

    /// The note's sections: its template's, or the format's.
    pub fn layout(&self, format: NoteFormat) -> Vec<super::format::SectionRef<'_>> {
        super::format::sections_of(format, self.template.as_deref())
    }

    /// About how much memory this takes, for session memory's budget.
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.text.capacity()
            + self.sections.len() * std::mem::size_of::<(Span, Span)>()
            + self.tags.len() * std::mem::size_of::<Span>()
            + self.template.as_ref().map_or(0, |_| 1024)
            // The Arc around it, the allocator's headers, the map entry.
            + 96
    }
}

/// Zeroize every string of `content`.
fn wipe(content: &mut NoteContent) {
    content.sections.values_mut().for_each(Zeroize::zeroize);
    content.key_moment.zeroize();
    content.process_note.zeroize();
    content.tags.iter_mut().for_each(Zeroize::zeroize);
}

impl Drop for NoteText {
    fn drop(&mut self) {
        self.text.zeroize();
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
    /// Where each tag family is: positions in `metas`, in order, so a tag
    /// filter reads the notes that carry the tag and no others.
    pub tagged: HashMap<String, Vec<u32>>,
}

impl NoteList {
    /// Positions of the notes tagged with `tag`'s family.
    pub fn tagged(&self, tag: &str) -> &[u32] {
        self.tagged
            .get(crate::tags::family(tag))
            .map_or(&[], Vec::as_slice)
    }
}

impl Drop for NoteList {
    fn drop(&mut self) {
        // Tag keys are sealed in the database: wipe the copies kept here.
        for (_, counts) in std::mem::take(&mut self.months) {
            for (mut tag, _) in counts {
                tag.zeroize();
            }
        }
        for (mut tag, _) in self.tagged.drain() {
            tag.zeroize();
        }
    }
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

/// The list this session holds at the current version, if any; reads
/// nothing else. A burst of a session's first requests each peeks, and
/// only the one whose turn it is then reads the rows ([`current_list`]),
/// so the burst holds one copy of the caseload's sealed rows, not one each.
pub fn peek(
    conn: &mut DbConn,
    memory: &SessionMemory,
    therapist: TherapistId,
) -> QueryResult<Option<Arc<NoteList>>> {
    let version = model::list_version(conn, therapist)?;
    Ok(memory.get(LIST_KIND, 0, (version, 0)))
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
    let missing = missing(&metas, &texts);
    // A first search lacks every note: one pass over the therapist's rows
    // reads them far faster than looking each up by id.
    let rows = if missing.len() * 2 > metas.len() {
        let wanted: HashSet<NoteId> = missing.into_iter().collect();
        let mut rows = model::all_rows(conn, therapist)?;
        rows.retain(|r| wanted.contains(&r.id));
        rows
    } else {
        model::rows_by_ids(conn, therapist, &missing)?
    };
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

/// The note list at the current version, given what [`peek`] found: the
/// list held in memory, or else one build per session and version.
/// Requests of the same session that find no list take turns: each reads
/// ([`fetch`], in its turn), and finds the list the one before it built,
/// so a burst of first searches reads and opens the caseload once, not
/// once each. `build` turns what was read into the list (CPU work: a
/// blocking thread).
pub async fn current_list<E>(
    memory: &SessionMemory,
    held: Option<Arc<NoteList>>,
    read: impl AsyncFnOnce() -> Result<Fetched, E>,
    build: impl AsyncFnOnce(Fetched) -> Result<Arc<NoteList>, E>,
) -> Result<Arc<NoteList>, E> {
    if let Some(list) = held {
        return Ok(list);
    }
    let _turn = memory.turn().await;
    match read().await? {
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
    let uncounted = fill(memory, &metas, &mut texts, rows, dk);
    let mut months: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let mut tagged: HashMap<String, Vec<u32>> = HashMap::new();
    let mut places = 0;
    for (i, (meta, text)) in metas.iter().zip(&texts).enumerate() {
        let Some(text) = text else { continue };
        let month = meta.session_date.get(..7).unwrap_or_default();
        let counts = months.entry(month.to_owned()).or_default();
        for tag in text.tags() {
            let family = crate::tags::family(tag);
            // Look before inserting: a key copied and dropped would be
            // freed unwiped.
            match counts.get_mut(family) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(family.to_owned(), 1);
                }
            }
            if !tagged.contains_key(family) {
                tagged.insert(family.to_owned(), Vec::new());
            }
            let Some(at) = tagged.get_mut(family) else {
                continue;
            };
            // Positions fit u32: a list is at most a few hundred thousand notes.
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            if at.last() != Some(&i) {
                at.push(i);
                places += 1;
            }
        }
    }
    // The texts are counted once, under their own entries (those memory
    // had no room for are counted here, as the list holds them); this is
    // the plain columns (three short strings on the heap), the pointers and
    // the tag positions.
    let bytes =
        metas.len() * (std::mem::size_of::<NoteMeta>() + 3 * 32 + 8) + places * 4 + uncounted;
    let list = Arc::new(NoteList {
        metas,
        texts,
        months,
        tagged,
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
/// `None`. Memory of notes no longer listed is dropped. Returns the bytes
/// of opened text that memory had no room to keep.
fn fill(
    memory: &SessionMemory,
    metas: &[NoteMeta],
    held: &mut [Option<Arc<NoteText>>],
    rows: Vec<NoteRow>,
    dk: &Keys,
) -> usize {
    if rows.is_empty() && memory.count(KIND) == metas.len() {
        return 0;
    }
    let mut uncounted = 0;
    let mut opened: HashMap<NoteId, Arc<NoteText>> = HashMap::with_capacity(rows.len());
    for (id, stamp, text) in open_all(&rows, dk) {
        if !memory.put(KIND, id.0, stamp, text.clone(), text.bytes()) {
            uncounted += text.bytes();
        }
        opened.insert(id, text);
    }
    for (meta, slot) in metas.iter().zip(held.iter_mut()) {
        if slot.is_none() {
            *slot = opened.get(&meta.id).cloned();
        }
    }
    let listed: HashSet<i64> = metas.iter().map(|m| m.id.0).collect();
    memory.retain(KIND, |id| listed.contains(&id));
    uncounted
}

/// Rows a thread opens at the least before another thread is worth starting.
const ROWS_PER_THREAD: usize = 256;

/// Open `rows` (a note that fails to open is left out), on every core the
/// machine has when there are enough of them: a first search opens a whole
/// caseload, and its time is the therapist's wait.
fn open_all(rows: &[NoteRow], dk: &Keys) -> Vec<(NoteId, Stamp, Arc<NoteText>)> {
    let open = |chunk: &[NoteRow]| -> Vec<(NoteId, Stamp, Arc<NoteText>)> {
        chunk
            .iter()
            .filter_map(|row| {
                let content = row.open_text(dk).ok()?;
                let stamp = (i64::from(row.revision), row.updated_at);
                Some((row.id, stamp, Arc::new(NoteText::new(content))))
            })
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(rows.len() / ROWS_PER_THREAD)
        .max(1);
    if threads == 1 {
        return open(rows);
    }
    let size = rows.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let others: Vec<_> = rows
            .chunks(size)
            .skip(1)
            .map(|chunk| scope.spawn(move || open(chunk)))
            .collect();
        let mut all = open(&rows[..size]);
        for other in others {
            match other.join() {
                Ok(part) => all.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    })
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

/// Run the filter over the notes of `list` that `within` accepts (notes
/// without text are skipped; with a tag, only the notes that carry it are
/// read). `client_names` lets a search
/// for a client's name find their notes; `addenda` are searched too.
/// Returns how many notes match and the first `limit` of them; only those
/// are given tags, key moment and snippet, so a filter matching thousands
/// of notes copies no more text than the page shows.
#[allow(clippy::too_many_arguments)]
pub fn run(
    list: &NoteList,
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
    let positions: Box<dyn Iterator<Item = usize>> = match filter.tag {
        Some(tag) => Box::new(list.tagged(tag).iter().map(|&i| i as usize)),
        None => Box::new(0..list.metas.len()),
    };
    for i in positions {
        let (Some(meta), Some(Some(text))) = (list.metas.get(i), list.texts.get(i)) else {
            continue;
        };
        if !within(meta) {
            continue;
        }
        let note = text.as_ref();
        if let Some(tag) = filter.tag {
            let tag = crate::tags::family(tag);
            if !note.tags().any(|t| crate::tags::family(t) == tag) {
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
                .filter_map(|s| Some((s.label, note.section(s.key)?)));
            let tags = note
                .tags()
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
                    ("Key moment", note.key_moment()),
                    ("Private process note", note.process_note()),
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
                tags: vocabulary.views_of(note.tags()),
                key_moment: note.key_moment().to_owned(),
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
mod opening {
    use super::*;
    use crate::crypto::DataKey;
    use crate::ids::TherapistId;
    use model::SealedContent;

    fn row(keys: &Keys, i: i64) -> NoteRow {
        let (id, client, author) = (NoteId(i), ClientId(i % 7 + 1), TherapistId(1));
        let content = NoteContent {
            sections: [("plan".to_owned(), format!("Plan {i}: journal daily."))].into(),
            key_moment: format!("Moment {i}"),
            process_note: format!("Private {i}"),
            tags: vec!["tearful-breakthrough".to_owned(), format!("custom:{i}")],
            template: None,
        };
        let sealed = SealedContent::new(&model::record(keys, author, id, client), &content);
        NoteRow {
            id,
            therapist_id: author,
            client_id: client,
            session_date: "2026-01-01".into(),
            duration_minutes: 50,
            session_type: "individual".into(),
            format: "free".into(),
            status: "draft".into(),
            revision: 1,
            sections: sealed.sections,
            key_moment: sealed.key_moment,
            process_note: sealed.process_note,
            tags: sealed.tags,
            content_hash: None,
            signed_at: None,
            created_at: 0,
            updated_at: i,
            signed_as: None,
            author_id: author,
            layout: sealed.layout,
        }
    }

    #[test]
    fn a_caseload_opens_on_every_core_whole_and_packed() {
        let keys = Keys::only(1, DataKey::from_bytes([7; 32]));
        let n = ROWS_PER_THREAD as i64 * 3 + 5;
        let mut rows: Vec<NoteRow> = (1..=n).map(|i| row(&keys, i)).collect();
        // One that fails its check is left out, not fatal.
        rows[10].key_moment[40] ^= 1;
        let opened = open_all(&rows, &keys);
        assert_eq!(opened.len() as i64, n - 1);
        let mut ids: Vec<i64> = opened.iter().map(|(id, _, _)| id.0).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len() as i64, n - 1, "each note once");
        assert!(!ids.contains(&11));
        for (id, stamp, text) in &opened {
            assert_eq!(*stamp, (1, id.0));
            assert_eq!(
                text.section("plan"),
                Some(format!("Plan {}: journal daily.", id.0).as_str())
            );
            assert_eq!(text.section("data"), None);
            assert_eq!(text.key_moment(), format!("Moment {}", id.0));
            assert_eq!(text.process_note(), format!("Private {}", id.0));
            assert_eq!(
                text.tags().collect::<Vec<_>>(),
                [
                    "tearful-breakthrough".to_owned(),
                    format!("custom:{}", id.0)
                ]
            );
            assert!(text.bytes() > text.text.len());
        }
    }

    #[test]
    fn a_tag_filter_reads_only_the_notes_that_carry_the_tag() {
        let keys = Keys::only(1, DataKey::from_bytes([7; 32]));
        let rows: Vec<NoteRow> = (1..=40).map(|i| row(&keys, i)).collect();
        let metas: Vec<NoteMeta> = rows
            .iter()
            .map(|r| NoteMeta {
                id: r.id,
                client_id: r.client_id,
                session_date: format!("2026-{:02}-01", r.id.0 % 12 + 1),
                format: r.format.clone(),
                status: r.status.clone(),
                revision: r.revision,
                updated_at: r.updated_at,
            })
            .collect();
        let memories = crate::web::session_memory::SessionMemories::default();
        let memory = memories.of(crate::ids::SessionId(1));
        let texts = vec![None; metas.len()];
        let list = build_list(&memory, 1, metas, texts, rows, &keys);
        assert_eq!(list.tagged("tearful-breakthrough").len(), 40);
        assert_eq!(list.tagged("custom:7"), [6]);
        assert!(list.tagged("stress-relief").is_empty());
        let vocabulary = Vocabulary::new(&[], &crate::packs::registry::PackSet::default());
        let run_for = |tag: &str, words: &str, within: &dyn Fn(&NoteMeta) -> bool| {
            let filter = Filter {
                words,
                tag: Some(tag),
            };
            let (total, hits) = run(
                &list,
                within,
                &vocabulary,
                &HashMap::new(),
                &HashMap::new(),
                &filter,
                5,
            );
            (total, hits.iter().map(|h| h.note_id.0).collect::<Vec<_>>())
        };
        assert_eq!(run_for("tearful-breakthrough", "", &|_| true).0, 40);
        assert_eq!(
            run_for("tearful-breakthrough", "", &|m| m.client_id == ClientId(3)),
            (6, vec![2, 9, 16, 23, 30])
        );
        assert_eq!(run_for("custom:7", "", &|_| true), (1, vec![7]));
        assert_eq!(run_for("custom:7", "Plan 8", &|_| true), (0, vec![]));
        assert_eq!(
            run_for("tearful-breakthrough", "Moment 12", &|_| true),
            (1, vec![12])
        );
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
            tagged: HashMap::new(),
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
                let first = match read(&memory) {
                    Fetched::Held(list) => Some(list),
                    Fetched::Stale(..) => None,
                };
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
