//! The inbox tables: each therapist's write-only tokens (a hash of each,
//! the name sealed under their DK) and the drafts tools posted (sealed to
//! the therapist's public key before they were stored).

use diesel::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::crypto::share::PublicKey;
use crate::crypto::{DataKey, Record};
use crate::db::schema::{inbox_drafts, inbox_tokens, therapists};
use crate::db::{DbConn, now};
use crate::ids::{InboxDraftId, InboxTokenId, TherapistId};

/// Posts one token may make in a minute.
pub const POSTS_PER_MINUTE: i32 = 20;
/// Drafts a therapist's inbox may hold before posts are refused.
pub const MAX_WAITING: i64 = 500;

/// What a token looks like: a prefix that says what it is (so a secret
/// scanner can find a leaked one) and 256 random bits.
pub const TOKEN_PREFIX: &str = "tsin_";

/// The stored hash of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn name_record(dk: &DataKey, therapist: TherapistId, id: InboxTokenId) -> Record<'_> {
    Record::new(dk, therapist.0, "inbox_tokens", id.0)
}

/// Make a token named `name` for drafts sealed to `public_key` (the
/// therapist's own, from their session's keys); returns the token, to be
/// shown once.
pub fn create_token(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    public_key: &PublicKey,
    name: &str,
) -> QueryResult<(InboxTokenId, String)> {
    let id = InboxTokenId::generate();
    let token = format!("{TOKEN_PREFIX}{}", crate::crypto::random_token());
    diesel::insert_into(inbox_tokens::table)
        .values((
            inbox_tokens::id.eq(id),
            inbox_tokens::therapist_id.eq(therapist),
            inbox_tokens::name.eq(name_record(dk, therapist, id).seal("name", name)),
            inbox_tokens::token_hash.eq(token_hash(&token)),
            inbox_tokens::key_tag.eq(crate::crypto::token_key_tag(&token, &public_key.0).to_vec()),
            inbox_tokens::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok((id, token))
}

/// A token as its therapist sees it.
pub struct TokenView {
    /// Row id.
    pub id: InboxTokenId,
    /// Its name (or a notice if it failed its integrity check).
    pub name: String,
    /// When made.
    pub created_at: i64,
    /// When last used.
    pub last_used_at: Option<i64>,
    /// When revoked.
    pub revoked_at: Option<i64>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = inbox_tokens)]
struct TokenRow {
    id: InboxTokenId,
    name: Vec<u8>,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// A therapist's tokens, newest first.
pub fn tokens(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
) -> QueryResult<Vec<TokenView>> {
    let rows: Vec<TokenRow> = inbox_tokens::table
        .filter(inbox_tokens::therapist_id.eq(therapist))
        .order(inbox_tokens::created_at.desc())
        .select(TokenRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| TokenView {
            id: r.id,
            name: name_record(dk, therapist, r.id)
                .open("name", &r.name)
                .unwrap_or_else(|_| crate::web::layout::DAMAGED.to_owned()),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
        .collect())
}

/// Revoke one of this therapist's tokens; false if not theirs or already revoked.
pub fn revoke(conn: &mut DbConn, therapist: TherapistId, id: InboxTokenId) -> QueryResult<bool> {
    let n = diesel::update(
        inbox_tokens::table
            .filter(inbox_tokens::id.eq(id))
            .filter(inbox_tokens::therapist_id.eq(therapist))
            .filter(inbox_tokens::revoked_at.is_null()),
    )
    .set(inbox_tokens::revoked_at.eq(now()))
    .execute(conn)?;
    Ok(n == 1)
}

/// Whom a presented token posts for.
pub enum Bearer {
    /// A live token of an active therapist with a key pair.
    Live {
        /// The token's row.
        token: InboxTokenId,
        /// Its therapist.
        therapist: TherapistId,
        /// Their public key, which drafts are sealed to.
        public_key: PublicKey,
    },
    /// Unknown, revoked, or its therapist turned off.
    Refused,
    /// The therapist's public key is not the one the token was made for:
    /// someone changed it in the database. Nothing is sealed to it.
    KeyChanged(TherapistId),
    /// Over its rate limit: try again after this many seconds.
    TooMany(i64),
    /// The therapist's inbox is full.
    Full,
}

/// Check a presented token, and count the post against its rate limit.
/// An unknown or revoked token costs one read and no write; the count is
/// kept in the database (every app server shares it) by single-statement
/// updates, so concurrent posts cannot both take the last place.
pub fn admit(conn: &mut DbConn, token: &str) -> QueryResult<Bearer> {
    let hash = token_hash(token);
    let row: Option<(InboxTokenId, TherapistId, Option<i64>, Vec<u8>)> = inbox_tokens::table
        .filter(inbox_tokens::token_hash.eq(&hash))
        .select((
            inbox_tokens::id,
            inbox_tokens::therapist_id,
            inbox_tokens::revoked_at,
            inbox_tokens::key_tag,
        ))
        .first(conn)
        .optional()?;
    let Some((id, therapist, None, tag)) = row else {
        return Ok(Bearer::Refused);
    };
    let (status, public_key): (String, Option<Vec<u8>>) = therapists::table
        .find(therapist)
        .select((therapists::status, therapists::public_key))
        .first(conn)?;
    if status != "active" {
        return Ok(Bearer::Refused);
    }
    let Some(public_key) = public_key.as_deref().and_then(PublicKey::from_slice) else {
        return Ok(Bearer::Refused);
    };
    let expected = crate::crypto::token_key_tag(token, &public_key.0);
    if !crate::crypto::constant_time_eq(&expected, &tag) {
        return Ok(Bearer::KeyChanged(therapist));
    }
    let at = now();
    let live = inbox_tokens::table
        .filter(inbox_tokens::id.eq(id))
        .filter(inbox_tokens::revoked_at.is_null());
    // A new minute: the count starts again at this post.
    let fresh = diesel::update(live.filter(inbox_tokens::window_start.le(at - 60)))
        .set((
            inbox_tokens::window_start.eq(at),
            inbox_tokens::window_count.eq(1),
            inbox_tokens::last_used_at.eq(at),
        ))
        .execute(conn)?;
    if fresh == 0 {
        let counted = diesel::update(
            live.filter(inbox_tokens::window_start.gt(at - 60))
                .filter(inbox_tokens::window_count.lt(POSTS_PER_MINUTE)),
        )
        .set((
            inbox_tokens::window_count.eq(inbox_tokens::window_count + 1),
            inbox_tokens::last_used_at.eq(at),
        ))
        .execute(conn)?;
        if counted == 0 {
            let start: Option<i64> = inbox_tokens::table
                .find(id)
                .select(inbox_tokens::window_start)
                .first(conn)
                .optional()?;
            return Ok(match start {
                Some(start) => Bearer::TooMany((60 - (at - start)).clamp(1, 60)),
                None => Bearer::Refused,
            });
        }
    }
    if waiting(conn, therapist)? >= MAX_WAITING {
        return Ok(Bearer::Full);
    }
    Ok(Bearer::Live {
        token: id,
        therapist,
        public_key,
    })
}

/// Store a draft already sealed to its therapist.
pub fn put(
    conn: &mut DbConn,
    id: InboxDraftId,
    therapist: TherapistId,
    token: InboxTokenId,
    sealed: &[u8],
) -> QueryResult<()> {
    diesel::insert_into(inbox_drafts::table)
        .values((
            inbox_drafts::id.eq(id),
            inbox_drafts::therapist_id.eq(therapist),
            inbox_drafts::token_id.eq(token.0),
            inbox_drafts::sealed.eq(sealed),
            inbox_drafts::received_at.eq(now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// How many drafts wait in a therapist's inbox.
pub fn waiting(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<i64> {
    inbox_drafts::table
        .filter(inbox_drafts::therapist_id.eq(therapist))
        .count()
        .get_result(conn)
}

/// A waiting draft, still sealed.
#[derive(Queryable, Selectable)]
#[diesel(table_name = inbox_drafts)]
pub struct SealedDraft {
    /// Row id.
    pub id: InboxDraftId,
    /// The token that posted it.
    pub token_id: i64,
    /// Sealed to the therapist.
    pub sealed: Vec<u8>,
    /// When it arrived.
    pub received_at: i64,
}

/// A therapist's waiting drafts, newest first.
pub fn drafts(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Vec<SealedDraft>> {
    inbox_drafts::table
        .filter(inbox_drafts::therapist_id.eq(therapist))
        .order(inbox_drafts::received_at.desc())
        .select(SealedDraft::as_select())
        .load(conn)
}

/// One of this therapist's waiting drafts.
pub fn draft(
    conn: &mut DbConn,
    therapist: TherapistId,
    id: InboxDraftId,
) -> QueryResult<Option<SealedDraft>> {
    inbox_drafts::table
        .filter(inbox_drafts::id.eq(id))
        .filter(inbox_drafts::therapist_id.eq(therapist))
        .select(SealedDraft::as_select())
        .first(conn)
        .optional()
}

/// Delete one of this therapist's drafts; false if there was none.
pub fn remove(conn: &mut DbConn, therapist: TherapistId, id: InboxDraftId) -> QueryResult<bool> {
    let n = diesel::delete(
        inbox_drafts::table
            .filter(inbox_drafts::id.eq(id))
            .filter(inbox_drafts::therapist_id.eq(therapist)),
    )
    .execute(conn)?;
    Ok(n == 1)
}
