//! Extractors that make a handler's signature say what it needs.
//!
//! - [`Signed`]: a signed-in therapist (else a redirect to sign in).
//! - [`SignedForm`]: a signed-in therapist and a form carrying their
//!   session's CSRF token (else 403). Every state-changing signed-in route
//!   takes one, so the check cannot be forgotten.
//! - [`AnonForm`]: a form before sign-in (setup, sign-in) carrying the
//!   pre-session CSRF cookie's value.
//! - [`MaybeSigned`]: whoever is there.
//!
//! The session is loaded once per request and cached in its extensions.

use std::rc::Rc;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::session::{self, CurrentSession, Lookup};
use crate::crypto::constant_time_eq;
use crate::crypto::session::SessionToken;
use crate::web::cookies;
use crate::web::form::{FormLimit, Pairs, SMALL_FORM_LIMIT, read_body};
use crate::web::{AppError, AppState};

/// Where to send a visitor whose recovery code is not yet confirmed.
pub const RECOVERY_CODE_PATH: &str = "/account/recovery-code";

#[derive(Clone)]
enum Loaded {
    Active(Rc<CurrentSession>),
    /// The session of this account just ended (idle or too old).
    Expired(crate::ids::TherapistId),
    Missing,
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("application state is not registered")))
}

async fn load(req: &HttpRequest) -> Result<Loaded, AppError> {
    if let Some(loaded) = req.extensions().get::<Loaded>() {
        return Ok(loaded.clone());
    }
    let token = req
        .cookie(cookies::SESSION)
        .and_then(|c| SessionToken::decode(c.value()));
    let loaded = match token {
        None => Loaded::Missing,
        Some(token) => {
            let state = state(req)?;
            let shared = state.clone();
            match state
                .db(move |conn| Ok(session::load(conn, &token, &shared.config, &shared.memory)?))
                .await?
            {
                Lookup::Active(s) => Loaded::Active(Rc::new(s)),
                Lookup::Expired(therapist) => Loaded::Expired(therapist),
                Lookup::Missing => Loaded::Missing,
            }
        }
    };
    req.extensions_mut().insert(loaded.clone());
    Ok(loaded)
}

/// The local path to come back to after signing in (GET pages only).
fn next_for(req: &HttpRequest) -> Option<String> {
    (req.method() == Method::GET)
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
        .flatten()
}

/// Where a session that still needs its two-factor code is sent.
pub const SECOND_FACTOR_PATH: &str = "/login/code";

async fn require(req: &HttpRequest, allow_pending: bool) -> Result<Rc<CurrentSession>, AppError> {
    match load(req).await? {
        Loaded::Active(s)
            if s.needs_second_factor && !(allow_pending && req.path() == "/logout") =>
        {
            Err(AppError::Redirect(SECOND_FACTOR_PATH.to_owned()))
        }
        Loaded::Active(s) if s.pending_recovery.is_some() && !allow_pending => {
            Err(AppError::Redirect(RECOVERY_CODE_PATH.to_owned()))
        }
        Loaded::Active(s) => Ok(s),
        Loaded::Expired(_) => Err(AppError::SignInRequired {
            next: next_for(req),
            expired: true,
        }),
        Loaded::Missing => Err(AppError::SignInRequired {
            next: next_for(req),
            expired: false,
        }),
    }
}

/// Check a CSRF token read some other way (a multipart upload) against the session's.
pub fn verify_csrf(session: &CurrentSession, sent: Option<&str>) -> Result<(), AppError> {
    check_token(sent, Some(&session.csrf_token))
}

fn form_limit(req: &HttpRequest) -> usize {
    req.app_data::<FormLimit>()
        .map_or(SMALL_FORM_LIMIT, |l| l.0)
}

fn check_token(sent: Option<&str>, expected: Option<&str>) -> Result<(), AppError> {
    match (sent, expected) {
        (Some(sent), Some(expected)) if constant_time_eq(sent.as_bytes(), expected.as_bytes()) => {
            Ok(())
        }
        _ => Err(AppError::forbidden(
            "This form's security token was missing or out of date, so nothing was changed. Go back, reload the page and send it again.",
        )),
    }
}

async fn signed_form<T: DeserializeOwned>(
    req: HttpRequest,
    payload: Payload,
    allow_pending: bool,
) -> Result<(Rc<CurrentSession>, T), AppError> {
    let session = require(&req, allow_pending).await?;
    let body = read_body(&req, payload, form_limit(&req)).await?;
    let pairs = Pairs::parse(&body)?;
    check_token(pairs.get("csrf_token"), Some(&session.csrf_token))?;
    Ok((session, pairs.deserialize()?))
}

/// A session that has the right password and waits for its two-factor code.
pub struct AwaitingCode(pub Rc<CurrentSession>);

impl FromRequest for AwaitingCode {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match load(&req).await? {
                Loaded::Active(s) if s.needs_second_factor => Ok(Self(s)),
                Loaded::Active(_) => Err(AppError::Redirect("/clients".to_owned())),
                Loaded::Expired(_) => Err(AppError::SignInRequired {
                    next: None,
                    expired: true,
                }),
                Loaded::Missing => Err(AppError::SignInRequired {
                    next: None,
                    expired: false,
                }),
            }
        })
    }
}

/// The code form of a session waiting for its second factor, CSRF-checked.
pub struct CodeForm<T> {
    /// The waiting session.
    pub session: Rc<CurrentSession>,
    /// The form's fields.
    pub form: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for CodeForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let session = match load(&req).await? {
                Loaded::Active(s) if s.needs_second_factor => s,
                Loaded::Active(_) => return Err(AppError::Redirect("/clients".to_owned())),
                Loaded::Expired(_) => {
                    return Err(AppError::SignInRequired {
                        next: None,
                        expired: true,
                    });
                }
                Loaded::Missing => {
                    return Err(AppError::SignInRequired {
                        next: None,
                        expired: false,
                    });
                }
            };
            let body = read_body(&req, payload, form_limit(&req)).await?;
            let pairs = Pairs::parse(&body)?;
            check_token(pairs.get("csrf_token"), Some(&session.csrf_token))?;
            Ok(Self {
                session,
                form: pairs.deserialize()?,
            })
        })
    }
}

/// A signed-in therapist whose recovery code is confirmed.
pub struct Signed(pub Rc<CurrentSession>);

impl FromRequest for Signed {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { require(&req, false).await.map(Signed) })
    }
}

/// A signed-in therapist, even one who has not yet confirmed their recovery code.
pub struct SignedPending(pub Rc<CurrentSession>);

impl FromRequest for SignedPending {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { require(&req, true).await.map(SignedPending) })
    }
}

/// A state-changing form from a signed-in therapist, CSRF-checked.
pub struct SignedForm<T> {
    /// The session.
    pub session: Rc<CurrentSession>,
    /// The form's fields.
    pub form: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for SignedForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let (session, form) = signed_form(req, payload, false).await?;
            Ok(Self { session, form })
        })
    }
}

/// Like [`SignedForm`], but also before the recovery code is confirmed
/// (for confirming it, and for signing out).
pub struct PendingForm<T> {
    /// The session.
    pub session: Rc<CurrentSession>,
    /// The form's fields.
    pub form: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for PendingForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let (session, form) = signed_form(req, payload, true).await?;
            Ok(Self { session, form })
        })
    }
}

/// A form that holds a therapist's writing (notes, addenda, client
/// records, a handout's personal note).
///
/// Like [`SignedForm`], except that typed text is never lost:
/// - when the session has ended, the visitor gets a sign-in page that
///   carries every field back to the same action
///   ([`AppError::ReauthRequired`]), with their email filled in and the
///   two-factor field only if their account uses it;
/// - when the form comes from a page of an earlier session (an old tab,
///   after signing in again elsewhere), it gets a page that carries the
///   fields back with this session's token ([`AppError::ResendRequired`]).
///
/// Either way, when the fields come back the handler gets them with
/// `resumed` set, and must show the filled form again, unsaved, for the
/// therapist to check and save.
pub struct WritingForm<T> {
    /// The (possibly new) session.
    pub session: Rc<CurrentSession>,
    /// The form's fields.
    pub form: T,
    /// The raw pairs, for repeated and dynamic fields.
    pub pairs: Pairs,
    /// The fields came back through a sign-in or resend page: show them
    /// again, do not act on them yet.
    pub resumed: bool,
    /// The new session's cookie, after signing in again, to send with the
    /// page.
    pub cookie: Option<actix_web::cookie::Cookie<'static>>,
}

const REAUTH_EMAIL: &str = "reauth_email";
const REAUTH_PASSWORD: &str = "reauth_password";
const REAUTH_CODE: &str = "reauth_code";
/// Marks fields carried back by a sign-in or resend page.
pub const RESUMED: &str = "resumed";

/// The typed fields, without tokens, credentials or markers.
fn carried(pairs: &Pairs) -> Vec<(String, String)> {
    pairs.without(&[
        "csrf_token",
        REAUTH_EMAIL,
        REAUTH_PASSWORD,
        REAUTH_CODE,
        RESUMED,
    ])
}

impl<T: DeserializeOwned + 'static> FromRequest for WritingForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let loaded = load(&req).await?;
            let body = read_body(&req, payload, form_limit(&req)).await?;
            let pairs = Pairs::parse(&body)?;
            match loaded {
                Loaded::Active(session) if session.pending_recovery.is_some() => {
                    Err(AppError::Redirect(RECOVERY_CODE_PATH.to_owned()))
                }
                Loaded::Active(session) if session.needs_second_factor => {
                    resume(&req, pairs, None).await
                }
                Loaded::Active(session) => {
                    let sent = pairs.get("csrf_token");
                    if let Err(refused) = check_token(sent, Some(&session.csrf_token)) {
                        // No token at all is no page of ours: refused. A
                        // token from an earlier session is an old tab
                        // (the cookie is SameSite=Strict, so never another
                        // site's): its work comes back to be sent again.
                        if sent.is_none_or(str::is_empty) {
                            return Err(refused);
                        }
                        return Err(AppError::ResendRequired {
                            action: req.uri().path().to_owned(),
                            fields: carried(&pairs),
                            csrf_token: session.csrf_token.clone(),
                        });
                    }
                    let form = pairs.deserialize()?;
                    Ok(Self {
                        session,
                        form,
                        resumed: pairs.get(RESUMED).is_some(),
                        pairs,
                        cookie: None,
                    })
                }
                Loaded::Expired(therapist) => resume(&req, pairs, Some(therapist)).await,
                Loaded::Missing => resume(&req, pairs, None).await,
            }
        })
    }
}

/// Sign in again from the sign-in page a [`WritingForm`] sent, or send that
/// page (again). `known` is the account whose session just ended, if that
/// is known: its email is filled in, and the code field shown if it uses
/// two-factor sign-in.
async fn resume<T: DeserializeOwned>(
    req: &HttpRequest,
    pairs: Pairs,
    known: Option<crate::ids::TherapistId>,
) -> Result<WritingForm<T>, AppError> {
    let state = state(req)?;
    let account = match known {
        Some(id) => {
            state
                .db(move |conn| Ok(super::account::find(conn, id)?))
                .await?
        }
        None => None,
    };
    let typed = pairs.get(REAUTH_EMAIL).unwrap_or_default();
    let email = if typed.is_empty() {
        account
            .as_ref()
            .map(|a| a.email.clone())
            .unwrap_or_default()
    } else {
        typed.to_owned()
    };
    let wants_code = account.as_ref().is_some_and(|a| a.totp_secret.is_some())
        || pairs.get(REAUTH_CODE).is_some();
    let reauth = |error: Option<&str>, code: bool| AppError::ReauthRequired {
        action: req.uri().path().to_owned(),
        fields: carried(&pairs),
        email: email.clone(),
        error: error.map(str::to_owned),
        code,
    };
    let Some(password) = pairs.get(REAUTH_PASSWORD) else {
        return Err(reauth(None, wants_code));
    };
    // The sign-in page carried a pre-session token; without it, this could
    // be another site replaying a password it somehow holds.
    let cookie = req.cookie(cookies::PRE_SESSION_CSRF);
    if check_token(pairs.get("csrf_token"), cookie.as_ref().map(|c| c.value())).is_err() {
        return Err(reauth(
            Some("That sign-in form had expired. Please enter your password again."),
            wants_code,
        ));
    }
    let token = match super::login::attempt(req, &state, &email, password).await? {
        super::login::Attempt::Success { token, .. } => token,
        super::login::Attempt::SecondFactor { token } => token,
        super::login::Attempt::Failed => {
            return Err(reauth(Some(super::login::FAILED), wants_code));
        }
        super::login::Attempt::Disabled => {
            return Err(reauth(Some(super::login::DISABLED), wants_code));
        }
    };
    let cookie = cookies::session(token.encode().to_string());
    let shared = state.clone();
    let Lookup::Active(session) = state
        .db(move |conn| Ok(session::load(conn, &token, &shared.config, &shared.memory)?))
        .await?
    else {
        return Err(reauth(Some(super::login::FAILED), wants_code));
    };
    if session.needs_second_factor {
        let code = pairs.get(REAUTH_CODE).unwrap_or_default().to_owned();
        if code.trim().is_empty() {
            return Err(reauth(
                Some(
                    "Your account uses two-factor sign-in: enter your password again with the code your app shows now (or a backup code).",
                ),
                true,
            ));
        }
        let (id, dk, waiting) = (session.therapist, session.dk.duplicate(), session.id);
        let address = crate::web::client::throttle_address(req, &state.config);
        let outcome = state
            .db(move |conn| {
                Ok(super::login::second_factor(
                    conn, waiting, id, &dk, &code, &address,
                )?)
            })
            .await?;
        match outcome {
            super::login::SecondFactor::Locked(secs) => {
                return Err(AppError::TooManyRequests(secs));
            }
            super::login::SecondFactor::Refused => {
                return Err(reauth(
                    Some(
                        "That code does not match, or it was already used. Enter your password again with the code your app shows now, or a backup code.",
                    ),
                    true,
                ));
            }
            super::login::SecondFactor::Accepted => {
                state.signed_in(session.therapist, &session.dk);
            }
        }
    }
    let form = pairs.deserialize()?;
    Ok(WritingForm {
        session: Rc::new(session),
        form,
        pairs,
        resumed: true,
        cookie: Some(cookie),
    })
}

/// A form sent before sign-in, checked against the pre-session CSRF cookie.
pub struct AnonForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for AnonForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let body = read_body(&req, payload, form_limit(&req)).await?;
            let pairs = Pairs::parse(&body)?;
            let cookie = req.cookie(cookies::PRE_SESSION_CSRF);
            check_token(pairs.get("csrf_token"), cookie.as_ref().map(|c| c.value()))?;
            Ok(Self(pairs.deserialize()?))
        })
    }
}

/// Whoever is there: a live session, or none.
pub struct MaybeSigned(pub Option<Rc<CurrentSession>>);

impl FromRequest for MaybeSigned {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            Ok(Self(match load(&req).await? {
                Loaded::Active(s) => Some(s),
                Loaded::Expired(_) | Loaded::Missing => None,
            }))
        })
    }
}

/// The pre-session CSRF token for a sign-in or setup page: the browser's
/// existing cookie value, or a new one to set.
pub fn pre_session_token(req: &HttpRequest) -> (String, bool) {
    match req.cookie(cookies::PRE_SESSION_CSRF) {
        Some(c) if c.value().len() >= 32 => (c.value().to_owned(), false),
        _ => (crate::crypto::random_token(), true),
    }
}

/// Render a page that carries a pre-session form (setup, sign-in, recovery,
/// an invitation): the page gets the token, and the browser the cookie that
/// matches it if it had none yet.
pub fn with_pre_session_token(
    req: &HttpRequest,
    page: impl FnOnce(String) -> Result<actix_web::HttpResponse, AppError>,
) -> Result<actix_web::HttpResponse, AppError> {
    let (token, fresh) = pre_session_token(req);
    let mut res = page(token.clone())?;
    if fresh {
        res.add_cookie(&cookies::pre_session_csrf(token))
            .map_err(AppError::internal)?;
    }
    Ok(res)
}
