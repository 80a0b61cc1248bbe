//! Who an owner's clients are shared with, and keeping their envelopes in
//! step: a new client, a new key version, a supervision named by the
//! administrator, a custodian named. Only the owner's session can do it
//! (it holds the keys), so this runs when they act and after each sign-in.

use diesel::prelude::*;

use super::keys::{self, KeyChanged};
use crate::audit::{self, Action};
use crate::crypto::share::Purpose;
use crate::crypto::{Keys, Place};
use crate::db::schema::{clients, custodians, supervisions};
use crate::db::{DbConn, now};
use crate::ids::{ClientId, TherapistId};

/// A colleague the owner's caseload is shared with.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The colleague.
    pub recipient: TherapistId,
    /// Why.
    pub purpose: Purpose,
    /// The fingerprint confirmed when they were named.
    pub fingerprint: String,
    /// The row that records it (`supervisions.id`, or the owner's id in
    /// `custodians`), bound into its consent.
    pub row: i64,
    /// The owner's consent, sealed under their DK ([`consent`]).
    pub sealed: Option<Vec<u8>>,
}

impl Grant {
    fn table(&self) -> &'static str {
        match self.purpose {
            Purpose::Custodian => "custodians",
            _ => "supervisions",
        }
    }

    fn words(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.purpose.as_str(),
            self.recipient.0,
            self.fingerprint,
            self.row
        )
    }

    /// The owner's consent to this grant, sealed under their DK: only their
    /// own session can make it, so a row written by the administrator or by
    /// whoever can write the database shares nothing.
    pub fn consent(&self, keys: &Keys) -> Vec<u8> {
        crate::crypto::seal(
            keys.dk(),
            &Place::new(keys.therapist(), self.table(), "grant_sealed", self.row),
            self.words().as_bytes(),
        )
    }

    /// Whether the stored consent opens under the owner's DK and says this.
    pub fn consented(&self, keys: &Keys) -> bool {
        self.sealed.as_deref().is_some_and(|sealed| {
            crate::crypto::open(
                keys.dk(),
                &Place::new(keys.therapist(), self.table(), "grant_sealed", self.row),
                sealed,
            )
            .is_ok_and(|words| words.as_slice() == self.words().as_bytes())
        })
    }
}

/// Everyone the owner's clients should be shared with now: an open
/// supervision and a named custodian (each checked against the owner's
/// consent before anything is shared).
pub fn grants(conn: &mut DbConn, owner: TherapistId) -> QueryResult<Vec<Grant>> {
    let mut out: Vec<Grant> = supervisions::table
        .filter(supervisions::supervisee_id.eq(owner))
        .filter(supervisions::ended_at.is_null())
        .select((
            supervisions::id,
            supervisions::supervisor_id,
            supervisions::fingerprint,
            supervisions::grant_sealed,
        ))
        .load::<(
            crate::ids::SupervisionId,
            TherapistId,
            String,
            Option<Vec<u8>>,
        )>(conn)?
        .into_iter()
        .map(|(row, recipient, fingerprint, sealed)| Grant {
            recipient,
            purpose: Purpose::Supervision,
            fingerprint,
            row: row.0,
            sealed,
        })
        .collect();
    out.extend(
        custodians::table
            .filter(custodians::therapist_id.eq(owner))
            .select((
                custodians::custodian_id,
                custodians::fingerprint,
                custodians::grant_sealed,
            ))
            .load::<(TherapistId, String, Option<Vec<u8>>)>(conn)?
            .into_iter()
            .map(|(recipient, fingerprint, sealed)| Grant {
                recipient,
                purpose: Purpose::Custodian,
                fingerprint,
                row: owner.0,
                sealed,
            }),
    );
    Ok(out)
}

/// Share `clients` with one grant's colleague: every version of each key,
/// after checking the owner's consent and the colleague's key against the
/// owner's pin. `confirmed_now`: the owner has just compared the
/// fingerprint on a page, so a first pin may be made; otherwise a grant
/// with no pin shares nothing (no trust on first use behind their back).
pub fn share(
    conn: &mut DbConn,
    keys: &Keys,
    grant: &Grant,
    clients: &[ClientId],
    confirmed_now: bool,
) -> QueryResult<Result<usize, KeyChanged>> {
    let trusted = if grant.consented(keys) {
        keys::trusted_key(
            conn,
            keys,
            grant.recipient,
            &grant.fingerprint,
            confirmed_now,
        )?
    } else {
        Err(KeyChanged)
    };
    let public = match trusted {
        Ok(public) => public,
        Err(changed) => {
            tracing::warn!(
                owner = keys.therapist(),
                recipient = grant.recipient.0,
                "a grant without the owner's consent, or a colleague's key not the one confirmed; nothing was shared"
            );
            audit::record(
                conn,
                Some(TherapistId(keys.therapist())),
                Action::KeyMismatch,
                Some(grant.recipient.0),
            )?;
            return Ok(Err(changed));
        }
    };
    let mut made = 0;
    for client in clients {
        made += keys::share_client(conn, keys, *client, grant.recipient, &public, grant.purpose)?;
    }
    if made > 0 {
        audit::record(
            conn,
            Some(TherapistId(keys.therapist())),
            Action::EnvelopesMade,
            Some(grant.recipient.0),
        )?;
    }
    Ok(Ok(made))
}

/// A client just added: share their key with the owner's colleagues.
pub fn share_new_client(conn: &mut DbConn, keys: &Keys, client: ClientId) -> QueryResult<()> {
    for grant in grants(conn, TherapistId(keys.therapist()))? {
        if grant.sealed.is_none() {
            continue;
        }
        // A changed key is audited and shown on the settings pages; the
        // new client is simply not shared with that colleague.
        let _ = share(conn, keys, &grant, &[client], false)?;
    }
    Ok(())
}

/// The owner's clients (every one, archived too).
pub fn caseload(conn: &mut DbConn, owner: TherapistId) -> QueryResult<Vec<ClientId>> {
    clients::table
        .filter(clients::therapist_id.eq(owner))
        .select(clients::id)
        .load(conn)
}

/// After the owner signs in (their keys at hand): give every client a key,
/// finish rotations owed since someone lost access while the owner was
/// away, and make the envelopes every grant is owed.
pub fn sync(conn: &mut DbConn, keys: &Keys) -> QueryResult<()> {
    let owner = TherapistId(keys.therapist());
    keys::give_every_client_a_key(conn, keys)?;
    let owed: Vec<crate::ids::SupervisionId> = supervisions::table
        .filter(supervisions::supervisee_id.eq(owner))
        .filter(supervisions::ended_at.is_not_null())
        .filter(supervisions::rotated_at.is_null())
        .select(supervisions::id)
        .load(conn)?;
    if !owed.is_empty() {
        rotate_caseload(conn, keys)?;
        diesel::update(supervisions::table.filter(supervisions::id.eq_any(&owed)))
            .set(supervisions::rotated_at.eq(now()))
            .execute(conn)?;
    }
    let clients = caseload(conn, owner)?;
    // Only grants the owner consented to in their own session; one named
    // by the administrator waits for them on /settings/supervision.
    for grant in grants(conn, owner)? {
        // A supervision without consent is a proposal, waiting; a
        // custodian is only ever named with it, so one without is written
        // by someone else, and `share` refuses and audits it.
        if grant.sealed.is_some() || grant.purpose == Purpose::Custodian {
            let _ = share(conn, keys, &grant, &clients, false)?;
        }
    }
    Ok(())
}

/// A new key version for every client of the owner, sealed to everyone
/// who still has access (after someone lost it).
pub fn rotate_caseload(conn: &mut DbConn, keys: &Keys) -> QueryResult<()> {
    let owner = TherapistId(keys.therapist());
    let clients = caseload(conn, owner)?;
    for client in &clients {
        keys::rotate(conn, keys, *client)?;
    }
    for grant in grants(conn, owner)? {
        if grant.sealed.is_none() {
            continue;
        }
        // As in `share_new_client`: a changed key shares nothing.
        let _ = share(conn, keys, &grant, &clients, false)?;
    }
    audit::record(conn, Some(owner), Action::KeysRotated, None)?;
    Ok(())
}

/// Whether a colleague's current key still matches what this therapist
/// confirmed for them (`None`: never confirmed).
pub fn key_matches(
    conn: &mut DbConn,
    keys: &Keys,
    colleague: TherapistId,
) -> QueryResult<Option<bool>> {
    let current = keys::public_key(conn, colleague)?;
    Ok(match keys::pinned(conn, keys, colleague)? {
        Err(KeyChanged) => Some(false),
        Ok(None) => None,
        Ok(Some(pinned)) => Some(Some(pinned) == current),
    })
}

/// What a sign-in does with the therapist's keys at hand: a key pair if
/// they have none, then [`sync`]. One transaction.
pub fn at_sign_in(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &crate::crypto::DataKey,
) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        if keys::ensure_key_pair(conn, therapist, dk)? {
            audit::record(
                conn,
                Some(therapist),
                Action::KeyPairMade,
                Some(therapist.0),
            )?;
        }
        // Custodian envelopes are not needed to share: load only what the
        // therapist owns (the custody clock does not matter here).
        let ring = keys::load(conn, therapist, dk.duplicate(), 0)?;
        sync(conn, &ring)
    })
}
