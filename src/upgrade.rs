//! Bringing a therapist's sealed data to the current format.
//!
//! Sealed values can only be opened with the therapist's data key, which
//! the server holds only while they are signed in; so data written in an
//! older form is moved to the current one right after they sign in, in the
//! background, a batch per transaction. It is resumable: a crash or a stop
//! halfway leaves every row readable (old and new forms both open) and the
//! next sign-in carries on. The therapist's `data_format` says when there
//! is nothing left to do, so later sign-ins cost one read.
//!
//! Format 2 binds every value that belongs to another record to it (blob
//! version 2; see `crypto`): a note to its client, an earlier version or an
//! addendum to its note, a given handout to its client.
//!
//! Format 3 moves everything that belongs to a client from the therapist's
//! DK to the client's own key (made at sign-in, before this runs), so it
//! can be shared; private process notes stay under DK. Until a row is
//! moved it opens with DK as before.

use diesel::prelude::*;

use crate::crypto::{DataKey, Keys};
use crate::db::schema::therapists;
use crate::db::{DbConn, DbPool};
use crate::ids::{ClientId, GivenHandoutId, MeasureId, NoteId, TherapistId};

/// The data format this build writes.
pub const CURRENT: i32 = 3;
/// Rows per transaction: small, so other writers never wait long.
const BATCH: i64 = 200;

/// Bring a therapist's data to [`CURRENT`], if it is not there yet. Returns
/// whether anything was to do.
pub fn run(conn: &mut DbConn, therapist: TherapistId, dk: &DataKey) -> QueryResult<bool> {
    let format: Option<i32> = therapists::table
        .find(therapist)
        .select(therapists::data_format)
        .first(conn)
        .optional()?;
    if format.is_none_or(|f| f >= CURRENT) {
        return Ok(false);
    }
    // The client keys the sign-in made, opened once for the whole run.
    let keys: Keys = crate::sharing::keys::load(conn, therapist, dk.duplicate(), 0)?;
    let keys = &keys;
    let mut after = ClientId(0);
    while let Some(last) =
        crate::clients::model::upgrade_batch(conn, therapist, keys, after, BATCH)?
    {
        after = last;
    }
    let mut after = NoteId(0);
    while let Some(last) =
        crate::notes::upgrade::upgrade_batch(conn, therapist, keys, after, BATCH)?
    {
        after = last;
    }
    let mut after = GivenHandoutId(0);
    while let Some(last) =
        crate::handouts::given::upgrade_batch(conn, therapist, keys, after, BATCH)?
    {
        after = last;
    }
    let mut after = MeasureId(0);
    while let Some(last) =
        crate::measures::model::upgrade_batch(conn, therapist, keys, after, BATCH)?
    {
        after = last;
    }
    diesel::update(therapists::table.find(therapist))
        .set(therapists::data_format.eq(CURRENT))
        .execute(conn)?;
    Ok(true)
}

/// Start [`run`] in the background after a sign-in. It takes its own copy
/// of the data key, dropped (and zeroed) when done.
pub fn start(pool: &DbPool, therapist: TherapistId, dk: &DataKey) {
    let (pool, dk) = (pool.clone(), dk.duplicate());
    actix_web::rt::task::spawn_blocking(move || {
        let outcome = pool
            .get()
            .map_err(anyhow::Error::new)
            .and_then(|mut conn| run(&mut conn, therapist, &dk).map_err(anyhow::Error::new));
        match outcome {
            Ok(true) => tracing::info!(
                therapist = therapist.0,
                "sealed data brought to the current format"
            ),
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(therapist = therapist.0, error = %err, "bringing sealed data to the current format stopped; it resumes at the next sign-in")
            }
        }
    });
}
