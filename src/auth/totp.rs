//! Two-factor sign-in with time-based one-time codes (RFC 6238).
//!
//! The secret is sealed under the therapist's DK, so it can be opened only
//! after the right password; the last accepted time step is stored plain and
//! moves only forward, so a code is accepted once (no replay within its
//! window). Codes from one step before or after now are accepted for clock
//! skew. Ten one-time backup codes are sealed under DK too.

use diesel::prelude::*;
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

use crate::crypto::{DataKey, Record, constant_time_eq, random_bytes};
use crate::db::schema::therapists;
use crate::db::{DbConn, write_transaction};
use crate::ids::TherapistId;

const STEP: u64 = 30;
const ISSUER: &str = "Tearsheet";

/// A fresh 160-bit secret.
pub fn new_secret() -> Zeroizing<Vec<u8>> {
    Zeroizing::new(random_bytes::<20>().to_vec())
}

/// The secret as an authenticator app wants it typed (base32).
pub fn encode_secret(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// Read a secret carried back by the enrolment form.
pub fn decode_secret(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = data_encoding::BASE32_NOPAD
        .decode(text.trim().as_bytes())
        .ok()?;
    (bytes.len() == 20).then(|| Zeroizing::new(bytes))
}

fn totp(secret: &[u8], account: &str) -> Option<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret.to_vec(),
        Some(ISSUER.to_owned()),
        account.to_owned(),
    )
    .ok()
}

/// The `otpauth://` address an authenticator app scans.
pub fn uri(secret: &[u8], account: &str) -> String {
    totp(secret, account)
        .map(|t| t.get_url())
        .unwrap_or_default()
}

/// The time step whose code `code` is, among now and one step either side.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "x")?;
    let now_step = now / STEP;
    [now_step.saturating_sub(1), now_step, now_step + 1]
        .into_iter()
        .find(|step| constant_time_eq(t.generate(step * STEP).as_bytes(), code.as_bytes()))
        .map(|step| step as i64)
}

/// The current code (for tests and for showing a sample).
pub fn code_at(secret: &[u8], now: u64) -> String {
    totp(secret, "x")
        .map(|t| t.generate(now))
        .unwrap_or_default()
}

/// Dark modules of the QR code for `text`, for the template to draw.
pub fn qr(text: &str) -> (usize, Vec<(usize, usize)>) {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return (0, vec![]);
    };
    let width = code.width();
    let dark = code
        .to_colors()
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == qrcode::Color::Dark)
        .map(|(i, _)| (i % width, i / width))
        .collect();
    (width, dark)
}

fn normalise_backup(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// Ten new backup codes, as shown: `XXXX-XXXX`.
pub fn new_backup_codes() -> Vec<String> {
    let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..10)
        .map(|_| {
            let raw: [u8; 8] = random_bytes();
            let s: String = raw
                .iter()
                .map(|b| alphabet[usize::from(b % 32)] as char)
                .collect();
            format!("{}-{}", &s[..4], &s[4..])
        })
        .collect()
}

fn record(dk: &DataKey, id: TherapistId) -> Record<'_> {
    Record::new(dk, id.0, "therapists", id.0)
}

/// Turn two-factor sign-in on with this secret and these backup codes.
pub fn enable(
    conn: &mut DbConn,
    id: TherapistId,
    dk: &DataKey,
    secret: &[u8],
    backup: &[String],
) -> QueryResult<()> {
    let r = record(dk, id);
    let codes: Vec<String> = backup.iter().map(|c| normalise_backup(c)).collect();
    diesel::update(therapists::table.find(id))
        .set((
            therapists::totp_secret.eq(Some(r.seal_bytes("totp_secret", secret))),
            therapists::backup_codes.eq(Some(r.seal(
                "backup_codes",
                &serde_json::to_string(&codes).unwrap_or_default(),
            ))),
            therapists::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Turn two-factor sign-in off.
pub fn disable(conn: &mut DbConn, id: TherapistId) -> QueryResult<()> {
    diesel::update(therapists::table.find(id))
        .set((
            therapists::totp_secret.eq(None::<Vec<u8>>),
            therapists::backup_codes.eq(None::<Vec<u8>>),
            therapists::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Open a therapist's TOTP secret, if two-factor sign-in is on.
pub fn secret(dk: &DataKey, id: TherapistId, sealed: Option<&[u8]>) -> Option<Zeroizing<Vec<u8>>> {
    sealed.and_then(|blob| record(dk, id).open_bytes("totp_secret", blob).ok())
}

/// What a second-factor attempt turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// A current code, not used before.
    Accepted,
    /// A backup code, now used up.
    BackupUsed,
    /// Wrong, replayed, or not a code.
    Refused,
}

/// Check a code (or a backup code) and use it up.
pub fn check(
    conn: &mut DbConn,
    id: TherapistId,
    dk: &DataKey,
    input: &str,
    now: u64,
) -> QueryResult<Check> {
    write_transaction(conn, |conn| {
        let (sealed_secret, sealed_backup): (Option<Vec<u8>>, Option<Vec<u8>>) = therapists::table
            .find(id)
            .select((therapists::totp_secret, therapists::backup_codes))
            .first(conn)?;
        let Some(secret) = secret(dk, id, sealed_secret.as_deref()) else {
            return Ok(Check::Refused);
        };
        if let Some(step) = matching_step(&secret, input, now) {
            // The step only moves forward: the same code twice is refused.
            let n = diesel::update(
                therapists::table.find(id).filter(
                    therapists::totp_last_step
                        .is_null()
                        .or(therapists::totp_last_step.lt(step)),
                ),
            )
            .set(therapists::totp_last_step.eq(step))
            .execute(conn)?;
            return Ok(if n == 1 {
                Check::Accepted
            } else {
                Check::Refused
            });
        }
        let wanted = normalise_backup(input);
        if wanted.len() != 8 {
            return Ok(Check::Refused);
        }
        let r = record(dk, id);
        let Some(mut codes) = sealed_backup
            .and_then(|blob| r.open("backup_codes", &blob).ok())
            .and_then(|json| serde_json::from_str::<Vec<String>>(&json).ok())
        else {
            return Ok(Check::Refused);
        };
        let Some(at) = codes
            .iter()
            .position(|c| constant_time_eq(c.as_bytes(), wanted.as_bytes()))
        else {
            return Ok(Check::Refused);
        };
        codes.remove(at);
        diesel::update(therapists::table.find(id))
            .set(therapists::backup_codes.eq(Some(r.seal(
                "backup_codes",
                &serde_json::to_string(&codes).unwrap_or_default(),
            ))))
            .execute(conn)?;
        Ok(Check::BackupUsed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_one_either_side_only() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now);
        assert_eq!(
            matching_step(&secret, &code, now),
            Some((now / STEP) as i64)
        );
        assert!(
            matching_step(&secret, &code, now + STEP).is_some(),
            "one step of skew"
        );
        assert!(matching_step(&secret, &code, now + 3 * STEP).is_none());
        assert!(
            matching_step(&secret, "12a456", now).is_none(),
            "letters are not a code"
        );
        assert!(matching_step(&secret, "12345", now).is_none());
    }

    #[test]
    fn secrets_round_trip_and_the_uri_names_the_issuer() {
        let secret = new_secret();
        assert_eq!(
            decode_secret(&encode_secret(&secret))
                .expect("decodes")
                .as_slice(),
            secret.as_slice()
        );
        assert!(
            uri(&secret, "ada@example.org")
                .starts_with("otpauth://totp/Tearsheet:ada%40example.org?")
        );
        let (width, dark) = qr(&uri(&secret, "ada@example.org"));
        assert!(width >= 21 && !dark.is_empty());
    }

    #[test]
    fn backup_codes_are_forgiving_to_type() {
        let codes = new_backup_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            normalise_backup(&codes[0].to_lowercase().replace('-', " ")),
            normalise_backup(&codes[0])
        );
    }
}
