//! Therapists' accounts: the row, enrolment (keys for a new account) and
//! opening DK with a password.

use diesel::prelude::*;

use crate::crypto::password::{self, KdfParams};
use crate::crypto::recovery::RecoveryCode;
use crate::crypto::{DataKey, Place};
use crate::db::DbConn;
use crate::db::schema::{practice, therapists};
use crate::ids::TherapistId;

/// A therapist's role in the practice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Runs the practice's accounts; also a therapist.
    Admin,
    /// A therapist.
    Therapist,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Therapist => "therapist",
        }
    }

    /// Read the stored name; anything unknown is the lesser role.
    pub fn parse(s: &str) -> Self {
        if s == "admin" {
            Self::Admin
        } else {
            Self::Therapist
        }
    }
}

/// A therapist's row.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = therapists)]
pub struct Therapist {
    /// Row id.
    pub id: TherapistId,
    /// Sign-in email, lower-cased.
    pub email: String,
    /// Name shown in the app.
    pub display_name: String,
    /// `admin` or `therapist`.
    pub role: String,
    /// `active` or `disabled`.
    pub status: String,
    /// Argon2id salt.
    pub kdf_salt: Vec<u8>,
    /// Argon2id memory (KiB).
    pub kdf_m_cost: i32,
    /// Argon2id passes.
    pub kdf_t_cost: i32,
    /// Argon2id lanes.
    pub kdf_p_cost: i32,
    /// Hash of the auth key.
    pub auth_verifier: Vec<u8>,
    /// DK sealed under the password key.
    pub dk_sealed_password: Vec<u8>,
    /// DK sealed under the recovery key.
    pub dk_sealed_recovery: Vec<u8>,
    /// Salt for the recovery key.
    pub recovery_salt: Vec<u8>,
    /// When the account was made.
    pub created_at: i64,
    /// Last successful sign-in.
    pub last_login_at: Option<i64>,
    /// The TOTP secret, sealed under DK, when two-factor sign-in is on.
    pub totp_secret: Option<Vec<u8>>,
    /// The last accepted TOTP time step (no replays).
    pub totp_last_step: Option<i64>,
    /// Unused backup codes, sealed under DK.
    pub backup_codes: Option<Vec<u8>>,
    /// Which form the therapist's sealed data is in (see `crate::upgrade`).
    pub data_format: i32,
    /// Professional credentials, such as "LCSW".
    pub credentials: String,
    /// Licence number, if they give one.
    pub licence: String,
    /// `associate` (pre-licensed: works under a supervisor) or `licensed`.
    pub licence_level: String,
}

#[derive(Insertable)]
#[diesel(table_name = therapists)]
struct NewTherapist<'a> {
    id: TherapistId,
    email: &'a str,
    display_name: &'a str,
    role: &'a str,
    status: &'a str,
    #[diesel(embed)]
    password: PasswordChanges<'a>,
    #[diesel(embed)]
    recovery: RecoveryChanges<'a>,
    created_at: i64,
    data_format: i32,
}

/// Where a therapist's password-sealed DK lives.
pub fn password_place(id: TherapistId) -> Place<'static> {
    Place::new(id.0, "therapists", "dk_sealed_password", id.0)
}

/// Where a therapist's recovery-sealed DK lives.
pub fn recovery_place(id: TherapistId) -> Place<'static> {
    Place::new(id.0, "therapists", "dk_sealed_recovery", id.0)
}

impl Therapist {
    /// How they sign: "Dr Ada Lovelace, LCSW, licence 12345" (the name,
    /// then the credentials and licence they gave, if any).
    pub fn signature(&self) -> String {
        let mut out = self.display_name.clone();
        if !self.credentials.trim().is_empty() {
            out.push_str(", ");
            out.push_str(self.credentials.trim());
        }
        if !self.licence.trim().is_empty() {
            out.push_str(", licence ");
            out.push_str(self.licence.trim());
        }
        out
    }

    /// Whether the account may sign in.
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// The stored Argon2id parameters (validated when used).
    pub fn kdf_params(&self) -> KdfParams {
        let u = |v: i32| u32::try_from(v).unwrap_or(0);
        KdfParams {
            m_cost: u(self.kdf_m_cost),
            t_cost: u(self.kdf_t_cost),
            p_cost: u(self.kdf_p_cost),
        }
    }

    /// Check a password and open DK with it. Runs Argon2id: call on a
    /// blocking thread holding a KDF permit, and no database connection.
    pub fn unlock(&self, password: &str) -> Result<Option<DataKey>, password::KdfError> {
        let keys = password::derive(password, &self.kdf_salt, self.kdf_params())?;
        if !keys.auth.matches(&self.auth_verifier) {
            return Ok(None);
        }
        // The verifier matched, so the sealed DK opens unless it was tampered with.
        Ok(DataKey::open_from(
            &keys.kek,
            &password_place(self.id),
            &self.dk_sealed_password,
        )
        .ok())
    }
}

/// Lower-case and trim an email as typed.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Find an account by (normalised) email.
pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<Therapist>> {
    therapists::table
        .filter(therapists::email.eq(normalize_email(email)))
        .select(Therapist::as_select())
        .first(conn)
        .optional()
}

/// Whether setup has happened.
pub fn practice_exists(conn: &mut DbConn) -> QueryResult<bool> {
    practice::table
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// Record a successful sign-in.
pub fn mark_login(conn: &mut DbConn, id: TherapistId, at: i64) -> QueryResult<()> {
    diesel::update(therapists::table.find(id))
        .set(therapists::last_login_at.eq(at))
        .execute(conn)
        .map(|_| ())
}

/// Everything a new account needs, made before touching the database.
pub struct Enrolment {
    /// The new account's id.
    pub id: TherapistId,
    email: String,
    display_name: String,
    role: Role,
    kdf: KdfParams,
    kdf_salt: [u8; 16],
    auth_verifier: [u8; 32],
    dk_sealed_password: Vec<u8>,
    dk_sealed_recovery: Vec<u8>,
    recovery_salt: [u8; 16],
    /// The new DK, to seal into the first session.
    pub dk: DataKey,
    /// The recovery code, to show once.
    pub recovery_code: RecoveryCode,
}

impl Enrolment {
    /// Make keys for a new account. Runs Argon2id: blocking thread, KDF permit.
    pub fn new(
        email: &str,
        display_name: &str,
        role: Role,
        password: &str,
        kdf: KdfParams,
    ) -> Result<Self, password::KdfError> {
        let id = TherapistId::generate();
        let kdf_salt = password::new_salt();
        let keys = password::derive(password, &kdf_salt, kdf)?;
        let dk = DataKey::generate();
        let recovery_code = RecoveryCode::generate();
        let recovery_salt = password::new_salt();
        let dk_sealed_password = dk.seal_under(&keys.kek, &password_place(id));
        let dk_sealed_recovery =
            dk.seal_under(&recovery_code.key(&recovery_salt), &recovery_place(id));
        Ok(Self {
            id,
            email: normalize_email(email),
            display_name: display_name.trim().to_owned(),
            role,
            kdf,
            kdf_salt,
            auth_verifier: keys.auth.verifier(),
            dk_sealed_password,
            dk_sealed_recovery,
            recovery_salt,
            dk,
            recovery_code,
        })
    }

    /// Insert the account. A duplicate email is a unique violation.
    pub fn insert(&self, conn: &mut DbConn, at: i64) -> QueryResult<()> {
        diesel::insert_into(therapists::table)
            .values(NewTherapist {
                id: self.id,
                email: &self.email,
                display_name: &self.display_name,
                role: self.role.as_str(),
                status: "active",
                password: PasswordChanges::new(
                    &self.kdf_salt,
                    self.kdf,
                    &self.auth_verifier,
                    &self.dk_sealed_password,
                ),
                recovery: RecoveryChanges {
                    recovery_salt: &self.recovery_salt,
                    dk_sealed_recovery: &self.dk_sealed_recovery,
                },
                created_at: at,
                data_format: crate::upgrade::CURRENT,
            })
            .execute(conn)
            .map(|_| ())
    }
}

/// The practice's name, if set.
pub fn practice_name(conn: &mut DbConn) -> QueryResult<Option<String>> {
    Ok(practice::table
        .select(practice::name)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Claim the practice's single row: fails with a unique violation if setup
/// already happened, even when two setups race.
pub fn claim_practice(conn: &mut DbConn, at: i64, name: &str) -> QueryResult<()> {
    let name = (!name.trim().is_empty()).then(|| name.trim().to_owned());
    diesel::insert_into(practice::table)
        .values((
            practice::id.eq(1i64),
            practice::created_at.eq(at),
            practice::name.eq(name),
        ))
        .execute(conn)
        .map(|_| ())
}

impl Therapist {
    /// Open DK with a recovery code. Cheap (HKDF): the code has 160 random
    /// bits, so there is nothing to brute-force; callers still throttle it.
    pub fn unlock_with_recovery(&self, code: &RecoveryCode) -> Option<DataKey> {
        DataKey::open_from(
            &code.key(&self.recovery_salt),
            &recovery_place(self.id),
            &self.dk_sealed_recovery,
        )
        .ok()
    }
}

/// New password keys (and optionally a new recovery code) for an existing DK:
/// password change and recovery. Notes are never re-encrypted.
pub struct Rekey {
    id: TherapistId,
    kdf: KdfParams,
    kdf_salt: [u8; 16],
    auth_verifier: [u8; 32],
    dk_sealed_password: Vec<u8>,
    recovery: Option<(RecoveryCode, [u8; 16], Vec<u8>)>,
}

impl Rekey {
    /// Derive the new keys. Runs Argon2id: blocking thread, KDF permit.
    pub fn new(
        id: TherapistId,
        dk: &DataKey,
        new_password: &str,
        kdf: KdfParams,
        new_recovery_code: bool,
    ) -> Result<Self, password::KdfError> {
        let kdf_salt = password::new_salt();
        let keys = password::derive(new_password, &kdf_salt, kdf)?;
        let recovery = new_recovery_code.then(|| {
            let code = RecoveryCode::generate();
            let salt = password::new_salt();
            let sealed = dk.seal_under(&code.key(&salt), &recovery_place(id));
            (code, salt, sealed)
        });
        Ok(Self {
            id,
            kdf,
            kdf_salt,
            auth_verifier: keys.auth.verifier(),
            dk_sealed_password: dk.seal_under(&keys.kek, &password_place(id)),
            recovery,
        })
    }

    /// The new recovery code, to show once.
    pub fn recovery_code(&self) -> Option<&RecoveryCode> {
        self.recovery.as_ref().map(|(code, _, _)| code)
    }

    /// Store the new keys and end every session of the account: the old
    /// password and (if replaced) the old recovery code stop working.
    pub fn apply(&self, conn: &mut DbConn) -> QueryResult<()> {
        crate::db::write_transaction(conn, |conn| {
            diesel::update(therapists::table.find(self.id))
                .set(PasswordChanges::new(
                    &self.kdf_salt,
                    self.kdf,
                    &self.auth_verifier,
                    &self.dk_sealed_password,
                ))
                .execute(conn)?;
            if let Some((_, salt, sealed)) = &self.recovery {
                diesel::update(therapists::table.find(self.id))
                    .set(RecoveryChanges {
                        recovery_salt: salt,
                        dk_sealed_recovery: sealed,
                    })
                    .execute(conn)?;
            }
            super::session::end_all(conn, self.id)?;
            Ok(())
        })
    }
}

/// What a password sets in an account's row.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = therapists)]
struct PasswordChanges<'a> {
    kdf_salt: &'a [u8],
    kdf_m_cost: i32,
    kdf_t_cost: i32,
    kdf_p_cost: i32,
    auth_verifier: &'a [u8],
    dk_sealed_password: &'a [u8],
}

impl<'a> PasswordChanges<'a> {
    fn new(
        kdf_salt: &'a [u8],
        kdf: KdfParams,
        auth_verifier: &'a [u8],
        dk_sealed_password: &'a [u8],
    ) -> Self {
        let as_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        Self {
            kdf_salt,
            kdf_m_cost: as_i32(kdf.m_cost),
            kdf_t_cost: as_i32(kdf.t_cost),
            kdf_p_cost: as_i32(kdf.p_cost),
            auth_verifier,
            dk_sealed_password,
        }
    }
}

/// What a recovery code sets in an account's row.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = therapists)]
struct RecoveryChanges<'a> {
    recovery_salt: &'a [u8],
    dk_sealed_recovery: &'a [u8],
}

/// One of the practice's accounts.
pub fn find(conn: &mut DbConn, id: TherapistId) -> QueryResult<Option<Therapist>> {
    therapists::table
        .find(id)
        .select(Therapist::as_select())
        .first(conn)
        .optional()
}

/// Every account in the practice, by name.
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<Therapist>> {
    therapists::table
        .order(therapists::display_name.asc())
        .select(Therapist::as_select())
        .load(conn)
}

/// Turn an account on or off; turning it off ends its sessions at once.
pub fn set_active(conn: &mut DbConn, id: TherapistId, active: bool) -> QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let n = diesel::update(therapists::table.find(id))
            .set(therapists::status.eq(if active { "active" } else { "disabled" }))
            .execute(conn)?;
        if !active {
            super::session::end_all(conn, id)?;
        }
        Ok(n == 1)
    })
}

/// A new recovery code for an account whose DK is open; the old code stops
/// working. Sessions stay.
pub fn new_recovery_code(
    conn: &mut DbConn,
    id: TherapistId,
    dk: &DataKey,
) -> QueryResult<RecoveryCode> {
    let code = RecoveryCode::generate();
    let salt = password::new_salt();
    let sealed = dk.seal_under(&code.key(&salt), &recovery_place(id));
    diesel::update(therapists::table.find(id))
        .set(RecoveryChanges {
            recovery_salt: &salt,
            dk_sealed_recovery: &sealed,
        })
        .execute(conn)?;
    Ok(code)
}

/// How a therapist signs, by id ("a former colleague" if the account is gone).
pub fn signature_of(conn: &mut DbConn, id: TherapistId) -> QueryResult<String> {
    Ok(find(conn, id)?.map_or_else(|| "a former colleague".to_owned(), |t| t.signature()))
}

/// A therapist's professional details, as they change them in Settings.
#[derive(AsChangeset)]
#[diesel(table_name = therapists)]
pub struct ProfileChanges<'a> {
    /// Name shown in the app and on what they sign.
    pub display_name: &'a str,
    /// Credentials.
    pub credentials: &'a str,
    /// Licence number.
    pub licence: &'a str,
}

/// Change a therapist's name, credentials and licence number.
pub fn update_profile(
    conn: &mut DbConn,
    id: TherapistId,
    changes: &ProfileChanges<'_>,
) -> QueryResult<()> {
    diesel::update(therapists::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

/// Set how the practice writes dates.
pub fn set_date_style(conn: &mut DbConn, style: crate::web::dates::DateStyle) -> QueryResult<()> {
    diesel::update(practice::table)
        .set(practice::date_style.eq(style.key()))
        .execute(conn)
        .map(|_| ())
}

/// Mark an account associate or licensed. `false` if no such account.
pub fn set_licence_level(conn: &mut DbConn, id: TherapistId, level: &str) -> QueryResult<bool> {
    diesel::update(therapists::table.find(id))
        .set(therapists::licence_level.eq(level))
        .execute(conn)
        .map(|n| n == 1)
}

/// Whether the practice asks every therapist to name a records custodian.
pub fn custodian_required(conn: &mut DbConn) -> QueryResult<bool> {
    use crate::db::schema::practice;
    Ok(practice::table
        .select(practice::require_custodian)
        .first(conn)
        .optional()?
        .unwrap_or(false))
}

/// Ask (or stop asking) every therapist to name a records custodian.
pub fn set_custodian_required(conn: &mut DbConn, on: bool) -> QueryResult<()> {
    use crate::db::schema::practice;
    diesel::update(practice::table)
        .set(practice::require_custodian.eq(on))
        .execute(conn)
        .map(|_| ())
}
