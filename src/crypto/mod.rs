//! Keys and sealing. This module imports nothing from the web or the
//! database: it turns passwords, recovery codes and session secrets into keys,
//! and seals and opens bytes. The format below is a contract: blobs written today
//! must open in every later version.
//!
//! # Key hierarchy
//! - **DK** ([`DataKey`]): 256 random bits per therapist. Every protected field
//!   is sealed under it.
//! - **Password keys** ([`password::derive`]): one Argon2id run over the password
//!   (per-account 16-byte salt, per-account parameters within
//!   [`password::KdfParams`] floor and ceiling) gives 64 bytes; HKDF-SHA256
//!   splits them into an [`password::AuthKey`] (the server keeps only a hash of
//!   it) and a [`KeyEncryptionKey`] that seals DK.
//! - **Recovery code** ([`recovery::RecoveryCode`]): 160 random bits; HKDF turns
//!   it into a [`RecoveryKey`] that seals a second copy of DK.
//! - **Session secret** ([`session::SessionToken`]): lives only in the cookie;
//!   HKDF turns it into a [`SessionKey`] that seals the session's copy of DK.
//! - **Client key** ([`ClientKey`], [`keyring`]): 256 random bits per client
//!   and version; seals everything of one client, so it can be shared. The
//!   owner's copy is sealed under DK; colleagues get HPKE envelopes to their
//!   X25519 public key ([`share`]). Blobs under a client key bind the
//!   client's id where DK blobs bind the therapist's.
//!
//! # Sealed blob format (version 2)
//! ```text
//! version (1 byte = 0x02) | key id (4 bytes, big-endian) | nonce (24 bytes) | ciphertext + tag (16)
//! ```
//! The cipher is XChaCha20-Poly1305 with a fresh random nonce per seal. The key
//! id names the kind of key in its top byte ([`KeyKind`]) and the key's
//! generation in the lower three (a client key's version; 1 for the others).
//! The associated data binds a blob to its place:
//! ```text
//! header (version | key id) | therapist id (8, BE) | len | table | len | column | row id (8, BE) | parent id (8, BE)
//! ```
//! so a blob copied to another row, column or therapist fails to open, and
//! so does a row moved under another owning record (a note to another
//! client, an addendum to another note): the parent is that record's id, or
//! 0 for rows that belong to none. Version 1 blobs, written before the
//! parent was bound, have no parent id in their associated data; they are
//! still read, and sealed again as version 2 when their owner signs in. An
//! unknown version is an error, never a guess.

pub mod keyring;
pub mod password;
pub mod recovery;
pub mod seal;
pub mod session;
pub mod share;

pub use keyring::{ClientKey, Keys};
pub use seal::{OpenError, Opened, Place, open, seal};

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Fill an array from the operating system's random source.
///
/// # Panics
/// If the OS random source fails, which on Linux happens only before the
/// kernel's pool is initialised at boot; continuing without randomness would
/// be far worse than stopping.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).expect("the operating system's random source failed");
    buf
}

/// A random token of 256 bits, base64url without padding (for CSRF tokens).
pub fn random_token() -> String {
    data_encoding::BASE64URL_NOPAD.encode(&random_bytes::<32>())
}

/// Compare two byte strings in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// SHA-256 of the parts, each prefixed by its length so that the boundaries
/// between parts cannot be moved.
pub fn hash_parts(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// What kind of key sealed a blob: the top byte of the key id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum KeyKind {
    /// A therapist's data key, sealing protected fields.
    Data = 1,
    /// The password-derived key that seals DK.
    Password = 2,
    /// The recovery-code-derived key that seals DK.
    Recovery = 3,
    /// The session-secret-derived key that seals a session's copy of DK.
    Session = 4,
    /// A client key (CK); the lower 24 bits of the key id are its version.
    Client = 5,
    /// The key derived from a private handout link's secret.
    Link = 6,
}

/// A 256-bit key that can seal and open blobs.
pub trait SealingKey {
    /// The key id written into every blob this key seals.
    fn key_id(&self) -> u32;
    /// The raw key bytes.
    fn key_bytes(&self) -> &[u8; 32];
}

macro_rules! sealing_key {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        ///
        /// Zeroized on drop; deliberately has no `Debug` or `Clone`.
        #[derive(Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wrap raw key bytes (taking ownership so only one copy lives).
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
        }

        impl SealingKey for $name {
            fn key_id(&self) -> u32 {
                (($kind as u32) << 24) | 1
            }
            fn key_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }
    };
}

sealing_key!(
    /// A therapist's data key (DK).
    DataKey,
    KeyKind::Data
);
sealing_key!(
    /// The key derived from the password that seals DK.
    KeyEncryptionKey,
    KeyKind::Password
);
sealing_key!(
    /// The key derived from a recovery code that seals DK.
    RecoveryKey,
    KeyKind::Recovery
);
sealing_key!(
    /// The key derived from a session secret that seals the session's DK copy.
    SessionKey,
    KeyKind::Session
);

sealing_key!(
    /// The key derived from a private handout link's secret
    /// ([`password::link_key`]).
    LinkKey,
    KeyKind::Link
);

impl DataKey {
    /// A fresh random data key for a new therapist.
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// A second copy, for work on a blocking thread. Deliberately not
    /// `Clone`: each copy is explicit, and each zeroizes on drop.
    pub fn duplicate(&self) -> Self {
        Self(self.0)
    }

    /// Seal this key under another key, at `place`.
    pub fn seal_under(&self, key: &impl SealingKey, place: &Place<'_>) -> Vec<u8> {
        seal(key, place, &self.0)
    }

    /// Open a DK sealed with [`DataKey::seal_under`].
    pub fn open_from(
        key: &impl SealingKey,
        place: &Place<'_>,
        blob: &[u8],
    ) -> Result<Self, OpenError> {
        let plain = open(key, place, blob)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| OpenError::Integrity)?;
        Ok(Self(bytes))
    }
}

/// HKDF-SHA256 expand of `ikm` into 32 bytes for `info`.
/// A pin of `public_key` keyed by a secret only a bearer of `token` has:
/// HKDF-SHA256 over the token, with the key in its info, as a PRF.
pub fn token_key_tag(token: &str, public_key: &[u8]) -> [u8; 32] {
    let mut info = b"tearsheet/v1/inbox-key-pin".to_vec();
    info.extend_from_slice(public_key);
    hkdf32(None, token.as_bytes(), &info)
}

fn hkdf32(salt: Option<&[u8]>, ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(salt, ikm);
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so this cannot fail.
    hk.expand(info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// The keys a [`Record`] seals and opens with.
enum Sealer<'a> {
    /// A therapist's own data, under their DK alone.
    Data(&'a DataKey),
    /// A client's data: under the client's newest key held, opening any
    /// version held; DK blobs (written before client keys) still open.
    Client { keys: &'a Keys, client: i64 },
}

/// Seals and opens the fields of one row: the keys plus the row's place, so
/// each column's associated data is right by construction.
///
/// A client's rows ([`Record::of_client`]) are sealed under the client's
/// key and bound to the client (the scope in the associated data is the
/// client's id, which does not change when the client moves to another
/// therapist). Blobs sealed under a DK are bound to the therapist.
pub struct Record<'a> {
    sealer: Sealer<'a>,
    therapist: i64,
    table: &'static str,
    row: i64,
    parent: i64,
}

impl<'a> Record<'a> {
    /// The row `row` of `table`, owned by `therapist`, under their DK.
    pub fn new(key: &'a DataKey, therapist: i64, table: &'static str, row: i64) -> Self {
        Self {
            sealer: Sealer::Data(key),
            therapist,
            table,
            row,
            parent: 0,
        }
    }

    /// The row `row` of `table`, which belongs to `client` and was written
    /// by `therapist` (whose DK sealed it before client keys, and seals
    /// its private parts).
    pub fn of_client(
        keys: &'a Keys,
        therapist: i64,
        client: i64,
        table: &'static str,
        row: i64,
    ) -> Self {
        Self {
            sealer: Sealer::Client { keys, client },
            therapist,
            table,
            row,
            parent: 0,
        }
    }

    /// The same row, which belongs to record `parent` (a note to its
    /// client, an addendum to its note): moving the row to another parent
    /// makes its fields fail to open.
    pub fn under(self, parent: i64) -> Self {
        Self { parent, ..self }
    }

    fn place(&self, scope: i64, column: &'static str) -> Place<'static> {
        Place::new(scope, self.table, column, self.row).under(self.parent)
    }

    fn dk(&self) -> &DataKey {
        match self.sealer {
            Sealer::Data(dk) => dk,
            Sealer::Client { keys, .. } => keys.dk(),
        }
    }

    /// Seal raw bytes for `column`.
    pub fn seal_bytes(&self, column: &'static str, bytes: &[u8]) -> Vec<u8> {
        if let Sealer::Client { keys, client } = self.sealer {
            if let Some(ck) = keys.current(client) {
                return seal(ck.as_ref(), &self.place(client, column), bytes);
            }
        }
        seal(self.dk(), &self.place(self.therapist, column), bytes)
    }

    /// Seal text for `column`.
    pub fn seal(&self, column: &'static str, text: &str) -> Vec<u8> {
        self.seal_bytes(column, text.as_bytes())
    }

    /// Seal text that only its author may ever read (a private process
    /// note): under the author's DK, never a client key.
    pub fn seal_private(&self, column: &'static str, text: &str) -> Vec<u8> {
        seal(
            self.dk(),
            &self.place(self.therapist, column),
            text.as_bytes(),
        )
    }

    /// Open the raw bytes of `column`, with whichever key its header names.
    pub fn open_bytes(
        &self,
        column: &'static str,
        blob: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, OpenError> {
        match self.sealer {
            Sealer::Client { keys, client } if keyring::is_under_client_key(blob) => {
                let id = keyring::key_id_of(blob).unwrap_or_default();
                let Some(ck) = keys.client_key(client, id & 0x00ff_ffff) else {
                    return Err(OpenError::WrongKey {
                        expected: 0,
                        found: id,
                    });
                };
                open(ck.as_ref(), &self.place(client, column), blob)
            }
            _ => open(self.dk(), &self.place(self.therapist, column), blob),
        }
    }

    /// Open the text of `column`.
    pub fn open(&self, column: &'static str, blob: &[u8]) -> Result<String, OpenError> {
        let bytes = self.open_bytes(column, blob)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| OpenError::Integrity)
    }

    /// Open the text of `column` for a page: as [`Record::open`], but a
    /// failure is also logged (table, column and row; never content).
    pub fn open_field(&self, column: &'static str, blob: &[u8]) -> Opened<String> {
        self.open(column, blob).inspect_err(|err| {
            tracing::warn!(table = self.table, column, row = self.row, error = %err, "a sealed field failed to open");
        })
    }

    /// Whether `blob` needs no upgrade: the current blob version and, for
    /// a client's row whose key is held, sealed under a client key (any
    /// version: older versions stay as they are after a rotation).
    pub fn is_current(&self, blob: &[u8]) -> bool {
        if seal::version_of(blob) != Some(seal::VERSION) {
            return false;
        }
        match self.sealer {
            Sealer::Data(_) => true,
            Sealer::Client { keys, client } => {
                !keys.holds(client) || keyring::is_under_client_key(blob)
            }
        }
    }
}
