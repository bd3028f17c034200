//! [`LogtoClient`]: one per process, shared by every user.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openidconnect as oidc;
use openidconnect::OAuth2TokenResponse;
use openidconnect::core::CoreTokenType;
use url::Url;

use crate::config::LogtoConfig;
use crate::discovery::{LogtoErrorBody, LogtoTokenResponse, Provider};
use crate::error::{ConfigError, Endpoint, Error, OidcError, TransportError, ValidationError};
use crate::jwt::KeySet;

mod callback;
mod jwks;
mod refresh;
mod sign_in;
mod sign_out;
#[cfg(test)]
mod tests;
mod tokens;
mod user_info;
mod verify;

use jwks::JwksCache;

use crate::single_flight::KeyedMutex;

struct Inner {
    config: LogtoConfig,
    http: reqwest::Client,
    provider: tokio::sync::OnceCell<Arc<Provider>>,
    jwks: JwksCache,
    /// Refreshes in flight in this process, one per login.
    refreshes: KeyedMutex,
    /// Token requests answered by a refresh another call had just made.
    coalesced: AtomicU64,
    /// Refresh-token grants that succeeded / failed.
    refreshes_ok: AtomicU64,
    refreshes_failed: AtomicU64,
}

/// Counters of one [`LogtoClient`] since it was built (diagnostics, metrics).
///
/// ```
/// # fn run(client: logto_client::LogtoClient) {
/// let stats = client.stats();
/// println!(
///     "refreshes: {} ok, {} failed, {} coalesced; JWKS fetched {} times",
///     stats.refreshes_ok, stats.refreshes_failed, stats.refreshes_coalesced, stats.jwks_fetches
/// );
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// JWKS fetches (the first one and every re-fetch on an unknown `kid`).
    pub jwks_fetches: u64,
    /// Refresh-token grants answered with tokens.
    pub refreshes_ok: u64,
    /// Refresh-token grants that failed (error response, transport, validation).
    pub refreshes_failed: u64,
    /// Token requests answered by a refresh that a concurrent call (in this
    /// process, or on another instance sharing the storage) had just made,
    /// instead of a refresh of their own.
    pub refreshes_coalesced: u64,
}

/// A Logto client: discovery, the JWKS cache and the HTTP pool, shared by every
/// user of the process. Per-user state lives only in the [`Storage`](crate::Storage) handed to each
/// call, so one client safely serves any number of users concurrently.
///
/// Cloning is cheap (an `Arc`).
///
/// ```
/// use logto_client::{AppSecret, LogtoClient, LogtoConfig};
///
/// let config = LogtoConfig::new(
///     "https://auth.example.com",
///     "my-app-id",
///     Some(AppSecret::new("my-app-secret")),
/// )?;
/// let client = LogtoClient::new(config)?;
/// let shared = client.clone(); // the same caches and HTTP pool
/// assert_eq!(shared.config().app_id(), "my-app-id");
/// # Ok::<(), logto_client::Error>(())
/// ```
#[derive(Clone)]
pub struct LogtoClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for LogtoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogtoClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn protocol_error(error: impl Into<String>, description: Option<String>) -> OidcError {
    OidcError {
        endpoint: Endpoint::Authorization,
        status: None,
        error: error.into(),
        error_description: description,
        logto_code: None,
        logto_message: None,
    }
}

/// Maps an openidconnect token-request error to ours.
pub(crate) fn map_token_error(
    e: oidc::RequestTokenError<oidc::HttpClientError<reqwest::Error>, LogtoErrorBody>,
) -> Error {
    let endpoint = Endpoint::Token;
    match e {
        oidc::RequestTokenError::ServerResponse(body) => match body.into_oidc_error(endpoint, None)
        {
            Some(e) => e.into(),
            None => TransportError::UnexpectedResponse {
                endpoint,
                url: None,
                status: None,
                detail: "error response without an error code".into(),
            }
            .into(),
        },
        oidc::RequestTokenError::Request(e) => TransportError::Request {
            endpoint,
            url: None,
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
        .into(),
        oidc::RequestTokenError::Parse(e, _body) => TransportError::UnexpectedResponse {
            endpoint,
            url: None,
            status: None,
            detail: format!("unparseable response: {}", e.inner()),
        }
        .into(),
        oidc::RequestTokenError::Other(detail) => TransportError::UnexpectedResponse {
            endpoint,
            url: None,
            status: None,
            detail,
        }
        .into(),
    }
}

/// Refuses a token response whose `token_type` is not `Bearer` (RFC 6749 §7.1:
/// a client must not use a token of a type it does not understand; openidconnect
/// has already lower-cased it, §5.1).
fn check_token_type(response: &LogtoTokenResponse) -> Result<(), Error> {
    match response.token_type() {
        CoreTokenType::Bearer => Ok(()),
        other => Err(ValidationError::UnsupportedTokenType(other.as_ref().to_owned()).into()),
    }
}

fn redirect_uri_check(uri: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidRedirectUri {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(uri).map_err(|e| invalid(&e.to_string()))?;
    if url.fragment().is_some() {
        return Err(invalid("a redirect URI has no fragment"));
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        return Err(invalid("not an absolute URL"));
    }
    Ok(url)
}

impl LogtoClient {
    /// Builds a client. Nothing is fetched until the first call that needs discovery
    /// (call [`LogtoClient::discover`] at startup to fail fast).
    ///
    /// ```
    /// use logto_client::{LogtoClient, LogtoConfig};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// let client = LogtoClient::new(config)?; // no request yet
    /// assert_eq!(client.jwks_fetch_count(), 0);
    /// # Ok::<(), logto_client::Error>(())
    /// ```
    pub fn new(config: LogtoConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.http_timeout())
            .user_agent(concat!("logto-client-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                provider: tokio::sync::OnceCell::new(),
                jwks: JwksCache::default(),
                refreshes: KeyedMutex::default(),
                coalesced: AtomicU64::new(0),
                refreshes_ok: AtomicU64::new(0),
                refreshes_failed: AtomicU64::new(0),
            }),
        })
    }

    /// Builds a client from a discovery document (and optionally a JWKS) already in
    /// hand, e.g. for offline verification or tests. The issuer check applies.
    ///
    /// ```
    /// use logto_client::{LogtoClient, LogtoConfig};
    ///
    /// let discovery = r#"{
    ///     "issuer": "https://auth.example.com/oidc",
    ///     "authorization_endpoint": "https://auth.example.com/oidc/auth",
    ///     "token_endpoint": "https://auth.example.com/oidc/token",
    ///     "jwks_uri": "https://auth.example.com/oidc/jwks",
    ///     "response_types_supported": ["code"],
    ///     "subject_types_supported": ["public"],
    ///     "id_token_signing_alg_values_supported": ["ES384"]
    /// }"#;
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// let client = LogtoClient::with_discovery_document(config.clone(), discovery.as_bytes(), None)?;
    ///
    /// // The issuer must be the configured endpoint's.
    /// let other = LogtoConfig::new("https://other.example.com", "my-app-id", None)?;
    /// assert!(LogtoClient::with_discovery_document(other, discovery.as_bytes(), None).is_err());
    /// # Ok::<(), logto_client::Error>(())
    /// ```
    pub fn with_discovery_document(
        config: LogtoConfig,
        discovery: &[u8],
        jwks: Option<&[u8]>,
    ) -> Result<Self, Error> {
        let client = Self::new(config)?;
        let provider = Provider::from_document(&client.inner.config, discovery)?;
        client
            .inner
            .provider
            .set(Arc::new(provider))
            .map_err(|_| ConfigError::Discovery("provider already set".into()))?;
        if let Some(jwks) = jwks {
            let keys = KeySet::parse(jwks).map_err(ConfigError::Discovery)?;
            client.inner.jwks.set(keys);
        }
        Ok(client)
    }

    /// The configuration.
    ///
    /// ```
    /// use logto_client::{LogtoClient, LogtoConfig};
    ///
    /// let client = LogtoClient::new(LogtoConfig::new("https://auth.example.com", "my-app-id", None)?)?;
    /// assert_eq!(client.config().issuer(), "https://auth.example.com/oidc");
    /// # Ok::<(), logto_client::Error>(())
    /// ```
    pub fn config(&self) -> &LogtoConfig {
        &self.inner.config
    }

    /// Fetches (once) and checks the discovery document: its `issuer` must be
    /// `{endpoint}/oidc` byte for byte.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), logto_client::Error> {
    /// use logto_client::{LogtoClient, LogtoConfig};
    ///
    /// let client = LogtoClient::new(LogtoConfig::new("https://auth.example.com", "my-app-id", None)?)?;
    /// // At start-up: a wrong endpoint or issuer stops the process here.
    /// client.discover().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn discover(&self) -> Result<(), Error> {
        self.provider().await.map(|_| ())
    }

    /// How many times the JWKS was fetched (diagnostics; also in [`LogtoClient::stats`]).
    ///
    /// ```
    /// use logto_client::{LogtoClient, LogtoConfig};
    ///
    /// let client = LogtoClient::new(LogtoConfig::new("https://auth.example.com", "my-app-id", None)?)?;
    /// assert_eq!(client.jwks_fetch_count(), client.stats().jwks_fetches);
    /// # Ok::<(), logto_client::Error>(())
    /// ```
    pub fn jwks_fetch_count(&self) -> u64 {
        self.inner.jwks.fetch_count()
    }

    /// The client's counters: JWKS fetches, refresh grants by outcome, and
    /// refreshes coalesced.
    ///
    /// ```
    /// use logto_client::{ClientStats, LogtoClient, LogtoConfig};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "app-id", None)?;
    /// let client = LogtoClient::new(config)?;
    /// assert_eq!(client.stats(), ClientStats::default());
    /// # Ok::<(), logto_client::Error>(())
    /// ```
    pub fn stats(&self) -> ClientStats {
        let i = &self.inner;
        ClientStats {
            jwks_fetches: i.jwks.fetch_count(),
            refreshes_ok: i.refreshes_ok.load(Ordering::Relaxed),
            refreshes_failed: i.refreshes_failed.load(Ordering::Relaxed),
            refreshes_coalesced: i.coalesced.load(Ordering::Relaxed),
        }
    }

    fn coalesced(&self) {
        self.inner.coalesced.fetch_add(1, Ordering::Relaxed);
    }

    async fn provider(&self) -> Result<Arc<Provider>, Error> {
        self.inner
            .provider
            .get_or_try_init(|| async {
                Provider::fetch(&self.inner.config, &self.inner.http)
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    fn now(&self) -> i64 {
        self.inner.config.now()
    }
}

/// An error status from userinfo or revocation: an OAuth error when the body names
/// one, else a transport error.
pub(crate) fn error_from_body(endpoint: Endpoint, status: u16, body: &[u8]) -> Error {
    serde_json::from_slice::<LogtoErrorBody>(body)
        .ok()
        .and_then(|b| b.into_oidc_error(endpoint, Some(status)))
        .map(Error::from)
        .unwrap_or_else(|| {
            TransportError::UnexpectedResponse {
                endpoint,
                url: None,
                status: Some(status),
                detail: "unexpected status".into(),
            }
            .into()
        })
}
