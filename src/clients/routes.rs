//! The caseload and the client records in it: the list (name filter,
//! most recent session first, archive), adding and editing a client,
//! archiving, and permanent deletion (typed confirmation; refused while
//! signed notes exist).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::model::{self, ClientFields, ClientRow, DeleteOutcome};
use super::owned;
use super::pages::{ClientForm, ClientList, ClientListItem, DeletePage};
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, SignedForm, WritingForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::measures;
use crate::measures::caseload::{Change, ClientScores};
use crate::measures::instrument::{Band, Instrument};
use crate::notes::search::find_ci;
use crate::web::form::{FormLimit, NoFields};
use crate::web::layout::shown;
use crate::web::{AppError, AppState, render, see_other, with_cookie};

/// Register the clients routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    const CLIENT_FORM_LIMIT: FormLimit = FormLimit(1024 * 1024);
    cfg.service(
        web::resource("/clients")
            .app_data(CLIENT_FORM_LIMIT)
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .route("/clients/new", web::get().to(new_form))
    .service(
        web::resource("/clients/{id}/edit")
            .app_data(CLIENT_FORM_LIMIT)
            .route(web::get().to(edit_form))
            .route(web::post().to(update)),
    )
    .route("/clients/{id}/archive", web::post().to(archive))
    .route("/clients/{id}/unarchive", web::post().to(unarchive))
    .route("/clients/{id}/delete", web::get().to(delete_form))
    .route("/clients/{id}/delete", web::post().to(delete));
}

/// The list's filters.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    q: String,
    archived: Option<String>,
    deleted: Option<String>,
    declined: Option<String>,
    /// `phq-9` or `gad-7`: only clients with a score on it.
    measure: String,
    /// A band slug: the latest score in that band.
    band: String,
    /// `better`, `worse` or `steady` since the first score.
    change: String,
}

/// The measure filters, parsed; unknown values are ignored (an old link
/// shows the whole list, not an error).
struct ScoreFilter {
    instrument: Option<Instrument>,
    band: Option<Band>,
    change: Option<Change>,
}

impl ScoreFilter {
    fn from(query: &ListQuery) -> Self {
        Self {
            instrument: Instrument::from_slug(&query.measure),
            band: Band::from_slug(&query.band),
            change: Change::from_slug(&query.change),
        }
    }

    fn is_set(&self) -> bool {
        self.instrument.is_some() || self.band.is_some() || self.change.is_some()
    }

    /// Whether a client's scores pass: some instrument (the one chosen, or
    /// any) whose latest band and change since the first score match.
    fn keeps(&self, scores: Option<&ClientScores>) -> bool {
        if !self.is_set() {
            return true;
        }
        let Some(scores) = scores else { return false };
        scores.trends.iter().any(|(instrument, trend)| {
            self.instrument.is_none_or(|i| i == *instrument)
                && self.band.is_none_or(|b| b == trend.band)
                && self
                    .change
                    .is_none_or(|c| trend.change(*instrument) == Some(c))
        })
    }
}

/// A client's latest scores in words: "PHQ-9 12, moderate; GAD-7 8, mild".
fn latest_scores(scores: Option<&ClientScores>) -> String {
    let Some(scores) = scores else {
        return String::new();
    };
    Instrument::ALL
        .into_iter()
        .filter_map(|i| {
            let t = scores.trends.get(&i)?;
            Some(format!("{} {}, {}", i.name(), t.latest, t.band.label()))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `GET /clients`: the caseload, most recent session first, with a name filter.
async fn list(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let (therapist, dk) = (session.therapist, session.keys.clone());
    let memory = state.memory.of(session.id);
    let (rows, scores, offers, waiting) = state
        .db(move |conn| {
            Ok((
                model::list(conn, therapist)?,
                // Opening is CPU work: done here, on the blocking thread.
                measures::caseload::by_client(conn, therapist, &dk, &memory)?,
                crate::sharing::transfer::offered_to(conn, therapist)?,
                crate::inbox::store::waiting(conn, therapist)?,
            ))
        })
        .await?;
    let filter = ScoreFilter::from(&query);
    let show_archived = query.archived.is_some();
    let q = query.q.trim();
    let mut total_active = 0;
    let mut total_archived = 0;
    let mut items: Vec<(Option<String>, ClientListItem)> = Vec::new();
    for (row, last) in &rows {
        if row.archived_at.is_some() {
            total_archived += 1;
        } else {
            total_active += 1;
        }
        if row.archived_at.is_some() != show_archived {
            continue;
        }
        let (name, preferred) = row.open_names(&session.keys);
        let (name, preferred) = (shown(&name), shown(&preferred));
        if !q.is_empty() && find_ci(&name, q).is_none() && find_ci(&preferred, q).is_none() {
            continue;
        }
        let client_scores = scores.get(row.id);
        let self_harm = client_scores.is_some_and(|s| s.self_harm);
        // PHQ-9 item 9 above 0 is never hidden by a score filter.
        let kept = filter.keeps(client_scores);
        if !kept && !self_harm {
            continue;
        }
        let item = ClientListItem {
            scores: latest_scores(client_scores),
            self_harm,
            shown_for_safety: !kept,
            href: format!("/clients/{}", row.id),
            name,
            preferred,
            last_session: last
                .as_deref()
                .map(|d| session.dates.session(d))
                .unwrap_or_default(),
        };
        items.push((last.clone(), item));
    }
    // Most recent session first; clients never seen yet after, by name.
    items.sort_by(|(a, x), (b, y)| {
        b.cmp(a)
            .then_with(|| x.name.to_lowercase().cmp(&y.name.to_lowercase()))
    });
    let page = ClientList {
        layout: layout_for(&session, "clients"),
        q: query.q.clone(),
        archived: show_archived,
        clients: items.into_iter().map(|(_, item)| item).collect(),
        total_active,
        total_archived,
        has_measures: !scores.is_empty(),
        filtered: filter.is_set(),
        measure: query.measure.clone(),
        band: query.band.clone(),
        change: query.change.clone(),
        bands: Band::ALL.iter().map(|b| (b.slug(), b.label())).collect(),
        notice: if query.deleted.is_some() {
            Some("The client and their draft notes were deleted permanently.")
        } else if query.declined.is_some() {
            Some("You declined the client; they stay with their therapist.")
        } else {
            None
        },
        inbox_waiting: waiting,
        offers: offers
            .into_iter()
            .map(|o| format!("/clients/{}/transfer", o.client_id))
            .collect(),
    };
    render(StatusCode::OK, &page)
}

fn form_page(
    session: &CurrentSession,
    heading: String,
    action: String,
    cancel: String,
    f: &ClientFields,
) -> ClientForm {
    ClientForm {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        heading,
        action,
        cancel_href: cancel,
        full_name: f.full_name.clone(),
        preferred_name: f.preferred_name.clone(),
        pronouns: f.pronouns.clone(),
        date_of_birth: f.date_of_birth.clone(),
        about: f.about.clone(),
        language: f.language.clone(),
        languages: language_options(&f.language),
        errors: Default::default(),
        notice: None,
    }
}

/// The languages the form offers, with one already chosen kept even when
/// it is not among them.
fn language_options(chosen: &str) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = crate::lang::OFFERED
        .iter()
        .map(|(tag, name)| ((*tag).to_owned(), (*name).to_owned()))
        .collect();
    let chosen = chosen.trim();
    if !chosen.is_empty() && !options.iter().any(|(tag, _)| tag == chosen) {
        options.push((chosen.to_owned(), crate::lang::name(chosen)));
    }
    options
}

const RESUMED: &str = "You are signed in again. The form is below exactly as you typed it, and it is not saved yet: check it and save.";

/// The client form shown again: with its errors (400), or, after signing in
/// again to save, exactly as typed with a notice and the new session cookie.
fn show_again(
    mut page: ClientForm,
    errors: crate::web::form::FieldErrors,
    resumed: bool,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> Result<HttpResponse, AppError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page.notice = resumed.then_some(RESUMED);
    page.errors = errors;
    with_cookie(render(status, &page)?, cookie)
}

/// `GET /clients/new`.
async fn new_form(Signed(session): Signed) -> Result<HttpResponse, AppError> {
    let page = form_page(
        &session,
        "New client".into(),
        "/clients".into(),
        "/clients".into(),
        &ClientFields::default(),
    );
    render(StatusCode::OK, &page)
}

/// `POST /clients`.
async fn create(
    state: web::Data<AppState>,
    form: WritingForm<ClientFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let fields = form.form;
    let errors = model::validate(&fields);
    if form.resumed || !errors.is_empty() {
        let page = form_page(
            &session,
            "New client".into(),
            "/clients".into(),
            "/clients".into(),
            &fields,
        );
        return show_again(page, errors, form.resumed, form.cookie);
    }
    let (therapist, dk) = (session.therapist, session.keys.clone());
    let id = state
        .db(move |conn| {
            let id = model::insert(conn, therapist, &dk, &fields)?;
            audit::record(conn, Some(therapist), Action::ClientCreate, Some(id.0))?;
            Ok(id)
        })
        .await?;
    Ok(see_other(&format!("/clients/{id}")))
}

/// `GET /clients/{id}/edit`.
async fn edit_form(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let row = owned(&state, &session, &path).await?;
    let Some(fields) = row.open(&session.keys).fields() else {
        return Err(AppError::conflict(
            "This record failed an integrity check, so it cannot be edited. Nothing has been changed.",
        ));
    };
    let page = form_page(
        &session,
        format!("Edit {}", fields.full_name),
        format!("/clients/{}/edit", row.id),
        format!("/clients/{}", row.id),
        &fields,
    );
    render(StatusCode::OK, &page)
}

/// `POST /clients/{id}/edit`.
async fn update(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: WritingForm<ClientFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let row = owned(&state, &session, &path).await?;
    let fields = form.form;
    let errors = model::validate(&fields);
    if form.resumed || !errors.is_empty() {
        let page = form_page(
            &session,
            "Edit client".into(),
            format!("/clients/{}/edit", row.id),
            format!("/clients/{}", row.id),
            &fields,
        );
        return show_again(page, errors, form.resumed, form.cookie);
    }
    let (therapist, dk, id) = (session.therapist, session.keys.clone(), row.id);
    state
        .db(move |conn| {
            if model::update(conn, therapist, &dk, id, &fields)? {
                audit::record(conn, Some(therapist), Action::ClientEdit, Some(id.0))?;
            }
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/clients/{id}?saved=1")))
}

async fn set_archived(
    state: &AppState,
    session: &CurrentSession,
    raw_id: &str,
    archived: bool,
) -> Result<HttpResponse, AppError> {
    let row = owned(state, session, raw_id).await?;
    let (therapist, id) = (session.therapist, row.id);
    let action = if archived {
        Action::ClientArchive
    } else {
        Action::ClientUnarchive
    };
    state
        .db(move |conn| {
            if model::set_archived(conn, therapist, id, archived)? {
                audit::record(conn, Some(therapist), action, Some(id.0))?;
            }
            Ok(())
        })
        .await?;
    Ok(see_other(&format!(
        "/clients/{id}?{}=1",
        if archived { "archived" } else { "unarchived" }
    )))
}

/// `POST /clients/{id}/archive`.
async fn archive(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_archived(&state, &form.session, &path, true).await
}

/// `POST /clients/{id}/unarchive`.
async fn unarchive(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_archived(&state, &form.session, &path, false).await
}

async fn delete_page(
    state: &AppState,
    session: &CurrentSession,
    row: &ClientRow,
) -> Result<DeletePage, AppError> {
    let (therapist, id) = (session.therapist, row.id);
    let notes = state
        .db(move |conn| Ok(crate::notes::model::for_client(conn, therapist, id)?))
        .await?;
    let signed = notes.iter().filter(|n| n.is_signed()).count() as i64;
    Ok(DeletePage {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        id: row.id,
        full_name: shown(&row.open_names(&session.keys).0),
        signed_notes: signed,
        draft_notes: notes.len() as i64 - signed,
        errors: Default::default(),
    })
}

/// `GET /clients/{id}/delete`: what deleting would remove, and the confirmation.
async fn delete_form(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let row = owned(&state, &session, &path).await?;
    let page = delete_page(&state, &session, &row).await?;
    render(StatusCode::OK, &page)
}

/// The typed confirmation.
#[derive(Deserialize, Default)]
#[serde(default)]
struct DeleteForm {
    confirm: String,
}

/// `POST /clients/{id}/delete`: permanent, only with "delete" typed, and
/// never while signed notes exist (they are the clinical record: archive).
async fn delete(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let row = owned(&state, &session, &path).await?;
    if form.form.confirm.trim().to_lowercase() != "delete" {
        let mut page = delete_page(&state, &session, &row).await?;
        page.errors.add(
            "confirm",
            "Type the word delete to confirm. Nothing was deleted.",
        );
        return render(StatusCode::BAD_REQUEST, &page);
    }
    let (therapist, id) = (session.therapist, row.id);
    let outcome = state
        .db(move |conn| {
            let outcome = model::delete(conn, therapist, id)?;
            if outcome == DeleteOutcome::Deleted {
                audit::record(conn, Some(therapist), Action::ClientDelete, Some(id.0))?;
            }
            Ok(outcome)
        })
        .await?;
    match outcome {
        DeleteOutcome::Deleted => Ok(see_other("/clients?deleted=1")),
        DeleteOutcome::NotFound => Err(audit::denied(&state, therapist, Some(id.0)).await),
        DeleteOutcome::HasSignedNotes(n) => Err(AppError::conflict(format!(
            "This client has {n} signed note(s), which are part of the clinical record and must be kept. Nothing was deleted. Archive the client instead to take them out of your active caseload."
        ))),
    }
}
