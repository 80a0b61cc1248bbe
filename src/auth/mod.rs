//! Accounts and sign-in: setup of the first account, the recovery code,
//! sign-in with throttling, sessions, and sign-out.

pub mod account;
pub mod extract;
pub mod login;
pub mod pages;
pub mod practice;
pub mod recover;
pub mod routes;
pub mod session;
pub mod settings;
pub mod throttle;
pub mod totp;

use actix_web::web;

use crate::web::{Layout, Nav};
use session::CurrentSession;

/// Register the auth routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(routes::index))
        .route("/setup", web::get().to(routes::setup_form))
        .route("/setup", web::post().to(routes::setup_submit))
        .route(
            extract::RECOVERY_CODE_PATH,
            web::get().to(routes::recovery_code),
        )
        .route(
            extract::RECOVERY_CODE_PATH,
            web::post().to(routes::recovery_code_stored),
        )
        .route("/login", web::get().to(routes::login_form))
        .route("/login", web::post().to(routes::login_submit))
        .route("/logout", web::post().to(routes::logout))
        .configure(settings::configure)
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
