//! Failing fast while PostgreSQL is unreachable.
//!
//! When PostgreSQL is down (stopped, restarting, unreachable), connecting
//! fails with "connection refused", and the pool keeps retrying until its
//! acquire timeout: every request would wait seconds for its 503. The first
//! request that meets a database outage trips the breaker instead; while it
//! is open, requests that need the database get their 503 at once, and one
//! background probe per process tries PostgreSQL every
//! [`PROBE_INTERVAL`]: the first success closes the breaker, so the portal
//! serves again within that interval of PostgreSQL coming back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;

/// How often the probe tries PostgreSQL while the breaker is open.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// The longest one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Open while PostgreSQL is known to be unreachable.
#[derive(Debug, Default)]
pub struct DbBreaker {
    open: AtomicBool,
}

impl DbBreaker {
    /// A closed breaker.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Whether requests needing the database should fail at once.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// A request met a database outage: open the breaker and, unless one
    /// runs already, start the probe that closes it again.
    pub fn trip(self: &Arc<Self>, pool: &PgPool) {
        if self.open.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("PostgreSQL is unreachable: failing fast until it answers again");
        let (breaker, pool) = (Arc::clone(self), pool.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_INTERVAL).await;
                let probe = sqlx::query("SELECT 1").execute(&pool);
                if let Ok(Ok(_)) = tokio::time::timeout(PROBE_TIMEOUT, probe).await {
                    breaker.open.store(false, Ordering::Release);
                    tracing::info!("PostgreSQL answers again: serving");
                    return;
                }
                if pool.is_closed() {
                    return;
                }
            }
        });
    }
}

/// Whether a request to `path` needs the database (everything but the
/// health, metrics and static routes and the bearer-token API, which
/// validates tokens without it).
pub fn needs_database(path: &str) -> bool {
    !(matches!(path, "/healthz" | "/readyz" | "/metrics" | "/api/reports")
        || path.starts_with("/static/")
        || path.starts_with("/api/orgs/"))
}

#[cfg(test)]
mod tests {
    use super::needs_database;

    #[test]
    fn which_routes_need_the_database() {
        for path in [
            "/",
            "/protected",
            "/t/acme/",
            "/api/me",
            "/backchannel-logout",
        ] {
            assert!(needs_database(path), "{path}");
        }
        for path in [
            "/healthz",
            "/readyz",
            "/metrics",
            "/static/portal.css",
            "/api/orgs/o/whoami",
        ] {
            assert!(!needs_database(path), "{path}");
        }
    }
}
