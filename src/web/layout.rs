//! What `templates/base.html` needs from every page.

/// The frame around a page: navigation when signed in.
pub struct Layout {
    /// Present when a therapist is signed in.
    pub nav: Option<Nav>,
    /// Asset version, for cache busting.
    pub version: &'static str,
}

/// The signed-in navigation bar.
pub struct Nav {
    /// The therapist's display name (not PHI: it is their own).
    pub display_name: String,
    /// The session's CSRF token, for the sign-out form.
    pub csrf_token: String,
    /// Which section is open, for `aria-current`.
    pub current: &'static str,
    /// Whether to offer the practice page.
    pub is_admin: bool,
}

impl Layout {
    /// A page for a visitor who is not signed in (and every error page).
    pub fn anonymous() -> Self {
        Self {
            nav: None,
            version: super::assets::VERSION,
        }
    }

    /// A page for a signed-in therapist.
    pub fn signed_in(nav: Nav) -> Self {
        Self {
            nav: Some(nav),
            version: super::assets::VERSION,
        }
    }
}

/// What a page shows in place of a sealed field that failed to open.
pub const DAMAGED: &str =
    "⚠ This part of the record failed an integrity check, so it is not shown.";

/// The opened text, or the integrity notice. Never another record's text:
/// a moved or altered blob fails to open.
pub fn shown(field: &crate::crypto::Opened<String>) -> String {
    match field {
        Ok(text) => text.clone(),
        Err(_) => DAMAGED.to_owned(),
    }
}

/// Today's date in the server's local time zone, as `YYYY-MM-DD`.
pub fn today() -> String {
    chrono::Local::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

/// 1000000 as "1,000,000".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
