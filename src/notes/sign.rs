//! Closing a note: signing a draft (it is locked for good), adding dated
//! addenda to a signed note, and deleting a draft.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::model::{self, MAX_NOTE_CHARS, SignOutcome};
use super::show::note_page;
use crate::audit::{self, Action};
use crate::auth::extract::{SignedForm, WritingForm};
use crate::web::form::{FieldErrors, FormLimit, NoFields};
use crate::web::layout::thousands;
use crate::web::{AppError, AppState, render, see_other, with_cookie};

/// Register the routes that close notes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notes/{id}/sign", web::post().to(sign))
        .service(
            web::resource("/notes/{id}/addenda")
                .app_data(FormLimit(super::write::NOTE_FORM_LIMIT))
                .route(web::post().to(add_addendum)),
        )
        .route("/notes/{id}/delete", web::post().to(delete));
}

/// The revision a page was showing.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RevisionForm {
    revision: String,
}

/// `POST /notes/{id}/sign`: lock the draft as seen.
async fn sign(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<RevisionForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (row, _) = super::owned(&state, &session, &path).await?;
    let revision = form.form.revision.parse::<i32>().unwrap_or(-1);
    let (therapist, id, dk) = (session.therapist, row.id, session.dk.duplicate());
    let outcome = state
        .db(move |conn| {
            let outcome = model::sign(conn, therapist, &dk, id, revision)?;
            if outcome == SignOutcome::Signed {
                audit::record(conn, Some(therapist), Action::NoteSign, Some(id.0))?;
            }
            Ok(outcome)
        })
        .await?;
    match outcome {
        SignOutcome::Signed => Ok(see_other(&format!("/notes/{id}?signed=1"))),
        SignOutcome::AlreadySigned => Ok(see_other(&format!("/notes/{id}"))),
        SignOutcome::NotFound => Err(audit::denied(&state, therapist, Some(id.0)).await),
        SignOutcome::Stale => Err(AppError::conflict(
            "This draft changed in another window after you opened it, so it was not signed. Open the note again, read the latest text, then sign.",
        )),
        SignOutcome::Damaged => Err(AppError::conflict(
            "This note failed an integrity check, so it cannot be signed. Nothing was changed.",
        )),
    }
}

/// The addendum form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AddendumForm {
    body: String,
}

/// `POST /notes/{id}/addenda`.
async fn add_addendum(
    state: web::Data<AppState>,
    library: web::Data<crate::handouts::Library>,
    path: web::Path<String>,
    form: WritingForm<AddendumForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (row, client) = super::owned(&state, &session, &path).await?;
    let body = form.form.body.trim_end().to_owned();
    let mut errors = FieldErrors::default();
    if !row.is_signed() {
        return Err(AppError::conflict(
            "Addenda are for signed notes. This note is still a draft: edit it instead.",
        ));
    }
    if body.trim().is_empty() {
        errors.add("body", "Write the addendum before adding it.");
    } else if body.chars().count() > MAX_NOTE_CHARS {
        errors.add(
            "body",
            format!(
                "An addendum can hold up to {} characters.",
                thousands(MAX_NOTE_CHARS)
            ),
        );
    }
    if form.resumed.is_some() || !errors.is_empty() {
        let notice = form.resumed.as_ref().map(|_| {
            "You are signed in again. Your addendum is below exactly as you typed it, and it is not added yet: check it and press Add addendum."
        });
        let mut page = note_page(&state, &library, &session, &row, &client, notice, false).await?;
        page.addendum_text = form.form.body.clone();
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        page.errors = errors;
        return with_cookie(render(status, &page)?, form.resumed);
    }
    let (therapist, id, dk) = (session.therapist, row.id, session.dk.duplicate());
    let added = state
        .db(move |conn| {
            let added = super::addenda::add(conn, therapist, &dk, id, &body)?;
            if added {
                audit::record(conn, Some(therapist), Action::NoteAddendum, Some(id.0))?;
            }
            Ok(added)
        })
        .await?;
    if !added {
        return Err(audit::denied(&state, therapist, Some(id.0)).await);
    }
    Ok(see_other(&format!("/notes/{id}?amended=1#addenda")))
}

/// `POST /notes/{id}/delete`: drafts only.
async fn delete(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (row, _) = super::owned(&state, &session, &path).await?;
    let (therapist, id) = (session.therapist, row.id);
    let deleted = state
        .db(move |conn| {
            let deleted = model::delete_draft(conn, therapist, id)?;
            if deleted {
                audit::record(conn, Some(therapist), Action::NoteDelete, Some(id.0))?;
            }
            Ok(deleted)
        })
        .await?;
    if !deleted {
        return Err(AppError::conflict(
            "A signed note is part of the clinical record and cannot be deleted. Nothing was changed.",
        ));
    }
    Ok(see_other(&format!(
        "/clients/{}?note_deleted=1",
        row.client_id
    )))
}
