//! Failing fast while PostgreSQL is unreachable.
//!
//! When PostgreSQL is down (stopped, restarting, unreachable), connecting
//! fails with "connection refused", and the pool keeps retrying until its
//! acquire timeout: every request would wait seconds for its 503. The first
//! request that meets a database outage trips the breaker instead; while it
//! is open, requests that need the database get their 503 at once, and one
//! background probe per process tries a connection of its own at once and
//! then every [`PROBE_INTERVAL`]: the first success closes the breaker, so
//! the portal serves again within that interval of PostgreSQL coming back
//! (and a false alarm costs one connection attempt).
//!
//! `web::middleware::breaker_guard` is the middleware that trips it and
//! fails fast; `startup.rs` puts it on the routes that need PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;

/// How often the probe tries PostgreSQL while the breaker is open.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// The longest one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The error of a request refused at once because the breaker is open
/// (the portal renders it as its 503 page).
#[derive(Debug, thiserror::Error)]
#[error("PostgreSQL is unreachable: failing fast")]
pub struct BreakerOpen;

impl actix_web::ResponseError for BreakerOpen {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE
    }
}

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

    /// A request met what looks like a database outage: open the breaker
    /// and, unless one runs already, start the probe that closes it again.
    /// The probe starts at once, so a false alarm (PostgreSQL answers) keeps
    /// the breaker open for one connection attempt only.
    pub fn trip(self: &Arc<Self>, pool: &PgPool) {
        if self.open.swap(true, Ordering::AcqRel) {
            return;
        }
        let (breaker, pool) = (Arc::clone(self), pool.clone());
        tokio::spawn(async move {
            let mut reported = false;
            loop {
                if answers(&pool).await {
                    breaker.open.store(false, Ordering::Release);
                    if reported {
                        tracing::info!("PostgreSQL answers again: serving");
                    }
                    return;
                }
                if !reported {
                    tracing::warn!("PostgreSQL is unreachable: failing fast until it answers");
                    reported = true;
                }
                if pool.is_closed() {
                    return;
                }
                tokio::time::sleep(PROBE_INTERVAL).await;
            }
        });
    }
}

async fn answers(pool: &PgPool) -> bool {
    crate::storage::answers_on_new_connection(pool, PROBE_TIMEOUT).await
}
