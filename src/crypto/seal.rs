//! Sealing and opening blobs; the format is documented on the parent module.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::{SealingKey, random_bytes};

/// The blob version this build writes: its associated data also binds the
/// record that owns the value's row ([`Place::parent`]).
pub const VERSION: u8 = 2;
/// The first version, still read: its associated data binds therapist,
/// table, column and row, but no owning record. Rows holding it are sealed
/// again as [`VERSION`] when their owner signs in.
pub const LEGACY_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// The smallest valid blob: header, nonce and tag around an empty plaintext.
pub const MIN_BLOB_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// A sealed value as opened: its plaintext, or why it did not open. Models
/// hand these to pages, which decide what to show in place of a value that
/// failed its integrity check.
pub type Opened<T> = Result<T, OpenError>;

/// Where a sealed value lives; bound into the blob as associated data.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    /// The therapist who owns the value.
    pub therapist: i64,
    /// The table holding the value.
    pub table: &'a str,
    /// The column holding the value.
    pub column: &'a str,
    /// The row id holding the value.
    pub row: i64,
    /// The record the row belongs to (a note's client, an addendum's note),
    /// or 0 for rows that belong to no other record. Bound from version 2
    /// on, so a row moved to another owner fails to open.
    pub parent: i64,
}

impl<'a> Place<'a> {
    /// Column `column` of row `row` in `table`, owned by `therapist` and
    /// belonging to no other record.
    pub const fn new(therapist: i64, table: &'a str, column: &'a str, row: i64) -> Self {
        Self {
            therapist,
            table,
            column,
            row,
            parent: 0,
        }
    }

    /// The same place, in a row that belongs to record `parent`.
    pub const fn under(self, parent: i64) -> Self {
        Self { parent, ..self }
    }
}

/// Why a blob did not open. None of these carry any plaintext.
#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// Shorter than the smallest possible blob.
    #[error("sealed value is truncated")]
    Truncated,
    /// A version this build does not know; never guessed at.
    #[error("sealed value has unknown format version {0}")]
    UnknownVersion(u8),
    /// Sealed by a different kind or generation of key than offered.
    #[error("sealed value names key {found:#010x}, expected {expected:#010x}")]
    WrongKey {
        /// The key id the caller offered.
        expected: u32,
        /// The key id written in the blob.
        found: u32,
    },
    /// The tag did not verify: tampered, moved to another place, or wrong key.
    #[error("sealed value failed its integrity check")]
    Integrity,
}

fn associated_data(header: &[u8], place: &Place<'_>) -> Vec<u8> {
    let mut ad =
        Vec::with_capacity(header.len() + 8 + 2 + place.table.len() + place.column.len() + 16);
    ad.extend_from_slice(header);
    ad.extend_from_slice(&place.therapist.to_be_bytes());
    for name in [place.table, place.column] {
        // Table and column names are short identifiers chosen in code.
        let len = u8::try_from(name.len()).unwrap_or(u8::MAX);
        ad.push(len);
        ad.extend_from_slice(&name.as_bytes()[..usize::from(len)]);
    }
    ad.extend_from_slice(&place.row.to_be_bytes());
    // Version 1 bound no owning record; everything later does.
    if header[0] != LEGACY_VERSION {
        ad.extend_from_slice(&place.parent.to_be_bytes());
    }
    ad
}

/// Seal `plaintext` under `key` for `place`, with a fresh random nonce.
pub fn seal(key: &impl SealingKey, place: &Place<'_>, plaintext: &[u8]) -> Vec<u8> {
    seal_as(VERSION, key, place, plaintext)
}

/// The format version of a sealed blob (its first byte), if it has one.
pub fn version_of(blob: &[u8]) -> Option<u8> {
    blob.first().copied()
}

fn seal_as(version: u8, key: &impl SealingKey, place: &Place<'_>, plaintext: &[u8]) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    header[0] = version;
    header[1..].copy_from_slice(&key.key_id().to_be_bytes());
    let nonce: [u8; NONCE_LEN] = random_bytes();
    let ad = associated_data(&header, place);
    let cipher = XChaCha20Poly1305::new(key.key_bytes().into());
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &ad,
            },
        )
        // Encryption fails only for plaintexts beyond 256 GiB.
        .expect("XChaCha20-Poly1305 encrypts any in-memory plaintext");
    let mut blob = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ciphertext.len());
    blob.extend_from_slice(&header);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ciphertext);
    blob
}

/// Open a blob sealed by [`seal`] with the same key and place.
pub fn open(
    key: &impl SealingKey,
    place: &Place<'_>,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let Some(&version) = blob.first() else {
        return Err(OpenError::Truncated);
    };
    if version != VERSION && version != LEGACY_VERSION {
        return Err(OpenError::UnknownVersion(version));
    }
    if blob.len() < MIN_BLOB_LEN {
        return Err(OpenError::Truncated);
    }
    let (header, rest) = blob.split_at(HEADER_LEN);
    let found = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    if found != key.key_id() {
        return Err(OpenError::WrongKey {
            expected: key.key_id(),
            found,
        });
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let ad = associated_data(header, place);
    let cipher = XChaCha20Poly1305::new(key.key_bytes().into());
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &ad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenError::Integrity)
}

/// Seal a UTF-8 string.
pub fn seal_str(key: &impl SealingKey, place: &Place<'_>, text: &str) -> Vec<u8> {
    seal(key, place, text.as_bytes())
}

/// Open a blob holding UTF-8 text; invalid UTF-8 counts as an integrity failure.
pub fn open_string(
    key: &impl SealingKey,
    place: &Place<'_>,
    blob: &[u8],
) -> Result<String, OpenError> {
    let bytes = open(key, place, blob)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| OpenError::Integrity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{DataKey, SessionKey};

    fn place() -> Place<'static> {
        Place::new(7, "notes", "sections", 42).under(9)
    }

    /// A fixed key for tests only.
    fn test_key() -> DataKey {
        DataKey::from_bytes([0x42; 32])
    }

    fn random_len(max: usize) -> usize {
        let n = u64::from_le_bytes(random_bytes());
        (n % (max as u64 + 1)) as usize
    }

    fn random_unicode(len_chars: usize) -> String {
        let mut s = String::new();
        while s.chars().count() < len_chars {
            let c = u32::from_le_bytes(random_bytes()) % 0x11_0000;
            if let Some(c) = char::from_u32(c) {
                s.push(c);
            }
        }
        s
    }

    #[test]
    fn round_trips_random_plaintexts_from_empty_to_one_mebibyte() {
        let key = test_key();
        let mut sizes = vec![0, 1, 15, 16, 17, 1 << 20];
        sizes.extend((0..40).map(|_| random_len(70_000)));
        for len in sizes {
            let mut plain = vec![0u8; len];
            getrandom::getrandom(&mut plain).expect("random");
            let blob = seal(&key, &place(), &plain);
            assert_eq!(blob.len(), MIN_BLOB_LEN + len);
            assert_eq!(
                open(&key, &place(), &blob).expect("opens").as_slice(),
                &plain[..]
            );
        }
        for chars in [0, 1, 7, 300, 5000] {
            let text = random_unicode(chars);
            let blob = seal_str(&key, &place(), &text);
            assert_eq!(open_string(&key, &place(), &blob).expect("opens"), text);
        }
    }

    #[test]
    fn flipping_any_bit_of_any_part_fails_to_open() {
        let key = test_key();
        let blob = seal(&key, &place(), b"she cried for the first time");
        for byte in 0..blob.len() {
            for bit in 0..8 {
                let mut tampered = blob.clone();
                tampered[byte] ^= 1 << bit;
                assert!(
                    open(&key, &place(), &tampered).is_err(),
                    "flipping bit {bit} of byte {byte} still opened"
                );
            }
        }
    }

    #[test]
    fn truncated_blobs_fail_to_open() {
        let key = test_key();
        let blob = seal(&key, &place(), b"text");
        for len in 0..blob.len() {
            assert!(
                open(&key, &place(), &blob[..len]).is_err(),
                "length {len} opened"
            );
        }
    }

    #[test]
    fn a_blob_moved_to_another_row_column_or_therapist_fails_to_open() {
        let key = test_key();
        let blob = seal(&key, &place(), b"private");
        let moved = [
            Place { row: 43, ..place() },
            Place {
                column: "key_moment",
                ..place()
            },
            Place {
                table: "note_versions",
                ..place()
            },
            Place {
                therapist: 8,
                ..place()
            },
            place().under(10),
            place().under(0),
        ];
        for other in moved {
            assert_eq!(
                open(&key, &other, &blob),
                Err(OpenError::Integrity),
                "{other:?}"
            );
        }
    }

    #[test]
    fn sealing_twice_gives_different_nonces_and_ciphertexts() {
        let key = test_key();
        let a = seal(&key, &place(), b"same words");
        let b = seal(&key, &place(), b"same words");
        assert_ne!(
            a[HEADER_LEN..HEADER_LEN + NONCE_LEN],
            b[HEADER_LEN..HEADER_LEN + NONCE_LEN]
        );
        assert_ne!(a[HEADER_LEN + NONCE_LEN..], b[HEADER_LEN + NONCE_LEN..]);
    }

    #[test]
    fn an_unknown_version_is_an_error_not_a_guess() {
        let key = test_key();
        for version in [0, 3, 255] {
            let mut blob = seal(&key, &place(), b"x");
            blob[0] = version;
            assert_eq!(
                open(&key, &place(), &blob),
                Err(OpenError::UnknownVersion(version))
            );
        }
    }

    #[test]
    fn new_blobs_are_version_2_and_legacy_version_1_blobs_still_open() {
        let key = test_key();
        assert_eq!(version_of(&seal(&key, &place(), b"x")), Some(VERSION));
        let legacy = seal_as(LEGACY_VERSION, &key, &place(), b"written by 0.1");
        assert_eq!(
            open(&key, &place(), &legacy).expect("opens").as_slice(),
            b"written by 0.1"
        );
        // Version 1 never bound the owning record: that is why such rows are
        // sealed again at sign-in.
        assert!(open(&key, &place().under(10), &legacy).is_ok());
        assert!(open(&key, &Place { row: 43, ..place() }, &legacy).is_err());
        // A version 2 blob relabelled as version 1 fails: the header is bound.
        let mut relabelled = seal(&key, &place(), b"x");
        relabelled[0] = LEGACY_VERSION;
        assert_eq!(open(&key, &place(), &relabelled), Err(OpenError::Integrity));
    }

    #[test]
    fn another_kind_of_key_is_refused_by_key_id() {
        let blob = seal(&test_key(), &place(), b"x");
        let other = SessionKey::from_bytes([0x42; 32]);
        assert!(matches!(
            open(&other, &place(), &blob),
            Err(OpenError::WrongKey { .. })
        ));
        let other_dk = DataKey::from_bytes([0x43; 32]);
        assert_eq!(open(&other_dk, &place(), &blob), Err(OpenError::Integrity));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::crypto::DataKey;

    proptest! {
        #[test]
        fn opening_any_bytes_never_panics(blob in proptest::collection::vec(any::<u8>(), 0..256)) {
            let key = DataKey::from_bytes([7; 32]);
            let place = Place::new(1, "t", "c", 1);
            let _ = open(&key, &place, &blob);
        }

        #[test]
        fn any_plaintext_at_any_place_round_trips(
            plain in proptest::collection::vec(any::<u8>(), 0..4096),
            therapist in any::<i64>(),
            row in any::<i64>(),
            parent in any::<i64>(),
            column in "[a-z_]{1,40}",
        ) {
            let key = DataKey::from_bytes([9; 32]);
            let place = Place::new(therapist, "notes", &column, row).under(parent);
            let blob = seal(&key, &place, &plain);
            let opened = open(&key, &place, &blob).expect("opens");
            prop_assert_eq!(opened.as_slice(), &plain[..]);
            let elsewhere = Place { row: row.wrapping_add(1), ..place };
            prop_assert!(open(&key, &elsewhere, &blob).is_err());
            let moved = place.under(parent.wrapping_add(1));
            prop_assert!(open(&key, &moved, &blob).is_err());
        }
    }
}
