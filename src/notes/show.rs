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
use crate::measures::view as measure_view;
use crate::tags::{self, Vocabulary};
use crate::web::form::FieldErrors;
use crate::web::layout::{DAMAGED, shown};
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
    already: Option<String>,
    kept: Option<String>,
    cosigned: Option<String>,
    returned: Option<String>,
}

impl ShowQuery {
    fn notice(&self) -> Option<&'static str> {
        if self.cosigned.is_some() {
            Some("Co-signed.")
        } else if self.returned.is_some() {
            Some("Returned to the associate with your comment.")
        } else if self.signed.is_some() {
            Some("Signed. The note is now locked; add an addendum below if something needs adding.")
        } else if self.amended.is_some() {
            Some("Addendum added.")
        } else if self.saved.is_some() {
            Some("Draft saved.")
        } else if self.already.is_some() {
            Some(
                "This note was already saved from that form, so it was not saved a second time. Here it is.",
            )
        } else if self.kept.is_some() {
            Some(
                "This note is signed, so it was not deleted: signed notes are part of the clinical record.",
            )
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
    let (row, client, supervising) = super::owned_or_supervised(&state, &session, &path).await?;
    let mut page = note_page(
        &state,
        &library,
        &session,
        &row,
        &client,
        query.notice(),
        true,
    )
    .await?;
    page.supervising = supervising;
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
    let note = row.open(&session.keys);
    // The note's owner (the reader, or the associate a supervisor reads).
    let (reader, owner, id, dk, client_id) = (
        session.therapist,
        row.therapist_id,
        row.id,
        session.keys.clone(),
        row.client_id,
    );
    let review_row = row.clone();
    let (custom, addenda, has_history, measures, reviews, awaiting) = state
        .db(move |conn| {
            let reviews = crate::sharing::review::of_note(conn, &dk, &review_row)?;
            let supervised = crate::sharing::supervision::open_of(conn, owner)?
                .is_some_and(|s| s.shared_at.is_some());
            let context = (
                tags::custom::all(conn, reader, dk.dk())?,
                addenda::of_note(conn, owner, &dk, id)?,
                review_row.written_by(&dk) && versions::exist(conn, owner, id)?,
                crate::measures::model::for_client(conn, owner, &dk, client_id)?,
                supervised && review_row.is_signed() && !reviews.iter().any(|r| r.cosigned),
                reviews,
            );
            if audited {
                audit::record(conn, Some(reader), Action::NoteView, Some(id.0))?;
            }
            Ok((
                context.0, context.1, context.2, context.3, context.5, context.4,
            ))
        })
        .await?;
    let vocabulary = Vocabulary::new(&custom, &state.packs.current());
    let damaged = note.damaged() || addenda.iter().any(|a| a.body.is_err());
    let sections = note
        .layout()
        .iter()
        .map(|sec| SectionView {
            label: sec.label.to_owned(),
            text: match &note.sections {
                Ok(sections) => sections.get(sec.key).cloned().unwrap_or_default(),
                Err(_) => DAMAGED.to_owned(),
            },
        })
        .collect();
    let tag_keys = note.tags.clone().unwrap_or_default();
    let measures: Vec<_> = measure_view::of_note(&measures, row.id)
        .into_iter()
        .cloned()
        .collect();
    Ok(NotePage {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        id: row.id,
        client_id: row.client_id,
        client_name: shown(&client.full_name),
        date: session.dates.session(&note.facts.session_date),
        duration_minutes: note.facts.duration_minutes,
        session_type: note.facts.session_type.label(),
        format: note.format_name(),
        signed: note.signed,
        signed_at: note
            .signed_at
            .map(|at| session.dates.moment(at))
            .unwrap_or_default(),
        signed_by: note
            .signed_as
            .clone()
            .unwrap_or_else(|| session.display_name.clone()),
        updated_at: session.dates.moment(note.updated_at),
        revision: note.revision,
        sections,
        key_moment: shown(&note.key_moment),
        process_note: shown(&note.process_note),
        tags: vocabulary.views(&tag_keys),
        addenda: addenda
            .into_iter()
            .map(|a| AddendumView {
                when: session.dates.moment(a.created_at),
                by: a
                    .written_as
                    .clone()
                    .unwrap_or_else(|| session.display_name.clone()),
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
                // The personalise form, the client chosen: the note and
                // names are the therapist's to add before it prints.
                href: format!("/handouts/{}?client={}#print", h.slug, row.client_id),
            })
            .collect(),
        sign_error: None,
        supervising: false,
        by_reader: note.by_reader,
        awaiting_cosign: awaiting,
        cosignature: reviews.iter().find(|r| r.cosigned).map(|r| {
            format!(
                "Co-signed by {} on {}",
                r.written_as,
                session.dates.moment(r.created_at)
            )
        }),
        reviews: reviews
            .iter()
            .filter(|r| !r.cosigned)
            .map(|r| AddendumView {
                when: session.dates.moment(r.created_at),
                by: r.written_as.clone(),
                body: shown(&r.comment),
            })
            .collect(),
        self_harm: measure_view::self_harm_answers(&measures, session.dates),
        measures: measure_view::rows(&measures, session.dates, |n| n == row.id),
    })
}
