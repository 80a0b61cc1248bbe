//! Handing a client to a colleague (the `transfers` table). The owner (or,
//! for an account turned off, its records custodian once access is
//! released) offers the client: every version of the client's key goes to
//! the colleague in envelopes. Accepting re-seals those keys under the new
//! owner's DK, moves every row of the client to them, deletes everyone
//! else's keys and starts a new key version, so the previous therapist and
//! anyone they shared with lose access. Private process notes stay sealed
//! under their author's DK: the new owner never sees them.

use diesel::prelude::*;

use super::keys::{self, KeyChanged, KeyRow, OWNER};
use crate::audit::{self, Action};
use crate::crypto::Keys;
use crate::crypto::share::Purpose;
use crate::db::schema::{
    addenda, client_keys, clients, handouts_given, measures, note_versions, notes, therapists,
    transfers,
};
use crate::db::{DbConn, now, write_transaction};
use crate::ids::{ClientId, TherapistId, TransferId};

/// A transfer's row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = transfers)]
pub struct TransferRow {
    /// Row id.
    pub id: TransferId,
    /// The client.
    pub client_id: ClientId,
    /// The owner it moves from.
    pub from_id: TherapistId,
    /// The colleague it moves to.
    pub to_id: TherapistId,
    /// Who offered it (the owner, or their custodian).
    pub offered_by: TherapistId,
    /// When offered.
    pub offered_at: i64,
    /// When accepted.
    pub accepted_at: Option<i64>,
    /// When declined.
    pub declined_at: Option<i64>,
    /// When withdrawn.
    pub cancelled_at: Option<i64>,
}

/// The offer of `client` waiting for an answer, if any.
pub fn pending(conn: &mut DbConn, client: ClientId) -> QueryResult<Option<TransferRow>> {
    transfers::table
        .filter(transfers::client_id.eq(client))
        .filter(transfers::accepted_at.is_null())
        .filter(transfers::declined_at.is_null())
        .filter(transfers::cancelled_at.is_null())
        .select(TransferRow::as_select())
        .first(conn)
        .optional()
}

/// Offers waiting for `therapist` to answer.
pub fn offered_to(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Vec<TransferRow>> {
    transfers::table
        .filter(transfers::to_id.eq(therapist))
        .filter(transfers::accepted_at.is_null())
        .filter(transfers::declined_at.is_null())
        .filter(transfers::cancelled_at.is_null())
        .select(TransferRow::as_select())
        .load(conn)
}

/// Who has owned a client: (from, to, when) for each accepted transfer,
/// oldest first, with names.
pub fn history(conn: &mut DbConn, client: ClientId) -> QueryResult<Vec<(String, String, i64)>> {
    let rows: Vec<TransferRow> = transfers::table
        .filter(transfers::client_id.eq(client))
        .filter(transfers::accepted_at.is_not_null())
        .order(transfers::accepted_at.asc())
        .select(TransferRow::as_select())
        .load(conn)?;
    let mut out = Vec::new();
    for row in rows {
        let name = |conn: &mut DbConn, id: TherapistId| -> QueryResult<String> {
            Ok(therapists::table
                .find(id)
                .select(therapists::display_name)
                .first(conn)
                .optional()?
                .unwrap_or_else(|| "a former colleague".into()))
        };
        out.push((
            name(conn, row.from_id)?,
            name(conn, row.to_id)?,
            row.accepted_at.unwrap_or(row.offered_at),
        ));
    }
    Ok(out)
}

/// Why a client could not be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotOffered {
    /// Already offered to someone; withdraw that first.
    AlreadyOffered,
    /// Some of the client's data is not yet under its client key (the
    /// owner has not signed in since keys were introduced, or the move is
    /// still running).
    NotMoved,
    /// The colleague's key is not the one confirmed.
    KeyChanged,
}

/// Offer `client` (owned by `from`) to `to`, as `keys`' holder (the owner,
/// or a released custodian), after checking `to`'s key against the pins.
pub fn offer(
    conn: &mut DbConn,
    keys: &Keys,
    client: ClientId,
    from: TherapistId,
    to: TherapistId,
    fingerprint: &str,
) -> QueryResult<Result<TransferId, NotOffered>> {
    let by = TherapistId(keys.therapist());
    write_transaction(conn, |conn| {
        if pending(conn, client)?.is_some() {
            return Ok(Err(NotOffered::AlreadyOffered));
        }
        let format: i32 = therapists::table
            .find(from)
            .select(therapists::data_format)
            .first(conn)?;
        if format < crate::upgrade::CURRENT || !keys.holds(client.0) {
            return Ok(Err(NotOffered::NotMoved));
        }
        let public = match keys::trusted_key(conn, keys, to, fingerprint, true)? {
            Ok(public) => public,
            Err(KeyChanged) => {
                audit::record(conn, Some(by), Action::KeyMismatch, Some(to.0))?;
                return Ok(Err(NotOffered::KeyChanged));
            }
        };
        keys::share_client(conn, keys, client, to, &public, Purpose::Transfer)?;
        let id = TransferId::generate();
        diesel::insert_into(transfers::table)
            .values((
                transfers::id.eq(id),
                transfers::client_id.eq(client),
                transfers::from_id.eq(from),
                transfers::to_id.eq(to),
                transfers::offered_by.eq(by),
                transfers::offered_at.eq(now()),
            ))
            .execute(conn)?;
        audit::record(conn, Some(by), Action::EnvelopesMade, Some(to.0))?;
        audit::record(conn, Some(by), Action::TransferOffer, Some(id.0))?;
        Ok(Ok(id))
    })
}

/// Decline (by the colleague) or withdraw (by whoever may offer) a
/// pending offer: its envelopes are deleted.
pub fn close(
    conn: &mut DbConn,
    offer: &TransferRow,
    by: TherapistId,
    declined: bool,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        keys::withdraw(conn, offer.client_id, offer.to_id, Purpose::Transfer)?;
        let target = transfers::table.find(offer.id);
        if declined {
            diesel::update(target)
                .set(transfers::declined_at.eq(now()))
                .execute(conn)?;
        } else {
            diesel::update(target)
                .set(transfers::cancelled_at.eq(now()))
                .execute(conn)?;
        }
        audit::record(conn, Some(by), Action::TransferDecline, Some(offer.id.0))?;
        Ok(())
    })
}

/// Why an acceptance failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAccepted {
    /// An envelope did not open: moved, tampered with, or not for them;
    /// or the keys offered do not open the client's record.
    Integrity,
    /// The offer is no longer open, or the client is no longer with the
    /// therapist it was offered from (or their account is back on, for an
    /// offer their custodian made).
    Stale,
}

/// The colleague accepts: they become the owner. `offered` is their
/// keyring with the offer's envelopes ([`keys::offered`]).
pub fn accept(
    conn: &mut DbConn,
    offered: &Keys,
    offer: &TransferRow,
) -> QueryResult<Result<(), NotAccepted>> {
    let (me, client) = (TherapistId(offered.therapist()), offer.client_id);
    write_transaction(conn, |conn| {
        // Claim the offer: only an open one, once.
        let claimed = diesel::update(
            transfers::table
                .find(offer.id)
                .filter(transfers::to_id.eq(me))
                .filter(transfers::accepted_at.is_null())
                .filter(transfers::declined_at.is_null())
                .filter(transfers::cancelled_at.is_null()),
        )
        .set(transfers::accepted_at.eq(now()))
        .execute(conn)?;
        let Some(row) = clients::table
            .find(client)
            .select(crate::clients::model::ClientRow::as_select())
            .first(conn)
            .optional()?
        else {
            return Err(diesel::result::Error::RollbackTransaction);
        };
        let owner_active = therapists::table
            .find(offer.from_id)
            .select(therapists::status)
            .first::<String>(conn)?
            == "active";
        if claimed != 1
            || row.therapist_id != offer.from_id
            || (offer.offered_by != offer.from_id && owner_active)
        {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        let mut versions: Vec<i32> = client_keys::table
            .filter(client_keys::client_id.eq(client))
            .filter(client_keys::holder_id.eq(me))
            .filter(client_keys::purpose.eq(Purpose::Transfer.as_str()))
            .select(client_keys::version)
            .load(conn)?;
        let mut owners: Vec<i32> = client_keys::table
            .filter(client_keys::client_id.eq(client))
            .filter(client_keys::holder_id.eq(offer.from_id))
            .filter(client_keys::purpose.eq(OWNER))
            .select(client_keys::version)
            .load(conn)?;
        versions.sort_unstable();
        owners.sort_unstable();
        // Every version the owner holds must come along, and the keys must
        // open the client's record, before anything is deleted.
        if versions.is_empty() || versions != owners || row.open(offered).damaged() {
            return Ok(Err(NotAccepted::Integrity));
        }
        let mut mine = Vec::new();
        for version in versions {
            let Some(key) = offered.client_key(client.0, version as u32) else {
                return Ok(Err(NotAccepted::Integrity));
            };
            mine.push(KeyRow {
                client_id: client,
                version,
                holder_id: me,
                purpose: OWNER.into(),
                sender_id: me,
                sealed: key.seal_for_owner(offered.dk(), me.0, client.0),
                created_at: now(),
            });
        }
        // Everyone else's keys go: the previous owner's, their
        // supervisor's and custodian's envelopes, and the offer's.
        diesel::delete(client_keys::table.filter(client_keys::client_id.eq(client)))
            .execute(conn)?;
        for row in &mine {
            diesel::insert_into(client_keys::table)
                .values(row)
                .execute(conn)?;
        }
        let note_ids: Vec<crate::ids::NoteId> = notes::table
            .filter(notes::client_id.eq(client))
            .select(notes::id)
            .load(conn)?;
        for chunk in note_ids.chunks(500) {
            diesel::update(addenda::table.filter(addenda::note_id.eq_any(chunk)))
                .set(addenda::therapist_id.eq(me))
                .execute(conn)?;
            diesel::update(note_versions::table.filter(note_versions::note_id.eq_any(chunk)))
                .set(note_versions::therapist_id.eq(me))
                .execute(conn)?;
        }
        diesel::update(notes::table.filter(notes::client_id.eq(client)))
            .set(notes::therapist_id.eq(me))
            .execute(conn)?;
        diesel::update(handouts_given::table.filter(handouts_given::client_id.eq(client)))
            .set(handouts_given::therapist_id.eq(me))
            .execute(conn)?;
        diesel::update(measures::table.filter(measures::client_id.eq(client)))
            .set(measures::therapist_id.eq(me))
            .execute(conn)?;
        diesel::update(clients::table.find(client))
            .set(clients::therapist_id.eq(me))
            .execute(conn)?;
        // A new key version: what the previous owner (and anyone they
        // shared with) held opens nothing written from now on.
        keys::rotate(conn, offered, client)?;
        for grant in super::grants::grants(conn, me)? {
            if grant.sealed.is_some() {
                // A changed key is audited; the client is simply not shared.
                let _ = super::grants::share(conn, offered, &grant, &[client], false)?;
            }
        }
        audit::record(conn, Some(me), Action::TransferAccept, Some(offer.id.0))?;
        audit::record(
            conn,
            Some(offer.from_id),
            Action::TransferAccept,
            Some(offer.id.0),
        )?;
        audit::record(conn, Some(me), Action::KeysRotated, Some(client.0))?;
        Ok(Ok(()))
    })
    .or_else(|err| match err {
        diesel::result::Error::RollbackTransaction => Ok(Err(NotAccepted::Stale)),
        other => Err(other),
    })
}
