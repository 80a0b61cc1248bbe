//! Invitations to join the practice: the `invites` table. The link carries
//! a random token; only its hash is stored, with the email, the role and an
//! expiry. Accepting claims the row atomically, so a link works once.

use diesel::prelude::*;

use super::account::Role;
use crate::crypto::hash_parts;
use crate::db::schema::invites;
use crate::db::{DbConn, now};
use crate::ids::{InviteId, TherapistId};

/// How long an invitation link works.
pub const LIFETIME: i64 = 7 * 24 * 60 * 60;

fn token_hash(token: &str) -> Vec<u8> {
    hash_parts(&[b"tearsheet/v1/invite", token.as_bytes()]).to_vec()
}

#[derive(Insertable)]
#[diesel(table_name = invites)]
struct NewInvite<'a> {
    id: InviteId,
    token_hash: &'a [u8],
    email: &'a str,
    role: &'a str,
    created_by: TherapistId,
    created_at: i64,
    expires_at: i64,
}

/// An invitation that can still be accepted.
#[derive(Queryable, Selectable)]
#[diesel(table_name = invites)]
pub struct Invite {
    /// Row id.
    pub id: InviteId,
    /// Who is invited.
    pub email: String,
    /// As what (`admin` or `therapist`).
    pub role: String,
    /// When the link stops working.
    pub expires_at: i64,
}

impl Invite {
    /// The role the account will have.
    pub fn role(&self) -> Role {
        Role::parse(&self.role)
    }
}

/// Store an invitation for `email` whose link carries `token`.
pub fn create(
    conn: &mut DbConn,
    by: TherapistId,
    token: &str,
    email: &str,
    role: Role,
) -> QueryResult<InviteId> {
    let (id, at) = (InviteId::generate(), now());
    diesel::insert_into(invites::table)
        .values(NewInvite {
            id,
            token_hash: &token_hash(token),
            email,
            role: role.as_str(),
            created_by: by,
            created_at: at,
            expires_at: at + LIFETIME,
        })
        .execute(conn)?;
    Ok(id)
}

/// The live invitation this link's token names, if any.
pub fn live(conn: &mut DbConn, token: &str) -> QueryResult<Option<Invite>> {
    invites::table
        .filter(invites::token_hash.eq(token_hash(token)))
        .filter(invites::used_at.is_null())
        .filter(invites::expires_at.gt(now()))
        .select(Invite::as_select())
        .first(conn)
        .optional()
}

/// Invitations not yet accepted and not expired, newest first.
pub fn pending(conn: &mut DbConn) -> QueryResult<Vec<Invite>> {
    invites::table
        .filter(invites::used_at.is_null())
        .filter(invites::expires_at.gt(now()))
        .order(invites::created_at.desc())
        .select(Invite::as_select())
        .load(conn)
}

/// Mark an invitation used, if it still can be: `false` when another
/// acceptance got there first or it expired.
pub fn claim(conn: &mut DbConn, id: InviteId) -> QueryResult<bool> {
    let at = now();
    let claimed = diesel::update(
        invites::table
            .find(id)
            .filter(invites::used_at.is_null())
            .filter(invites::expires_at.gt(at)),
    )
    .set(invites::used_at.eq(at))
    .execute(conn)?;
    Ok(claimed == 1)
}
