//! Client configuration, signing algorithms and the clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::Url;

use crate::error::ConfigError;
use crate::scopes::{DEFAULT_SCOPES, ReservedResource, Scope, UserScope};
use crate::secret::AppSecret;
use crate::types::ResourceIndicator;

/// A source of the current time, as Unix seconds. Tests fix it (see [`FixedClock`]).
///
/// ```
/// use std::sync::Arc;
/// use logto_client::{Clock, LogtoConfig};
///
/// /// Always one second before the year 2030.
/// #[derive(Debug)]
/// struct EndOfDecade;
///
/// impl Clock for EndOfDecade {
///     fn now(&self) -> i64 {
///         1_893_455_999
///     }
/// }
///
/// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
///     .with_clock(Arc::new(EndOfDecade));
/// assert_eq!(config.clock().now(), 1_893_455_999);
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The system clock.
///
/// ```
/// use logto_client::{Clock, SystemClock};
///
/// assert!(SystemClock.now() > 1_700_000_000); // after November 2023
/// ```
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
///
/// ```
/// use std::sync::Arc;
/// use logto_client::{Clock, FixedClock, LogtoConfig};
///
/// let clock = Arc::new(FixedClock::new(1_800_000_000));
/// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
///     .with_clock(clock.clone());
/// clock.advance(60);
/// assert_eq!(config.clock().now(), 1_800_000_060);
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock fixed at `unix_seconds`.
    ///
    /// ```
    /// use logto_client::{Clock, FixedClock};
    ///
    /// assert_eq!(FixedClock::new(1_800_000_000).now(), 1_800_000_000);
    /// ```
    pub fn new(unix_seconds: i64) -> Self {
        Self(AtomicI64::new(unix_seconds))
    }
    /// Moves the clock to `unix_seconds`.
    ///
    /// ```
    /// use logto_client::{Clock, FixedClock};
    ///
    /// let clock = FixedClock::new(1_800_000_000);
    /// clock.set(1_700_000_000); // backwards too
    /// assert_eq!(clock.now(), 1_700_000_000);
    /// ```
    pub fn set(&self, unix_seconds: i64) {
        self.0.store(unix_seconds, Ordering::SeqCst);
    }
    /// Moves the clock forward by `seconds`.
    ///
    /// ```
    /// use logto_client::{Clock, FixedClock};
    ///
    /// let clock = FixedClock::new(1_800_000_000);
    /// clock.advance(3600);
    /// assert_eq!(clock.now(), 1_800_003_600);
    /// ```
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
///
/// ```
/// use logto_client::{LogtoConfig, SigningAlgorithm};
///
/// // Accept Logto's default (ES384) only.
/// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
///     .with_allowed_algorithms([SigningAlgorithm::ES384]);
/// assert_eq!(config.allowed_algorithms(), [SigningAlgorithm::ES384]);
/// assert_eq!(SigningAlgorithm::ES384.to_string(), "ES384");
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
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
    ///
    /// ```
    /// use logto_client::SigningAlgorithm;
    ///
    /// assert!(SigningAlgorithm::ALL.contains(&SigningAlgorithm::ES512));
    /// ```
    pub const ALL: [SigningAlgorithm; 5] = [
        SigningAlgorithm::RS256,
        SigningAlgorithm::PS256,
        SigningAlgorithm::ES256,
        SigningAlgorithm::ES384,
        SigningAlgorithm::ES512,
    ];

    /// The `alg` header value.
    ///
    /// ```
    /// use logto_client::SigningAlgorithm;
    ///
    /// assert_eq!(SigningAlgorithm::PS256.as_str(), "PS256");
    /// ```
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
    ///
    /// ```
    /// use logto_client::SigningAlgorithm;
    ///
    /// assert_eq!(SigningAlgorithm::from_alg("ES384"), Some(SigningAlgorithm::ES384));
    /// assert_eq!(SigningAlgorithm::from_alg("HS256"), None);
    /// assert_eq!(SigningAlgorithm::from_alg("none"), None);
    /// ```
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
///
/// ```
/// use logto_client::{LogtoConfig, Prompt};
///
/// // Always show the sign-in screen, and still get a refresh token.
/// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
///     .with_prompt([Prompt::Login, Prompt::Consent]);
/// assert_eq!(config.prompt(), [Prompt::Login, Prompt::Consent]);
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
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
    ///
    /// ```
    /// use logto_client::Prompt;
    ///
    /// assert_eq!(Prompt::Consent.as_str(), "consent");
    /// ```
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
/// Made with [`LogtoConfig::new`] (the endpoint and the application), then
/// adjusted with the `with_*` methods, each of which returns the changed
/// configuration; the getters of the same names read it. The defaults are the
/// SDKs' (`prompt=consent`, reserved scopes added) plus this crate's safety
/// margins. Values are checked where they are given: the endpoint by
/// [`LogtoConfig::new`], the resources by [`LogtoConfig::with_resources`].
///
/// ```
/// use std::time::Duration;
/// use logto_client::{AppSecret, LogtoConfig, SigningAlgorithm, UserScope};
///
/// let config = LogtoConfig::new(
///     "https://auth.example.com",
///     "my-app-id",
///     Some(AppSecret::new("my-app-secret")),
/// )?
/// .with_scopes([UserScope::Email, UserScope::Organizations])
/// .with_resources(["https://api.example.com"])?
/// .with_clock_skew(Duration::from_secs(30))
/// .with_http_timeout(Duration::from_secs(10))
/// .with_allowed_algorithms([SigningAlgorithm::ES384]);
/// assert_eq!(config.clock_skew(), Duration::from_secs(30));
/// assert_eq!(config.resources(), ["https://api.example.com"]);
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct LogtoConfig {
    endpoint: String,
    app_id: String,
    app_secret: Option<AppSecret>,
    scopes: Vec<String>,
    resources: Vec<ResourceIndicator>,
    prompt: Vec<Prompt>,
    include_reserved_scopes: bool,
    allowed_algorithms: Vec<SigningAlgorithm>,
    clock_skew: Duration,
    max_id_token_age: Duration,
    trusted_audiences: Vec<String>,
    access_token_expiry_margin: Duration,
    jwks_refetch_cooldown: Duration,
    sign_in_session_ttl: Duration,
    http_timeout: Duration,
    clock: Arc<dyn Clock>,
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
    /// assert_eq!(config.scopes(), ["email", "urn:logto:scope:organizations"]);
    ///
    /// // Mixed in one call: an array of `Scope`...
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([Scope::from(UserScope::Email), "read:reports".into()]);
    /// assert_eq!(config.scopes(), ["email", "read:reports"]);
    ///
    /// // ... or of `&str`, a user scope converting into its wire string.
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([UserScope::Email.into(), "read:reports"]);
    /// assert_eq!(config.scopes(), ["email", "read:reports"]);
    ///
    /// // Or user scopes first, permissions added after.
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([UserScope::Email, UserScope::Roles])
    ///     .add_scopes(["read:reports", "write:reports"]);
    /// assert_eq!(config.scopes(), ["email", "roles", "read:reports", "write:reports"]);
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
    /// assert_eq!(config.scopes(), ["email", "read:reports"]);
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

    /// Sets the API resource indicators to request at sign-in (RFC 8707):
    /// strings or [`ResourceIndicator`]s. Each must be an absolute URI without
    /// a fragment; the first that is not is refused with
    /// [`ConfigError::InvalidResourceIndicator`], which names it.
    ///
    /// ```
    /// use logto_client::{ConfigError, LogtoConfig, ResourceIndicator};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_resources(["https://api.example.com"])?;
    /// assert_eq!(config.resources(), ["https://api.example.com"]);
    ///
    /// // Parsed indicators work too.
    /// let api = ResourceIndicator::parse("https://reports.example.com")?;
    /// let config = config.with_resources([&api])?;
    /// assert_eq!(config.resources(), [api]);
    ///
    /// // A relative one, or one with a fragment, is refused.
    /// let err = config.with_resources(["https://api.example.com#v1"]).unwrap_err();
    /// assert!(matches!(err, ConfigError::InvalidResourceIndicator { .. }));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn with_resources<I>(mut self, resources: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.resources = resources
            .into_iter()
            .map(|r| ResourceIndicator::parse(r.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Sets the default prompt (default `[Prompt::Consent]`: Logto issues a
    /// refresh token only with it).
    ///
    /// ```
    /// use logto_client::{LogtoConfig, Prompt};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_prompt([Prompt::Login, Prompt::Consent]);
    /// assert_eq!(config.prompt(), [Prompt::Login, Prompt::Consent]);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_prompt(mut self, prompt: impl IntoIterator<Item = Prompt>) -> Self {
        self.prompt = prompt.into_iter().collect();
        self
    }

    /// Whether `openid offline_access profile` are added to the scopes
    /// (default `true`; `openid` is sent in any case).
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_include_reserved_scopes(false);
    /// assert!(!config.include_reserved_scopes());
    /// assert_eq!(config.effective_scopes(), ["openid"]);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_include_reserved_scopes(mut self, include: bool) -> Self {
        self.include_reserved_scopes = include;
        self
    }

    /// Sets the algorithms accepted for ID tokens, access tokens and logout
    /// tokens (default: the five Logto supports). Discovery never widens this
    /// list; an empty one refuses every token.
    ///
    /// ```
    /// use logto_client::{LogtoConfig, SigningAlgorithm};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_allowed_algorithms([SigningAlgorithm::ES384, SigningAlgorithm::RS256]);
    /// assert_eq!(config.allowed_algorithms(), [SigningAlgorithm::ES384, SigningAlgorithm::RS256]);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_allowed_algorithms(
        mut self,
        algorithms: impl IntoIterator<Item = SigningAlgorithm>,
    ) -> Self {
        self.allowed_algorithms = algorithms.into_iter().collect();
        self
    }

    /// Sets the tolerance of the `exp`, `iat` and `nbf` checks (default 60 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_clock_skew(Duration::from_secs(5));
    /// assert_eq!(config.clock_skew(), Duration::from_secs(5));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Sets the age beyond which an ID token is refused (default 10
    /// minutes): one issued (`iat`) longer ago than this plus the clock skew
    /// is refused, at sign-in and at a refresh. An identity provider issues the
    /// ID token when it answers the token request, so a conforming one is
    /// seconds old; an old one is a replay (OIDC Core §3.1.3.7, item 9). This
    /// bounds `iat`, not the time of authentication (`auth_time`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.max_id_token_age(), Duration::from_secs(600));
    /// let config = config.with_max_id_token_age(Duration::from_secs(120));
    /// assert_eq!(config.max_id_token_age(), Duration::from_secs(120));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_max_id_token_age(mut self, age: Duration) -> Self {
        self.max_id_token_age = age;
        self
    }

    /// Sets the audiences besides this application an ID token may name
    /// (default none). An ID token naming any other audience is refused (OIDC
    /// Core §3.1.3.7, item 3); Logto names only the application.
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert!(config.trusted_audiences().is_empty());
    /// let config = config.with_trusted_audiences(["my-other-app-id"]);
    /// assert_eq!(config.trusted_audiences(), ["my-other-app-id"]);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_trusted_audiences<I>(mut self, audiences: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.trusted_audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how long before its expiry a cached access token stops being used
    /// (default 60 s); it is never more than half of the token's lifetime: a
    /// token that lives 30 s is used for its first 15 s, not refreshed on
    /// every request.
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_access_token_expiry_margin(Duration::from_secs(5));
    /// assert_eq!(config.access_token_expiry_margin(), Duration::from_secs(5));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_access_token_expiry_margin(mut self, margin: Duration) -> Self {
        self.access_token_expiry_margin = margin;
        self
    }

    /// Sets how often, at most, the JWKS is re-fetched for an unknown `kid`
    /// (default 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_jwks_refetch_cooldown(Duration::from_secs(1));
    /// assert_eq!(config.jwks_refetch_cooldown(), Duration::from_secs(1));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_jwks_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_refetch_cooldown = cooldown;
        self
    }

    /// Sets the age beyond which a sign-in session is refused at the callback
    /// (default 1 h, Logto's interaction TTL).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_sign_in_session_ttl(Duration::from_secs(600));
    /// assert_eq!(config.sign_in_session_ttl(), Duration::from_secs(600));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_sign_in_session_ttl(mut self, ttl: Duration) -> Self {
        self.sign_in_session_ttl = ttl;
        self
    }

    /// Sets the timeout of each HTTP request to Logto (default 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_http_timeout(Duration::from_secs(5));
    /// assert_eq!(config.http_timeout(), Duration::from_secs(5));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Sets the time source (default [`SystemClock`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use logto_client::{Clock, FixedClock, LogtoConfig};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_clock(Arc::new(FixedClock::new(1_800_000_000)));
    /// assert_eq!(config.clock().now(), 1_800_000_000);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The application id (OAuth `client_id`).
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.app_id(), "my-app-id");
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The application secret (a "traditional web" app's client secret), sent
    /// with HTTP Basic (`client_secret_basic`).
    ///
    /// ```
    /// use logto_client::{AppSecret, LogtoConfig};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert!(config.app_secret().is_none());
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", Some(AppSecret::new("s")))?;
    /// assert_eq!(config.app_secret().map(AppSecret::secret), Some("s"));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn app_secret(&self) -> Option<&AppSecret> {
        self.app_secret.as_ref()
    }

    /// The extra scopes, as set by [`LogtoConfig::with_scopes`] and
    /// [`LogtoConfig::add_scopes`] ([`LogtoConfig::effective_scopes`] are those sent).
    ///
    /// ```
    /// use logto_client::{LogtoConfig, UserScope};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([UserScope::Email]);
    /// assert_eq!(config.scopes(), ["email"]);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The API resource indicators, as set by [`LogtoConfig::with_resources`]
    /// ([`LogtoConfig::effective_resources`] are those sent).
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert!(config.resources().is_empty());
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn resources(&self) -> &[ResourceIndicator] {
        &self.resources
    }

    /// The default prompt (see [`LogtoConfig::with_prompt`]).
    ///
    /// ```
    /// use logto_client::{LogtoConfig, Prompt};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.prompt(), [Prompt::Consent]);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn prompt(&self) -> &[Prompt] {
        &self.prompt
    }

    /// Whether the reserved scopes are added (see
    /// [`LogtoConfig::with_include_reserved_scopes`]).
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// assert!(LogtoConfig::new("https://auth.example.com", "my-app-id", None)?.include_reserved_scopes());
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn include_reserved_scopes(&self) -> bool {
        self.include_reserved_scopes
    }

    /// The accepted signing algorithms (see [`LogtoConfig::with_allowed_algorithms`]).
    ///
    /// ```
    /// use logto_client::{LogtoConfig, SigningAlgorithm};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.allowed_algorithms(), SigningAlgorithm::ALL);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn allowed_algorithms(&self) -> &[SigningAlgorithm] {
        &self.allowed_algorithms
    }

    /// The tolerance of the time checks (see [`LogtoConfig::with_clock_skew`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.clock_skew(), Duration::from_secs(60));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn clock_skew(&self) -> Duration {
        self.clock_skew
    }

    /// The age beyond which an ID token is refused (see
    /// [`LogtoConfig::with_max_id_token_age`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.max_id_token_age(), Duration::from_secs(600));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn max_id_token_age(&self) -> Duration {
        self.max_id_token_age
    }

    /// The other audiences an ID token may name (see
    /// [`LogtoConfig::with_trusted_audiences`]).
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert!(config.trusted_audiences().is_empty());
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn trusted_audiences(&self) -> &[String] {
        &self.trusted_audiences
    }

    /// How long before its expiry a cached access token stops being used (see
    /// [`LogtoConfig::with_access_token_expiry_margin`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.access_token_expiry_margin(), Duration::from_secs(60));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn access_token_expiry_margin(&self) -> Duration {
        self.access_token_expiry_margin
    }

    /// The JWKS re-fetch cool-down (see [`LogtoConfig::with_jwks_refetch_cooldown`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.jwks_refetch_cooldown(), Duration::from_secs(30));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn jwks_refetch_cooldown(&self) -> Duration {
        self.jwks_refetch_cooldown
    }

    /// The sign-in session lifetime (see [`LogtoConfig::with_sign_in_session_ttl`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.sign_in_session_ttl(), Duration::from_secs(3600));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn sign_in_session_ttl(&self) -> Duration {
        self.sign_in_session_ttl
    }

    /// The timeout of each HTTP request to Logto (see [`LogtoConfig::with_http_timeout`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.http_timeout(), Duration::from_secs(30));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn http_timeout(&self) -> Duration {
        self.http_timeout
    }

    /// The time source (see [`LogtoConfig::with_clock`]).
    ///
    /// ```
    /// use logto_client::{Clock, LogtoConfig};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert!(config.clock().now() > 1_700_000_000);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The Logto endpoint, without trailing slash.
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com/", "my-app-id", None)?;
    /// assert_eq!(config.endpoint(), "https://auth.example.com");
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The issuer the ID tokens must carry: `{endpoint}/oidc`.
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(config.issuer(), "https://auth.example.com/oidc");
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn issuer(&self) -> String {
        format!("{}/oidc", self.endpoint)
    }

    /// The discovery URL: `{endpoint}/oidc/.well-known/openid-configuration`.
    ///
    /// ```
    /// use logto_client::LogtoConfig;
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert_eq!(
    ///     config.discovery_url(),
    ///     "https://auth.example.com/oidc/.well-known/openid-configuration"
    /// );
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn discovery_url(&self) -> String {
        format!("{}/oidc/.well-known/openid-configuration", self.endpoint)
    }

    /// The scopes sent at sign-in: the reserved ones first (when enabled), then the
    /// configured ones, without duplicates. `openid` is always included.
    ///
    /// ```
    /// use logto_client::{LogtoConfig, UserScope};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([UserScope::Email.into(), "profile", "read:reports"]);
    /// assert_eq!(
    ///     config.effective_scopes(),
    ///     ["openid", "offline_access", "profile", "email", "read:reports"]
    /// );
    /// let bare = config.with_include_reserved_scopes(false);
    /// assert_eq!(bare.effective_scopes(), ["openid", "email", "profile", "read:reports"]);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
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
    ///
    /// ```
    /// use logto_client::{LogtoConfig, UserScope};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_resources(["https://api.example.com"])?
    ///     .with_scopes([UserScope::Organizations]);
    /// assert_eq!(
    ///     config.effective_resources(),
    ///     ["https://api.example.com", "urn:logto:resource:organizations"]
    /// );
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn effective_resources(&self) -> Vec<ResourceIndicator> {
        let mut out: Vec<ResourceIndicator> = Vec::new();
        for r in &self.resources {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        let org = ReservedResource::Organization.as_str();
        if self.has_organizations_scope() && !out.iter().any(|r| r == org) {
            out.push(ReservedResource::Organization.into());
        }
        out
    }

    /// Whether `urn:logto:scope:organizations` is configured.
    ///
    /// ```
    /// use logto_client::{LogtoConfig, UserScope};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// assert!(!config.has_organizations_scope());
    /// let config = config.with_scopes([UserScope::Organizations]);
    /// assert!(config.has_organizations_scope());
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
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
