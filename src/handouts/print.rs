//! Printing a handout: for no one in particular or personalised for a
//! client (their name, a personal note, Letter or A4, large or discreet
//! print), recorded on the client's chart as given (with an undo), and
//! reprinting exactly what was given. The personal note travels only in
//! form posts, never in an address. A session that ends while the form is
//! open loses nothing (`WritingForm`). Print pages have their own layout
//! (`templates/handouts/print.html`, `static/handout.css`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::browse::handout_page;
use super::content::Handout;
use super::given::{self, GivenText, PrintOptions};
use super::library::Library;
use super::pages::{GiveForm, PrintPage};
use super::render::to_html;
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, SignedForm, WritingForm};
use crate::auth::session::CurrentSession;
use crate::clients::model::Client;
use crate::ids::{ClientId, GivenHandoutId};
use crate::web::form::{FieldErrors, NoFields};
use crate::web::layout::{shown, today};
use crate::web::{AppError, AppState, render, see_other, with_cookie};

/// Register the print routes (the given-record ones before `{slug}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/handouts/given/{id}/print", web::get().to(reprint))
        .route("/handouts/given/{id}/undo", web::post().to(undo))
        .route("/handouts/{slug}", web::post().to(change))
        .route("/handouts/{slug}/print", web::get().to(print_get))
        .route("/handouts/{slug}/print", web::post().to(print_post))
        .route("/handouts/{slug}/give", web::post().to(give));
}

/// How long after giving a handout its record can be undone.
pub const UNDO_WINDOW: i64 = 60 * 60;
/// The longest personal note, so it fits on the page.
const MAX_NOTE_CHARS: usize = 2000;

/// Print choices as sent by the form (or, without the note, in a link).
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct PrintForm {
    /// The client's id, or empty for no one in particular.
    pub client: String,
    /// The personal note.
    pub note: String,
    /// `letter` or `a4`.
    pub paper: String,
    /// Large print.
    pub large: Option<String>,
    /// Discreet print.
    pub discreet: Option<String>,
    /// The therapist's name, the practice's and the date on the page
    /// (`0` turns them off in a link; the form sends `1` when ticked).
    pub names: Option<String>,
    /// Record the handout as given as it prints.
    pub give: Option<String>,
    /// The language to print in (a BCP 47 tag), chosen by the therapist;
    /// empty for the client's preferred language.
    pub lang: String,
}

impl PrintForm {
    /// How it is to be printed.
    pub fn options(&self) -> PrintOptions {
        PrintOptions {
            paper: if self.paper == "a4" { "a4" } else { "letter" },
            large_print: self.large.is_some(),
            discreet: self.discreet.is_some(),
        }
    }

    /// Whether names go on the page.
    pub fn names_on(&self) -> bool {
        self.names.as_deref().is_some_and(|n| n != "0")
    }

    /// The fields to carry back to the form, as they were sent.
    fn carried(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("client", self.client.clone()),
            ("note", self.note.clone()),
            ("paper", self.options().paper.to_owned()),
        ];
        if !self.lang.is_empty() {
            out.push(("lang", self.lang.clone()));
        }
        for (name, on) in [
            ("large", self.large.is_some()),
            ("discreet", self.discreet.is_some()),
            ("names", self.names_on()),
        ] {
            if on {
                out.push((name, "1".to_owned()));
            }
        }
        out
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
            .open(&session.keys),
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

/// The version of `h` to print for `client`: in the language the
/// therapist chose, else in the client's preferred language (`h` itself
/// when none is recorded). When there is no version in that language the
/// form asks the therapist to choose one: English is never printed in its
/// place unasked.
pub fn version_for(
    all: &[Handout],
    h: &Handout,
    client: Option<&Client>,
    chosen: &str,
) -> Result<Handout, FieldErrors> {
    let mut errors = FieldErrors::default();
    if !chosen.is_empty() {
        return match h.in_language(all, chosen) {
            Some(version) => Ok(version.clone()),
            None => {
                errors.add(
                    "lang",
                    format!(
                        "This handout has no {} version. Choose one of the languages it has.",
                        crate::lang::name(chosen)
                    ),
                );
                Err(errors)
            }
        };
    }
    let Some(client) = client else {
        return Ok(h.clone());
    };
    let wanted = match &client.language {
        // No language recorded: no preference, so the handout chosen.
        Ok(tag) if tag.trim().is_empty() => return Ok(h.clone()),
        Ok(tag) => tag.as_str(),
        Err(_) => {
            errors.add(
                "lang",
                "This client's preferred language failed an integrity check. Choose the language to print in.",
            );
            return Err(errors);
        }
    };
    match h.in_language(all, wanted) {
        Some(version) => Ok(version.clone()),
        None => {
            errors.add(
                "lang",
                format!(
                    "{}'s preferred language is {}, and this handout has no {} version. Choose the language to print it in, or choose another handout.",
                    client.called().unwrap_or("This client"),
                    crate::lang::name(wanted),
                    crate::lang::name(wanted),
                ),
            );
            Err(errors)
        }
    }
}

struct Printing<'a> {
    lang: &'a str,
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
) -> Result<PrintPage, AppError> {
    let therapist = session.therapist;
    let (practice, signature) = state
        .db(move |conn| {
            Ok((
                crate::auth::account::practice_name(conn)?.unwrap_or_default(),
                crate::auth::account::signature_of(conn, therapist)?,
            ))
        })
        .await?;
    let words = crate::lang::words(p.lang);
    let date = if words.lang == "en" {
        session.dates.day(&today())
    } else {
        words.date(&today())
    };
    let (header_right, footer_left) = if p.options.discreet || !p.show_names {
        (String::new(), String::new())
    } else {
        (practice, signature)
    };
    Ok(PrintPage {
        version: crate::web::assets::VERSION,
        csrf_token: session.csrf_token.clone(),
        lang: p.lang.to_owned(),
        words,
        printed_in: None,
        link: None,
        title: p.title.to_owned(),
        body_html: to_html(p.body),
        header_left: p
            .for_name
            .as_ref()
            .map(|n| format!("{} {n}", words.for_name))
            .unwrap_or_default(),
        for_name: p.for_name,
        personal_note: p.note.to_owned(),
        paper: p.options.paper,
        large: p.options.large_print,
        discreet: p.options.discreet,
        header_right,
        footer_left,
        footer_right: date,
        sources: p.sources.to_vec(),
        back: None,
        give: None,
        given: None,
    })
}

/// The handout's page again with the print form as it was sent (from the
/// print page's "Change something", or after signing in again), and a
/// notice or errors.
async fn form_again(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    slug: &str,
    form: &PrintForm,
    notice: Option<&'static str>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut page = handout_page(state, library, session, slug, form).await?;
    page.notice = notice;
    page.errors = errors;
    render(status, &page)
}

/// Check a print form: the personal note fits, and recording as given
/// names a client.
fn check(form: &PrintForm) -> FieldErrors {
    let mut errors = FieldErrors::default();
    if form.note.trim_end().chars().count() > MAX_NOTE_CHARS {
        errors.add(
            "note",
            "Keep the personal note under 2,000 characters so it fits on the page.",
        );
    }
    if form.give.is_some() && form.client.is_empty() {
        errors.add(
            "client",
            "Choose who the handout is for to record it as given, or use Just print.",
        );
    }
    errors
}

/// The version to print for the form's client, with the client; the form's
/// errors when the therapist must choose a language first.
async fn chosen(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    slug: &str,
    form: &PrintForm,
) -> Result<Result<(Handout, Option<Client>), FieldErrors>, AppError> {
    let all = super::all(state, library).await?;
    let h = all
        .iter()
        .find(|h| h.slug == slug)
        .ok_or_else(AppError::not_found)?;
    let client = print_client(state, session, &form.client).await?;
    Ok(version_for(&all, h, client.as_ref(), form.lang.trim()).map(|v| (v, client)))
}

async fn print(
    state: &AppState,
    session: &CurrentSession,
    h: &Handout,
    client: Option<Client>,
    form: &PrintForm,
) -> Result<PrintPage, AppError> {
    let options = form.options();
    let for_name = client.as_ref().map(name_for).transpose()?;
    let note = form.note.trim_end();
    let printing = Printing {
        lang: &h.lang,
        title: h.print_title(options.discreet),
        body: &h.body,
        sources: &h.sources,
        for_name,
        note,
        options: &options,
        show_names: form.names_on(),
    };
    let mut page = print_page(state, session, printing).await?;
    // Sent again, the form names the version printed, so "Record as given"
    // records exactly this one.
    let mut form = form.clone();
    form.lang = h.lang.clone();
    page.back = Some((format!("/handouts/{}", h.slug), form.carried()));
    if let Some(c) = &client {
        page.printed_in = Some(format!(
            "In {}{}.",
            crate::lang::name(&h.lang),
            match &c.language {
                Ok(tag) if tag.trim().is_empty() => " (no preferred language is recorded for them)",
                Ok(tag) if crate::lang::same(tag, &h.lang) => ", their preferred language",
                _ => ", as you chose",
            }
        ));
        page.give = Some(GiveForm {
            action: format!("/handouts/{}/give", h.slug),
            client_id: c.id,
            client_name: shown(&c.full_name),
            fields: form.carried(),
        });
    }
    audit::log(
        state,
        session.therapist,
        Action::HandoutPrint,
        client.map(|c| c.id.0),
    )
    .await?;
    Ok(page)
}

/// `GET /handouts/{slug}/print`: choices in the address, never a note.
async fn print_get(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<PrintForm>,
) -> Result<HttpResponse, AppError> {
    let mut form = query.into_inner();
    form.note.clear();
    form.give = None;
    if form.names.is_none() {
        form.names = Some("1".into());
    }
    match chosen(&state, &library, &session, &path, &form).await? {
        Ok((h, client)) => render(
            StatusCode::OK,
            &print(&state, &session, &h, client, &form).await?,
        ),
        Err(errors) => form_again(&state, &library, &session, &path, &form, None, errors).await,
    }
}

/// `POST /handouts/{slug}/print`: print (with the personal note, which stays
/// out of addresses), and with `give`, record it on the client's chart
/// first.
async fn print_post(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: WritingForm<PrintForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    if form.resumed {
        let page = form_again(
            &state,
            &library,
            &session,
            &path,
            &form.form,
            Some("You are signed in again. The form is as you left it, and nothing is printed or recorded yet: check it and print."),
            FieldErrors::default(),
        )
        .await?;
        return with_cookie(page, form.cookie);
    }
    let errors = check(&form.form);
    if !errors.is_empty() {
        return form_again(&state, &library, &session, &path, &form.form, None, errors).await;
    }
    let (h, client) = match chosen(&state, &library, &session, &path, &form.form).await? {
        Ok(found) => found,
        Err(errors) => {
            return form_again(&state, &library, &session, &path, &form.form, None, errors).await;
        }
    };
    if form.form.give.is_some() {
        return record_given(&state, &session, &h, client, &form.form).await;
    }
    render(
        StatusCode::OK,
        &print(&state, &session, &h, client, &form.form).await?,
    )
}

/// `POST /handouts/{slug}`: back from the print page to the form, with
/// everything as it was chosen and typed.
async fn change(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: WritingForm<PrintForm>,
) -> Result<HttpResponse, AppError> {
    let page = form_again(
        &state,
        &library,
        &form.session,
        &path,
        &form.form,
        None,
        FieldErrors::default(),
    )
    .await?;
    with_cookie(page, form.cookie)
}

/// Record the handout as given to the form's client, then show the print
/// page of that record.
async fn record_given(
    state: &AppState,
    session: &CurrentSession,
    h: &Handout,
    client: Option<Client>,
    form: &PrintForm,
) -> Result<HttpResponse, AppError> {
    let Some(client) = client else {
        return Err(AppError::bad_request(
            "Choose the client the handout was given to.",
        ));
    };
    let options = form.options();
    let text = GivenText {
        // The title as printed (a discreet print's gentler one).
        title: h.print_title(options.discreet).to_owned(),
        body: h.body.clone(),
        personal_note: form.note.trim_end().to_owned(),
        for_name: name_for(&client)?,
    };
    let (therapist, dk, h) = (session.therapist, session.keys.clone(), h.clone());
    let id = state
        .db(move |conn| {
            let id = given::record(conn, therapist, &dk, client.id, &h, &text, &options)?;
            audit::record(conn, Some(therapist), Action::HandoutGiven, Some(id.0))?;
            Ok(id)
        })
        .await?;
    Ok(see_other(&format!("/handouts/given/{id}/print?given=1")))
}

/// `POST /handouts/{slug}/give`: record on the client's chart a handout
/// printed without recording.
async fn give(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<PrintForm>,
) -> Result<HttpResponse, AppError> {
    match chosen(&state, &library, &form.session, &path, &form.form).await? {
        Ok((h, client)) => record_given(&state, &form.session, &h, client, &form.form).await,
        Err(errors) => {
            form_again(
                &state,
                &library,
                &form.session,
                &path,
                &form.form,
                None,
                errors,
            )
            .await
        }
    }
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
    req: HttpRequest,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<ReprintQuery>,
) -> Result<HttpResponse, AppError> {
    let (record, client) = super::links::owned_given(&state, &session, &path).await?;
    let just_given = query.given.is_some() && crate::db::now() - record.given_at < UNDO_WINDOW;
    let page = reprint_page(&state, &req, &session, record, client, just_given).await?;
    render(StatusCode::OK, &page)
}

/// The print page of a given handout: exactly what was given, with what
/// the record says, and its private link (shown, or offered).
pub async fn reprint_page(
    state: &AppState,
    req: &HttpRequest,
    session: &CurrentSession,
    record: super::given::Given,
    client: Client,
    just_given: bool,
) -> Result<PrintPage, AppError> {
    let therapist = session.therapist;
    let Ok(text) = &record.text else {
        return Err(AppError::conflict(
            "This record failed an integrity check, so the handout cannot be reprinted from it.",
        ));
    };
    let printing = Printing {
        lang: &record.lang,
        title: &text.title,
        body: &text.body,
        sources: &[],
        for_name: Some(text.for_name.clone()),
        note: &text.personal_note,
        options: &record.options,
        show_names: true,
    };
    let mut page = print_page(state, session, printing).await?;
    page.given = Some(super::pages::GivenNote {
        text: if just_given {
            format!(
                "Recorded on {}'s chart as given today. Print it now; it can be printed again from their page.",
                shown(&client.full_name)
            )
        } else {
            format!(
                "This is exactly what was given to {} (version {}).",
                shown(&client.full_name),
                record.version
            )
        },
        undo: just_given.then(|| format!("/handouts/given/{}/undo", record.id)),
        client_href: format!("/clients/{}", client.id),
    });
    page.link = Some(super::links::block(state, req, session, &record).await?);
    audit::log(state, therapist, Action::HandoutPrint, Some(client.id.0)).await?;
    Ok(page)
}

/// `POST /handouts/given/{id}/undo`: take back a record of a handout just
/// given (within an hour), for a handout recorded by mistake.
async fn undo(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let Ok(id) = path.parse::<GivenHandoutId>() else {
        return Err(audit::denied(&state, session.therapist, None).await);
    };
    let therapist = session.therapist;
    let undone: Option<(ClientId, bool)> = state
        .db(move |conn| {
            let outcome = given::undo(conn, therapist, id, crate::db::now() - UNDO_WINDOW)?;
            if let Some((_, true)) = outcome {
                audit::record(conn, Some(therapist), Action::HandoutUndo, Some(id.0))?;
            }
            Ok(outcome)
        })
        .await?;
    match undone {
        None => Err(audit::denied(&state, therapist, Some(id.0)).await),
        Some((client, true)) => Ok(see_other(&format!("/clients/{client}?undone=1"))),
        Some((_, false)) => Err(AppError::conflict(
            "This handout was given more than an hour ago, so its record stays on the chart.",
        )),
    }
}
