//! The error type of the web layer, and which error belongs where.
//!
//! - Queries return diesel's `QueryResult`; model code never decides HTTP status.
//! - Handlers and extractors return [`AppError`], which picks the status and
//!   renders a friendly page in the site's layout. Constructors are named for
//!   intent (`not_found()`, `forbidden(..)`, `conflict(..)`).
//! - Start-up, CLI and background code use `anyhow`.
//!
//! An unexpected cause becomes an opaque 500 page; its full chain is logged
//! (never PHI: errors carry ids and kinds, not note text) under an incident id
//! that the page shows, so a therapist can quote it to whoever runs the server.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::layout::Layout;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request was malformed; the message says how to fix it.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: not allowed (a failed CSRF or origin check).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: no such page, or not yours.
    #[error("not found")]
    NotFound,
    /// 410: a link that worked once and does not any more.
    #[error("gone: {0}")]
    Gone(String),
    /// 409: the change collides with another.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 413: the body is larger than the limit, in bytes.
    #[error("payload larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 429: slow down; try again after this many seconds.
    #[error("too many requests; retry after {0}s")]
    TooManyRequests(i64),
    /// 503: busy right now; the message says what to do.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 303 to the sign-in page, remembering where the visitor was going.
    #[error("sign-in required")]
    SignInRequired {
        /// The local path to come back to.
        next: Option<String>,
        /// Whether an existing session ended (idle or too old).
        expired: bool,
    },
    /// 401: the session ended while the therapist was writing. The page asks
    /// them to sign in again and carries everything they typed back to the
    /// same action as hidden fields, so nothing is lost and nothing is kept
    /// on the server.
    #[error("session ended while writing")]
    ReauthRequired {
        /// Where the form was going (a local path).
        action: String,
        /// What was typed, minus tokens and credentials.
        fields: Vec<(String, String)>,
        /// The email to fill in (typed last time, or the account's whose
        /// session ended).
        email: String,
        /// Why the last try failed, if it did.
        error: Option<String>,
        /// Whether to ask for a two-factor code too.
        code: bool,
    },
    /// 409: a form came from a page of an earlier session (an old tab). The
    /// page carries what was typed back to the same action with this
    /// session's token, to be shown again and checked before anything is
    /// saved.
    #[error("form from an earlier session")]
    ResendRequired {
        /// Where the form was going (a local path).
        action: String,
        /// What was typed, minus tokens and credentials.
        fields: Vec<(String, String)>,
        /// This session's token.
        csrf_token: String,
    },
    /// 303 elsewhere. Not a failure: a guard that sends the visitor where
    /// they need to be first (such as the recovery-code page after setup).
    #[error("redirect")]
    Redirect(String),
    /// 500: anything unexpected. Logged in full, shown opaquely.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// 400 with a message for the person.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }
    /// 403 with a message for the person.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }
    /// 404.
    pub fn not_found() -> Self {
        Self::NotFound
    }
    /// 409 with a message for the person.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }
    /// 503 with a message for the person.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into())
    }
    /// 500 from any error.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Internal(anyhow::Error::new(err).context("database query failed"))
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(error = %err, "no database connection available in time");
        Self::unavailable(
            "The server is very busy right now. Please wait a moment and try again; nothing you typed has been saved yet.",
        )
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::Internal(anyhow::anyhow!("blocking task failed: {err}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    title: &'a str,
    message: &'a str,
    incident: Option<String>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::SignInRequired { .. } | Self::Redirect(_) => StatusCode::SEE_OTHER,
            Self::ReauthRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::ResendRequired { .. } => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let Self::SignInRequired { next, expired } = self {
            let mut location = String::from("/login");
            let mut query = Vec::new();
            if let Some(next) = next {
                query.push(("next", next.as_str()));
            }
            if *expired {
                query.push(("expired", "1"));
            }
            if !query.is_empty() {
                location.push('?');
                location.push_str(&serde_urlencoded::to_string(query).unwrap_or_default());
            }
            let mut res = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
            let _ = res.add_removal_cookie(&super::cookies::session_removal());
            return res;
        }
        if let Self::Redirect(location) = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location.as_str()))
                .finish();
        }
        if let Self::ReauthRequired {
            action,
            fields,
            email,
            error,
            code,
        } = self
        {
            return reauth_response(action, fields, email, error.as_deref(), *code);
        }
        if let Self::ResendRequired {
            action,
            fields,
            csrf_token,
        } = self
        {
            let page = ResendPage {
                layout: Layout::anonymous(),
                action,
                fields,
                csrf_token,
            };
            return match page.render() {
                Ok(body) => HttpResponse::Conflict()
                    .content_type("text/html; charset=utf-8")
                    .body(body),
                Err(err) => AppError::internal(err).error_response(),
            };
        }
        let incident = match self {
            Self::Internal(err) => {
                let id = data_encoding::HEXLOWER.encode(&crate::crypto::random_bytes::<4>());
                tracing::error!(incident = %id, error = ?err, "request failed");
                Some(id)
            }
            _ => None,
        };
        let (title, message): (&str, String) = match self {
            Self::BadRequest(m) => ("That request could not be understood", m.clone()),
            Self::Forbidden(m) => ("Not allowed", m.clone()),
            Self::NotFound => (
                "Page not found",
                "There is nothing at this address, or it is not yours to see. Check the link, or go back to your clients.".into(),
            ),
            Self::Conflict(m) => ("That change collided with another", m.clone()),
            Self::Gone(m) => ("This link has expired", m.clone()),
            Self::PayloadTooLarge(limit) => (
                "That was too large to accept",
                format!("This form takes at most {}. Nothing was saved; go back, shorten it and try again.", human_bytes(*limit)),
            ),
            Self::TooManyRequests(secs) => (
                "Too many attempts",
                format!("For safety, signing in is paused. Please try again in {}.", human_wait(*secs)),
            ),
            Self::Unavailable(m) => ("Busy right now", m.clone()),
            Self::Internal(_) => (
                "Something went wrong on our side",
                "The server could not finish this request. Nothing about your clients was shown or lost. Please try again; if it keeps happening, give the incident number below to whoever runs Tearsheet.".into(),
            ),
            Self::SignInRequired { .. }
            | Self::Redirect(_)
            | Self::ReauthRequired { .. }
            | Self::ResendRequired { .. } => ("Please sign in", String::new()),
        };
        let page = ErrorPage {
            layout: Layout::anonymous(),
            status: status.as_u16(),
            title,
            message: &message,
            incident,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {title}", status.as_u16()));
        let mut res = HttpResponse::build(status);
        res.content_type("text/html; charset=utf-8");
        if let Self::TooManyRequests(secs) = self {
            res.insert_header((header::RETRY_AFTER, secs.max(&1).to_string()));
        }
        if let Self::Unavailable(_) = self {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("2")));
        }
        res.body(body)
    }
}

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage<'a> {
    layout: Layout,
    action: &'a str,
    fields: &'a [(String, String)],
    email: &'a str,
    error: Option<&'a str>,
    code: bool,
    csrf_token: String,
}

#[derive(Template)]
#[template(path = "resend.html")]
struct ResendPage<'a> {
    layout: Layout,
    action: &'a str,
    fields: &'a [(String, String)],
    csrf_token: &'a str,
}

fn reauth_response(
    action: &str,
    fields: &[(String, String)],
    email: &str,
    error: Option<&str>,
    code: bool,
) -> HttpResponse {
    let csrf_token = crate::crypto::random_token();
    let page = ReauthPage {
        layout: Layout::anonymous(),
        action,
        fields,
        email,
        error,
        code,
        csrf_token: csrf_token.clone(),
    };
    let body = match page.render() {
        Ok(body) => body,
        Err(err) => return AppError::internal(err).error_response(),
    };
    let mut res = HttpResponse::Unauthorized()
        .content_type("text/html; charset=utf-8")
        .body(body);
    let _ = res.add_cookie(&super::cookies::pre_session_csrf(csrf_token));
    let _ = res.add_removal_cookie(&super::cookies::session_removal());
    res
}

/// "2 MB", "64 KB": limits as people read them.
pub fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{} MB", n >> 20)
    } else {
        format!("{} KB", (n >> 10).max(1))
    }
}

/// "a minute", "5 minutes", "30 seconds".
pub fn human_wait(secs: i64) -> String {
    match secs {
        ..=1 => "a second".into(),
        2..=59 => format!("{secs} seconds"),
        60..=119 => "a minute".into(),
        _ => format!("{} minutes", (secs + 59) / 60),
    }
}
