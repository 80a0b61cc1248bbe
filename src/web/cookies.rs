//! The two cookies Tearsheet sets, with the attributes the security design fixes.
//!
//! `__Host-` cookies must be Secure, Path=/ and carry no Domain; browsers
//! accept Secure cookies over plain http only on loopback addresses.

use actix_web::cookie::{Cookie, SameSite, time::Duration};

/// The session cookie's name.
pub const SESSION: &str = "__Host-tearsheet";
/// The pre-session CSRF cookie that protects the sign-in and setup forms.
pub const PRE_SESSION_CSRF: &str = "__Host-tearsheet-csrf";

fn strict(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// The session cookie for a new session (a browser-session cookie: no expiry).
pub fn session(value: String) -> Cookie<'static> {
    strict(SESSION, value)
}

/// A cookie that removes the session cookie.
pub fn session_removal() -> Cookie<'static> {
    let mut c = strict(SESSION, String::new());
    c.set_max_age(Duration::ZERO);
    c
}

/// The pre-session CSRF cookie.
pub fn pre_session_csrf(value: String) -> Cookie<'static> {
    strict(PRE_SESSION_CSRF, value)
}
