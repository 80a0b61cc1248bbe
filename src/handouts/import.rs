//! Importing an article as a handout: pasted (plain text, Markdown or
//! HTML) or uploaded as a file, turned into a Markdown draft by `convert`
//! and shown in the editor to check before saving.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::convert::{self, SourceKind};
use super::editor::{Draft, Editor};
use super::library::Library;
use super::pages::ImportPage;
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::web::form::{FieldErrors, FormLimit};
use crate::web::layout::thousands;
use crate::web::{AppError, AppState, render};

/// Imports and edits carry up to two million characters of text.
pub const MAX_IMPORT_CHARS: usize = 2_000_000;
/// The body limit for imports and the editor: the text, percent-encoded.
pub const IMPORT_FORM_LIMIT: usize = 4 * 1024 * 1024;

/// Register the import routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/handouts/import")
            .app_data(FormLimit(IMPORT_FORM_LIMIT))
            .route(web::get().to(import_form))
            .route(web::post().to(import_preview)),
    )
    .route("/handouts/import/file", web::post().to(import_upload));
}

/// The import form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ImportForm {
    source: String,
    kind: String,
}

fn import_page(session: &CurrentSession, form: &ImportForm, errors: FieldErrors) -> ImportPage {
    ImportPage {
        layout: layout_for(session, "handouts"),
        csrf_token: session.csrf_token.clone(),
        source: form.source.clone(),
        kind: form.kind.clone(),
        errors,
        limit: thousands(MAX_IMPORT_CHARS),
    }
}

/// `GET /handouts/import`.
async fn import_form(Signed(session): Signed) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &import_page(&session, &ImportForm::default(), FieldErrors::default()),
    )
}

/// `POST /handouts/import`: turn the pasted article into a draft to check.
async fn import_preview(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    form: SignedForm<ImportForm>,
) -> Result<HttpResponse, AppError> {
    preview(&state, &library, &form.session, form.form).await
}

/// `POST /handouts/import/file`: the same, from an uploaded file.
async fn import_upload(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let parts = crate::web::form::read_multipart(&req, payload, IMPORT_FORM_LIMIT).await?;
    let (mut csrf, mut kind, mut file) = (None, String::new(), Vec::new());
    for (name, bytes) in parts {
        match name.as_str() {
            "csrf_token" => csrf = String::from_utf8(bytes).ok(),
            "kind" => kind = String::from_utf8(bytes).unwrap_or_default(),
            "file" => file = bytes,
            _ => {}
        }
    }
    crate::auth::extract::verify_csrf(&session, csrf.as_deref())?;
    let Ok(source) = String::from_utf8(file) else {
        let mut errors = FieldErrors::default();
        errors.add("source", "That file is not plain text (UTF-8). Save the article as a .txt, .md or .html file, or paste its text below.");
        return render(
            StatusCode::BAD_REQUEST,
            &import_page(&session, &ImportForm::default(), errors),
        );
    };
    let source = source
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(source);
    preview(&state, &library, &session, ImportForm { source, kind }).await
}

async fn preview(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    input: ImportForm,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    let chars = input.source.chars().count();
    if input.source.trim().is_empty() {
        errors.add("source", "Paste the article's text first.");
    } else if chars > MAX_IMPORT_CHARS {
        errors.add(
            "source",
            format!(
                "An article can be at most {} characters; this one has {}.",
                thousands(MAX_IMPORT_CHARS),
                thousands(chars)
            ),
        );
    }
    if !errors.is_empty() {
        return render(
            StatusCode::BAD_REQUEST,
            &import_page(session, &input, errors),
        );
    }
    let kind = SourceKind::parse(&input.kind).unwrap_or_else(|| SourceKind::detect(&input.source));
    let markdown = convert::to_markdown(&input.source, kind);
    let (title, body) = convert::split_title(&markdown);
    if super::render::plain_text(&body).trim().is_empty() && title.is_none() {
        errors.add("source", "Nothing readable was left after removing scripts and other unsafe parts. Paste the article's text instead.");
        return render(
            StatusCode::BAD_REQUEST,
            &import_page(session, &input, errors),
        );
    }
    let all = super::all(state, library).await?;
    let title = title.unwrap_or_else(|| "Untitled handout".into());
    let summary: String = super::render::plain_text(&body)
        .lines()
        .find(|l| l.trim().len() > 20)
        .unwrap_or_default()
        .chars()
        .take(160)
        .collect();
    let draft = Draft {
        slug: super::free_slug(&all, &title),
        title,
        summary: summary.trim_end_matches('.').to_owned() + ".",
        body,
        fit: vec![],
        lang: "en".into(),
        intent: String::new(),
    };
    render(
        StatusCode::OK,
        &Editor::new_handout().page(session, &draft, FieldErrors::default()),
    )
}
