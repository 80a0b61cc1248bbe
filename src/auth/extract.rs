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
    Expired,
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
            let config = state.config.clone();
            match state
                .db(move |conn| Ok(session::load(conn, &token, &config)?))
                .await?
            {
                Lookup::Active(s) => Loaded::Active(Rc::new(s)),
                Lookup::Expired => Loaded::Expired,
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
        Loaded::Expired => Err(AppError::SignInRequired {
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
                Loaded::Expired => Err(AppError::SignInRequired {
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
                Loaded::Expired => {
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

/// A form that holds a therapist's writing (notes, addenda, client records).
///
/// Like [`SignedForm`], except that when the session has ended the typed
/// fields are not lost: the visitor gets a sign-in page that carries them
/// back to the same action ([`AppError::ReauthRequired`]). When that page is
/// sent with the right password, this extractor signs the therapist in and
/// hands the handler the form with `resumed` set: the handler must then show
/// the filled form again, unsaved, for the therapist to check and save.
pub struct WritingForm<T> {
    /// The (possibly new) session.
    pub session: Rc<CurrentSession>,
    /// The form's fields.
    pub form: T,
    /// The raw pairs, for repeated and dynamic fields.
    pub pairs: Pairs,
    /// Set when the therapist has just signed in again: the new session
    /// cookie to send with the re-shown form.
    pub resumed: Option<actix_web::cookie::Cookie<'static>>,
}

const REAUTH_EMAIL: &str = "reauth_email";
const REAUTH_PASSWORD: &str = "reauth_password";
const REAUTH_CODE: &str = "reauth_code";

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
                Loaded::Active(session) if session.needs_second_factor => resume(&req, pairs).await,
                Loaded::Active(session) => {
                    check_token(pairs.get("csrf_token"), Some(&session.csrf_token))?;
                    let form = pairs.deserialize()?;
                    Ok(Self {
                        session,
                        form,
                        pairs,
                        resumed: None,
                    })
                }
                Loaded::Expired | Loaded::Missing => resume(&req, pairs).await,
            }
        })
    }
}

async fn resume<T: DeserializeOwned>(
    req: &HttpRequest,
    pairs: Pairs,
) -> Result<WritingForm<T>, AppError> {
    let fields = pairs.without(&["csrf_token", REAUTH_EMAIL, REAUTH_PASSWORD, REAUTH_CODE]);
    let action = req.uri().path().to_owned();
    let email = pairs.get(REAUTH_EMAIL).unwrap_or_default().to_owned();
    let reauth = |error: Option<&str>| AppError::ReauthRequired {
        action: action.clone(),
        fields: fields.clone(),
        email: email.clone(),
        error: error.map(str::to_owned),
    };
    let Some(password) = pairs.get(REAUTH_PASSWORD) else {
        return Err(reauth(None));
    };
    // The sign-in page carried a pre-session token; without it, this could
    // be another site replaying a password it somehow holds.
    let cookie = req.cookie(cookies::PRE_SESSION_CSRF);
    if check_token(pairs.get("csrf_token"), cookie.as_ref().map(|c| c.value())).is_err() {
        return Err(reauth(Some(
            "That sign-in form had expired. Please enter your password again.",
        )));
    }
    let state = state(req)?;
    match super::login::attempt(req, &state, &email, password).await? {
        super::login::Attempt::Success { token, .. } => {
            let cookie = cookies::session(token.encode().to_string());
            let config = state.config.clone();
            let session = match state
                .db(move |conn| Ok(session::load(conn, &token, &config)?))
                .await?
            {
                Lookup::Active(s) => Rc::new(s),
                Lookup::Expired | Lookup::Missing => {
                    return Err(reauth(Some(super::login::FAILED)));
                }
            };
            let form = pairs.deserialize()?;
            Ok(WritingForm {
                session,
                form,
                pairs,
                resumed: Some(cookie),
            })
        }
        super::login::Attempt::SecondFactor { token } => {
            let cookie = cookies::session(token.encode().to_string());
            let config = state.config.clone();
            let Lookup::Active(session) = state
                .db(move |conn| Ok(session::load(conn, &token, &config)?))
                .await?
            else {
                return Err(reauth(Some(super::login::FAILED)));
            };
            let code = pairs.get(REAUTH_CODE).unwrap_or_default().to_owned();
            let (id, dk, waiting) = (session.therapist, session.dk.duplicate(), session.id);
            let address = crate::web::client::throttle_address(req, &state.config);
            let s = Rc::new(session);
            let outcome = state
                .db(move |conn| {
                    Ok(super::login::second_factor(
                        conn, waiting, id, &dk, &code, &address,
                    )?)
                })
                .await?;
            if let super::login::SecondFactor::Locked(secs) = outcome {
                return Err(AppError::TooManyRequests(secs));
            }
            let ok = outcome == super::login::SecondFactor::Accepted;
            if ok {
                state.signed_in(s.therapist, &s.dk);
            }
            if !ok {
                return Err(reauth(Some(
                    "Enter the current code from your authenticator app (or a backup code) as well as your password.",
                )));
            }
            let form = pairs.deserialize()?;
            Ok(WritingForm {
                session: s,
                form,
                pairs,
                resumed: Some(cookie),
            })
        }
        super::login::Attempt::Failed => Err(reauth(Some(super::login::FAILED))),
        super::login::Attempt::Disabled => Err(reauth(Some(super::login::DISABLED))),
    }
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
                Loaded::Expired | Loaded::Missing => None,
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
