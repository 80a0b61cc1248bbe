//! `/recover`: a lost password. The recovery code opens DK; the therapist
//! sets a new password and gets a new code; the old code stops working and
//! every session of the account ends. Wrong codes are throttled like
//! passwords.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::account::{self, Rekey};
use super::extract::RECOVERY_CODE_PATH;
use super::extract::{AnonForm, pre_session_token, with_pre_session_token};
use super::{forms, session, throttle, with_new_session};
use crate::audit::{self, Action};
use crate::crypto::recovery::RecoveryCode;
use crate::db::now;
use crate::web::client::{throttle_address, user_agent};
use crate::web::form::FieldErrors;
use crate::web::{AppError, AppState, Layout, render};

/// Register the recovery routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/recover", web::get().to(form))
        .route("/recover", web::post().to(submit));
}

#[derive(Template)]
#[template(path = "auth/recover.html")]
struct RecoverPage {
    layout: Layout,
    csrf_token: String,
    email: String,
    errors: FieldErrors,
    error: Option<&'static str>,
}

async fn form(req: HttpRequest) -> Result<HttpResponse, AppError> {
    with_pre_session_token(&req, |csrf_token| {
        let page = RecoverPage {
            layout: Layout::anonymous(),
            csrf_token,
            email: String::new(),
            errors: FieldErrors::default(),
            error: None,
        };
        render(StatusCode::OK, &page)
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RecoverForm {
    email: String,
    recovery_code: String,
    password: String,
    password_confirm: String,
}

const MISMATCH: &str = "That email and recovery code do not match. Check the code as printed: spaces, dashes and capitals do not matter.";

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    AnonForm(f): AnonForm<RecoverForm>,
) -> Result<HttpResponse, AppError> {
    let page = |errors: FieldErrors, error: Option<&'static str>, email: &str| RecoverPage {
        layout: Layout::anonymous(),
        csrf_token: pre_session_token(&req).0,
        email: email.to_owned(),
        errors,
        error,
    };
    let mut errors = forms::check_email(&f.email);
    errors.extend(forms::check_new_password(
        &f.password,
        &f.password_confirm,
        ("password", "password_confirm"),
    ));
    if f.recovery_code.trim().is_empty() {
        errors.add(
            "recovery_code",
            "Enter the recovery code you printed or wrote down.",
        );
    }
    if !errors.is_empty() {
        return render(StatusCode::BAD_REQUEST, &page(errors, None, &f.email));
    }
    let account_key = throttle::account_key(&f.email);
    let address_key = throttle::address_key(&throttle_address(&req, &state.config));
    let (email, keys) = (f.email.clone(), [account_key.clone(), address_key.clone()]);
    let (therapist, locked) = state
        .db(move |conn| {
            Ok((
                account::find_by_email(conn, &email)?,
                throttle::locked_for(conn, &[&keys[0], &keys[1]], now())?,
            ))
        })
        .await?;
    if let Some(secs) = locked {
        return Err(AppError::TooManyRequests(secs));
    }
    let dk = match (&therapist, RecoveryCode::parse(&f.recovery_code)) {
        (Some(t), Some(code)) if t.is_active() => t.unlock_with_recovery(&code),
        _ => None,
    };
    let (Some(t), Some(dk)) = (therapist.as_ref(), dk) else {
        let id = therapist.as_ref().map(|t| t.id);
        let locked = state
            .db(move |conn| Ok(super::login::failed(conn, id, &account_key, &address_key)?))
            .await?;
        if let Some(secs) = locked {
            return Err(AppError::TooManyRequests(secs));
        }
        return render(
            StatusCode::OK,
            &page(FieldErrors::default(), Some(MISMATCH), &f.email),
        );
    };
    let permit = state.kdf_permit()?;
    let (id, kdf, password) = (t.id, state.config.kdf, f.password.clone());
    let dk_for_rekey = dk.duplicate();
    let rekey = web::block(move || {
        let _permit = permit;
        Rekey::new(id, &dk_for_rekey, &password, kdf, true)
    })
    .await?
    .map_err(AppError::internal)?;
    let ua = user_agent(&req);
    state.signed_in(id, &dk);
    let token = state
        .db(move |conn| {
            rekey.apply(conn)?;
            let token = session::sign_in(conn, id, &dk, rekey.recovery_code(), ua.as_deref())?;
            throttle::clear(conn, &account_key)?;
            audit::record(conn, Some(id), Action::RecoveryUse, None)?;
            Ok(token)
        })
        .await?;
    with_new_session(RECOVERY_CODE_PATH, &token)
}
