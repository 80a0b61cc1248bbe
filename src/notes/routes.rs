//! Handlers for writing, reading, signing, amending and finding notes.

use std::collections::HashMap;
use std::rc::Rc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::charts;
use super::format::NoteFormat;
use super::input::NoteInput;
use super::model::{self, NoteContent, NoteMeta, NoteRow, SaveOutcome, SignOutcome};
use super::pages::*;
use super::search::{self, Filter};
use super::tags::{self, Vocabulary, custom_key};
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, SignedForm, WritingForm};
use crate::auth::layout_for;
use crate::auth::routes::Empty;
use crate::auth::session::CurrentSession;
use crate::clients::model as clients;
use crate::ids::{ClientId, NoteId, TherapistId};
use crate::web::form::{FieldErrors, FormLimit};
use crate::web::layout::{local_time, long_date, today};
use crate::web::{AppError, AppState, render, see_other, with_cookie};

/// Note forms may carry up to a million characters of any script, which
/// percent-encoding can make about nine times larger.
pub const NOTE_FORM_LIMIT: usize = 12 * 1024 * 1024;

/// Register the notes routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notes", web::get().to(search))
        .route("/clients/{id}/notes/new", web::get().to(new_form))
        .service(
            web::resource("/clients/{id}/notes")
                .app_data(FormLimit(NOTE_FORM_LIMIT))
                .route(web::post().to(create)),
        )
        .route("/notes/{id}", web::get().to(show))
        .service(
            web::resource("/notes/{id}/edit")
                .app_data(FormLimit(NOTE_FORM_LIMIT))
                .route(web::get().to(edit_form))
                .route(web::post().to(save)),
        )
        .route("/notes/{id}/sign", web::post().to(sign))
        .service(
            web::resource("/notes/{id}/addenda")
                .app_data(FormLimit(NOTE_FORM_LIMIT))
                .route(web::post().to(add_addendum)),
        )
        .route("/notes/{id}/delete", web::post().to(delete))
        .route("/notes/{id}/history", web::get().to(history));
}

fn parse<T: std::str::FromStr>(raw: &str) -> Option<T> {
    raw.parse().ok()
}

/// A note of the signed-in therapist, with its client's display name; 404
/// (audited) for anything else.
async fn load_note(
    state: &AppState,
    session: &Rc<CurrentSession>,
    raw_id: &str,
) -> Result<(NoteRow, String), AppError> {
    let Some(id) = parse::<NoteId>(raw_id) else {
        return Err(audit::denied(state, session.therapist, None).await);
    };
    let therapist = session.therapist;
    let found = state
        .db(move |conn| {
            let Some(note) = model::find(conn, therapist, id)? else {
                return Ok(None);
            };
            let client = clients::find(conn, therapist, ClientId(note.client_id))?;
            Ok(client.map(|c| (note, c)))
        })
        .await?;
    match found {
        Some((note, client)) => {
            let name = client.open(&session.dk).fields.full_name;
            Ok((note, name))
        }
        None => Err(audit::denied(state, therapist, Some(id.0)).await),
    }
}

/// A client of the signed-in therapist; 404 (audited) for anything else.
async fn load_client(
    state: &AppState,
    session: &Rc<CurrentSession>,
    raw_id: &str,
) -> Result<clients::Client, AppError> {
    let Some(id) = parse::<ClientId>(raw_id) else {
        return Err(audit::denied(state, session.therapist, None).await);
    };
    let therapist = session.therapist;
    match state
        .db(move |conn| Ok(clients::find(conn, therapist, id)?))
        .await?
    {
        Some(row) => Ok(row.open(&session.dk)),
        None => Err(audit::denied(state, therapist, Some(id.0)).await),
    }
}

async fn vocabulary(
    state: &AppState,
    session: &Rc<CurrentSession>,
) -> Result<(Vocabulary, Vec<tags::CustomTag>), AppError> {
    let (therapist, dk) = (session.therapist, session.dk.duplicate());
    let custom = state
        .db(move |conn| Ok(tags::custom_tags(conn, therapist, &dk)?))
        .await?;
    Ok((Vocabulary::new(&custom), custom))
}

/// Turn typed new tag labels into keys, making tags that do not exist yet.
async fn resolve_new_tags(
    state: &AppState,
    session: &Rc<CurrentSession>,
    mut existing: Vec<tags::CustomTag>,
    labels: Vec<String>,
) -> Result<Vec<String>, AppError> {
    if labels.is_empty() {
        return Ok(vec![]);
    }
    let (therapist, dk) = (session.therapist, session.dk.duplicate());
    state
        .db(move |conn| {
            let mut keys = Vec::new();
            for label in labels {
                keys.push(custom_key(tags::find_or_create(
                    conn,
                    therapist,
                    &dk,
                    &mut existing,
                    &label,
                )?));
            }
            Ok(keys)
        })
        .await
}

fn input_from_note(row: &NoteRow, content: &NoteContent) -> NoteInput {
    let facts = row.facts();
    NoteInput {
        session_date: facts.session_date,
        duration_minutes: facts.duration_minutes.to_string(),
        session_type: facts.session_type.key().to_owned(),
        format: facts.format.key().to_owned(),
        sections: content.sections.clone(),
        key_moment: content.key_moment.clone(),
        process_note: content.process_note.clone(),
        tags: content.tags.clone(),
        new_tags: String::new(),
        revision: row.revision,
        intent: String::new(),
    }
}

fn new_note_page(
    session: &CurrentSession,
    client: &clients::Client,
    input: &NoteInput,
    vocabulary: &Vocabulary,
) -> NoteFormPage {
    let frame = FormFrame {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        heading: format!("New note for {}", client.fields.full_name),
        action: format!("/clients/{}/notes", client.id),
        cancel_href: format!("/clients/{}", client.id),
        client_name: client.fields.full_name.clone(),
    };
    NoteFormPage::from_input(frame, input, vocabulary)
}

fn edit_note_page(
    session: &CurrentSession,
    id: i64,
    client_name: &str,
    input: &NoteInput,
    vocabulary: &Vocabulary,
) -> NoteFormPage {
    let frame = FormFrame {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        heading: format!("Edit draft note for {client_name}"),
        action: format!("/notes/{id}/edit"),
        cancel_href: format!("/notes/{id}"),
        client_name: client_name.to_owned(),
    };
    NoteFormPage::from_input(frame, input, vocabulary)
}

const RESUMED: &str = "You are signed in again. Your note is below exactly as you typed it, and it is not saved yet: check it and press Save draft.";

fn reformat_notice(input: &mut NoteInput) -> String {
    let moved = input.apply_format();
    let format = input.chosen_format().label();
    if moved.is_empty() {
        format!("The note is now in {format} format. Nothing is saved until you press Save draft.")
    } else {
        format!(
            "The note is now in {format} format. Text from {} was moved into the first section so nothing is lost. Nothing is saved until you press Save draft.",
            moved.join(", ")
        )
    }
}

/// `GET /clients/{id}/notes/new`.
async fn new_form(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let client = load_client(&state, &session, &path).await?;
    let (vocabulary, _) = vocabulary(&state, &session).await?;
    let input = NoteInput {
        session_date: today(),
        duration_minutes: "50".into(),
        session_type: "individual".into(),
        format: NoteFormat::Soap.key().into(),
        ..NoteInput::default()
    };
    render(
        StatusCode::OK,
        &new_note_page(&session, &client, &input, &vocabulary),
    )
}

/// `POST /clients/{id}/notes`: write a new draft (or change format first).
async fn create(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: WritingForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let client = load_client(&state, &session, &path).await?;
    let (vocabulary, custom) = vocabulary(&state, &session).await?;
    let mut input = NoteInput::from_pairs(&form.pairs);
    if form.resumed.is_some() || input.intent == "reformat" {
        let mut page = new_note_page(&session, &client, &input, &vocabulary);
        if form.resumed.is_some() {
            page.notice = Some(RESUMED.into());
        } else {
            page.notice = Some(reformat_notice(&mut input));
            page = NoteFormPage {
                notice: page.notice.take(),
                ..new_note_page(&session, &client, &input, &vocabulary)
            };
        }
        return with_cookie(render(StatusCode::OK, &page)?, form.resumed);
    }
    let (facts, mut content) = match input.validate(&vocabulary, &today()) {
        Ok(valid) => valid,
        Err(errors) => {
            let page = NoteFormPage {
                errors,
                ..new_note_page(&session, &client, &input, &vocabulary)
            };
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    content
        .tags
        .extend(resolve_new_tags(&state, &session, custom, input.new_tag_labels()).await?);
    let (therapist, client_id, s) = (session.therapist, client.id, session.clone());
    let sealed = SealedNew::new(&s, client_id, facts, content);
    let id = state
        .db(move |conn| {
            let id = sealed.insert(conn)?;
            audit::record(conn, Some(therapist), Action::NoteCreate, Some(id.0))?;
            Ok(id)
        })
        .await?;
    Ok(see_other(&format!("/notes/{id}")))
}

/// A new note sealed on the request's thread (DK never leaves it), ready to
/// insert on a blocking thread.
struct SealedNew {
    therapist: TherapistId,
    client: ClientId,
    facts: model::SessionFacts,
    content: NoteContent,
    dk: crate::crypto::DataKey,
}

impl SealedNew {
    fn new(
        session: &CurrentSession,
        client: ClientId,
        facts: model::SessionFacts,
        content: NoteContent,
    ) -> Self {
        Self {
            therapist: session.therapist,
            client,
            facts,
            content,
            dk: session.dk.duplicate(),
        }
    }

    fn insert(&self, conn: &mut crate::db::DbConn) -> diesel::QueryResult<NoteId> {
        model::create(
            conn,
            self.therapist,
            &self.dk,
            self.client,
            &self.facts,
            &self.content,
        )
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
    let (row, client_name) = load_note(&state, &session, &path).await?;
    let page = note_page(
        &state,
        &library,
        &session,
        &row,
        &client_name,
        query.notice(),
    )
    .await?;
    audit::log(&state, session.therapist, Action::NoteView, Some(row.id)).await?;
    render(StatusCode::OK, &page)
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

async fn note_page(
    state: &AppState,
    library: &crate::handouts::Library,
    session: &Rc<CurrentSession>,
    row: &NoteRow,
    client_name: &str,
    notice: Option<&'static str>,
) -> Result<NotePage, AppError> {
    let note = row.open(&session.dk);
    let (vocabulary, _) = vocabulary(state, session).await?;
    let (therapist, id, dk) = (session.therapist, NoteId(row.id), session.dk.duplicate());
    let ((addenda, addenda_damaged), has_history) = state
        .db(move |conn| {
            Ok((
                model::addenda(conn, therapist, &dk, id)?,
                model::has_versions(conn, therapist, id)?,
            ))
        })
        .await?;
    let damaged = note.damaged || addenda_damaged;
    let addenda = addenda
        .into_iter()
        .map(|a| AddendumView {
            when: local_time(a.created_at),
            body: a.body,
        })
        .collect();
    let sections = note
        .facts
        .format
        .sections()
        .iter()
        .map(|sec| SectionView {
            label: sec.label,
            text: note
                .content
                .sections
                .get(sec.key)
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    Ok(NotePage {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        id: row.id,
        client_id: row.client_id,
        client_name: client_name.to_owned(),
        date: long_date(&note.facts.session_date),
        duration_minutes: note.facts.duration_minutes,
        session_type: note.facts.session_type.label(),
        format: note.facts.format.label(),
        signed: note.signed,
        signed_at: note.signed_at.map(local_time).unwrap_or_default(),
        updated_at: local_time(note.updated_at),
        revision: note.revision,
        sections,
        key_moment: note.content.key_moment.clone(),
        process_note: note.content.process_note.clone(),
        tags: vocabulary.views(&note.content.tags),
        addenda,
        damaged,
        tampered: note.intact == Some(false),
        has_history,
        notice,
        errors: FieldErrors::default(),
        addendum_text: String::new(),
        suggestions: library
            .suggestions(&note.content.tags)
            .into_iter()
            .map(|h| Suggestion {
                title: h.title.clone(),
                href: format!("/handouts/{}/print?client={}", h.slug, row.client_id),
            })
            .collect(),
    })
}

/// `GET /notes/{id}/edit`.
async fn edit_form(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (row, client_name) = load_note(&state, &session, &path).await?;
    if row.is_signed() {
        return Ok(see_other(&format!("/notes/{}", row.id)));
    }
    let note = row.open(&session.dk);
    if note.damaged {
        return Err(AppError::conflict(
            "This note failed an integrity check, so it cannot be edited. Nothing has been changed.",
        ));
    }
    let (vocabulary, _) = vocabulary(&state, &session).await?;
    let page = edit_note_page(
        &session,
        row.id,
        &client_name,
        &input_from_note(&row, &note.content),
        &vocabulary,
    );
    render(StatusCode::OK, &page)
}

/// `POST /notes/{id}/edit`: save a draft, refusing to overwrite newer work.
async fn save(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: WritingForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (row, client_name) = load_note(&state, &session, &path).await?;
    let (vocabulary, custom) = vocabulary(&state, &session).await?;
    let mut input = NoteInput::from_pairs(&form.pairs);
    if row.is_signed() {
        return Err(AppError::conflict(
            "This note has been signed, so its text can no longer change. Nothing was saved; add an addendum to the signed note instead.",
        ));
    }
    if form.resumed.is_some() || input.intent == "reformat" {
        let notice = if form.resumed.is_some() {
            RESUMED.to_owned()
        } else {
            reformat_notice(&mut input)
        };
        let page = NoteFormPage {
            notice: Some(notice),
            ..edit_note_page(&session, row.id, &client_name, &input, &vocabulary)
        };
        return with_cookie(render(StatusCode::OK, &page)?, form.resumed);
    }
    let (facts, mut content) = match input.validate(&vocabulary, &today()) {
        Ok(valid) => valid,
        Err(errors) => {
            let page = NoteFormPage {
                errors,
                ..edit_note_page(&session, row.id, &client_name, &input, &vocabulary)
            };
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    content
        .tags
        .extend(resolve_new_tags(&state, &session, custom, input.new_tag_labels()).await?);
    let (therapist, id, base) = (session.therapist, NoteId(row.id), input.revision);
    let dk = session.dk.duplicate();
    let (saved_facts, saved_content) = (facts.clone(), content.clone());
    let outcome = state
        .db(move |conn| {
            let outcome =
                model::save_draft(conn, therapist, &dk, id, base, &saved_facts, &saved_content)?;
            if let SaveOutcome::Saved(_) = outcome {
                audit::record(conn, Some(therapist), Action::NoteEdit, Some(id.0))?;
            }
            Ok(outcome)
        })
        .await?;
    match outcome {
        SaveOutcome::Saved(_) => Ok(see_other(&format!("/notes/{id}?saved=1"))),
        SaveOutcome::NotFound => Err(audit::denied(&state, therapist, Some(id.0)).await),
        SaveOutcome::Signed => Err(AppError::conflict(
            "This note was signed in another window while you were editing, so it can no longer change. Nothing was saved; copy your text into an addendum.",
        )),
        SaveOutcome::Stale(current) => {
            let theirs = current.open(&session.dk);
            let page = conflict_page(
                &session,
                &current,
                &theirs.content,
                &facts,
                &content,
                &input,
            );
            render(StatusCode::CONFLICT, &page)
        }
    }
}

fn conflict_page(
    session: &CurrentSession,
    current: &NoteRow,
    theirs: &NoteContent,
    facts: &model::SessionFacts,
    yours: &NoteContent,
    input: &NoteInput,
) -> ConflictPage {
    let sections = facts
        .format
        .sections()
        .iter()
        .map(|s| {
            let their_text = super::format::reformat(&theirs.sections, facts.format)
                .0
                .get(s.key)
                .cloned()
                .unwrap_or_default();
            let your_text = yours.sections.get(s.key).cloned().unwrap_or_default();
            ConflictSection {
                key: s.key,
                label: s.label,
                differs: their_text != your_text,
                theirs: their_text,
                yours: your_text,
            }
        })
        .collect();
    let mut hidden = vec![
        ("session_date".to_owned(), facts.session_date.clone()),
        (
            "duration_minutes".to_owned(),
            facts.duration_minutes.to_string(),
        ),
        (
            "session_type".to_owned(),
            facts.session_type.key().to_owned(),
        ),
        ("format".to_owned(), facts.format.key().to_owned()),
        ("new_tags".to_owned(), input.new_tags.clone()),
    ];
    hidden.extend(yours.tags.iter().map(|t| ("tag".to_owned(), t.clone())));
    ConflictPage {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        id: current.id,
        revision: current.revision,
        their_saved_at: local_time(current.updated_at),
        sections,
        key_moment_theirs: theirs.key_moment.clone(),
        key_moment_yours: yours.key_moment.clone(),
        process_theirs: theirs.process_note.clone(),
        process_yours: yours.process_note.clone(),
        hidden,
    }
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
    let (row, _) = load_note(&state, &session, &path).await?;
    let revision = form.form.revision.parse::<i32>().unwrap_or(-1);
    let (therapist, id, dk) = (session.therapist, NoteId(row.id), session.dk.duplicate());
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
    let (row, client_name) = load_note(&state, &session, &path).await?;
    let body = form.form.body.trim_end().to_owned();
    let mut errors = FieldErrors::default();
    if !row.is_signed() {
        return Err(AppError::conflict(
            "Addenda are for signed notes. This note is still a draft: edit it instead.",
        ));
    }
    if body.trim().is_empty() {
        errors.add("body", "Write the addendum before adding it.");
    } else if body.chars().count() > model::MAX_NOTE_CHARS {
        errors.add(
            "body",
            format!(
                "An addendum can hold up to {} characters.",
                crate::web::layout::thousands(model::MAX_NOTE_CHARS)
            ),
        );
    }
    if form.resumed.is_some() || !errors.is_empty() {
        let mut page = note_page(
            &state,
            &library,
            &session,
            &row,
            &client_name,
            form.resumed.as_ref().map(|_| RESUMED),
        )
        .await?;
        page.addendum_text = form.form.body.clone();
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        page.errors = errors;
        return with_cookie(render(status, &page)?, form.resumed);
    }
    let (therapist, id, dk) = (session.therapist, NoteId(row.id), session.dk.duplicate());
    let added = state
        .db(move |conn| {
            let added = model::add_addendum(conn, therapist, &dk, id, &body)?;
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
    form: SignedForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (row, _) = load_note(&state, &session, &path).await?;
    if row.is_signed() {
        return Err(AppError::conflict(
            "A signed note is part of the clinical record and cannot be deleted. Nothing was changed.",
        ));
    }
    let (therapist, id) = (session.therapist, NoteId(row.id));
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
            "This note was signed meanwhile, so it was not deleted.",
        ));
    }
    Ok(see_other(&format!(
        "/clients/{}?note_deleted=1",
        row.client_id
    )))
}

fn diff(label: &str, old: &str, new: &str) -> Option<FieldDiff> {
    if old == new {
        return None;
    }
    let lines = similar::TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|change| DiffLine {
            kind: match change.tag() {
                similar::ChangeTag::Delete => "removed",
                similar::ChangeTag::Insert => "added",
                similar::ChangeTag::Equal => "same",
            },
            text: change.value().trim_end_matches('\n').to_owned(),
        })
        .collect();
    Some(FieldDiff {
        label: label.to_owned(),
        lines,
    })
}

fn changes(
    old: &NoteContent,
    new: &NoteContent,
    format: NoteFormat,
    vocabulary: &Vocabulary,
) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let mut keys: Vec<&String> = old.sections.keys().chain(new.sections.keys()).collect();
    keys.sort();
    keys.dedup();
    let label_of = |key: &str| {
        NoteFormat::ALL
            .iter()
            .flat_map(|f| f.sections())
            .find(|s| s.key == key)
            .map_or(key.to_owned(), |s| s.label.to_owned())
    };
    let order = |k: &&String| {
        format
            .sections()
            .iter()
            .position(|s| s.key == k.as_str())
            .unwrap_or(usize::MAX)
    };
    keys.sort_by_key(order);
    for key in keys {
        let (a, b) = (
            old.sections.get(key).map_or("", String::as_str),
            new.sections.get(key).map_or("", String::as_str),
        );
        out.extend(diff(&label_of(key), a, b));
    }
    out.extend(diff("Key moment", &old.key_moment, &new.key_moment));
    out.extend(diff(
        "Private process note",
        &old.process_note,
        &new.process_note,
    ));
    let names = |tags: &[String]| {
        vocabulary
            .views(tags)
            .iter()
            .map(|t| t.label.clone())
            .collect::<Vec<_>>()
            .join("\n")
    };
    out.extend(diff("Tags", &names(&old.tags), &names(&new.tags)));
    out
}

/// `GET /notes/{id}/history`: every saved revision and what changed.
async fn history(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (row, client_name) = load_note(&state, &session, &path).await?;
    let (vocabulary, _) = vocabulary(&state, &session).await?;
    let (therapist, id, dk) = (session.therapist, NoteId(row.id), session.dk.duplicate());
    let versions = state
        .db(move |conn| Ok(model::versions(conn, therapist, &dk, id)?))
        .await?;
    let current = row.open(&session.dk);
    let mut steps = Vec::new();
    let mut previous = NoteContent::default();
    let mut snapshots: Vec<(i32, i64, NoteContent, NoteFormat, bool)> = versions
        .into_iter()
        .map(|v| (v.revision, v.saved_at, v.content, v.format, false))
        .collect();
    snapshots.push((
        current.revision,
        current.updated_at,
        current.content.clone(),
        current.facts.format,
        true,
    ));
    for (revision, saved_at, content, format, is_current) in snapshots {
        steps.push(HistoryStep {
            revision,
            when: local_time(saved_at),
            changes: changes(&previous, &content, format, &vocabulary),
            current: is_current,
        });
        previous = content;
    }
    steps.reverse();
    audit::log(&state, therapist, Action::NoteView, Some(row.id)).await?;
    let page = HistoryPage {
        layout: layout_for(&session, "clients"),
        id: row.id,
        client_name,
        date: long_date(&row.session_date),
        steps,
    };
    render(StatusCode::OK, &page)
}

/// The search form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchQuery {
    q: String,
    tag: String,
    client: String,
    from: String,
    to: String,
}

const MAX_RESULTS: usize = 200;

/// `GET /notes`: search and filter across the caseload.
async fn search(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let (vocabulary, _) = vocabulary(&state, &session).await?;
    let mut errors = FieldErrors::default();
    let date = |raw: &str, field: &'static str, errors: &mut FieldErrors| {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) => Some(d.format("%Y-%m-%d").to_string()),
            Err(_) => {
                errors.add(field, "Enter a real date as year-month-day.");
                None
            }
        }
    };
    let from = date(&query.from, "from", &mut errors);
    let to = date(&query.to, "to", &mut errors);
    let tag = (!query.tag.is_empty()).then_some(query.tag.as_str());
    if let Some(tag) = tag {
        if vocabulary.get(tag).is_none() {
            errors.add("tag", "That tag is not one of yours.");
        }
    }
    let therapist = session.therapist;
    // A client id in the query is an id like any other: not this
    // therapist's (or not an id at all) is a 404, audited.
    let client = if query.client.is_empty() {
        None
    } else {
        let Some(id) = parse::<ClientId>(&query.client) else {
            return Err(audit::denied(&state, therapist, None).await);
        };
        let theirs = state
            .db(move |conn| Ok(clients::find(conn, therapist, id)?.is_some()))
            .await?;
        if !theirs {
            return Err(audit::denied(&state, therapist, Some(id.0)).await);
        }
        Some(id)
    };
    let words = query.q.trim().to_owned();
    let searched =
        !words.is_empty() || tag.is_some() || client.is_some() || from.is_some() || to.is_some();
    let need_addenda = !words.is_empty();
    let dk = session.dk.duplicate();
    let memory = state.memory.of(session.id);
    let in_memory = memory.clone();
    let (fetched, client_rows, addenda) = state
        .db(move |conn| {
            let fetched = search::fetch(conn, &in_memory, therapist)?;
            let clients = clients::list(conn, therapist)?;
            let addenda = if need_addenda {
                model::addenda_for_search(conn, therapist, &dk)?
            } else {
                HashMap::new()
            };
            Ok((fetched, clients, addenda))
        })
        .await?;
    let dk = &session.dk;
    let names: HashMap<i64, String> = client_rows
        .iter()
        .map(|(c, _)| (c.id, c.open_names(dk).0))
        .collect();
    // Opening notes not yet in this session's memory is CPU work, and so is
    // reading 10,000 notes: do it on a blocking thread so the async worker
    // keeps answering other requests.
    let list = search::current_list(
        &memory,
        fetched,
        async || {
            let memory = memory.clone();
            state
                .db(move |conn| Ok(search::fetch(conn, &memory, therapist)?))
                .await
        },
        async |stale| {
            let (memory, dk) = (memory.clone(), session.dk.duplicate());
            Ok::<_, AppError>(web::block(move || stale.into_list(&memory, &dk)).await?)
        },
    )
    .await?;
    let run_search = searched && errors.is_empty();
    let tag_owned = tag.map(str::to_owned);
    let ((total, hits), counts, vocabulary, names, client_rows) = web::block(move || {
        let counts = list.months.clone();
        let hits = if run_search {
            let within = |m: &NoteMeta| {
                client.is_none_or(|c| c.0 == m.client_id)
                    && from.as_deref().is_none_or(|f| m.session_date.as_str() >= f)
                    && to.as_deref().is_none_or(|t| m.session_date.as_str() <= t)
            };
            search::run(
                &list.metas,
                &list.texts,
                within,
                &vocabulary,
                &names,
                &addenda,
                &Filter {
                    words: &words,
                    tag: tag_owned.as_deref(),
                },
                MAX_RESULTS,
            )
        } else {
            (0, vec![])
        };
        (hits, counts, vocabulary, names, client_rows)
    })
    .await?;
    let results = hits
        .into_iter()
        .map(|h| ResultView {
            href: format!("/notes/{}", h.note_id),
            client_name: names.get(&h.client_id).cloned().unwrap_or_default(),
            client_href: format!("/clients/{}", h.client_id),
            date: long_date(&h.session_date),
            signed: h.signed,
            tags: h.tags,
            key_moment: h.key_moment,
            snippet: h.snippet,
        })
        .collect::<Vec<_>>();
    let chart = charts::monthly(&counts, &vocabulary.tags, &today());
    let mut clients_sorted: Vec<ClientChoice> = client_rows
        .iter()
        .map(|(c, _)| ClientChoice {
            id: c.id,
            name: names.get(&c.id).cloned().unwrap_or_default(),
            selected: client.is_some_and(|id| id.0 == c.id),
        })
        .collect();
    clients_sorted.sort_by_key(|c| c.name.to_lowercase());
    if searched {
        audit::log(&state, therapist, Action::NoteSearch, None).await?;
    }
    let page = SearchPage {
        layout: layout_for(&session, "notes"),
        q: query.q,
        tag: query.tag,
        from: query.from,
        to: query.to,
        tags: vocabulary.tags.clone(),
        clients: clients_sorted,
        searched,
        shown: results.len(),
        results,
        total,
        chart,
        errors,
    };
    render(StatusCode::OK, &page)
}

/// A client's notes, newest first, and their timeline: for the client page.
pub fn client_overview(
    rows: &[NoteRow],
    session: &CurrentSession,
    vocabulary: &Vocabulary,
) -> (Vec<TimelineRow>, Option<TimelineView>) {
    let mut list = Vec::new();
    let mut points = Vec::new();
    for row in rows {
        let tags = row.open_tags(&session.dk).unwrap_or_default();
        let views = vocabulary.views(&tags);
        let key_moment = crate::web::layout::shown(row.open_key_moment(&session.dk), &mut false);
        points.push(charts::Point {
            date: row.session_date.clone(),
            tags: views.clone(),
            href: format!("/notes/{}", row.id),
        });
        list.push(TimelineRow {
            date: long_date(&row.session_date),
            href: format!("/notes/{}", row.id),
            tags: views,
            key_moment,
        });
    }
    let mut chronological = points;
    chronological.reverse();
    let timeline = charts::timeline(&chronological, &vocabulary.tags).map(|chart| TimelineView {
        chart,
        rows: list
            .iter()
            .filter(|r| !r.tags.is_empty() || !r.key_moment.is_empty())
            .map(|r| TimelineRow {
                date: r.date.clone(),
                href: r.href.clone(),
                tags: r.tags.clone(),
                key_moment: r.key_moment.clone(),
            })
            .collect(),
    });
    (list, timeline)
}

/// The vocabulary for a session (for the clients area).
pub async fn vocabulary_for(
    state: &AppState,
    session: &Rc<CurrentSession>,
) -> Result<Vocabulary, AppError> {
    Ok(vocabulary(state, session).await?.0)
}
