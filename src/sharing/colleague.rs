//! Choosing a colleague to share with: found by email, shown with the
//! fingerprint of their public key for the therapist to confirm.

use diesel::prelude::*;

use crate::auth::account::{self, Therapist};
use crate::db::DbConn;
use crate::ids::TherapistId;

/// A colleague as the confirmation page shows them.
#[derive(Clone, Debug)]
pub struct Colleague {
    /// Their account.
    pub id: TherapistId,
    /// Their name.
    pub name: String,
    /// How they sign (name, credentials, licence).
    pub signature: String,
    /// The fingerprint of their public key, as the database holds it now.
    pub fingerprint: String,
    /// Whether they are licensed (not an associate).
    pub licensed: bool,
}

/// Why a colleague cannot be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotChosen {
    /// No active account has that email (or it is the therapist's own).
    NoSuchColleague,
    /// They have never signed in since keys were introduced, so they have
    /// no key pair yet.
    NoKeyYet,
}

impl NotChosen {
    /// What the form says.
    pub fn message(self) -> &'static str {
        match self {
            Self::NoSuchColleague => {
                "No colleague in this practice has that email. Check it, or ask the administrator to invite them."
            }
            Self::NoKeyYet => {
                "That colleague has not signed in since keys for sharing were introduced. Ask them to sign in once, then try again."
            }
        }
    }
}

fn colleague(conn: &mut DbConn, t: Therapist) -> QueryResult<Result<Colleague, NotChosen>> {
    let Some(public) = super::keys::public_key(conn, t.id)? else {
        return Ok(Err(NotChosen::NoKeyYet));
    };
    Ok(Ok(Colleague {
        id: t.id,
        signature: t.signature(),
        licensed: t.licence_level == "licensed",
        name: t.display_name,
        fingerprint: public.fingerprint(),
    }))
}

/// The active colleague with this email, other than `me`.
pub fn by_email(
    conn: &mut DbConn,
    me: TherapistId,
    email: &str,
) -> QueryResult<Result<Colleague, NotChosen>> {
    match account::find_by_email(conn, email.trim())? {
        Some(t) if t.id != me && t.is_active() => colleague(conn, t),
        _ => Ok(Err(NotChosen::NoSuchColleague)),
    }
}

/// The colleague with this id (active or not), other than `me`.
pub fn by_id(
    conn: &mut DbConn,
    me: TherapistId,
    id: TherapistId,
) -> QueryResult<Result<Colleague, NotChosen>> {
    match account::find(conn, id)? {
        Some(t) if t.id != me => colleague(conn, t),
        _ => Ok(Err(NotChosen::NoSuchColleague)),
    }
}
