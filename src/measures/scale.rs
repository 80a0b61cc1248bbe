//! Recording a pack's rating scale: `/clients/{id}/scales/new?scale=PACK/SLUG`.
//! The scale (a FHIR Questionnaire from a signed pack) is kept whole with
//! the answers, sealed like any measure, so the record reads the same
//! whatever happens to the pack. Its total is the sum of the chosen
//! answers' scores; a pack gives no bands, so none is shown or guessed.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::form::{
    NoteChoice, checked_date, checked_note, note_of, note_of_client, record, valid_form_id, when,
};
use super::model::{Answers, ScaleTaken};
use crate::auth::extract::{Signed, WritingForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::clients::model::ClientRow;
use crate::ids::{ClientId, NoteId};
use crate::packs::content::PackInstrument;
use crate::web::form::FieldErrors;
use crate::web::layout::shown;
use crate::web::{AppError, AppState, Layout, render, with_cookie};

/// Register the scale form.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients/{id}/scales/new", web::get().to(new_form))
        .route("/clients/{id}/scales/new", web::post().to(create));
}

/// One item with its own answers.
pub struct ScaleItem {
    pub name: String,
    pub number: usize,
    pub text: String,
    /// (index, words) of each answer.
    pub answers: Vec<(usize, String)>,
    pub chosen: Option<u8>,
    pub error: Option<String>,
}

impl ScaleItem {
    /// Whether answer `index` is the one chosen.
    pub fn is_chosen(&self, index: &usize) -> bool {
        self.chosen.map(usize::from) == Some(*index)
    }
}

/// `/clients/{id}/scales/new`.
#[derive(Template, WebTemplate)]
#[template(path = "measures/scale_form.html")]
pub struct ScaleFormPage {
    layout: Layout,
    csrf_token: String,
    client_id: ClientId,
    client_name: String,
    key: String,
    title: String,
    pack: String,
    date: String,
    notes: Vec<NoteChoice>,
    items: Vec<ScaleItem>,
    errors: FieldErrors,
    form_id: String,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewQuery {
    scale: String,
    note: String,
}

/// The form field of item `index` (from 0): `item1`, `item2`, …
fn item_field(index: usize) -> &'static str {
    static FIELDS: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| (1..=60).map(|i| format!("item{i}")).collect());
    FIELDS.get(index).map_or("item1", String::as_str)
}

/// Where an item's error points: its first answer (`item1-0`), so the
/// error summary's link lands on the radio group.
fn error_field(index: usize) -> &'static str {
    static FIELDS: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| (1..=60).map(|i| format!("item{i}-0")).collect());
    FIELDS.get(index).map_or("item1-0", String::as_str)
}

/// The scale with this key, from a pack loaded now; a 404 otherwise.
fn scale(state: &AppState, key: &str) -> Result<PackInstrument, AppError> {
    state
        .packs
        .current()
        .instruments()
        .find(|i| i.key == key)
        .cloned()
        .ok_or_else(AppError::not_found)
}

#[allow(clippy::too_many_arguments)]
async fn page(
    state: &AppState,
    session: &CurrentSession,
    client: &ClientRow,
    scale: &PackInstrument,
    date: Option<String>,
    note: Option<NoteId>,
    answers: &[Option<u8>],
    errors: FieldErrors,
) -> Result<ScaleFormPage, AppError> {
    let (date, notes) = when(state, session, client, date, note).await?;
    Ok(ScaleFormPage {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        client_id: client.id,
        client_name: shown(&client.open_names(&session.keys).0),
        key: scale.key.clone(),
        title: scale.title.clone(),
        pack: format!("{}, version {}", scale.pack.name, scale.pack.version),
        date,
        notes,
        items: scale
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| ScaleItem {
                name: format!("item{}", i + 1),
                number: i + 1,
                text: item.text.clone(),
                answers: item
                    .answers
                    .iter()
                    .enumerate()
                    .map(|(a, answer)| (a, answer.display.clone()))
                    .collect(),
                chosen: answers.get(i).copied().flatten(),
                error: errors.get(error_field(i)).map(str::to_owned),
            })
            .collect(),
        errors,
        form_id: crate::crypto::random_token(),
        notice: None,
    })
}

/// `GET /clients/{id}/scales/new?scale=PACK/SLUG&note=ID`.
async fn new_form(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    let client = crate::clients::owned(&state, &session, &path).await?;
    let scale = scale(&state, &query.scale)?;
    let note = match query.note.trim() {
        "" => None,
        raw => Some(note_of(&state, &session, &client, raw).await?),
    };
    let page = page(
        &state,
        &session,
        &client,
        &scale,
        None,
        note,
        &[],
        FieldErrors::default(),
    )
    .await?;
    render(StatusCode::OK, &page)
}

/// The form's fields (the items are read from the pairs).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ScaleFields {
    scale: String,
    date: String,
    note: String,
    form_id: String,
}

/// `POST /clients/{id}/scales/new`: check, seal with the scale, record.
async fn create(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: WritingForm<ScaleFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let client = crate::clients::owned(&state, &session, &path).await?;
    let scale = scale(&state, form.form.scale.trim())?;
    let mut errors = FieldErrors::default();
    let mut answers = Vec::with_capacity(scale.items.len());
    for (i, item) in scale.items.iter().enumerate() {
        let raw = form.pairs.get(item_field(i)).unwrap_or("").trim();
        match raw.parse::<u8>() {
            _ if raw.is_empty() => answers.push(None),
            Ok(a) if usize::from(a) < item.answers.len() => answers.push(Some(a)),
            _ => {
                answers.push(None);
                errors.add(
                    error_field(i),
                    format!(
                        "Item {}: choose one of its answers, or leave it unanswered.",
                        i + 1
                    ),
                );
            }
        }
    }
    if errors.is_empty() && answers.iter().all(Option::is_none) {
        errors.add("item1-0", "Answer at least one item. Nothing was saved.");
    }
    let date = checked_date(&form.form.date, &mut errors);
    let note = checked_note(&form.form.note, &mut errors);
    if let Some(note) = note {
        note_of_client(&state, &session, &client, note, &mut errors).await?;
    }
    if form.resumed || !errors.is_empty() {
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut page = page(
            &state,
            &session,
            &client,
            &scale,
            // A date input can only hold a date: anything else comes back
            // empty, with its error beside it.
            Some(date),
            note,
            &answers,
            errors,
        )
        .await?;
        if status == StatusCode::OK {
            page.notice = Some(
                "You are signed in again. The answers are below exactly as entered, and they are not saved yet: check them and save.",
            );
        }
        if valid_form_id(&form.form.form_id) {
            page.form_id = form.form.form_id.clone();
        }
        return with_cookie(render(status, &page)?, form.cookie);
    }
    if ScaleTaken::score(scale.clone(), answers.clone(), note).is_none() {
        return Err(AppError::bad_request(
            "The form could not be read. Nothing was saved.",
        ));
    }
    record(
        &state,
        &session,
        client.id,
        date,
        Answers {
            instrument: scale.key.clone(),
            items: answers,
            note,
            scale: Some(scale),
        },
        &form.form.form_id,
    )
    .await
}
