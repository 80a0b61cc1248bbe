//! Correcting a measure: `/clients/{id}/measures/{measure}/error`. A
//! measure entered wrongly (a mis-clicked answer, the wrong client) is not
//! deleted or silently changed: after a page that names it, it is marked
//! entered in error, stays on the record struck through, and no longer
//! counts in scores, charts or the item-9 notice. The therapist records it
//! again correctly if needed. Audited as `measure.error`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::model;
use super::view::{MeasureView, rows};
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::clients::model::ClientRow;
use crate::ids::{ClientId, MeasureId};
use crate::web::layout::shown;
use crate::web::{AppError, AppState, Layout, render, see_other};

/// Register the correction page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/clients/{id}/measures/{measure}/error",
        web::get().to(confirm_page),
    )
    .route(
        "/clients/{id}/measures/{measure}/error",
        web::post().to(mark),
    );
}

/// The confirmation page.
#[derive(Template, WebTemplate)]
#[template(path = "measures/error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub client_id: ClientId,
    pub client_name: String,
    pub measure: MeasureView,
    pub action: String,
}

/// The client and one of their measures, or an audited 404.
async fn find(
    state: &AppState,
    session: &CurrentSession,
    path: &(String, String),
) -> Result<(ClientRow, model::Measure), AppError> {
    let client = crate::clients::owned(state, session, &path.0).await?;
    let therapist = session.therapist;
    let Ok(id) = path.1.parse::<MeasureId>() else {
        return Err(audit::denied(state, therapist, None).await);
    };
    let (dk, client_id) = (session.keys.clone(), client.id);
    let found = state
        .db(move |conn| {
            Ok(model::for_client(conn, therapist, &dk, client_id)?
                .into_iter()
                .find(|m| m.id == id))
        })
        .await?;
    match found {
        Some(measure) => Ok((client, measure)),
        None => Err(audit::denied(state, therapist, Some(id.0)).await),
    }
}

/// `GET /clients/{id}/measures/{measure}/error`: what it would mark.
async fn confirm_page(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (client, measure) = find(&state, &session, &path).await?;
    if measure.entered_in_error_at.is_some() {
        return Ok(see_other(&format!("/clients/{}#measures", client.id)));
    }
    let view = rows(std::slice::from_ref(&measure), session.dates, |_| false)
        .pop()
        .ok_or_else(AppError::not_found)?;
    let page = ErrorPage {
        layout: layout_for(&session, "clients"),
        csrf_token: session.csrf_token.clone(),
        client_id: client.id,
        client_name: shown(&client.open_names(&session.keys).0),
        action: view.error_href.clone(),
        measure: view,
    };
    render(StatusCode::OK, &page)
}

/// The confirmation: `confirm=yes`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Confirm {
    confirm: String,
}

/// `POST /clients/{id}/measures/{measure}/error`: mark it; back to the
/// client page.
async fn mark(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: SignedForm<Confirm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (client, measure) = find(&state, &session, &path).await?;
    let back = format!("/clients/{}/measures/{}/error", client.id, measure.id);
    if form.form.confirm != "yes" {
        return Ok(see_other(&back));
    }
    let (therapist, client_id, id) = (session.therapist, client.id, measure.id);
    state
        .db(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                if model::mark_in_error(conn, therapist, client_id, id)? {
                    audit::record(conn, Some(therapist), Action::MeasureError, Some(id.0))?;
                }
                Ok::<_, diesel::result::Error>(())
            })?;
            Ok(())
        })
        .await?;
    Ok(see_other(&format!(
        "/clients/{client_id}?in_error=1#measures"
    )))
}
