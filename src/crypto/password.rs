//! From a password to an authentication key and a key-encryption key.
//!
//! One Argon2id run gives 64 bytes; HKDF-SHA256 splits them. The server stores
//! only [`AuthKey::verifier`], so checking a guess against anything stored
//! costs one full Argon2id run.

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{KeyEncryptionKey, LinkKey, constant_time_eq, hash_parts, hkdf32};

/// Argon2id cost parameters, stored per account so they can be raised later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes over memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

/// Why a key derivation was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KdfError {
    /// Stored parameters below the floor: weaker than the contract allows.
    #[error("Argon2id parameters {0:?} are below the floor")]
    BelowFloor(KdfParams),
    /// Stored parameters above the ceiling: would let the database DoS the server.
    #[error("Argon2id parameters {0:?} are above the ceiling")]
    AboveCeiling(KdfParams),
    /// Argon2 rejected its inputs.
    #[error("Argon2id failed: {0}")]
    Argon2(String),
}

impl KdfParams {
    /// The floor from the security design: m=19456 KiB, t=2, p=1.
    pub const FLOOR: Self = Self {
        m_cost: 19_456,
        t_cost: 2,
        p_cost: 1,
    };
    /// The ceiling: 256 MiB, 8 passes, 4 lanes. Anything larger stored in the
    /// database is refused rather than run.
    pub const CEILING: Self = Self {
        m_cost: 262_144,
        t_cost: 8,
        p_cost: 4,
    };
    /// What new accounts get.
    pub const DEFAULT: Self = Self::FLOOR;

    /// Check the parameters lie between floor and ceiling.
    pub fn validate(self) -> Result<Self, KdfError> {
        let (lo, hi) = (Self::FLOOR, Self::CEILING);
        if self.m_cost < lo.m_cost || self.t_cost < lo.t_cost || self.p_cost < lo.p_cost {
            return Err(KdfError::BelowFloor(self));
        }
        if self.m_cost > hi.m_cost || self.t_cost > hi.t_cost || self.p_cost > hi.p_cost {
            return Err(KdfError::AboveCeiling(self));
        }
        Ok(self)
    }
}

/// Proves knowledge of the password; never stored, only its verifier is.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AuthKey([u8; 32]);

impl AuthKey {
    /// What the database stores: a hash of the auth key.
    pub fn verifier(&self) -> [u8; 32] {
        hash_parts(&[b"tearsheet/v1/auth-verifier", &self.0])
    }

    /// Whether this key matches a stored verifier, in constant time.
    pub fn matches(&self, stored_verifier: &[u8]) -> bool {
        constant_time_eq(&self.verifier(), stored_verifier)
    }
}

/// The two keys one password gives.
pub struct PasswordKeys {
    /// For logging in.
    pub auth: AuthKey,
    /// For opening DK.
    pub kek: KeyEncryptionKey,
}

/// A fresh random salt for a new account or a new password.
pub fn new_salt() -> [u8; 16] {
    super::random_bytes()
}

/// Argon2id working memory kept for the next run: at most this many.
const SPARE_MEMORIES: usize = 2;
static SPARE: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());

/// Run `f` with `count` blocks of Argon2id working memory, reused between
/// runs and zeroed after each. A fresh 19 MiB allocation per sign-in, freed
/// on whichever blocking thread ran it, left glibc holding one such region
/// per malloc arena: the bench saw 583 MiB resident after a login flood.
fn with_blocks<R>(count: usize, f: impl FnOnce(&mut [argon2::Block]) -> R) -> R {
    let spare = SPARE.lock().ok().and_then(|mut spare| {
        let i = spare.iter().position(|b| b.len() == count)?;
        Some(spare.swap_remove(i))
    });
    let mut blocks = spare.unwrap_or_else(|| vec![argon2::Block::default(); count]);
    let result = f(&mut blocks);
    blocks.iter_mut().for_each(Zeroize::zeroize);
    if let Ok(mut spare) = SPARE.lock() {
        if spare.len() < SPARE_MEMORIES {
            spare.push(blocks);
        }
    }
    result
}

/// Run Argon2id over the password and split the output. Slow by design: call
/// it on a blocking thread, behind the server's KDF semaphore.
pub fn derive(password: &str, salt: &[u8], params: KdfParams) -> Result<PasswordKeys, KdfError> {
    let params = params.validate()?;
    let argon_params = Params::new(params.m_cost, params.t_cost, params.p_cost, Some(64))
        .map_err(|e| KdfError::Argon2(e.to_string()))?;
    let count = argon_params.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    let mut out = Zeroizing::new([0u8; 64]);
    with_blocks(count, |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, out.as_mut(), blocks)
    })
    .map_err(|e| KdfError::Argon2(e.to_string()))?;
    Ok(PasswordKeys {
        auth: AuthKey(hkdf32(None, out.as_ref(), b"tearsheet/v1/auth-key")),
        kek: KeyEncryptionKey::from_bytes(hkdf32(None, out.as_ref(), b"tearsheet/v1/kek")),
    })
}

/// The key a private handout link's content is sealed under: Argon2id
/// (at the floor's cost) over the link's secret, salted with its id. The
/// secret is 60 random bits, short enough to type; the memory-hard hash
/// makes trying them all against a stolen database hopeless, where a fast
/// hash would not. Slow by design: run it on a blocking thread, behind the
/// server's KDF semaphore.
pub fn link_key(secret: &str, id: &str) -> Result<LinkKey, KdfError> {
    let params = KdfParams::FLOOR;
    let argon_params = Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| KdfError::Argon2(e.to_string()))?;
    let count = argon_params.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    let mut out = Zeroizing::new([0u8; 32]);
    let salt = hash_parts(&[b"tearsheet/v1/handout-link-salt", id.as_bytes()]);
    with_blocks(count, |blocks| {
        argon.hash_password_into_with_memory(secret.as_bytes(), &salt, out.as_mut(), blocks)
    })
    .map_err(|e| KdfError::Argon2(e.to_string()))?;
    Ok(LinkKey::from_bytes(hkdf32(
        None,
        out.as_ref(),
        b"tearsheet/v1/handout-link-key",
    )))
}

/// Spend the same Argon2id work as a real login and fail, so an unknown email
/// cannot be told from a wrong password by timing.
pub fn burn_dummy(password: &str) {
    const DUMMY_SALT: [u8; 16] = *b"tearsheet-dummy!";
    if let Ok(keys) = derive(password, &DUMMY_SALT, KdfParams::DEFAULT) {
        // Compare against a verifier nobody holds so the work cannot be elided.
        std::hint::black_box(keys.auth.matches(&[0u8; 32]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{DataKey, Place};

    fn place() -> Place<'static> {
        Place::new(1, "therapists", "dk_sealed_password", 1)
    }

    #[test]
    fn the_same_password_and_salt_give_the_same_keys_and_open_dk() {
        let salt = new_salt();
        let a = derive("correct horse battery", &salt, KdfParams::DEFAULT).expect("derive");
        let b = derive("correct horse battery", &salt, KdfParams::DEFAULT).expect("derive");
        assert!(b.auth.matches(&a.auth.verifier()));
        let dk = DataKey::generate();
        let sealed = dk.seal_under(&a.kek, &place());
        assert!(DataKey::open_from(&b.kek, &place(), &sealed).is_ok());
    }

    #[test]
    fn a_wrong_password_or_salt_matches_nothing() {
        let salt = new_salt();
        let right = derive("correct horse battery", &salt, KdfParams::DEFAULT).expect("derive");
        let wrong = derive("correct horse batterx", &salt, KdfParams::DEFAULT).expect("derive");
        let other_salt =
            derive("correct horse battery", &new_salt(), KdfParams::DEFAULT).expect("derive");
        let sealed = DataKey::generate().seal_under(&right.kek, &place());
        for keys in [&wrong, &other_salt] {
            assert!(!keys.auth.matches(&right.auth.verifier()));
            assert!(DataKey::open_from(&keys.kek, &place(), &sealed).is_err());
        }
    }

    #[test]
    fn auth_key_and_kek_are_independent() {
        let keys =
            derive("correct horse battery", &new_salt(), KdfParams::DEFAULT).expect("derive");
        use crate::crypto::SealingKey;
        assert_ne!(&keys.auth.0, keys.kek.key_bytes());
    }

    #[test]
    fn parameters_outside_floor_and_ceiling_are_refused_before_running() {
        let weak = KdfParams {
            m_cost: 1024,
            ..KdfParams::DEFAULT
        };
        assert_eq!(
            derive("pw", &new_salt(), weak).err(),
            Some(KdfError::BelowFloor(weak))
        );
        let huge = KdfParams {
            m_cost: 4 << 20,
            ..KdfParams::DEFAULT
        };
        assert_eq!(
            derive("pw", &new_salt(), huge).err(),
            Some(KdfError::AboveCeiling(huge))
        );
    }
}
