//! Middleware wrapped around every route: security headers (on pages, static
//! files and error pages alike), the cross-origin check on state-changing
//! requests, and one log line per request.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use super::client::host_name;
use super::error::AppError;
use super::state::AppState;

const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Add the security headers to every response, whatever produced it.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let tls = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.config.tls);
    // The middleware inside this one and the router turn every error into a
    // response, so errors reach here as responses and get the headers too.
    // (Cloning the request to build one here would break actix's routing,
    // which needs to own it alone.)
    let mut res = next.call(req).await?.map_into_boxed_body();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        header::HeaderValue::from_static("same-origin"),
    );
    // Only static assets set their own caching; every page may show
    // protected data, so nothing else is ever stored by a browser or proxy.
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            header::HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    Ok(res)
}

/// An inbox token (`Authorization: Bearer …`) can post a draft to the
/// inbox and do nothing else: with one, any other method or path is
/// refused before it reaches a handler. (Other schemes, such as the Basic
/// credentials of a reverse proxy, pass untouched.)
pub async fn bearer_only_posts_drafts(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split(' ').next())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"));
    let inbox = req.path() == crate::inbox::api::INBOX_PATH;
    if bearer && !(inbox && req.method() == Method::POST) {
        let status = if inbox {
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED
        } else {
            actix_web::http::StatusCode::FORBIDDEN
        };
        let mut res = actix_web::HttpResponse::build(status);
        if inbox {
            res.insert_header((header::ALLOW, "POST"));
        }
        let res = res.json(serde_json::json!({
            "error": "an inbox token can only post drafts: POST /api/v1/inbox",
            "field": null,
        }));
        return Ok(req.into_response(res));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Refuse state-changing requests that a browser says come from another site,
/// before any body is read. The synchronizer token is checked later, by the
/// form extractors; this is the second, independent line.
pub async fn same_origin_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // The inbox endpoint answers a bearer token, never a cookie, so a page
    // of another site gains nothing by posting to it.
    let api = req.path() == crate::inbox::api::INBOX_PATH;
    if !api && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if let Some(reason) = cross_origin_reason(&req) {
            tracing::warn!(reason, "refused a cross-origin write");
            let res = AppError::forbidden(
                "This form was sent from another site, so it was refused to protect your account. Open Tearsheet directly and try again.",
            )
            .error_response();
            return Ok(req.into_response(res));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn cross_origin_reason(req: &ServiceRequest) -> Option<&'static str> {
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return Some("sec-fetch-site is cross-site");
    }
    let origin = headers
        .get(header::ORIGIN)?
        .to_str()
        .ok()?
        .trim()
        .to_ascii_lowercase();
    // Browsers send `Origin: null` on form posts from pages served with
    // `Referrer-Policy: no-referrer` (ours, by design), so "null" says
    // nothing; Sec-Fetch-Site above and the synchronizer token cover it.
    if origin == "null" {
        return None;
    }
    let Some((_, authority)) = origin.split_once("://") else {
        return Some("origin is malformed");
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())?
        .trim()
        .to_ascii_lowercase();
    if authority == host {
        return None;
    }
    // The Host header may omit a default port the Origin spells out, or the
    // reverse; compare host names then.
    let origin_host = authority.split(':').next().unwrap_or_default();
    let default_port =
        authority.ends_with(":80") || authority.ends_with(":443") || !authority.contains(':');
    if default_port
        && host_name(req.request()).as_deref() == Some(origin_host)
        && !host.contains(':')
    {
        return None;
    }
    Some("origin is another site")
}

/// One line per request: method, route pattern (never the raw path or query,
/// which could carry search words), status and time. No PHI.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let res = next.call(req).await?.map_into_boxed_body();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(no route)".to_owned());
    tracing::info!(
        method = %method,
        route = %route,
        status = res.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(res)
}
