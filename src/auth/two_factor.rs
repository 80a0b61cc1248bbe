//! Two-factor sign-in with an authenticator app (`/settings/two-factor`):
//! turning it on (a QR code drawn by the server, or the key to type),
//! moving it to a new app, and turning it off. The last two need the
//! password and a current code: a signed-in session alone must not be able
//! to change the second factor. (The code step of signing in is in
//! `signin`.)

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::account::{self, Therapist};
use super::extract::{Signed, SignedForm};
use super::session::CurrentSession;
use super::{layout_for, login, totp};
use crate::audit::{self, Action};
use crate::web::form::FieldErrors;
use crate::web::{AppError, AppState, Layout, render, see_other};

/// Register the two-factor routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/two-factor", web::get().to(two_factor))
        .route("/settings/two-factor", web::post().to(enable_two_factor))
        .route(
            "/settings/two-factor/disable",
            web::post().to(disable_two_factor),
        );
}

fn unix_now() -> u64 {
    u64::try_from(crate::db::now()).unwrap_or(0)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordAndCode {
    password: String,
    code: String,
}

#[derive(Template, WebTemplate)]
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
    if !login::confirm_password(req, state, session.therapist, password).await? {
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
    form: SignedForm<PasswordAndCode>,
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
