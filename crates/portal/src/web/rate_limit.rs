//! A small fixed-window rate limiter per client IP (per instance), and how
//! the client IP of a request is found behind a reverse proxy.
//!
//! Ours rather than `governor`'s keyed limiter: the back-channel route must
//! ask whether a budget is spent without spending it (only refusals count),
//! and `governor` has no such look.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

/// Allows `limit` requests per `window` per key.
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// `limit` = 0 disables limiting.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts `req` against its client's budget ([`client_ip`]); false when
    /// over the limit.
    pub fn allow_request(&self, req: &HttpRequest) -> bool {
        self.allow(client_ip(req))
    }

    /// Whether `ip` has used up its budget in the current window; counts
    /// nothing (for limits that count only some outcomes).
    pub fn exhausted(&self, ip: IpAddr) -> bool {
        if self.limit == 0 {
            return false;
        }
        let now = Instant::now();
        let Ok(hits) = self.hits.lock() else {
            return false;
        };
        hits.get(&ip)
            .is_some_and(|(start, n)| now.duration_since(*start) < self.window && *n >= self.limit)
    }

    /// Counts a request from `ip`; false when over the limit.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.limit == 0 {
            return true;
        }
        let now = Instant::now();
        let Ok(mut hits) = self.hits.lock() else {
            return true;
        };
        if hits.len() > 100_000 {
            let window = self.window;
            hits.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = hits.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.limit
    }
}

/// The client's IP for rate limiting. `X-Forwarded-For` is believed only
/// from a peer on loopback or a private network (the reverse proxy of a
/// deployment, as in `crates/portal/deploy/nginx.conf`); a portal reached directly from the
/// internet uses the peer address, so a client cannot pick its own IP.
pub fn client_ip(req: &HttpRequest) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    resolve_client_ip(peer, forwarded)
}

/// Loopback, private (RFC 1918, unique-local) and link-local addresses: where
/// a trusted reverse proxy lives.
fn is_internal(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

/// The client behind a chain of proxies: with an internal peer, the
/// right-most `X-Forwarded-For` entry that is not itself internal (entries
/// further left were written by the client and prove nothing); the peer
/// otherwise.
fn resolve_client_ip<'a>(peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>) -> IpAddr {
    if !is_internal(peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = forwarded_for
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(l.allow(a));
        assert!(l.allow(a));
        assert!(!l.allow(a));
        assert!(l.allow(b));
        assert!(RateLimiter::new(0, Duration::from_secs(1)).allow(a));
    }

    fn ip(s: &str) -> IpAddr {
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
