//! Tearsheet's own handouts, note formats and tags, described as a pack
//! (`src/packs/builtin/`) and compiled in. They are read with the same
//! manifest, hash and content checks as any signed pack; only the signature
//! is not needed, since they are part of the binary.

use std::sync::LazyLock;

use super::content::{self, Contents};
use super::files::{Files, MANIFEST, Refusal};
use super::manifest::{self, Manifest};
use crate::handouts::content::Origin;

macro_rules! builtin_files {
    ($($path:literal),* $(,)?) => {
        const FILES: &[(&str, &str)] = &[
            (MANIFEST, include_str!("builtin/pack.toml")),
            $(($path, include_str!(concat!("builtin/", $path))),)*
        ];
    };
}

builtin_files!(
    "handouts/crying-in-therapy.md",
    "handouts/crying-in-therapy-card.md",
    "handouts/llorar-en-terapia.md",
    "handouts/llorar-en-terapia-tarjeta.md",
    "templates/soap.toml",
    "templates/dap.toml",
    "templates/birp.toml",
    "templates/free.toml",
    "vocabularies/moments.toml",
);

/// The built-in pack, read.
pub struct Builtin {
    /// Its manifest.
    pub manifest: Manifest,
    /// What it holds. Its tags are stored by bare slug (as they always
    /// have been), not as `pack:` terms.
    pub contents: Contents,
}

/// Read the built-in pack, checking it like any other (but its signature).
pub fn read() -> Result<Builtin, Refusal> {
    let files: Files = FILES
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect();
    let manifest = manifest::parse(&files[MANIFEST])?;
    manifest::check_files(&manifest, &files, |path| {
        files.get(path).map(|t| manifest::sha256_hex(t))
    })?;
    let mut contents = content::parse(&manifest, &files, &|_| Origin::Builtin)?;
    for tag in &mut contents.tags {
        tag.term = tag.family.rsplit('/').next().unwrap_or_default().to_owned();
        tag.family.clone_from(&tag.term);
    }
    Ok(Builtin { manifest, contents })
}

/// The built-in pack. A unit test proves it reads, so this cannot fail in a
/// release; if it ever did, failing at the first use is the only honest
/// answer (there would be no note formats).
pub static BUILTIN: LazyLock<Builtin> =
    LazyLock::new(|| read().unwrap_or_else(|r| panic!("built-in pack: {}: {}", r.file, r.reason)));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_pack_reads_and_every_hash_matches() {
        let pack = read().unwrap_or_else(|r| {
            let now: Vec<String> = FILES
                .iter()
                .skip(1)
                .map(|(p, t)| format!("\"{p}\" = \"{}\"", manifest::sha256_hex(t)))
                .collect();
            panic!(
                "{}: {}\nthe [files] table should be:\n{}",
                r.file,
                r.reason,
                now.join("\n")
            )
        });
        assert_eq!(pack.manifest.id, "tearsheet");
        assert_eq!(pack.contents.handouts.len(), 4);
        assert_eq!(
            pack.contents
                .templates
                .iter()
                .map(|t| t.key.as_str())
                .collect::<Vec<_>>(),
            [
                "tearsheet/birp",
                "tearsheet/dap",
                "tearsheet/free",
                "tearsheet/soap"
            ]
        );
        assert_eq!(pack.contents.tags.len(), 7);
        assert_eq!(pack.contents.tags[0].term, "tearful-breakthrough");
    }
}
