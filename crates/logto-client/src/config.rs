//! Client configuration, signing algorithms and the clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::Url;

use crate::error::ConfigError;
use crate::scopes::{DEFAULT_SCOPES, ReservedResource, Scope, UserScope};
use crate::secret::AppSecret;

/// A source of the current time, as Unix seconds. Tests fix it (see [`FixedClock`]).
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that stays where it is set: for tests (e.g. verifying captured tokens at their `iat`).
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock fixed at `unix_seconds`.
    pub fn new(unix_seconds: i64) -> Self {
        Self(AtomicI64::new(unix_seconds))
    }
    /// Moves the clock to `unix_seconds`.
    pub fn set(&self, unix_seconds: i64) {
        self.0.store(unix_seconds, Ordering::SeqCst);
    }
    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The JWS algorithms Logto signs with. HMAC and `none` are not representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384 (Logto's default).
    ES384,
    /// ECDSA P-521 with SHA-512.
    ES512,
}

impl SigningAlgorithm {
    /// The five algorithms Logto supports.
    pub const ALL: [SigningAlgorithm; 5] = [
        SigningAlgorithm::RS256,
        SigningAlgorithm::PS256,
        SigningAlgorithm::ES256,
        SigningAlgorithm::ES384,
        SigningAlgorithm::ES512,
    ];

    /// The `alg` header value.
    pub const fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::PS256 => "PS256",
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::ES384 => "ES384",
            SigningAlgorithm::ES512 => "ES512",
        }
    }

    /// Parses an `alg` header value; `None` for anything else (including `none` and `HS*`).
    pub fn from_alg(alg: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == alg)
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `prompt` values Logto understands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// `consent`: the SDK default. Logto issues a refresh token only when `prompt` includes it.
    Consent,
    /// `login`: force the sign-in screen.
    Login,
    /// `none`: no interaction.
    None,
}

impl Prompt {
    /// The wire value.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Prompt::Consent => "consent",
            Prompt::Login => "login",
            Prompt::None => "none",
        }
    }
}

/// The configuration of a [`crate::LogtoClient`].
///
/// Build it with [`LogtoConfig::new`] and adjust the public fields or use the
/// `with_*` helpers. The defaults are the SDKs' (`prompt=consent`, reserved scopes
/// added) plus this crate's safety margins.
#[derive(Clone)]
pub struct LogtoConfig {
    endpoint: String,
    /// The application id (OAuth `client_id`).
    pub app_id: String,
    /// The application secret (a "traditional web" app's client secret), sent with
    /// HTTP Basic (`client_secret_basic`).
    pub app_secret: Option<AppSecret>,
    /// Extra scopes to request ([`UserScope`] values or API permissions such as `read:things`).
    pub scopes: Vec<String>,
    /// API resource indicators to request at sign-in.
    pub resources: Vec<String>,
    /// The default `prompt` (default `[Consent]`).
    pub prompt: Vec<Prompt>,
    /// Add `openid offline_access profile` to the scopes (default `true`).
    pub include_reserved_scopes: bool,
    /// Algorithms accepted for ID tokens, access tokens and logout tokens
    /// (default: the five Logto supports). Discovery never widens this list.
    pub allowed_algorithms: Vec<SigningAlgorithm>,
    /// Tolerance for `exp`, `iat` and `nbf` checks (default 60 s).
    pub clock_skew: Duration,
    /// An ID token issued (`iat`) longer ago than this plus [`LogtoConfig::clock_skew`]
    /// is refused, at sign-in and at a refresh (default 10 minutes). An identity
    /// provider issues the ID token when it answers the token request, so a
    /// conforming one is seconds old; an old one is a replay (OIDC Core §3.1.3.7,
    /// item 9). This bounds `iat`, not the time of authentication (`auth_time`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let mut config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.max_id_token_age, Duration::from_secs(600));
    /// config.max_id_token_age = Duration::from_secs(120);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub max_id_token_age: Duration,
    /// Audiences besides this application an ID token may name (default none).
    /// An ID token naming any other audience is refused (OIDC Core §3.1.3.7,
    /// item 3); Logto names only the application.
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// let mut config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert!(config.trusted_audiences.is_empty());
    /// config.trusted_audiences = vec!["my-other-app-id".to_owned()];
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub trusted_audiences: Vec<String>,
    /// A cached access token is used only until this long before its expiry
    /// (default 60 s), but never more than half of its lifetime: a token that
    /// lives 30 s is used for its first 15 s, not refreshed on every request.
    pub access_token_expiry_margin: Duration,
    /// The JWKS is re-fetched for an unknown `kid` at most once per this interval (default 30 s).
    pub jwks_refetch_cooldown: Duration,
    /// A sign-in session older than this is refused at the callback (default 1 h, Logto's interaction TTL).
    pub sign_in_session_ttl: Duration,
    /// Timeout of each HTTP request to Logto (default 30 s).
    pub http_timeout: Duration,
    /// The time source (default [`SystemClock`]).
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for LogtoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogtoConfig")
            .field("endpoint", &self.endpoint)
            .field("app_id", &self.app_id)
            .field(
                "app_secret",
                &self.app_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("scopes", &self.scopes)
            .field("resources", &self.resources)
            .field("prompt", &self.prompt)
            .field("include_reserved_scopes", &self.include_reserved_scopes)
            .field("allowed_algorithms", &self.allowed_algorithms)
            .field("clock_skew", &self.clock_skew)
            .field("max_id_token_age", &self.max_id_token_age)
            .field("trusted_audiences", &self.trusted_audiences)
            .field(
                "access_token_expiry_margin",
                &self.access_token_expiry_margin,
            )
            .field("jwks_refetch_cooldown", &self.jwks_refetch_cooldown)
            .field("sign_in_session_ttl", &self.sign_in_session_ttl)
            .field("http_timeout", &self.http_timeout)
            .field("clock", &self.clock)
            .finish()
    }
}

impl LogtoConfig {
    /// A configuration for the Logto instance at `endpoint` (its public URL, e.g.
    /// `https://auth.example.com`; trailing slashes are removed) and the application
    /// `app_id` with its secret.
    ///
    /// The endpoint is Logto's base URL, not the issuer: the issuer is
    /// `{endpoint}/oidc` (see [`LogtoConfig::issuer`]). An endpoint ending in
    /// `/oidc` is refused with [`ConfigError::EndpointIsIssuer`], which names the
    /// URL to pass instead.
    ///
    /// ```
    /// use logto_client::{ConfigError, LogtoConfig};
    ///
    /// let config = LogtoConfig::new("https://tenant.logto.app/", "my-app-id", None)?;
    /// assert_eq!(config.endpoint(), "https://tenant.logto.app");
    /// assert_eq!(config.issuer(), "https://tenant.logto.app/oidc");
    ///
    /// let err = LogtoConfig::new("https://tenant.logto.app/oidc", "my-app-id", None).unwrap_err();
    /// assert!(matches!(err, ConfigError::EndpointIsIssuer { .. }));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn new(
        endpoint: &str,
        app_id: impl Into<String>,
        app_secret: Option<AppSecret>,
    ) -> Result<Self, ConfigError> {
        let trimmed = endpoint.trim_end_matches('/');
        let invalid = |reason: &str| ConfigError::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(invalid("the scheme must be http or https"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("the endpoint must have no query or fragment"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the endpoint has no host"));
        }
        if let Some(base) = trimmed
            .strip_suffix("/oidc")
            .filter(|_| url.path().trim_end_matches('/').ends_with("/oidc"))
        {
            return Err(ConfigError::EndpointIsIssuer {
                endpoint: endpoint.to_owned(),
                suggested: base.to_owned(),
            });
        }
        let app_id = app_id.into();
        if app_id.is_empty() {
            return Err(ConfigError::InvalidOption("the app id is empty".into()));
        }
        Ok(Self {
            endpoint: trimmed.to_owned(),
            app_id,
            app_secret,
            scopes: Vec::new(),
            resources: Vec::new(),
            prompt: vec![Prompt::Consent],
            include_reserved_scopes: true,
            allowed_algorithms: SigningAlgorithm::ALL.to_vec(),
            clock_skew: Duration::from_secs(60),
            max_id_token_age: Duration::from_secs(600),
            trusted_audiences: Vec::new(),
            access_token_expiry_margin: Duration::from_secs(60),
            jwks_refetch_cooldown: Duration::from_secs(30),
            sign_in_session_ttl: Duration::from_secs(3600),
            http_timeout: Duration::from_secs(30),
            clock: Arc::new(SystemClock),
        })
    }

    /// Sets the extra scopes: [`UserScope`] values, API and organization
    /// permissions (`read:reports`), or both. Anything that converts into a
    /// [`Scope`] is accepted: `UserScope`, `&str`, `String`.
    ///
    /// ```
    /// use logto_client::{LogtoConfig, Scope, UserScope};
    ///
    /// // Only user scopes, or only strings.
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([UserScope::Email, UserScope::Organizations]);
    /// assert_eq!(config.scopes, ["email", "urn:logto:scope:organizations"]);
    ///
    /// // Mixed in one call: an array of `Scope`...
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([Scope::from(UserScope::Email), "read:reports".into()]);
    /// assert_eq!(config.scopes, ["email", "read:reports"]);
    ///
    /// // ... or of `&str`, a user scope converting into its wire string.
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([UserScope::Email.into(), "read:reports"]);
    /// assert_eq!(config.scopes, ["email", "read:reports"]);
    ///
    /// // Or user scopes first, permissions added after.
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([UserScope::Email, UserScope::Roles])
    ///     .add_scopes(["read:reports", "write:reports"]);
    /// assert_eq!(config.scopes, ["email", "roles", "read:reports", "write:reports"]);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Scope>,
    {
        self.scopes = Vec::new();
        self.add_scopes(scopes)
    }

    /// Adds scopes to those already set (see [`LogtoConfig::with_scopes`]).
    ///
    /// ```
    /// use logto_client::{LogtoConfig, UserScope};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([UserScope::Email])
    ///     .add_scopes(["read:reports"]);
    /// assert_eq!(config.scopes, ["email", "read:reports"]);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn add_scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Scope>,
    {
        self.scopes
            .extend(scopes.into_iter().map(|s| s.into().into_string()));
        self
    }

    /// Sets the API resource indicators.
    pub fn with_resources<I, S>(mut self, resources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resources = resources.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the default prompt.
    pub fn with_prompt(mut self, prompt: impl IntoIterator<Item = Prompt>) -> Self {
        self.prompt = prompt.into_iter().collect();
        self
    }

    /// Sets the time source.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The Logto endpoint, without trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The issuer the ID tokens must carry: `{endpoint}/oidc`.
    pub fn issuer(&self) -> String {
        format!("{}/oidc", self.endpoint)
    }

    /// The discovery URL: `{endpoint}/oidc/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/oidc/.well-known/openid-configuration", self.endpoint)
    }

    /// The scopes sent at sign-in: the reserved ones first (when enabled), then the
    /// configured ones, without duplicates. `openid` is always included.
    pub fn effective_scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |s: &str| {
            if !s.is_empty() && !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        };
        push("openid");
        if self.include_reserved_scopes {
            DEFAULT_SCOPES.iter().for_each(|s| push(s));
        }
        self.scopes.iter().for_each(|s| push(s));
        out
    }

    /// The resources sent at sign-in: the configured ones, plus
    /// `urn:logto:resource:organizations` when the organizations scope is requested.
    pub fn effective_resources(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.resources {
            if !r.is_empty() && !out.contains(r) {
                out.push(r.clone());
            }
        }
        let org = ReservedResource::Organization.as_str();
        if self.has_organizations_scope() && !out.iter().any(|r| r == org) {
            out.push(org.to_owned());
        }
        out
    }

    /// Whether `urn:logto:scope:organizations` is configured.
    pub fn has_organizations_scope(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| s == UserScope::Organizations.as_str())
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) fn skew_secs(&self) -> i64 {
        secs(self.clock_skew)
    }

    /// The most seconds a cached access token's expiry margin may be: the
    /// configured margin, capped at half the token's lifetime.
    pub(crate) fn expiry_margin_secs(&self, lifetime: i64) -> i64 {
        secs(self.access_token_expiry_margin).min(lifetime.max(0) / 2)
    }
}

/// A duration as whole seconds, saturating.
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
