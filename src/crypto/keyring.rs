//! Client keys (CK) and the keyring a signed-in therapist carries.
//!
//! Every client has a random 256-bit key per version. What belongs to the
//! client (their fields, notes, earlier versions, addenda, tags, measures
//! and given handouts) is sealed under the newest version the sealer holds;
//! a blob's key id names the version it needs. The owner holds every
//! version sealed under their DK; a supervisor, a custodian or a colleague
//! offered the client holds them in HPKE envelopes ([`super::share`]).
//!
//! A [`Keys`] is built per request from the rows its holder may use, still
//! sealed; each key is opened the first time something needs it (one
//! XChaCha20-Poly1305 open for the owner, one X25519 + HPKE open for an
//! envelope) and kept only for the rest of that request.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::share::{Envelope, PrivateKey};
use super::{DataKey, KeyKind, OpenError, Place, SealingKey, random_bytes};

/// The lower 24 bits of a key id hold a client key's version.
const VERSION_MASK: u32 = 0x00ff_ffff;

/// One version of one client's key. Zeroized on drop; no `Debug`/`Clone`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ClientKey {
    #[zeroize(skip)]
    version: u32,
    bytes: [u8; 32],
}

impl ClientKey {
    /// A fresh random key for `version`.
    pub fn generate(version: u32) -> Self {
        Self::from_bytes(version, random_bytes())
    }

    /// Wrap raw key bytes.
    pub fn from_bytes(version: u32, bytes: [u8; 32]) -> Self {
        Self {
            version: version & VERSION_MASK,
            bytes,
        }
    }

    /// Which version this is.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Where the owner's copy of a client key is sealed under their DK.
    pub fn owner_place(owner: i64, client: i64, version: u32) -> Place<'static> {
        Place::new(owner, "client_keys", "sealed", client).under(i64::from(version))
    }

    /// Seal this key under the owner's DK.
    pub fn seal_for_owner(&self, dk: &DataKey, owner: i64, client: i64) -> Vec<u8> {
        super::seal(
            dk,
            &Self::owner_place(owner, client, self.version),
            &self.bytes,
        )
    }

    /// Open the owner's copy.
    pub fn open_for_owner(
        dk: &DataKey,
        owner: i64,
        client: i64,
        version: u32,
        blob: &[u8],
    ) -> Result<Self, OpenError> {
        let plain = super::open(dk, &Self::owner_place(owner, client, version), blob)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| OpenError::Integrity)?;
        Ok(Self::from_bytes(version, bytes))
    }
}

impl SealingKey for ClientKey {
    fn key_id(&self) -> u32 {
        ((KeyKind::Client as u32) << 24) | self.version
    }
    fn key_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

/// The key id written in a blob's header, if it has one.
pub fn key_id_of(blob: &[u8]) -> Option<u32> {
    let header: [u8; 4] = blob.get(1..5)?.try_into().ok()?;
    Some(u32::from_be_bytes(header))
}

/// Whether a blob was sealed under a client key (rather than a DK).
pub fn is_under_client_key(blob: &[u8]) -> bool {
    key_id_of(blob).is_some_and(|id| id >> 24 == KeyKind::Client as u32)
}

/// How a keyring holds one version of a client's key, as stored.
pub enum Held {
    /// The owner's copy, sealed under their DK.
    Owner(Vec<u8>),
    /// An envelope to this therapist.
    Envelope(Envelope, Vec<u8>),
}

/// One stored client key a therapist may use.
pub struct HeldKey {
    /// Whose key.
    pub client: i64,
    /// Which version.
    pub version: u32,
    /// How it is sealed.
    pub held: Held,
}

enum Slot {
    Sealed(Held),
    Open(Arc<ClientKey>),
    Broken,
}

/// The client keys a session may use, as stored, and each one opened the
/// first time a request of the session needed it. Kept by the session
/// (see `web::session_memory`) while the therapist's key rows are
/// unchanged, so a page neither reads nor opens them again; forgotten with
/// the session. Opened keys zeroize when dropped.
pub struct KeyCache {
    rings: RwLock<HashMap<i64, BTreeMap<u32, Slot>>>,
}

impl KeyCache {
    /// The rows held, for one therapist. A client with an owner's copy
    /// (authenticated under DK) is read and sealed with owner copies only:
    /// envelopes are not sender-authenticated, so one for a client the
    /// holder owns is ignored.
    pub fn new(held: Vec<HeldKey>) -> Self {
        let owned: std::collections::HashSet<i64> = held
            .iter()
            .filter(|h| matches!(h.held, Held::Owner(_)))
            .map(|h| h.client)
            .collect();
        let mut rings: HashMap<i64, BTreeMap<u32, Slot>> = HashMap::new();
        for h in held {
            if owned.contains(&h.client) && !matches!(h.held, Held::Owner(_)) {
                continue;
            }
            rings
                .entry(h.client)
                .or_default()
                .insert(h.version, Slot::Sealed(h.held));
        }
        Self {
            rings: RwLock::new(rings),
        }
    }
}

/// A therapist's keys for one request: their DK, their private key (opened
/// when an envelope first needs it), the client keys they may use (a
/// [`KeyCache`], perhaps shared with the session's earlier requests) and
/// keys this request made (kept only here, so a write that rolls back
/// leaves no key behind).
pub struct Keys {
    therapist: i64,
    dk: DataKey,
    private_sealed: Option<Vec<u8>>,
    private: OnceLock<Option<PrivateKey>>,
    cache: Arc<KeyCache>,
    made: RwLock<HashMap<i64, BTreeMap<u32, Arc<ClientKey>>>>,
}

impl Keys {
    /// Where a therapist's private key is sealed under their DK.
    pub fn private_place(therapist: i64) -> Place<'static> {
        Place::new(therapist, "therapists", "private_key", therapist)
    }

    /// A keyring from what the database holds for `therapist`.
    pub fn new(
        therapist: i64,
        dk: DataKey,
        private_sealed: Option<Vec<u8>>,
        held: Vec<HeldKey>,
    ) -> Self {
        Self::with_cache(therapist, dk, private_sealed, Arc::new(KeyCache::new(held)))
    }

    /// A keyring over a session's [`KeyCache`].
    pub fn with_cache(
        therapist: i64,
        dk: DataKey,
        private_sealed: Option<Vec<u8>>,
        cache: Arc<KeyCache>,
    ) -> Self {
        Self {
            therapist,
            dk,
            private_sealed,
            private: OnceLock::new(),
            cache,
            made: RwLock::new(HashMap::new()),
        }
    }

    /// A keyring with a DK and no client keys (data not yet moved to
    /// client keys is sealed under DK and opens with this).
    pub fn only(therapist: i64, dk: DataKey) -> Self {
        Self::new(therapist, dk, None, Vec::new())
    }

    /// Whose keyring.
    pub fn therapist(&self) -> i64 {
        self.therapist
    }

    /// The therapist's data key.
    pub fn dk(&self) -> &DataKey {
        &self.dk
    }

    /// The therapist's private key, if they have one and it opens.
    pub fn private_key(&self) -> Option<&PrivateKey> {
        self.private
            .get_or_init(|| {
                let sealed = self.private_sealed.as_ref()?;
                let plain =
                    super::open(&self.dk, &Self::private_place(self.therapist), sealed).ok()?;
                PrivateKey::from_slice(&plain)
            })
            .as_ref()
    }

    fn open_held(&self, client: i64, version: u32, held: &Held) -> Option<ClientKey> {
        let opened = match held {
            Held::Owner(sealed) => {
                ClientKey::open_for_owner(&self.dk, self.therapist, client, version, sealed)
            }
            Held::Envelope(envelope, sealed) => {
                if envelope.recipient != self.therapist
                    || envelope.client != client
                    || envelope.version != version
                {
                    return None;
                }
                envelope.open(self.private_key()?, sealed)
            }
        };
        opened
            .inspect_err(|err| {
                tracing::warn!(client, version, error = %err, "a client key failed to open");
            })
            .ok()
    }

    /// Version `version` of `client`'s key, if held and it opens.
    pub fn client_key(&self, client: i64, version: u32) -> Option<Arc<ClientKey>> {
        if let Some(key) = read(&self.made).get(&client).and_then(|r| r.get(&version)) {
            return Some(key.clone());
        }
        {
            let rings = read(&self.cache.rings);
            match rings.get(&client)?.get(&version)? {
                Slot::Open(key) => return Some(key.clone()),
                Slot::Broken => return None,
                Slot::Sealed(_) => {}
            }
        }
        let mut rings = self.cache.rings.write().unwrap_or_else(|e| e.into_inner());
        let slot = rings.get_mut(&client)?.get_mut(&version)?;
        if let Slot::Sealed(held) = slot {
            *slot = match self.open_held(client, version, held) {
                Some(key) => Slot::Open(Arc::new(key)),
                None => Slot::Broken,
            };
        }
        match slot {
            Slot::Open(key) => Some(key.clone()),
            _ => None,
        }
    }

    /// The newest version of `client`'s key this keyring holds.
    pub fn current(&self, client: i64) -> Option<Arc<ClientKey>> {
        let newest = self.versions(client).into_iter().max()?;
        self.client_key(client, newest)
    }

    /// Whether this keyring holds any key of `client`.
    pub fn holds(&self, client: i64) -> bool {
        !self.versions(client).is_empty()
    }

    /// The versions of `client`'s key held, oldest first.
    pub fn versions(&self, client: i64) -> Vec<u32> {
        let mut versions: Vec<u32> = read(&self.cache.rings)
            .get(&client)
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default();
        if let Some(made) = read(&self.made).get(&client) {
            versions.extend(made.keys().copied());
        }
        versions.sort_unstable();
        versions.dedup();
        versions
    }

    /// Keep a key just made (a new client's, a rotation's), for this
    /// request only: the next one reads it back from the database.
    pub fn adopt(&self, client: i64, key: ClientKey) -> Arc<ClientKey> {
        let key = Arc::new(key);
        self.made
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(client)
            .or_default()
            .insert(key.version(), key.clone());
        key
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_keyring_opens_every_version_and_seals_with_the_newest() {
        let dk = DataKey::generate();
        let (v1, v2) = (ClientKey::generate(1), ClientKey::generate(2));
        let held = vec![
            HeldKey {
                client: 5,
                version: 1,
                held: Held::Owner(v1.seal_for_owner(&dk, 7, 5)),
            },
            HeldKey {
                client: 5,
                version: 2,
                held: Held::Owner(v2.seal_for_owner(&dk, 7, 5)),
            },
            // Sealed for another client: refuses to open here.
            HeldKey {
                client: 6,
                version: 1,
                held: Held::Owner(v1.seal_for_owner(&dk, 7, 5)),
            },
        ];
        let keys = Keys::new(7, dk, None, held);
        assert_eq!(
            keys.client_key(5, 1).expect("v1").key_bytes(),
            v1.key_bytes()
        );
        assert_eq!(keys.current(5).expect("v2").key_bytes(), v2.key_bytes());
        assert!(keys.client_key(6, 1).is_none());
        assert!(keys.client_key(5, 3).is_none());
        assert!(!keys.holds(8));
    }
}
