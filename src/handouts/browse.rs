//! The handout library (`/handouts`) and each handout's page: read it on
//! screen with its reading level and what it fits, choose how to print it
//! and for whom, and, for the practice's own, see its earlier versions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::content::Origin;
use super::library::{Library, card_facts};
use super::pages::{
    Choices, ClientOption, HandoutPage, LibraryCard, LibraryPage, VersionView, VersionsPage,
};
use super::practice;
use super::print::PrintForm;
use super::render::to_html;
use crate::auth::extract::Signed;
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::clients::model as clients;
use crate::ids::{ClientId, TherapistId};
use crate::tags;
use crate::web::form::FieldErrors;
use crate::web::layout::shown;
use crate::web::{AppError, AppState, render};

/// Register the library page (before the editor's `POST /handouts`).
pub fn configure_library(cfg: &mut web::ServiceConfig) {
    cfg.route("/handouts", web::get().to(library));
}

/// Register each handout's pages (after the literal paths).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/handouts/{slug}", web::get().to(show))
        .route("/handouts/{slug}/versions", web::get().to(versions));
}

/// `GET /handouts`: the library.
async fn library(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
) -> Result<HttpResponse, AppError> {
    let cards = super::all(&state, &library)
        .await?
        .iter()
        .map(|h| {
            let facts = card_facts(h);
            LibraryCard {
                slug: h.slug.clone(),
                title: h.title.clone(),
                summary: h.summary.clone(),
                level: facts.level,
                hard: facts.hard,
                lang: h.lang.clone(),
                language: facts.language,
                length: facts.length,
                fits: tags::builtin_views(&h.fits),
                own: h.editable(),
                card: h.card_of.is_some(),
                provenance: h.provenance(),
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

/// The active clients to print for, by name.
pub async fn client_options(
    state: &AppState,
    session: &CurrentSession,
    selected: Option<ClientId>,
) -> Result<Vec<ClientOption>, AppError> {
    let therapist = session.therapist;
    let rows = state
        .db(move |conn| Ok(clients::list(conn, therapist)?))
        .await?;
    let mut options: Vec<ClientOption> = rows
        .iter()
        .filter(|(row, _)| row.archived_at.is_none())
        .map(|(row, _)| {
            let (full, preferred) = row.open_names(&session.keys);
            let (full, preferred) = (shown(&full), shown(&preferred));
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

/// Who a handout's page prints for at first (a suggestion from a note
/// names the client).
#[derive(Deserialize, Default)]
#[serde(default)]
struct ShowQuery {
    client: String,
}

/// `GET /handouts/{slug}`: the handout on screen, with the print form.
async fn show(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    let form = PrintForm {
        client: query.into_inner().client,
        names: Some("1".into()),
        ..PrintForm::default()
    };
    let page = handout_page(&state, &library, &session, &path, &form).await?;
    render(StatusCode::OK, &page)
}

/// A handout's page with the print form filled in as `form` says (its
/// client, if any, must be the therapist's: else an audited 404).
pub async fn handout_page(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    slug: &str,
    form: &PrintForm,
) -> Result<HandoutPage, AppError> {
    let all = super::all(state, library).await?;
    let h = all
        .iter()
        .find(|h| h.slug == slug)
        .cloned()
        .ok_or_else(AppError::not_found)?;
    let assessment = {
        let h = h.clone();
        state
            .db(move |conn| Ok(super::quality::of(conn, &h)?))
            .await?
    };
    let quality = super::quality::summary(assessment.as_ref().map(|(a, _)| a), &h);
    let versions = h.versions(&all);
    let chosen = form.lang.trim();
    let print_languages = std::iter::once((
        String::new(),
        "The client's preferred language".to_owned(),
        chosen.is_empty(),
    ))
    .chain(versions.iter().map(|(tag, _)| {
        (
            (*tag).to_owned(),
            crate::lang::name(tag),
            !chosen.is_empty() && crate::lang::same(tag, chosen),
        )
    }))
    .collect();
    let other_languages = versions
        .into_iter()
        .skip(1)
        .map(|(tag, slug)| (crate::lang::name(tag), slug.to_owned()))
        .collect();
    let selected = if form.client.is_empty() {
        None
    } else {
        Some(
            crate::clients::owned(state, session, &form.client)
                .await?
                .id,
        )
    };
    let facts = card_facts(&h);
    let admin = session.role == crate::auth::account::Role::Admin;
    let changed = match &h.origin {
        Origin::Practice(meta) => Some(format!(
            "Your practice's own, version {}: last changed by {} on {}.",
            h.version,
            therapist_name(state, meta.last_editor).await?,
            session.dates.moment(meta.changed_at)
        )),
        _ => h.provenance(),
    };
    let options = form.options();
    Ok(HandoutPage {
        layout: layout_for(session, "handouts"),
        csrf_token: session.csrf_token.clone(),
        body_html: to_html(&h.body),
        level: facts.level,
        length: facts.length,
        lang: h.lang.clone(),
        language: facts.language,
        other_languages,
        print_languages,
        quality,
        assessed: assessment.is_some(),
        fits: tags::builtin_views(&h.fits),
        sources: h.sources.clone(),
        editable: h.editable_by(session.therapist, admin),
        changed,
        has_versions: h.editable() && h.version > 1,
        clients: client_options(state, session, selected).await?,
        choices: Choices {
            note: form.note.clone(),
            a4: options.paper == "a4",
            large: options.large_print,
            discreet: options.discreet,
            names: form.names_on(),
        },
        notice: None,
        errors: FieldErrors::default(),
        slug: h.slug,
        title: h.title,
    })
}

/// A colleague's display name (not PHI: it is theirs).
pub(super) async fn therapist_name(state: &AppState, id: TherapistId) -> Result<String, AppError> {
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
    let h = super::find(&state, &library, &path).await?;
    let Origin::Practice(meta) = &h.origin else {
        return Err(AppError::not_found());
    };
    let id = meta.id;
    let (earlier, names) = state
        .db(move |conn| {
            Ok((
                practice::earlier_versions(conn, id)?,
                crate::auth::account::all(conn)?,
            ))
        })
        .await?;
    let name_of = |id: Option<TherapistId>| {
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
                written: format!(
                    "{} on {}",
                    name_of(v.written_by),
                    session.dates.moment(v.written_at)
                ),
                body_html: to_html(&v.body),
            })
            .collect(),
    };
    render(StatusCode::OK, &page)
}
