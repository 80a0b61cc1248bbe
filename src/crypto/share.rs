//! Keys that travel: each therapist's X25519 key pair, and envelopes that
//! carry a client key to a colleague sealed to their public key with HPKE
//! (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305; the `hpke` crate).
//!
//! An envelope is `encapsulated key (32) | ciphertext + tag`. Its `info`
//! and associated data both name the purpose, sender, recipient, client and
//! key version, so an envelope copied to another recipient, client, version
//! or purpose fails to open.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as KemTrait, OpModeR, OpModeS, Serializable};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::keyring::ClientKey;
use super::{OpenError, SealingKey, random_bytes};

type Kem = X25519HkdfSha256;

/// Bytes of a public key.
pub const PUBLIC_KEY_LEN: usize = 32;
const ENCAPPED_LEN: usize = 32;

/// A therapist's X25519 private key. Zeroized on drop; no `Debug`, no
/// `Clone`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey([u8; 32]);

/// A therapist's X25519 public key, stored in the clear.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicKey(pub [u8; PUBLIC_KEY_LEN]);

impl PrivateKey {
    /// A fresh key pair.
    pub fn generate() -> (Self, PublicKey) {
        let mut ikm: [u8; 32] = random_bytes();
        let (private, public) = Kem::derive_keypair(&ikm);
        ikm.zeroize();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&private.to_bytes());
        let mut public_bytes = [0u8; PUBLIC_KEY_LEN];
        public_bytes.copy_from_slice(&public.to_bytes());
        (Self(bytes), PublicKey(public_bytes))
    }

    /// The private key's raw bytes (to seal under DK).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A private key from the bytes [`PrivateKey::as_bytes`] gave.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// The public key that goes with this private key.
    pub fn public_key(&self) -> Option<PublicKey> {
        let private = <Kem as KemTrait>::PrivateKey::from_bytes(&self.0).ok()?;
        let public = Kem::sk_to_pk(&private);
        let mut bytes = [0u8; PUBLIC_KEY_LEN];
        bytes.copy_from_slice(&public.to_bytes());
        Some(PublicKey(bytes))
    }
}

impl PublicKey {
    /// A public key from stored bytes; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// The short fingerprint people compare: the first 80 bits of
    /// SHA-256 over a label and the key, as four groups of four Crockford
    /// base32 characters (`7K2Q-…`), easy to read aloud.
    pub fn fingerprint(&self) -> String {
        let digest = super::hash_parts(&[b"tearsheet public key fingerprint v1", &self.0]);
        let encoded = super::recovery::crockford_encoding().encode(&digest[..10]);
        encoded
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// Why a key travels: bound into every envelope, so an envelope made for
/// one purpose cannot be relabelled as another (a custodian's envelope,
/// held back until release, cannot pass as a supervisor's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A supervisor reads a supervisee's clients.
    Supervision,
    /// A records custodian, released only after a request and a wait.
    Custodian,
    /// A colleague offered a client, until they accept it.
    Transfer,
}

impl Purpose {
    /// The name stored in `client_keys.purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Supervision => "supervision",
            Self::Custodian => "custodian",
            Self::Transfer => "transfer",
        }
    }

    /// The purpose a stored name gives.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "supervision" => Some(Self::Supervision),
            "custodian" => Some(Self::Custodian),
            "transfer" => Some(Self::Transfer),
            _ => None,
        }
    }
}

/// Who sends which version of which client's key to whom, and why.
#[derive(Clone, Copy, Debug)]
pub struct Envelope {
    /// Why.
    pub purpose: Purpose,
    /// The therapist (or custodian) who sealed it.
    pub sender: i64,
    /// The therapist who can open it.
    pub recipient: i64,
    /// The client whose key it carries.
    pub client: i64,
    /// The key's version.
    pub version: u32,
}

impl Envelope {
    fn context(&self) -> Vec<u8> {
        let mut info = b"tearsheet client key envelope v1".to_vec();
        info.push(0);
        info.extend_from_slice(self.purpose.as_str().as_bytes());
        info.push(0);
        for n in [self.sender, self.recipient, self.client] {
            info.extend_from_slice(&n.to_be_bytes());
        }
        info.extend_from_slice(&self.version.to_be_bytes());
        info
    }

    /// Seal `key` to the recipient's public key.
    pub fn seal(&self, key: &ClientKey, to: &PublicKey) -> Vec<u8> {
        seal_to(to, &self.context(), key.key_bytes())
    }

    /// Open an envelope sealed to `private`'s public key for exactly this
    /// purpose, sender, recipient, client and version.
    pub fn open(&self, private: &PrivateKey, blob: &[u8]) -> Result<ClientKey, OpenError> {
        let plain = open_with(private, &self.context(), blob)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| OpenError::Integrity)?;
        Ok(ClientKey::from_bytes(self.version, bytes))
    }
}

/// Seal `plain` to a public key with HPKE base mode, `context` bound as
/// both `info` and associated data: `encapsulated key (32) | ciphertext`.
pub fn seal_to(to: &PublicKey, context: &[u8], plain: &[u8]) -> Vec<u8> {
    // A public key that is not a valid X25519 point cannot be stored:
    // every stored key came from `PrivateKey::generate`. Were one forged,
    // sealing to it would fail here and the blob would be empty, which
    // opens for nobody.
    let Ok(recipient) = <Kem as KemTrait>::PublicKey::from_bytes(&to.0) else {
        return Vec::new();
    };
    let mut rng = rand_core::UnwrapErr(rand_core::OsRng);
    match hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &recipient,
        context,
        plain,
        context,
        &mut rng,
    ) {
        Ok((encapped, ciphertext)) => {
            let mut blob = encapped.to_bytes().to_vec();
            blob.extend_from_slice(&ciphertext);
            blob
        }
        Err(_) => Vec::new(),
    }
}

/// Open what [`seal_to`] sealed to `private`'s public key with `context`.
pub fn open_with(
    private: &PrivateKey,
    context: &[u8],
    blob: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, OpenError> {
    if blob.len() < ENCAPPED_LEN + 16 {
        return Err(OpenError::Truncated);
    }
    let (encapped, ciphertext) = blob.split_at(ENCAPPED_LEN);
    let encapped =
        <Kem as KemTrait>::EncappedKey::from_bytes(encapped).map_err(|_| OpenError::Integrity)?;
    let sk =
        <Kem as KemTrait>::PrivateKey::from_bytes(&private.0).map_err(|_| OpenError::Integrity)?;
    Ok(zeroize::Zeroizing::new(
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
            &OpModeR::Base,
            &sk,
            &encapped,
            context,
            ciphertext,
            context,
        )
        .map_err(|_| OpenError::Integrity)?,
    ))
}

/// A draft an outside tool posted to a therapist's inbox: sealed to the
/// therapist's public key, bound to them, to the draft's row and to the
/// token that posted it, so the server (and the token) can never read it
/// back, and a draft cannot be passed off as another token's.
#[derive(Clone, Copy, Debug)]
pub struct InboxDrop {
    /// The therapist it is for.
    pub therapist: i64,
    /// Its row.
    pub draft: i64,
    /// The token that posted it.
    pub token: i64,
}

impl InboxDrop {
    fn context(&self) -> Vec<u8> {
        let mut info = b"tearsheet inbox draft v1".to_vec();
        info.push(0);
        info.extend_from_slice(&self.therapist.to_be_bytes());
        info.extend_from_slice(&self.draft.to_be_bytes());
        info.extend_from_slice(&self.token.to_be_bytes());
        info
    }

    /// Seal a posted draft to the therapist.
    pub fn seal(&self, to: &PublicKey, plain: &str) -> Vec<u8> {
        seal_to(to, &self.context(), plain.as_bytes())
    }

    /// Open it with the therapist's private key.
    pub fn open(&self, private: &PrivateKey, blob: &[u8]) -> Result<String, OpenError> {
        let plain = open_with(private, &self.context(), blob)?;
        String::from_utf8(plain.to_vec()).map_err(|_| OpenError::Integrity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SealingKey;

    fn envelope() -> Envelope {
        Envelope {
            purpose: Purpose::Supervision,
            sender: 1,
            recipient: 2,
            client: 3,
            version: 1,
        }
    }

    #[test]
    fn an_envelope_opens_only_for_its_recipient_client_version_and_purpose() {
        let (private, public) = PrivateKey::generate();
        let (other_private, _) = PrivateKey::generate();
        let ck = ClientKey::generate(1);
        let sealed = envelope().seal(&ck, &public);
        let opened = envelope().open(&private, &sealed).expect("opens");
        assert_eq!(opened.key_bytes(), ck.key_bytes());
        assert!(envelope().open(&other_private, &sealed).is_err());
        for moved in [
            Envelope {
                recipient: 9,
                ..envelope()
            },
            Envelope {
                client: 9,
                ..envelope()
            },
            Envelope {
                sender: 9,
                ..envelope()
            },
            Envelope {
                version: 2,
                ..envelope()
            },
            Envelope {
                purpose: Purpose::Custodian,
                ..envelope()
            },
        ] {
            assert_eq!(
                moved.open(&private, &sealed).err(),
                Some(OpenError::Integrity)
            );
        }
        for byte in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[byte] ^= 1;
            assert!(envelope().open(&private, &tampered).is_err());
        }
    }

    #[test]
    fn the_same_key_sealed_twice_differs_and_fingerprints_are_stable() {
        let (private, public) = PrivateKey::generate();
        assert_eq!(private.public_key(), Some(public));
        let ck = ClientKey::generate(1);
        assert_ne!(envelope().seal(&ck, &public), envelope().seal(&ck, &public));
        let fp = public.fingerprint();
        assert_eq!(fp.len(), 19, "{fp}");
        assert_eq!(fp, public.fingerprint());
        assert_ne!(fp, PrivateKey::generate().1.fingerprint());
    }

    #[test]
    fn an_inbox_draft_opens_only_for_its_therapist_and_row() {
        let (private, public) = PrivateKey::generate();
        let (other, _) = PrivateKey::generate();
        let drop = InboxDrop {
            therapist: 1,
            draft: 2,
            token: 3,
        };
        let sealed = drop.seal(&public, "a draft");
        assert_eq!(drop.open(&private, &sealed).expect("opens"), "a draft");
        assert!(drop.open(&other, &sealed).is_err());
        for moved in [
            InboxDrop {
                therapist: 9,
                ..drop
            },
            InboxDrop { draft: 9, ..drop },
            InboxDrop { token: 9, ..drop },
        ] {
            assert_eq!(moved.open(&private, &sealed), Err(OpenError::Integrity));
        }
        assert_ne!(drop.seal(&public, "a draft"), sealed, "fresh each time");
    }
}
