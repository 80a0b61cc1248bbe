//! Accounts and sign-in: setup of the first account and its recovery code
//! (`setup`), signing in and out with throttling and the two-factor step
//! (`signin`, `login`), a therapist's own settings (`settings`,
//! `two_factor`), recovery with the printed code (`recover`), and the
//! administrator's page with invitations (`practice`). The models:
//! `account` (therapists), `session` (sessions), `throttle`, `totp`,
//! `invites`. The extractors in `extract` are what every signed-in page of
//! every area asks for.

pub mod account;
pub mod extract;
pub mod forms;
pub mod invites;
pub mod login;
pub mod pages;
pub mod practice;
pub mod recover;
pub mod session;
pub mod settings;
pub mod setup;
pub mod signin;
pub mod throttle;
pub mod totp;
pub mod two_factor;

use actix_web::{HttpResponse, web};

use crate::crypto::session::SessionToken;
use crate::web::{AppError, Layout, Nav, cookies, see_other};
use session::CurrentSession;

/// Register the auth routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(setup::configure)
        .configure(signin::configure)
        .configure(settings::configure)
        .configure(two_factor::configure)
        .configure(recover::configure)
        .configure(practice::configure);
}

/// The layout for a signed-in page, with `current` marking the open section.
pub fn layout_for(session: &CurrentSession, current: &'static str) -> Layout {
    Layout::signed_in(Nav {
        display_name: session.display_name.clone(),
        csrf_token: session.csrf_token.clone(),
        current,
        is_admin: session.role == account::Role::Admin,
    })
}

/// 303 to `location` with the cookie of a session just started.
pub fn with_new_session(location: &str, token: &SessionToken) -> Result<HttpResponse, AppError> {
    let mut res = see_other(location);
    res.add_cookie(&cookies::session(token.encode().to_string()))
        .map_err(AppError::internal)?;
    Ok(res)
}
