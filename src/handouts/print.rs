//! Printing a handout: for no one in particular or personalised for a
//! client (their name, a personal note, Letter or A4, large or discreet
//! print), recording it on the client's chart as given, and reprinting
//! exactly what was given. Print pages have their own layout
//! (`templates/handouts/print.html`, `static/handout.css`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::given::{self, GivenText, PrintOptions};
use super::library::Library;
use super::pages::{GiveForm, PrintPage};
use super::render::to_html;
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::session::CurrentSession;
use crate::clients::model::Client;
use crate::ids::GivenHandoutId;
use crate::web::layout::{long_date, shown, today};
use crate::web::{AppError, AppState, render, see_other};

/// Register the print routes (the given-record one before `{slug}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/handouts/given/{id}/print", web::get().to(reprint))
        .route("/handouts/{slug}/print", web::get().to(print_get))
        .route("/handouts/{slug}/print", web::post().to(print_post))
        .route("/handouts/{slug}/give", web::post().to(give));
}

/// Print options as sent by the form or a suggestion link.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct PrintForm {
    client: String,
    note: String,
    paper: String,
    large: Option<String>,
    discreet: Option<String>,
    names: Option<String>,
}

impl PrintForm {
    fn options(&self) -> PrintOptions {
        PrintOptions {
            paper: if self.paper == "a4" { "a4" } else { "letter" },
            large_print: self.large.is_some(),
            discreet: self.discreet.is_some(),
        }
    }
}

/// The client a print is for, if any; 404 (audited) if not theirs.
async fn print_client(
    state: &AppState,
    session: &CurrentSession,
    raw: &str,
) -> Result<Option<Client>, AppError> {
    if raw.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        crate::clients::owned(state, session, raw)
            .await?
            .open(&session.dk),
    ))
}

/// The name a handout is printed for: the client's preferred name, else
/// their full name; a 409 if it failed its integrity check.
fn name_for(client: &Client) -> Result<String, AppError> {
    client.called().map(str::to_owned).ok_or_else(|| {
        AppError::conflict(
            "This client's name failed an integrity check, so a handout cannot be printed for them.",
        )
    })
}

struct Printing<'a> {
    title: &'a str,
    body: &'a str,
    sources: &'a [String],
    for_name: Option<String>,
    note: &'a str,
    options: &'a PrintOptions,
    show_names: bool,
}

async fn print_page(
    state: &AppState,
    session: &CurrentSession,
    p: Printing<'_>,
    back_href: String,
) -> Result<PrintPage, AppError> {
    let practice = state
        .db(|conn| Ok(crate::auth::account::practice_name(conn)?))
        .await?
        .unwrap_or_default();
    let date = long_date(&today());
    let (header_right, footer_left) = if p.options.discreet || !p.show_names {
        (String::new(), String::new())
    } else {
        (practice, session.display_name.clone())
    };
    Ok(PrintPage {
        version: crate::web::assets::VERSION,
        csrf_token: session.csrf_token.clone(),
        title: p.title.to_owned(),
        body_html: to_html(p.body),
        header_left: p
            .for_name
            .as_ref()
            .map(|n| format!("For {n}"))
            .unwrap_or_default(),
        for_name: p.for_name,
        personal_note: p.note.to_owned(),
        paper: p.options.paper,
        large: p.options.large_print,
        header_right,
        footer_left,
        footer_right: date,
        sources: p.sources.to_vec(),
        back_href,
        give: None,
        given_note: None,
    })
}

async fn print(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    slug: &str,
    form: PrintForm,
) -> Result<HttpResponse, AppError> {
    let h = super::find(state, library, slug).await?;
    let client = print_client(state, session, &form.client).await?;
    let options = form.options();
    let for_name = client.as_ref().map(name_for).transpose()?;
    let note = form.note.trim_end();
    if note.chars().count() > 2000 {
        return Err(AppError::bad_request(
            "Keep the personal note under 2,000 characters so it fits on the page.",
        ));
    }
    let printing = Printing {
        title: &h.title,
        body: &h.body,
        sources: &h.sources,
        for_name: for_name.clone(),
        note,
        options: &options,
        show_names: form.names.is_some() || form.client.is_empty() && form.paper.is_empty(),
    };
    let mut page = print_page(state, session, printing, format!("/handouts/{}", h.slug)).await?;
    if let Some(c) = &client {
        page.give = Some(GiveForm {
            action: format!("/handouts/{}/give", h.slug),
            client_id: c.id,
            client_name: shown(&c.full_name),
            note: note.to_owned(),
            paper: options.paper,
            large: options.large_print,
            discreet: options.discreet,
        });
    }
    audit::log(
        state,
        session.therapist,
        Action::HandoutPrint,
        client.map(|c| c.id.0),
    )
    .await?;
    render(StatusCode::OK, &page)
}

/// `GET /handouts/{slug}/print`: options in the query (never the note).
async fn print_get(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<PrintForm>,
) -> Result<HttpResponse, AppError> {
    let mut form = query.into_inner();
    form.note.clear();
    print(&state, &library, &session, &path, form).await
}

/// `POST /handouts/{slug}/print`: with a personal note, which stays out of URLs.
async fn print_post(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<PrintForm>,
) -> Result<HttpResponse, AppError> {
    print(&state, &library, &form.session, &path, form.form).await
}

/// `POST /handouts/{slug}/give`: record the handout on the client's chart.
async fn give(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<PrintForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let h = super::find(&state, &library, &path).await?;
    let Some(client) = print_client(&state, &session, &form.form.client).await? else {
        return Err(AppError::bad_request(
            "Choose the client the handout was given to.",
        ));
    };
    let options = form.form.options();
    let text = GivenText {
        title: h.title.clone(),
        body: h.body.clone(),
        personal_note: form.form.note.trim_end().to_owned(),
        for_name: name_for(&client)?,
    };
    let (therapist, dk) = (session.therapist, session.dk.duplicate());
    let id = state
        .db(move |conn| {
            let id = given::record(conn, therapist, &dk, client.id, &h, &text, &options)?;
            audit::record(conn, Some(therapist), Action::HandoutGiven, Some(id.0))?;
            Ok(id)
        })
        .await?;
    Ok(see_other(&format!("/handouts/given/{id}/print?given=1")))
}

/// Whether the reprint page should say the record was just made.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ReprintQuery {
    given: Option<String>,
}

/// `GET /handouts/given/{id}/print`: exactly the text that was given.
async fn reprint(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<ReprintQuery>,
) -> Result<HttpResponse, AppError> {
    let Ok(id) = path.parse::<GivenHandoutId>() else {
        return Err(audit::denied(&state, session.therapist, None).await);
    };
    let (therapist, dk) = (session.therapist, session.dk.duplicate());
    let found = state
        .db(move |conn| Ok(given::find(conn, therapist, &dk, id)?))
        .await?;
    let Some((record, client)) = found else {
        return Err(audit::denied(&state, therapist, Some(id.0)).await);
    };
    let Ok(text) = &record.text else {
        return Err(AppError::conflict(
            "This record failed an integrity check, so the handout cannot be reprinted from it.",
        ));
    };
    let printing = Printing {
        title: &text.title,
        body: &text.body,
        sources: &[],
        for_name: Some(text.for_name.clone()),
        note: &text.personal_note,
        options: &record.options,
        show_names: true,
    };
    let mut page = print_page(
        &state,
        &session,
        printing,
        format!("/clients/{}", client.id),
    )
    .await?;
    page.given_note = Some(if query.given.is_some() {
        format!(
            "Recorded on {}'s chart. Print it now; this page can be printed again from their record.",
            shown(&client.full_name)
        )
    } else {
        format!(
            "This is exactly what was given to {} (version {}).",
            shown(&client.full_name),
            record.version
        )
    });
    audit::log(&state, therapist, Action::HandoutPrint, Some(client.id.0)).await?;
    render(StatusCode::OK, &page)
}
