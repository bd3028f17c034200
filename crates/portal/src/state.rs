//! What every handler shares: settings, the Logto client, templates, the pool.

use std::sync::Arc;

use logto_client::LogtoClient;
use sqlx::PgPool;

use crate::breaker::DbBreaker;
use crate::config::Settings;
use crate::crypto::TokenCipher;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;

/// Shared application state (`web::Data<AppState>`).
pub struct AppState {
    /// The settings read at start-up.
    pub settings: Settings,
    /// One Logto client for every user of this process.
    pub client: LogtoClient,
    /// Templates, parsed once.
    pub templates: tera::Tera,
    /// PostgreSQL.
    pub pool: PgPool,
    /// Open while PostgreSQL is unreachable: requests fail fast.
    pub db_breaker: Arc<DbBreaker>,
    /// Encrypts tokens at rest.
    pub cipher: Arc<TokenCipher>,
    /// The stylesheet, read once at start-up.
    pub stylesheet: String,
    /// Prometheus counters.
    pub metrics: Metrics,
    /// Per-IP limit of sign-in and callback requests.
    pub sign_in_limiter: RateLimiter,
    /// Per-IP limit of back-channel logout requests.
    pub backchannel_limiter: RateLimiter,
}
