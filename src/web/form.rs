//! Strict parsing of `application/x-www-form-urlencoded` bodies.
//!
//! actix's own `Form` decodes invalid UTF-8 lossily, which would silently
//! change what a therapist typed. Here a body is read up to a limit (413
//! beyond it, without buffering the rest), every key and value must be valid
//! UTF-8 after percent-decoding (400 otherwise), and only then is it
//! deserialised.

use actix_web::HttpRequest;
use actix_web::dev::Payload;
use actix_web::http::header;
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use super::error::AppError;

/// The limit for sign-in and account forms.
pub const SMALL_FORM_LIMIT: usize = 64 * 1024;

/// How much of an oversized body is read and thrown away so the browser,
/// still uploading, receives the 413 page instead of a reset connection.
/// Beyond this the connection is simply closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The request's media type, lower-cased, without parameters.
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Read the body of a form request, refusing more than `limit` bytes.
pub async fn read_body(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<Vec<u8>, AppError> {
    if media_type(req) != "application/x-www-form-urlencoded" {
        return Err(AppError::bad_request(
            "This page expects a form sent from Tearsheet's own pages.",
        ));
    }
    read_limited(req, payload, limit).await
}

/// Read a whole request body of any kind, refusing more than `limit`
/// bytes. Past the limit the rest is read and thrown away (up to a much
/// larger bound) so that a browser still sending gets the 413 page, not a
/// reset connection.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<Vec<u8>, AppError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(AppError::PayloadTooLarge(limit));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            AppError::bad_request("The form arrived incomplete. Please send it again.")
        })?;
        seen += chunk.len();
        if seen > DRAIN_LIMIT {
            break;
        }
        // Past the limit, keep reading (and discarding) so the browser gets
        // the 413 page rather than a connection reset mid-upload.
        if seen <= limit {
            body.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Err(AppError::PayloadTooLarge(limit));
    }
    Ok(body)
}

/// Read a `multipart/form-data` body (a file sent from one of our pages)
/// whole, bounded by `limit`, into its named parts.
pub async fn read_multipart(
    req: &HttpRequest,
    payload: actix_web::web::Payload,
    limit: usize,
) -> Result<Vec<(String, Vec<u8>)>, AppError> {
    if media_type(req) != "multipart/form-data" {
        return Err(AppError::bad_request(
            "This page expects a file sent from Tearsheet's own pages.",
        ));
    }
    // The whole body first, bounded: an oversized upload is read to its end
    // (and thrown away) so the browser sees the 413 page.
    let body = read_limited(req, payload.into_inner(), limit).await?;
    let mut parts = actix_multipart::Multipart::new(
        req.headers(),
        futures_util::stream::once(async move {
            Ok::<_, actix_web::error::PayloadError>(actix_web::web::Bytes::from(body))
        }),
    );
    let mut out = Vec::new();
    while let Some(field) = parts.next().await {
        let mut field = field.map_err(|_| {
            AppError::bad_request(
                "The upload arrived incomplete. Please choose the file and send it again.",
            )
        })?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| {
                AppError::bad_request("The upload arrived incomplete. Please send it again.")
            })?;
            bytes.extend_from_slice(&chunk);
        }
        out.push((name, bytes));
    }
    Ok(out)
}

/// Split a form body into decoded pairs, refusing invalid UTF-8.
pub fn parse_pairs(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let invalid = || {
        AppError::bad_request(
            "The form contained characters that are not valid text (invalid UTF-8). Nothing was saved.",
        )
    };
    body.split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut kv = part.splitn(2, |&b| b == b'=');
            let key = decode(kv.next().unwrap_or_default()).ok_or_else(invalid)?;
            let value = decode(kv.next().unwrap_or_default()).ok_or_else(invalid)?;
            Ok((key, value))
        })
        .collect()
}

fn decode(raw: &[u8]) -> Option<String> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes).ok()
}

/// A form body split into decoded pairs, before it is trusted.
pub struct Pairs(Vec<(String, String)>);

impl Pairs {
    /// Split a body, refusing invalid UTF-8.
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        parse_pairs(body).map(Self)
    }

    /// Every pair, in order.
    pub fn all(&self) -> &[(String, String)] {
        &self.0
    }

    /// Every value of a repeated field.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The pairs without the named fields (tokens and credentials).
    pub fn without(&self, names: &[&str]) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| !names.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Deserialise into the form's type (unknown fields, such as
    /// `csrf_token`, are ignored; repeated fields fill a `Vec`).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        let encoded = serde_urlencoded::to_string(&self.0).map_err(AppError::internal)?;
        serde_html_form::from_str(&encoded).map_err(|e| {
            AppError::bad_request(format!(
                "The form was incomplete or had a field in the wrong shape ({e}). Nothing was saved."
            ))
        })
    }
}

/// A form with no fields beyond its CSRF token (a button that does one thing).
#[derive(serde::Deserialize, Default)]
pub struct NoFields {}

/// The body-size limit for a route's forms, set with `.app_data(FormLimit(..))`.
#[derive(Clone, Copy, Debug)]
pub struct FormLimit(pub usize);

/// Field-by-field validation messages, shown next to their fields.
#[derive(Default, Debug)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// Add a message for a field.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }
    /// The message for a field, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
    /// Add every message of another set.
    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// All messages, in order, for the summary at the top of a form.
    pub fn all(&self) -> &[(&'static str, String)] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Login {
        email: String,
        password: String,
    }

    #[test]
    fn parses_fields_and_the_csrf_token() {
        let pairs =
            Pairs::parse(b"email=a%40b.c&password=p+w%C3%A9&csrf_token=tok").expect("parses");
        let form: Login = pairs.deserialize().expect("deserializes");
        assert_eq!(
            form,
            Login {
                email: "a@b.c".into(),
                password: "p wé".into()
            }
        );
        assert_eq!(pairs.get("csrf_token"), Some("tok"));
    }

    #[test]
    fn invalid_utf8_is_refused_not_replaced() {
        assert!(matches!(
            Pairs::parse(b"email=%FF&password=x"),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            Pairs::parse(b"email=\xff&password=x"),
            Err(AppError::BadRequest(_))
        ));
    }

    #[test]
    fn missing_fields_are_a_bad_request() {
        let pairs = Pairs::parse(b"email=a").expect("parses");
        assert!(matches!(
            pairs.deserialize::<Login>(),
            Err(AppError::BadRequest(_))
        ));
    }

    #[test]
    fn ampersands_and_equals_inside_values_survive() {
        let pairs = Pairs::parse(b"email=a%26b%3Dc&password=%3D%26").expect("parses");
        let form: Login = pairs.deserialize().expect("deserializes");
        assert_eq!(
            form,
            Login {
                email: "a&b=c".into(),
                password: "=&".into()
            }
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn parsing_any_body_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Pairs::parse(&body);
        }

        #[test]
        fn any_fields_a_browser_encodes_come_back_unchanged(
            fields in proptest::collection::vec(("\\PC{0,20}", "\\PC{0,80}"), 0..8),
        ) {
            let body = serde_urlencoded::to_string(&fields).expect("encodes");
            let pairs = Pairs::parse(body.as_bytes()).expect("parses");
            prop_assert_eq!(pairs.0, fields);
        }
    }
}
