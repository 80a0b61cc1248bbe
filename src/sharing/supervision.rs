//! Supervision: an associate's licensed supervisor, who reads their signed
//! notes (never a private process note) and co-signs or returns them.
//!
//! The model is the `supervisions` table; the supervisor's keys are
//! envelopes made by the associate's own session (`grants`), so the
//! administrator who names a supervisor on an associate's behalf reads
//! nothing, and sharing waits for the associate's next sign-in.

use diesel::prelude::*;

use super::grants::{self, Grant};

use super::keys::KeyChanged;
use crate::audit::{self, Action};
use crate::crypto::Keys;
use crate::crypto::share::Purpose;
use crate::db::schema::{supervisions, therapists};
use crate::db::{DbConn, now, write_transaction};
use crate::ids::{SupervisionId, TherapistId};

/// A supervision's row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = supervisions)]
pub struct SupervisionRow {
    /// Row id.
    pub id: SupervisionId,
    /// The associate.
    pub supervisee_id: TherapistId,
    /// The supervisor.
    pub supervisor_id: TherapistId,
    /// The supervisor's fingerprint as confirmed when named.
    pub fingerprint: String,
    /// Who named them (the associate, or the administrator).
    pub named_by: TherapistId,
    /// When named.
    pub created_at: i64,
    /// When the associate's session first shared their caseload.
    pub shared_at: Option<i64>,
    /// When it ended.
    pub ended_at: Option<i64>,
    /// When keys were rotated after it ended.
    pub rotated_at: Option<i64>,
    /// The associate's consent, sealed under their DK.
    pub grant_sealed: Option<Vec<u8>>,
}

impl SupervisionRow {
    /// The grant this supervision makes, for checking and sharing.
    pub fn grant(&self) -> Grant {
        Grant {
            recipient: self.supervisor_id,
            purpose: Purpose::Supervision,
            fingerprint: self.fingerprint.clone(),
            row: self.id.0,
            sealed: self.grant_sealed.clone(),
        }
    }
}

/// The associate's current supervision, if any.
pub fn open_of(conn: &mut DbConn, supervisee: TherapistId) -> QueryResult<Option<SupervisionRow>> {
    supervisions::table
        .filter(supervisions::supervisee_id.eq(supervisee))
        .filter(supervisions::ended_at.is_null())
        .select(SupervisionRow::as_select())
        .first(conn)
        .optional()
}

/// Why a supervisor could not be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotNamed {
    /// A supervision is already open; end it first.
    AlreadySupervised,
    /// The colleague's key is not the one confirmed (or pinned before).
    KeyChanged,
}

/// Name `supervisor` for `supervisee`, as confirmed with `fingerprint`.
/// With the associate's own keys (`keys`), the caseload is shared at once,
/// after checking the key against their pins; otherwise (the
/// administrator acting for them) it is a proposal, which shares nothing
/// until the associate accepts it in their own session ([`accept`]).
pub fn name(
    conn: &mut DbConn,
    supervisee: TherapistId,
    supervisor: TherapistId,
    fingerprint: &str,
    named_by: TherapistId,
    keys: Option<&Keys>,
) -> QueryResult<Result<SupervisionId, NotNamed>> {
    write_transaction(conn, |conn| {
        if open_of(conn, supervisee)?.is_some() {
            return Ok(Err(NotNamed::AlreadySupervised));
        }
        let id = SupervisionId::generate();
        diesel::insert_into(supervisions::table)
            .values((
                supervisions::id.eq(id),
                supervisions::supervisee_id.eq(supervisee),
                supervisions::supervisor_id.eq(supervisor),
                supervisions::fingerprint.eq(fingerprint),
                supervisions::named_by.eq(named_by),
                supervisions::created_at.eq(now()),
            ))
            .execute(conn)?;
        audit::record(conn, Some(named_by), Action::SupervisionNamed, Some(id.0))?;
        if let Some(keys) = keys {
            if share_now(conn, keys, id)?.is_err() {
                // Nothing named, nothing shared: roll the insert back, but
                // keep the refusal in the trail.
                return Err(diesel::result::Error::RollbackTransaction);
            }
        }
        Ok(Ok(id))
    })
    .or_else(|err| match err {
        diesel::result::Error::RollbackTransaction => {
            audit::record(
                conn,
                Some(supervisee),
                Action::KeyMismatch,
                Some(supervisor.0),
            )?;
            Ok(Err(NotNamed::KeyChanged))
        }
        other => Err(other),
    })
}

/// The associate consents (sealing the grant under their DK) and shares
/// their caseload with the supervisor of supervision `id`.
fn share_now(
    conn: &mut DbConn,
    keys: &Keys,
    id: SupervisionId,
) -> QueryResult<Result<(), KeyChanged>> {
    let row: SupervisionRow = supervisions::table
        .find(id)
        .select(SupervisionRow::as_select())
        .first(conn)?;
    let mut grant = row.grant();
    let consent = grant.consent(keys);
    grant.sealed = Some(consent.clone());
    let clients = grants::caseload(conn, row.supervisee_id)?;
    if let Err(changed) = grants::share(conn, keys, &grant, &clients, true)? {
        return Ok(Err(changed));
    }
    diesel::update(supervisions::table.find(id))
        .set((
            supervisions::grant_sealed.eq(consent),
            supervisions::shared_at.eq(now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        Some(row.supervisee_id),
        Action::SupervisionShared,
        Some(row.supervisor_id.0),
    )?;
    Ok(Ok(()))
}

/// The associate accepts a supervisor the administrator proposed, having
/// compared its fingerprint on their own page. `Ok(false)` if there was no
/// proposal waiting.
pub fn accept(
    conn: &mut DbConn,
    keys: &Keys,
    fingerprint: &str,
) -> QueryResult<Result<bool, KeyChanged>> {
    let me = TherapistId(keys.therapist());
    write_transaction(conn, |conn| {
        let Some(open) = open_of(conn, me)? else {
            return Ok(Ok(false));
        };
        if open.grant_sealed.is_some() || open.fingerprint != fingerprint {
            return Ok(Ok(false));
        }
        match share_now(conn, keys, open.id)? {
            Ok(()) => Ok(Ok(true)),
            Err(_) => Err(diesel::result::Error::RollbackTransaction),
        }
    })
    .or_else(|err| match err {
        diesel::result::Error::RollbackTransaction => {
            audit::record(conn, Some(me), Action::KeyMismatch, None)?;
            Ok(Err(KeyChanged))
        }
        other => Err(other),
    })
}

/// End the associate's supervision: the supervisor's envelopes are deleted
/// at once; with the associate's own keys, every client key is rotated now
/// (otherwise at their next sign-in). Returns the supervision ended.
pub fn end(
    conn: &mut DbConn,
    supervisee: TherapistId,
    by: TherapistId,
    keys: Option<&Keys>,
) -> QueryResult<Option<SupervisionRow>> {
    write_transaction(conn, |conn| {
        let Some(open) = open_of(conn, supervisee)? else {
            return Ok(None);
        };
        diesel::update(supervisions::table.find(open.id))
            .set(supervisions::ended_at.eq(now()))
            .execute(conn)?;
        audit::record(conn, Some(by), Action::SupervisionEnd, Some(open.id.0))?;
        let mut withdrawn = 0;
        for client in grants::caseload(conn, supervisee)? {
            withdrawn +=
                super::keys::withdraw(conn, client, open.supervisor_id, Purpose::Supervision)?;
        }
        if withdrawn > 0 {
            audit::record(
                conn,
                Some(by),
                Action::EnvelopesWithdrawn,
                Some(open.supervisor_id.0),
            )?;
        }
        if let Some(keys) = keys {
            grants::rotate_caseload(conn, keys)?;
            diesel::update(supervisions::table.find(open.id))
                .set(supervisions::rotated_at.eq(now()))
                .execute(conn)?;
        }
        Ok(Some(open))
    })
}

/// The associates `supervisor` supervises now (whose caseload has been
/// shared), with their names, by name.
pub fn supervisees(
    conn: &mut DbConn,
    supervisor: TherapistId,
) -> QueryResult<Vec<(SupervisionRow, String)>> {
    supervisions::table
        .inner_join(therapists::table.on(therapists::id.eq(supervisions::supervisee_id)))
        .filter(supervisions::supervisor_id.eq(supervisor))
        .filter(supervisions::ended_at.is_null())
        .filter(supervisions::shared_at.is_not_null())
        .order(therapists::display_name.asc())
        .select((SupervisionRow::as_select(), therapists::display_name))
        .load(conn)
}

/// Whether `supervisor` supervises `supervisee` now.
pub fn supervises(
    conn: &mut DbConn,
    supervisor: TherapistId,
    supervisee: TherapistId,
) -> QueryResult<bool> {
    let n: i64 = supervisions::table
        .filter(supervisions::supervisor_id.eq(supervisor))
        .filter(supervisions::supervisee_id.eq(supervisee))
        .filter(supervisions::ended_at.is_null())
        .filter(supervisions::shared_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
