//! The pages of the auth area (templates under `templates/auth/`).

use askama::Template;

use crate::web::Layout;
use crate::web::form::FieldErrors;

/// `/setup`: create the practice's first account.
#[derive(Template)]
#[template(path = "auth/setup.html")]
pub struct SetupPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub display_name: String,
    pub email: String,
    pub practice_name: String,
    pub errors: FieldErrors,
    pub password_hint: String,
}

/// `/account/recovery-code`: the code, shown until confirmed as stored.
#[derive(Template)]
#[template(path = "auth/recovery_code.html")]
pub struct RecoveryCodePage {
    pub layout: Layout,
    pub csrf_token: String,
    pub groups: Vec<String>,
    pub errors: FieldErrors,
}

/// A calm line at the top of the sign-in page.
pub struct Notice {
    pub text: &'static str,
}

/// `/login`.
#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub email: String,
    pub next: String,
    pub notice: Option<Notice>,
    pub error: Option<String>,
    pub insecure: bool,
    /// Always empty: sign-in reports one message for the whole form.
    pub errors: FieldErrors,
}

/// `/login/code`: the second step of signing in.
#[derive(Template)]
#[template(path = "auth/login_code.html")]
pub struct CodePage {
    pub layout: Layout,
    pub csrf_token: String,
    pub next: String,
    pub error: Option<&'static str>,
}
