//! Web infrastructure shared by every product area: the error type, strict
//! form parsing, cookies, client address, middleware, static assets and the
//! page layout. Nothing here knows about therapists, clients or notes.

pub mod assets;
pub mod client;
pub mod cookies;
pub mod error;
pub mod form;
pub mod layout;
pub mod middleware;
pub mod state;

pub use error::AppError;
pub use layout::{Layout, Nav};
pub use state::AppState;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

/// Render a page with a status (for pages that also set cookies or answer
/// with something other than 200; plain pages return their template).
pub fn render(status: StatusCode, page: &impl askama::Template) -> Result<HttpResponse, AppError> {
    let body = page.render().map_err(AppError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}
