//! The plugin server's packs: signed, data-only extensions (handouts, note
//! templates, tag vocabularies, rating scales). A pack's files arrive
//! (`files`), its signature and hashes are checked (`manifest`), its content
//! is parsed (`content`), and the `registry` keeps what is loaded now, from
//! the compiled-in pack (`builtin`), `--packs-dir` and uploads (`store`).
//! The administrator's pages are in `pages`. See docs/PACKS.md.

pub mod builtin;
pub mod content;
pub mod files;
pub mod manifest;
pub mod pages;
pub mod registry;
pub mod store;

pub use registry::Registry;

/// Register the packs routes.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    pages::configure(cfg);
}
