//! `/practice`: the administrator's page. Accounts, one-time invitations
//! that expire after seven days, and turning accounts off and on; and the
//! invitee's side of an invitation. The administrator can never read
//! another therapist's notes: each therapist's records are sealed under a
//! key only their password or recovery code opens.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::account::{self, Enrolment, Role};
use super::extract::{AnonForm, Signed, SignedForm, pre_session_token, with_pre_session_token};
use super::session::{self, CurrentSession};
use super::{forms, invites, layout_for, with_new_session};
use crate::audit::{self, Action};
use crate::crypto::random_token;
use crate::db::{is_unique_violation, now, write_transaction};
use crate::ids::TherapistId;
use crate::web::client::user_agent;
use crate::web::dates::DateStyle;
use crate::web::form::{FieldErrors, NoFields};
use crate::web::{AppError, AppState, Layout, render, see_other};

/// Register the practice routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/practice", web::get().to(index))
        .route("/practice/invites", web::post().to(invite))
        .route("/practice/dates", web::post().to(set_dates))
        .route("/practice/accounts/{id}/disable", web::post().to(disable))
        .route("/practice/accounts/{id}/enable", web::post().to(enable))
        .route(
            "/practice/accounts/{id}/licence",
            web::post().to(set_licence),
        )
        .route("/practice/custodians", web::post().to(require_custodians))
        .route("/invite/{token}", web::get().to(accept_form))
        .route("/invite/{token}", web::post().to(accept));
}

fn admin_only(session: &CurrentSession) -> Result<(), AppError> {
    if session.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "Only the practice's administrator can manage accounts.",
        ))
    }
}

struct AccountRow {
    id: TherapistId,
    name: String,
    email: String,
    role: &'static str,
    active: bool,
    last_login: String,
    is_me: bool,
    associate: bool,
    /// Who holds this account's records if it is turned off: the custodian
    /// they named, or why nobody can hand them over.
    custodian: Option<String>,
}

struct InviteRow {
    email: String,
    expires: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/practice.html")]
struct PracticePage {
    layout: Layout,
    csrf_token: String,
    accounts: Vec<AccountRow>,
    invites: Vec<InviteRow>,
    new_link: Option<String>,
    email: String,
    errors: FieldErrors,
    date_styles: Vec<(&'static str, &'static str, bool)>,
    require_custodian: bool,
    pack_keys: Vec<crate::packs::pages::KeyRow>,
}

async fn practice_page(
    state: &AppState,
    req: &HttpRequest,
    session: &CurrentSession,
    new_link: Option<String>,
    email: String,
    errors: FieldErrors,
) -> Result<PracticePage, AppError> {
    let (accounts, pending, custodians, require_custodian, keys) = state
        .db(|conn| {
            Ok((
                account::all(conn)?,
                invites::pending(conn)?,
                crate::sharing::custody::named_custodians(conn)?,
                account::custodian_required(conn)?,
                crate::packs::store::keys(conn)?,
            ))
        })
        .await?;
    let names: std::collections::HashMap<TherapistId, String> = accounts
        .iter()
        .map(|t| (t.id, t.display_name.clone()))
        .collect();
    let link = new_link.map(|token| {
        // The Host header itself: actix's connection info would also believe
        // forwarded headers from anyone.
        let host = req
            .headers()
            .get(actix_web::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_owned();
        let scheme = if crate::web::client::is_https(req, &state.config) {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}/invite/{token}")
    });
    Ok(PracticePage {
        layout: layout_for(session, "practice"),
        csrf_token: session.csrf_token.clone(),
        accounts: accounts
            .into_iter()
            .map(|t| AccountRow {
                id: t.id,
                is_me: t.id == session.therapist,
                name: t.display_name.clone(),
                email: t.email.clone(),
                role: if Role::parse(&t.role) == Role::Admin {
                    "Administrator"
                } else {
                    "Therapist"
                },
                active: t.is_active(),
                last_login: t
                    .last_login_at
                    .map(|at| session.dates.moment(at))
                    .unwrap_or_else(|| "Never".into()),
                associate: t.licence_level == "associate",
                custodian: custodians
                    .get(&t.id)
                    .map(|c| names.get(c).cloned().unwrap_or_default()),
            })
            .collect(),
        invites: pending
            .into_iter()
            .map(|i| InviteRow {
                email: i.email,
                expires: session.dates.moment(i.expires_at),
            })
            .collect(),
        new_link: link,
        email,
        errors,
        date_styles: DateStyle::ALL
            .iter()
            .map(|d| (d.key(), d.label(), *d == session.dates))
            .collect(),
        require_custodian,
        pack_keys: crate::packs::pages::key_rows(&keys, &names, session),
    })
}

/// `GET /practice`.
async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    Signed(session): Signed,
) -> Result<PracticePage, AppError> {
    admin_only(&session)?;
    practice_page(
        &state,
        &req,
        &session,
        None,
        String::new(),
        FieldErrors::default(),
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InviteForm {
    email: String,
    role: String,
}

/// `POST /practice/invites`: a one-time link, shown once.
async fn invite(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<InviteForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    admin_only(&session)?;
    let email = account::normalize_email(&form.form.email);
    let mut errors = forms::check_email(&email);
    let e = email.clone();
    if errors.is_empty()
        && state
            .db(move |conn| Ok(account::find_by_email(conn, &e)?))
            .await?
            .is_some()
    {
        errors.add(
            "email",
            "That email already has an account in this practice.",
        );
    }
    if !errors.is_empty() {
        return render(
            StatusCode::BAD_REQUEST,
            &practice_page(&state, &req, &session, None, form.form.email, errors).await?,
        );
    }
    let role = if form.form.role == "admin" {
        Role::Admin
    } else {
        Role::Therapist
    };
    let (token, by) = (random_token(), session.therapist);
    let stored = token.clone();
    state
        .db(move |conn| {
            let id = invites::create(conn, by, &stored, &email, role)?;
            audit::record(conn, Some(by), Action::InviteCreate, Some(id.0))?;
            Ok(())
        })
        .await?;
    render(
        StatusCode::OK,
        &practice_page(
            &state,
            &req,
            &session,
            Some(token),
            String::new(),
            FieldErrors::default(),
        )
        .await?,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DatesForm {
    date_style: String,
}

/// `POST /practice/dates`: how the practice writes dates and times.
async fn set_dates(
    state: web::Data<AppState>,
    form: SignedForm<DatesForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    admin_only(&session)?;
    let style = DateStyle::parse(&form.form.date_style);
    let by = session.therapist;
    state
        .db(move |conn| {
            account::set_date_style(conn, style)?;
            audit::record(conn, Some(by), Action::PracticeSettings, None)?;
            Ok(())
        })
        .await?;
    Ok(see_other("/practice"))
}

async fn set_active(
    state: &AppState,
    session: &CurrentSession,
    raw: &str,
    active: bool,
) -> Result<HttpResponse, AppError> {
    admin_only(session)?;
    let Ok(id) = raw.parse::<TherapistId>() else {
        return Err(AppError::not_found());
    };
    if id == session.therapist {
        return Err(AppError::conflict("You cannot turn off your own account."));
    }
    let by = session.therapist;
    let action = if active {
        Action::AccountEnable
    } else {
        Action::AccountDisable
    };
    let changed = state
        .db(move |conn| {
            let changed = account::set_active(conn, id, active)?;
            if changed {
                audit::record(conn, Some(by), action, Some(id.0))?;
            }
            Ok(changed)
        })
        .await?;
    if !changed {
        return Err(AppError::not_found());
    }
    Ok(see_other("/practice"))
}

/// `POST /practice/accounts/{id}/disable`: the account's sessions end at once.
async fn disable(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_active(&state, &form.session, &path, false).await
}

/// `POST /practice/accounts/{id}/enable`.
async fn enable(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_active(&state, &form.session, &path, true).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LicenceForm {
    level: String,
}

/// `POST /practice/accounts/{id}/licence`: associate or licensed.
async fn set_licence(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<LicenceForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    admin_only(&session)?;
    let id: TherapistId = path.parse().map_err(|_| AppError::not_found())?;
    let level = match form.form.level.as_str() {
        "associate" => "associate",
        "licensed" => "licensed",
        _ => return Err(AppError::bad_request("Choose associate or licensed.")),
    };
    let by = session.therapist;
    let changed = state
        .db(move |conn| {
            let changed = account::set_licence_level(conn, id, level)?;
            if changed {
                audit::record(conn, Some(by), Action::LicenceLevel, Some(id.0))?;
            }
            Ok(changed)
        })
        .await?;
    if !changed {
        return Err(AppError::not_found());
    }
    Ok(see_other("/practice"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RequireForm {
    require: String,
}

/// `POST /practice/custodians`: whether every therapist must name a
/// records custodian.
async fn require_custodians(
    state: web::Data<AppState>,
    form: SignedForm<RequireForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    admin_only(&session)?;
    let (on, by) = (form.form.require == "yes", session.therapist);
    state
        .db(move |conn| {
            account::set_custodian_required(conn, on)?;
            audit::record(conn, Some(by), Action::PracticeSettings, None)?;
            Ok(())
        })
        .await?;
    Ok(see_other("/practice"))
}

const NOT_VALID: &str = "This invitation link is not valid any more: it may have been used already, or be more than 7 days old. Ask your practice's administrator for a new one.";

#[derive(Template, WebTemplate)]
#[template(path = "auth/invite.html")]
struct InvitePage {
    layout: Layout,
    csrf_token: String,
    action: String,
    email: String,
    display_name: String,
    errors: FieldErrors,
}

async fn live_invite(state: &AppState, token: &str) -> Result<invites::Invite, AppError> {
    let token = token.to_owned();
    state
        .db(move |conn| Ok(invites::live(conn, &token)?))
        .await?
        .ok_or_else(|| AppError::Gone(NOT_VALID.into()))
}

/// `GET /invite/{token}`.
async fn accept_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let invite = live_invite(&state, &path).await?;
    with_pre_session_token(&req, |csrf_token| {
        let page = InvitePage {
            layout: Layout::anonymous(),
            csrf_token,
            action: format!("/invite/{path}"),
            email: invite.email,
            display_name: String::new(),
            errors: FieldErrors::default(),
        };
        render(StatusCode::OK, &page)
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AcceptForm {
    display_name: String,
    password: String,
    password_confirm: String,
}

/// `POST /invite/{token}`: the invitee's own account and recovery code.
async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    AnonForm(f): AnonForm<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    let invite = live_invite(&state, &path).await?;
    let errors = forms::check_new_account(
        &f.display_name,
        &invite.email,
        &f.password,
        &f.password_confirm,
    );
    if !errors.is_empty() {
        let page = InvitePage {
            layout: Layout::anonymous(),
            csrf_token: pre_session_token(&req).0,
            action: format!("/invite/{path}"),
            email: invite.email,
            display_name: f.display_name,
            errors,
        };
        return render(StatusCode::BAD_REQUEST, &page);
    }
    let permit = state.kdf_permit()?;
    let (kdf, email, role) = (state.config.kdf, invite.email.clone(), invite.role());
    let enrolment = web::block(move || {
        let _permit = permit;
        Enrolment::new(&email, &f.display_name, role, &f.password, kdf)
    })
    .await?
    .map_err(AppError::internal)?;
    let (ua, invite_id) = (user_agent(&req), invite.id);
    let token = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                // Used once: only the first acceptance claims it.
                if !invites::claim(conn, invite_id)? {
                    return Ok(None);
                }
                match enrolment.insert(conn, now()) {
                    // The email got an account meanwhile: roll the claim back too.
                    Err(err) if is_unique_violation(&err) => {
                        return Err(AppError::conflict("That email already has an account in this practice. Sign in instead, or ask your administrator."));
                    }
                    other => other?,
                }
                audit::record(
                    conn,
                    Some(enrolment.id),
                    Action::InviteAccept,
                    Some(invite_id.0),
                )?;
                Ok(Some(session::sign_in(
                    conn,
                    enrolment.id,
                    &enrolment.dk,
                    Some(&enrolment.recovery_code),
                    ua.as_deref(),
                )?))
            })
        })
        .await?
        .ok_or_else(|| AppError::Gone(NOT_VALID.into()))?;
    with_new_session(super::extract::RECOVERY_CODE_PATH, &token)
}
