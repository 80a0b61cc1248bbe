//! Recovery codes: 160 random bits, written for people.
//!
//! Shown once, as eight groups of four characters from Crockford's base32
//! alphabet (no I, L, O or U, so nothing reads as something else). Typing is
//! forgiving: case, spaces and dashes are ignored, and O/I/L read as 0/1/1.
//! The code is high-entropy, so HKDF (not a slow hash) turns it into a key.

use data_encoding::{Encoding, Specification};
use zeroize::Zeroizing;

use super::{RecoveryKey, hkdf32, random_bytes};

const CODE_BYTES: usize = 20;
// The security design asks for at least 128 random bits.
const _: () = assert!(CODE_BYTES * 8 >= 128);
const GROUP: usize = 4;

pub(super) fn crockford_encoding() -> Encoding {
    let mut spec = Specification::new();
    spec.symbols.push_str("0123456789ABCDEFGHJKMNPQRSTVWXYZ");
    spec.translate.from.push_str("abcdefghjkmnpqrstvwxyzoOiIlL");
    spec.translate.to.push_str("ABCDEFGHJKMNPQRSTVWXYZ001111");
    spec.ignore.push_str(" -\t\r\n");
    // The specification above is fixed and valid; this cannot fail.
    spec.encoding()
        .expect("Crockford base32 specification is valid")
}

/// A recovery code. Zeroized on drop; no `Debug`.
pub struct RecoveryCode(Zeroizing<[u8; CODE_BYTES]>);

impl RecoveryCode {
    /// A new random code.
    pub fn generate() -> Self {
        Self(Zeroizing::new(random_bytes()))
    }

    /// The code as printed: `XXXX-XXXX-…`, eight groups.
    pub fn display(&self) -> Zeroizing<String> {
        let plain = Zeroizing::new(crockford_encoding().encode(self.0.as_ref()));
        let groups: Vec<&str> = plain
            .as_bytes()
            .chunks(GROUP)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        Zeroizing::new(groups.join("-"))
    }

    /// The groups, for a page that lays them out in a grid.
    pub fn groups(&self) -> Vec<String> {
        self.display().split('-').map(str::to_owned).collect()
    }

    /// Read a code as a person typed it. `None` if it cannot be a code.
    pub fn parse(typed: &str) -> Option<Self> {
        if typed.len() > 200 {
            return None;
        }
        let bytes = crockford_encoding().decode(typed.as_bytes()).ok()?;
        let bytes = Zeroizing::new(bytes);
        let arr: [u8; CODE_BYTES] = bytes.as_slice().try_into().ok()?;
        Some(Self(Zeroizing::new(arr)))
    }

    /// The key this code gives with the account's recovery salt.
    pub fn key(&self, salt: &[u8]) -> RecoveryKey {
        RecoveryKey::from_bytes(hkdf32(
            Some(salt),
            self.0.as_ref(),
            b"tearsheet/v1/recovery-key",
        ))
    }

    /// The raw bytes, for sealing into a session until the therapist confirms.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// Rebuild from raw bytes unsealed from a session.
    pub fn from_raw(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; CODE_BYTES] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(arr)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_eight_groups_of_four_and_at_least_128_bits() {
        let code = RecoveryCode::generate();
        let shown = code.display();
        assert_eq!(code.groups().len(), 8);
        assert!(code.groups().iter().all(|g| g.len() == 4));
        assert_eq!(
            RecoveryCode::parse(&shown).expect("parses").as_bytes(),
            code.as_bytes()
        );
    }

    #[test]
    fn typing_is_forgiving_about_case_spaces_dashes_and_lookalikes() {
        let code = RecoveryCode::generate();
        let shown = code.display().replace('0', "o").replace('1', "l");
        let typed = format!("  {} ", shown.to_lowercase().replace('-', " - "));
        assert_eq!(
            RecoveryCode::parse(&typed).expect("parses").as_bytes(),
            code.as_bytes()
        );
    }

    #[test]
    fn wrong_lengths_and_letters_are_not_codes() {
        assert!(RecoveryCode::parse("").is_none());
        assert!(RecoveryCode::parse("ABCD-EFGH").is_none());
        assert!(RecoveryCode::parse("UUUU-UUUU-UUUU-UUUU-UUUU-UUUU-UUUU-UUUU").is_none());
        assert!(RecoveryCode::parse(&"A".repeat(1000)).is_none());
    }

    #[test]
    fn different_salts_give_different_keys() {
        use crate::crypto::SealingKey;
        let code = RecoveryCode::generate();
        assert_ne!(
            code.key(&[1; 16]).key_bytes(),
            code.key(&[2; 16]).key_bytes()
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn parsing_anything_typed_never_panics(typed in ".{0,300}") {
            let _ = RecoveryCode::parse(&typed);
        }

        #[test]
        fn every_code_reads_back_as_shown(bytes in any::<[u8; CODE_BYTES]>()) {
            let code = RecoveryCode(Zeroizing::new(bytes));
            let back = RecoveryCode::parse(&code.display()).expect("parses");
            prop_assert_eq!(back.as_bytes(), code.as_bytes());
        }
    }
}
