//! HTTP handlers, one module per area.

pub mod api;
pub mod assets;
pub mod auth;
pub mod backchannel;
pub mod health;
pub mod pages;
pub mod tenant;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::AppError;
use crate::state::AppState;

/// A 302 that must not be cached.
pub(crate) fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Renders `template` as a page, with the navigation's sign-in state.
pub(crate) fn render_page(
    state: &AppState,
    template: &str,
    mut ctx: tera::Context,
    auth: Option<&crate::auth::Authenticated>,
) -> Result<HttpResponse, AppError> {
    ctx.insert("signed_in", &auth.is_some());
    if let Some(a) = auth {
        ctx.insert("user_name", &display_name(&a.claims));
        ctx.insert("csrf", &a.csrf);
    }
    ctx.insert("has_api_resource", &state.settings.api_resource.is_some());
    let html = state
        .templates
        .render(template, &ctx)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("rendering {template}: {e:?}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

/// The best human name in the claims.
pub(crate) fn display_name(c: &logto_client::IdTokenClaims) -> String {
    c.name
        .clone()
        .or_else(|| c.username.clone())
        .or_else(|| c.email.clone())
        .unwrap_or_else(|| c.sub.clone())
}

/// The client's IP for rate limiting. `X-Forwarded-For` is believed only
/// from a peer on loopback or a private network (the reverse proxy of a
/// deployment, as in `crates/portal/deploy/nginx.conf`); a portal reached directly from the
/// internet uses the peer address, so a client cannot pick its own IP.
pub(crate) fn client_ip(req: &HttpRequest) -> std::net::IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    resolve_client_ip(peer, forwarded)
}

/// Loopback, private (RFC 1918, unique-local) and link-local addresses: where
/// a trusted reverse proxy lives.
fn is_internal(ip: std::net::IpAddr) -> bool {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local()
        }
    }
}

/// The client behind a chain of proxies: with an internal peer, the
/// right-most `X-Forwarded-For` entry that is not itself internal (entries
/// further left were written by the client and prove nothing); the peer
/// otherwise.
fn resolve_client_ip<'a>(
    peer: std::net::IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
) -> std::net::IpAddr {
    if !is_internal(peer) {
        return peer;
    }
    let hops: Vec<std::net::IpAddr> = forwarded_for
        .flat_map(|v| v.split(','))
        .map_while(|h| h.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !is_internal(**ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// Refuses a state-changing request whose `Origin` (or, lacking it,
/// `Referer`) is not the portal's own.
pub(crate) fn check_same_origin(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<(), AppError> {
    let own = state.settings.origin();
    let header_origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            req.headers()
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .map(|u| u.origin().ascii_serialization())
        });
    match header_origin {
        Some(o) if o != own => Err(AppError::Csrf),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_an_internal_peer() {
        let resolve = |peer: &str, xff: &[&str]| resolve_client_ip(ip(peer), xff.iter().copied());
        // Directly on the internet: the header is the client's own claim.
        assert_eq!(
            resolve("198.51.100.7", &["203.0.113.9"]),
            ip("198.51.100.7")
        );
        // Behind the deployment's proxy (private network or loopback).
        assert_eq!(resolve("172.18.0.5", &["203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(resolve("127.0.0.1", &["203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(resolve("::1", &["2001:db8::1"]), ip("2001:db8::1"));
        // A client that prepends a forged hop gains nothing: right-most external wins.
        assert_eq!(
            resolve("10.0.0.2", &["1.2.3.4, 203.0.113.9", "10.0.0.3"]),
            ip("203.0.113.9")
        );
        // Only internal hops (a test on loopback, a LAN client): the left-most.
        assert_eq!(resolve("127.0.0.1", &["192.168.1.20"]), ip("192.168.1.20"));
        // No header, or garbage: the peer.
        assert_eq!(resolve("127.0.0.3", &[]), ip("127.0.0.3"));
        assert_eq!(resolve("10.0.0.2", &["not an ip"]), ip("10.0.0.2"));
        // An IPv4-mapped IPv6 peer is judged by its IPv4 address.
        assert_eq!(
            resolve("::ffff:198.51.100.7", &["203.0.113.9"]),
            ip("::ffff:198.51.100.7")
        );
    }
}
