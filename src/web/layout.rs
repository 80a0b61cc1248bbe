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
