//! Building and running the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use logto_client::{AppSecret, LogtoClient, LogtoConfig};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tracing_actix_web::TracingLogger;

use crate::auth::{PortalAuth, PortalLogins};
use crate::breaker::{self, BreakerOpen};
use crate::config::Settings;
use crate::error;
use crate::session_store::PgSessionStore;
use crate::state::{AppState, Parts};
use crate::telemetry::QuietRootSpan;
use crate::{routes, sweeper, tenants};

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
/// opened: each of its queries is then woken through that other thread
/// (measured with `strace -c`: about one such wake-up per request). With a
/// pool per worker, `cargo xtask bench` measured 15–30 % more requests per
/// second, on the portal and on the bench's floor alike. So requests use
/// per-worker pools, which together hold about `budget` connections.
pub fn worker_connections(budget: u32, workers: usize) -> u32 {
    let workers = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
    budget.div_ceil(workers).max(2)
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
    .with_resources(resources);
    let mut config = config;
    config.clock_skew = settings.clock_skew;
    config.http_timeout = settings.idp_timeout;
    config.allowed_algorithms = settings.signing_algorithms.clone();
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
        let port = listener.local_addr()?.port();
        sweeper::spawn(pool.clone(), Duration::from_secs(60), settings.idle_timeout);
        let state = web::Data::new(AppState::new(Parts {
            settings,
            client,
            templates,
            pool,
            cipher,
            stylesheet,
        }));
        // One connection of its own for the change notifications, beside
        // the budget: it is held for as long as the portal runs.
        let notifications = pool_options()
            .max_connections(1)
            .connect_lazy_with((*state.pool.connect_options()).clone());
        state.adopt_pool(notifications.clone());
        crate::local_cache::spawn(
            notifications,
            state.pool.clone(),
            Arc::clone(&state.local_cache),
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

/// The security headers of every response.
fn security_header_values(https: bool) -> Vec<(header::HeaderName, &'static str)> {
    let mut h = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; \
             form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    if https {
        h.push((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ));
    }
    h
}

/// Security headers on every response that reaches `DefaultHeaders`.
fn security_headers(https: bool) -> DefaultHeaders {
    security_header_values(https)
        .into_iter()
        .fold(DefaultHeaders::new(), |h, pair| h.add(pair))
}

/// Errors raised by middleware (the session store failing to load or save,
/// [`breaker::guard`] failing fast) bypass `ErrorHandlers`: turn them into a
/// rendered 503 ([`error::Outage`]), with one log line. Only the path and
/// the method are kept: holding a clone of the request while the router
/// runs would make actix panic.
async fn middleware_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path().to_owned();
    let method = req.method().clone();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    next.call(req).await.map_err(|e| {
        if e.as_error::<BreakerOpen>().is_some() {
            tracing::warn!(%method, %path, status = 503, "PostgreSQL unreachable: failing fast");
        } else {
            tracing::error!(%method, %path, status = 503, error = %e, "request failed in middleware (session store unavailable?)");
        }
        let https = state.as_ref().is_some_and(|s| s.settings.is_https());
        outage(&path, state, https)
    })
}

/// The 503 page of a request that failed in middleware or met an open
/// breaker. An error passes `DefaultHeaders` by: the page gets its headers
/// here.
fn outage(path: &str, state: Option<web::Data<AppState>>, https: bool) -> actix_web::Error {
    let outage = error::Outage::new(path, state);
    let mut res = actix_web::ResponseError::error_response(&outage);
    for (name, value) in security_header_values(https) {
        res.headers_mut()
            .insert(name, header::HeaderValue::from_static(value));
    }
    actix_web::error::InternalError::from_response(outage, res).into()
}

/// Counts requests by route pattern and status.
async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let res = next.call(req).await?;
    let req = res.request();
    if let Some(s) = req.app_data::<web::Data<AppState>>() {
        let route = req.match_pattern();
        s.metrics.observe_request(
            req.method().as_str(),
            route.as_deref().unwrap_or("unmatched"),
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// Gives the request the slot of [`crate::logins::prefetch`], naming the
/// tenant of a `/t/{slug}/…` path so that the session store reads it too.
async fn prefetch_slot(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let tenant = tenants::slug_in_path(req.path()).map(str::to_owned);
    crate::logins::prefetch::scope(tenant, next.call(req)).await
}

/// Whether `path` starts a sign-in or completes one: logto-actix's
/// `/sign-in` and `/callback`, and a tenant's `/t/{slug}/sign-in`.
fn is_sign_in(path: &str) -> bool {
    matches!(path, "/sign-in" | "/callback")
        || path
            .strip_prefix("/t/")
            .and_then(|rest| rest.strip_suffix("/sign-in"))
            .is_some_and(tenants::valid_slug)
}

/// Every sign-in route ([`is_sign_in`]) is rate limited per client, in
/// this one place; a refused callback still says
/// `Referrer-Policy: no-referrer` (its URL holds the code).
async fn limit_sign_ins(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let callback = req.path() == "/callback";
    let limited = is_sign_in(req.path())
        && req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| !s.sign_in_limiter.allow_request(req.request()));
    if !limited {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let mut res = HttpResponse::from_error(error::AppError::RateLimited);
    if callback {
        res.headers_mut().insert(
            header::REFERRER_POLICY,
            header::HeaderValue::from_static("no-referrer"),
        );
    }
    // `into_response` would drop the response's error, which the error
    // page reads: keep it.
    let (req, _payload) = req.into_parts();
    Ok(ServiceResponse::new(req, res).map_into_right_body())
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
        PortalLogins::new(state.get_ref().clone()),
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
        let store = PgSessionStore::new(state.pool.clone())
            .prefetching_logins(state.settings.idle_timeout)
            .with_local_cache(Arc::clone(&state.local_cache));
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
            .wrap(from_fn(middleware_errors))
            .wrap(ErrorHandlers::new().default_handler(error::render))
            .wrap(security_headers(https))
            .wrap(from_fn(record_metrics))
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
                    .wrap(from_fn(breaker::guard))
                    .route(web::post().to(routes::backchannel::receive)),
            )
            .route(
                "/api/orgs/{organization_id}/whoami",
                web::get().to(routes::api::org_whoami),
            )
            .route("/api/reports", web::get().to(routes::api::reports))
            .service(
                web::scope("")
                    .wrap(from_fn(limit_sign_ins))
                    .wrap(session)
                    // Outside the session middleware: the slot where its
                    // store leaves what it read for the handlers.
                    .wrap(from_fn(prefetch_slot))
                    // Outermost: it sees the session store's failures too.
                    .wrap(from_fn(breaker::guard))
                    .route("/", web::get().to(routes::pages::home))
                    // GET /sign-in, GET /callback, POST /sign-out.
                    .configure(
                        auth.replace_login_store(PortalLogins::new(state.get_ref().clone()))
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
    use super::{is_sign_in, worker_connections};

    #[test]
    fn sign_in_routes_are_recognised_and_nothing_else() {
        for path in ["/sign-in", "/callback", "/t/acme/sign-in"] {
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
