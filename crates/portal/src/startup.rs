//! Building and running the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use logto_client::{AppSecret, LogtoClient, LogtoConfig};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::infra::sweeper;
use crate::infra::telemetry::QuietRootSpan;
use crate::management::ManagementClient;
use crate::self_service::SelfService;
use crate::state::{AppState, Parts};
use crate::storage::caching::CachingSessionStore;
use crate::storage::local_cache::LocalCache;
use crate::storage::session_store::PgSessionStore;
use crate::storage::tenants;
use crate::web::auth::{PortalAuth, portal_logins};
use crate::web::{error, middleware, routes};

/// The portal, bound to its port and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

/// A lazily connecting pool: the process starts (and `/readyz` reports)
/// even while PostgreSQL is down; requests then fail fast with 503.
///
/// The application uses it for start-up and background work, and takes
/// its connect options and its size as the template and the budget of its
/// workers' own pools ([`worker_connections`]).
pub fn pool(settings: &Settings) -> anyhow::Result<PgPool> {
    Ok(pool_options()
        .max_connections(settings.database_connections)
        .connect_lazy(settings.database_url())?)
}

/// A connection idle for less than this is taken as alive without a ping.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// The portal's pool settings, sized
/// [`crate::config::default_database_connections`] unless the caller sizes
/// it (`PORTAL_DATABASE_CONNECTIONS`). sqlx pings every connection it hands
/// out (`test_before_acquire`): one more round trip per query. Like most pools
/// (HikariCP's `aliveBypassWindowMs`), ping only a connection that sat idle
/// for a while — the ones a PostgreSQL restart or an idle-session timeout
/// may have broken. A broken connection that is not pinged fails its query
/// and is discarded.
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(crate::config::default_database_connections())
        .acquire_timeout(Duration::from_secs(3))
        // No idle reaping and no maximum lifetime: either one starts sqlx's
        // pool maintenance task, whose idle counter can underflow under
        // churn and spin a runtime thread at 100 % forever (sqlx#3645, fixed
        // upstream after 0.9.0; seen here under sustained load in tests).
        // Broken idle connections are caught by the ping below instead.
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Each worker's share of `budget` connections (at least 2).
///
/// Every actix worker runs its own single-threaded event loop, and a sqlx
/// connection's socket belongs to the event loop that opened it. With one
/// pool for the process, a worker mostly gets connections another worker
/// opened: each of its queries is then woken through that other thread. So
/// requests use per-worker pools, which together hold about `budget`
/// connections (measurements: docs/performance.md).
pub fn worker_connections(budget: u32, workers: usize) -> u32 {
    let workers = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
    budget.div_ceil(workers).max(2)
}

/// Organization self-service, when a machine-to-machine application is
/// configured: the Management API at the Logto endpoint, with the IdP
/// timeout.
fn self_service(
    settings: &Settings,
    client: &LogtoClient,
    cache: &Arc<LocalCache>,
) -> anyhow::Result<Option<Arc<SelfService>>> {
    let Some(m2m) = settings.m2m.clone() else {
        return Ok(None);
    };
    let http = reqwest::Client::builder()
        .connect_timeout(settings.idp_timeout.min(Duration::from_secs(5)))
        .timeout(settings.idp_timeout)
        .build()
        .context("building the Management API's HTTP client")?;
    let management =
        ManagementClient::with_http_client(http, settings.logto_endpoint.clone(), m2m)?;
    Ok(Some(Arc::new(SelfService::new(
        management,
        client.config().issuer(),
        Arc::clone(cache),
        settings.base_url.as_str(),
        settings.invitation_ttl,
        settings.invitation_emails,
    ))))
}

/// The Logto client for these settings.
pub fn logto_client(settings: &Settings) -> anyhow::Result<LogtoClient> {
    let mut scopes = vec![
        "urn:logto:scope:organizations".to_owned(),
        "urn:logto:scope:organization_roles".to_owned(),
    ];
    for s in &settings.scopes {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    let mut resources = settings.resources.clone();
    if let Some(r) = &settings.api_resource
        && !resources.contains(r)
    {
        resources.push(r.clone());
    }
    let config = LogtoConfig::new(
        settings.logto_endpoint.as_str(),
        settings.app_id.clone(),
        Some(AppSecret::new(
            settings.app_secret.expose_secret().to_owned(),
        )),
    )
    .context("LOGTO_ENDPOINT")?
    .with_scopes(scopes)
    .with_resources(&resources)
    .context("LOGTO_RESOURCES")?
    .with_clock_skew(settings.clock_skew)
    .with_http_timeout(settings.idp_timeout)
    .with_allowed_algorithms(settings.signing_algorithms.iter().copied());
    Ok(LogtoClient::new(config)?)
}

impl Application {
    /// Binds the listener (port 0 picks a free one), applies migrations,
    /// seeds tenants, starts the sweeper and builds the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = pool(&settings)?;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("PORTAL_BIND: cannot listen on {}", settings.bind))?;
        Self::build_with(settings, pool, listener).await
    }

    /// [`Application::build`] with a given pool (see [`pool`]) and an
    /// already bound listener (tests: the base URL must know the port
    /// before start-up).
    pub async fn build_with(
        settings: Settings,
        pool: PgPool,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        crate::MIGRATOR
            .run(&pool)
            .await
            .context("applying database migrations")?;
        if let Some(path) = &settings.tenants_file {
            let n = tenants::seed_from_file(&pool, path).await?;
            tracing::info!(tenants = n, "tenants file loaded");
        }
        let client = logto_client(&settings)?;
        let cipher = Arc::new(settings.token_key.clone());
        let glob = settings.templates_dir.join("**").join("*.html");
        let mut templates = tera::Tera::new(&glob.to_string_lossy()).map_err(|e| {
            anyhow::anyhow!("templates in {}: {e:?}", settings.templates_dir.display())
        })?;
        templates.autoescape_on(vec![".html"]);
        let stylesheet =
            std::fs::read_to_string(settings.templates_dir.join("static").join("portal.css"))
                .unwrap_or_default();
        let local_cache = Arc::new(LocalCache::default());
        let self_service = self_service(&settings, &client, &local_cache)?;
        let port = listener.local_addr()?.port();
        sweeper::spawn(pool.clone(), Duration::from_secs(60), settings.idle_timeout);
        let state = web::Data::new(AppState::new(Parts {
            settings,
            client,
            templates,
            pool,
            cipher,
            stylesheet,
            local_cache,
            self_service,
        }));
        // One connection of its own for the change notifications, beside
        // the budget: it is held for as long as the portal runs.
        let notifications = pool_options()
            .max_connections(1)
            .connect_lazy_with((*state.pool.connect_options()).clone());
        state.adopt_pool(notifications.clone());
        crate::storage::local_cache::spawn(
            notifications,
            state.pool.clone(),
            Arc::clone(&state.local_cache),
        );
        crate::storage::local_cache::spawn_touches(
            state.pool.clone(),
            Arc::clone(&state.local_cache),
            state.settings.idle_timeout,
        );
        let server = run(listener, state.clone())?;
        Ok(Self {
            port,
            server,
            state,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests read the pool and the client through it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let https = state.settings.is_https();
    let cookie_name = if https {
        "__Host-portal-session"
    } else {
        "portal-session"
    };
    let key = Key::try_from(state.settings.session_key.expose())
        .map_err(|e| anyhow::anyhow!("configuration: PORTAL_SESSION_KEY: {e}"))?;
    let session_ttl = time::Duration::seconds(
        i64::try_from(state.settings.absolute_timeout.as_secs()).unwrap_or(i64::MAX / 2),
    );
    // Checked once here; every worker gets it on its own pool.
    let auth = PortalAuth::with_login_store(
        state.client.clone(),
        portal_logins(state.get_ref().clone()),
        state.settings.base_url.as_str(),
    )
    .map_err(|e| anyhow::anyhow!("configuration: PORTAL_BASE_URL: {e}"))?
    .error_handler(|e, _req| error::AppError::from(e).into());
    let workers = crate::config::cpus();
    let per_worker = worker_connections(state.pool.options().get_max_connections(), workers);
    let connect = state.pool.connect_options();
    let server = HttpServer::new(move || {
        // Runs on the worker's own thread: the pool's connections are opened
        // there, on demand, and their sockets belong to this worker's event
        // loop.
        let pool = pool_options()
            .max_connections(per_worker)
            .connect_lazy_with((*connect).clone());
        let state = web::Data::new(state.for_worker(pool));
        let store = CachingSessionStore::new(
            PgSessionStore::new(state.pool.clone()),
            Arc::clone(&state.local_cache),
        );
        let session = SessionMiddleware::builder(store.clone(), key.clone())
            .cookie_name(cookie_name.to_owned())
            .cookie_secure(https)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_path("/".to_owned())
            .cookie_domain(None)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(BrowserSession::default().state_ttl(session_ttl))
            .build();
        App::new()
            .app_data(state.clone())
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .wrap(from_fn(middleware::middleware_errors))
            .wrap(ErrorHandlers::new().default_handler(error::render))
            .wrap(middleware::security_headers(https))
            .wrap(from_fn(middleware::record_metrics))
            .wrap(TracingLogger::<QuietRootSpan>::new())
            // Outside the session: they must answer while PostgreSQL is down
            // (only the logout receiver needs it), and the logout receiver
            // ignores cookies.
            .route("/healthz", web::get().to(routes::health::healthz))
            .route("/readyz", web::get().to(routes::health::readyz))
            .route("/metrics", web::get().to(routes::health::metrics))
            .route(
                "/static/portal.css",
                web::get().to(routes::assets::stylesheet),
            )
            .service(
                web::resource("/backchannel-logout")
                    .wrap(from_fn(middleware::breaker_guard))
                    .route(web::post().to(routes::backchannel::receive)),
            )
            .route(
                "/api/orgs/{organization_id}/whoami",
                web::get().to(routes::api::org_whoami),
            )
            .route("/api/reports", web::get().to(routes::api::reports))
            .route(
                "/api/orgs/{organization_id}/members",
                web::get().to(routes::api::org_members),
            )
            .route(
                "/api/orgs/{organization_id}/members/{user_id}",
                web::delete().to(routes::api::org_remove_member),
            )
            .route(
                "/api/orgs/{organization_id}/members/{user_id}/roles",
                web::put().to(routes::api::org_set_roles),
            )
            .service(
                web::resource("/api/orgs/{organization_id}/invitations")
                    .route(web::get().to(routes::api::org_invitations))
                    .route(web::post().to(routes::api::org_invite)),
            )
            .route(
                "/api/orgs/{organization_id}/invitations/{id}",
                web::delete().to(routes::api::org_revoke_invitation),
            )
            .route(
                "/api/orgs/{organization_id}/audit",
                web::get().to(routes::api::org_audit),
            )
            .service(
                web::scope("")
                    .wrap(from_fn(middleware::limit_sign_ins))
                    .wrap(session)
                    // Outermost: it sees the session store's failures too.
                    .wrap(from_fn(middleware::breaker_guard))
                    .route("/", web::get().to(routes::pages::home))
                    // GET /sign-in, GET /callback, POST /sign-out.
                    .configure(
                        auth.replace_login_store(portal_logins(state.get_ref().clone()))
                            .routes(),
                    )
                    .route("/protected", web::get().to(routes::pages::protected))
                    .route(
                        "/protected/userinfo",
                        web::get().to(routes::pages::userinfo),
                    )
                    .route(
                        "/protected/resource",
                        web::get().to(routes::pages::resource),
                    )
                    .route(
                        "/organizations",
                        web::get().to(routes::pages::organizations),
                    )
                    .route("/t/{slug}/", web::get().to(routes::tenant::home))
                    .route("/t/{slug}", web::get().to(routes::tenant::home))
                    .route("/t/{slug}/sign-in", web::get().to(routes::tenant::sign_in))
                    .route("/t/{slug}/members", web::get().to(routes::members::list))
                    .route(
                        "/t/{slug}/members/invite",
                        web::post().to(routes::members::invite),
                    )
                    .route(
                        "/t/{slug}/members/{user_id}/roles",
                        web::post().to(routes::members::set_roles),
                    )
                    .route(
                        "/t/{slug}/members/{user_id}/remove",
                        web::post().to(routes::members::remove),
                    )
                    .route(
                        "/t/{slug}/invitations",
                        web::get().to(routes::members::invitations),
                    )
                    .route(
                        "/t/{slug}/invitations/{id}/revoke",
                        web::post().to(routes::members::revoke),
                    )
                    .route("/t/{slug}/audit", web::get().to(routes::members::audit))
                    .route("/invitations/{id}", web::get().to(routes::members::landing))
                    .route(
                        "/invitations/{id}/sign-in",
                        web::get().to(routes::members::sign_in),
                    )
                    .route(
                        "/invitations/{id}/accept",
                        web::post().to(routes::members::accept),
                    )
                    .route("/api/me", web::get().to(routes::api::me)),
            )
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::worker_connections;
    use crate::web::middleware::is_sign_in;

    #[test]
    fn sign_in_routes_are_recognised_and_nothing_else() {
        for path in [
            "/sign-in",
            "/callback",
            "/t/acme/sign-in",
            "/invitations/inv1/sign-in",
            "/invitations/inv1",
        ] {
            assert!(is_sign_in(path), "{path}");
        }
        for path in [
            "/",
            "/sign-out",
            "/t/acme/",
            "/t/acme/sign-in/x",
            "/t/a/b/sign-in",
            "/t//sign-in",
            "/x/sign-in",
            "/invitations/inv1/accept",
            "/invitations//sign-in",
            "/invitations/a/b/sign-in",
        ] {
            assert!(!is_sign_in(path), "{path}");
        }
    }

    #[test]
    fn workers_share_the_connection_budget_with_at_least_two_each() {
        assert_eq!(worker_connections(32, 2), 16);
        assert_eq!(worker_connections(32, 3), 11);
        assert_eq!(worker_connections(10, 1), 10);
        assert_eq!(worker_connections(4, 8), 2);
        assert_eq!(worker_connections(32, 0), 32);
    }
}
