//! The crate's one error type and its parts.

use std::fmt;

/// Everything that can go wrong in this crate.
///
/// The variants separate the causes a caller handles differently: fix the
/// configuration ([`Error::Config`]), show "sign-in failed, try again"
/// ([`Error::Callback`]), react to what the identity provider said
/// ([`Error::Oidc`], e.g. [`OidcError::is_invalid_grant`] means "sign in again"),
/// refuse a forged or stale token ([`Error::Validation`]), retry later
/// ([`Error::Transport`]), report the storage ([`Error::Storage`]), or send the
/// user to sign-in ([`Error::NotAuthenticated`]).
///
/// ```no_run
/// # async fn run(
/// #     client: logto_client::LogtoClient,
/// #     storage: logto_client::InMemoryStorage,
/// # ) -> Result<(), logto_client::Error> {
/// use logto_client::Error;
///
/// match client.get_organization_token(&storage, "org-acme").await {
///     Ok(token) => println!("Authorization: Bearer {}", token.secret()),
///     Err(e) if e.requires_sign_in() => println!("redirect to sign-in"),
///     Err(e) if e.is_access_denied() => println!("403: not a member of org-acme"),
///     Err(Error::Transport(e)) => println!("503: Logto unreachable ({e})"),
///     Err(e) => return Err(e),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client's configuration, the caller's options, or the provider's
    /// discovery document is wrong.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// The authorization response does not belong to a sign-in this storage started
    /// (unknown or missing `state`, replay, wrong issuer, …). No token request was made.
    #[error("sign-in callback rejected: {0}")]
    Callback(#[from] CallbackError),
    /// The identity provider answered with an OAuth/OIDC error.
    #[error("{0}")]
    Oidc(#[from] OidcError),
    /// A token (ID token, access token, logout token) or the userinfo response failed validation.
    #[error("token validation failed: {0}")]
    Validation(#[from] ValidationError),
    /// The identity provider could not be reached, or answered something that is
    /// neither a success nor an OAuth error (a 5xx with an HTML page, garbage JSON, …).
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The storage handed to the call failed.
    #[error("storage error: {0}")]
    Storage(#[from] StorageError),
    /// There is no signed-in user in this storage (no ID token, or no refresh token
    /// when one is needed), or the refresh token was found dead and cleared.
    #[error("not authenticated")]
    NotAuthenticated,
}

impl Error {
    /// The OAuth error, when the identity provider answered with one.
    ///
    /// ```
    /// use logto_client::{Endpoint, Error, OidcError};
    ///
    /// let err = Error::from(OidcError {
    ///     endpoint: Endpoint::Token,
    ///     status: Some(400),
    ///     error: "invalid_target".into(),
    ///     error_description: None,
    ///     logto_code: None,
    ///     logto_message: None,
    /// });
    /// assert!(err.oidc().is_some_and(OidcError::is_invalid_target));
    /// assert!(Error::NotAuthenticated.oidc().is_none());
    /// ```
    pub fn oidc(&self) -> Option<&OidcError> {
        match self {
            Error::Oidc(e) => Some(e),
            _ => None,
        }
    }

    /// `true` when the identity provider answered `invalid_grant`: the
    /// authorization code or the refresh token is dead (see
    /// [`OidcError::is_invalid_grant`]; [`Error::requires_sign_in`] covers it and
    /// the other "sign in again" cases).
    ///
    /// ```
    /// use logto_client::{Endpoint, Error, OidcError};
    ///
    /// fn oauth_error(code: &str) -> Error {
    ///     Error::Oidc(OidcError {
    ///         endpoint: Endpoint::Token,
    ///         status: Some(400),
    ///         error: code.to_owned(),
    ///         error_description: None,
    ///         logto_code: None,
    ///         logto_message: None,
    ///     })
    /// }
    /// assert!(oauth_error("invalid_grant").is_invalid_grant());
    /// assert!(!oauth_error("access_denied").is_invalid_grant());
    /// assert!(!Error::NotAuthenticated.is_invalid_grant());
    /// ```
    pub fn is_invalid_grant(&self) -> bool {
        self.oidc().is_some_and(OidcError::is_invalid_grant)
    }

    /// `true` when the identity provider answered `access_denied`: the user
    /// cancelled the sign-in (the callback's `error`), or is not a member of the
    /// organization an organization token was asked for. Show "no access"
    /// rather than sending the user to sign in again (see
    /// [`OidcError::is_access_denied`]).
    ///
    /// ```
    /// use logto_client::{Endpoint, Error, OidcError};
    ///
    /// fn oauth_error(code: &str) -> Error {
    ///     Error::Oidc(OidcError {
    ///         endpoint: Endpoint::Token,
    ///         status: Some(400),
    ///         error: code.to_owned(),
    ///         error_description: None,
    ///         logto_code: Some(format!("oidc.{code}")),
    ///         logto_message: None,
    ///     })
    /// }
    /// let err = oauth_error("access_denied");
    /// assert!(err.is_access_denied());
    /// assert!(!err.requires_sign_in());
    /// assert!(!oauth_error("invalid_grant").is_access_denied());
    /// assert!(!Error::NotAuthenticated.is_access_denied());
    /// ```
    pub fn is_access_denied(&self) -> bool {
        self.oidc().is_some_and(OidcError::is_access_denied)
    }

    /// `true` when the user must sign in again: not authenticated, the identity
    /// provider answered `invalid_grant` (the refresh token or the grant is dead), or a
    /// refresh answered with an ID token that was refused (the user's tokens have been
    /// cleared: the refresh result is not trusted, and the refresh token may have rotated).
    ///
    /// ```
    /// use logto_client::{Error, ValidationError};
    ///
    /// assert!(Error::NotAuthenticated.requires_sign_in());
    /// let refused = Error::from(ValidationError::RefreshedIdTokenMismatch("sub"));
    /// assert!(refused.requires_sign_in());
    /// assert!(!Error::from(ValidationError::Expired).requires_sign_in());
    /// ```
    pub fn requires_sign_in(&self) -> bool {
        matches!(
            self,
            Error::NotAuthenticated
                | Error::Validation(
                    ValidationError::RefreshedIdTokenMismatch(_)
                        | ValidationError::RefreshedIdTokenInvalid(_)
                )
        ) || self.is_invalid_grant()
    }
}

/// Problems with the configuration, the options of a call, or discovery.
///
/// ```
/// use logto_client::{ConfigError, LogtoConfig};
///
/// let err = LogtoConfig::new("auth.example.com", "my-app-id", None).unwrap_err();
/// assert!(matches!(err, ConfigError::InvalidEndpoint { .. }));
/// assert!(err.to_string().contains("auth.example.com"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The Logto endpoint is not an absolute `http(s)` URL.
    #[error("invalid Logto endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it was refused.
        reason: String,
    },
    /// The Logto endpoint ends in `/oidc`: that is the issuer, not the endpoint.
    /// The endpoint is Logto's base URL (`https://tenant.logto.app`); this crate
    /// derives the issuer (`{endpoint}/oidc`) and the discovery URL from it.
    ///
    /// ```
    /// use logto_client::{ConfigError, LogtoConfig};
    ///
    /// let err = LogtoConfig::new("https://tenant.logto.app/oidc", "my-app-id", None).unwrap_err();
    /// assert!(matches!(
    ///     &err,
    ///     ConfigError::EndpointIsIssuer { suggested, .. } if suggested == "https://tenant.logto.app"
    /// ));
    /// assert!(LogtoConfig::new("https://tenant.logto.app", "my-app-id", None).is_ok());
    /// ```
    #[error(
        "the Logto endpoint {endpoint:?} ends in /oidc, which makes it the issuer: \
         pass the base URL {suggested:?} instead (the issuer is the endpoint + /oidc)"
    )]
    EndpointIsIssuer {
        /// The endpoint as given.
        endpoint: String,
        /// The endpoint without `/oidc`: what to pass instead.
        suggested: String,
    },
    /// A redirect URI (sign-in or post-logout) is not an absolute URL without fragment.
    #[error("invalid redirect URI {uri:?}: {reason}")]
    InvalidRedirectUri {
        /// The URI as given.
        uri: String,
        /// Why it was refused.
        reason: String,
    },
    /// An option of a call is invalid (e.g. an extra parameter that would override a protocol parameter).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A string given as an API resource indicator is not an absolute URI
    /// without a fragment (RFC 8707 §2): refused by
    /// [`crate::ResourceIndicator::parse`] and so by
    /// [`crate::LogtoConfig::with_resources`].
    ///
    /// ```
    /// use logto_client::{ConfigError, LogtoConfig};
    ///
    /// let err = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_resources(["https://api.example.com", "api.example.com"])
    ///     .unwrap_err();
    /// assert!(matches!(
    ///     &err,
    ///     ConfigError::InvalidResourceIndicator { resource, .. } if resource == "api.example.com"
    /// ));
    /// # Ok::<(), ConfigError>(())
    /// ```
    #[error("invalid API resource indicator {resource:?}: {reason}")]
    InvalidResourceIndicator {
        /// The resource indicator as given.
        resource: String,
        /// Why it was refused.
        reason: String,
    },
    /// An organization token was asked for with an empty organization id.
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use logto_client::{ConfigError, Error, InMemoryStorage, LogtoClient, LogtoConfig, UserScope};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes([UserScope::Organizations]);
    /// let client = LogtoClient::new(config)?;
    /// let err = client
    ///     .get_organization_token(&InMemoryStorage::new(), "")
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::Config(ConfigError::EmptyOrganizationId)));
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[error("the organization id is empty")]
    EmptyOrganizationId,
    /// An organization token was asked for but `urn:logto:scope:organizations` is not configured.
    #[error(
        "the organizations scope (urn:logto:scope:organizations) is not configured: \
         add UserScope::Organizations with LogtoConfig::with_scopes"
    )]
    MissingOrganizationsScope,
    /// A token for an API resource was asked for (an API resource token or an
    /// organization-scoped one) but the resource is not among the configured
    /// resources. Logto grants only the resources asked for at sign-in, so the
    /// request is refused locally, before any network call: add the resource
    /// with [`crate::LogtoConfig::with_resources`] (users then sign in again to
    /// be granted it).
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use logto_client::{ConfigError, Error, InMemoryStorage, LogtoClient, LogtoConfig};
    ///
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_resources(["https://api.example.com"])?;
    /// let client = LogtoClient::new(config)?;
    /// let storage = InMemoryStorage::new();
    /// let other = "https://other.example.com".parse()?;
    /// let err = client
    ///     .get_access_token(&storage, Some(&other))
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(
    ///     err,
    ///     Error::Config(ConfigError::ResourceNotConfigured { ref resource })
    ///         if resource == "https://other.example.com"
    /// ));
    /// assert!(err.to_string().contains("with_resources"));
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[error(
        "the API resource {resource:?} is not configured: \
         add it with LogtoConfig::with_resources"
    )]
    ResourceNotConfigured {
        /// The resource indicator asked for.
        resource: crate::ResourceIndicator,
    },
    /// The discovery document's `issuer` is not `{endpoint}/oidc` byte for byte.
    #[error(
        "discovery issuer mismatch: expected {expected:?}, got {found:?}{}",
        discovery_url.as_ref().map(|u| format!(" (fetched from {u})")).unwrap_or_default()
    )]
    IssuerMismatch {
        /// `{endpoint}/oidc`.
        expected: String,
        /// What discovery said.
        found: String,
        /// The URL the document was fetched from (`None` for a document handed
        /// to [`crate::LogtoClient::with_discovery_document`]).
        discovery_url: Option<String>,
    },
    /// The discovery document cannot be used (unparseable, or lacks an endpoint this call needs).
    #[error("unusable discovery document: {0}")]
    Discovery(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// Why an authorization response (the sign-in callback) was rejected.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use logto_client::{CallbackError, Error, InMemoryStorage, LogtoClient, LogtoConfig};
///
/// let client = LogtoClient::new(LogtoConfig::new("https://auth.example.com", "my-app-id", None)?)?;
/// // A callback whose sign-in was not started in this storage (or was used).
/// let err = client
///     .handle_sign_in_callback(&InMemoryStorage::new(), "/callback?code=abc&state=forged")
///     .await
///     .unwrap_err();
/// assert!(matches!(err, Error::Callback(CallbackError::UnknownState)));
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The callback URL cannot be parsed.
    #[error("invalid callback URL: {0}")]
    InvalidUrl(String),
    /// The callback carries no `state`.
    #[error("the callback has no state")]
    MissingState,
    /// No sign-in session with this `state` exists in the storage: a login-CSRF
    /// attempt, a callback from another browser, or a replayed (already used) callback.
    #[error("no sign-in session for this state (unknown, already used or from another browser)")]
    UnknownState,
    /// The sign-in session is older than [`crate::LogtoConfig::sign_in_session_ttl`].
    #[error("the sign-in session has expired")]
    SessionExpired,
    /// The callback URL is not the redirect URI the sign-in was started with.
    #[error("the callback URL does not match the sign-in's redirect URI")]
    RedirectUriMismatch,
    /// The callback's `iss` (RFC 9207) is not the issuer.
    #[error("the callback's iss parameter does not match the issuer")]
    IssuerMismatch,
    /// The callback has no `iss` although discovery promises it (RFC 9207).
    #[error("the callback has no iss parameter although the provider sends one")]
    MissingIssuer,
    /// The callback has neither `code` nor `error`.
    #[error("the callback has no code")]
    MissingCode,
}

/// Which endpoint of the identity provider answered.
///
/// ```
/// use logto_client::{Endpoint, OidcError};
///
/// let err = OidcError {
///     endpoint: Endpoint::Token,
///     status: Some(400),
///     error: "invalid_grant".into(),
///     error_description: None,
///     logto_code: None,
///     logto_message: None,
/// };
/// assert_eq!(err.endpoint.to_string(), "token");
/// assert_eq!(err.to_string(), "token endpoint answered invalid_grant");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// Discovery (`/.well-known/openid-configuration`).
    Discovery,
    /// The JWKS (`jwks_uri`).
    Jwks,
    /// The authorization endpoint (an error in the sign-in callback).
    Authorization,
    /// The token endpoint (code exchange or refresh).
    Token,
    /// The userinfo endpoint (`/oidc/me`).
    UserInfo,
    /// The revocation endpoint.
    Revocation,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::Discovery => "discovery",
            Endpoint::Jwks => "jwks",
            Endpoint::Authorization => "authorization",
            Endpoint::Token => "token",
            Endpoint::UserInfo => "userinfo",
            Endpoint::Revocation => "revocation",
        })
    }
}

/// An OAuth 2.0 / OIDC error answered by the identity provider: the `error` and
/// `error_description` of the body (or the callback query), plus Logto's own
/// `code`/`message` when present.
///
/// ```
/// use logto_client::{Endpoint, OidcError};
///
/// let err = OidcError {
///     endpoint: Endpoint::Token,
///     status: None,
///     error: "invalid_grant".into(),
///     error_description: Some("grant request is invalid".into()),
///     logto_code: Some("oidc.invalid_grant".into()),
///     logto_message: None,
/// };
/// assert_eq!(err.to_string(), "token endpoint answered invalid_grant: grant request is invalid");
/// assert!(err.is_invalid_grant());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{endpoint} endpoint answered {error}{}", description_suffix(.error_description))]
pub struct OidcError {
    /// The endpoint that answered.
    pub endpoint: Endpoint,
    /// The HTTP status, when known (the token endpoint's is not kept by the OAuth layer).
    pub status: Option<u16>,
    /// The OAuth `error` code (`invalid_grant`, `access_denied`, …). When the body has
    /// only Logto's `code` (`oidc.invalid_grant`), the part after `oidc.`.
    pub error: String,
    /// The OAuth `error_description`.
    pub error_description: Option<String>,
    /// Logto's `code` (e.g. `oidc.access_denied`), when present.
    pub logto_code: Option<String>,
    /// Logto's `message`, when present.
    pub logto_message: Option<String>,
}

fn description_suffix(d: &Option<String>) -> String {
    d.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
}

impl OidcError {
    /// `invalid_grant`: the code or refresh token is dead; the user must sign in
    /// again. Also on [`Error`]: [`Error::is_invalid_grant`].
    ///
    /// ```
    /// use logto_client::{Endpoint, OidcError};
    ///
    /// let e = OidcError {
    ///     endpoint: Endpoint::Token,
    ///     status: Some(400),
    ///     error: "invalid_grant".into(),
    ///     error_description: Some("grant request is invalid".into()),
    ///     logto_code: None,
    ///     logto_message: None,
    /// };
    /// assert!(e.is_invalid_grant());
    /// assert!(!e.is_access_denied());
    /// ```
    pub fn is_invalid_grant(&self) -> bool {
        self.error == "invalid_grant"
    }
    /// `access_denied`: the user cancelled the sign-in, or is not a member of
    /// the organization (show "no access"). Also on [`Error`]:
    /// [`Error::is_access_denied`].
    ///
    /// ```
    /// use logto_client::{Endpoint, OidcError};
    ///
    /// let e = OidcError {
    ///     endpoint: Endpoint::Token,
    ///     status: Some(400),
    ///     error: "access_denied".into(),
    ///     error_description: None,
    ///     logto_code: Some("oidc.access_denied".into()),
    ///     logto_message: None,
    /// };
    /// assert!(e.is_access_denied());
    /// assert!(!e.is_invalid_grant());
    /// ```
    pub fn is_access_denied(&self) -> bool {
        self.error == "access_denied"
    }
    /// `insufficient_scope`: e.g. the refresh token lacks the organizations scope.
    ///
    /// ```
    /// use logto_client::{Endpoint, OidcError};
    ///
    /// let err = |code: &str| OidcError {
    ///     endpoint: Endpoint::Token,
    ///     status: Some(400),
    ///     error: code.to_owned(),
    ///     error_description: None,
    ///     logto_code: None,
    ///     logto_message: None,
    /// };
    /// assert!(err("insufficient_scope").is_insufficient_scope());
    /// assert!(!err("invalid_scope").is_insufficient_scope());
    /// ```
    pub fn is_insufficient_scope(&self) -> bool {
        self.error == "insufficient_scope"
    }
    /// `invalid_client`: the app id or secret is wrong.
    ///
    /// ```
    /// use logto_client::{Endpoint, OidcError};
    ///
    /// let err = |code: &str| OidcError {
    ///     endpoint: Endpoint::Token,
    ///     status: Some(400),
    ///     error: code.to_owned(),
    ///     error_description: None,
    ///     logto_code: None,
    ///     logto_message: None,
    /// };
    /// assert!(err("invalid_client").is_invalid_client());
    /// assert!(!err("invalid_grant").is_invalid_client());
    /// ```
    pub fn is_invalid_client(&self) -> bool {
        self.error == "invalid_client"
    }
    /// `invalid_target`: the resource indicator is unknown or was not granted.
    ///
    /// ```
    /// use logto_client::{Endpoint, OidcError};
    ///
    /// let err = |code: &str| OidcError {
    ///     endpoint: Endpoint::Token,
    ///     status: Some(400),
    ///     error: code.to_owned(),
    ///     error_description: None,
    ///     logto_code: None,
    ///     logto_message: None,
    /// };
    /// assert!(err("invalid_target").is_invalid_target());
    /// assert!(!err("invalid_grant").is_invalid_target());
    /// ```
    pub fn is_invalid_target(&self) -> bool {
        self.error == "invalid_target"
    }
}

/// Which check a token failed.
///
/// ```
/// use logto_client::{Error, ValidationError};
///
/// let err = Error::from(ValidationError::AlgorithmNotAllowed("HS256".into()));
/// assert_eq!(err.to_string(), r#"token validation failed: algorithm "HS256" is not allowed"#);
/// assert!(matches!(err, Error::Validation(ValidationError::AlgorithmNotAllowed(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// Not a compact JWS (three base64url parts, JSON header and claims object).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token is not a JWT at all (an opaque access token).
    #[error("the token is not a JWT")]
    NotAJwt,
    /// The `alg` is not in the allowed list (`none` and HMAC never are).
    #[error("algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(String),
    /// The header carries `crit`, which this verifier does not understand.
    #[error("unsupported critical header")]
    CriticalHeader,
    /// No key with this `kid` in the JWKS, even after re-fetching it.
    #[error("no key with kid {0:?} in the JWKS")]
    UnknownKeyId(Option<String>),
    /// No key in the JWKS fits the token's `alg` (or several do and the token has no `kid`).
    #[error("no usable key for this token")]
    NoMatchingKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// The `typ` header is not the one this kind of token carries.
    #[error("wrong token type {found:?}, expected {expected}")]
    WrongType {
        /// The expected `typ`.
        expected: &'static str,
        /// The `typ` found.
        found: Option<String>,
    },
    /// `iss` is not the issuer.
    #[error("issuer mismatch")]
    IssuerMismatch,
    /// `aud` does not contain the expected audience (or `azp` is wrong).
    #[error("audience mismatch")]
    AudienceMismatch,
    /// `exp` is in the past (beyond the clock skew).
    #[error("token expired")]
    Expired,
    /// `iat` is in the future (beyond the clock skew).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `nbf` is in the future (beyond the clock skew).
    #[error("token not yet valid")]
    NotYetValid,
    /// The ID token's `iat` is older than [`crate::LogtoConfig::max_id_token_age`]
    /// (beyond the clock skew): a conforming identity provider issues it with its answer.
    #[error("ID token issued too long ago")]
    IssuedTooLongAgo,
    /// The ID token's `nonce` is missing or not the one sent.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// `at_hash` does not match the access token.
    #[error("at_hash mismatch")]
    AccessTokenHashMismatch,
    /// A required claim is missing.
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or value (e.g. `exp` as a string).
    #[error("invalid claim {claim}: {reason}")]
    InvalidClaim {
        /// The claim.
        claim: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A refreshed ID token does not keep the original `iss`, `sub`, `aud` or `azp`,
    /// carries another `nonce` than the original's, or another `auth_time`
    /// (OIDC Core §12.2).
    #[error("the refreshed ID token changed {0}")]
    RefreshedIdTokenMismatch(&'static str),
    /// A refreshed ID token failed verification (signature, `iss`, `aud`/`azp`, times…).
    #[error("the refreshed ID token is invalid: {0}")]
    RefreshedIdTokenInvalid(Box<ValidationError>),
    /// The userinfo `sub` is not the ID token's `sub`.
    #[error("userinfo sub does not match the ID token's sub")]
    UserInfoSubjectMismatch,
    /// The token endpoint answered a `token_type` other than `Bearer` (compared
    /// case-insensitively, RFC 6749 §5.1): this client only knows how to use bearer
    /// tokens, and must not use a token of a type it does not understand (§7.1).
    #[error("unsupported access token type {0:?}")]
    UnsupportedTokenType(String),
}

/// The identity provider could not be reached or answered something unusable.
///
/// ```
/// use logto_client::{Endpoint, Error, TransportError};
///
/// let err = Error::from(TransportError::UnexpectedResponse {
///     endpoint: Endpoint::Jwks,
///     url: Some("https://auth.example.com/oidc/jwks".into()),
///     status: Some(502),
///     detail: "unexpected status".into(),
/// });
/// assert!(!err.requires_sign_in()); // retry later; nobody is signed out
/// assert_eq!(
///     err.to_string(),
///     "unexpected response from the jwks endpoint at https://auth.example.com/oidc/jwks (HTTP 502): unexpected status"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The request failed (connection refused, timeout, TLS, …).
    #[error("request to the {endpoint} endpoint{} failed: {message}", url_suffix(.url))]
    Request {
        /// The endpoint.
        endpoint: Endpoint,
        /// The URL requested, when known (always for discovery and the JWKS).
        url: Option<String>,
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The endpoint answered something that is neither a success nor an OAuth error
    /// (a 5xx page, invalid JSON, a wrong content type, …).
    #[error(
        "unexpected response from the {endpoint} endpoint{}{}: {detail}",
        url_suffix(.url),
        status_suffix(.status)
    )]
    UnexpectedResponse {
        /// The endpoint.
        endpoint: Endpoint,
        /// The URL requested, when known (always for discovery and the JWKS).
        url: Option<String>,
        /// The HTTP status, when known.
        status: Option<u16>,
        /// A short description (never the full body).
        detail: String,
    },
}

fn url_suffix(u: &Option<String>) -> String {
    u.as_ref().map(|u| format!(" at {u}")).unwrap_or_default()
}

fn status_suffix(s: &Option<u16>) -> String {
    s.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

/// An error reported by a [`crate::Storage`] implementation.
///
/// ```
/// use std::error::Error as _;
/// use logto_client::StorageError;
///
/// let io = std::io::Error::other("disk full");
/// let err = StorageError::with_source("saving the tokens", io);
/// assert_eq!(err.to_string(), "saving the tokens");
/// assert_eq!(err.source().map(|s| s.to_string()).as_deref(), Some("disk full"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StorageError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StorageError {
    /// A storage error with a message.
    ///
    /// ```
    /// use std::error::Error as _;
    /// use logto_client::StorageError;
    ///
    /// let err = StorageError::new("session store unavailable");
    /// assert_eq!(err.to_string(), "session store unavailable");
    /// assert!(err.source().is_none());
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }
    /// A storage error wrapping its cause.
    ///
    /// ```
    /// use logto_client::StorageError;
    ///
    /// let err = "x".parse::<u32>().map_err(|e| StorageError::with_source("malformed login id", e));
    /// assert!(err.is_err());
    /// ```
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}
