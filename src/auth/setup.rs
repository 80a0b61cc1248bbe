//! Setting up a practice: `/` sends each visitor where they belong,
//! `/setup` makes the first account (its administrator), and the recovery
//! code is shown until the therapist confirms they stored it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::account::{self, Enrolment, Role};
use super::extract::{
    AnonForm, MaybeSigned, PendingForm, RECOVERY_CODE_PATH, SignedPending, pre_session_token,
    with_pre_session_token,
};
use super::pages::{RecoveryCodePage, SetupPage};
use super::{forms, session, with_new_session};
use crate::audit::{self, Action};
use crate::db::{is_unique_violation, now, write_transaction};
use crate::web::client::user_agent;
use crate::web::form::FieldErrors;
use crate::web::{AppError, AppState, Layout, render, see_other};

/// Register the setup routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/setup", web::get().to(setup_form))
        .route("/setup", web::post().to(setup_submit))
        .route(RECOVERY_CODE_PATH, web::get().to(recovery_code))
        .route(RECOVERY_CODE_PATH, web::post().to(recovery_code_stored));
}

/// Whether setup has happened.
pub async fn practice_exists(state: &AppState) -> Result<bool, AppError> {
    state.db(|conn| Ok(account::practice_exists(conn)?)).await
}

/// `GET /`: to setup, sign-in or the caseload, whichever fits.
async fn index(state: web::Data<AppState>, who: MaybeSigned) -> Result<HttpResponse, AppError> {
    if who.0.is_some() {
        return Ok(see_other("/clients"));
    }
    Ok(see_other(if practice_exists(&state).await? {
        "/login"
    } else {
        "/setup"
    }))
}

/// The fields of the setup form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct SetupForm {
    display_name: String,
    email: String,
    password: String,
    password_confirm: String,
    practice_name: String,
}

fn setup_page(csrf_token: String, form: &SetupForm, errors: FieldErrors) -> SetupPage {
    SetupPage {
        layout: Layout::anonymous(),
        csrf_token,
        display_name: form.display_name.clone(),
        email: form.email.clone(),
        practice_name: form.practice_name.clone(),
        errors,
        password_hint: forms::password_hint(),
    }
}

/// `GET /setup`: only before the first account exists.
async fn setup_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if practice_exists(&state).await? {
        return Err(AppError::not_found());
    }
    with_pre_session_token(&req, |token| {
        render(
            StatusCode::OK,
            &setup_page(token, &SetupForm::default(), FieldErrors::default()),
        )
    })
}

/// `POST /setup`: create the administrator's account and first session.
async fn setup_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    AnonForm(form): AnonForm<SetupForm>,
) -> Result<HttpResponse, AppError> {
    if practice_exists(&state).await? {
        return Err(AppError::not_found());
    }
    let errors = forms::check_new_account(
        &form.display_name,
        &form.email,
        &form.password,
        &form.password_confirm,
    );
    if !errors.is_empty() {
        let (token, _) = pre_session_token(&req);
        return render(StatusCode::BAD_REQUEST, &setup_page(token, &form, errors));
    }
    let permit = state.kdf_permit()?;
    let kdf = state.config.kdf;
    let practice_name = form
        .practice_name
        .trim()
        .chars()
        .take(120)
        .collect::<String>();
    let enrolment = web::block(move || {
        let _permit = permit;
        Enrolment::new(
            &form.email,
            &form.display_name,
            Role::Admin,
            &form.password,
            kdf,
        )
    })
    .await?
    .map_err(AppError::internal)?;
    let ua = user_agent(&req);
    let token = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let at = now();
                match account::claim_practice(conn, at, &practice_name) {
                    Err(err) if is_unique_violation(&err) => return Err(AppError::not_found()),
                    other => other?,
                }
                enrolment.insert(conn, at)?;
                audit::record(conn, Some(enrolment.id), Action::Setup, None)?;
                Ok(session::sign_in(
                    conn,
                    enrolment.id,
                    &enrolment.dk,
                    Some(&enrolment.recovery_code),
                    ua.as_deref(),
                )?)
            })
        })
        .await?;
    with_new_session(RECOVERY_CODE_PATH, &token)
}

/// `GET /account/recovery-code`: show the code until it is confirmed.
async fn recovery_code(SignedPending(session): SignedPending) -> Result<HttpResponse, AppError> {
    let Some(code) = &session.pending_recovery else {
        return Ok(see_other("/clients"));
    };
    let page = RecoveryCodePage {
        layout: Layout::anonymous(),
        csrf_token: session.csrf_token.clone(),
        groups: code.groups(),
        errors: FieldErrors::default(),
    };
    render(StatusCode::OK, &page)
}

/// The confirmation checkbox.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfirmStored {
    stored: Option<String>,
}

/// `POST /account/recovery-code`: the therapist has stored the code.
async fn recovery_code_stored(
    state: web::Data<AppState>,
    form: PendingForm<ConfirmStored>,
) -> Result<HttpResponse, AppError> {
    let session = form.session;
    let Some(code) = &session.pending_recovery else {
        return Ok(see_other("/clients"));
    };
    if form.form.stored.as_deref() != Some("yes") {
        let mut errors = FieldErrors::default();
        errors.add(
            "stored",
            "Tick the box once the code is printed or written down somewhere safe.",
        );
        let page = RecoveryCodePage {
            layout: Layout::anonymous(),
            csrf_token: session.csrf_token.clone(),
            groups: code.groups(),
            errors,
        };
        return render(StatusCode::BAD_REQUEST, &page);
    }
    let (id, therapist) = (session.id, session.therapist);
    state
        .db(move |conn| {
            session::clear_pending_recovery(conn, id)?;
            audit::record(conn, Some(therapist), Action::RecoveryCodeStored, None)?;
            Ok(())
        })
        .await?;
    // The code must not come back with the browser's Back button: pages are
    // never stored (no-store), and this also empties the back-forward cache.
    let mut res = see_other("/clients");
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("clear-site-data"),
        actix_web::http::header::HeaderValue::from_static("\"cache\""),
    );
    Ok(res)
}
