//! Session notes: formats, sealed content, tags, signing, addenda, history,
//! search, and the charts that show the moments that matter.

pub mod caseload;
pub mod charts;
pub mod format;
pub mod input;
pub mod model;
pub mod pages;
pub mod routes;
pub mod search;
pub mod tags;

pub use routes::configure;
