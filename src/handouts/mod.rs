//! Handouts that normalise what happened in the room: a library (built-in,
//! a pack from `--handouts-dir`, the practice's own), print pages made for
//! Letter and A4, a record on the client's chart of what was given, and an
//! importer that turns an article into a draft.

pub mod content;
pub mod import;
pub mod library;
pub mod model;
pub mod pages;
pub mod render;
pub mod routes;

pub use library::Library;
pub use routes::configure;
