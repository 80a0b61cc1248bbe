//! The note page, `/notes/{id}`: the note as written, its tags and key
//! moment, its addenda once signed, the handouts that fit its tags, and
//! what can be done with it next.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::model::NoteRow;
use super::pages::{AddendumView, NotePage, SectionView, Suggestion};
use super::{addenda, versions};
use crate::audit::{self, Action};
use crate::auth::extract::Signed;
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::clients::model::Client;
use crate::tags::{self, Vocabulary};
use crate::web::form::FieldErrors;
use crate::web::layout::{DAMAGED, local_time, long_date, shown};
use crate::web::{AppError, AppState, render};

/// Register the note page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notes/{id}", web::get().to(show));
}

/// Messages a redirect can ask the note page to show.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ShowQuery {
    saved: Option<String>,
    signed: Option<String>,
    amended: Option<String>,
}

impl ShowQuery {
    fn notice(&self) -> Option<&'static str> {
        if self.signed.is_some() {
            Some("Signed. The note is now locked; add an addendum below if something needs adding.")
        } else if self.amended.is_some() {
            Some("Addendum added.")
        } else if self.saved.is_some() {
            Some("Draft saved.")
        } else {
            None
        }
    }
}

/// `GET /notes/{id}`.
async fn show(
    state: web::Data<AppState>,
    library: web::Data<crate::handouts::Library>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    let (row, client) = super::owned(&state, &session, &path).await?;
    let page = note_page(
        &state,
        &library,
        &session,
        &row,
        &client,
        query.notice(),
        true,
    )
    .await?;
    render(StatusCode::OK, &page)
}

/// The note page for `row`, recording the view in the audit trail when
/// `audited` (one trip to the database for everything it shows).
pub async fn note_page(
    state: &AppState,
    library: &crate::handouts::Library,
    session: &CurrentSession,
    row: &NoteRow,
    client: &Client,
    notice: Option<&'static str>,
    audited: bool,
) -> Result<NotePage, AppError> {
    let note = row.open(&session.dk);
    let (therapist, id, dk) = (session.therapist, row.id, session.dk.duplicate());
    let (custom, addenda, has_history) = state
        .db(move |conn| {
            let context = (
                tags::custom::all(conn, therapist, &dk)?,
                addenda::of_note(conn, therapist, &dk, id)?,
                versions::exist(conn, therapist, id)?,
            );
            if audited {
                audit::record(conn, Some(therapist), Action::NoteView, Some(id.0))?;
            }
            Ok(context)
        })
        .await?;
    let vocabulary = Vocabulary::new(&custom);
    let damaged = note.damaged() || addenda.iter().any(|a| a.body.is_err());
    let sections = note
        .facts
        .format
        .sections()
        .iter()
        .map(|sec| SectionView {
            label: sec.label,
            text: match &note.sections {
                Ok(sections) => sections.get(sec.key).cloned().unwrap_or_default(),
                Err(_) => DAMAGED.to_owned(),
            },
        })
        .collect();
    let tag_keys = note.tags.clone().unwrap_or_default();
    Ok(NotePage {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        id: row.id,
        client_id: row.client_id,
        client_name: shown(&client.full_name),
        date: long_date(&note.facts.session_date),
        duration_minutes: note.facts.duration_minutes,
        session_type: note.facts.session_type.label(),
        format: note.facts.format.label(),
        signed: note.signed,
        signed_at: note.signed_at.map(local_time).unwrap_or_default(),
        updated_at: local_time(note.updated_at),
        revision: note.revision,
        sections,
        key_moment: shown(&note.key_moment),
        process_note: shown(&note.process_note),
        tags: vocabulary.views(&tag_keys),
        addenda: addenda
            .into_iter()
            .map(|a| AddendumView {
                when: local_time(a.created_at),
                body: shown(&a.body),
            })
            .collect(),
        damaged,
        tampered: note.intact == Some(false),
        has_history,
        notice,
        errors: FieldErrors::default(),
        addendum_text: String::new(),
        suggestions: library
            .suggestions(&tag_keys)
            .into_iter()
            .map(|h| Suggestion {
                title: h.title.clone(),
                href: format!("/handouts/{}/print?client={}", h.slug, row.client_id),
            })
            .collect(),
    })
}
