//! `/settings`: a therapist's own security. Change the password, a new
//! recovery code, and the sessions signed in (two-factor sign-in has its
//! own page, `two_factor`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::account::{self, Rekey};
use super::extract::{RECOVERY_CODE_PATH, Signed, SignedForm};
use super::session::{self, CurrentSession};
use super::{forms, layout_for, login, with_new_session};
use crate::audit::{self, Action};
use crate::crypto::session::SessionToken;
use crate::ids::SessionId;
use crate::web::client::user_agent;
use crate::web::form::{FieldErrors, NoFields};
use crate::web::{AppError, AppState, Layout, cookies, render, see_other};

/// Register the settings routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(index))
        .route("/settings/profile", web::post().to(profile))
        .route("/settings/password", web::post().to(change_password))
        .route("/settings/recovery-code", web::post().to(new_recovery_code))
        .route("/settings/sessions/{id}/end", web::post().to(end_session))
        .route("/settings/sessions/end-others", web::post().to(end_others));
}

struct SessionRow {
    id: SessionId,
    started: String,
    last_seen: String,
    browser: String,
    current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/settings.html")]
struct SettingsPage {
    layout: Layout,
    csrf_token: String,
    email: String,
    display_name: String,
    credentials: String,
    licence: String,
    two_factor: bool,
    sessions: Vec<SessionRow>,
    errors: FieldErrors,
    notice: Option<&'static str>,
    /// The fingerprint of the therapist's public key.
    fingerprint: String,
    /// Marked as an associate (works under a supervisor).
    associate: bool,
    /// The practice asks for a records custodian and none is named.
    custodian_missing: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SettingsQuery {
    profile: Option<String>,
    changed: Option<String>,
    ended: Option<String>,
    enabled: Option<String>,
    disabled: Option<String>,
}

async fn settings_page(
    state: &AppState,
    session: &CurrentSession,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> Result<SettingsPage, AppError> {
    let therapist = session.therapist;
    let (account, listed, public, custodian_missing) = state
        .db(move |conn| {
            Ok((
                account::find(conn, therapist)?,
                session::list_for(conn, therapist)?,
                crate::sharing::keys::public_key(conn, therapist)?,
                account::custodian_required(conn)?
                    && crate::sharing::custody::custodian_of(conn, therapist)?.is_none(),
            ))
        })
        .await?;
    let account = account.ok_or_else(AppError::not_found)?;
    Ok(SettingsPage {
        layout: layout_for(session, "settings"),
        csrf_token: session.csrf_token.clone(),
        email: account.email.clone(),
        display_name: account.display_name.clone(),
        credentials: account.credentials.clone(),
        licence: account.licence.clone(),
        two_factor: account.totp_secret.is_some(),
        sessions: listed
            .into_iter()
            .map(|s| SessionRow {
                id: s.id,
                started: session.dates.moment(s.created_at),
                last_seen: session.dates.moment(s.last_seen_at),
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
        fingerprint: public.map(|k| k.fingerprint()).unwrap_or_default(),
        associate: account.licence_level == "associate",
        custodian_missing,
    })
}

/// The settings page again, 400, with these messages beside their fields
/// (for a form on it that was refused, here or in another area).
pub async fn refused(
    state: &AppState,
    session: &CurrentSession,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::BAD_REQUEST,
        &settings_page(state, session, errors, None).await?,
    )
}

/// The settings page with `message` beside `field` if `password` is not the
/// signed-in therapist's (throttled like sign-in); `None` when it is.
pub async fn wrong_password(
    req: &HttpRequest,
    state: &AppState,
    session: &CurrentSession,
    password: &str,
    field: &'static str,
    message: &'static str,
) -> Result<Option<HttpResponse>, AppError> {
    if login::confirm_password(req, state, session.therapist, password).await? {
        return Ok(None);
    }
    let mut errors = FieldErrors::default();
    errors.add(field, message);
    Ok(Some(refused(state, session, errors).await?))
}

/// `GET /settings`.
async fn index(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<SettingsQuery>,
) -> Result<SettingsPage, AppError> {
    let notice = if query.profile.is_some() {
        Some("Saved. Notes and addenda you sign from now on show these details.")
    } else if query.changed.is_some() {
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
    settings_page(&state, &session, FieldErrors::default(), notice).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ProfileForm {
    display_name: String,
    credentials: String,
    licence: String,
}

/// `POST /settings/profile`: the name, credentials and licence number a
/// therapist signs with.
async fn profile(
    state: web::Data<AppState>,
    form: SignedForm<ProfileForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let f = form.form;
    let (name, credentials, licence) = (
        f.display_name.trim().to_owned(),
        f.credentials.trim().to_owned(),
        f.licence.trim().to_owned(),
    );
    let mut errors = super::forms::check_name(&name);
    if credentials.chars().count() > 120 {
        errors.add("credentials", "Keep your credentials under 120 characters.");
    }
    if licence.chars().count() > 60 {
        errors.add("licence", "Keep the licence number under 60 characters.");
    }
    if !errors.is_empty() {
        return refused(&state, &session, errors).await;
    }
    let therapist = session.therapist;
    state
        .db(move |conn| {
            account::update_profile(
                conn,
                therapist,
                &account::ProfileChanges {
                    display_name: &name,
                    credentials: &credentials,
                    licence: &licence,
                },
            )?;
            audit::record(conn, Some(therapist), Action::ProfileChange, None)?;
            Ok(())
        })
        .await?;
    Ok(see_other("/settings?profile=1"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

/// `POST /settings/password`: re-seal DK under the new password; notes are
/// untouched; every other session ends, and this browser gets a new one.
async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let f = form.form;
    let mut errors = forms::check_new_password(
        &f.new_password,
        &f.new_password_confirm,
        ("new_password", "new_password_confirm"),
    );
    if f.current_password.is_empty() {
        errors.add("current_password", "Enter your current password.");
    }
    if !errors.is_empty() {
        return refused(&state, &session, errors).await;
    }
    if let Some(refusal) = wrong_password(
        &req,
        &state,
        &session,
        &f.current_password,
        "current_password",
        "That is not your current password. Nothing was changed.",
    )
    .await?
    {
        return Ok(refusal);
    }
    let permit = state.kdf_permit()?;
    let (id, dk, kdf) = (session.therapist, session.dk.duplicate(), state.config.kdf);
    let rekey = web::block(move || {
        let _permit = permit;
        Rekey::new(id, &dk, &f.new_password, kdf, false)
    })
    .await?
    .map_err(AppError::internal)?;
    let (dk, ua) = (session.dk.duplicate(), user_agent(&req));
    let token = state
        .db(move |conn| {
            rekey.apply(conn)?;
            audit::record(conn, Some(id), Action::PasswordChange, None)?;
            Ok(session::create(conn, id, &dk, None, ua.as_deref())?)
        })
        .await?;
    with_new_session("/settings?changed=1", &token)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordOnly {
    password: String,
}

/// `POST /settings/recovery-code`: password required; the old code stops working.
async fn new_recovery_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<PasswordOnly>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    if let Some(refusal) = wrong_password(
        &req,
        &state,
        &session,
        &form.form.password,
        "password",
        "That is not your password. Your recovery code was not changed.",
    )
    .await?
    {
        return Ok(refusal);
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
    let (therapist, id, dk) = (session.therapist, session.id, session.dk.duplicate());
    state
        .db(move |conn| {
            let code = account::new_recovery_code(conn, therapist, &dk)?;
            session::set_pending_recovery_for(conn, &token, therapist, id, &code)?;
            audit::record(conn, Some(therapist), Action::RecoveryCodeNew, None)?;
            Ok(())
        })
        .await?;
    Ok(see_other(RECOVERY_CODE_PATH))
}

/// `POST /settings/sessions/{id}/end`.
async fn end_session(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
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
    form: SignedForm<NoFields>,
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
