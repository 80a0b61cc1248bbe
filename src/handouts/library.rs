//! The handouts a practice can use: built-ins and the unsigned local ones
//! from `--handouts-dir` (both fixed at start), those of signed packs (as
//! loaded now, see `packs`), and the practice's own (from the database,
//! read per request).

use super::content::{self, Handout, PackProblem};
use super::render::{estimated_pages, reading_level};
use crate::packs::Registry;

/// Built-in, local and pack handouts.
pub struct Library {
    /// Built-in and `--handouts-dir` handouts, loaded once at start.
    local: Vec<Handout>,
    /// Local handout files that did not load, shown on the library page.
    pub problems: Vec<PackProblem>,
    /// Signed packs.
    pub packs: std::sync::Arc<Registry>,
}

impl Library {
    /// Load the built-ins and, if given, the local handouts folder; read the
    /// packs folder (checked against trusted keys at the first refresh). A
    /// bad local file is logged and reported; the rest still load.
    pub fn load(handouts: Option<&std::path::Path>, packs: Option<&std::path::Path>) -> Self {
        let mut local = content::builtins();
        let mut problems = Vec::new();
        if let Some(dir) = handouts {
            let taken: Vec<String> = local.iter().map(|h| h.slug.clone()).collect();
            let (loaded, bad) = content::load_pack(dir, &taken);
            for p in &bad {
                tracing::warn!(file = %p.file, problem = %p.problem, "a local handout did not load");
            }
            tracing::info!(
                loaded = loaded.len(),
                failed = bad.len(),
                "loaded the local handouts"
            );
            local.extend(loaded);
            problems = bad;
        }
        let taken = local.iter().map(|h| h.slug.clone()).collect();
        Self {
            local,
            problems,
            packs: std::sync::Arc::new(Registry::start(packs, taken)),
        }
    }

    /// Slugs of the built-in and local handouts.
    pub fn fixed_local_slugs(&self) -> Vec<String> {
        self.local.iter().map(|h| h.slug.clone()).collect()
    }

    /// Built-in, local and pack handouts.
    pub fn fixed(&self) -> Vec<Handout> {
        let packs = self.packs.current();
        self.local.iter().chain(packs.handouts()).cloned().collect()
    }

    /// Every handout: the fixed ones, then the practice's own.
    pub fn with_practice(&self, practice: Vec<Handout>) -> Vec<Handout> {
        let mut all = self.fixed();
        let fixed = all.len();
        all.extend(practice);
        let mut seen = std::collections::HashSet::new();
        let mut index = 0;
        all.retain(|h| {
            index += 1;
            // A practice handout whose slug a fixed one took is hidden.
            seen.insert(h.slug.clone()) || index <= fixed
        });
        all
    }

    /// Whether a slug is taken by a fixed handout.
    pub fn is_fixed(&self, slug: &str) -> bool {
        self.fixed().iter().any(|h| h.slug == slug)
    }

    /// Fixed handouts (full versions, not cards) that fit any of these tags.
    pub fn suggestions(&self, tags: &[String]) -> Vec<Handout> {
        self.fixed()
            .into_iter()
            .filter(|h| h.card_of.is_none() && h.fits.iter().any(|f| tags.contains(f)))
            .collect()
    }
}

/// What the library card shows about a handout.
pub struct CardFacts {
    /// "Reading level: grade 3.2 (Flesch–Kincaid)", by the formula for
    /// the handout's language.
    pub level: String,
    /// Whether it reads hard (above grade 8, or below 55 on INFLESZ).
    pub hard: bool,
    /// The language it is in, named ("Spanish").
    pub language: String,
    /// "About 2 pages".
    pub length: String,
}

/// Reading level and printed length for a handout.
pub fn card_facts(h: &Handout) -> CardFacts {
    let level = reading_level(&h.body, &h.lang);
    let pages = estimated_pages(&h.body);
    CardFacts {
        level: level.describe(),
        hard: level.hard,
        language: crate::lang::name(&h.lang),
        length: if pages == 1 {
            "About 1 page".into()
        } else {
            format!("About {pages} pages")
        },
    }
}
