//! A client of Logto's Management API (`/api/*`), authenticated as a
//! machine-to-machine application.
//!
//! [`ManagementClient`] gets its token with the `client_credentials` grant
//! (HTTP Basic, `resource=https://default.logto.app/api`, `scope=all`), keeps
//! it until shortly before it expires and refreshes it single-flight: callers
//! that need a token while one is being fetched wait for that one. A `401`
//! from the API drops the token and retries once with a fresh one. The typed
//! calls (in [`api`](self#typed-calls)) cover what provisioning and the
//! portal's organization self-service need; every failure is a
//! [`ManagementError`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), portal::management::ManagementError> {
//! use portal::management::{M2mCredentials, ManagementClient};
//!
//! let client = ManagementClient::new(
//!     "http://127.0.0.1:3001".parse().unwrap(),
//!     M2mCredentials::new("m2m-app-id", "m2m-app-secret"),
//! )?;
//! let alice = client.find_user_by_username("alice").await?;
//! println!("{:?}", alice.map(|u| u.id));
//! # Ok(())
//! # }
//! ```

mod api;
mod types;

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

pub use types::*;

/// The Management API's resource indicator in Logto OSS (tenant `default`).
pub const DEFAULT_MANAGEMENT_RESOURCE: &str = "https://default.logto.app/api";

/// Items asked for per page when listing (Logto's maximum page size).
const PAGE_SIZE: usize = 100;

/// Everything a Management API call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    /// The endpoint given is not a usable base URL.
    #[error("LOGTO_ENDPOINT {0:?} is not an http(s) base URL")]
    InvalidEndpoint(String),
    /// No answer from Logto (connection refused, DNS, timeout, TLS...).
    #[error("Logto at {endpoint} is unreachable")]
    Unreachable {
        /// The endpoint tried.
        endpoint: String,
        /// What the HTTP client reported.
        #[source]
        source: reqwest::Error,
    },
    /// The token endpoint refused the application's id or secret (`401 invalid_client`).
    #[error(
        "Logto refused the machine-to-machine credentials of application {app_id:?} \
         (wrong LOGTO_M2M_APP_ID or LOGTO_M2M_APP_SECRET)"
    )]
    BadCredentials {
        /// The application id that was refused.
        app_id: String,
    },
    /// The token endpoint answered with another error, e.g. an application
    /// without the role "Logto Management API access" (`invalid_target`).
    #[error(
        "Logto issued no Management API token to application {app_id:?}: {status} {error}: {description}"
    )]
    TokenRefused {
        /// The application id.
        app_id: String,
        /// HTTP status.
        status: u16,
        /// OAuth error code.
        error: String,
        /// Its description.
        description: String,
    },
    /// The Management API answered 4xx or 5xx, with Logto's `{code, message}` body.
    #[error("{method} {path}: Logto answered {status} {code}: {message}")]
    Api {
        /// HTTP method of the call.
        method: String,
        /// Path of the call (no query string).
        path: String,
        /// HTTP status.
        status: u16,
        /// Logto's error code (`entity.not_found`, `user.username_already_in_use`...).
        code: String,
        /// Logto's message.
        message: String,
    },
    /// An answer that is not what Logto's OpenAPI description promises.
    #[error("{what}: unexpected answer from Logto: {detail}")]
    Unexpected {
        /// The call.
        what: String,
        /// What was wrong with the answer.
        detail: String,
    },
}

impl ManagementError {
    /// The HTTP status of an [`Api`](Self::Api) error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ManagementError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether Logto answered 404 (no such object).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// A machine-to-machine application's credentials. `Debug` hides the secret.
#[derive(Clone)]
pub struct M2mCredentials {
    /// Application (client) id.
    pub app_id: String,
    /// Application secret.
    pub app_secret: SecretString,
}

impl M2mCredentials {
    /// Credentials from an id and a secret.
    pub fn new(app_id: impl Into<String>, app_secret: impl Into<String>) -> Self {
        M2mCredentials {
            app_id: app_id.into(),
            app_secret: SecretString::from(app_secret.into()),
        }
    }
}

impl std::fmt::Debug for M2mCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("M2mCredentials")
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .finish()
    }
}

/// A token and when to stop using it.
struct CachedToken {
    value: SecretString,
    refresh_at: Instant,
}

/// How long before its expiry a token is replaced: a fifth of its lifetime,
/// at most a minute (so that a short-lived token is not fetched per call).
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 5).min(Duration::from_secs(60))
}

/// The Management API client. Cheap to share behind an `Arc`; calls may run
/// concurrently.
pub struct ManagementClient {
    http: reqwest::Client,
    endpoint: Url,
    credentials: M2mCredentials,
    resource: String,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for ManagementClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Logto's error body.
#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl ManagementClient {
    /// A client for the Logto at `endpoint` (e.g. `http://127.0.0.1:3001`;
    /// the issuer is `{endpoint}/oidc`), using the Management API resource of
    /// Logto OSS ([`DEFAULT_MANAGEMENT_RESOURCE`]).
    pub fn new(endpoint: Url, credentials: M2mCredentials) -> Result<Self, ManagementError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|source| ManagementError::Unreachable {
                endpoint: endpoint.to_string(),
                source,
            })?;
        Self::with_http_client(http, endpoint, credentials)
    }

    /// Like [`new`](Self::new), with a caller's HTTP client (shared
    /// connection pool, own timeouts).
    pub fn with_http_client(
        http: reqwest::Client,
        endpoint: Url,
        credentials: M2mCredentials,
    ) -> Result<Self, ManagementError> {
        if !matches!(endpoint.scheme(), "http" | "https")
            || endpoint.cannot_be_a_base()
            || endpoint.query().is_some()
        {
            return Err(ManagementError::InvalidEndpoint(endpoint.to_string()));
        }
        // A trailing slash, so that joining `api/...` keeps a path prefix.
        let mut endpoint = endpoint;
        if !endpoint.path().ends_with('/') {
            let path = format!("{}/", endpoint.path());
            endpoint.set_path(&path);
        }
        Ok(ManagementClient {
            http,
            endpoint,
            credentials,
            resource: DEFAULT_MANAGEMENT_RESOURCE.to_owned(),
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// Uses another Management API resource indicator (Logto Cloud:
    /// `https://{tenant}.logto.app/api`).
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = resource.into();
        self
    }

    /// The Logto endpoint, with a trailing slash.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The machine-to-machine application's id.
    pub fn app_id(&self) -> &str {
        &self.credentials.app_id
    }

    fn url(&self, path: &str) -> Result<Url, ManagementError> {
        self.endpoint
            .join(path.trim_start_matches('/'))
            .map_err(|e| ManagementError::Unexpected {
                what: path.to_owned(),
                detail: format!("cannot build the URL: {e}"),
            })
    }

    fn unreachable(&self, source: reqwest::Error) -> ManagementError {
        ManagementError::Unreachable {
            endpoint: self.endpoint.as_str().trim_end_matches('/').to_owned(),
            source,
        }
    }

    /// A valid access token for the Management API: the cached one, or a new
    /// one fetched by exactly one caller while the others wait for it.
    pub async fn access_token(&self) -> Result<SecretString, ManagementError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *slot = Some(fresh);
        Ok(value)
    }

    /// Forgets `used` if it is still the cached token (Logto refused it).
    async fn drop_token(&self, used: &SecretString) {
        let mut slot = self.token.lock().await;
        if slot
            .as_ref()
            .is_some_and(|t| t.value.expose_secret() == used.expose_secret())
        {
            *slot = None;
        }
    }

    async fn fetch_token(&self) -> Result<CachedToken, ManagementError> {
        let url = self.url("oidc/token")?;
        let started = Instant::now();
        let response = self
            .http
            .post(url)
            .basic_auth(
                &self.credentials.app_id,
                Some(self.credentials.app_secret.expose_secret()),
            )
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", self.resource.as_str()),
                ("scope", "all"),
            ])
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
            let error = parsed
                .as_ref()
                .and_then(|b| b.error.clone())
                .unwrap_or_default();
            if status == StatusCode::UNAUTHORIZED || error == "invalid_client" {
                return Err(ManagementError::BadCredentials {
                    app_id: self.credentials.app_id.clone(),
                });
            }
            return Err(ManagementError::TokenRefused {
                app_id: self.credentials.app_id.clone(),
                status: status.as_u16(),
                description: parsed
                    .and_then(|b| b.error_description.or(b.message))
                    .unwrap_or_else(|| snippet(&body)),
                error,
            });
        }
        let token: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| ManagementError::Unexpected {
                what: "POST /oidc/token".to_owned(),
                detail: e.to_string(),
            })?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        tracing::debug!(
            app_id = %self.credentials.app_id,
            expires_in = lifetime.as_secs(),
            "fetched a Management API token"
        );
        Ok(CachedToken {
            value: SecretString::from(token.access_token),
            refresh_at: started + lifetime.saturating_sub(refresh_margin(lifetime)),
        })
    }

    /// Sends one call; on `401` retries once with a fresh token. Returns the
    /// status, the `Total-Number` header and the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, Option<usize>, Vec<u8>), ManagementError> {
        let url = self.url(path)?;
        let mut retried = false;
        loop {
            let token = self.access_token().await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret());
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| self.unreachable(e))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !retried {
                // Revoked or expired early: one more try with a new token.
                self.drop_token(&token).await;
                retried = true;
                continue;
            }
            let total = response
                .headers()
                .get("total-number")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let bytes = response
                .bytes()
                .await
                .map_err(|e| self.unreachable(e))?
                .to_vec();
            if status.is_success() {
                return Ok((status, total, bytes));
            }
            let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
            return Err(ManagementError::Api {
                method: method.to_string(),
                path: path.to_owned(),
                status: status.as_u16(),
                code: parsed
                    .as_ref()
                    .and_then(|b| b.code.clone())
                    .unwrap_or_else(|| "(none)".to_owned()),
                message: parsed
                    .and_then(|b| b.message)
                    .unwrap_or_else(|| snippet(&bytes)),
            });
        }
    }

    /// A call whose answer is JSON of type `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, ManagementError> {
        let body = body.map(to_json).transpose()?;
        let (_, _, bytes) = self.send(method.clone(), path, &[], body.as_ref()).await?;
        decode(&method, path, &bytes)
    }

    /// A call whose answer has no body worth reading (`204`, or one that is ignored).
    pub async fn call_no_content(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<(), ManagementError> {
        let body = body.map(to_json).transpose()?;
        self.send(method, path, &[], body.as_ref()).await?;
        Ok(())
    }

    /// Every item of a paginated list, page by page (`page`, `page_size`).
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, ManagementError> {
        let mut out: Vec<T> = Vec::new();
        for page in 1.. {
            let mut q: Vec<(&str, String)> =
                query.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            q.push(("page", page.to_string()));
            q.push(("page_size", PAGE_SIZE.to_string()));
            let (_, total, bytes) = self.send(Method::GET, path, &q, None).await?;
            let items: Vec<T> = decode(&Method::GET, path, &bytes)?;
            let n = items.len();
            out.extend(items);
            let done = match total {
                Some(total) => out.len() >= total,
                None => n < PAGE_SIZE,
            };
            if done || n == 0 {
                break;
            }
        }
        Ok(out)
    }
}

fn to_json(body: &(impl Serialize + ?Sized)) -> Result<serde_json::Value, ManagementError> {
    serde_json::to_value(body).map_err(|e| ManagementError::Unexpected {
        what: "request body".to_owned(),
        detail: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    bytes: &[u8],
) -> Result<T, ManagementError> {
    serde_json::from_slice(bytes).map_err(|e| ManagementError::Unexpected {
        what: format!("{method} {path}"),
        detail: e.to_string(),
    })
}

/// The start of a body that is not Logto's JSON, on one line.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None if line.is_empty() => "(empty body)".to_owned(),
        None => line,
    }
}

#[cfg(test)]
mod tests;
