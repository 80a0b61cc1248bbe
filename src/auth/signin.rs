//! Signing in and out: `/login` (the password), `/login/code` (the second
//! step when two-factor sign-in is on) and `/logout`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::extract::{
    AnonForm, AwaitingCode, CodeForm, MaybeSigned, PendingForm, SECOND_FACTOR_PATH,
    pre_session_token, with_pre_session_token,
};
use super::login::{self, Attempt, SecondFactor};
use super::pages::{CodePage, LoginPage, Notice};
use super::setup::practice_exists;
use super::{forms, session, with_new_session};
use crate::audit::{self, Action};
use crate::web::client::{secure_cookies_work, throttle_address};
use crate::web::form::{FieldErrors, NoFields};
use crate::web::{AppError, AppState, Layout, cookies, render, see_other};

/// Register the sign-in routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login_submit))
        .route(SECOND_FACTOR_PATH, web::get().to(code_form))
        .route(SECOND_FACTOR_PATH, web::post().to(code_submit))
        .route("/logout", web::post().to(logout));
}

/// Query parameters the sign-in page understands.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    signed_out: Option<String>,
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    csrf_token: String,
    email: String,
    next: Option<String>,
) -> LoginPage {
    LoginPage {
        layout: Layout::anonymous(),
        csrf_token,
        email,
        next: next.unwrap_or_default(),
        notice: None,
        error: None,
        insecure: !secure_cookies_work(req, &state.config),
        errors: FieldErrors::default(),
    }
}

/// `GET /login`.
async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: MaybeSigned,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    if who.0.is_some() {
        return Ok(see_other("/clients"));
    }
    if !practice_exists(&state).await? {
        return Ok(see_other("/setup"));
    }
    let query = query.into_inner();
    with_pre_session_token(&req, |token| {
        let mut page = login_page(
            &req,
            &state,
            token,
            String::new(),
            forms::safe_next(query.next.as_deref()),
        );
        page.notice = if query.expired.is_some() {
            Some(Notice {
                text: "You were signed out because the session was idle or had reached its time limit. Sign in again to carry on.",
            })
        } else if query.signed_out.is_some() {
            Some(Notice {
                text: "You have signed out.",
            })
        } else {
            None
        };
        render(StatusCode::OK, &page)
    })
}

/// The sign-in form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// Where the code step goes on to, carried in its address.
fn code_path(next: Option<&str>) -> String {
    match next {
        Some(next) => format!(
            "{SECOND_FACTOR_PATH}?{}",
            serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
        ),
        None => SECOND_FACTOR_PATH.to_owned(),
    }
}

/// `POST /login`.
async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    AnonForm(form): AnonForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let next = forms::safe_next(form.next.as_deref());
    let again = |error: &str, status: StatusCode| {
        let mut page = login_page(
            &req,
            &state,
            pre_session_token(&req).0,
            form.email.clone(),
            next.clone(),
        );
        page.error = Some(error.to_owned());
        render(status, &page)
    };
    if form.email.trim().is_empty() || form.password.is_empty() {
        return again(
            "Enter both your email address and your password.",
            StatusCode::BAD_REQUEST,
        );
    }
    match login::attempt(&req, &state, &form.email, &form.password).await? {
        Attempt::Success { token, therapist } => {
            let next = next.unwrap_or_else(|| "/clients".into());
            let landing = crate::sharing::custody::landing(&state, therapist, &next).await?;
            with_new_session(&landing, &token)
        }
        Attempt::SecondFactor { token } => with_new_session(&code_path(next.as_deref()), &token),
        Attempt::Disabled => again(login::DISABLED, StatusCode::FORBIDDEN),
        Attempt::Failed => again(login::FAILED, StatusCode::OK),
    }
}

/// `POST /logout`: end the session on the server and drop the cookie.
async fn logout(
    state: web::Data<AppState>,
    form: PendingForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (id, therapist) = (form.session.id, form.session.therapist);
    state
        .db(move |conn| {
            session::end(conn, id)?;
            audit::record(conn, Some(therapist), Action::Logout, Some(id.0))?;
            Ok(())
        })
        .await?;
    state.memory.forget(id);
    let mut res = see_other("/login?signed_out=1");
    res.add_removal_cookie(&cookies::session_removal())
        .map_err(AppError::internal)?;
    Ok(res)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeQuery {
    next: Option<String>,
}

/// `GET /login/code`: the second step of signing in.
async fn code_form(
    AwaitingCode(session): AwaitingCode,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    let page = CodePage {
        layout: Layout::anonymous(),
        csrf_token: session.csrf_token.clone(),
        next: forms::safe_next(query.next.as_deref()).unwrap_or_default(),
        error: None,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeSubmit {
    code: String,
    next: String,
}

/// `POST /login/code`: a current code (once) or a backup code (once).
async fn code_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CodeForm<CodeSubmit>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (therapist, sid, dk, code) = (
        session.therapist,
        session.id,
        session.dk.duplicate(),
        form.form.code.clone(),
    );
    let address = throttle_address(&req, &state.config);
    let outcome = state
        .db(move |conn| {
            Ok(login::second_factor(
                conn, sid, therapist, &dk, &code, &address,
            )?)
        })
        .await?;
    let next = forms::safe_next(Some(&form.form.next));
    match outcome {
        SecondFactor::Accepted => {
            state.signed_in(therapist, &session.dk);
            let next = next.unwrap_or_else(|| "/clients".into());
            let landing = crate::sharing::custody::landing(&state, therapist, &next).await?;
            Ok(see_other(&landing))
        }
        SecondFactor::Locked(secs) => Err(AppError::TooManyRequests(secs)),
        SecondFactor::Refused => {
            let page = CodePage {
                layout: Layout::anonymous(),
                csrf_token: session.csrf_token.clone(),
                next: next.unwrap_or_default(),
                error: Some(
                    "That code does not match, or it was already used. Enter the six digits your app shows now, or one of your backup codes.",
                ),
            };
            render(StatusCode::OK, &page)
        }
    }
}
