//! Plaintext a signed-in session keeps in this process's memory, so that
//! search and the caseload chart need not open thousands of sealed notes on
//! every request.
//!
//! The rules (also in docs/ARCHITECTURE.md, "Session memory"):
//! - It lives only in this process's memory: never written to the database,
//!   a file or a log, and never shared between sessions, even of one
//!   therapist.
//! - Only a request of the session fills it, with what that request opened
//!   with the session's own data key.
//! - Every entry carries the stamp (revision, last save) of the row it was
//!   opened from; a reader passes the stamp it just read from the database
//!   and gets nothing if they differ, so edits made through another app
//!   server are never hidden by a stale entry.
//! - It ends with the session: at sign-out at once; otherwise a sweep every
//!   minute drops the memory of sessions that no longer exist in the database
//!   (ended elsewhere, expired) or have been idle past the idle timeout.
//!   Areas store types that zeroize their text when dropped.
//! - It is bounded: at most [`MAX_SESSION_BYTES`] per session, and
//!   [`MAX_TOTAL_BYTES`] shared by every session of the process. When a
//!   session needs room the others hold, the session used least recently
//!   is forgotten whole, then the next, so a practice's sessions share the
//!   budget and only the idlest pay. Sizes count what the values take in
//!   memory (text, offsets, headers), not just their characters.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::ids::SessionId;

/// The most one session may keep, in bytes (about 50,000 notes).
pub const MAX_SESSION_BYTES: usize = 32 * 1024 * 1024;
/// The most every session of this process keeps together, in bytes: two
/// dozen therapists with 4,000 notes each take about a third of it.
pub const MAX_TOTAL_BYTES: usize = 192 * 1024 * 1024;
/// The most sessions that keep memory at once (a bound on the map itself;
/// bytes are bounded by [`MAX_TOTAL_BYTES`]).
pub const MAX_SESSIONS: usize = 1024;

/// What an entry was opened from: the row's revision and last save time.
pub type Stamp = (i64, i64);

struct Entry {
    stamp: Stamp,
    bytes: usize,
    value: Arc<dyn Any + Send + Sync>,
}

/// One session's memory.
pub struct SessionMemory {
    id: SessionId,
    /// The process's budget and its other sessions (none in some tests).
    shared: Weak<Shared>,
    /// Set once the session's memory is forgotten (evicted, ended): a
    /// request still holding it can read what it has but keep no more.
    forgotten: std::sync::atomic::AtomicBool,
    entries: Mutex<HashMap<&'static str, HashMap<i64, Entry>>>,
    bytes: Mutex<usize>,
    last_used: Mutex<Instant>,
    /// Taken while something costly is built for this session (the note
    /// list), so concurrent requests wait for one build instead of each
    /// doing it.
    building: tokio::sync::Mutex<()>,
}

/// A turn at building something for a session (see [`SessionMemory::turn`]).
pub struct Turn<'a> {
    _guard: tokio::sync::MutexGuard<'a, ()>,
    /// Whether another request held the turn first (and may have built
    /// what this one came to build).
    pub waited: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a map half-updated in a
    // way that matters here: entries are whole values.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SessionMemory {
    fn new(id: SessionId, shared: Weak<Shared>) -> Self {
        Self {
            id,
            shared,
            forgotten: std::sync::atomic::AtomicBool::new(false),
            entries: Mutex::new(HashMap::new()),
            bytes: Mutex::new(0),
            last_used: Mutex::new(Instant::now()),
            building: tokio::sync::Mutex::new(()),
        }
    }

    /// Wait for this session's turn to build something costly. A request
    /// that had to wait should look again before building: the one before
    /// it has probably built it.
    pub async fn turn(&self) -> Turn<'_> {
        match self.building.try_lock() {
            Ok(guard) => Turn {
                _guard: guard,
                waited: false,
            },
            Err(_) => Turn {
                _guard: self.building.lock().await,
                waited: true,
            },
        }
    }

    /// The `kind` entry for row `id`, if it was opened from the same stamp.
    pub fn get<T: Any + Send + Sync>(
        &self,
        kind: &'static str,
        id: i64,
        stamp: Stamp,
    ) -> Option<Arc<T>> {
        self.get_many(kind, [(id, stamp)]).pop().flatten()
    }

    /// [`SessionMemory::get`] for many rows under one lock, in order.
    pub fn get_many<T: Any + Send + Sync>(
        &self,
        kind: &'static str,
        rows: impl IntoIterator<Item = (i64, Stamp)>,
    ) -> Vec<Option<Arc<T>>> {
        let entries = lock(&self.entries);
        let of_kind = entries.get(kind);
        rows.into_iter()
            .map(|(id, stamp)| {
                let entry = of_kind?.get(&id)?;
                if entry.stamp != stamp {
                    return None;
                }
                entry.value.clone().downcast::<T>().ok()
            })
            .collect()
    }

    /// Keep `value` (about `bytes` of text) for row `id` at `stamp`. Returns
    /// false, keeping nothing, if the session's memory is full.
    pub fn put<T: Any + Send + Sync>(
        &self,
        kind: &'static str,
        id: i64,
        stamp: Stamp,
        value: Arc<T>,
        bytes: usize,
    ) -> bool {
        // A session already forgotten keeps nothing more: no request can
        // read it again.
        if self.forgotten.load(Ordering::Acquire) {
            return false;
        }
        // Check this session's own limit first, so a put that cannot fit
        // never makes other sessions pay; then take from the budget only
        // what the entry adds. Room is made with none of this session's
        // locks held (see `reserve`), so this looks, reserves, and checks
        // again.
        let replaced = |entries: &HashMap<&'static str, HashMap<i64, Entry>>| {
            entries
                .get(kind)
                .and_then(|m| m.get(&id))
                .map_or(0, |e| e.bytes)
        };
        let (before, total) = {
            let entries = lock(&self.entries);
            (replaced(&entries), *lock(&self.bytes))
        };
        if total - before + bytes > MAX_SESSION_BYTES {
            return false;
        }
        let extra = bytes.saturating_sub(before);
        if extra > 0 && !self.reserve(extra) {
            return false;
        }
        let old = {
            let mut entries = lock(&self.entries);
            let now = replaced(&entries);
            let mut total = lock(&self.bytes);
            if *total - now + bytes > MAX_SESSION_BYTES {
                self.release(extra);
                return false;
            }
            // Settle the budget on what actually changed (another request
            // of this session may have put or dropped the entry meanwhile).
            let delta = bytes as isize - now as isize - extra as isize;
            if delta < 0 {
                self.release(delta.unsigned_abs());
            } else {
                self.take(delta.unsigned_abs());
            }
            *total = *total - now + bytes;
            entries.entry(kind).or_default().insert(
                id,
                Entry {
                    stamp,
                    bytes,
                    value,
                },
            )
        };
        // What it replaced is dropped (and wiped) with no lock held.
        drop(old);
        true
    }

    /// Forget every `kind` entry whose row id `keep` rejects (rows deleted).
    pub fn retain(&self, kind: &'static str, keep: impl Fn(i64) -> bool) {
        let mut gone = Vec::new();
        {
            let mut entries = lock(&self.entries);
            let mut total = lock(&self.bytes);
            if let Some(of_kind) = entries.get_mut(kind) {
                let ids: Vec<i64> = of_kind.keys().copied().filter(|id| !keep(*id)).collect();
                for id in ids {
                    if let Some(e) = of_kind.remove(&id) {
                        *total -= e.bytes;
                        self.release(e.bytes);
                        gone.push(e);
                    }
                }
            }
        }
        // Dropped (and wiped) with no lock held.
        drop(gone);
    }

    /// Forget everything this session keeps, and keep nothing more.
    fn clear(&self) {
        self.forgotten.store(true, Ordering::Release);
        let gone = {
            let mut entries = lock(&self.entries);
            let mut total = lock(&self.bytes);
            self.release(*total);
            *total = 0;
            std::mem::take(&mut *entries)
        };
        // Dropped (and wiped) with no lock held: wiping 32 MiB must not
        // hold up anyone looking at this session's size.
        drop(gone);
    }

    /// Count `bytes` against the process's budget, forgetting the least
    /// recently used other sessions while it is short. False if even that
    /// leaves no room. Takes none of this session's locks, so two sessions
    /// making room at once never wait on each other.
    fn reserve(&self, bytes: usize) -> bool {
        let Some(shared) = self.shared.upgrade() else {
            return true;
        };
        // What cannot fit even with every other session forgotten costs
        // no one else anything.
        if self.bytes() + bytes > shared.limit {
            return false;
        }
        loop {
            let used = shared.used.load(Ordering::Acquire);
            if used + bytes <= shared.limit {
                if shared
                    .used
                    .compare_exchange(used, used + bytes, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            match shared.evict_one(self.id) {
                // Its bytes return to the budget as it is cleared.
                Some(victim) => victim.clear(),
                None => return false,
            }
        }
    }

    /// Count `bytes` against the budget without making room (settling a
    /// reservation; may pass the limit by one entry in a rare race).
    fn take(&self, bytes: usize) {
        if let Some(shared) = self.shared.upgrade() {
            shared.used.fetch_add(bytes, Ordering::AcqRel);
        }
    }

    /// Return `bytes` to the process's budget.
    fn release(&self, bytes: usize) {
        if let Some(shared) = self.shared.upgrade() {
            shared.used.fetch_sub(bytes, Ordering::AcqRel);
        }
    }

    /// How many `kind` entries are kept.
    pub fn count(&self, kind: &'static str) -> usize {
        lock(&self.entries).get(kind).map_or(0, HashMap::len)
    }

    /// Bytes of text kept.
    pub fn bytes(&self) -> usize {
        *lock(&self.bytes)
    }
}

/// Sessions whose client keys are kept at most (a few KiB each).
const MAX_SEALED: usize = 4096;

/// A session's client keys, with the version they were read at.
type SealedRows = (i64, Arc<dyn Any + Send + Sync>);

impl Drop for SessionMemory {
    fn drop(&mut self) {
        // A session forgotten while a request still held it returns what it
        // kept when that request lets go.
        let total = *lock(&self.bytes);
        self.release(total);
    }
}

/// What every session's memory shares: the sessions, and the budget.
struct Shared {
    sessions: Mutex<HashMap<SessionId, Arc<SessionMemory>>>,
    /// Bytes kept by every session together.
    used: AtomicUsize,
    limit: usize,
}

impl Shared {
    /// Take out the session used least recently, other than `except`.
    fn evict_one(&self, except: SessionId) -> Option<Arc<SessionMemory>> {
        let mut sessions = lock(&self.sessions);
        let oldest = sessions
            .iter()
            .filter(|(id, m)| **id != except && m.bytes() > 0)
            .min_by_key(|(_, m)| *lock(&m.last_used))
            .map(|(id, _)| *id)?;
        sessions.remove(&oldest)
    }
}

/// Every session's memory in this process.
pub struct SessionMemories {
    shared: Arc<Shared>,
    /// A session's client keys (`crypto::keyring::KeyCache`: the rows as
    /// the database holds them, and each key as opened by a request of
    /// this session with its own DK, zeroized when dropped), with the key
    /// list version they were read at: kept so a page neither queries nor
    /// opens them again. Apart from `sessions` so that keeping them never
    /// evicts anyone's opened text; forgotten with the session like it.
    sealed: Mutex<HashMap<SessionId, SealedRows>>,
}

impl Default for SessionMemories {
    fn default() -> Self {
        Self::with_limit(MAX_TOTAL_BYTES)
    }
}

impl SessionMemories {
    /// Memory for sessions that together keep at most `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                sessions: Mutex::new(HashMap::new()),
                used: AtomicUsize::new(0),
                limit,
            }),
            sealed: Mutex::default(),
        }
    }

    /// The memory of `session` (a request of which is being served now).
    pub fn of(&self, session: SessionId) -> Arc<SessionMemory> {
        let mut gone = Vec::new();
        let memory = {
            let mut sessions = lock(&self.shared.sessions);
            let memory = sessions
                .entry(session)
                .or_insert_with(|| {
                    Arc::new(SessionMemory::new(session, Arc::downgrade(&self.shared)))
                })
                .clone();
            *lock(&memory.last_used) = Instant::now();
            while sessions.len() > MAX_SESSIONS {
                let oldest = sessions
                    .iter()
                    .filter(|(id, _)| **id != session)
                    .min_by_key(|(_, m)| *lock(&m.last_used))
                    .map(|(id, _)| *id);
                match oldest.and_then(|id| sessions.remove(&id)) {
                    Some(m) => gone.push(m),
                    None => break,
                }
            }
            memory
        };
        // Forgotten (and wiped) with no lock held.
        gone.iter().for_each(|m| m.clear());
        memory
    }

    /// The sealed rows `session` kept at `version`, if any.
    pub fn sealed<T: Any + Send + Sync>(&self, session: SessionId, version: i64) -> Option<Arc<T>> {
        let sealed = lock(&self.sealed);
        let (kept, value) = sealed.get(&session)?;
        if *kept != version {
            return None;
        }
        value.clone().downcast::<T>().ok()
    }

    /// Keep sealed rows `session` read at `version`.
    pub fn keep_sealed<T: Any + Send + Sync>(
        &self,
        session: SessionId,
        version: i64,
        value: Arc<T>,
    ) {
        let mut sealed = lock(&self.sealed);
        if sealed.len() >= MAX_SEALED && !sealed.contains_key(&session) {
            sealed.clear();
        }
        sealed.insert(session, (version, value));
    }

    /// Forget a session's memory (at sign-out).
    pub fn forget(&self, session: SessionId) {
        let gone = lock(&self.shared.sessions).remove(&session);
        if let Some(m) = gone {
            m.clear();
        }
        lock(&self.sealed).remove(&session);
    }

    /// Sessions holding memory now.
    pub fn sessions(&self) -> Vec<SessionId> {
        let mut ids: HashSet<SessionId> = lock(&self.shared.sessions).keys().copied().collect();
        ids.extend(lock(&self.sealed).keys().copied());
        ids.into_iter().collect()
    }

    /// Keep only sessions in `alive` that were used within `idle`.
    pub fn keep_only(&self, alive: &HashSet<SessionId>, idle: Duration) {
        let gone: Vec<_> = {
            let mut sessions = lock(&self.shared.sessions);
            let ids: Vec<SessionId> = sessions
                .iter()
                .filter(|(id, m)| !alive.contains(*id) || lock(&m.last_used).elapsed() >= idle)
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        // Forgotten (and wiped) with no lock held.
        gone.iter().for_each(|m: &Arc<SessionMemory>| m.clear());
        lock(&self.sealed).retain(|id, _| alive.contains(id));
    }

    /// Bytes held across sessions.
    pub fn bytes(&self) -> usize {
        self.shared.used.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_rows_are_kept_per_session_and_version_and_forgotten_at_sign_out() {
        let memories = SessionMemories::default();
        memories.keep_sealed(SessionId(1), 4, Arc::new(vec![1u8, 2, 3]));
        assert_eq!(
            memories.sealed::<Vec<u8>>(SessionId(1), 4).as_deref(),
            Some(&vec![1u8, 2, 3])
        );
        assert!(memories.sealed::<Vec<u8>>(SessionId(1), 5).is_none());
        assert!(memories.sealed::<Vec<u8>>(SessionId(2), 4).is_none());
        assert!(memories.sessions().contains(&SessionId(1)));
        memories.keep_only(&HashSet::new(), Duration::from_secs(60));
        assert!(memories.sealed::<Vec<u8>>(SessionId(1), 4).is_none());
        memories.keep_sealed(SessionId(3), 1, Arc::new(vec![0u8]));
        memories.forget(SessionId(3));
        assert!(memories.sealed::<Vec<u8>>(SessionId(3), 1).is_none());
    }

    #[test]
    fn an_entry_is_returned_only_for_the_stamp_it_was_opened_from() {
        let memories = SessionMemories::default();
        let m = memories.of(SessionId(1));
        assert!(m.put("note", 7, (1, 100), Arc::new("seven".to_owned()), 5));
        assert_eq!(
            m.get::<String>("note", 7, (1, 100))
                .as_deref()
                .map(String::as_str),
            Some("seven")
        );
        assert!(
            m.get::<String>("note", 7, (2, 101)).is_none(),
            "a newer save"
        );
        assert!(m.get::<u32>("note", 7, (1, 100)).is_none(), "another type");
        assert!(
            memories
                .of(SessionId(2))
                .get::<String>("note", 7, (1, 100))
                .is_none(),
            "another session"
        );
        m.retain("note", |id| id != 7);
        assert!(m.get::<String>("note", 7, (1, 100)).is_none());
        assert_eq!(m.bytes(), 0);
    }

    #[test]
    fn memory_is_bounded_per_session_and_in_sessions() {
        let memories = SessionMemories::default();
        let m = memories.of(SessionId(1));
        assert!(m.put("note", 1, (1, 1), Arc::new(()), MAX_SESSION_BYTES));
        assert!(!m.put("note", 2, (1, 1), Arc::new(()), 1), "full");
        assert!(
            m.put("note", 1, (2, 2), Arc::new(()), 10),
            "replacing frees room"
        );
        assert_eq!(memories.bytes(), 10);
        for id in 2..=(MAX_SESSIONS as i64 + 3) {
            memories.of(SessionId(id));
        }
        assert_eq!(memories.sessions().len(), MAX_SESSIONS);
        assert!(
            !memories.sessions().contains(&SessionId(1)),
            "least recently used went first"
        );
        drop(m);
        assert_eq!(memories.bytes(), 0, "its bytes went back to the budget");
    }

    #[test]
    fn sessions_share_one_budget_and_the_idlest_makes_room() {
        let memories = SessionMemories::with_limit(100);
        let (a, b) = (memories.of(SessionId(1)), memories.of(SessionId(2)));
        assert!(a.put("note", 1, (1, 1), Arc::new(()), 40));
        assert!(b.put("note", 1, (1, 1), Arc::new(()), 40));
        assert_eq!(memories.bytes(), 80);
        // A third session needs room: the least recently used (1) goes.
        std::thread::sleep(Duration::from_millis(2));
        memories.of(SessionId(2));
        let c = memories.of(SessionId(3));
        assert!(c.put("note", 1, (1, 1), Arc::new(()), 50));
        assert!(a.get::<()>("note", 1, (1, 1)).is_none(), "forgotten");
        assert!(b.get::<()>("note", 1, (1, 1)).is_some(), "kept");
        assert_eq!(memories.bytes(), 90);
        assert!(!memories.sessions().contains(&SessionId(1)));
        // More than the whole budget never fits, and costs no one.
        assert!(!c.put("note", 2, (1, 1), Arc::new(()), 101));
        assert!(b.get::<()>("note", 1, (1, 1)).is_some());
        // A session forgotten while a request holds it keeps nothing more.
        assert!(!a.put("note", 2, (1, 1), Arc::new(()), 1));
        // A put over its own session's limit costs no one else anything.
        let d = memories.of(SessionId(4));
        assert!(d.put("note", 1, (1, 1), Arc::new(()), 5));
        assert!(!d.put("note", 2, (1, 1), Arc::new(()), MAX_SESSION_BYTES));
        assert!(b.get::<()>("note", 1, (1, 1)).is_some());
        assert!(c.get::<()>("note", 1, (1, 1)).is_some());
        assert!(
            d.put("note", 1, (2, 2), Arc::new(()), 3),
            "replacing in place"
        );
        assert_eq!(memories.bytes(), 93);
        drop(d);
        memories.forget(SessionId(4));
        // Ending sessions returns their bytes.
        memories.forget(SessionId(2));
        drop(b);
        memories.keep_only(&HashSet::new(), Duration::from_secs(60));
        drop(c);
        drop(a);
        assert_eq!(memories.bytes(), 0);
    }

    #[test]
    fn sessions_that_ended_or_idled_are_forgotten() {
        let memories = SessionMemories::default();
        memories.of(SessionId(1));
        memories.of(SessionId(2));
        memories.of(SessionId(3));
        memories.forget(SessionId(3));
        let alive: HashSet<_> = [SessionId(1)].into();
        memories.keep_only(&alive, Duration::from_secs(60));
        assert_eq!(memories.sessions(), vec![SessionId(1)]);
        memories.keep_only(&alive, Duration::ZERO);
        assert!(memories.sessions().is_empty());
    }
}
