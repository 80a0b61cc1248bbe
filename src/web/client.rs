//! Who is asking, and over what: the client address (for throttling) and
//! whether the page was reached securely (for the session cookie).
//!
//! `X-Forwarded-For` and `X-Forwarded-Proto` are believed only when the
//! connection comes from the configured trusted proxy; anyone else could
//! forge them to dodge the per-address limit.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::config::Config;

/// The address throttling counts against. For IPv6 the /64 prefix, since
/// one client usually holds a whole /64.
pub fn throttle_address(req: &HttpRequest, config: &Config) -> String {
    match client_ip(req, config) {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => "unknown".to_owned(),
    }
}

/// The client's IP: the peer, or the right-most forwarded address when the
/// peer is the trusted proxy (the one the proxy itself appended).
pub fn client_ip(req: &HttpRequest, config: &Config) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    if peer.is_some() && peer == config.trusted_proxy {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|v| v.trim().parse::<IpAddr>().ok())
            .last();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer
}

/// Whether the request reached us over https (directly, or via the trusted proxy).
pub fn is_https(req: &HttpRequest, config: &Config) -> bool {
    if config.tls {
        return true;
    }
    let peer = req.peer_addr().map(|a| a.ip());
    peer.is_some()
        && peer == config.trusted_proxy
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The Host header's host part, lower-cased, without port or brackets.
pub fn host_name(req: &HttpRequest) -> Option<String> {
    let host = req
        .headers()
        .get(header::HOST)?
        .to_str()
        .ok()?
        .trim()
        .to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next()?.to_owned()
    } else {
        host.split(':').next()?.to_owned()
    };
    Some(name)
}

/// Whether browsers will keep a Secure cookie set in answer to this request:
/// over https, or over http to a loopback host.
pub fn secure_cookies_work(req: &HttpRequest, config: &Config) -> bool {
    if is_https(req, config) {
        return true;
    }
    match host_name(req) {
        Some(name) if name == "localhost" || name.ends_with(".localhost") => true,
        Some(name) => name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// The browser as it describes itself (shown in a therapist's list of
/// sessions), at most 300 characters.
pub fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(300).collect())
}
