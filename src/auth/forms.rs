//! Checks on what people type into the account forms (setup, invitations,
//! recovery, a new password), and where a sign-in may send them next.

use crate::web::form::FieldErrors;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 1024;

/// The hint beside a new password.
pub fn password_hint() -> String {
    format!("At least {MIN_PASSWORD_CHARS} characters. A few unrelated words work well.")
}

/// Only local paths: never another site, never a scheme-relative URL.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    (local && next.len() <= 2000 && !next.chars().any(char::is_control)).then(|| next.to_owned())
}

/// Check an email address as typed.
pub fn check_email(email: &str) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let email = email.trim();
    let plausible = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if email.is_empty() {
        errors.add("email", "Enter the email address you will sign in with.");
    } else if !plausible {
        errors.add("email", "Enter an email address like name@example.org.");
    }
    errors
}

/// Check a new password and its confirmation, reporting against the two
/// named fields.
pub fn check_new_password(
    password: &str,
    confirm: &str,
    (password_field, confirm_field): (&'static str, &'static str),
) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        errors.add(password_field, format!("Use at least {MIN_PASSWORD_CHARS} characters. A few unrelated words make a strong password that is easy to remember."));
    } else if chars > MAX_PASSWORD_CHARS {
        errors.add(
            password_field,
            format!("Use at most {MAX_PASSWORD_CHARS} characters."),
        );
    } else if password != confirm {
        errors.add(
            confirm_field,
            "The two passwords are different. Type the same password in both boxes.",
        );
    }
    errors
}

/// A therapist's name as colleagues and clients know it: present, and
/// under 100 characters.
pub fn check_name(display_name: &str) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let name = display_name.trim();
    if name.is_empty() {
        errors.add(
            "display_name",
            "Enter your name as colleagues and clients know it.",
        );
    } else if name.chars().count() > 100 {
        errors.add("display_name", "Keep your name under 100 characters.");
    }
    errors
}

/// Check a new account's fields, as typed.
pub fn check_new_account(
    display_name: &str,
    email: &str,
    password: &str,
    confirm: &str,
) -> FieldErrors {
    let mut errors = check_name(display_name);
    errors.extend(check_email(email));
    errors.extend(check_new_password(
        password,
        confirm,
        ("password", "password_confirm"),
    ));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next(Some("/clients?x=1")), Some("/clients?x=1".into()));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "clients",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn new_accounts_need_a_name_an_email_and_a_long_matching_password() {
        assert!(
            check_new_account("Ada", "ada@example.org", "long enough pw", "long enough pw")
                .is_empty()
        );
        let e = check_new_account("", "nope", "short", "short");
        assert!(e.get("display_name").is_some());
        assert!(e.get("email").is_some());
        assert!(e.get("password").is_some());
        let e = check_new_account("Ada", "ada@example.org", "long enough pw", "long enough px");
        assert!(e.get("password_confirm").is_some());
        let e = check_new_password("short", "short", ("new_password", "new_password_confirm"));
        assert!(e.get("new_password").is_some());
    }
}
