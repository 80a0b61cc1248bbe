//! Static files, compiled into the binary so it runs from any directory.
//! Only the files listed here are served, by exact name.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::AppError;

/// Bumped with each release so browsers fetch changed assets.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const CSS: &str = "text/css; charset=utf-8";
const WOFF2: &str = "font/woff2";

/// Name (under `/static/`), content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", CSS, include_bytes!("../../static/app.css")),
    ("print.css", CSS, include_bytes!("../../static/print.css")),
    (
        "handout.css",
        CSS,
        include_bytes!("../../static/handout.css"),
    ),
    ("link.css", CSS, include_bytes!("../../static/link.css")),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/favicon.svg"),
    ),
    // Atkinson Hyperlegible (Braille Institute; SIL Open Font License, see
    // fonts/OFL.txt): a face made for readers with low vision, embedded in
    // every printed handout so it looks the same on every computer.
    (
        "fonts/atkinson-hyperlegible-latin-400-normal.woff2",
        WOFF2,
        include_bytes!("../../static/fonts/atkinson-hyperlegible-latin-400-normal.woff2"),
    ),
    (
        "fonts/atkinson-hyperlegible-latin-400-italic.woff2",
        WOFF2,
        include_bytes!("../../static/fonts/atkinson-hyperlegible-latin-400-italic.woff2"),
    ),
    (
        "fonts/atkinson-hyperlegible-latin-700-normal.woff2",
        WOFF2,
        include_bytes!("../../static/fonts/atkinson-hyperlegible-latin-700-normal.woff2"),
    ),
    (
        "fonts/atkinson-hyperlegible-latin-700-italic.woff2",
        WOFF2,
        include_bytes!("../../static/fonts/atkinson-hyperlegible-latin-700-italic.woff2"),
    ),
    (
        "fonts/OFL.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../static/fonts/OFL.txt"),
    ),
];

/// `GET /static/{path}`.
pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == path.as_str())
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(*body))
}
