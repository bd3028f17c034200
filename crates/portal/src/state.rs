//! What every handler shares: settings, the Logto client, templates,
//! counters, and its worker's pool.

use std::sync::{Arc, Mutex};

use actix_web::web::Bytes;
use logto_client::LogtoClient;
use sqlx::PgPool;

use crate::config::Settings;
use crate::infra::breaker::DbBreaker;
use crate::infra::metrics::Metrics;
use crate::self_service::SelfService;
use crate::storage::local_cache::LocalCache;
use crate::web::claims_table::ClaimsTables;
use crate::web::rate_limit::RateLimiter;
use logto_actix::postgres::TokenCipher;

/// Application state (`web::Data<AppState>`). Each actix worker has its own
/// copy ([`AppState::for_worker`]) that differs only in [`AppState::pool`];
/// everything else is shared by the whole process.
#[derive(Clone)]
pub struct AppState {
    /// The settings read at start-up.
    pub settings: Settings,
    /// One Logto client for every user of this process.
    pub client: LogtoClient,
    /// Templates, parsed once.
    pub templates: Arc<tera::Tera>,
    /// The claims tables rendered lately, for the signed-in pages.
    pub claims_tables: Arc<ClaimsTables>,
    /// Tenants and organization tokens, kept current by change
    /// notifications (see [`crate::storage::local_cache`]).
    pub local_cache: Arc<LocalCache>,
    /// PostgreSQL: in a worker's state, that worker's own pool; in the
    /// state [`crate::startup::Application::state`] returns, the pool for
    /// start-up and background work.
    pub pool: PgPool,
    /// The workers' pools and the listener's, for [`AppState::close_database`].
    worker_pools: Arc<Mutex<Vec<PgPool>>>,
    /// Open while PostgreSQL is unreachable: requests fail fast.
    pub db_breaker: Arc<DbBreaker>,
    /// Encrypts tokens at rest.
    pub cipher: Arc<TokenCipher>,
    /// The stylesheet, read once at start-up.
    pub stylesheet: Bytes,
    /// Prometheus counters.
    pub metrics: Arc<Metrics>,
    /// Per-IP limit of sign-in and callback requests.
    pub sign_in_limiter: Arc<RateLimiter>,
    /// Per-IP limit of back-channel logout requests.
    pub backchannel_limiter: Arc<RateLimiter>,
    /// Organization self-service, when a machine-to-machine application
    /// is configured (`LOGTO_M2M_APP_ID`).
    pub self_service: Option<Arc<SelfService>>,
}

/// The parts of [`AppState`] that are built at start-up.
pub struct Parts {
    /// See [`AppState::settings`].
    pub settings: Settings,
    /// See [`AppState::client`].
    pub client: LogtoClient,
    /// See [`AppState::templates`].
    pub templates: tera::Tera,
    /// The pool for start-up and background work.
    pub pool: PgPool,
    /// See [`AppState::cipher`].
    pub cipher: Arc<TokenCipher>,
    /// See [`AppState::stylesheet`].
    pub stylesheet: String,
    /// See [`AppState::local_cache`].
    pub local_cache: Arc<LocalCache>,
    /// See [`AppState::self_service`].
    pub self_service: Option<Arc<SelfService>>,
}

impl AppState {
    /// The process's state, with fresh counters, limiters and breaker.
    pub fn new(parts: Parts) -> Self {
        let per_minute = std::time::Duration::from_secs(60);
        Self {
            sign_in_limiter: Arc::new(RateLimiter::new(
                parts.settings.sign_in_rate_per_minute,
                per_minute,
            )),
            backchannel_limiter: Arc::new(RateLimiter::new(
                parts.settings.backchannel_rate_per_minute,
                per_minute,
            )),
            settings: parts.settings,
            client: parts.client,
            templates: Arc::new(parts.templates),
            claims_tables: Arc::default(),
            local_cache: parts.local_cache,
            pool: parts.pool,
            worker_pools: Arc::default(),
            db_breaker: DbBreaker::new(),
            cipher: parts.cipher,
            stylesheet: Bytes::from(parts.stylesheet),
            metrics: Arc::default(),
            self_service: parts.self_service,
        }
    }

    /// The state of one worker, whose requests use `pool`.
    pub fn for_worker(&self, pool: PgPool) -> Self {
        self.adopt_pool(pool.clone());
        Self {
            pool,
            ..self.clone()
        }
    }

    /// Makes [`AppState::close_database`] close `pool` too.
    pub fn adopt_pool(&self, pool: PgPool) {
        if let Ok(mut pools) = self.worker_pools.lock() {
            pools.push(pool);
        }
    }

    /// Closes every pool of the process, the workers' and the background
    /// one: from then on the portal meets PostgreSQL as gone. Tests use it
    /// to cut the database off, and to let their database be dropped.
    pub async fn close_database(&self) {
        let workers: Vec<PgPool> = self
            .worker_pools
            .lock()
            .map(|pools| pools.clone())
            .unwrap_or_default();
        for pool in workers.iter().chain([&self.pool]) {
            pool.close().await;
        }
    }
}
