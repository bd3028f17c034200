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
use crate::web::views::{self, ErrorPage, RenderError, SignedInNav, TenantRef};

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
    /// The sign-in callback was refused (forged, replayed, expired, or the
    /// IdP said no): the client's error, kept whole for the log line.
    #[error("sign-in failed: {0}")]
    SignInFailed(logto_client::Error),
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
    /// The request cannot be carried out as things stand (the last admin).
    #[error("{0}")]
    Conflict(String),
    /// What the link led to is no longer there (a used or expired invitation).
    #[error("{0}")]
    Gone(String),
    /// A feature this deployment has not configured.
    #[error("{0}")]
    NotConfigured(String),
    /// Logto's Management API failed or refused a call.
    #[error(
        "Logto's Management API did not complete the change; nothing was changed, please try again"
    )]
    ManagementApi(#[source] crate::management::ManagementError),
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

impl From<RenderError> for AppError {
    fn from(e: RenderError) -> Self {
        Self::Unexpected(e.into())
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
            e if is_idp_outage(&e) => Self::IdpUnavailable(anyhow::Error::new(e)),
            E::Oidc(o) if o.is_access_denied() => Self::Forbidden {
                message: "you do not have access to this organization".into(),
                tenant: None,
            },
            e @ E::Callback(_) => Self::SignInFailed(e),
            // Outside the sign-in callback (which refuses the sign-in instead),
            // a refused answer of the IdP: `requires_sign_in` took the refreshed
            // ID tokens that end the session, what is left is the IdP's fault
            // (userinfo for another `sub`, a token type other than Bearer).
            E::Validation(v) => Self::IdpAnswerRefused(anyhow::Error::new(v)),
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}

/// A Management API failure's status: Logto unreachable, failing or
/// refusing the portal's credentials is a 503 "try again"; any other
/// refusal a 502 (the portal asked something Logto would not do).
fn management_status(e: &crate::management::ManagementError) -> StatusCode {
    use crate::management::ManagementError as M;
    match e {
        M::Unreachable { .. } | M::BadCredentials { .. } | M::TokenRefused { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        M::Api { status, .. } if *status >= 500 => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

impl From<crate::self_service::SelfServiceError> for AppError {
    fn from(e: crate::self_service::SelfServiceError) -> Self {
        use crate::self_service::{Refusal as R, SelfServiceError as E};
        match e {
            E::Refused(r) => {
                let message = r.to_string();
                match r {
                    R::MissingPermission(_)
                    | R::Escalation { .. }
                    | R::InvitationForSomeoneElse => Self::Forbidden {
                        message,
                        tenant: None,
                    },
                    R::LastAdmin => Self::Conflict(message),
                    R::UnknownRole(_) | R::InvalidEmail(_) => Self::BadRequest(message),
                    R::NotAMember | R::InvitationNotFound => Self::NotFound(message),
                    R::InvitationClosed(_) => Self::Gone(message),
                }
            }
            E::Management(m) => Self::ManagementApi(m),
            E::Database(d) => d.into(),
        }
    }
}

/// Whether `e` is the identity provider's outage, a 503 "try again"
/// whatever the request was: it cannot be reached; it answered with a
/// failure of its own (`server_error`, `temporarily_unavailable`, a 5xx),
/// so nothing is wrong with the session; or its discovery document fails
/// its checks (an issuer that differs from the configured endpoint, a
/// malformed document), which an operator must fix and `/readyz` reports.
pub(crate) fn is_idp_outage(e: &logto_client::Error) -> bool {
    use logto_client::Error as E;
    match e {
        E::Transport(_) => true,
        E::Oidc(o) => {
            matches!(o.error.as_str(), "server_error" | "temporarily_unavailable")
                || o.status.is_some_and(|s| s >= 500)
        }
        E::Config(
            logto_client::ConfigError::IssuerMismatch { .. }
            | logto_client::ConfigError::Discovery(_),
        ) => true,
        _ => false,
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignedOut { .. } | Self::SessionEnded => StatusCode::UNAUTHORIZED,
            Self::SignInFailed(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Csrf | Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::NotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::ManagementApi(e) => management_status(e),
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
            Self::Conflict(_) => "conflict",
            Self::Gone(_) => "gone",
            Self::NotConfigured(_) => "not_configured",
            Self::ManagementApi(_) => "management_api",
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
    let is_api = views::is_api_path(&path);
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
        builder.json(views::error_json(code, &message))
    } else if let Some(AppError::SignedOut { return_to }) = app_error {
        let target = format!("/sign-in?return_to={}", urlencode(return_to));
        HttpResponse::Found()
            .insert_header((header::LOCATION, target))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    } else {
        let state = req.app_data::<web::Data<AppState>>();
        let tenant = match app_error {
            Some(AppError::Forbidden { tenant, .. }) => tenant.as_ref(),
            _ => None,
        };
        let title = match (app_error, status.as_u16()) {
            (Some(AppError::SessionEnded), _) => "Please sign in again",
            (Some(AppError::SignInFailed(_)), _) => "Sign-in failed",
            (_, 403) => "No access",
            (_, 404) => "Page not found",
            (_, 409) => "Not possible",
            (_, 410) => "No longer valid",
            (_, 401) => "Please sign in",
            (_, 503) => "Temporarily unavailable",
            (Some(AppError::IdpAnswerRefused(_)), _) => "Sign-in service error",
            (Some(AppError::ManagementApi(_)), _) => "Logto did not answer as expected",
            (_, s) if s >= 500 => "Something went wrong",
            _ => "Request refused",
        };
        // A session that just ended (sign in again) shows the signed-out bar.
        let nav = req
            .extensions()
            .get::<SignedInNav>()
            .cloned()
            .filter(|_| !matches!(app_error, Some(AppError::SessionEnded)));
        let page = ErrorPage {
            status,
            title,
            message: &message,
            tenant,
            nav: nav.as_ref(),
        };
        let (content_type, body) = page.body(state.map(|s| s.get_ref()));
        builder.content_type(content_type).body(body)
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
            is_api: views::is_api_path(path),
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
            return res.json(views::error_json("unavailable", message));
        }
        let page = ErrorPage {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Temporarily unavailable",
            message,
            tenant: None,
            nav: None,
        };
        let (content_type, body) = page.body(self.state.as_ref().map(|s| s.get_ref()));
        res.content_type(content_type).body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logto_actix::{Answer, ErrorKind};
    use logto_client::{CallbackError, Endpoint, OidcError};

    fn oidc(endpoint: Endpoint, status: Option<u16>, error: &str) -> logto_client::Error {
        logto_client::Error::Oidc(OidcError {
            endpoint,
            status,
            error: error.into(),
            error_description: None,
            logto_code: None,
            logto_message: None,
        })
    }

    fn callback_failure(e: logto_client::Error) -> AppError {
        AppError::from(logto_actix::Error::new(
            ErrorKind::SignInFailed(e),
            Answer::Html,
        ))
    }

    #[test]
    fn a_refused_callback_keeps_the_clients_typed_error() {
        let e = callback_failure(logto_client::Error::Callback(CallbackError::UnknownState));
        assert!(
            matches!(
                &e,
                AppError::SignInFailed(logto_client::Error::Callback(CallbackError::UnknownState))
            ),
            "{e:?}"
        );
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        assert_eq!(e.code(), "sign_in_failed");
        assert!(e.to_string().starts_with("sign-in failed: "), "{e}");

        let e = callback_failure(oidc(Endpoint::Token, Some(400), "invalid_grant"));
        assert!(
            matches!(&e, AppError::SignInFailed(logto_client::Error::Oidc(o)) if o.error == "invalid_grant"),
            "{e:?}"
        );
    }

    #[test]
    fn an_idp_outage_during_the_callback_is_a_503_not_a_refusal() {
        for failure in [
            oidc(Endpoint::Token, Some(503), "invalid_request"),
            oidc(Endpoint::Token, None, "server_error"),
            oidc(Endpoint::Authorization, None, "temporarily_unavailable"),
        ] {
            let e = callback_failure(failure);
            assert!(matches!(e, AppError::IdpUnavailable(_)), "{e:?}");
            assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        }
        assert!(!is_idp_outage(&oidc(
            Endpoint::Token,
            Some(400),
            "invalid_grant"
        )));
    }
}
