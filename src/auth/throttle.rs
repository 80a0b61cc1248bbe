//! Failed sign-in counters, per account and per client address, in the
//! database so several app servers share them.
//!
//! Keys are hashes of the email as typed (so unknown emails lock exactly
//! like real ones, and a lock reveals nothing) or of the client address.

use diesel::prelude::*;

use crate::crypto::hash_parts;
use crate::db::schema::login_throttle;
use crate::db::{DbConn, is_unique_violation};

/// How many failures lock, for how long.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Failures within `window` before a lock.
    pub max_failures: i32,
    /// Seconds after the first failure that the count lasts.
    pub window: i64,
    /// First lock, in seconds; doubles with each further failure.
    pub base_lock: i64,
    /// Longest lock, in seconds.
    pub max_lock: i64,
}

/// Per account: five tries, then a minute, doubling to an hour.
pub const ACCOUNT: Policy = Policy {
    max_failures: 5,
    window: 15 * 60,
    base_lock: 60,
    max_lock: 60 * 60,
};
/// Per client address: fifty failures in a quarter hour, then a quarter hour.
pub const ADDRESS: Policy = Policy {
    max_failures: 50,
    window: 15 * 60,
    base_lock: 15 * 60,
    max_lock: 15 * 60,
};

/// The throttle key for an email as typed.
pub fn account_key(email: &str) -> Vec<u8> {
    hash_parts(&[
        b"tearsheet/v1/throttle/account",
        super::account::normalize_email(email).as_bytes(),
    ])
    .to_vec()
}

/// The throttle key for a client address.
pub fn address_key(address: &str) -> Vec<u8> {
    hash_parts(&[b"tearsheet/v1/throttle/address", address.as_bytes()]).to_vec()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = login_throttle)]
struct Row {
    failures: i32,
    first_failure_at: i64,
    locked_until: Option<i64>,
}

/// Seconds until the longest of these keys' locks ends, if any is locked.
pub fn locked_for(conn: &mut DbConn, keys: &[&[u8]], now: i64) -> QueryResult<Option<i64>> {
    let mut longest = None;
    for key in keys {
        let until: Option<Option<i64>> = login_throttle::table
            .find(*key)
            .select(login_throttle::locked_until)
            .first(conn)
            .optional()?;
        if let Some(until) = until.flatten().filter(|u| *u > now) {
            longest = longest.max(Some(until - now));
        }
    }
    Ok(longest)
}

/// Count a failure. Returns the lock's length when this failure locks.
pub fn record_failure(
    conn: &mut DbConn,
    key: &[u8],
    policy: Policy,
    now: i64,
) -> QueryResult<Option<i64>> {
    for _ in 0..3 {
        let result = crate::db::write_transaction(conn, |conn| {
            let row: Option<Row> = login_throttle::table
                .find(key)
                .select(Row::as_select())
                .first(conn)
                .optional()?;
            let (failures, first) = match row {
                Some(r)
                    if now - r.first_failure_at <= policy.window
                        || r.locked_until.is_some_and(|u| u > now) =>
                {
                    (r.failures.saturating_add(1), r.first_failure_at)
                }
                _ => (1, now),
            };
            let lock = (failures >= policy.max_failures).then(|| {
                let doublings = u32::try_from(failures - policy.max_failures)
                    .unwrap_or(0)
                    .min(20);
                (policy.base_lock << doublings).min(policy.max_lock)
            });
            let values = (
                login_throttle::failures.eq(failures),
                login_throttle::first_failure_at.eq(first),
                login_throttle::locked_until.eq(lock.map(|l| now + l)),
            );
            let updated = diesel::update(login_throttle::table.find(key))
                .set(values)
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(login_throttle::table)
                    .values((
                        login_throttle::key_hash.eq(key),
                        values.0,
                        values.1,
                        values.2,
                    ))
                    .execute(conn)?;
            }
            Ok(lock)
        });
        match result {
            Err(err) if is_unique_violation(&err) => continue,
            other => return other,
        }
    }
    Ok(None)
}

/// Forget failures after a successful sign-in.
pub fn clear(conn: &mut DbConn, key: &[u8]) -> QueryResult<()> {
    diesel::delete(login_throttle::table.find(key))
        .execute(conn)
        .map(|_| ())
}
