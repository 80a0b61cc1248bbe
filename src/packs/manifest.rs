//! `pack.toml` and its signature: a pack is accepted when
//! `pack.toml.minisig` verifies under any key the practice trusts, every
//! file's SHA-256 matches the manifest, and nothing else is in the pack.
//!
//! ```toml
//! id = "dbt-skills"            # lower-case letters, digits, dashes
//! name = "DBT skills"
//! version = 2                  # whole number; a new upload must be higher
//! publisher = "Example Press"
//! licence = "CC-BY-4.0"
//! description = "Handouts and tags for DBT skills groups."
//!
//! [files]
//! "handouts/wise-mind.md" = "9f2c…"   # SHA-256, 64 hex digits
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::files::{self, Files, MANIFEST, Refusal, SIGNATURE};

/// A publisher's minisign public key, as the practice trusts it.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    /// The key id, as minisign prints it (16 hex digits).
    pub key_id: String,
    /// The key.
    pub key: minisign_verify::PublicKey,
}

/// Read a minisign public key: a `minisign.pub` file's two lines, or just
/// its second (the base64 line). Gives the key and its id.
pub fn parse_public_key(text: &str) -> Result<(String, String), String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .ok_or("there is no key in it")?;
    minisign_verify::PublicKey::from_base64(line)
        .map_err(|_| "it is not a minisign public key (the line that starts with RW)".to_owned())?;
    let raw = data_encoding::BASE64
        .decode(line.as_bytes())
        .map_err(|_| "it is not a minisign public key".to_owned())?;
    Ok((key_id(&raw[2..10]), line.to_owned()))
}

/// A key id as minisign prints it: the eight id bytes as a little-endian
/// number in upper-case hex, without leading zeros (`%" PRIX64`), so it
/// reads exactly as in the publisher's `minisign.pub` comment.
fn key_id(bytes: &[u8]) -> String {
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[..8]);
    format!("{:X}", u64::from_le_bytes(n))
}

/// Build the trusted key from a stored base64 line.
pub fn trusted(key_id: &str, base64: &str) -> Option<TrustedKey> {
    minisign_verify::PublicKey::from_base64(base64)
        .ok()
        .map(|key| TrustedKey {
            key_id: key_id.to_owned(),
            key,
        })
}

/// What `pack.toml` says.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Stable id: lower-case letters, digits, dashes.
    pub id: String,
    /// Name shown.
    pub name: String,
    /// Whole number; higher is newer.
    pub version: i32,
    /// Who made it.
    pub publisher: String,
    /// Its licence (an SPDX id or words).
    pub licence: String,
    /// A line or two about it.
    #[serde(default)]
    pub description: String,
    /// Every file (but the manifest and signature) with its SHA-256.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// A pack whose signature and hashes check out.
#[derive(Clone, Debug)]
pub struct Verified {
    /// Its manifest.
    pub manifest: Manifest,
    /// The id of the key that signed it.
    pub key_id: String,
}

/// The SHA-256 of some text, in lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Check a pack's signature, manifest and hashes. The signature is checked
/// before anything in the manifest is read.
pub fn verify(files: &Files, trusted: &[TrustedKey]) -> Result<Verified, Refusal> {
    for path in files.keys() {
        files::check_path(path)?;
    }
    let manifest_text = files
        .get(MANIFEST)
        .ok_or_else(|| Refusal::new(MANIFEST, "it is missing: every pack starts with pack.toml"))?;
    let signature_text = files
        .get(SIGNATURE)
        .ok_or_else(|| Refusal::new(SIGNATURE, "it is missing: the pack is not signed"))?;
    let signature = minisign_verify::Signature::decode(signature_text)
        .map_err(|_| Refusal::new(SIGNATURE, "it is not a minisign signature"))?;
    let key_id = check_signature(manifest_text, &signature, signature_text, trusted)?;
    let manifest = parse(manifest_text)?;
    check_files(&manifest, files, |path| {
        files.get(path).map(|t| sha256_hex(t))
    })?;
    Ok(Verified { manifest, key_id })
}

/// The id of a trusted key the signature verifies under.
fn check_signature(
    text: &str,
    signature: &minisign_verify::Signature,
    signature_text: &str,
    trusted: &[TrustedKey],
) -> Result<String, Refusal> {
    let mut matched_id = false;
    let mut legacy = false;
    for key in trusted {
        match key.key.verify(text.as_bytes(), signature, false) {
            Ok(()) => return Ok(key.key_id.clone()),
            Err(minisign_verify::Error::UnexpectedKeyId) => {}
            Err(minisign_verify::Error::UnexpectedAlgorithm) => {
                matched_id = true;
                legacy = true;
            }
            Err(_) => matched_id = true,
        }
    }
    Err(if legacy {
        Refusal::new(
            SIGNATURE,
            "it was made in minisign's legacy mode; sign again with minisign 0.8 or later",
        )
    } else if matched_id {
        Refusal::new(
            SIGNATURE,
            "it does not verify: pack.toml changed after it was signed, or the signature is damaged",
        )
    } else {
        Refusal::new(
            SIGNATURE,
            format!(
                "it was made with key {}, which this practice does not trust",
                signature_key_id(signature_text)
            ),
        )
    })
}

/// The key id a signature names: bytes 2..10 of its second line. Decoded
/// already once by the verifier, so it is well formed.
fn signature_key_id(signature_text: &str) -> String {
    signature_text
        .lines()
        .nth(1)
        .and_then(|line| data_encoding::BASE64.decode(line.trim().as_bytes()).ok())
        .filter(|raw| raw.len() >= 10)
        .map_or_else(|| "(unreadable)".to_owned(), |raw| key_id(&raw[2..10]))
}

/// Parse the manifest (after its signature checked out, or compiled in).
pub fn parse(text: &str) -> Result<Manifest, Refusal> {
    let manifest: Manifest = toml::from_str(text).map_err(|e| {
        Refusal::new(
            MANIFEST,
            format!(
                "it is not a valid manifest (the keys are id, name, version, publisher, licence, description and [files]){}",
                e.span()
                    .map(|s| format!(" near line {}", 1 + text[..s.start.min(text.len())].matches('\n').count()))
                    .unwrap_or_default()
            ),
        )
    })?;
    if !crate::handouts::content::valid_slug(&manifest.id) {
        return Err(Refusal::new(
            MANIFEST,
            "its id must be lower-case letters, digits and dashes, like my-pack",
        ));
    }
    if manifest.version < 1 {
        return Err(Refusal::new(MANIFEST, "its version must be 1 or more"));
    }
    for (field, value, max) in [
        ("name", &manifest.name, 120),
        ("publisher", &manifest.publisher, 200),
        ("licence", &manifest.licence, 200),
    ] {
        if value.trim().is_empty() || value.chars().count() > max {
            return Err(Refusal::new(
                MANIFEST,
                format!("its {field} must be between 1 and {max} characters"),
            ));
        }
    }
    if manifest.description.chars().count() > 2000 {
        return Err(Refusal::new(
            MANIFEST,
            "its description is longer than 2,000 characters",
        ));
    }
    Ok(manifest)
}

/// Every file listed is there with its hash, and every file there is listed.
pub fn check_files(
    manifest: &Manifest,
    files: &Files,
    hash_of: impl Fn(&str) -> Option<String>,
) -> Result<(), Refusal> {
    for (path, wanted) in &manifest.files {
        files::check_path(path)?;
        if path == MANIFEST || path == SIGNATURE {
            return Err(Refusal::new(
                MANIFEST,
                "it lists itself or its signature under [files]",
            ));
        }
        let Some(actual) = hash_of(path) else {
            return Err(Refusal::new(
                path,
                "pack.toml lists it, but it is not in the pack",
            ));
        };
        if !actual.eq_ignore_ascii_case(wanted.trim()) {
            return Err(Refusal::new(
                path,
                "its SHA-256 differs from the one in pack.toml: it changed after the pack was signed",
            ));
        }
    }
    for path in files.keys() {
        if path != MANIFEST && path != SIGNATURE && !manifest.files.contains_key(path) {
            return Err(Refusal::new(
                path,
                "it is not listed in pack.toml, so the signature does not cover it",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_id_reads_as_minisign_prints_it_without_leading_zeros() {
        let mut raw = vec![0x45, 0x64];
        raw.extend_from_slice(&0x0123_4567_89AB_CDEFu64.to_le_bytes());
        raw.extend_from_slice(&[7u8; 32]);
        let line = data_encoding::BASE64.encode(&raw);
        let text = format!("untrusted comment: minisign public key 123456789ABCDEF\n{line}\n");
        let (id, stored) = parse_public_key(&text).expect("a key");
        assert_eq!(id, "123456789ABCDEF");
        assert_eq!(stored, line);
        assert!(parse_public_key("untrusted comment: nothing\n").is_err());
        assert!(parse_public_key("RWQ=").is_err());
    }
}
