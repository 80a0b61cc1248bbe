//! Session tokens: what the cookie carries.
//!
//! A token is a random 128-bit id and a random 256-bit secret. The database
//! keeps only a hash of the id (to find the row) and the session's copy of DK
//! sealed under a key derived from the secret, so a copy of the database holds
//! no usable session and no DK.

use zeroize::Zeroizing;

use super::{SessionKey, hash_parts, hkdf32, random_bytes};

const ID_LEN: usize = 16;
const SECRET_LEN: usize = 32;

/// The pair carried in the session cookie. Zeroized on drop; no `Debug`.
pub struct SessionToken {
    id: [u8; ID_LEN],
    secret: Zeroizing<[u8; SECRET_LEN]>,
}

impl SessionToken {
    /// A new random token, made at every login.
    pub fn generate() -> Self {
        Self {
            id: random_bytes(),
            secret: Zeroizing::new(random_bytes()),
        }
    }

    /// The cookie value: base64url of id then secret.
    pub fn encode(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; ID_LEN + SECRET_LEN]);
        raw[..ID_LEN].copy_from_slice(&self.id);
        raw[ID_LEN..].copy_from_slice(self.secret.as_ref());
        Zeroizing::new(data_encoding::BASE64URL_NOPAD.encode(raw.as_ref()))
    }

    /// Read a cookie value; `None` for anything that is not a token.
    pub fn decode(value: &str) -> Option<Self> {
        if value.len() != 64 {
            return None;
        }
        let raw = Zeroizing::new(
            data_encoding::BASE64URL_NOPAD
                .decode(value.as_bytes())
                .ok()?,
        );
        if raw.len() != ID_LEN + SECRET_LEN {
            return None;
        }
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&raw[..ID_LEN]);
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        secret.copy_from_slice(&raw[ID_LEN..]);
        Some(Self { id, secret })
    }

    /// What the sessions table stores to find this session.
    pub fn id_hash(&self) -> [u8; 32] {
        hash_parts(&[b"tearsheet/v1/session-id", &self.id])
    }

    /// The key that seals this session's copy of DK.
    pub fn key(&self) -> SessionKey {
        SessionKey::from_bytes(hkdf32(
            None,
            self.secret.as_ref(),
            b"tearsheet/v1/session-key",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SealingKey;

    #[test]
    fn tokens_round_trip_through_the_cookie_value() {
        let token = SessionToken::generate();
        let back = SessionToken::decode(&token.encode()).expect("decodes");
        assert_eq!(back.id_hash(), token.id_hash());
        assert_eq!(back.key().key_bytes(), token.key().key_bytes());
    }

    #[test]
    fn two_tokens_differ_and_garbage_is_not_a_token() {
        assert_ne!(
            SessionToken::generate().id_hash(),
            SessionToken::generate().id_hash()
        );
        for junk in ["", "abc", &"A".repeat(64), &"!".repeat(64), &"A".repeat(65)] {
            let decoded = SessionToken::decode(junk);
            // 64 'A's is valid base64url and decodes to zeros: a token that
            // finds no row. Everything else must be refused outright.
            if junk != "A".repeat(64) {
                assert!(decoded.is_none(), "{junk:?} decoded");
            }
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn decoding_any_cookie_value_never_panics(value in ".{0,100}") {
            let _ = SessionToken::decode(&value);
        }
    }
}
