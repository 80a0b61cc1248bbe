//! Recording a measure: `/clients/{id}/measures/new`. The therapist picks
//! PHQ-9 or GAD-7, the date (a session's date by default) and, if they
//! like, the session note it belongs to, and enters each answer from the
//! client's paper form or as read out in session. The total and band are
//! computed, never typed.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::instrument::{ANSWERS, CREDIT, Instrument, score};
use super::model::{self, Answers};
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, WritingForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::clients::model::ClientRow;
use crate::ids::{ClientId, NoteId};
use crate::web::form::FieldErrors;
use crate::web::layout::shown;
use crate::web::{AppError, AppState, Layout, render, see_other, with_cookie};

/// Register the measure form.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients/{id}/measures/new", web::get().to(new_form))
        .route("/clients/{id}/measures/new", web::post().to(create));
}

/// One item on the form, with its four answers.
pub struct ItemField {
    pub name: String,
    pub number: usize,
    pub text: &'static str,
    pub chosen: Option<u8>,
    pub error: Option<String>,
    pub self_harm: bool,
}

impl ItemField {
    /// Whether `answer` is the one chosen.
    pub fn is_chosen(&self, answer: &usize) -> bool {
        self.chosen.map(usize::from) == Some(*answer)
    }
}

/// A session note to attach the measure to.
pub struct NoteChoice {
    pub id: NoteId,
    pub label: String,
    pub date: String,
    pub selected: bool,
}

/// `/clients/{id}/measures/new`.
#[derive(Template, WebTemplate)]
#[template(path = "measures/form.html")]
pub struct MeasureFormPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub client_id: ClientId,
    pub client_name: String,
    pub instrument: Instrument,
    pub others: Vec<Instrument>,
    /// `&note=ID` for the links to the other instrument, so the session
    /// chosen stays chosen.
    pub note_query: String,
    pub date: String,
    pub notes: Vec<NoteChoice>,
    pub items: Vec<ItemField>,
    pub answers: [(&'static str, &'static str); 4],
    pub credit: &'static str,
    pub errors: FieldErrors,
    pub notice: Option<&'static str>,
    /// The one-time id this form carries.
    pub form_id: String,
}

/// The form's choices in the query string.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NewQuery {
    instrument: String,
    note: String,
}

/// The form's fields (the items are read from the pairs).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MeasureFields {
    instrument: String,
    date: String,
    note: String,
    /// The form's one-time id (optional: a form without one just saves).
    form_id: String,
}

/// When a form was filled in, for any rating scale's form: the date to
/// show (as given, else the chosen note's session, else the latest
/// session's, else today) and the client's notes to choose from.
pub(super) async fn when(
    state: &AppState,
    session: &CurrentSession,
    client: &ClientRow,
    date: Option<String>,
    note: Option<NoteId>,
) -> Result<(String, Vec<NoteChoice>), AppError> {
    let (therapist, id) = (session.therapist, client.id);
    let notes = state
        .db(move |conn| Ok(crate::notes::model::for_client(conn, therapist, id)?))
        .await?;
    let date = date.unwrap_or_else(|| {
        note.and_then(|n| notes.iter().find(|row| row.id == n))
            .or(notes.first())
            .map(|row| row.session_date.clone())
            .unwrap_or_else(|| chrono::Local::now().date_naive().to_string())
    });
    let choices = notes
        .iter()
        .map(|row| NoteChoice {
            id: row.id,
            label: format!(
                "{} session{}",
                session.dates.session(&row.session_date),
                if row.is_signed() { "" } else { " (draft)" }
            ),
            date: row.session_date.clone(),
            selected: Some(row.id) == note,
        })
        .collect();
    Ok((date, choices))
}

/// The most items any instrument has.
const MAX_ITEMS: usize = 9;

async fn page(
    state: &AppState,
    session: &CurrentSession,
    client: &ClientRow,
    instrument: Instrument,
    date: Option<String>,
    note: Option<NoteId>,
    answers: &[Option<u8>],
) -> Result<MeasureFormPage, AppError> {
    let (date, notes) = when(state, session, client, date, note).await?;
    Ok(MeasureFormPage {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        client_id: client.id,
        client_name: shown(&client.open_names(&session.keys).0),
        instrument,
        others: Instrument::ALL
            .into_iter()
            .filter(|i| *i != instrument)
            .collect(),
        note_query: note.map(|n| format!("&note={n}")).unwrap_or_default(),
        date,
        notes,
        items: instrument
            .items()
            .enumerate()
            .map(|(i, text)| ItemField {
                name: format!("item{}", i + 1),
                number: i + 1,
                text,
                chosen: answers.get(i).copied().flatten(),
                error: None,
                self_harm: instrument.self_harm_item() == Some(i),
            })
            .collect(),
        answers: ANSWERS,
        credit: CREDIT,
        errors: FieldErrors::default(),
        notice: None,
        form_id: crate::crypto::random_token(),
    })
}

/// `GET /clients/{id}/measures/new?instrument=gad-7&note=ID`.
async fn new_form(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    let client = crate::clients::owned(&state, &session, &path).await?;
    let instrument = Instrument::from_slug(&query.instrument).unwrap_or(Instrument::Phq9);
    let note = match query.note.trim() {
        "" => None,
        raw => Some(note_of(&state, &session, &client, raw).await?),
    };
    let page = page(&state, &session, &client, instrument, None, note, &[]).await?;
    render(StatusCode::OK, &page)
}

/// A note id from the query string: one of this client's notes, or an
/// audited 404 (another therapist's, or not an id at all); one of the
/// therapist's notes for another client is a plain 404.
pub(super) async fn note_of(
    state: &AppState,
    session: &CurrentSession,
    client: &ClientRow,
    raw: &str,
) -> Result<NoteId, AppError> {
    let therapist = session.therapist;
    let Ok(id) = raw.parse::<NoteId>() else {
        return Err(audit::denied(state, therapist, None).await);
    };
    match state
        .db(move |conn| Ok(crate::notes::model::find(conn, therapist, id)?))
        .await?
    {
        Some(row) if row.client_id == client.id => Ok(id),
        Some(_) => Err(AppError::not_found()),
        None => Err(audit::denied(state, therapist, Some(id.0)).await),
    }
}

/// What the form's fields say, checked.
struct Checked {
    instrument: Instrument,
    date: String,
    note: Option<NoteId>,
    answers: Vec<Option<u8>>,
}

fn check(
    fields: &MeasureFields,
    pairs: &crate::web::form::Pairs,
) -> (Option<Checked>, Vec<Option<u8>>, FieldErrors) {
    let mut errors = FieldErrors::default();
    let instrument = Instrument::from_slug(fields.instrument.trim());
    if instrument.is_none() {
        errors.add("instrument", "Choose PHQ-9 or GAD-7.");
    }
    let items = instrument.map_or(MAX_ITEMS, Instrument::item_count);
    let mut answers = Vec::with_capacity(items);
    for i in 1..=MAX_ITEMS {
        let name = format!("item{i}");
        let raw = pairs.get(&name).unwrap_or("").trim();
        if i > items {
            if !raw.is_empty() {
                errors.add("instrument", format!(
                    "{} has {items} items, but an answer to item {i} was sent. Nothing was saved.",
                    instrument.map_or("This scale", Instrument::name)
                ));
            }
            continue;
        }
        match raw {
            "" => answers.push(None),
            "0" | "1" | "2" | "3" => answers.push(raw.parse().ok()),
            _ => {
                answers.push(None);
                errors.add(
                    item_field(i),
                    format!("Item {i}: choose one of the four answers, or leave it unanswered."),
                );
            }
        }
    }
    if instrument.is_some() && errors.is_empty() && answers.iter().all(Option::is_none) {
        errors.add(
            item_field(1),
            "Answer at least one item. Nothing was saved.",
        );
    }
    let day_taken = checked_date(&fields.date, &mut errors);
    let note = checked_note(&fields.note, &mut errors);
    let checked = match instrument {
        Some(instrument) if errors.is_empty() => Some(Checked {
            instrument,
            date: day_taken,
            note,
            answers: answers.clone(),
        }),
        _ => None,
    };
    (checked, answers, errors)
}

/// The day a form was filled in, as `YYYY-MM-DD`, or an error beside `date`.
pub(super) fn checked_date(raw: &str, errors: &mut FieldErrors) -> String {
    let date = raw.trim();
    let mut day_taken = String::new();
    match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(day) if day > chrono::Local::now().date_naive() + chrono::Days::new(1) => {
            errors.add(
                "date",
                "The date is in the future. Use the day the form was filled in.",
            );
        }
        Ok(day) if day.year() < 1950 => {
            errors.add("date", "Check the year: the date is before 1950.");
        }
        // Stored as YYYY-MM-DD whatever was typed ("2026-3-2"), so dates
        // sort and export alike.
        Ok(day) => day_taken = day.to_string(),
        Err(_) => errors.add(
            "date",
            "Enter the date the form was filled in (year, month, day).",
        ),
    }
    day_taken
}

/// The note a form names, if any (whose it is, the caller checks).
pub(super) fn checked_note(raw: &str, errors: &mut FieldErrors) -> Option<NoteId> {
    match raw.trim() {
        "" => None,
        raw => match raw.parse::<NoteId>() {
            Ok(id) => Some(id),
            Err(()) => {
                errors.add(
                    "note",
                    "Choose one of this client's session notes, or none.",
                );
                None
            }
        },
    }
}

/// A one-time form id as the form makes them (not empty, not huge).
pub(super) fn valid_form_id(f: &str) -> bool {
    !f.is_empty() && f.len() <= 64
}

/// The field an item's error points at: its first answer, so the error
/// summary's link lands on the radio group.
fn item_field(i: usize) -> &'static str {
    const FIELDS: [&str; MAX_ITEMS] = [
        "item1-0", "item2-0", "item3-0", "item4-0", "item5-0", "item6-0", "item7-0", "item8-0",
        "item9-0",
    ];
    FIELDS[(i - 1).min(MAX_ITEMS - 1)]
}

/// `POST /clients/{id}/measures/new`: check, seal, record; back to the
/// client page.
async fn create(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: WritingForm<MeasureFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let client = crate::clients::owned(&state, &session, &path).await?;
    let (checked, answers, mut errors) = check(&form.form, &form.pairs);
    let instrument = Instrument::from_slug(form.form.instrument.trim()).unwrap_or(Instrument::Phq9);
    let note = form.form.note.trim().parse::<NoteId>().ok();
    if let Some(note) = note {
        note_of_client(&state, &session, &client, note, &mut errors).await?;
    }
    if form.resumed || !errors.is_empty() {
        let mut page = page(
            &state,
            &session,
            &client,
            instrument,
            // A date input can only hold a date: anything else comes back
            // empty, with its error beside it.
            Some(
                NaiveDate::parse_from_str(form.form.date.trim(), "%Y-%m-%d")
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ),
            note,
            &answers,
        )
        .await?;
        for item in &mut page.items {
            item.error = errors.get(item_field(item.number)).map(str::to_owned);
        }
        let status = if errors.is_empty() {
            page.notice = Some(
                "You are signed in again. The answers are below exactly as entered, and they are not saved yet: check them and save.",
            );
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        page.errors = errors;
        if valid_form_id(&form.form.form_id) {
            page.form_id = form.form.form_id.clone();
        }
        return with_cookie(render(status, &page)?, form.cookie);
    }
    let Some(checked) = checked else {
        return Err(AppError::bad_request(
            "The form could not be read. Nothing was saved.",
        ));
    };
    debug_assert!(score(checked.instrument, &checked.answers).is_some());
    record(
        &state,
        &session,
        client.id,
        checked.date,
        Answers {
            instrument: checked.instrument.slug().to_owned(),
            items: checked.answers,
            note: checked.note,
            scale: None,
        },
        &form.form.form_id,
    )
    .await
}

/// A note a form names must be this client's: another therapist's is a 404
/// like any foreign id; one of theirs for another client is a mistake to
/// point out beside `note`.
pub(super) async fn note_of_client(
    state: &AppState,
    session: &CurrentSession,
    client: &ClientRow,
    note: NoteId,
    errors: &mut FieldErrors,
) -> Result<(), AppError> {
    let therapist = session.therapist;
    match state
        .db(move |conn| Ok(crate::notes::model::find(conn, therapist, note)?))
        .await?
    {
        None => return Err(audit::denied(state, therapist, Some(note.0)).await),
        Some(row) if row.client_id != client.id => errors.add(
            "note",
            "That session note is another client's. Choose one of this client's, or none.",
        ),
        Some(_) => {}
    }
    Ok(())
}

/// Seal and record checked answers for a client, once per form (sent again,
/// the first save is the answer), audited; back to the client page.
pub(super) async fn record(
    state: &AppState,
    session: &CurrentSession,
    id: ClientId,
    date: String,
    answers: Answers,
    form_id: &str,
) -> Result<HttpResponse, AppError> {
    let (therapist, dk) = (session.therapist, session.keys.clone());
    let form_id = Some(form_id.to_owned()).filter(|f| valid_form_id(f));
    let made = state
        .db(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                if let Some(f) = form_id.as_deref()
                    && model::made_from_form(conn, therapist, f)?
                {
                    // The same form sent again (Back, then Save): it was
                    // saved once, and that is the answer.
                    return Ok(false);
                }
                model::insert(
                    conn,
                    therapist,
                    &dk,
                    id,
                    &date,
                    &answers,
                    form_id.as_deref(),
                )?;
                audit::record(conn, Some(therapist), Action::MeasureRecord, Some(id.0))?;
                Ok::<_, diesel::result::Error>(true)
            })
            .map_err(Into::into)
        })
        .await?;
    let notice = if made { "measured" } else { "already" };
    Ok(see_other(&format!("/clients/{id}?{notice}=1#measures")))
}
