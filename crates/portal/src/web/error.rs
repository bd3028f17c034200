//! The portal's one error type, mapped to HTTP in one place.
//!
//! Handlers return `Result<_, AppError>`. `ResponseError` gives each variant
//! its status; the [`render`] error handler (installed in `startup`) turns
//! every 4xx/5xx response into an HTML page, or into JSON under `/api/`.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};

use logto_actix::postgres::RefreshWaitTimedOut;

use crate::state::AppState;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not signed in: pages redirect to sign-in, the API answers 401.
    #[error("not signed in")]
    SignedOut {
        /// Where to come back to after sign-in (pages only).
        return_to: String,
    },
    /// The session ended at the identity provider (refresh token revoked or expired).
    #[error("your session has ended; please sign in again")]
    SessionEnded,
    /// The sign-in callback was refused (forged, replayed, expired, or the IdP said no).
    #[error("sign-in failed: {0}")]
    SignInFailed(String),
    /// A bad request (malformed form, failed CSRF check...).
    #[error("{0}")]
    BadRequest(String),
    /// CSRF token missing or wrong, or a cross-site origin.
    #[error("this request did not come from the portal's own page")]
    Csrf,
    /// Signed in, but not allowed.
    #[error("{message}")]
    Forbidden {
        /// What the user sees.
        message: String,
        /// The tenant refused, when it is a tenant page.
        tenant: Option<TenantRef>,
    },
    /// No such page or tenant.
    #[error("{0}")]
    NotFound(String),
    /// A bearer token was missing or invalid (API routes).
    #[error("{description}")]
    Bearer {
        /// 401 (`invalid_token`) or 403 (`insufficient_scope`).
        status: StatusCode,
        /// RFC 6750 error code.
        code: &'static str,
        /// Human-readable description.
        description: String,
    },
    /// Too many requests from one client.
    #[error("too many requests; try again in a minute")]
    RateLimited,
    /// PostgreSQL is unreachable: try again later.
    #[error("the service is temporarily unavailable; please try again shortly")]
    DatabaseUnavailable(#[source] anyhow::Error),
    /// The identity provider is unreachable or failing.
    #[error("the sign-in service is unavailable right now; please try again shortly")]
    IdpUnavailable(#[source] anyhow::Error),
    /// The identity provider answered something the client refuses (userinfo
    /// naming another user, a token of a type it cannot use): a 502, since
    /// the fault is upstream and trying again does not help.
    #[error("the sign-in service gave an answer the portal cannot accept")]
    IdpAnswerRefused(#[source] anyhow::Error),
    /// Anything else: logged, shown as a generic 500.
    #[error("something went wrong on our side")]
    Unexpected(#[source] anyhow::Error),
}

/// A tenant named on an error page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantRef {
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub display_name: String,
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            Self::DatabaseUnavailable(e.into())
        } else {
            Self::Unexpected(e.into())
        }
    }
}

/// Whether a sqlx error means "the database cannot be reached right now".
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now,
            // 08xxx connection exceptions, 55P03 lock timeout (another refresh).
            db.code()
                .is_some_and(|c| c.starts_with("57P") || c.starts_with("08") || c == "55P03")
        }
        _ => false,
    }
}

impl From<crate::web::claims_table::ViewError> for AppError {
    fn from(e: crate::web::claims_table::ViewError) -> Self {
        use crate::web::claims_table::ViewError as V;
        match e {
            V::Decode(e) => e.into(),
            V::Render(e) => Self::Unexpected(anyhow::anyhow!("rendering a claims table: {e:?}")),
        }
    }
}

impl From<logto_client::Error> for AppError {
    fn from(e: logto_client::Error) -> Self {
        use logto_client::Error as E;
        if e.requires_sign_in() {
            return Self::SessionEnded;
        }
        match e {
            E::Storage(s) => {
                // The store's own wait for a concurrent refresh is a "try again" too.
                let source = std::error::Error::source(&s);
                let unavailable = source
                    .and_then(|src| src.downcast_ref::<sqlx::Error>())
                    .is_some_and(is_unavailable)
                    || source.is_some_and(|src| src.is::<RefreshWaitTimedOut>());
                if unavailable {
                    Self::DatabaseUnavailable(anyhow::Error::new(s))
                } else {
                    Self::Unexpected(anyhow::Error::new(s))
                }
            }
            E::Transport(t) => Self::IdpUnavailable(anyhow::Error::new(t)),
            // The IdP answered with a failure of its own (a 503 with
            // `server_error`, say): nothing is wrong with the session; try
            // again shortly.
            E::Oidc(o)
                if matches!(o.error.as_str(), "server_error" | "temporarily_unavailable")
                    || o.status.is_some_and(|s| s >= 500) =>
            {
                Self::IdpUnavailable(anyhow::Error::new(E::Oidc(o)))
            }
            E::Oidc(o) if o.is_access_denied() => Self::Forbidden {
                message: "you do not have access to this organization".into(),
                tenant: None,
            },
            E::Callback(c) => Self::SignInFailed(c.to_string()),
            // Outside the sign-in callback (which refuses the sign-in instead),
            // a refused answer of the IdP: `requires_sign_in` took the refreshed
            // ID tokens that end the session, what is left is the IdP's fault
            // (userinfo for another `sub`, a token type other than Bearer).
            E::Validation(v) => Self::IdpAnswerRefused(anyhow::Error::new(v)),
            // Discovery that fails its checks (an issuer that differs from
            // the configured endpoint, a malformed document): sign-in cannot
            // work until an operator fixes it; the log line says what, and
            // `/readyz` reports it.
            E::Config(
                c @ (logto_client::ConfigError::IssuerMismatch { .. }
                | logto_client::ConfigError::Discovery(_)),
            ) => Self::IdpUnavailable(anyhow::Error::new(c)),
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignedOut { .. } | Self::SessionEnded => StatusCode::UNAUTHORIZED,
            Self::SignInFailed(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Csrf | Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Bearer { status, .. } => *status,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::DatabaseUnavailable(_) | Self::IdpUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::IdpAnswerRefused(_) => StatusCode::BAD_GATEWAY,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        // The body is filled in by `render`, which knows the request.
        let mut res = HttpResponse::build(self.status_code());
        if let Self::Bearer {
            code, description, ..
        } = self
        {
            let value = format!(
                "Bearer error=\"{code}\", error_description=\"{}\"",
                description.replace('"', "'")
            );
            if let Ok(v) = HeaderValue::from_str(&value) {
                res.insert_header((header::WWW_AUTHENTICATE, v));
            }
        }
        match self {
            Self::RateLimited => {
                res.insert_header((header::RETRY_AFTER, "60"));
            }
            Self::DatabaseUnavailable(_) | Self::IdpUnavailable(_) => {
                res.insert_header((header::RETRY_AFTER, OUTAGE_RETRY_AFTER));
            }
            _ => {}
        }
        res.finish()
    }
}

impl AppError {
    /// A short machine-readable code for JSON bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SignedOut { .. } => "not_authenticated",
            Self::SessionEnded => "session_ended",
            Self::SignInFailed(_) => "sign_in_failed",
            Self::BadRequest(_) => "bad_request",
            Self::Csrf => "csrf",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Bearer { code, .. } => code,
            Self::RateLimited => "rate_limited",
            Self::DatabaseUnavailable(_) | Self::IdpUnavailable(_) => "unavailable",
            Self::IdpAnswerRefused(_) => "bad_gateway",
            Self::Unexpected(_) => "internal_error",
        }
    }

    fn log(&self, method: &str, path: &str) {
        let chain = |e: &dyn std::error::Error| {
            let mut out = e.to_string();
            let mut src = e.source();
            while let Some(s) = src {
                out.push_str(": ");
                out.push_str(&s.to_string());
                src = s.source();
            }
            out
        };
        let status = self.status_code().as_u16();
        if status >= 500 {
            tracing::error!(%method, %path, status, code = self.code(), error = %chain(self), "request failed");
        } else {
            tracing::warn!(%method, %path, status, code = self.code(), reason = %chain(self), "request refused");
        }
    }
}

/// Renders the body of every 4xx/5xx response: JSON under `/api/`, an HTML
/// page elsewhere. Signed-out page requests become a redirect to sign-in.
pub fn render<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // A JSON answer a handler built on purpose (`/readyz` saying why it is
    // not ready) is already complete: keep it.
    let handler_json = res.response().error().is_none()
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if handler_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let (req, res) = res.into_parts();
    let status = res.status();
    let path = req.path().to_owned();
    let app_error = res.error().and_then(|e| e.as_error::<AppError>());
    if let Some(e) = app_error {
        e.log(req.method().as_str(), &path);
    }
    let is_api = path.starts_with("/api/") || path == "/backchannel-logout";
    let headers = res.headers().clone();

    let mut builder = HttpResponse::build(status);
    for (name, value) in headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.insert_header((name.clone(), value.clone()));
        }
    }
    builder.insert_header((header::CACHE_CONTROL, "no-store"));

    let message = app_error
        .map(|e| e.to_string())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned());
    let new_res = if is_api {
        let code = app_error
            .map(AppError::code)
            .unwrap_or(match status.as_u16() {
                404 => "not_found",
                405 => "method_not_allowed",
                s if s >= 500 => "internal_error",
                _ => "bad_request",
            });
        builder.json(serde_json::json!({"error": code, "message": message}))
    } else if let Some(AppError::SignedOut { return_to }) = app_error {
        let target = format!("/sign-in?return_to={}", urlencode(return_to));
        HttpResponse::Found()
            .insert_header((header::LOCATION, target))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    } else {
        let state = req.app_data::<web::Data<AppState>>();
        let tenant = match app_error {
            Some(AppError::Forbidden { tenant, .. }) => tenant.clone(),
            _ => None,
        };
        let title = match (app_error, status.as_u16()) {
            (Some(AppError::SessionEnded), _) => "Please sign in again",
            (Some(AppError::SignInFailed(_)), _) => "Sign-in failed",
            (_, 403) => "No access",
            (_, 404) => "Page not found",
            (_, 401) => "Please sign in",
            (_, 503) => "Temporarily unavailable",
            (Some(AppError::IdpAnswerRefused(_)), _) => "Sign-in service error",
            (_, s) if s >= 500 => "Something went wrong",
            _ => "Request refused",
        };
        let html = state.and_then(|s| {
            let mut ctx = tera::Context::new();
            ctx.insert("status", &status.as_u16());
            ctx.insert("title", title);
            ctx.insert("message", &message);
            ctx.insert("tenant", &tenant);
            ctx.insert("show_sign_in", &matches!(status.as_u16(), 401 | 400));
            let nav = req
                .extensions()
                .get::<crate::web::auth::SignedInNav>()
                .cloned();
            // A session that just ended (sign in again) shows the signed-out bar.
            let nav = nav.filter(|_| !matches!(app_error, Some(AppError::SessionEnded)));
            ctx.insert("signed_in", &nav.is_some());
            if let Some(nav) = nav {
                ctx.insert("user_name", &nav.user_name);
                ctx.insert("csrf", &nav.csrf);
            }
            ctx.insert("has_api_resource", &s.settings.api_resource.is_some());
            s.templates.render("error.html", &ctx).ok()
        });
        match html {
            Some(html) => builder.content_type("text/html; charset=utf-8").body(html),
            None => builder
                .content_type("text/plain; charset=utf-8")
                .body(format!("{} {title}: {message}", status.as_u16())),
        }
    };
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new_res).map_into_right_body(),
    ))
}

/// Percent-encodes a query value.
pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `Retry-After` of every 503 (seconds): outages of PostgreSQL or the IdP.
const OUTAGE_RETRY_AFTER: &str = "5";

/// A request that failed in middleware (the session store cannot reach
/// PostgreSQL): rendered as a 503 page, or JSON under `/api/`.
pub struct Outage {
    is_api: bool,
    state: Option<web::Data<AppState>>,
}

impl std::fmt::Debug for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outage")
            .field("is_api", &self.is_api)
            .finish()
    }
}

impl Outage {
    /// For a request to `path`.
    pub fn new(path: &str, state: Option<web::Data<AppState>>) -> Self {
        Self {
            is_api: path.starts_with("/api/") || path == "/backchannel-logout",
            state,
        }
    }
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the service is temporarily unavailable")
    }
}

impl ResponseError for Outage {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let message = "the service is temporarily unavailable; please try again shortly";
        let mut res = HttpResponse::ServiceUnavailable();
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::RETRY_AFTER, OUTAGE_RETRY_AFTER))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        if self.is_api {
            return res.json(serde_json::json!({"error": "unavailable", "message": message}));
        }
        let html = self.state.as_ref().and_then(|s| {
            let mut ctx = tera::Context::new();
            ctx.insert("status", &503);
            ctx.insert("title", "Temporarily unavailable");
            ctx.insert("message", message);
            ctx.insert("tenant", &Option::<TenantRef>::None);
            ctx.insert("show_sign_in", &false);
            ctx.insert("signed_in", &false);
            s.templates.render("error.html", &ctx).ok()
        });
        match html {
            Some(h) => res.content_type("text/html; charset=utf-8").body(h),
            None => res
                .content_type("text/plain; charset=utf-8")
                .body(format!("503 Temporarily unavailable: {message}")),
        }
    }
}
