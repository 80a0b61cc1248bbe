//! Handlers for the handout library, printing, giving and importing.

use std::rc::Rc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::content::{Handout, Origin, PracticeMeta, valid_slug};
use super::import::{self, SourceKind};
use super::library::{Library, card_facts};
use super::model::{self, GivenText, PrintOptions};
use super::pages::*;
use super::render::{readability, to_html};
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::clients::model as clients;
use crate::db::is_unique_violation;
use crate::ids::ClientId;
use crate::notes::tags::{BUILTIN, TagView};
use crate::web::form::{FieldErrors, FormLimit};
use crate::web::layout::{local_time, long_date, thousands, today};
use crate::web::{AppError, AppState, render, see_other};

/// Imports and edits carry up to two million characters of text.
pub const MAX_IMPORT_CHARS: usize = 2_000_000;
const IMPORT_FORM_LIMIT: usize = 4 * 1024 * 1024;

/// Register the handouts routes. Literal paths come before `{slug}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/handouts", web::get().to(library))
        .service(
            web::resource("/handouts")
                .app_data(FormLimit(IMPORT_FORM_LIMIT))
                .route(web::post().to(create)),
        )
        .service(
            web::resource("/handouts/import")
                .app_data(FormLimit(IMPORT_FORM_LIMIT))
                .route(web::get().to(import_form))
                .route(web::post().to(import_preview)),
        )
        .route("/handouts/import/file", web::post().to(import_upload))
        .route("/handouts/given/{id}/print", web::get().to(reprint))
        .route("/handouts/{slug}", web::get().to(show))
        .route("/handouts/{slug}/print", web::get().to(print_get))
        .route("/handouts/{slug}/print", web::post().to(print_post))
        .route("/handouts/{slug}/give", web::post().to(give))
        .route("/handouts/{slug}/copy", web::post().to(copy))
        .route("/handouts/{slug}/versions", web::get().to(versions))
        .service(
            web::resource("/handouts/{slug}/edit")
                .app_data(FormLimit(IMPORT_FORM_LIMIT))
                .route(web::get().to(edit_form))
                .route(web::post().to(update)),
        );
}

fn tag_views(slugs: &[String]) -> Vec<TagView> {
    BUILTIN
        .iter()
        .filter(|t| slugs.iter().any(|s| s == t.slug))
        .map(|t| TagView {
            key: t.slug.into(),
            label: t.label.into(),
            description: t.description,
            builtin: true,
        })
        .collect()
}

async fn all_handouts(state: &AppState, library: &Library) -> Result<Vec<Handout>, AppError> {
    let practice = state.db(|conn| Ok(model::practice_handouts(conn)?)).await?;
    Ok(library.with_practice(practice))
}

async fn find(state: &AppState, library: &Library, slug: &str) -> Result<Handout, AppError> {
    all_handouts(state, library)
        .await?
        .into_iter()
        .find(|h| h.slug == slug)
        .ok_or_else(AppError::not_found)
}

/// `GET /handouts`: the library.
async fn library(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
) -> Result<HttpResponse, AppError> {
    let cards = all_handouts(&state, &library)
        .await?
        .iter()
        .map(|h| {
            let facts = card_facts(h);
            LibraryCard {
                slug: h.slug.clone(),
                title: h.title.clone(),
                summary: h.summary.clone(),
                grade: facts.grade,
                hard: facts.hard,
                length: facts.length,
                fits: tag_views(&h.fits),
                own: h.editable(),
                card: h.card_of.is_some(),
            }
        })
        .collect();
    let problems = library
        .problems
        .iter()
        .map(|p| (p.file.clone(), p.problem.clone()))
        .collect();
    render(
        StatusCode::OK,
        &LibraryPage {
            layout: layout_for(&session, "handouts"),
            cards,
            problems,
        },
    )
}

async fn client_options(
    state: &AppState,
    session: &Rc<CurrentSession>,
    selected: Option<i64>,
) -> Result<Vec<ClientOption>, AppError> {
    let therapist = session.therapist;
    let rows = state
        .db(move |conn| Ok(clients::list(conn, therapist)?))
        .await?;
    let mut options: Vec<ClientOption> = rows
        .iter()
        .filter(|(row, _)| row.archived_at.is_none())
        .map(|(row, _)| {
            let (full, preferred, _) = row.open_names(&session.dk);
            let name = if preferred.is_empty() {
                full
            } else {
                format!("{full} ({preferred})")
            };
            ClientOption {
                id: row.id,
                name,
                selected: selected == Some(row.id),
            }
        })
        .collect();
    options.sort_by_key(|c| c.name.to_lowercase());
    Ok(options)
}

/// `GET /handouts/{slug}`: the handout on screen, with print options.
async fn show(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let h = find(&state, &library, &path).await?;
    let facts = card_facts(&h);
    let admin = session.role == crate::auth::account::Role::Admin;
    let changed = match &h.origin {
        Origin::Practice(meta) => Some(format!(
            "Your practice's own, version {}: last changed by {} on {}.",
            h.version,
            therapist_name(&state, meta.last_editor).await?,
            local_time(meta.changed_at)
        )),
        _ => None,
    };
    let page = HandoutPage {
        layout: layout_for(&session, "handouts"),
        csrf_token: session.csrf_token.clone(),
        body_html: to_html(&h.body),
        grade: facts.grade,
        length: facts.length,
        fits: tag_views(&h.fits),
        sources: h.sources.clone(),
        editable: h.editable_by(session.therapist, admin),
        changed,
        has_versions: h.editable() && h.version > 1,
        clients: client_options(&state, &session, None).await?,
        slug: h.slug,
        title: h.title,
    };
    render(StatusCode::OK, &page)
}

/// A colleague's display name (not PHI: it is theirs).
async fn therapist_name(state: &AppState, id: crate::ids::TherapistId) -> Result<String, AppError> {
    Ok(state
        .db(move |conn| Ok(crate::auth::account::find(conn, id)?))
        .await?
        .map_or_else(|| "a former colleague".to_owned(), |t| t.display_name))
}

/// `GET /handouts/{slug}/versions`: a practice handout's earlier versions,
/// who wrote each and when.
async fn versions(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let h = find(&state, &library, &path).await?;
    let Origin::Practice(meta) = &h.origin else {
        return Err(AppError::not_found());
    };
    let id = meta.id;
    let (earlier, names) = state
        .db(move |conn| {
            Ok((
                model::earlier_versions(conn, id)?,
                crate::auth::account::all(conn)?,
            ))
        })
        .await?;
    let name_of = |id: Option<i64>| {
        id.and_then(|id| names.iter().find(|t| t.id == id))
            .map_or_else(
                || "a former colleague".to_owned(),
                |t| t.display_name.clone(),
            )
    };
    let page = VersionsPage {
        layout: layout_for(&session, "handouts"),
        slug: h.slug.clone(),
        title: h.title.clone(),
        current: h.version,
        versions: earlier
            .iter()
            .map(|v| VersionView {
                version: v.version,
                title: v.title.clone(),
                written: format!("{} on {}", name_of(v.written_by), local_time(v.written_at)),
                body_html: to_html(&v.body),
            })
            .collect(),
    };
    render(StatusCode::OK, &page)
}

/// Print options as sent by the form or a suggestion link.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct PrintForm {
    client: String,
    note: String,
    paper: String,
    large: Option<String>,
    discreet: Option<String>,
    names: Option<String>,
}

impl PrintForm {
    fn options(&self) -> PrintOptions {
        PrintOptions {
            paper: if self.paper == "a4" { "a4" } else { "letter" },
            large_print: self.large.is_some(),
            discreet: self.discreet.is_some(),
        }
    }
}

/// The client a print is for, if any; 404 (audited) if not theirs.
async fn print_client(
    state: &AppState,
    session: &Rc<CurrentSession>,
    raw: &str,
) -> Result<Option<clients::Client>, AppError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let Ok(id) = raw.parse::<ClientId>() else {
        return Err(audit::denied(state, session.therapist, None).await);
    };
    let therapist = session.therapist;
    match state
        .db(move |conn| Ok(clients::find(conn, therapist, id)?))
        .await?
    {
        Some(row) => Ok(Some(row.open(&session.dk))),
        None => Err(audit::denied(state, therapist, Some(id.0)).await),
    }
}

struct Printing<'a> {
    title: &'a str,
    body: &'a str,
    sources: &'a [String],
    for_name: Option<String>,
    note: &'a str,
    options: &'a PrintOptions,
    show_names: bool,
}

async fn print_page(
    state: &AppState,
    session: &Rc<CurrentSession>,
    p: Printing<'_>,
    back_href: String,
) -> Result<PrintPage, AppError> {
    let practice = state
        .db(|conn| Ok(model::practice_name(conn)?))
        .await?
        .unwrap_or_default();
    let date = long_date(&today());
    let (header_right, footer_left) = if p.options.discreet || !p.show_names {
        (String::new(), String::new())
    } else {
        (practice, session.display_name.clone())
    };
    Ok(PrintPage {
        version: crate::web::assets::VERSION,
        csrf_token: session.csrf_token.clone(),
        title: p.title.to_owned(),
        body_html: to_html(p.body),
        header_left: p
            .for_name
            .as_ref()
            .map(|n| format!("For {n}"))
            .unwrap_or_default(),
        for_name: p.for_name,
        personal_note: p.note.to_owned(),
        paper: p.options.paper,
        large: p.options.large_print,
        header_right,
        footer_left,
        footer_right: date,
        sources: p.sources.to_vec(),
        back_href,
        give: None,
        given_note: None,
    })
}

async fn print(
    state: &AppState,
    library: &Library,
    session: &Rc<CurrentSession>,
    slug: &str,
    form: PrintForm,
) -> Result<HttpResponse, AppError> {
    let h = find(state, library, slug).await?;
    let client = print_client(state, session, &form.client).await?;
    let options = form.options();
    let for_name = client.as_ref().map(|c| c.called().to_owned());
    let note = form.note.trim_end();
    if note.chars().count() > 2000 {
        return Err(AppError::bad_request(
            "Keep the personal note under 2,000 characters so it fits on the page.",
        ));
    }
    let printing = Printing {
        title: &h.title,
        body: &h.body,
        sources: &h.sources,
        for_name: for_name.clone(),
        note,
        options: &options,
        show_names: form.names.is_some() || form.client.is_empty() && form.paper.is_empty(),
    };
    let mut page = print_page(state, session, printing, format!("/handouts/{}", h.slug)).await?;
    if let Some(c) = &client {
        page.give = Some(GiveForm {
            action: format!("/handouts/{}/give", h.slug),
            client_id: c.id.0,
            client_name: c.fields.full_name.clone(),
            note: note.to_owned(),
            paper: options.paper,
            large: options.large_print,
            discreet: options.discreet,
        });
    }
    audit::log(
        state,
        session.therapist,
        Action::HandoutPrint,
        client.map(|c| c.id.0),
    )
    .await?;
    render(StatusCode::OK, &page)
}

/// `GET /handouts/{slug}/print`: options in the query (never the note).
async fn print_get(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<PrintForm>,
) -> Result<HttpResponse, AppError> {
    let mut form = query.into_inner();
    form.note.clear();
    print(&state, &library, &session, &path, form).await
}

/// `POST /handouts/{slug}/print`: with a personal note, which stays out of URLs.
async fn print_post(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<PrintForm>,
) -> Result<HttpResponse, AppError> {
    print(&state, &library, &form.session, &path, form.form).await
}

/// `POST /handouts/{slug}/give`: record the handout on the client's chart.
async fn give(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<PrintForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let h = find(&state, &library, &path).await?;
    let Some(client) = print_client(&state, &session, &form.form.client).await? else {
        return Err(AppError::bad_request(
            "Choose the client the handout was given to.",
        ));
    };
    let options = form.form.options();
    let text = GivenText {
        title: h.title.clone(),
        body: h.body.clone(),
        personal_note: form.form.note.trim_end().to_owned(),
        for_name: client.called().to_owned(),
    };
    let (therapist, dk) = (session.therapist, session.dk.duplicate());
    let id = state
        .db(move |conn| {
            let id = model::record_given(conn, therapist, &dk, client.id, &h, &text, &options)?;
            audit::record(conn, Some(therapist), Action::HandoutGiven, Some(id))?;
            Ok(id)
        })
        .await?;
    Ok(see_other(&format!("/handouts/given/{id}/print?given=1")))
}

/// Whether the reprint page should say the record was just made.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ReprintQuery {
    given: Option<String>,
}

/// `GET /handouts/given/{id}/print`: exactly the text that was given.
async fn reprint(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<ReprintQuery>,
) -> Result<HttpResponse, AppError> {
    let Ok(id) = path.parse::<i64>() else {
        return Err(audit::denied(&state, session.therapist, None).await);
    };
    let (therapist, dk) = (session.therapist, session.dk.duplicate());
    let found = state
        .db(move |conn| Ok(model::find_given(conn, therapist, &dk, id)?))
        .await?;
    let Some((given, client)) = found else {
        return Err(audit::denied(&state, therapist, Some(id)).await);
    };
    if given.damaged {
        return Err(AppError::conflict(
            "This record failed an integrity check, so the handout cannot be reprinted from it.",
        ));
    }
    // Records made before the name printed was stored reprint with the
    // client's name as it is now.
    let for_name = if given.text.for_name.is_empty() {
        client.called().to_owned()
    } else {
        given.text.for_name.clone()
    };
    let printing = Printing {
        title: &given.text.title,
        body: &given.text.body,
        sources: &[],
        for_name: Some(for_name),
        note: &given.text.personal_note,
        options: &given.options,
        show_names: true,
    };
    let mut page = print_page(
        &state,
        &session,
        printing,
        format!("/clients/{}", client.id),
    )
    .await?;
    page.given_note = Some(if query.given.is_some() {
        format!(
            "Recorded on {}'s chart. Print it now; this page can be printed again from their record.",
            client.fields.full_name
        )
    } else {
        format!(
            "This is exactly what was given to {} (version {}).",
            client.fields.full_name, given.version
        )
    });
    audit::log(&state, therapist, Action::HandoutPrint, Some(client.id.0)).await?;
    render(StatusCode::OK, &page)
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

/// A slug not taken by any handout.
fn free_slug(all: &[Handout], wanted: &str) -> String {
    let base = import::slugify(wanted);
    let mut slug = base.clone();
    let mut n = 2;
    while all.iter().any(|h| h.slug == slug) {
        slug = format!("{base}-{n}");
        n += 1;
    }
    slug
}

fn edit_page(
    session: &CurrentSession,
    heading: &str,
    action: String,
    draft: &Draft,
    slug_editable: bool,
    errors: FieldErrors,
) -> EditPage {
    let r = readability(&draft.body);
    EditPage {
        layout: layout_for(session, "handouts"),
        csrf_token: session.csrf_token.clone(),
        heading: heading.to_owned(),
        action,
        title: draft.title.clone(),
        slug: draft.slug.clone(),
        slug_editable,
        summary: draft.summary.clone(),
        body: draft.body.clone(),
        fits: BUILTIN
            .iter()
            .map(|t| {
                let view = TagView {
                    key: t.slug.into(),
                    label: t.label.into(),
                    description: t.description,
                    builtin: true,
                };
                (view, draft.fit.iter().any(|f| f == t.slug))
            })
            .collect(),
        preview_html: to_html(&draft.body),
        grade: format!("{:.1}", r.grade),
        hard: r.grade > 8.0,
        errors,
    }
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
    use futures_util::StreamExt as _;
    if crate::web::form::media_type(&req) != "multipart/form-data" {
        return Err(AppError::bad_request(
            "This page expects a file sent from Tearsheet's own import page.",
        ));
    }
    // The whole body first, bounded: an oversized upload is read to its end
    // (and thrown away) so the browser sees the 413 page.
    let body =
        crate::web::form::read_limited(&req, payload.into_inner(), IMPORT_FORM_LIMIT).await?;
    let mut parts = actix_multipart::Multipart::new(
        req.headers(),
        futures_util::stream::once(async move {
            Ok::<_, actix_web::error::PayloadError>(web::Bytes::from(body))
        }),
    );
    let (mut csrf, mut kind, mut file) = (None, String::new(), Vec::new());
    while let Some(field) = parts.next().await {
        let mut field = field.map_err(|_| {
            AppError::bad_request(
                "The upload arrived incomplete. Please choose the file and send it again.",
            )
        })?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| {
                AppError::bad_request("The upload arrived incomplete. Please send it again.")
            })?;
            bytes.extend_from_slice(&chunk);
        }
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
    session: &Rc<CurrentSession>,
    input: ImportForm,
) -> Result<HttpResponse, AppError> {
    let session = session.clone();
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
            &import_page(&session, &input, errors),
        );
    }
    let kind = SourceKind::parse(&input.kind).unwrap_or_else(|| SourceKind::detect(&input.source));
    let markdown = import::to_markdown(&input.source, kind);
    let (title, body) = import::split_title(&markdown);
    if super::render::plain_text(&body).trim().is_empty() && title.is_none() {
        errors.add("source", "Nothing readable was left after removing scripts and other unsafe parts. Paste the article's text instead.");
        return render(
            StatusCode::BAD_REQUEST,
            &import_page(&session, &input, errors),
        );
    }
    let all = all_handouts(state, library).await?;
    let title = title.unwrap_or_else(|| "Untitled handout".into());
    let summary: String = super::render::plain_text(&body)
        .lines()
        .find(|l| l.trim().len() > 20)
        .unwrap_or_default()
        .chars()
        .take(160)
        .collect();
    let draft = Draft {
        slug: free_slug(&all, &title),
        title,
        summary: summary.trim_end_matches('.').to_owned() + ".",
        body,
        fit: vec![],
        intent: String::new(),
    };
    render(
        StatusCode::OK,
        &edit_page(
            &session,
            "Check and save the imported handout",
            "/handouts".into(),
            &draft,
            true,
            FieldErrors::default(),
        ),
    )
}

/// The draft editor's fields.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Draft {
    title: String,
    slug: String,
    summary: String,
    body: String,
    fit: Vec<String>,
    /// `preview` to look again before saving.
    intent: String,
}

fn check(draft: &Draft) -> FieldErrors {
    let mut errors = FieldErrors::default();
    if draft.title.trim().is_empty() {
        errors.add("title", "Give the handout a title.");
    } else if draft.title.chars().count() > 150 {
        errors.add("title", "Keep the title under 150 characters.");
    }
    if !valid_slug(&draft.slug) {
        errors.add(
            "slug",
            "Use lower-case letters, digits and dashes, like my-handout.",
        );
    }
    if draft.body.trim().is_empty() {
        errors.add("body", "The handout has no text.");
    } else if draft.body.chars().count() > MAX_IMPORT_CHARS {
        errors.add(
            "body",
            format!(
                "A handout can be at most {} characters.",
                thousands(MAX_IMPORT_CHARS)
            ),
        );
    }
    if draft
        .fit
        .iter()
        .any(|f| !BUILTIN.iter().any(|t| t.slug == f))
    {
        errors.add("fit", "One of the tags is not known.");
    }
    errors
}

/// The handout a draft describes, as written by `author` now.
fn handout_of(draft: &Draft, author: crate::ids::TherapistId) -> Handout {
    Handout {
        slug: draft.slug.trim().to_owned(),
        title: draft.title.trim().to_owned(),
        version: 1,
        summary: draft.summary.trim().to_owned(),
        fits: draft.fit.clone(),
        sources: vec![],
        card_of: None,
        body: draft.body.clone(),
        origin: Origin::Practice(PracticeMeta {
            id: 0,
            author,
            last_editor: author,
            changed_at: crate::db::now(),
        }),
    }
}

/// `POST /handouts`: save a new practice handout (or preview it again).
async fn create(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    form: SignedForm<Draft>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let draft = form.form;
    let intent = draft.intent.clone();
    let heading = "Check and save the imported handout";
    let mut errors = check(&draft);
    if library.is_fixed(&draft.slug) {
        errors.add(
            "slug",
            "That address is taken by a built-in handout. Choose another.",
        );
    }
    if intent == "preview" || !errors.is_empty() {
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        return render(
            status,
            &edit_page(&session, heading, "/handouts".into(), &draft, true, errors),
        );
    }
    let (therapist, handout) = (session.therapist, handout_of(&draft, session.therapist));
    let saved = state
        .db(move |conn| match model::insert(conn, therapist, &handout) {
            Ok(id) => {
                audit::record(conn, Some(therapist), Action::HandoutSave, Some(id))?;
                Ok(true)
            }
            Err(err) if is_unique_violation(&err) => Ok(false),
            Err(err) => Err(err.into()),
        })
        .await?;
    if !saved {
        let mut errors = FieldErrors::default();
        errors.add(
            "slug",
            "Another handout already uses that address. Choose another.",
        );
        return render(
            StatusCode::CONFLICT,
            &edit_page(&session, heading, "/handouts".into(), &draft, true, errors),
        );
    }
    Ok(see_other(&format!("/handouts/{}", draft.slug.trim())))
}

/// `POST /handouts/{slug}/copy`: "make my version" of a read-only handout.
async fn copy(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<crate::auth::routes::Empty>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let all = all_handouts(&state, &library).await?;
    let original = all
        .iter()
        .find(|h| h.slug == *path)
        .ok_or_else(AppError::not_found)?;
    let mut mine = original.clone();
    mine.slug = free_slug(&all, &format!("{}-our-version", original.slug));
    mine.title = format!("{} (our version)", original.title);
    let (therapist, slug) = (session.therapist, mine.slug.clone());
    state
        .db(move |conn| {
            let id = model::insert(conn, therapist, &mine)?;
            audit::record(conn, Some(therapist), Action::HandoutSave, Some(id))?;
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/handouts/{slug}/edit")))
}

/// A practice handout this therapist may change (they added it, or they
/// are an administrator), with its row id.
async fn editable(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    slug: &str,
) -> Result<(Handout, i64), AppError> {
    let h = find(state, library, slug).await?;
    let admin = session.role == crate::auth::account::Role::Admin;
    match &h.origin {
        Origin::Practice(meta) if h.editable_by(session.therapist, admin) => {
            let id = meta.id;
            Ok((h, id))
        }
        Origin::Practice(_) => Err(AppError::forbidden(
            "Only the colleague who added this handout, or the practice's administrator, can change it. Use “Make my version” to get a copy you can edit.",
        )),
        _ => Err(AppError::conflict(
            "Built-in handouts are read-only. Use “Make my version” to get a copy you can edit.",
        )),
    }
}

/// `GET /handouts/{slug}/edit`: the practice's own handouts only.
async fn edit_form(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (h, _) = editable(&state, &library, &session, &path).await?;
    let draft = Draft {
        title: h.title,
        slug: h.slug.clone(),
        summary: h.summary,
        body: h.body,
        fit: h.fits,
        intent: String::new(),
    };
    render(
        StatusCode::OK,
        &edit_page(
            &session,
            "Edit handout",
            format!("/handouts/{}/edit", h.slug),
            &draft,
            false,
            FieldErrors::default(),
        ),
    )
}

/// `POST /handouts/{slug}/edit`.
async fn update(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<Draft>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (h, id) = editable(&state, &library, &session, &path).await?;
    let mut draft = form.form;
    let intent = draft.intent.clone();
    draft.slug = h.slug.clone();
    let errors = check(&draft);
    if intent == "preview" || !errors.is_empty() {
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        return render(
            status,
            &edit_page(
                &session,
                "Edit handout",
                format!("/handouts/{}/edit", h.slug),
                &draft,
                false,
                errors,
            ),
        );
    }
    let (therapist, handout) = (session.therapist, handout_of(&draft, session.therapist));
    state
        .db(move |conn| {
            model::update(conn, id, therapist, &handout)?;
            audit::record(conn, Some(therapist), Action::HandoutSave, Some(id))?;
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/handouts/{}", h.slug)))
}
