//! Handlers for setup, the recovery code, sign-in and sign-out.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::account::{self, Enrolment, Role};
use super::extract::{
    AnonForm, MaybeSigned, PendingForm, SignedPending, pre_session_token, with_pre_session_token,
};
use super::login::{self, Attempt};
use super::pages::{LoginPage, Notice, RecoveryCodePage, SetupPage};
use super::session;
use crate::audit::{self, Action};
use crate::db::{is_unique_violation, now, write_transaction};
use crate::web::client::secure_cookies_work;
use crate::web::form::FieldErrors;
use crate::web::{AppError, AppState, Layout, cookies, render, see_other};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 1024;

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Only local paths: never another site, never a scheme-relative URL.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    (local && next.len() <= 2000 && !next.chars().any(char::is_control)).then(|| next.to_owned())
}

async fn practice_exists(state: &AppState) -> Result<bool, AppError> {
    state.db(|conn| Ok(account::practice_exists(conn)?)).await
}

/// `GET /`: to setup, sign-in or the caseload, whichever fits.
pub async fn index(state: web::Data<AppState>, who: MaybeSigned) -> Result<HttpResponse, AppError> {
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
pub struct SetupForm {
    display_name: String,
    email: String,
    password: String,
    password_confirm: String,
    practice_name: String,
}

/// Check a new account's fields, as typed.
pub fn validate_new_account(
    display_name: &str,
    email: &str,
    password: &str,
    confirm: &str,
) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let name = display_name.trim();
    if name.is_empty() {
        errors.add(
            "display_name",
            "Enter your name as colleagues and clients know it.",
        );
    } else if name.chars().count() > 100 {
        errors.add("display_name", "Keep your name under 100 characters.");
    }
    let email = email.trim();
    let plausible = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if email.is_empty() {
        errors.add("email", "Enter the email address you will sign in with.");
    } else if !plausible {
        errors.add("email", "Enter an email address like name@example.org.");
    }
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        errors.add("password", format!("Use at least {MIN_PASSWORD_CHARS} characters. A few unrelated words make a strong password that is easy to remember."));
    } else if chars > MAX_PASSWORD_CHARS {
        errors.add(
            "password",
            format!("Use at most {MAX_PASSWORD_CHARS} characters."),
        );
    } else if password != confirm {
        errors.add(
            "password_confirm",
            "The two passwords are different. Type the same password in both boxes.",
        );
    }
    errors
}

fn setup_page(csrf_token: String, form: &SetupForm, errors: FieldErrors) -> SetupPage {
    SetupPage {
        layout: Layout::anonymous(),
        csrf_token,
        display_name: form.display_name.clone(),
        email: form.email.clone(),
        practice_name: form.practice_name.clone(),
        errors,
        password_hint: format!(
            "At least {MIN_PASSWORD_CHARS} characters. A few unrelated words work well."
        ),
    }
}

/// `GET /setup`: only before the first account exists.
pub async fn setup_form(
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
pub async fn setup_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    AnonForm(form): AnonForm<SetupForm>,
) -> Result<HttpResponse, AppError> {
    if practice_exists(&state).await? {
        return Err(AppError::not_found());
    }
    let errors = validate_new_account(
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
    let practice_name = form.practice_name.clone();
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
    let practice_name = practice_name.trim().chars().take(120).collect::<String>();
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
                let token = session::create(
                    conn,
                    enrolment.id,
                    &enrolment.dk,
                    Some(&enrolment.recovery_code),
                    ua.as_deref(),
                )?;
                account::mark_login(conn, enrolment.id, at)?;
                audit::record(conn, Some(enrolment.id), Action::LoginOk, None)?;
                Ok(token)
            })
        })
        .await?;
    let mut res = see_other(super::extract::RECOVERY_CODE_PATH);
    res.add_cookie(&cookies::session(token.encode().to_string()))
        .map_err(AppError::internal)?;
    Ok(res)
}

/// `GET /account/recovery-code`: show the code until it is confirmed.
pub async fn recovery_code(
    SignedPending(session): SignedPending,
) -> Result<HttpResponse, AppError> {
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
pub struct ConfirmStored {
    stored: Option<String>,
}

/// `POST /account/recovery-code`: the therapist has stored the code.
pub async fn recovery_code_stored(
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
    Ok(see_other("/clients"))
}

/// Query parameters the sign-in page understands.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
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
pub async fn login_form(
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
            safe_next(query.next.as_deref()),
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
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`.
pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    AnonForm(form): AnonForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next.as_deref());
    if form.email.trim().is_empty() || form.password.is_empty() {
        let mut page = login_page(
            &req,
            &state,
            pre_session_token(&req).0,
            form.email.clone(),
            next,
        );
        page.error = Some("Enter both your email address and your password.".into());
        return render(StatusCode::BAD_REQUEST, &page);
    }
    match login::attempt(&req, &state, &form.email, &form.password).await? {
        Attempt::Success { token, .. } => {
            let mut res = see_other(next.as_deref().unwrap_or("/clients"));
            res.add_cookie(&cookies::session(token.encode().to_string()))
                .map_err(AppError::internal)?;
            Ok(res)
        }
        Attempt::SecondFactor { token } => {
            let target = match &next {
                Some(next) => format!(
                    "/login/code?next={}",
                    serde_urlencoded::to_string([("", next)])
                        .unwrap_or_default()
                        .trim_start_matches('=')
                ),
                None => "/login/code".to_owned(),
            };
            let mut res = see_other(&target);
            res.add_cookie(&cookies::session(token.encode().to_string()))
                .map_err(AppError::internal)?;
            Ok(res)
        }
        Attempt::Disabled => {
            let mut page = login_page(&req, &state, pre_session_token(&req).0, form.email, next);
            page.error = Some(login::DISABLED.into());
            render(StatusCode::FORBIDDEN, &page)
        }
        Attempt::Failed => {
            let mut page = login_page(&req, &state, pre_session_token(&req).0, form.email, next);
            page.error = Some(login::FAILED.into());
            render(StatusCode::OK, &page)
        }
    }
}

/// No fields beyond the CSRF token.
#[derive(Deserialize, Default)]
pub struct Empty {}

/// `POST /logout`: end the session on the server and drop the cookie.
pub async fn logout(
    state: web::Data<AppState>,
    form: PendingForm<Empty>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next(Some("/clients?x=1")), Some("/clients?x=1".into()));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "clients",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn new_accounts_need_a_name_an_email_and_a_long_matching_password() {
        assert!(
            validate_new_account("Ada", "ada@example.org", "long enough pw", "long enough pw")
                .is_empty()
        );
        let e = validate_new_account("", "nope", "short", "short");
        assert!(e.get("display_name").is_some());
        assert!(e.get("email").is_some());
        assert!(e.get("password").is_some());
        let e = validate_new_account("Ada", "ada@example.org", "long enough pw", "long enough px");
        assert!(e.get("password_confirm").is_some());
    }
}
