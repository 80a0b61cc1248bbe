//! Closing a note: signing a draft (it is locked for good), adding dated
//! addenda to a signed note, and deleting a draft.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::model::{self, MAX_NOTE_CHARS, SignOutcome};
use super::pages::DeletePage;
use super::show::note_page;
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, SignedForm, WritingForm};
use crate::auth::layout_for;
use crate::web::form::{FieldErrors, FormLimit};
use crate::web::layout::{shown, thousands};
use crate::web::{AppError, AppState, render, see_other, with_cookie};

/// Register the routes that close notes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notes/{id}/sign", web::post().to(sign))
        .service(
            web::resource("/notes/{id}/addenda")
                .app_data(FormLimit(super::write::NOTE_FORM_LIMIT))
                .route(web::post().to(add_addendum)),
        )
        .route("/notes/{id}/delete", web::get().to(delete_form))
        .route("/notes/{id}/delete", web::post().to(delete));
}

/// The revision a page was showing.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RevisionForm {
    revision: String,
}

/// Why a note cannot be signed yet, in words: which headings are empty.
pub fn incomplete_message(missing: &[String]) -> String {
    let list = match missing {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    format!(
        "Not signed yet: write something under {list} first (even a line such as “nothing observed”). A signed note cannot be changed, so every heading needs its words."
    )
}

/// `POST /notes/{id}/sign`: lock the draft as seen.
async fn sign(
    state: web::Data<AppState>,
    library: web::Data<crate::handouts::Library>,
    path: web::Path<String>,
    form: SignedForm<RevisionForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (row, client) = super::authored(&state, &session, &path).await?;
    let revision = form.form.revision.parse::<i32>().unwrap_or(-1);
    let (therapist, id, dk) = (session.therapist, row.id, session.keys.clone());
    let outcome = state
        .db(move |conn| {
            let signed_as = crate::auth::account::signature_of(conn, therapist)?;
            let outcome = model::sign(conn, therapist, &dk, id, revision, &signed_as)?;
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
        SignOutcome::Incomplete(missing) => {
            let mut page =
                note_page(&state, &library, &session, &row, &client, None, false).await?;
            page.sign_error = Some(incomplete_message(&missing));
            render(StatusCode::BAD_REQUEST, &page)
        }
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
    if form.resumed || !errors.is_empty() {
        let notice = form.resumed.then_some({
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
        return with_cookie(render(status, &page)?, form.cookie);
    }
    let (therapist, id, dk) = (session.therapist, row.id, session.keys.clone());
    let added = state
        .db(move |conn| {
            let written_as = crate::auth::account::signature_of(conn, therapist)?;
            let added = super::addenda::add(conn, therapist, &dk, id, &body, &written_as)?;
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

/// The first words a note says, to name it on the delete page.
fn first_words(content: &super::model::NoteContent, format: super::format::NoteFormat) -> String {
    let text = content
        .layout(format)
        .iter()
        .filter_map(|s| content.sections.get(s.key))
        .map(|t| t.trim())
        .find(|t| !t.is_empty())
        .unwrap_or(content.key_moment.trim());
    let words: Vec<&str> = text.split_whitespace().take(12).collect();
    let more = text.split_whitespace().count() > words.len();
    format!("{}{}", words.join(" "), if more { "…" } else { "" })
}

/// A signed note's page, saying it was not deleted.
fn still_signed(id: crate::ids::NoteId) -> HttpResponse {
    see_other(&format!("/notes/{id}?kept=1"))
}

/// `GET /notes/{id}/delete`: which draft would go, and the confirmation.
async fn delete_form(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (row, client) = super::authored(&state, &session, &path).await?;
    if row.is_signed() {
        return Ok(still_signed(row.id));
    }
    let note = row.open(&session.keys);
    let page = DeletePage {
        layout: layout_for(&session, "clients"),
        csrf_token: session.csrf_token.clone(),
        id: row.id,
        client_name: shown(&client.full_name),
        date: session.dates.session(&row.session_date),
        first_words: note
            .content()
            .map(|c| first_words(&c, note.facts.format))
            .unwrap_or_default(),
    };
    render(StatusCode::OK, &page)
}

/// The delete confirmation.
#[derive(Deserialize, Default)]
#[serde(default)]
struct DeleteForm {
    confirm: String,
}

/// `POST /notes/{id}/delete`: drafts only, and only once confirmed.
async fn delete(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (row, _) = super::authored(&state, &session, &path).await?;
    if form.form.confirm != "yes" {
        return Ok(see_other(&format!("/notes/{}/delete", row.id)));
    }
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
        // Signed meanwhile (or a page from before it was signed).
        return Ok(still_signed(id));
    }
    Ok(see_other(&format!(
        "/clients/{}?note_deleted=1",
        row.client_id
    )))
}
