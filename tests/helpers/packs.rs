//! Packs for tests, signed by Debian's `minisign` (a signer nobody here
//! wrote): a publisher with a fresh key pair, pack folders written with
//! their manifest, and `.tar` files made by the system's `tar`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

/// A publisher: a minisign key pair without a password, in a temp folder.
pub struct Publisher {
    dir: tempfile::TempDir,
}

impl Publisher {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("minisign")
            .args(["-G", "-W", "-p"])
            .arg(dir.path().join("minisign.pub"))
            .arg("-s")
            .arg(dir.path().join("minisign.key"))
            .output()
            .expect("minisign is installed (.ci/test installs it)");
        assert!(status.status.success(), "minisign -G: {status:?}");
        Self { dir }
    }

    /// The `minisign.pub` file.
    pub fn public_key_file(&self) -> PathBuf {
        self.dir.path().join("minisign.pub")
    }

    /// The `minisign.pub` file's text.
    pub fn public_key(&self) -> String {
        std::fs::read_to_string(self.public_key_file()).expect("public key")
    }

    /// The key id, as minisign prints it in the public key's comment.
    pub fn key_id(&self) -> String {
        self.public_key()
            .lines()
            .next()
            .and_then(|l| l.rsplit(' ').next())
            .expect("key id")
            .to_owned()
    }

    /// Sign `pack/pack.toml` into `pack/pack.toml.minisig`.
    pub fn sign(&self, pack: &Path) {
        let out = Command::new("minisign")
            .arg("-S")
            .arg("-s")
            .arg(self.dir.path().join("minisign.key"))
            .arg("-m")
            .arg(pack.join("pack.toml"))
            .output()
            .expect("minisign -S");
        assert!(out.status.success(), "minisign -S: {out:?}");
    }
}

/// Write a pack folder: `files` and a `pack.toml` listing each with its
/// SHA-256.
pub fn write_pack(dir: &Path, id: &str, version: i32, files: &[(&str, &str)]) {
    let mut manifest = format!(
        "id = \"{id}\"\nname = \"Pack {id}\"\nversion = {version}\npublisher = \"Test Press\"\nlicence = \"CC0-1.0\"\ndescription = \"For tests.\"\n\n[files]\n"
    );
    for (path, text) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("folder");
        std::fs::write(&file, text).expect("write");
        let hash: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        manifest.push_str(&format!("\"{path}\" = \"{hash}\"\n"));
    }
    std::fs::write(dir.join("pack.toml"), manifest).expect("manifest");
}

/// The example pack from docs/example-pack, copied into `dir`.
pub fn copy_example(dir: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/example-pack");
    let status = Command::new("cp")
        .arg("-R")
        .arg(format!("{}/.", from.display()))
        .arg(dir)
        .status()
        .expect("cp");
    assert!(status.success());
}

/// A `.tar` of a pack folder, made by the system's `tar`.
pub fn tar_of(dir: &Path) -> Vec<u8> {
    let out = Command::new("tar")
        .arg("-C")
        .arg(dir.parent().expect("parent"))
        .arg("-cf")
        .arg("-")
        .arg(dir.file_name().expect("name"))
        .output()
        .expect("tar");
    assert!(out.status.success(), "tar: {out:?}");
    out.stdout
}

/// A handout file.
pub fn handout(slug: &str, title: &str, body: &str) -> String {
    format!(
        "+++\ntitle = \"{title}\"\nslug = \"{slug}\"\nsummary = \"A test handout.\"\n+++\n{body}\n"
    )
}

/// A vocabulary with these (slug, label, help) tags.
pub fn vocabulary(tags: &[(&str, &str, &str)]) -> String {
    let mut t = "name = \"Test tags\"\n".to_owned();
    for (slug, label, help) in tags {
        t.push_str(&format!(
            "\n[[tags]]\nslug = \"{slug}\"\nlabel = \"{label}\"\nhelp = \"{help}\"\n"
        ));
    }
    t
}
/// A note template with these (key, label, prompt) sections.
pub fn template(name: &str, sections: &[(&str, &str, &str)]) -> String {
    let mut t = format!("name = \"{name}\"\ndescription = \"For tests.\"\n");
    for (key, label, prompt) in sections {
        t.push_str(&format!(
            "\n[[sections]]\nkey = \"{key}\"\nlabel = \"{label}\"\nprompt = \"{prompt}\"\n"
        ));
    }
    t
}
