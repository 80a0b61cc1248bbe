//! Web infrastructure shared by every product area: the error type, strict
//! form parsing, cookies, client address, middleware, static assets and the
//! page layout. Nothing here knows about therapists, clients or notes.

pub mod assets;
pub mod client;
pub mod cookies;
pub mod dates;
pub mod error;
pub mod form;
pub mod layout;
pub mod middleware;
pub mod session_memory;
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

/// A JSON file to save (`Content-Disposition: attachment`), pretty-printed,
/// as `content_type` (`application/json`, `application/fhir+json`).
pub fn json_download(
    value: &impl serde::Serialize,
    content_type: &str,
    filename: &str,
) -> Result<HttpResponse, AppError> {
    let body = serde_json::to_vec_pretty(value).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}

/// 303 See Other to a local path: the answer to every successful form post.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// Add a cookie (such as a new session after signing in again) to a response.
pub fn with_cookie(
    mut res: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> Result<HttpResponse, AppError> {
    if let Some(cookie) = cookie {
        res.add_cookie(&cookie).map_err(AppError::internal)?;
    }
    Ok(res)
}
