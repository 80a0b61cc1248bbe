//! The pages of the professional will: `/settings/custodian` (name a
//! custodian and the waiting period, see and refuse requests) and
//! `/custodianship` (the custodian's page: ask, cancel, read once released).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::colleague;
use super::custody::{self, DEFAULT_WAIT_DAYS, NotAsked};
use super::supervising::{ConfirmPage, Confirmation, key_changed};
use crate::auth::account;
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::forms::safe_next;
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::ids::{ClientId, CustodyRequestId, TherapistId};
use crate::web::form::{FieldErrors, NoFields};
use crate::web::layout::shown;
use crate::web::{AppError, AppState, Layout, render, see_other};

/// Register the professional-will routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/custodian", web::get().to(settings))
        .route("/settings/custodian", web::post().to(choose))
        .route("/settings/custodian/confirm", web::post().to(confirm))
        .route("/settings/custodian/remove", web::post().to(remove))
        .route(
            "/settings/custodian/requests/{id}/refuse",
            web::post().to(refuse),
        )
        .route("/custodianship", web::get().to(custodianship))
        .route("/custodianship/{id}/ask", web::post().to(ask))
        .route(
            "/custodianship/requests/{id}/cancel",
            web::post().to(cancel),
        );
}

struct CurrentCustodian {
    name: String,
    fingerprint: String,
    waiting_days: i32,
}

struct RequestView {
    id: CustodyRequestId,
    custodian: String,
    asked: String,
    release: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "sharing/custodian_settings.html")]
struct SettingsPage {
    layout: Layout,
    csrf_token: String,
    current: Option<CurrentCustodian>,
    requests: Vec<RequestView>,
    required: bool,
    next: Option<String>,
    email: String,
    waiting_days: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SettingsQuery {
    next: Option<String>,
    named: Option<String>,
    removed: Option<String>,
    refused: Option<String>,
}

async fn settings_page(
    state: &AppState,
    session: &CurrentSession,
    next: Option<String>,
    email: String,
    waiting_days: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> Result<SettingsPage, AppError> {
    let me = session.therapist;
    let (current, requests, required) = state
        .db(move |conn| {
            let current = match custody::custodian_of(conn, me)? {
                Some(c) => {
                    let name = account::find(conn, c.custodian_id)?
                        .map(|t| t.display_name)
                        .unwrap_or_default();
                    Some((c, name))
                }
                None => None,
            };
            let mut requests = Vec::new();
            for r in custody::open_requests(conn, me)? {
                let name = account::find(conn, r.custodian_id)?
                    .map(|t| t.display_name)
                    .unwrap_or_default();
                requests.push((r, name));
            }
            Ok((current, requests, account::custodian_required(conn)?))
        })
        .await?;
    Ok(SettingsPage {
        layout: layout_for(session, "settings"),
        csrf_token: session.csrf_token.clone(),
        current: current.map(|(c, name)| CurrentCustodian {
            name,
            fingerprint: c.fingerprint,
            waiting_days: c.waiting_days,
        }),
        requests: requests
            .into_iter()
            .map(|(r, custodian)| RequestView {
                id: r.id,
                custodian,
                asked: session.dates.moment(r.requested_at),
                release: session.dates.moment(r.release_at),
            })
            .collect(),
        required,
        next,
        email,
        waiting_days,
        errors,
        notice,
    })
}

/// `GET /settings/custodian`.
async fn settings(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<SettingsQuery>,
) -> Result<SettingsPage, AppError> {
    let notice = if query.named.is_some() {
        Some("Records custodian named.")
    } else if query.removed.is_some() {
        Some("Custodian removed. Their access is withdrawn and your client keys changed.")
    } else if query.refused.is_some() {
        Some("Request refused. Your custodian cannot read your records from it.")
    } else {
        None
    };
    settings_page(
        &state,
        &session,
        safe_next(query.next.as_deref()),
        String::new(),
        DEFAULT_WAIT_DAYS.to_string(),
        FieldErrors::default(),
        notice,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChooseForm {
    email: String,
    waiting_days: String,
}

fn waiting_days(raw: &str) -> Option<i32> {
    raw.trim()
        .parse::<i32>()
        .ok()
        .filter(|d| (1..=30).contains(d))
}

/// `POST /settings/custodian`: the colleague's fingerprint, to confirm.
async fn choose(
    state: web::Data<AppState>,
    form: SignedForm<ChooseForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let me = session.therapist;
    let email = account::normalize_email(&form.form.email);
    let found = state
        .db(move |conn| Ok(colleague::by_email(conn, me, &email)?))
        .await?;
    let days = waiting_days(&form.form.waiting_days);
    let mut errors = FieldErrors::default();
    if let Err(not) = &found {
        errors.add("email", not.message());
    }
    if days.is_none() {
        errors.add("waiting_days", "Enter a whole number of days from 1 to 30.");
    }
    let (Ok(colleague), Some(days), true) = (found, days, errors.is_empty()) else {
        let page = settings_page(
            &state,
            &session,
            None,
            form.form.email.clone(),
            form.form.waiting_days.clone(),
            errors,
            None,
        )
        .await?;
        return render(StatusCode::BAD_REQUEST, &page);
    };
    render(
        StatusCode::OK,
        &ConfirmPage::new(
            &session,
            &colleague,
            Confirmation {
                heading: "Confirm your records custodian",
                explanation: format!(
                    "{} will be able to ask for your clients' records. You will have {days} days to refuse each request.",
                    colleague.name
                ),
                action: "/settings/custodian/confirm".into(),
                hidden: vec![("waiting_days", days.to_string())],
                confirm_label: "Confirm and name them custodian",
                cancel_href: "/settings/custodian".into(),
            },
        ),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CustodianConfirm {
    colleague: String,
    fingerprint: String,
    waiting_days: String,
}

/// `POST /settings/custodian/confirm`.
async fn confirm(
    state: web::Data<AppState>,
    form: SignedForm<CustodianConfirm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let me = session.therapist;
    let custodian: TherapistId = form
        .form
        .colleague
        .parse()
        .map_err(|_| AppError::bad_request("Choose the colleague again."))?;
    let days = waiting_days(&form.form.waiting_days)
        .ok_or_else(|| AppError::bad_request("Enter a whole number of days from 1 to 30."))?;
    let (fingerprint, keys) = (form.form.fingerprint.clone(), session.keys.clone());
    let outcome = state
        .db(move |conn| {
            let Ok(colleague) = colleague::by_id(conn, me, custodian)? else {
                return Ok(Err(None));
            };
            Ok(custody::name(conn, &keys, custodian, days, &fingerprint)?
                .map_err(|_| Some(colleague.name)))
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other("/settings/custodian?named=1")),
        Err(None) => Err(AppError::bad_request("Choose the colleague again.")),
        Err(Some(name)) => Err(key_changed(&name)),
    }
}

/// `POST /settings/custodian/remove`.
async fn remove(
    state: web::Data<AppState>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let keys = form.session.keys.clone();
    state
        .db(move |conn| Ok(custody::remove(conn, &keys)?))
        .await?;
    Ok(see_other("/settings/custodian?removed=1"))
}

/// `POST /settings/custodian/requests/{id}/refuse`.
async fn refuse(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    end_request(&state, &form.session, &path, true).await
}

/// End the request `raw` names, refused by its therapist or cancelled by
/// its custodian; anything else is an audited 404.
async fn end_request(
    state: &AppState,
    session: &CurrentSession,
    raw: &str,
    refuse: bool,
) -> Result<HttpResponse, AppError> {
    let (me, keys, at) = (
        session.therapist,
        session.keys.clone(),
        state.config.custody_clock.now(),
    );
    let Ok(id) = raw.parse::<CustodyRequestId>() else {
        return Err(crate::audit::denied(state, me, None).await);
    };
    let done = state
        .db(move |conn| {
            let refusing = refuse.then_some(keys.as_ref());
            Ok(custody::end_request(conn, me, id, refusing, at)?)
        })
        .await?;
    if !done {
        return Err(crate::audit::denied(state, me, Some(id.0)).await);
    }
    Ok(see_other(if refuse {
        "/settings/custodian?refused=1"
    } else {
        "/custodianship?cancelled=1"
    }))
}

struct EntrustedView {
    id: TherapistId,
    name: String,
    active: bool,
    status: String,
    request: Option<CustodyRequestId>,
    released: bool,
    clients: Vec<(ClientId, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "sharing/custodianship.html")]
struct CustodianshipPage {
    layout: Layout,
    csrf_token: String,
    entrusted: Vec<EntrustedView>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CustodianshipQuery {
    asked: Option<String>,
    cancelled: Option<String>,
}

/// `GET /custodianship`: the custodian's page.
async fn custodianship(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<CustodianshipQuery>,
) -> Result<CustodianshipPage, AppError> {
    let (me, keys, at) = (
        session.therapist,
        session.keys.clone(),
        state.config.custody_clock.now(),
    );
    let entrusted = state
        .db(move |conn| {
            let mut out = Vec::new();
            for e in custody::entrusted_to(conn, me)? {
                let released = e.latest.as_ref().is_some_and(|r| r.is_released(at));
                let mut clients = Vec::new();
                if released {
                    for row in crate::clients::model::list(conn, e.therapist)? {
                        clients.push((row.0.id, shown(&row.0.open_names(&keys).0)));
                    }
                }
                out.push((e, released, clients));
            }
            Ok(out)
        })
        .await?;
    Ok(CustodianshipPage {
        layout: layout_for(&session, "settings"),
        csrf_token: session.csrf_token.clone(),
        notice: if query.asked.is_some() {
            Some("Request sent. They are told at their next sign-in and can refuse it.")
        } else if query.cancelled.is_some() {
            Some("Request cancelled.")
        } else {
            None
        },
        entrusted: entrusted
            .into_iter()
            .map(|(e, released, clients)| {
                let open = e.latest.as_ref().filter(|r| r.is_open());
                let status = match &e.latest {
                    None => "You have not asked for access.".to_owned(),
                    Some(r) if r.refused_at.is_some() => format!(
                        "{} refused your request of {}. You can ask again if it is needed.",
                        e.name,
                        session.dates.moment(r.requested_at)
                    ),
                    Some(r) if r.cancelled_at.is_some() => {
                        "Your last request was cancelled.".to_owned()
                    }
                    Some(r) if released => format!(
                        "Access released on {}: you can read these records, read-only.",
                        session.dates.moment(r.release_at)
                    ),
                    Some(r) => format!(
                        "You asked on {}. Unless {} refuses, you can read their records from {} ({} days' wait).",
                        session.dates.moment(r.requested_at),
                        e.name,
                        session.dates.moment(r.release_at),
                        e.waiting_days
                    ),
                };
                EntrustedView {
                    id: e.therapist,
                    name: e.name.clone(),
                    active: e.active,
                    status,
                    request: open.map(|r| r.id),
                    released,
                    clients,
                }
            })
            .collect(),
    })
}

/// `POST /custodianship/{id}/ask`.
async fn ask(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let me = form.session.therapist;
    let Ok(therapist) = path.parse::<TherapistId>() else {
        return Err(crate::audit::denied(&state, me, None).await);
    };
    let at = state.config.custody_clock.now();
    let outcome = state
        .db(move |conn| Ok(custody::ask(conn, me, therapist, at)?))
        .await?;
    match outcome {
        Ok(_) => Ok(see_other("/custodianship?asked=1")),
        Err(NotAsked::AlreadyAsked) => Ok(see_other("/custodianship")),
        Err(NotAsked::NotCustodian) => {
            Err(crate::audit::denied(&state, me, Some(therapist.0)).await)
        }
    }
}

/// `POST /custodianship/requests/{id}/cancel`.
async fn cancel(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    end_request(&state, &form.session, &path, false).await
}
