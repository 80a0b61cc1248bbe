//! The stored side of keys that travel: therapists' key pairs, client keys
//! (`client_keys`), pins (`key_pins`), and the rules for making envelopes
//! and rotating keys. Everything here runs with a signed-in therapist's
//! keyring at hand; the server alone can make or open nothing.

use std::sync::Arc;

use diesel::prelude::*;

use crate::crypto::keyring::{Held, HeldKey, KeyCache};
use crate::crypto::share::{Envelope, PrivateKey, PublicKey, Purpose};
use crate::crypto::{ClientKey, DataKey, Keys, Place};
use crate::db::schema::{client_keys, clients, custody_requests, key_pins, therapists};
use crate::db::{DbConn, now};
use crate::ids::{ClientId, TherapistId};

/// `client_keys.purpose` of an owner's own copy.
pub const OWNER: &str = "owner";

/// One stored client key row.
#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = client_keys)]
pub struct KeyRow {
    /// Whose key.
    pub client_id: ClientId,
    /// Which version.
    pub version: i32,
    /// Who holds this copy.
    pub holder_id: TherapistId,
    /// `owner`, or an envelope's purpose.
    pub purpose: String,
    /// Who sealed it.
    pub sender_id: TherapistId,
    /// The sealed key.
    pub sealed: Vec<u8>,
    /// When.
    pub created_at: i64,
}

impl KeyRow {
    fn held(self) -> Option<HeldKey> {
        let version = u32::try_from(self.version).ok()?;
        let held = if self.purpose == OWNER {
            Held::Owner(self.sealed)
        } else {
            Held::Envelope(
                Envelope {
                    purpose: Purpose::parse(&self.purpose)?,
                    sender: self.sender_id.0,
                    recipient: self.holder_id.0,
                    client: self.client_id.0,
                    version,
                },
                self.sealed,
            )
        };
        Some(HeldKey {
            client: self.client_id.0,
            version,
            held,
        })
    }
}

/// The therapists who named `custodian` as their records custodian and
/// whose latest request from them has passed its waiting period unrefused.
pub fn released_to(
    conn: &mut DbConn,
    custodian: TherapistId,
    at: i64,
) -> QueryResult<Vec<TherapistId>> {
    custody_requests::table
        .filter(custody_requests::custodian_id.eq(custodian))
        .filter(custody_requests::release_at.le(at))
        .filter(custody_requests::refused_at.is_null())
        .filter(custody_requests::cancelled_at.is_null())
        .select(custody_requests::therapist_id)
        .distinct()
        .load(conn)
}

/// The keyring of a signed-in therapist: their own client keys, envelopes
/// from supervisees, and envelopes from therapists whose records have been
/// released to them as custodian. `at` is the custody clock. One query in
/// the usual case (a second only for a custodian holding envelopes).
pub fn load(conn: &mut DbConn, therapist: TherapistId, dk: DataKey, at: i64) -> QueryResult<Keys> {
    let private: Option<Vec<u8>> = therapists::table
        .find(therapist)
        .select(therapists::private_key_sealed)
        .first(conn)
        .optional()?
        .flatten();
    load_with(conn, therapist, dk, private, at)
}

/// [`load`], with the sealed private key already read (the session query
/// reads it with the session).
pub fn load_with(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: DataKey,
    private: Option<Vec<u8>>,
    at: i64,
) -> QueryResult<Keys> {
    let rows = rows_held(conn, therapist)?;
    keyring(conn, therapist, dk, private, rows, at)
}

/// [`load_with`] for a session, reusing the keys its earlier requests
/// read and opened while the therapist's `key_list_version` (read with the
/// session, moved by triggers on every write to their rows) is unchanged:
/// no query and no opening in the usual case. A custodian holding
/// envelopes reads afresh each time (releases depend on the clock).
pub fn load_for_session(
    conn: &mut DbConn,
    session: (
        crate::ids::SessionId,
        &crate::web::session_memory::SessionMemories,
    ),
    therapist: TherapistId,
    dk: DataKey,
    private: Option<Vec<u8>>,
    (version, at): (i64, i64),
) -> QueryResult<Keys> {
    let (id, memories) = session;
    if let Some(cache) = memories.sealed::<KeyCache>(id, version) {
        return Ok(Keys::with_cache(therapist.0, dk, private, cache));
    }
    let rows = rows_held(conn, therapist)?;
    if rows
        .iter()
        .any(|r| r.purpose == Purpose::Custodian.as_str())
    {
        return keyring(conn, therapist, dk, private, rows, at);
    }
    let cache = std::sync::Arc::new(KeyCache::new(
        rows.into_iter().filter_map(KeyRow::held).collect(),
    ));
    memories.keep_sealed(id, version, cache.clone());
    Ok(Keys::with_cache(therapist.0, dk, private, cache))
}

/// Every client key row `therapist` holds but offers not yet accepted.
/// For their own clients, only their own copies (sealed under their DK):
/// an envelope is not authenticated by its sender, so one written into the
/// database for a client they own must never become the key they seal with.
fn rows_held(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Vec<KeyRow>> {
    client_keys::table
        .inner_join(clients::table.on(clients::id.eq(client_keys::client_id)))
        .filter(client_keys::holder_id.eq(therapist))
        .filter(client_keys::purpose.ne(Purpose::Transfer.as_str()))
        .filter(
            client_keys::purpose
                .eq(OWNER)
                .or(clients::therapist_id.ne(therapist)),
        )
        .select(KeyRow::as_select())
        .load(conn)
}

/// The keyring from the rows held: custodian envelopes only from those
/// whose records have been released by `at`.
fn keyring(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: DataKey,
    private: Option<Vec<u8>>,
    mut rows: Vec<KeyRow>,
    at: i64,
) -> QueryResult<Keys> {
    let custodian = Purpose::Custodian.as_str();
    if rows.iter().any(|r| r.purpose == custodian) {
        let released = released_to(conn, therapist, at)?;
        rows.retain(|r| r.purpose != custodian || released.contains(&r.sender_id));
    }
    Ok(Keys::new(
        therapist.0,
        dk,
        private,
        rows.into_iter().filter_map(KeyRow::held).collect(),
    ))
}

/// Add the envelopes offered to `therapist` for `client` (a transfer not
/// yet accepted) to their keyring.
pub fn offered(
    conn: &mut DbConn,
    therapist: TherapistId,
    client: ClientId,
    dk: DataKey,
) -> QueryResult<Keys> {
    let private: Option<Vec<u8>> = therapists::table
        .find(therapist)
        .select(therapists::private_key_sealed)
        .first(conn)
        .optional()?
        .flatten();
    let rows: Vec<KeyRow> = client_keys::table
        .filter(client_keys::holder_id.eq(therapist))
        .filter(client_keys::client_id.eq(client))
        .filter(client_keys::purpose.eq(Purpose::Transfer.as_str()))
        .select(KeyRow::as_select())
        .load(conn)?;
    Ok(Keys::new(
        therapist.0,
        dk,
        private,
        rows.into_iter().filter_map(KeyRow::held).collect(),
    ))
}

/// Give a therapist a key pair if they have none (at sign-in: the private
/// key is sealed under their DK, so only then can it be made). Returns
/// whether one was made.
pub fn ensure_key_pair(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
) -> QueryResult<bool> {
    let has: Option<Vec<u8>> = therapists::table
        .find(therapist)
        .select(therapists::public_key)
        .first(conn)
        .optional()?
        .flatten();
    if has.is_some() {
        return Ok(false);
    }
    let (private, public) = PrivateKey::generate();
    let sealed = crate::crypto::seal(dk, &Keys::private_place(therapist.0), private.as_bytes());
    diesel::update(
        therapists::table
            .find(therapist)
            .filter(therapists::public_key.is_null()),
    )
    .set((
        therapists::public_key.eq(public.0.to_vec()),
        therapists::private_key_sealed.eq(sealed),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// A therapist's public key as the database holds it.
pub fn public_key(conn: &mut DbConn, therapist: TherapistId) -> QueryResult<Option<PublicKey>> {
    Ok(therapists::table
        .find(therapist)
        .select(therapists::public_key)
        .first::<Option<Vec<u8>>>(conn)
        .optional()?
        .flatten()
        .and_then(|b| PublicKey::from_slice(&b)))
}

/// Make version `version` of a client's key, keep the owner's copy sealed
/// under their DK, and record it as the client's current version.
pub fn make_client_key(
    conn: &mut DbConn,
    keys: &Keys,
    client: ClientId,
    version: u32,
) -> QueryResult<Arc<ClientKey>> {
    let key = keys.adopt(client.0, ClientKey::generate(version));
    store_owner_copy(conn, keys, client, &key)?;
    Ok(key)
}

/// Store the owner's copy of a client key already in the keyring, and make
/// it the version new writes use.
pub fn store_owner_copy(
    conn: &mut DbConn,
    keys: &Keys,
    client: ClientId,
    key: &ClientKey,
) -> QueryResult<()> {
    let owner = TherapistId(keys.therapist());
    diesel::insert_into(client_keys::table)
        .values(KeyRow {
            client_id: client,
            version: key.version() as i32,
            holder_id: owner,
            purpose: OWNER.into(),
            sender_id: owner,
            sealed: key.seal_for_owner(keys.dk(), owner.0, client.0),
            created_at: now(),
        })
        .execute(conn)?;
    diesel::update(clients::table.find(client))
        .set(clients::key_version.eq(key.version() as i32))
        .execute(conn)?;
    Ok(())
}

/// Give every client of the keyring's owner that has no key yet its first
/// one. Returns how many were made.
pub fn give_every_client_a_key(conn: &mut DbConn, keys: &Keys) -> QueryResult<usize> {
    let owner = TherapistId(keys.therapist());
    let missing: Vec<ClientId> = clients::table
        .filter(clients::therapist_id.eq(owner))
        .filter(clients::key_version.eq(0))
        .select(clients::id)
        .load(conn)?;
    for client in &missing {
        make_client_key(conn, keys, *client, 1)?;
    }
    Ok(missing.len())
}

/// A colleague's public key changed since this therapist confirmed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChanged;

fn pin_place(owner: i64, subject: i64) -> Place<'static> {
    Place::new(owner, "key_pins", "sealed", subject)
}

/// The public key this therapist confirmed for `subject`, if any (a pin
/// that fails to open counts as a changed key: it was tampered with).
pub fn pinned(
    conn: &mut DbConn,
    keys: &Keys,
    subject: TherapistId,
) -> QueryResult<Result<Option<PublicKey>, KeyChanged>> {
    let sealed: Option<Vec<u8>> = key_pins::table
        .find((keys.therapist(), subject))
        .select(key_pins::sealed)
        .first(conn)
        .optional()?;
    let Some(sealed) = sealed else {
        return Ok(Ok(None));
    };
    Ok(
        crate::crypto::open(keys.dk(), &pin_place(keys.therapist(), subject.0), &sealed)
            .ok()
            .and_then(|b| PublicKey::from_slice(&b))
            .map(Some)
            .ok_or(KeyChanged),
    )
}

/// Record that this therapist confirmed `key` as `subject`'s.
pub fn pin(
    conn: &mut DbConn,
    keys: &Keys,
    subject: TherapistId,
    key: &PublicKey,
) -> QueryResult<()> {
    let sealed = crate::crypto::seal(keys.dk(), &pin_place(keys.therapist(), subject.0), &key.0);
    diesel::delete(key_pins::table.find((keys.therapist(), subject))).execute(conn)?;
    diesel::insert_into(key_pins::table)
        .values((
            key_pins::owner_id.eq(keys.therapist()),
            key_pins::subject_id.eq(subject),
            key_pins::sealed.eq(sealed),
        ))
        .execute(conn)?;
    Ok(())
}

/// `subject`'s public key, checked against this therapist's pin and
/// against `fingerprint` (what the therapist confirmed). With no pin yet,
/// the key is pinned only when `confirmed_now` (the therapist has just
/// compared the fingerprint on a page); otherwise it is refused, so nothing
/// is ever shared with a key nobody looked at.
pub fn trusted_key(
    conn: &mut DbConn,
    keys: &Keys,
    subject: TherapistId,
    fingerprint: &str,
    confirmed_now: bool,
) -> QueryResult<Result<PublicKey, KeyChanged>> {
    let Some(current) = public_key(conn, subject)? else {
        return Ok(Err(KeyChanged));
    };
    match pinned(conn, keys, subject)? {
        Err(changed) => Ok(Err(changed)),
        Ok(Some(pinned)) if pinned != current => Ok(Err(KeyChanged)),
        Ok(_) if current.fingerprint() != fingerprint => Ok(Err(KeyChanged)),
        Ok(Some(_)) => Ok(Ok(current)),
        Ok(None) if !confirmed_now => Ok(Err(KeyChanged)),
        Ok(None) => {
            pin(conn, keys, subject, &current)?;
            Ok(Ok(current))
        }
    }
}

/// Seal every version of `client`'s key this keyring holds to `recipient`
/// for `purpose`, skipping versions already sealed to them. Returns how
/// many envelopes were made.
pub fn share_client(
    conn: &mut DbConn,
    keys: &Keys,
    client: ClientId,
    recipient: TherapistId,
    to: &PublicKey,
    purpose: Purpose,
) -> QueryResult<usize> {
    let have: Vec<i32> = client_keys::table
        .filter(client_keys::client_id.eq(client))
        .filter(client_keys::holder_id.eq(recipient))
        .filter(client_keys::purpose.eq(purpose.as_str()))
        .select(client_keys::version)
        .load(conn)?;
    let mut made = 0;
    for version in keys.versions(client.0) {
        if have.contains(&(version as i32)) {
            continue;
        }
        let Some(ck) = keys.client_key(client.0, version) else {
            continue;
        };
        let envelope = Envelope {
            purpose,
            sender: keys.therapist(),
            recipient: recipient.0,
            client: client.0,
            version,
        };
        diesel::insert_into(client_keys::table)
            .values(KeyRow {
                client_id: client,
                version: version as i32,
                holder_id: recipient,
                purpose: purpose.as_str().into(),
                sender_id: TherapistId(keys.therapist()),
                sealed: envelope.seal(&ck, to),
                created_at: now(),
            })
            .execute(conn)?;
        made += 1;
    }
    Ok(made)
}

/// Delete every envelope `holder` has for `client` with `purpose`.
pub fn withdraw(
    conn: &mut DbConn,
    client: ClientId,
    holder: TherapistId,
    purpose: Purpose,
) -> QueryResult<usize> {
    diesel::delete(
        client_keys::table
            .filter(client_keys::client_id.eq(client))
            .filter(client_keys::holder_id.eq(holder))
            .filter(client_keys::purpose.eq(purpose.as_str())),
    )
    .execute(conn)
}

/// Start a new version of `client`'s key (after someone lost access):
/// new writes use it; older blobs keep the version they name.
pub fn rotate(conn: &mut DbConn, keys: &Keys, client: ClientId) -> QueryResult<u32> {
    let newest: Option<i32> = client_keys::table
        .filter(client_keys::client_id.eq(client))
        .select(diesel::dsl::max(client_keys::version))
        .first(conn)?;
    let version = newest.unwrap_or(0) as u32 + 1;
    make_client_key(conn, keys, client, version)?;
    Ok(version)
}
