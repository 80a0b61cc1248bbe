//! Handouts that normalise what happened in the room: the library and
//! each handout's page (`browse`), printing for a client and recording it as
//! given (`print`, with the records in `given`), importing an article
//! (`import`, over the converter in `convert`), and the editor for the
//! practice's own (`editor`, stored by `practice`). Handouts are Markdown
//! with front matter (`content`), rendered and sanitised by `render`; the
//! fixed ones (built in, and the `--handouts-dir` pack) are in `library`.

pub mod browse;
pub mod content;
pub mod convert;
pub mod editor;
pub mod given;
pub mod import;
pub mod library;
pub mod links;
pub mod pages;
pub mod practice;
pub mod print;
pub mod quality;
pub mod render;

pub use library::Library;

use actix_web::web;

use crate::web::{AppError, AppState};
use content::Handout;

/// Register the handouts routes. Literal paths come before `{slug}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(browse::configure_library)
        .configure(editor::configure_new)
        .configure(import::configure)
        .configure(links::configure)
        .configure(quality::configure)
        .configure(print::configure)
        .configure(browse::configure)
        .configure(editor::configure);
}

/// Every handout: the built-in and pack ones, then the practice's own.
pub async fn all(state: &AppState, library: &Library) -> Result<Vec<Handout>, AppError> {
    let practice = state.db(|conn| Ok(practice::all(conn)?)).await?;
    Ok(library.with_practice(practice))
}

/// The handout at this slug, or a 404.
pub async fn find(state: &AppState, library: &Library, slug: &str) -> Result<Handout, AppError> {
    all(state, library)
        .await?
        .into_iter()
        .find(|h| h.slug == slug)
        .ok_or_else(AppError::not_found)
}

/// A slug not taken by any handout.
pub fn free_slug(all: &[Handout], wanted: &str) -> String {
    let base = convert::slugify(wanted);
    let mut slug = base.clone();
    let mut n = 2;
    while all.iter().any(|h| h.slug == slug) {
        slug = format!("{base}-{n}");
        n += 1;
    }
    slug
}
