//! The handouts a practice can use: built-ins, a pack from
//! `--handouts-dir` (both fixed at start), and the practice's own (from the
//! database, read per request).

use super::content::{self, Handout, PackProblem};
use super::render::{estimated_pages, readability};

/// Built-in and pack handouts, loaded once at start.
pub struct Library {
    fixed: Vec<Handout>,
    /// Pack files that did not load, shown on the library page.
    pub problems: Vec<PackProblem>,
}

impl Library {
    /// Load the built-ins and, if given, a pack folder. A bad pack file is
    /// logged and reported; the rest still load.
    pub fn load(pack: Option<&std::path::Path>) -> Self {
        let mut fixed = content::builtins();
        let mut problems = Vec::new();
        if let Some(dir) = pack {
            let taken: Vec<String> = fixed.iter().map(|h| h.slug.clone()).collect();
            let (loaded, bad) = content::load_pack(dir, &taken);
            for p in &bad {
                tracing::warn!(file = %p.file, problem = %p.problem, "a handout in the pack did not load");
            }
            tracing::info!(
                loaded = loaded.len(),
                failed = bad.len(),
                "loaded the handout pack"
            );
            fixed.extend(loaded);
            problems = bad;
        }
        Self { fixed, problems }
    }

    /// Built-in and pack handouts.
    pub fn fixed(&self) -> &[Handout] {
        &self.fixed
    }

    /// Every handout: the fixed ones, then the practice's own.
    pub fn with_practice(&self, practice: Vec<Handout>) -> Vec<Handout> {
        let mut all = self.fixed.clone();
        all.extend(
            practice
                .into_iter()
                .filter(|p| !self.fixed.iter().any(|f| f.slug == p.slug)),
        );
        all
    }

    /// Whether a slug is taken by a fixed handout.
    pub fn is_fixed(&self, slug: &str) -> bool {
        self.fixed.iter().any(|h| h.slug == slug)
    }

    /// Fixed handouts (full versions, not cards) that fit any of these tags.
    pub fn suggestions(&self, tags: &[String]) -> Vec<&Handout> {
        self.fixed
            .iter()
            .filter(|h| h.card_of.is_none() && h.fits.iter().any(|f| tags.contains(f)))
            .collect()
    }
}

/// What the library card shows about a handout.
pub struct CardFacts {
    /// Flesch–Kincaid grade, one decimal.
    pub grade: String,
    /// Whether above grade 8 (a warning on imports).
    pub hard: bool,
    /// "About 2 pages".
    pub length: String,
}

/// Reading level and printed length for a handout.
pub fn card_facts(h: &Handout) -> CardFacts {
    let r = readability(&h.body);
    let pages = estimated_pages(&h.body);
    CardFacts {
        grade: format!("{:.1}", r.grade),
        hard: r.grade > 8.0,
        length: if pages == 1 {
            "About 1 page".into()
        } else {
            format!("About {pages} pages")
        },
    }
}
