//! `/settings`: a therapist's own security. Change password, a new recovery
//! code, sessions, and two-factor sign-in; `/login/code` for the second step.

use std::rc::Rc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::account::{self, Rekey, Therapist};
use super::extract::{AwaitingCode, CodeForm, Signed, SignedForm};
use super::session::{self, CurrentSession};
use super::{layout_for, login, throttle, totp};
use crate::audit::{self, Action};
use crate::crypto::session::SessionToken;
use crate::db::now;
use crate::ids::SessionId;
use crate::web::client::throttle_address;
use crate::web::form::FieldErrors;
use crate::web::layout::local_time;
use crate::web::{AppError, AppState, Layout, cookies, render, see_other};

/// Register the settings routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(index))
        .route("/settings/password", web::post().to(change_password))
        .route("/settings/recovery-code", web::post().to(new_recovery_code))
        .route("/settings/sessions/{id}/end", web::post().to(end_session))
        .route("/settings/sessions/end-others", web::post().to(end_others))
        .route("/settings/export", web::post().to(export_caseload))
        .route("/settings/two-factor", web::get().to(two_factor))
        .route("/settings/two-factor", web::post().to(enable_two_factor))
        .route(
            "/settings/two-factor/disable",
            web::post().to(disable_two_factor),
        )
        .route("/login/code", web::get().to(code_form))
        .route("/login/code", web::post().to(code_submit));
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Check the signed-in therapist's password, throttled like sign-in.
/// `Ok(Some(account))` when right.
async fn check_password(
    req: &HttpRequest,
    state: &AppState,
    session: &CurrentSession,
    password: &str,
) -> Result<Option<Therapist>, AppError> {
    let therapist_id = session.therapist;
    let therapist = state
        .db(move |conn| Ok(account::find(conn, therapist_id)?))
        .await?
        .ok_or_else(AppError::not_found)?;
    let key = throttle::account_key(&therapist.email);
    let k = key.clone();
    if let Some(secs) = state
        .db(move |conn| Ok(throttle::locked_for(conn, &[&k], now())?))
        .await?
    {
        return Err(AppError::TooManyRequests(secs));
    }
    let permit = state.kdf_permit()?;
    let password = password.to_owned();
    let (therapist, right) = web::block(move || {
        let _permit = permit;
        let right = therapist.unlock(&password).ok().flatten().is_some();
        (therapist, right)
    })
    .await?;
    if right {
        return Ok(Some(therapist));
    }
    let address = throttle::address_key(&throttle_address(req, &state.config));
    let locked = state
        .db(move |conn| Ok(login::failed(conn, Some(therapist_id), &key, &address)?))
        .await?;
    if let Some(secs) = locked {
        return Err(AppError::TooManyRequests(secs));
    }
    Ok(None)
}

/// The settings page again with `message` beside `field` when `password` is
/// not the signed-in therapist's; `None` when it is.
async fn wrong_password(
    req: &HttpRequest,
    state: &AppState,
    session: &Rc<CurrentSession>,
    password: &str,
    field: &'static str,
    message: &'static str,
) -> Result<Option<HttpResponse>, AppError> {
    if check_password(req, state, session, password)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let mut errors = FieldErrors::default();
    errors.add(field, message);
    Ok(Some(render(
        StatusCode::BAD_REQUEST,
        &settings_page(state, session, errors, None).await?,
    )?))
}

struct SessionRow {
    id: i64,
    started: String,
    last_seen: String,
    browser: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "auth/settings.html")]
struct SettingsPage {
    layout: Layout,
    csrf_token: String,
    email: String,
    two_factor: bool,
    sessions: Vec<SessionRow>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SettingsQuery {
    changed: Option<String>,
    ended: Option<String>,
    enabled: Option<String>,
    disabled: Option<String>,
}

async fn settings_page(
    state: &AppState,
    session: &Rc<CurrentSession>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> Result<SettingsPage, AppError> {
    let therapist = session.therapist;
    let (account, listed) = state
        .db(move |conn| {
            Ok((
                account::find(conn, therapist)?,
                session::list_for(conn, therapist)?,
            ))
        })
        .await?;
    let account = account.ok_or_else(AppError::not_found)?;
    Ok(SettingsPage {
        layout: layout_for(session, "settings"),
        csrf_token: session.csrf_token.clone(),
        email: account.email.clone(),
        two_factor: account.totp_secret.is_some(),
        sessions: listed
            .into_iter()
            .map(|s| SessionRow {
                id: s.id.0,
                started: local_time(s.created_at),
                last_seen: local_time(s.last_seen_at),
                browser: if s.user_agent.is_empty() {
                    "Unknown browser".into()
                } else {
                    s.user_agent.chars().take(120).collect()
                },
                current: s.id == session.id,
            })
            .collect(),
        errors,
        notice,
    })
}

/// `GET /settings`.
async fn index(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<SettingsQuery>,
) -> Result<HttpResponse, AppError> {
    let notice = if query.changed.is_some() {
        Some("Your password is changed. Every other session has been signed out.")
    } else if query.ended.is_some() {
        Some("Done. Those sessions are signed out.")
    } else if query.enabled.is_some() {
        Some("Two-factor sign-in is on.")
    } else if query.disabled.is_some() {
        Some("Two-factor sign-in is off.")
    } else {
        None
    };
    render(
        StatusCode::OK,
        &settings_page(&state, &session, FieldErrors::default(), notice).await?,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

/// Start a fresh session for this browser after the others were ended.
async fn fresh_session(
    state: &AppState,
    req: &HttpRequest,
    session: &CurrentSession,
) -> Result<SessionToken, AppError> {
    let (therapist, dk) = (session.therapist, session.dk.duplicate());
    let ua = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state
        .db(move |conn| Ok(session::create(conn, therapist, &dk, None, ua.as_deref())?))
        .await
}

/// `POST /settings/password`: re-seal DK under the new password; notes are
/// untouched; every other session ends.
async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let f = form.form;
    let mut errors =
        super::routes::validate_new_account("x", "x@x", &f.new_password, &f.new_password_confirm);
    let errors_new: Vec<_> = errors.all().iter().map(|(k, m)| (*k, m.clone())).collect();
    errors = FieldErrors::default();
    for (field, message) in errors_new {
        errors.add(
            if field == "password" {
                "new_password"
            } else {
                "new_password_confirm"
            },
            message,
        );
    }
    if f.current_password.is_empty() {
        errors.add("current_password", "Enter your current password.");
    }
    if !errors.is_empty() {
        return render(
            StatusCode::BAD_REQUEST,
            &settings_page(&state, &session, errors, None).await?,
        );
    }
    if check_password(&req, &state, &session, &f.current_password)
        .await?
        .is_none()
    {
        errors.add(
            "current_password",
            "That is not your current password. Nothing was changed.",
        );
        return render(
            StatusCode::BAD_REQUEST,
            &settings_page(&state, &session, errors, None).await?,
        );
    }
    let permit = state.kdf_permit()?;
    let (id, dk, kdf) = (session.therapist, session.dk.duplicate(), state.config.kdf);
    let rekey = web::block(move || {
        let _permit = permit;
        Rekey::new(id, &dk, &f.new_password, kdf, false)
    })
    .await?
    .map_err(AppError::internal)?;
    state
        .db(move |conn| {
            rekey.apply(conn)?;
            audit::record(conn, Some(id), Action::PasswordChange, None)?;
            Ok(())
        })
        .await?;
    let token = fresh_session(&state, &req, &session).await?;
    let mut res = see_other("/settings?changed=1");
    res.add_cookie(&cookies::session(token.encode().to_string()))
        .map_err(AppError::internal)?;
    Ok(res)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfirmPassword {
    password: String,
    code: String,
}

/// `POST /settings/recovery-code`: password required; the old code stops working.
async fn new_recovery_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<ConfirmPassword>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    if let Some(refused) = wrong_password(
        &req,
        &state,
        &session,
        &form.form.password,
        "password",
        "That is not your password. Your recovery code was not changed.",
    )
    .await?
    {
        return Ok(refused);
    }
    let Some(token) = req
        .cookie(cookies::SESSION)
        .and_then(|c| SessionToken::decode(c.value()))
    else {
        return Err(AppError::SignInRequired {
            next: None,
            expired: false,
        });
    };
    let (id, dk) = (session.therapist, session.dk.duplicate());
    let s = SessionRef {
        id: session.id,
        therapist: session.therapist,
    };
    state
        .db(move |conn| {
            let code = account::new_recovery_code(conn, id, &dk)?;
            session::set_pending_recovery_for(conn, &token, s.therapist, s.id, &code)?;
            audit::record(conn, Some(id), Action::RecoveryCodeNew, None)?;
            Ok(())
        })
        .await?;
    Ok(see_other(super::extract::RECOVERY_CODE_PATH))
}

struct SessionRef {
    id: SessionId,
    therapist: crate::ids::TherapistId,
}

/// `POST /settings/sessions/{id}/end`.
async fn end_session(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<super::routes::Empty>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let Ok(id) = path.parse::<SessionId>() else {
        return Err(audit::denied(&state, session.therapist, None).await);
    };
    let therapist = session.therapist;
    let ended = state
        .db(move |conn| {
            let ended = session::end_own(conn, therapist, id)?;
            if ended {
                audit::record(conn, Some(therapist), Action::SessionEnd, Some(id.0))?;
            }
            Ok(ended)
        })
        .await?;
    if !ended {
        return Err(audit::denied(&state, therapist, Some(id.0)).await);
    }
    Ok(see_other(if id == session.id {
        "/login?signed_out=1"
    } else {
        "/settings?ended=1"
    }))
}

/// `POST /settings/sessions/end-others`.
async fn end_others(
    state: web::Data<AppState>,
    form: SignedForm<super::routes::Empty>,
) -> Result<HttpResponse, AppError> {
    let (therapist, keep) = (form.session.therapist, form.session.id);
    state
        .db(move |conn| {
            session::end_others(conn, therapist, keep)?;
            audit::record(conn, Some(therapist), Action::SessionEnd, None)?;
            Ok(())
        })
        .await?;
    Ok(see_other("/settings?ended=1"))
}

#[derive(Template)]
#[template(path = "auth/two_factor.html")]
struct TwoFactorPage {
    layout: Layout,
    csrf_token: String,
    enabled: bool,
    /// Enrolling a new authenticator while two-factor is on: the form also
    /// asks for the password and a code from the current one.
    replacing: bool,
    secret: String,
    qr_size: usize,
    qr_dark: Vec<(usize, usize)>,
    backup_codes: Vec<String>,
    errors: FieldErrors,
}

/// The page for an account that has two-factor sign-in on (with the backup
/// codes, just after turning it on).
fn status_page(
    session: &CurrentSession,
    backup_codes: Vec<String>,
    errors: FieldErrors,
) -> TwoFactorPage {
    TwoFactorPage {
        layout: layout_for(session, "settings"),
        csrf_token: session.csrf_token.clone(),
        enabled: true,
        replacing: false,
        secret: String::new(),
        qr_size: 0,
        qr_dark: vec![],
        backup_codes,
        errors,
    }
}

fn enrol_page(
    session: &CurrentSession,
    account: &Therapist,
    secret: &[u8],
    errors: FieldErrors,
) -> TwoFactorPage {
    let (qr_size, qr_dark) = totp::qr(&totp::uri(secret, &account.email));
    let replacing = account.totp_secret.is_some();
    TwoFactorPage {
        layout: layout_for(session, "settings"),
        csrf_token: session.csrf_token.clone(),
        enabled: replacing,
        replacing,
        secret: totp::encode_secret(secret),
        qr_size,
        qr_dark,
        backup_codes: vec![],
        errors,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TwoFactorQuery {
    replace: Option<String>,
}

/// `GET /settings/two-factor`: enrol (a QR code drawn by the server, or the
/// secret to type); when it is on, turn it off, or (`?replace=1`) move it
/// to a new authenticator.
async fn two_factor(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<TwoFactorQuery>,
) -> Result<HttpResponse, AppError> {
    let therapist = session.therapist;
    let account = state
        .db(move |conn| Ok(account::find(conn, therapist)?))
        .await?
        .ok_or_else(AppError::not_found)?;
    if account.totp_secret.is_some() && query.replace.is_none() {
        let page = status_page(&session, vec![], FieldErrors::default());
        return render(StatusCode::OK, &page);
    }
    render(
        StatusCode::OK,
        &enrol_page(
            &session,
            &account,
            &totp::new_secret(),
            FieldErrors::default(),
        ),
    )
}

/// Check the password and then a code from the current authenticator (or a
/// backup code), as changing two-factor sign-in requires. Each problem is
/// reported against its field, followed by `unchanged`.
async fn confirm_second_factor(
    req: &HttpRequest,
    state: &AppState,
    session: &CurrentSession,
    (password, password_field): (&str, &'static str),
    (code, code_field): (&str, &'static str),
    unchanged: &str,
) -> Result<FieldErrors, AppError> {
    let mut errors = FieldErrors::default();
    if check_password(req, state, session, password)
        .await?
        .is_none()
    {
        errors.add(
            password_field,
            format!("That is not your password. {unchanged}"),
        );
        return Ok(errors);
    }
    let (therapist, dk, code) = (session.therapist, session.dk.duplicate(), code.to_owned());
    let check = state
        .db(move |conn| Ok(totp::check(conn, therapist, &dk, &code, unix_now())?))
        .await?;
    if check == totp::Check::Refused {
        errors.add(
            code_field,
            format!("That code does not match your current app. {unchanged}"),
        );
    }
    Ok(errors)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnrolForm {
    secret: String,
    code: String,
    /// When replacing: the account's password.
    password: String,
    /// When replacing: a code from the current authenticator, or a backup code.
    current_code: String,
}

/// `POST /settings/two-factor`: confirm with a current code, then show the
/// ten backup codes once. While two-factor is already on, this replaces it,
/// which takes the password and a code from the current authenticator too:
/// a signed-in session alone must not be able to swap the second factor.
async fn enable_two_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<EnrolForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let therapist = session.therapist;
    let account = state
        .db(move |conn| Ok(account::find(conn, therapist)?))
        .await?
        .ok_or_else(AppError::not_found)?;
    let Some(secret) = totp::decode_secret(&form.form.secret) else {
        return Err(AppError::bad_request(
            "The enrolment form was damaged. Open two-factor settings again to start over.",
        ));
    };
    let mut errors = FieldErrors::default();
    if totp::matching_step(&secret, &form.form.code, unix_now()).is_none() {
        errors.add(
            "code",
            "That code does not match. Enter the six digits your new app shows now.",
        );
    }
    let replacing = account.totp_secret.is_some();
    if replacing && errors.is_empty() {
        errors = confirm_second_factor(
            &req,
            &state,
            &session,
            (&form.form.password, "password"),
            (&form.form.current_code, "current_code"),
            "Two-factor sign-in was not changed.",
        )
        .await?;
    }
    if !errors.is_empty() {
        return render(
            StatusCode::BAD_REQUEST,
            &enrol_page(&session, &account, &secret, errors),
        );
    }
    let backup = totp::new_backup_codes();
    let (dk, codes) = (session.dk.duplicate(), backup.clone());
    let action = if replacing {
        Action::TotpReplace
    } else {
        Action::TotpEnable
    };
    state
        .db(move |conn| {
            totp::enable(conn, therapist, &dk, &secret, &codes)?;
            audit::record(conn, Some(therapist), action, None)?;
            Ok(())
        })
        .await?;
    let page = status_page(&session, backup, FieldErrors::default());
    render(StatusCode::OK, &page)
}

/// `POST /settings/two-factor/disable`: password and a code required.
async fn disable_two_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<ConfirmPassword>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let errors = confirm_second_factor(
        &req,
        &state,
        &session,
        (&form.form.password, "password"),
        (&form.form.code, "code"),
        "Two-factor sign-in is still on.",
    )
    .await?;
    if !errors.is_empty() {
        let page = status_page(&session, vec![], errors);
        return render(StatusCode::BAD_REQUEST, &page);
    }
    let therapist = session.therapist;
    state
        .db(move |conn| {
            totp::disable(conn, therapist)?;
            audit::record(conn, Some(therapist), Action::TotpDisable, None)?;
            Ok(())
        })
        .await?;
    Ok(see_other("/settings?disabled=1"))
}

#[derive(Template)]
#[template(path = "auth/login_code.html")]
struct CodePage {
    layout: Layout,
    csrf_token: String,
    next: String,
    error: Option<&'static str>,
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
        next: super::routes::safe_next(query.next.as_deref()).unwrap_or_default(),
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
    match outcome {
        login::SecondFactor::Accepted => {
            crate::upgrade::start(&state.pool, therapist, &session.dk);
            Ok(see_other(
                super::routes::safe_next(Some(&form.form.next))
                    .as_deref()
                    .unwrap_or("/clients"),
            ))
        }
        login::SecondFactor::Locked(secs) => Err(AppError::TooManyRequests(secs)),
        login::SecondFactor::Refused => {
            let page = CodePage {
                layout: Layout::anonymous(),
                csrf_token: session.csrf_token.clone(),
                next: super::routes::safe_next(Some(&form.form.next)).unwrap_or_default(),
                error: Some(
                    "That code does not match, or it was already used. Enter the six digits your app shows now, or one of your backup codes.",
                ),
            };
            render(StatusCode::OK, &page)
        }
    }
}

/// `POST /settings/export`: the whole caseload as plaintext JSON, for moving
/// practices. Password required; audited; process notes left out.
async fn export_caseload(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<ConfirmPassword>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    if let Some(refused) = wrong_password(
        &req,
        &state,
        &session,
        &form.form.password,
        "export_password",
        "That is not your password. Nothing was exported.",
    )
    .await?
    {
        return Ok(refused);
    }
    let (therapist, dk) = (session.therapist, session.dk.duplicate());
    let caseload = state
        .db(move |conn| {
            let caseload = crate::notes::caseload::export(conn, therapist, &dk)?;
            audit::record(conn, Some(therapist), Action::CaseloadExport, None)?;
            Ok(caseload)
        })
        .await?;
    let body = serde_json::to_vec_pretty(&caseload).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "content-disposition",
            "attachment; filename=\"tearsheet-caseload.json\"",
        ))
        .body(body))
}
