//! Tags for the moments that matter: the shared vocabulary every area
//! speaks. A built-in set drawn from the article behind the first handout,
//! and each therapist's own tags (labels sealed, referred to by id so
//! renaming is safe). Notes carry tags; handouts say which tags they fit;
//! the client page and the caseload chart draw them in the colours below.

pub mod custom;

pub use custom::CustomTag;

use crate::ids::CustomTagId;

/// A built-in tag.
#[derive(Debug)]
pub struct BuiltinTag {
    /// Stable slug, used in URLs and stored in notes.
    pub slug: &'static str,
    /// Name shown.
    pub label: &'static str,
    /// One line of help text.
    pub description: &'static str,
}

/// The built-in vocabulary, read from the built-in pack
/// (`src/packs/builtin/vocabularies/moments.toml`). Slugs are stable:
/// never rename one.
pub static BUILTIN: std::sync::LazyLock<Vec<BuiltinTag>> = std::sync::LazyLock::new(|| {
    crate::packs::builtin::BUILTIN
        .contents
        .tags
        .iter()
        .map(|t| BuiltinTag {
            slug: t.term.as_str(),
            label: t.label.as_str(),
            description: t.help.as_str(),
        })
        .collect()
});

/// The built-in tag with this slug.
pub fn builtin(slug: &str) -> Option<&'static BuiltinTag> {
    BUILTIN.iter().find(|t| t.slug == slug)
}

/// How a note refers to a therapist's own tag.
pub fn custom_key(id: CustomTagId) -> String {
    format!("custom:{id}")
}

/// The same tag in any version: a pack tag's term without its `@VERSION`
/// (built-in and own tags have no versions).
pub fn family(key: &str) -> &str {
    if key.starts_with("pack:") {
        key.rsplit_once('@').map_or(key, |(f, _)| f)
    } else {
        key
    }
}

/// A tag ready to show: built-in, from a pack, or the therapist's own.
#[derive(Clone, Debug)]
pub struct TagView {
    /// What notes store: a slug, `pack:PACK/SLUG@VERSION` or `custom:<id>`.
    pub key: String,
    /// The same tag in any version (see [`family`]).
    pub family: String,
    /// Name shown.
    pub label: String,
    /// Help text (built-in and pack tags).
    pub description: String,
    /// Whether built in.
    pub builtin: bool,
    /// The pack it came from, for pack tags.
    pub pack: Option<String>,
    /// Whether the note form offers it now (a pack tag of a version no
    /// longer loaded still reads, but is not offered).
    pub offered: bool,
}

impl From<&BuiltinTag> for TagView {
    fn from(t: &BuiltinTag) -> Self {
        Self {
            key: t.slug.to_owned(),
            family: t.slug.to_owned(),
            label: t.label.to_owned(),
            description: t.description.to_owned(),
            builtin: true,
            pack: None,
            offered: true,
        }
    }
}

/// Views of the built-in tags among these slugs, in vocabulary order (what
/// a handout says it fits).
pub fn builtin_views(slugs: &[String]) -> Vec<TagView> {
    BUILTIN
        .iter()
        .filter(|t| slugs.iter().any(|s| s == t.slug))
        .map(TagView::from)
        .collect()
}

/// The vocabulary a therapist can pick from: built-ins, then the packs'
/// (every version ever loaded, so old notes read the same), then their own.
pub struct Vocabulary {
    /// Every tag, in display order.
    pub tags: Vec<TagView>,
}

impl Vocabulary {
    /// Built-ins, the tags of every pack ever loaded, and these custom tags.
    pub fn new(custom: &[CustomTag], packs: &crate::packs::registry::PackSet) -> Self {
        let mut tags: Vec<TagView> = BUILTIN.iter().map(TagView::from).collect();
        let offered: std::collections::HashSet<&str> =
            packs.tags().map(|t| t.term.as_str()).collect();
        let mut from_packs: Vec<TagView> = packs
            .archive
            .iter()
            .map(|t| TagView {
                key: t.term.clone(),
                family: family(&t.term).to_owned(),
                label: t.label.clone(),
                description: t.help.clone(),
                builtin: false,
                pack: Some(t.pack_name.clone()),
                offered: offered.contains(t.term.as_str()),
            })
            .collect();
        from_packs.sort_by(|a, b| {
            (&a.pack, a.label.to_lowercase(), &a.key).cmp(&(
                &b.pack,
                b.label.to_lowercase(),
                &b.key,
            ))
        });
        tags.extend(from_packs);
        let mut own: Vec<&CustomTag> = custom.iter().collect();
        own.sort_by_key(|t| t.label.to_lowercase());
        tags.extend(own.into_iter().map(|t| {
            let key = custom_key(t.id);
            TagView {
                family: key.clone(),
                key,
                label: t.label.clone(),
                description: String::new(),
                builtin: false,
                pack: None,
                offered: true,
            }
        }));
        Self { tags }
    }

    /// The tag a note's stored key refers to, if it still exists.
    pub fn get(&self, key: &str) -> Option<&TagView> {
        self.tags.iter().find(|t| t.key == key)
    }

    /// Views for stored keys, in vocabulary order, skipping unknown keys.
    pub fn views(&self, keys: &[String]) -> Vec<TagView> {
        self.views_of(keys.iter().map(String::as_str))
    }

    /// [`Vocabulary::views`] for keys borrowed from wherever they are kept.
    pub fn views_of<'a>(&self, keys: impl Iterator<Item = &'a str> + Clone) -> Vec<TagView> {
        self.tags
            .iter()
            .filter(|t| keys.clone().any(|k| k == t.key))
            .cloned()
            .collect()
    }

    /// One tag per family, its newest version (for filters and charts that
    /// gather a tag across versions of its pack).
    pub fn families(&self) -> Vec<TagView> {
        let mut out: Vec<TagView> = Vec::new();
        for t in &self.tags {
            match out.iter_mut().find(|o| o.family == t.family) {
                Some(o) if version_of(&t.key) > version_of(&o.key) => *o = t.clone(),
                Some(_) => {}
                None => out.push(t.clone()),
            }
        }
        out
    }
}

fn version_of(key: &str) -> i64 {
    key.rsplit_once('@')
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Okabe–Ito colours, distinguishable with common colour-vision differences.
const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B8860B", "#56B4E9", "#7A4B00", "#555555",
];

/// The colour of the n-th tag in the vocabulary, the same on every chart.
pub fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}
