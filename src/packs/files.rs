//! A pack's files as they arrive, before anything in them is trusted: from
//! a folder (`--packs-dir`) or from an uploaded `.tar`. Only the shape is
//! checked here: plain files, of the four kinds, inside the pack, within
//! size limits. A pack that breaks any rule is refused whole, naming the
//! file and the reason (never the file's content).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

/// The most one file may hold.
pub const MAX_FILE: u64 = 2 * 1024 * 1024;
/// The most a whole pack may hold.
pub const MAX_PACK: u64 = 8 * 1024 * 1024;
/// The most files a pack may hold.
pub const MAX_FILES: usize = 400;

/// The folders a pack may hold, and the one kind of file each holds.
pub const KINDS: [(&str, &str); 4] = [
    ("handouts", "md"),
    ("templates", "toml"),
    ("vocabularies", "toml"),
    ("instruments", "json"),
];

/// The manifest and its signature, at the top of the pack.
pub const MANIFEST: &str = "pack.toml";
/// The minisign signature of [`MANIFEST`].
pub const SIGNATURE: &str = "pack.toml.minisig";

/// Why a pack was refused: the file (relative to the pack) and the reason,
/// in words for an administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The file, such as `handouts/wise-mind.md`, or the pack itself.
    pub file: String,
    /// What is wrong.
    pub reason: String,
}

impl Refusal {
    /// A refusal of `file` for `reason`.
    pub fn new(file: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            reason: reason.into(),
        }
    }
}

/// A pack's files: path inside the pack (`/`-separated) to text.
pub type Files = BTreeMap<String, String>;

const OUTSIDE: &str = "its path leads outside the pack";

/// The words for what a pack may hold.
pub fn kinds_allowed() -> String {
    "a pack holds only pack.toml, pack.toml.minisig, handouts/*.md, templates/*.toml, vocabularies/*.toml and instruments/*.json".to_owned()
}

/// Whether a file name (without folder) is one a pack may use: letters,
/// digits, `-`, `_` and `.`, not starting with a dot.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 120
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Check a path inside a pack: the manifest, its signature, or a file of
/// one of the four kinds in its folder.
pub fn check_path(path: &str) -> Result<(), Refusal> {
    if path == MANIFEST || path == SIGNATURE {
        return Ok(());
    }
    let parts: Vec<&str> = path.split('/').collect();
    if path.starts_with('/')
        || path.contains('\\')
        || parts
            .iter()
            .any(|p| *p == ".." || *p == "." || p.is_empty())
    {
        return Err(Refusal::new(path, OUTSIDE));
    }
    let fits = match parts.as_slice() {
        [folder, name] => KINDS.iter().any(|(dir, ext)| {
            dir == folder
                && plain_name(name)
                && name
                    .rsplit_once('.')
                    .is_some_and(|(stem, e)| e == *ext && !stem.is_empty())
        }),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(Refusal::new(
            path,
            format!(
                "it is not a kind of file packs may hold ({})",
                kinds_allowed()
            ),
        ))
    }
}

/// Adds files one by one, keeping to the limits.
#[derive(Default)]
struct Collector {
    files: Files,
    total: u64,
}

impl Collector {
    fn add(&mut self, path: String, bytes: Vec<u8>) -> Result<(), Refusal> {
        check_path(&path)?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(Refusal::new(
                path,
                format!("it is larger than {} MB", MAX_FILE / (1024 * 1024)),
            ));
        }
        self.total += bytes.len() as u64;
        if self.total > MAX_PACK {
            return Err(Refusal::new(
                path,
                format!(
                    "the pack is larger than {} MB in all",
                    MAX_PACK / (1024 * 1024)
                ),
            ));
        }
        if self.files.len() >= MAX_FILES {
            return Err(Refusal::new(
                path,
                format!("the pack holds more than {MAX_FILES} files"),
            ));
        }
        let text =
            String::from_utf8(bytes).map_err(|_| Refusal::new(&path, "it is not UTF-8 text"))?;
        if self.files.insert(path.clone(), text).is_some() {
            return Err(Refusal::new(path, "it appears twice in the pack"));
        }
        Ok(())
    }
}

/// Read one plain file: never through a symbolic link, never something
/// swapped in between the check and the read, never more than `limit`.
pub fn read_plain(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let before = std::fs::symlink_metadata(path).map_err(|_| "it could not be read".to_owned())?;
    if before.file_type().is_symlink() {
        return Err("it is a symbolic link; a pack may hold only plain files".into());
    }
    if !before.is_file() {
        return Err("it is not a plain file".into());
    }
    if before.len() > limit {
        return Err(format!("it is larger than {} MB", limit / (1024 * 1024)));
    }
    let file = std::fs::File::open(path).map_err(|_| "it could not be read".to_owned())?;
    let opened = file
        .metadata()
        .map_err(|_| "it could not be read".to_owned())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
            return Err("it changed while it was being read".into());
        }
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| "it could not be read".to_owned())?;
    if bytes.len() as u64 > limit || !opened.is_file() {
        return Err("it changed while it was being read".into());
    }
    Ok(bytes)
}

/// Read a pack folder: its manifest and signature at the top, its content
/// in the four folders, nothing else; symbolic links anywhere refuse it.
pub fn read_folder(dir: &Path) -> Result<Files, Refusal> {
    let mut collector = Collector::default();
    let mut top = entries(dir, "")?;
    top.sort();
    for name in top {
        let path = dir.join(&name);
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|_| Refusal::new(&name, "it could not be read"))?;
        if meta.file_type().is_symlink() {
            return Err(Refusal::new(
                name,
                "it is a symbolic link; a pack may hold only plain files",
            ));
        }
        if meta.is_dir() {
            if !KINDS.iter().any(|(folder, _)| *folder == name) {
                return Err(Refusal::new(
                    format!("{name}/"),
                    format!("it is not a folder packs may hold ({})", kinds_allowed()),
                ));
            }
            let mut inner = entries(&path, &name)?;
            inner.sort();
            for file in inner {
                let rel = format!("{name}/{file}");
                check_path(&rel)?;
                let bytes = read_plain(&path.join(&file), MAX_FILE)
                    .map_err(|reason| Refusal::new(&rel, reason))?;
                collector.add(rel, bytes)?;
            }
        } else {
            check_path(&name)?;
            let bytes =
                read_plain(&path, MAX_FILE).map_err(|reason| Refusal::new(&name, reason))?;
            collector.add(name, bytes)?;
        }
    }
    Ok(collector.files)
}

/// The names in a folder, as UTF-8 (a name that is not refuses the pack).
fn entries(dir: &Path, shown: &str) -> Result<Vec<String>, Refusal> {
    let list = std::fs::read_dir(dir)
        .map_err(|_| Refusal::new(format!("{shown}/"), "the folder could not be read"))?;
    let mut names = Vec::new();
    for entry in list {
        let entry =
            entry.map_err(|_| Refusal::new(format!("{shown}/"), "the folder could not be read"))?;
        let name = entry.file_name().into_string().map_err(|_| {
            Refusal::new(
                format!("{shown}/"),
                "it holds a file whose name is not UTF-8",
            )
        })?;
        names.push(name);
        if names.len() > MAX_FILES {
            return Err(Refusal::new(
                format!("{shown}/"),
                format!("the pack holds more than {MAX_FILES} files"),
            ));
        }
    }
    Ok(names)
}

/// Read a pack sent as a `.tar` of its folder (or of its files), in memory.
/// Links, devices and paths outside the pack refuse it whole.
pub fn read_tar(bytes: &[u8]) -> Result<Files, Refusal> {
    let mut archive = tar::Archive::new(bytes);
    let mut raw: Vec<(String, Vec<u8>)> = Vec::new();
    let not_tar = || Refusal::new("the upload", "it is not a .tar archive");
    for entry in archive.entries().map_err(|_| not_tar())? {
        let mut entry = entry.map_err(|_| not_tar())?;
        let path = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| Refusal::new("the upload", "it holds a file whose name is not UTF-8"))?;
        let path = normalise(&path);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(Refusal::new(
                path,
                "it is a link; a pack may hold only plain files",
            ));
        }
        if !kind.is_file() {
            return Err(Refusal::new(path, "it is not a plain file"));
        }
        if entry.size() > MAX_FILE {
            return Err(Refusal::new(
                path,
                format!("it is larger than {} MB", MAX_FILE / (1024 * 1024)),
            ));
        }
        if raw.len() >= MAX_FILES {
            return Err(Refusal::new(
                path,
                format!("the pack holds more than {MAX_FILES} files"),
            ));
        }
        let mut content = Vec::new();
        (&mut entry)
            .take(MAX_FILE + 1)
            .read_to_end(&mut content)
            .map_err(|_| not_tar())?;
        raw.push((path, content));
    }
    if raw.is_empty() {
        return Err(Refusal::new("the upload", "it holds no files"));
    }
    // A .tar of the pack's folder: every path starts with one folder name.
    let prefix = raw[0]
        .0
        .split_once('/')
        .map(|(first, _)| format!("{first}/"))
        .filter(|p| {
            plain_name(p.trim_end_matches('/'))
                && !KINDS.iter().any(|(k, _)| format!("{k}/") == *p)
                && raw.iter().all(|(path, _)| path.starts_with(p.as_str()))
        });
    let mut collector = Collector::default();
    for (path, content) in raw {
        let path = match &prefix {
            Some(p) => path[p.len()..].to_owned(),
            None => path,
        };
        collector.add(path, content)?;
    }
    Ok(collector.files)
}

/// A tar path without a leading `./` or trailing `/`.
fn normalise(path: &str) -> String {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_the_four_kinds_inside_the_pack() {
        for ok in [
            "pack.toml",
            "pack.toml.minisig",
            "handouts/wise-mind.md",
            "templates/crisis_note.toml",
            "vocabularies/emdr.toml",
            "instruments/pcl-5.json",
        ] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("../etc/passwd", "outside"),
            ("/etc/passwd", "outside"),
            ("handouts/../../x.md", "outside"),
            ("handouts\\x.md", "outside"),
            ("handouts/x.exe", "kind of file"),
            ("handouts/x.toml", "kind of file"),
            ("handouts/sub/x.md", "kind of file"),
            ("script.js", "kind of file"),
            ("handouts/.hidden.md", "kind of file"),
            ("handouts/.md", "kind of file"),
        ] {
            let err = check_path(bad).expect_err(bad);
            assert!(err.reason.contains(why), "{bad}: {}", err.reason);
        }
    }

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, path, *bytes)
                .expect("append");
        }
        builder.into_inner().expect("tar")
    }

    #[test]
    fn a_tar_of_the_folder_or_of_its_files_reads_the_same() {
        let a = read_tar(&tar_of(&[
            ("my-pack/pack.toml", b"x"),
            ("my-pack/handouts/a.md", b"y"),
        ]))
        .expect("folder tar");
        let b = read_tar(&tar_of(&[("./pack.toml", b"x"), ("./handouts/a.md", b"y")]))
            .expect("files tar");
        assert_eq!(a, b);
        assert_eq!(a.keys().collect::<Vec<_>>(), ["handouts/a.md", "pack.toml"]);
    }

    #[test]
    fn a_tar_with_a_link_or_a_stray_file_is_refused() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_entry_type(tar::EntryType::Symlink);
        builder
            .append_link(&mut header, "handouts/a.md", "/etc/passwd")
            .expect("link");
        let err = read_tar(&builder.into_inner().expect("tar")).expect_err("link");
        assert_eq!(err.file, "handouts/a.md");
        assert!(err.reason.contains("link"));
        let err = read_tar(&tar_of(&[("pack.toml", b"x"), ("run.sh", b"y")])).expect_err("sh");
        assert_eq!(err.file, "run.sh");
        assert!(read_tar(b"not a tar at all, just words").is_err());
    }
}
