//! Handouts as files: Markdown with TOML front matter between `+++` lines.
//!
//! ```text
//! +++
//! title = "It's okay to cry in therapy"
//! slug = "crying-in-therapy"
//! version = 1
//! summary = "One line for the library card."
//! fits = ["tearful-breakthrough", "vulnerability"]   # tags it suits
//! sources = ["Where the facts come from."]
//! card_of = "crying-in-therapy"                      # optional: a summary card
//! discreet_title = "Feelings are welcome here"       # optional: the title on discreet prints
//! lang = "en"                                        # BCP 47; English when left out
//! languages = { es = "llorar-en-terapia" }           # optional: its versions in other languages
//! +++
//! Markdown body. `[lines: 3]` on its own line becomes three lines to write on.
//! ```
//!
//! Built-in handouts are compiled into the binary; `--handouts-dir` adds a
//! pack at start; the practice's own live in the database.

use serde::Deserialize;

/// Where a handout came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into Tearsheet; read-only.
    Builtin,
    /// Loaded from this file of the `--handouts-dir` folder: unsigned,
    /// local; read-only.
    Local(String),
    /// From a signed pack (see `packs`); read-only.
    Signed(crate::packs::content::PackLabel),
    /// The practice's own (imported or copied), editable by whoever added
    /// it and by administrators.
    Practice(PracticeMeta),
}

/// Who added and last changed a practice handout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PracticeMeta {
    /// Its row id.
    pub id: crate::ids::PracticeHandoutId,
    /// The therapist who added it.
    pub author: crate::ids::TherapistId,
    /// The therapist who wrote the current version.
    pub last_editor: crate::ids::TherapistId,
    /// When the current version was written.
    pub changed_at: i64,
}

/// A handout.
#[derive(Clone, Debug)]
pub struct Handout {
    /// Stable address: `/handouts/{slug}`.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Bumped when the text changes.
    pub version: i32,
    /// One line for the library.
    pub summary: String,
    /// Tag slugs this handout suits.
    pub fits: Vec<String>,
    /// Where its facts come from.
    pub sources: Vec<String>,
    /// For a summary card, the full handout it summarises.
    pub card_of: Option<String>,
    /// The title a discreet print shows instead (one that does not name
    /// what the handout is about).
    pub discreet_title: Option<String>,
    /// The Markdown body.
    pub body: String,
    /// The language it is written in (a BCP 47 tag).
    pub lang: String,
    /// Its versions in other languages: language tag to slug.
    pub languages: std::collections::BTreeMap<String, String>,
    /// Where it came from.
    pub origin: Origin,
}

impl Handout {
    /// The title to print: the discreet one when asked for and there is
    /// one, else a gentle general one for a discreet print, else the title.
    pub fn print_title(&self, discreet: bool) -> &str {
        match (&self.discreet_title, discreet) {
            (Some(t), true) => t,
            (None, true) => crate::lang::words(&self.lang).gentle_title,
            (_, false) => &self.title,
        }
    }

    /// Its version in the language `tag`, among `all`: itself when it is
    /// in that language; else one it names for that language, or one that
    /// names it, in that language. `None` when there is none.
    pub fn in_language<'a>(&'a self, all: &'a [Handout], tag: &str) -> Option<&'a Handout> {
        use crate::lang::same;
        if same(&self.lang, tag) {
            return Some(self);
        }
        let named = self
            .languages
            .iter()
            .filter(|(l, _)| same(l, tag))
            .find_map(|(_, slug)| all.iter().find(|h| &h.slug == slug && same(&h.lang, tag)));
        // One that names this one, from the same source only: a pack
        // cannot make its handout another source's version by naming it.
        named.or_else(|| {
            all.iter().find(|h| {
                same(&h.lang, tag)
                    && h.languages.values().any(|slug| *slug == self.slug)
                    && self.same_source(h)
            })
        })
    }

    /// Whether two handouts come from the same place: both built in, both
    /// local files, both the same signed pack, or both the practice's own.
    fn same_source(&self, other: &Handout) -> bool {
        match (&self.origin, &other.origin) {
            (Origin::Builtin, Origin::Builtin)
            | (Origin::Local(_), Origin::Local(_))
            | (Origin::Practice(_), Origin::Practice(_)) => true,
            (Origin::Signed(a), Origin::Signed(b)) => a.id == b.id,
            _ => false,
        }
    }

    /// Every language it exists in, itself first: (tag, slug).
    pub fn versions<'a>(&'a self, all: &'a [Handout]) -> Vec<(&'a str, &'a str)> {
        let mut out = vec![(self.lang.as_str(), self.slug.as_str())];
        for h in all {
            if crate::lang::same(&h.lang, &self.lang)
                || out.iter().any(|(l, _)| crate::lang::same(l, &h.lang))
            {
                continue;
            }
            if self
                .in_language(all, &h.lang)
                .is_some_and(|v| v.slug == h.slug)
            {
                out.push((h.lang.as_str(), h.slug.as_str()));
            }
        }
        out
    }

    /// Where it came from, in words, for the library and its page; none
    /// for built-in and the practice's own (said elsewhere).
    pub fn provenance(&self) -> Option<String> {
        match &self.origin {
            Origin::Local(_) => Some("Unsigned, local: from this server's handouts folder.".into()),
            Origin::Signed(pack) => Some(format!(
                "From the signed pack {}, version {}.",
                pack.name, pack.version
            )),
            _ => None,
        }
    }

    /// Whether it is the practice's own (editable in the app).
    pub fn editable(&self) -> bool {
        matches!(self.origin, Origin::Practice(_))
    }

    /// Whether this therapist may change it: the practice's own, added by
    /// them, or they are an administrator.
    pub fn editable_by(&self, therapist: crate::ids::TherapistId, admin: bool) -> bool {
        match &self.origin {
            Origin::Practice(meta) => admin || meta.author == therapist,
            _ => false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    slug: String,
    #[serde(default = "one")]
    version: i32,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    fits: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    card_of: Option<String>,
    #[serde(default)]
    discreet_title: Option<String>,
    #[serde(default = "english")]
    lang: String,
    #[serde(default)]
    languages: std::collections::BTreeMap<String, String>,
}

fn english() -> String {
    "en".to_owned()
}

fn one() -> i32 {
    1
}

/// Whether a slug is safe for URLs: lower-case letters, digits and dashes.
pub fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 80
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

/// The keys front matter may hold, so an error can name a missing one
/// without echoing anything from the file.
const KEYS: [&str; 10] = [
    "title",
    "slug",
    "version",
    "summary",
    "fits",
    "sources",
    "card_of",
    "discreet_title",
    "lang",
    "languages",
];

/// Why front matter did not parse, in words of our own: a file's content is
/// never echoed (a pack is not trusted, and its errors are shown to every
/// therapist), only the line where the problem is.
fn front_matter_error(err: &toml::de::Error, text: &str, front_start: usize) -> String {
    let line = err.span().map(|span| {
        1 + text[..(front_start + span.start).min(text.len())]
            .matches('\n')
            .count()
    });
    let message = err.message();
    let what = if message.starts_with("missing field") {
        match KEYS.iter().find(|k| message.contains(&format!("`{k}`"))) {
            Some(key) => format!("its front matter has no {key}"),
            None => "its front matter lacks a required key".to_owned(),
        }
    } else if message.starts_with("unknown field") {
        format!(
            "its front matter has a key Tearsheet does not know (the keys are {})",
            KEYS.join(", ")
        )
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        "a value in its front matter has the wrong type (text needs quotes, lists need [ ])"
            .to_owned()
    } else {
        "its front matter is not valid TOML".to_owned()
    };
    match line {
        Some(line) => format!("{what} (line {line})"),
        None => what,
    }
}

/// Parse a handout file. The error says what is wrong, for a person, and
/// never repeats the file's content.
pub fn parse(text: &str, origin: Origin) -> Result<Handout, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .trim_start()
        .strip_prefix("+++")
        .ok_or("it does not start with front matter between +++ lines")?;
    let (front, body) = rest
        .split_once("\n+++")
        .ok_or("its front matter has no closing +++ line")?;
    let front_start = text.len() - rest.len();
    let meta: FrontMatter =
        toml::from_str(front).map_err(|e| front_matter_error(&e, text, front_start))?;
    if meta.title.trim().is_empty() {
        return Err("its title is empty".into());
    }
    if !valid_slug(&meta.slug) {
        return Err(
            "its slug must be lower-case letters, digits and dashes, like my-handout".into(),
        );
    }
    if meta.version < 1 {
        return Err("its version must be 1 or more".into());
    }
    if !crate::lang::valid_tag(&meta.lang) {
        return Err("its lang must be a language tag, like en or es".into());
    }
    for (tag, slug) in &meta.languages {
        if !crate::lang::valid_tag(tag) || !valid_slug(slug) || *slug == meta.slug {
            return Err(
                "its languages must map language tags to other handouts' slugs, like { es = \"my-handout-es\" }"
                    .into(),
            );
        }
    }
    let body = body.trim_start_matches(['\r', '\n']).to_owned();
    if body.trim().is_empty() {
        return Err("it has no text after the front matter".into());
    }
    Ok(Handout {
        slug: meta.slug,
        title: meta.title.trim().to_owned(),
        version: meta.version,
        summary: meta.summary,
        fits: meta.fits,
        sources: meta.sources,
        card_of: meta.card_of,
        discreet_title: meta.discreet_title.filter(|t| !t.trim().is_empty()),
        body,
        lang: crate::lang::canonical(&meta.lang),
        languages: meta
            .languages
            .into_iter()
            .map(|(tag, slug)| (crate::lang::canonical(&tag), slug))
            .collect(),
        origin,
    })
}

/// The built-in handouts (from the built-in pack, `src/packs/builtin/`).
pub fn builtins() -> Vec<Handout> {
    crate::packs::builtin::BUILTIN.contents.handouts.clone()
}

/// A pack file that did not load, and why.
#[derive(Clone, Debug)]
pub struct PackProblem {
    /// The file's name.
    pub file: String,
    /// What is wrong.
    pub problem: String,
}

/// The largest handout file the local folder may hold.
const MAX_PACK_FILE: u64 = 2 * 1024 * 1024;

/// Read a local handout file: a plain file, never a symbolic link.
fn read_pack_file(path: &std::path::Path) -> Result<String, String> {
    let bytes = crate::packs::files::read_plain(path, MAX_PACK_FILE)?;
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
}

/// Load every `*.md` in a directory; bad files are reported (by name and
/// reason, never their content), the rest load.
pub fn load_pack(dir: &std::path::Path, taken: &[String]) -> (Vec<Handout>, Vec<PackProblem>) {
    let mut handouts: Vec<Handout> = Vec::new();
    let mut problems = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            problems.push(PackProblem {
                file: dir.display().to_string(),
                problem: format!("the folder could not be read: {err}"),
            });
            return (handouts, problems);
        }
    };
    let mut paths: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    paths.sort();
    for path in paths {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let loaded = read_pack_file(&path)
            .and_then(|text| parse(&text, Origin::Local(file.clone())))
            .and_then(|h| {
                if taken.contains(&h.slug) || handouts.iter().any(|o| o.slug == h.slug) {
                    Err("its slug is already used by another handout".to_owned())
                } else {
                    Ok(h)
                }
            });
        match loaded {
            Ok(h) => handouts.push(h),
            Err(problem) => problems.push(PackProblem { file, problem }),
        }
    }
    (handouts, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_handout_parses() {
        let all = builtins();
        assert_eq!(all.len(), 4);
        assert!(all.iter().any(|h| h.slug == "crying-in-therapy"));
        assert!(
            all.iter()
                .any(|h| h.card_of.as_deref() == Some("crying-in-therapy"))
        );
        // Each has its other language, both ways.
        for (en, es) in [
            ("crying-in-therapy", "llorar-en-terapia"),
            ("crying-in-therapy-card", "llorar-en-terapia-tarjeta"),
        ] {
            let english = all.iter().find(|h| h.slug == en).expect("present");
            let spanish = all.iter().find(|h| h.slug == es).expect("present");
            assert_eq!(spanish.lang, "es");
            assert_eq!(
                english.in_language(&all, "es-MX").expect("present").slug,
                es
            );
            assert_eq!(spanish.in_language(&all, "en").expect("present").slug, en);
            assert!(english.in_language(&all, "pt").is_none());
            assert_eq!(english.versions(&all), [("en", en), ("es", es)]);
        }
        // A pack cannot make its handout another source's version by
        // naming it: only the same source's reverse names count.
        let ours = parse(
            "+++\ntitle = \"Ours\"\nslug = \"ours\"\n+++\nText.",
            Origin::Local("ours.md".into()),
        )
        .expect("parses");
        let hijack = parse(
            "+++\ntitle = \"Nuestra\"\nslug = \"nuestra\"\nlang = \"es\"\nlanguages = { en = \"ours\" }\n+++\nTexto.",
            Origin::Signed(crate::packs::content::PackLabel {
                id: "other".into(),
                name: "Other".into(),
                version: 1,
            }),
        )
        .expect("parses");
        let with = [ours.clone(), hijack];
        assert!(ours.in_language(&with, "es").is_none());
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        let cases = [
            ("no front matter", "it does not start with front matter"),
            ("+++\ntitle = \"x\"\n", "no closing +++"),
            (
                "+++\ntitle = \nslug = \"x\"\n+++\nbody",
                "not valid TOML (line 2)",
            ),
            (
                "+++\ntitle = \"x\"\nslug = \"Bad Slug\"\n+++\nbody",
                "lower-case letters",
            ),
            ("+++\ntitle = \"x\"\nslug = \"ok\"\n+++\n  \n", "no text"),
            (
                "+++\ntitle = \"x\"\nslug = \"ok\"\nunknown = 1\n+++\nbody",
                "a key Tearsheet does not know",
            ),
            ("+++\nslug = \"ok\"\n+++\nbody", "has no title"),
        ];
        for (text, wanted) in cases {
            let err = parse(text, Origin::Builtin).expect_err(text);
            assert!(err.contains(wanted), "{text:?}: {err}");
        }
    }

    #[test]
    fn errors_never_repeat_the_files_content() {
        let secret = "root:x:0:0 SECRETWORD";
        for text in [
            format!("+++\ntitle = \"x\"\nslug = \"ok\"\n\"{secret}\" = 1\n+++\nbody"),
            format!("+++\ntitle = \"x\"\nslug = \"{secret}\"\n+++\nbody"),
            format!("+++\ntitle = \"x\"\nslug = \"ok\"\nversion = \"{secret}\"\n+++\nbody"),
            format!("+++\ntitle = \"x\"\nslug = \"ok\"\nfits = [{secret}]\n+++\nbody"),
            format!("+++\n{secret}\n+++\nbody"),
            format!("{secret}\n"),
        ] {
            let err = parse(&text, Origin::Builtin).expect_err(&text);
            assert!(
                !err.contains("SECRETWORD") && !err.contains("root"),
                "{err}"
            );
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn parsing_any_file_never_panics(text in "(\\+\\+\\+\\n)?\\PC{0,300}(\\n\\+\\+\\+\\n)?\\PC{0,100}") {
            let _ = parse(&text, Origin::Builtin);
        }

        #[test]
        fn a_well_formed_file_round_trips(title in "[A-Za-z][A-Za-z ]{0,40}", slug in "[a-z][a-z0-9]{0,20}", body in "[A-Za-z .]{1,200}") {
            prop_assume!(!body.trim().is_empty());
            let text = format!("+++\ntitle = \"{title}\"\nslug = \"{slug}\"\n+++\n{body}");
            let h = parse(&text, Origin::Builtin).expect("parses");
            prop_assert_eq!(h.title, title.trim());
            prop_assert_eq!(h.slug, slug);
            prop_assert_eq!(h.body.trim(), body.trim());
        }
    }
}
