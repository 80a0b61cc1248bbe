//! `POST /api/v1/inbox`: an outside tool (dictation, an intake form, a
//! scribe) hands a therapist a draft with a write-only token. The draft is
//! checked, sealed to the therapist's public key, and only then stored; the
//! answer is `202` with the draft's id and nothing else. The description is
//! served at `/api/v1/openapi.json` (OpenAPI 3.1); see docs/API.md.

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::store::{self, Bearer};
use crate::audit::{self, Action};
use crate::crypto::share::InboxDrop;
use crate::ids::InboxDraftId;
use crate::notes::format::{NoteFormat, TEMPLATE_PREFIX};
use crate::web::{AppError, AppState};

/// The largest draft a tool may post.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// The endpoint.
pub const INBOX_PATH: &str = "/api/v1/inbox";

/// Register the API routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(INBOX_PATH).route(web::post().to(post)))
        .route("/api/v1/openapi.json", web::get().to(openapi));
}

/// A posted draft, as checked and sealed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Posted {
    /// The tool's name, as it gave it.
    pub tool: String,
    /// `YYYY-MM-DD`.
    pub session_date: String,
    /// `soap`, `dap`, `birp`, `free` or `template:PACK/SLUG`.
    pub format: String,
    /// Section key to text.
    pub sections: BTreeMap<String, String>,
    /// Who the tool thinks the client is, for the therapist to confirm.
    #[serde(default)]
    pub client_reference: Option<String>,
    /// One line for the timeline.
    #[serde(default)]
    pub key_moment: Option<String>,
}

/// A JSON error the tool can act on: what is wrong, and which field.
fn api_error(status: StatusCode, field: Option<&str>, message: &str) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"tearsheet-inbox\""));
    }
    res.json(serde_json::json!({ "error": message, "field": field }))
}

/// The bearer token of a request, if it sent one.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty() && t.len() <= 200)
}

/// A name the tool sent, at most 40 characters, to name it in an error
/// without echoing whatever a tool put there.
fn clipped(name: &str) -> String {
    let mut out: String = name.chars().take(40).collect();
    if out.len() < name.len() {
        out.push('…');
    }
    out
}

const FIELDS: &str = "tool, session_date, format, sections, client_reference, key_moment";

/// Check a posted body field by field; an error names its field.
pub fn check(body: &[u8], today: chrono::NaiveDate) -> Result<Posted, (Option<String>, String)> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        (
            None,
            format!(
                "the body is not valid JSON in UTF-8 (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err((None, "the body must be a JSON object".into()));
    };
    let bad = |field: &str, why: &str| (Some(field.to_owned()), format!("{field} {why}"));
    if let Some(unknown) = map
        .keys()
        .find(|k| !FIELDS.split(", ").any(|f| f == k.as_str()))
    {
        let unknown = clipped(unknown);
        return Err((
            Some(unknown.clone()),
            format!("{unknown} is not a field of a draft (the fields are {FIELDS})"),
        ));
    }
    let text = |field: &str,
                required: bool,
                max: usize|
     -> Result<Option<String>, (Option<String>, String)> {
        match map.get(field) {
            None | Some(serde_json::Value::Null) if !required => Ok(None),
            None | Some(serde_json::Value::Null) => Err(bad(field, "is required")),
            Some(serde_json::Value::String(s)) => {
                if s.chars().count() > max {
                    Err(bad(field, &format!("is longer than {max} characters")))
                } else if required && s.trim().is_empty() {
                    Err(bad(field, "is empty"))
                } else {
                    Ok(Some(s.clone()))
                }
            }
            Some(_) => Err(bad(field, "must be a string")),
        }
    };
    let tool = text("tool", true, 80)?
        .unwrap_or_default()
        .trim()
        .to_owned();
    if tool.chars().any(char::is_control) {
        return Err(bad("tool", "must be one line of text"));
    }
    let session_date = text("session_date", true, 10)?.unwrap_or_default();
    match chrono::NaiveDate::parse_from_str(&session_date, "%Y-%m-%d") {
        Ok(d) if d.format("%Y-%m-%d").to_string() != session_date => {
            return Err(bad("session_date", "must be a date like 2026-03-02"));
        }
        // A day's grace for a tool in another time zone.
        Ok(d) if d > today + chrono::Days::new(1) => {
            return Err(bad("session_date", "is in the future"));
        }
        Ok(d) if chrono::Datelike::year(&d) < 1950 => {
            return Err(bad("session_date", "is before 1950"));
        }
        Ok(_) => {}
        Err(_) => return Err(bad("session_date", "must be a date like 2026-03-02")),
    }
    let format = text("format", false, 160)?.unwrap_or_else(|| "free".to_owned());
    let template_ok = format.strip_prefix(TEMPLATE_PREFIX).is_some_and(|k| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/')
    });
    if NoteFormat::parse(&format).is_none() && !template_ok {
        return Err(bad(
            "format",
            "must be soap, dap, birp, free, or template:PACK/SLUG for a template of a pack the practice has loaded",
        ));
    }
    let sections = match map.get("sections") {
        Some(serde_json::Value::Object(s)) => s,
        Some(_) => return Err(bad("sections", "must be an object of section name to text")),
        None => return Err(bad("sections", "is required")),
    };
    if sections.is_empty() || sections.len() > 20 {
        return Err(bad("sections", "must hold between 1 and 20 sections"));
    }
    let mut out = BTreeMap::new();
    let mut total = 0;
    for (key, value) in sections {
        let field = format!("sections.{}", clipped(key));
        let key_ok = !key.is_empty()
            && key.len() <= 40
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err((
                Some(field),
                "a section's name must be lower-case letters, digits and _ (such as subjective)"
                    .into(),
            ));
        }
        let serde_json::Value::String(s) = value else {
            return Err((Some(field.clone()), format!("{field} must be a string")));
        };
        total += s.chars().count();
        out.insert(key.clone(), s.clone());
    }
    if total > crate::notes::model::MAX_NOTE_CHARS {
        return Err(bad("sections", "hold more text than one note can"));
    }
    let client_reference = text("client_reference", false, 200)?;
    let key_moment = text("key_moment", false, crate::notes::input::MAX_KEY_MOMENT)?;
    Ok(Posted {
        tool,
        session_date,
        format,
        sections: out,
        client_reference,
        key_moment,
    })
}

/// `POST /api/v1/inbox`.
async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let Some(token) = bearer(&req).map(str::to_owned) else {
        return Ok(api_error(
            StatusCode::UNAUTHORIZED,
            None,
            "send the inbox token as Authorization: Bearer TOKEN",
        ));
    };
    let admitted = state
        .db(move |conn| Ok(store::admit(conn, &token)?))
        .await?;
    let (token, therapist, public_key) = match admitted {
        Bearer::Live {
            token,
            therapist,
            public_key,
        } => (token, therapist, public_key),
        Bearer::Refused => {
            return Ok(api_error(
                StatusCode::UNAUTHORIZED,
                None,
                "this token is not valid (revoked, or never issued)",
            ));
        }
        Bearer::KeyChanged(therapist) => {
            tracing::warn!(
                therapist = therapist.0,
                "an inbox token's pinned public key no longer matches the account's: refused"
            );
            state
                .db(move |conn| {
                    Ok(audit::record(
                        conn,
                        Some(therapist),
                        Action::InboxKeyMismatch,
                        None,
                    )?)
                })
                .await?;
            return Ok(api_error(
                StatusCode::CONFLICT,
                None,
                "the therapist's key changed since this token was made; nothing was stored. Ask them for a new token",
            ));
        }
        Bearer::TooMany(wait) => {
            let mut res = api_error(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                &format!(
                    "at most {} drafts a minute per token; try again in {} seconds",
                    store::POSTS_PER_MINUTE,
                    wait.max(1)
                ),
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(wait.max(1)));
            return Ok(res);
        }
        Bearer::Full => {
            return Ok(api_error(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                "the therapist's inbox is full; they need to accept or decline drafts first",
            ));
        }
    };
    let media = crate::web::form::media_type(&req);
    if media != "application/json" {
        return Ok(api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "send the draft as Content-Type: application/json",
        ));
    }
    let body = match crate::web::form::read_limited(&req, payload.into_inner(), BODY_LIMIT).await {
        Ok(body) => body,
        Err(AppError::PayloadTooLarge(_)) => {
            return Ok(api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                &format!("a draft may be at most {} KiB", BODY_LIMIT / 1024),
            ));
        }
        Err(_) => {
            return Ok(api_error(
                StatusCode::BAD_REQUEST,
                None,
                "the body arrived incomplete",
            ));
        }
    };
    let posted = match check(&body, chrono::Utc::now().date_naive()) {
        Ok(p) => p,
        Err((field, message)) => {
            return Ok(api_error(
                StatusCode::BAD_REQUEST,
                field.as_deref(),
                &message,
            ));
        }
    };
    // Sealed here, before anything reaches the database.
    let id = InboxDraftId::generate();
    let plain = zeroize::Zeroizing::new(serde_json::to_string(&posted).unwrap_or_default());
    drop(posted);
    let sealed = InboxDrop {
        therapist: therapist.0,
        draft: id.0,
        token: token.0,
    }
    .seal(&public_key, &plain);
    drop(plain);
    if sealed.is_empty() {
        return Err(AppError::internal(anyhow::anyhow!(
            "the therapist's public key could not be used"
        )));
    }
    state
        .db(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                store::put(conn, id, therapist, token, &sealed)?;
                audit::record(conn, Some(therapist), Action::InboxReceive, Some(id.0))
            })?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "id": id.to_string() })))
}

/// The OpenAPI 3.1 description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`.
async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(OPENAPI)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 10).expect("date")
    }

    #[test]
    fn a_minimal_draft_passes_and_every_bad_field_is_named() {
        let ok = br#"{"tool":"Dictate","session_date":"2026-03-02","format":"soap","sections":{"subjective":"Felt lighter."}}"#;
        let posted = check(ok, day()).expect("valid");
        assert_eq!(posted.sections["subjective"], "Felt lighter.");
        for (body, field) in [
            (&br#"{"tool":"x","session_date":"2026-02-30","sections":{"a":"b"}}"#[..], Some("session_date")),
            (br#"{"tool":"x","session_date":"2026-03-20","sections":{"a":"b"}}"#, Some("session_date")),
            (br#"{"session_date":"2026-03-02","sections":{"a":"b"}}"#, Some("tool")),
            (br#"{"tool":3,"session_date":"2026-03-02","sections":{"a":"b"}}"#, Some("tool")),
            (br#"{"tool":"x","session_date":"2026-03-02","format":"essay","sections":{"a":"b"}}"#, Some("format")),
            (br#"{"tool":"x","session_date":"2026-03-02","sections":[]}"#, Some("sections")),
            (br#"{"tool":"x","session_date":"2026-03-02","sections":{"A B":"b"}}"#, Some("sections.A B")),
            (br#"{"tool":"x","session_date":"2026-03-02","sections":{"a":1}}"#, Some("sections.a")),
            (br#"{"tool":"x","session_date":"2026-03-02","sections":{"a":"b"},"patient":"x"}"#, Some("patient")),
            (b"{\"tool\":\"x\xff\"}", None),
            (b"[1,2]", None),
            (b"{", None),
        ] {
            let (named, _) = check(body, day()).expect_err(&String::from_utf8_lossy(body));
            assert_eq!(named.as_deref(), field, "{}", String::from_utf8_lossy(body));
        }
    }
}
