//! The inbox for outside tools (SECURITY.md "Outside tools"): write-only
//! tokens a therapist makes (`store`, pages in `pages`), the endpoint tools
//! post drafts to (`api`, described by `openapi.json`), and the Inbox page
//! where a draft becomes an ordinary draft note. See docs/API.md.

pub mod api;
pub mod pages;
pub mod store;

/// Register the inbox routes.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    api::configure(cfg);
    pages::configure(cfg);
}
