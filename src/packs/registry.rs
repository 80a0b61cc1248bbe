//! Which packs are loaded: the built-in one, every folder of `--packs-dir`
//! (read once at start), and every upload (from the database). Each is
//! checked against the keys the practice trusts now, so trusting a key
//! loads what it signed and removing one unloads it. A refused pack keeps
//! its reason for `/practice/packs`; the rest carry on.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use super::builtin::BUILTIN;
use super::content::{self, Contents, PackInstrument, PackLabel, PackTag, Template};
use super::files::{self, Files, MANIFEST, Refusal};
use super::manifest::{self, Manifest, TrustedKey};
use super::store;
use crate::db::DbConn;
use crate::handouts::content::{Handout, Origin};
use crate::ids::{PackUploadId, TherapistId};

/// Where a pack came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Compiled in.
    Builtin,
    /// This folder of `--packs-dir`.
    Folder(String),
    /// Uploaded on `/practice/packs`.
    Upload {
        /// Its row.
        id: PackUploadId,
        /// Who uploaded it.
        by: TherapistId,
        /// When.
        at: i64,
    },
}

/// A pack and how it fared.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Where it came from.
    pub source: Source,
    /// Its manifest, once its signature checked out.
    pub manifest: Option<Manifest>,
    /// The key that signed it.
    pub key_id: Option<String>,
    /// What it adds, or why it was refused.
    pub state: Result<Contents, Refusal>,
}

impl Entry {
    /// Whether it loaded.
    pub fn loaded(&self) -> bool {
        self.state.is_ok()
    }
}

/// The packs as loaded now.
#[derive(Clone, Debug, Default)]
pub struct PackSet {
    /// Every pack, the built-in one first.
    pub entries: Vec<Entry>,
    /// Every pack tag ever loaded, at every version (what notes name).
    pub archive: Vec<store::Term>,
}

impl PackSet {
    fn loaded(&self) -> impl Iterator<Item = &Contents> {
        self.entries
            .iter()
            .filter(|e| e.source != Source::Builtin)
            .filter_map(|e| e.state.as_ref().ok())
    }

    /// Handouts from signed packs (not the built-in ones).
    pub fn handouts(&self) -> impl Iterator<Item = &Handout> {
        self.loaded().flat_map(|c| c.handouts.iter())
    }

    /// Note templates from signed packs.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.loaded().flat_map(|c| c.templates.iter())
    }

    /// Tags from signed packs.
    pub fn tags(&self) -> impl Iterator<Item = &PackTag> {
        self.loaded().flat_map(|c| c.tags.iter())
    }

    /// Rating scales from signed packs.
    pub fn instruments(&self) -> impl Iterator<Item = &PackInstrument> {
        self.loaded().flat_map(|c| c.instruments.iter())
    }

    /// Only the archive of pack tags, read from the database (for work
    /// outside a request, such as an export from the command line).
    pub fn archived(conn: &mut DbConn) -> diesel::QueryResult<Self> {
        Ok(Self {
            entries: Vec::new(),
            archive: store::terms(conn)?,
        })
    }

    /// The template with this key, from a loaded pack.
    pub fn template(&self, key: &str) -> Option<&Template> {
        self.templates().find(|t| t.key == key)
    }
}

/// The packs of this server, kept current.
pub struct Registry {
    /// Folders of `--packs-dir`, read at start.
    folders: Vec<(String, Result<Files, Refusal>)>,
    /// Slugs of handouts that are not from packs (built-in and local).
    taken: Vec<String>,
    /// The packs as loaded, with the `practice.packs_changed` stamp they
    /// were loaded at: replaced together, and never by an older load.
    set: RwLock<(i64, Arc<PackSet>)>,
    stamp: AtomicI64,
}

impl Registry {
    /// Read every folder of `dir` (once: a folder added later needs a
    /// restart). Nothing is checked against keys until [`Registry::refresh`].
    pub fn start(dir: Option<&Path>, taken: Vec<String>) -> Self {
        let mut folders = Vec::new();
        if let Some(dir) = dir {
            match std::fs::read_dir(dir) {
                Ok(list) => {
                    let mut paths: Vec<_> = list.flatten().map(|e| e.path()).collect();
                    paths.sort();
                    for path in paths {
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let meta = std::fs::symlink_metadata(&path);
                        let files = match meta {
                            Ok(m) if m.file_type().is_symlink() => Err(Refusal::new(
                                format!("{name}/"),
                                "the pack folder is a symbolic link; use the folder itself",
                            )),
                            Ok(m) if m.is_dir() => files::read_folder(&path),
                            // Loose files beside the packs (a README, say) are not packs.
                            _ => continue,
                        };
                        folders.push((name, files));
                    }
                }
                Err(_) => folders.push((
                    dir.display().to_string(),
                    Err(Refusal::new(
                        dir.display().to_string(),
                        "the packs folder could not be read",
                    )),
                )),
            }
        }
        Self {
            folders,
            taken,
            set: RwLock::new((
                i64::MIN,
                Arc::new(PackSet {
                    entries: vec![builtin_entry()],
                    archive: Vec::new(),
                }),
            )),
            stamp: AtomicI64::new(i64::MIN),
        }
    }

    /// The packs as loaded now.
    pub fn current(&self) -> Arc<PackSet> {
        self.set
            .read()
            .map(|s| s.1.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().1.clone())
    }

    /// Load again from the trusted keys and uploads in the database, and
    /// record any new pack tags.
    pub fn refresh(&self, conn: &mut DbConn) -> diesel::QueryResult<()> {
        let stamp = store::stamp(conn)?;
        let keys: Vec<TrustedKey> = store::keys(conn)?
            .iter()
            .filter_map(|k| manifest::trusted(&k.key_id, &k.public_key))
            .collect();
        let uploads = store::uploads(conn)?;
        // The practice's own handouts keep their slugs: a pack that would
        // hide one is refused.
        let mut taken = self.taken.clone();
        taken.extend(
            crate::handouts::practice::all(conn)?
                .into_iter()
                .map(|h| h.slug),
        );
        let mut set = build(&self.folders, &uploads, &keys, &taken);
        store::record_terms(conn, &set.tags().collect::<Vec<_>>())?;
        set.archive = store::terms(conn)?;
        for entry in &set.entries {
            if let Err(r) = &entry.state {
                // The file and reason only: both are ours or the pack's
                // paths, never anything about a client.
                tracing::warn!(file = %r.file, reason = %r.reason, "a pack was refused");
            }
        }
        let set = Arc::new(set);
        let mut current = self
            .set
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Two loads racing: the one that read the newer stamp wins, whichever
        // finishes last.
        if stamp >= current.0 {
            *current = (stamp, set);
            self.stamp.store(stamp, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Load again if another app server changed the packs.
    pub fn refresh_if_changed(&self, conn: &mut DbConn) -> diesel::QueryResult<()> {
        if store::stamp(conn)? != self.stamp.load(Ordering::Relaxed) {
            self.refresh(conn)?;
        }
        Ok(())
    }
}

fn builtin_entry() -> Entry {
    Entry {
        source: Source::Builtin,
        manifest: Some(BUILTIN.manifest.clone()),
        key_id: None,
        state: Ok(BUILTIN.contents.clone()),
    }
}

/// Check one pack's files: signature, hashes, content.
pub fn check(
    files: &Files,
    keys: &[TrustedKey],
) -> (Option<Manifest>, Option<String>, Result<Contents, Refusal>) {
    let verified = match manifest::verify(files, keys) {
        Ok(v) => v,
        Err(r) => {
            // Name the pack if its manifest at least reads, to help the
            // administrator find it; nothing in it is trusted.
            let named = files.get(MANIFEST).and_then(|t| manifest::parse(t).ok());
            return (named, None, Err(r));
        }
    };
    let label = PackLabel {
        id: verified.manifest.id.clone(),
        name: verified.manifest.name.clone(),
        version: verified.manifest.version,
    };
    let contents = content::parse(&verified.manifest, files, &|_| {
        Origin::Signed(label.clone())
    });
    (Some(verified.manifest), Some(verified.key_id), contents)
}

/// Check every pack and settle clashes: one pack per id, one handout per
/// slug (the first loaded keeps it).
pub fn build(
    folders: &[(String, Result<Files, Refusal>)],
    uploads: &[store::Upload],
    keys: &[TrustedKey],
    taken: &[String],
) -> PackSet {
    let mut entries = vec![builtin_entry()];
    let mut ids: HashSet<String> = HashSet::from([BUILTIN.manifest.id.clone()]);
    let mut slugs: HashSet<String> = taken.iter().cloned().collect();
    let candidates = folders
        .iter()
        .map(|(name, files)| (Source::Folder(name.clone()), files.clone()))
        .chain(uploads.iter().map(|u| {
            (
                Source::Upload {
                    id: u.id,
                    by: u.uploaded_by,
                    at: u.uploaded_at,
                },
                Ok(u.files.clone()),
            )
        }));
    for (source, files) in candidates {
        let (manifest, key_id, mut state) = match files {
            Ok(files) => check(&files, keys),
            Err(r) => (None, None, Err(r)),
        };
        if let (Ok(contents), Some(m)) = (&state, &manifest) {
            if ids.contains(&m.id) {
                state = Err(Refusal::new(
                    MANIFEST,
                    format!("another pack already loaded uses the id {}", m.id),
                ));
            } else if let Some(h) = contents.handouts.iter().find(|h| slugs.contains(&h.slug)) {
                let file = contents
                    .handout_files
                    .get(&h.slug)
                    .cloned()
                    .unwrap_or_else(|| "handouts/".to_owned());
                state = Err(Refusal::new(
                    file,
                    "its slug is already used by another handout",
                ));
            }
        }
        if let (Ok(contents), Some(m)) = (&state, &manifest) {
            ids.insert(m.id.clone());
            slugs.extend(contents.handouts.iter().map(|h| h.slug.clone()));
        }
        entries.push(Entry {
            source,
            manifest,
            key_id,
            state,
        });
    }
    PackSet {
        entries,
        archive: Vec::new(),
    }
}
