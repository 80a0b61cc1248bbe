//! The professional will: a therapist names a records custodian and a
//! waiting period. Envelopes for the custodian are made at once, but the
//! server uses them only after the custodian asks, the period passes and
//! the therapist has not refused (`keys::released_to`). This rests on the
//! server's word for the waiting period; the README says so.

use std::collections::HashMap;

use diesel::prelude::*;

use super::grants::{self, Grant};
use super::keys::KeyChanged;
use crate::audit::{self, Action};
use crate::crypto::Keys;
use crate::crypto::share::Purpose;
use crate::db::schema::{custodians, custody_requests, therapists};
use crate::db::{DbConn, now, write_transaction};
use crate::ids::{CustodyRequestId, TherapistId};

/// Days a custodian waits by default.
pub const DEFAULT_WAIT_DAYS: i32 = 7;
/// Seconds in a day of waiting.
pub const DAY: i64 = 24 * 60 * 60;

/// A therapist's named custodian.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = custodians)]
pub struct CustodianRow {
    /// The therapist.
    pub therapist_id: TherapistId,
    /// Their custodian.
    pub custodian_id: TherapistId,
    /// Days the therapist has to refuse a request.
    pub waiting_days: i32,
    /// The custodian's fingerprint as confirmed.
    pub fingerprint: String,
    /// When named.
    pub named_at: i64,
}

/// A custodian's request for access.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = custody_requests)]
pub struct RequestRow {
    /// Row id.
    pub id: CustodyRequestId,
    /// Whose records.
    pub therapist_id: TherapistId,
    /// Who asks.
    pub custodian_id: TherapistId,
    /// When asked.
    pub requested_at: i64,
    /// When access is released unless refused.
    pub release_at: i64,
    /// When the therapist refused it.
    pub refused_at: Option<i64>,
    /// When the custodian cancelled it.
    pub cancelled_at: Option<i64>,
}

impl RequestRow {
    /// Neither refused nor cancelled.
    pub fn is_open(&self) -> bool {
        self.refused_at.is_none() && self.cancelled_at.is_none()
    }

    /// Open and past its waiting period, by the custody clock `at`.
    pub fn is_released(&self, at: i64) -> bool {
        self.is_open() && self.release_at <= at
    }
}

/// Every therapist's named custodian.
pub fn named_custodians(conn: &mut DbConn) -> QueryResult<HashMap<TherapistId, TherapistId>> {
    Ok(custodians::table
        .select((custodians::therapist_id, custodians::custodian_id))
        .load::<(TherapistId, TherapistId)>(conn)?
        .into_iter()
        .collect())
}

/// A therapist's custodian, if named.
pub fn custodian_of(
    conn: &mut DbConn,
    therapist: TherapistId,
) -> QueryResult<Option<CustodianRow>> {
    custodians::table
        .find(therapist)
        .select(CustodianRow::as_select())
        .first(conn)
        .optional()
}

/// Withdraw a custodian: their envelopes deleted, open requests ended.
fn withdraw_custodian(conn: &mut DbConn, old: &CustodianRow) -> QueryResult<()> {
    for client in grants::caseload(conn, old.therapist_id)? {
        super::keys::withdraw(conn, client, old.custodian_id, Purpose::Custodian)?;
    }
    diesel::update(
        custody_requests::table
            .filter(custody_requests::therapist_id.eq(old.therapist_id))
            .filter(custody_requests::refused_at.is_null())
            .filter(custody_requests::cancelled_at.is_null()),
    )
    .set(custody_requests::cancelled_at.eq(now()))
    .execute(conn)?;
    diesel::delete(custodians::table.find(old.therapist_id)).execute(conn)?;
    audit::record(
        conn,
        Some(old.therapist_id),
        Action::CustodianRemoved,
        Some(old.custodian_id.0),
    )?;
    Ok(())
}

/// Name (or re-name) the keyring owner's custodian, sharing every client
/// with them at once (held back until released). Replacing another
/// custodian withdraws theirs and rotates every client key.
pub fn name(
    conn: &mut DbConn,
    keys: &Keys,
    custodian: TherapistId,
    waiting_days: i32,
    fingerprint: &str,
) -> QueryResult<Result<(), KeyChanged>> {
    let owner = TherapistId(keys.therapist());
    write_transaction(conn, |conn| {
        let previous = custodian_of(conn, owner)?;
        if let Some(old) = &previous {
            withdraw_custodian(conn, old)?;
            if old.custodian_id != custodian {
                grants::rotate_caseload(conn, keys)?;
            }
        }
        diesel::insert_into(custodians::table)
            .values((
                custodians::therapist_id.eq(owner),
                custodians::custodian_id.eq(custodian),
                custodians::waiting_days.eq(waiting_days),
                custodians::fingerprint.eq(fingerprint),
                custodians::named_at.eq(now()),
            ))
            .execute(conn)?;
        let mut grant = Grant {
            recipient: custodian,
            purpose: Purpose::Custodian,
            fingerprint: fingerprint.to_owned(),
            row: owner.0,
            sealed: None,
        };
        // The therapist's consent, sealed under their DK: only it lets
        // their sessions share with this custodian later.
        let consent = grant.consent(keys);
        grant.sealed = Some(consent.clone());
        diesel::update(custodians::table.find(owner))
            .set(custodians::grant_sealed.eq(consent))
            .execute(conn)?;
        let clients = grants::caseload(conn, owner)?;
        if grants::share(conn, keys, &grant, &clients, true)?.is_err() {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        audit::record(conn, Some(owner), Action::CustodianNamed, Some(custodian.0))?;
        Ok(Ok(()))
    })
    .or_else(|err| match err {
        diesel::result::Error::RollbackTransaction => {
            audit::record(conn, Some(owner), Action::KeyMismatch, Some(custodian.0))?;
            Ok(Err(KeyChanged))
        }
        other => Err(other),
    })
}

/// Remove the keyring owner's custodian: envelopes deleted, requests
/// ended, every client key rotated.
pub fn remove(conn: &mut DbConn, keys: &Keys) -> QueryResult<bool> {
    let owner = TherapistId(keys.therapist());
    write_transaction(conn, |conn| {
        let Some(old) = custodian_of(conn, owner)? else {
            return Ok(false);
        };
        withdraw_custodian(conn, &old)?;
        grants::rotate_caseload(conn, keys)?;
        Ok(true)
    })
}

/// Requests for a therapist's records still open (not refused or
/// cancelled), newest first.
pub fn open_requests(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Vec<RequestRow>> {
    custody_requests::table
        .filter(custody_requests::therapist_id.eq(therapist))
        .filter(custody_requests::refused_at.is_null())
        .filter(custody_requests::cancelled_at.is_null())
        .order(custody_requests::requested_at.desc())
        .select(RequestRow::as_select())
        .load(conn)
}

/// What a custodian sees of one therapist who named them.
pub struct Entrusted {
    /// The therapist.
    pub therapist: TherapistId,
    /// Their name.
    pub name: String,
    /// Whether their account is active.
    pub active: bool,
    /// Their waiting period.
    pub waiting_days: i32,
    /// The latest request, if any.
    pub latest: Option<RequestRow>,
}

/// Everyone who named `custodian`, by name.
pub fn entrusted_to(conn: &mut DbConn, custodian: TherapistId) -> QueryResult<Vec<Entrusted>> {
    let named: Vec<(TherapistId, i32, String, String)> = custodians::table
        .inner_join(therapists::table.on(therapists::id.eq(custodians::therapist_id)))
        .filter(custodians::custodian_id.eq(custodian))
        .order(therapists::display_name.asc())
        .select((
            custodians::therapist_id,
            custodians::waiting_days,
            therapists::display_name,
            therapists::status,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    for (therapist, waiting_days, name, status) in named {
        let latest = custody_requests::table
            .filter(custody_requests::therapist_id.eq(therapist))
            .filter(custody_requests::custodian_id.eq(custodian))
            .order(custody_requests::requested_at.desc())
            .select(RequestRow::as_select())
            .first(conn)
            .optional()?;
        out.push(Entrusted {
            therapist,
            name,
            active: status == "active",
            waiting_days,
            latest,
        });
    }
    Ok(out)
}

/// Why a request could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAsked {
    /// The therapist has not named this custodian.
    NotCustodian,
    /// A request is already open.
    AlreadyAsked,
}

/// `custodian` asks for `therapist`'s records at `at` (the custody clock).
/// Audited on both sides.
pub fn ask(
    conn: &mut DbConn,
    custodian: TherapistId,
    therapist: TherapistId,
    at: i64,
) -> QueryResult<Result<RequestRow, NotAsked>> {
    write_transaction(conn, |conn| {
        let Some(named) = custodian_of(conn, therapist)? else {
            return Ok(Err(NotAsked::NotCustodian));
        };
        if named.custodian_id != custodian {
            return Ok(Err(NotAsked::NotCustodian));
        }
        if !open_requests(conn, therapist)?.is_empty() {
            return Ok(Err(NotAsked::AlreadyAsked));
        }
        let row = RequestRow {
            id: CustodyRequestId::generate(),
            therapist_id: therapist,
            custodian_id: custodian,
            requested_at: at,
            release_at: at + i64::from(named.waiting_days) * DAY,
            refused_at: None,
            cancelled_at: None,
        };
        diesel::insert_into(custody_requests::table)
            .values((
                custody_requests::id.eq(row.id),
                custody_requests::therapist_id.eq(therapist),
                custody_requests::custodian_id.eq(custodian),
                custody_requests::requested_at.eq(row.requested_at),
                custody_requests::release_at.eq(row.release_at),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Some(custodian),
            Action::CustodyRequest,
            Some(row.id.0),
        )?;
        audit::record(
            conn,
            Some(therapist),
            Action::CustodyRequest,
            Some(row.id.0),
        )?;
        Ok(Ok(row))
    })
}

/// End an open request: cancelled by its custodian, or refused by the
/// therapist whose records it asks for (with their `keys`: a refusal after
/// the wait withdraws access the custodian already had, so every client
/// key is rotated). `at` is the custody clock. `false` if there was none.
pub fn end_request(
    conn: &mut DbConn,
    by: TherapistId,
    id: CustodyRequestId,
    refuse: Option<&Keys>,
    at: i64,
) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let Some(row) = custody_requests::table
            .find(id)
            .select(RequestRow::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(false);
        };
        let allowed = if refuse.is_some() {
            row.therapist_id == by
        } else {
            row.custodian_id == by
        };
        if !allowed || !row.is_open() {
            return Ok(false);
        }
        let target = custody_requests::table.find(id);
        if let Some(keys) = refuse {
            if row.is_released(at) {
                grants::rotate_caseload(conn, keys)?;
            }
            diesel::update(target)
                .set(custody_requests::refused_at.eq(now()))
                .execute(conn)?;
        } else {
            diesel::update(target)
                .set(custody_requests::cancelled_at.eq(now()))
                .execute(conn)?;
        }
        let action = if refuse.is_some() {
            Action::CustodyRefuse
        } else {
            Action::CustodyCancel
        };
        audit::record(conn, Some(row.custodian_id), action, Some(id.0))?;
        audit::record(conn, Some(row.therapist_id), action, Some(id.0))?;
        Ok(true)
    })
}

/// Where a sign-in lands: `next`, unless someone has asked for the
/// therapist's records, which they then see first (with a way on to
/// `next`), at every sign-in until they refuse or the request ends; or
/// unless the administrator proposed a supervisor, who waits for them.
pub async fn landing(
    state: &crate::web::AppState,
    therapist: TherapistId,
    next: &str,
) -> Result<String, crate::web::AppError> {
    let (asked, proposed) = state
        .db(move |conn| {
            Ok((
                !open_requests(conn, therapist)?.is_empty(),
                super::supervision::open_of(conn, therapist)?
                    .is_some_and(|s| s.grant_sealed.is_none()),
            ))
        })
        .await?;
    let encoded: String =
        percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC).collect();
    Ok(if asked {
        format!("/settings/custodian?asked=1&next={encoded}")
    } else if proposed {
        "/settings/supervision#proposal".to_owned()
    } else {
        next.to_owned()
    })
}
