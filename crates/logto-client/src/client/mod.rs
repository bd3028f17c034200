//! [`LogtoClient`]: one per process, shared by every user.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use openidconnect as oidc;
use openidconnect::OAuth2TokenResponse;
use openidconnect::core::{CoreAuthPrompt, CoreResponseType, CoreTokenType};
use serde_json::Value;
use url::Url;

use crate::claims::{
    AccessTokenClaims, IdTokenClaims, LogoutTokenClaims, OrganizationTokenClaims, UserInfo,
};
use crate::config::{LogtoConfig, Prompt, SigningAlgorithm, secs};
use crate::discovery::{LogtoErrorBody, LogtoTokenResponse, Provider, read_body, transport};
use crate::error::{
    CallbackError, ConfigError, Endpoint, Error, OidcError, TransportError, ValidationError,
};
use crate::jwt::{self, Expect, Jws, KeySet};
use crate::options::{SignInOptions, SignInOutcome};
use crate::scopes::{build_organization_urn, organization_id_from_urn};
use crate::secret::{AccessToken, CodeVerifier, IdToken, RefreshToken};
use crate::storage::{AccessTokenKey, CachedAccessToken, SignInSession, Storage, TokenSet};

mod jwks;
#[cfg(test)]
mod tests;

use jwks::JwksCache;

/// Parameters [`SignInOptions::extra_params`] may not set.
const PROTECTED_PARAMS: &[&str] = &[
    "response_type",
    "response_mode",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
];

struct Inner {
    config: LogtoConfig,
    http: reqwest::Client,
    provider: tokio::sync::OnceCell<Arc<Provider>>,
    jwks: JwksCache,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Token requests answered by a refresh another call had just made.
    coalesced: AtomicU64,
    /// Refresh-token grants that succeeded / failed.
    refreshes_ok: AtomicU64,
    refreshes_failed: AtomicU64,
}

/// Counters of one [`LogtoClient`] since it was built (diagnostics, metrics).
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
/// user of the process. Per-user state lives only in the [`Storage`] handed to each
/// call, so one client safely serves any number of users concurrently.
///
/// Cloning is cheap (an `Arc`).
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

/// Parses a callback: an absolute URL, or a path-and-query (`/callback?code=…`)
/// read on a placeholder origin (then `true`), resolved later against the
/// sign-in's redirect URI.
fn parse_callback(callback: &str) -> Result<(Url, bool), CallbackError> {
    let invalid = |e: url::ParseError| CallbackError::InvalidUrl(e.to_string());
    match Url::parse(callback) {
        Ok(url) => Ok((url, false)),
        Err(url::ParseError::RelativeUrlWithoutBase)
            if callback.starts_with('/') && !callback.starts_with("//") =>
        {
            let placeholder = Url::parse("http://callback.invalid/").map_err(invalid)?;
            Ok((placeholder.join(callback).map_err(invalid)?, true))
        }
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(CallbackError::InvalidUrl(
            "neither an absolute URL nor a path-and-query starting with /".into(),
        )),
        Err(e) => Err(invalid(e)),
    }
}

/// How an ID token's audiences other than this client are checked (see
/// `LogtoClient::verify_id_token_with`).
#[derive(Debug, Clone, Copy)]
enum Audiences {
    /// Each must be in [`LogtoConfig::trusted_audiences`].
    Trusted,
    /// They must be the original ID token's (a refresh; the caller compares).
    AsOriginal,
}

struct LocalFlight {
    inner: Arc<Inner>,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for LocalFlight {
    fn drop(&mut self) {
        self.guard = None;
        if let Ok(mut map) = self.inner.inflight.lock()
            && map
                .get(&self.key)
                .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

impl LogtoClient {
    /// Builds a client. Nothing is fetched until the first call that needs discovery
    /// (call [`LogtoClient::discover`] at startup to fail fast).
    pub fn new(config: LogtoConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.http_timeout)
            .user_agent(concat!("logto-client-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                provider: tokio::sync::OnceCell::new(),
                jwks: JwksCache::default(),
                inflight: Mutex::new(HashMap::new()),
                coalesced: AtomicU64::new(0),
                refreshes_ok: AtomicU64::new(0),
                refreshes_failed: AtomicU64::new(0),
            }),
        })
    }

    /// Builds a client from a discovery document (and optionally a JWKS) already in
    /// hand, e.g. for offline verification or tests. The issuer check applies.
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
    pub fn config(&self) -> &LogtoConfig {
        &self.inner.config
    }

    /// Fetches (once) and checks the discovery document: its `issuer` must be
    /// `{endpoint}/oidc` byte for byte.
    pub async fn discover(&self) -> Result<(), Error> {
        self.provider().await.map(|_| ())
    }

    /// How many times the JWKS was fetched (diagnostics; also in [`LogtoClient::stats`]).
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

    // ----- sign-in -------------------------------------------------------------

    /// Starts a sign-in: saves a [`SignInSession`] (keyed by a fresh `state`) in
    /// `storage` and returns the authorization URL to redirect the browser to.
    ///
    /// The URL carries `response_type=code`, PKCE S256, `state` and `nonce` (256 bits
    /// each), the scopes and resources of the configuration, `prompt`, and the
    /// Logto parameters of `options`.
    pub async fn sign_in<S: Storage + ?Sized>(
        &self,
        storage: &S,
        options: SignInOptions,
    ) -> Result<Url, Error> {
        let config = &self.inner.config;
        redirect_uri_check(&options.redirect_uri)?;
        for (name, _) in &options.extra_params {
            if PROTECTED_PARAMS.contains(&name.as_str()) {
                return Err(ConfigError::InvalidOption(format!(
                    "extra parameter {name:?} would override a protocol parameter"
                ))
                .into());
            }
        }
        let provider = self.provider().await?;
        let redirect = oidc::RedirectUrl::new(options.redirect_uri.clone()).map_err(|e| {
            ConfigError::InvalidRedirectUri {
                uri: options.redirect_uri.clone(),
                reason: e.to_string(),
            }
        })?;
        let (challenge, verifier) = oidc::PkceCodeChallenge::new_random_sha256_len(64);
        let mut request = provider
            .oidc
            .authorize_url(
                oidc::AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                || oidc::CsrfToken::new_random_len(32),
                || oidc::Nonce::new_random_len(32),
            )
            .set_redirect_uri(Cow::Owned(redirect))
            .set_pkce_challenge(challenge);
        for scope in config.effective_scopes() {
            if scope != "openid" {
                request = request.add_scope(oidc::Scope::new(scope));
            }
        }
        for prompt in options.prompt.as_ref().unwrap_or(&config.prompt) {
            request = request.add_prompt(match prompt {
                Prompt::Consent => CoreAuthPrompt::Consent,
                Prompt::Login => CoreAuthPrompt::Login,
                Prompt::None => CoreAuthPrompt::None,
            });
        }
        for resource in config.effective_resources() {
            request = request.add_extra_param("resource", resource);
        }
        if let Some(first_screen) = options.first_screen {
            request = request.add_extra_param("first_screen", first_screen.as_str());
        } else if let Some(mode) = options.interaction_mode {
            request = request.add_extra_param("interaction_mode", mode.as_str());
        }
        if !options.identifiers.is_empty() {
            let ids: Vec<&str> = options.identifiers.iter().map(|i| i.as_str()).collect();
            request = request.add_extra_param("identifier", ids.join(" "));
        }
        if let Some(hint) = &options.login_hint {
            request = request.set_login_hint(oidc::LoginHint::new(hint.clone()));
        }
        if let Some(direct) = &options.direct_sign_in {
            request = request.add_extra_param("direct_sign_in", direct.to_param());
        }
        if let Some(org) = &options.organization_id {
            request = request.add_extra_param("organization_id", org.clone());
        }
        if let Some(locales) = &options.ui_locales {
            request = request.add_extra_param("ui_locales", locales.clone());
        }
        if let Some(ott) = &options.one_time_token {
            request = request.add_extra_param("one_time_token", ott.clone());
        }
        for (name, value) in &options.extra_params {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        let (url, state, nonce) = request.url();
        let session = SignInSession {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            code_verifier: CodeVerifier::new(verifier.secret().clone()),
            redirect_uri: options.redirect_uri,
            created_at: self.now(),
            app_state: options.app_state,
        };
        storage.save_sign_in_session(&session).await?;
        Ok(url)
    }

    /// Completes a sign-in from the callback: the URL the browser was sent back to,
    /// either absolute (`https://app.example.com/callback?code=…&state=…&iss=…`) or
    /// as the path and query of the request (`/callback?code=…&state=…&iss=…`,
    /// what a server framework gives for the request target, e.g. actix-web's
    /// `HttpRequest::uri()` or axum's `OriginalUri`).
    ///
    /// A path-and-query is resolved against the redirect URI the sign-in was
    /// started with (stored in its [`crate::SignInSession`]), so only its path is
    /// compared: it must be the redirect URI's path exactly. Behind a proxy that
    /// strips a path prefix, pass the absolute URL (or the path as the browser
    /// saw it). A relative reference not starting with `/` is refused
    /// ([`CallbackError::InvalidUrl`]).
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: logto_client::LogtoClient,
    /// #     storage: logto_client::InMemoryStorage,
    /// # ) -> Result<(), logto_client::Error> {
    /// // In a handler: the request target as received, path and query.
    /// let request_target = "/callback?code=abc&state=xyz&iss=https%3A%2F%2Fauth.example.com%2Foidc";
    /// let outcome = client.handle_sign_in_callback(&storage, request_target).await?;
    /// println!("signed in as {}", outcome.claims.sub);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Checks, in order: an `error` parameter (→ [`Error::Oidc`], the session is
    /// consumed), `state` (→ [`CallbackError::MissingState`]/[`CallbackError::UnknownState`];
    /// the session is taken, so a replay fails), the session's age, the redirect URI,
    /// `iss` (RFC 9207). Only then is the code exchanged (HTTP Basic client
    /// authentication, PKCE), the answer's `token_type` checked (`Bearer`, else
    /// [`ValidationError::UnsupportedTokenType`]) and the ID token verified (signature,
    /// `iss`, `aud`/`azp`, `exp`, `iat` no older than [`LogtoConfig::max_id_token_age`],
    /// `nonce`, `at_hash` when present). Tokens are stored only on success.
    pub async fn handle_sign_in_callback<S: Storage + ?Sized>(
        &self,
        storage: &S,
        callback_url: &str,
    ) -> Result<SignInOutcome, Error> {
        let (url, relative) = parse_callback(callback_url)?;
        let mut params: HashMap<String, String> = HashMap::new();
        for (k, v) in url.query_pairs() {
            if params
                .insert(k.clone().into_owned(), v.into_owned())
                .is_some()
                && ["state", "code", "iss", "error"].contains(&k.as_ref())
            {
                return Err(CallbackError::InvalidUrl(format!("duplicate parameter {k}")).into());
            }
        }
        let state = params.get("state").filter(|s| !s.is_empty());
        if let Some(error) = params.get("error") {
            if let Some(state) = state {
                storage.take_sign_in_session(state).await?;
            }
            return Err(
                protocol_error(error.clone(), params.get("error_description").cloned()).into(),
            );
        }
        let state = state.ok_or(CallbackError::MissingState)?;
        let session = storage
            .take_sign_in_session(state)
            .await?
            .ok_or(CallbackError::UnknownState)?;
        let ttl = secs(self.inner.config.sign_in_session_ttl);
        if self.now().saturating_sub(session.created_at) > ttl {
            return Err(CallbackError::SessionExpired.into());
        }
        let expected =
            Url::parse(&session.redirect_uri).map_err(|_| CallbackError::RedirectUriMismatch)?;
        // A path-and-query is on the redirect URI's origin by definition: only its
        // path is compared, as an absolute URL's origin and path are.
        let url = if relative {
            expected
                .join(callback_url)
                .map_err(|e| CallbackError::InvalidUrl(e.to_string()))?
        } else {
            url
        };
        if expected.origin() != url.origin() || expected.path() != url.path() {
            return Err(CallbackError::RedirectUriMismatch.into());
        }
        let provider = self.provider().await?;
        match params.get("iss") {
            Some(iss) if *iss == provider.issuer => {}
            Some(_) => return Err(CallbackError::IssuerMismatch.into()),
            None if provider.iss_parameter_supported => {
                return Err(CallbackError::MissingIssuer.into());
            }
            None => {}
        }
        let code = params
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or(CallbackError::MissingCode)?;
        let redirect = oidc::RedirectUrl::new(session.redirect_uri.clone())
            .map_err(|_| CallbackError::RedirectUriMismatch)?;
        let response: LogtoTokenResponse = provider
            .oidc
            .exchange_code(oidc::AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(oidc::PkceCodeVerifier::new(
                session.code_verifier.secret().to_owned(),
            ))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&self.inner.http)
            .await
            .map_err(map_token_error)?;
        check_token_type(&response)?;
        let id_token = response
            .0
            .extra_fields()
            .id_token
            .clone()
            .ok_or(ValidationError::MissingClaim("id_token"))?;
        let access_token = response.access_token().secret().clone();
        let claims = self
            .verify_id_token_with(
                &provider,
                &id_token,
                Some(&session.nonce),
                Some(&access_token),
                Audiences::Trusted,
            )
            .await?;
        let tokens = TokenSet {
            id_token: IdToken::new(id_token),
            refresh_token: response
                .refresh_token()
                .map(|r| RefreshToken::new(r.secret().clone())),
        };
        let (key, cached) = self.cache_entry_for_exchange(&response);
        storage.clear_access_tokens().await?;
        storage.save_tokens(&tokens).await?;
        storage.set_access_token(&key, &cached).await?;
        Ok(SignInOutcome {
            claims,
            app_state: session.app_state,
            redirect_uri: session.redirect_uri,
        })
    }

    fn cached_token(&self, response: &LogtoTokenResponse) -> CachedAccessToken {
        let token = response.access_token().secret().clone();
        let now = self.now();
        let exp = jwt::decode(&token)
            .ok()
            .and_then(|j| jwt::numeric_claim(&j.claims, "exp").ok().flatten());
        let expires_at = exp.unwrap_or_else(|| {
            let secs = response.expires_in().map(|d| d.as_secs()).unwrap_or(0);
            now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))
        });
        let scope = response
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        CachedAccessToken {
            token: AccessToken::new(token),
            expires_at,
            scope,
            obtained_at: now,
        }
    }

    /// The code exchange returns the userinfo token, or a JWT for the tenant's default
    /// resource: cache it under the key it belongs to.
    fn cache_entry_for_exchange(
        &self,
        response: &LogtoTokenResponse,
    ) -> (AccessTokenKey, CachedAccessToken) {
        let cached = self.cached_token(response);
        let key = jwt::decode_claims::<AccessTokenClaims>(cached.token.secret())
            .ok()
            .and_then(|c| c.aud.first().cloned())
            .map(|aud| match organization_id_from_urn(&aud) {
                Some(org) => AccessTokenKey::organization(org),
                None => AccessTokenKey::resource(aud),
            })
            .unwrap_or_default();
        (key, cached)
    }

    // ----- tokens in storage -----------------------------------------------------

    /// Whether `storage` holds a signed-in user (an ID token), as the SDKs define it.
    pub async fn is_authenticated<S: Storage + ?Sized>(&self, storage: &S) -> Result<bool, Error> {
        Ok(storage.load_tokens().await?.is_some())
    }

    /// The raw ID token.
    pub async fn get_id_token<S: Storage + ?Sized>(&self, storage: &S) -> Result<IdToken, Error> {
        Ok(storage
            .load_tokens()
            .await?
            .ok_or(Error::NotAuthenticated)?
            .id_token)
    }

    /// The claims of the stored ID token (verified when it was stored; no network call).
    ///
    /// A tenant may keep `roles`, `organizations`, `custom_data` out of the ID token:
    /// [`LogtoClient::fetch_user_info`] always has them.
    pub async fn get_id_token_claims<S: Storage + ?Sized>(
        &self,
        storage: &S,
    ) -> Result<IdTokenClaims, Error> {
        let token = self.get_id_token(storage).await?;
        Ok(jwt::decode_claims(token.secret())?)
    }

    /// Fetches the userinfo endpoint (`/oidc/me`) with the userinfo access token
    /// (refreshed if needed). Its `sub` must be the ID token's, else nothing of it is
    /// used: [`ValidationError::UserInfoSubjectMismatch`] (OIDC Core §5.3.2).
    pub async fn fetch_user_info<S: Storage + ?Sized>(
        &self,
        storage: &S,
    ) -> Result<UserInfo, Error> {
        let id_claims = self.get_id_token_claims(storage).await?;
        let provider = self.provider().await?;
        let url = provider
            .userinfo_endpoint
            .clone()
            .ok_or_else(|| ConfigError::Discovery("no userinfo_endpoint".into()))?;
        let token = self
            .get_token(storage, &AccessTokenKey::userinfo(), false)
            .await?;
        let endpoint = Endpoint::UserInfo;
        let response = self
            .inner
            .http
            .get(url.clone())
            .bearer_auth(token.secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport(endpoint, e))?;
        let status = response.status();
        let body = read_body(response, endpoint).await?;
        if !status.is_success() {
            return Err(error_from_body(endpoint, status.as_u16(), &body));
        }
        let info: UserInfo =
            serde_json::from_slice(&body).map_err(|e| TransportError::UnexpectedResponse {
                endpoint,
                url: Some(url.to_string()),
                status: Some(status.as_u16()),
                detail: format!("invalid userinfo: {e}"),
            })?;
        if info.sub != id_claims.sub {
            return Err(ValidationError::UserInfoSubjectMismatch.into());
        }
        Ok(info)
    }

    /// An access token for `resource` (an API resource indicator), or for the userinfo
    /// endpoint with `None`. Served from the cache while valid, else one refresh grant.
    ///
    /// A resource not configured with [`LogtoConfig::with_resources`] is refused
    /// before any network call with [`ConfigError::ResourceNotConfigured`].
    pub async fn get_access_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        resource: Option<&str>,
    ) -> Result<AccessToken, Error> {
        let key = AccessTokenKey::new(resource.map(str::to_owned), None);
        self.get_token(storage, &key, false).await
    }

    /// The claims of [`LogtoClient::get_access_token`]'s JWT (decoded, not re-verified:
    /// it comes straight from the token endpoint).
    pub async fn get_access_token_claims<S: Storage + ?Sized>(
        &self,
        storage: &S,
        resource: &str,
    ) -> Result<AccessTokenClaims, Error> {
        let token = self.get_access_token(storage, Some(resource)).await?;
        Ok(jwt::decode_claims(token.secret())?)
    }

    /// An organization token (`aud = urn:logto:organization:{organization_id}`).
    /// Refuses early with [`ConfigError::MissingOrganizationsScope`] when the
    /// organizations scope is not configured.
    pub async fn get_organization_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        organization_id: &str,
    ) -> Result<AccessToken, Error> {
        self.get_token(
            storage,
            &AccessTokenKey::organization(organization_id),
            false,
        )
        .await
    }

    /// The claims of [`LogtoClient::get_organization_token`]'s JWT.
    pub async fn get_organization_token_claims<S: Storage + ?Sized>(
        &self,
        storage: &S,
        organization_id: &str,
    ) -> Result<OrganizationTokenClaims, Error> {
        let token = self
            .get_organization_token(storage, organization_id)
            .await?;
        OrganizationTokenClaims::decode(&token)
    }

    /// An organization-scoped API resource token (`resource` and `organization_id`):
    /// its scopes are limited to the user's roles in that organization.
    ///
    /// Refused before any network call with [`ConfigError::MissingOrganizationsScope`]
    /// when the organizations scope is not configured, and with
    /// [`ConfigError::ResourceNotConfigured`] when `resource` was not configured
    /// with [`LogtoConfig::with_resources`].
    pub async fn get_organization_scoped_access_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        resource: &str,
        organization_id: &str,
    ) -> Result<AccessToken, Error> {
        self.get_token(
            storage,
            &AccessTokenKey::organization_resource(resource, organization_id),
            false,
        )
        .await
    }

    /// The claims of [`LogtoClient::get_organization_scoped_access_token`]'s JWT.
    pub async fn get_organization_scoped_access_token_claims<S: Storage + ?Sized>(
        &self,
        storage: &S,
        resource: &str,
        organization_id: &str,
    ) -> Result<AccessTokenClaims, Error> {
        let token = self
            .get_organization_scoped_access_token(storage, resource, organization_id)
            .await?;
        Ok(jwt::decode_claims(token.secret())?)
    }

    /// Refreshes the token of `key` even if the cached one is still valid (e.g. so new
    /// roles or organization permissions show without signing in again).
    pub async fn refresh_access_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        key: &AccessTokenKey,
    ) -> Result<AccessToken, Error> {
        self.get_token(storage, key, true).await
    }

    /// Drops the cached token of `key`; the next request for it refreshes.
    pub async fn invalidate_access_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        key: &AccessTokenKey,
    ) -> Result<(), Error> {
        Ok(storage.remove_access_token(key).await?)
    }

    /// Drops every cached access token (the ID and refresh tokens stay).
    pub async fn clear_access_tokens<S: Storage + ?Sized>(&self, storage: &S) -> Result<(), Error> {
        Ok(storage.clear_access_tokens().await?)
    }

    /// Drops all tokens of the user locally, without revoking anything.
    pub async fn clear_all_tokens<S: Storage + ?Sized>(&self, storage: &S) -> Result<(), Error> {
        Ok(storage.clear().await?)
    }

    /// Whether a cached token is used rather than refreshed: until the expiry
    /// margin, which is at most half the token's lifetime (so a short-lived
    /// token is used for a while instead of refreshed on every request).
    fn is_fresh(&self, token: &CachedAccessToken) -> bool {
        let lifetime = token.expires_at.saturating_sub(token.obtained_at);
        let margin = self.inner.config.expiry_margin_secs(lifetime);
        self.now() < token.expires_at.saturating_sub(margin)
    }

    async fn local_flight(&self, key: String) -> LocalFlight {
        let mutex = match self.inner.inflight.lock() {
            Ok(mut map) => Arc::clone(map.entry(key.clone()).or_default()),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        };
        let guard = mutex.lock_owned().await;
        LocalFlight {
            inner: Arc::clone(&self.inner),
            key,
            guard: Some(guard),
        }
    }

    /// The general form of every `get_*_token`: the token of `key`, from the cache
    /// unless `force_refresh`, else through one refresh grant under the storage's
    /// refresh lock (single-flight).
    ///
    /// A cached token is used until [`LogtoConfig::access_token_expiry_margin`]
    /// before its expiry, at most half its lifetime. A refresh answer whose
    /// `token_type` is not `Bearer` is refused and nothing of it stored
    /// ([`ValidationError::UnsupportedTokenType`]); one whose ID token fails
    /// verification or changes what OIDC Core §12.2 keeps clears the user's
    /// tokens ([`Error::requires_sign_in`]).
    pub async fn get_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        key: &AccessTokenKey,
        force_refresh: bool,
    ) -> Result<AccessToken, Error> {
        if key.organization_id.is_some() && !self.inner.config.has_organizations_scope() {
            return Err(ConfigError::MissingOrganizationsScope.into());
        }
        if let Some(resource) = &key.resource
            && !self.inner.config.effective_resources().contains(resource)
        {
            return Err(ConfigError::ResourceNotConfigured {
                resource: resource.clone(),
            }
            .into());
        }
        if !force_refresh
            && let Some(t) = storage.get_access_token(key).await?
            && self.is_fresh(&t)
        {
            return Ok(t.token);
        }
        // Coalesce concurrent refreshes of one user and audience in this process.
        let _flight = match storage.session_key() {
            Some(session) if !force_refresh => {
                let flight = self
                    .local_flight(format!("{session}\u{0}{}", key.cache_key()))
                    .await;
                if let Some(t) = storage.get_access_token(key).await?
                    && self.is_fresh(&t)
                {
                    self.coalesced();
                    return Ok(t.token);
                }
                Some(flight)
            }
            _ => None,
        };
        let mut guard = storage.lock_for_refresh().await?;
        let tokens = guard.load_tokens().await?.ok_or(Error::NotAuthenticated)?;
        if !force_refresh
            && let Some(t) = guard.get_access_token(key).await?
            && self.is_fresh(&t)
        {
            self.coalesced();
            return Ok(t.token);
        }
        let refresh_token = tokens
            .refresh_token
            .clone()
            .ok_or(Error::NotAuthenticated)?;
        let provider = self.provider().await?;
        let oidc_refresh = oidc::RefreshToken::new(refresh_token.secret().to_owned());
        let mut request = provider.oidc.exchange_refresh_token(&oidc_refresh);
        if let Some(resource) = &key.resource {
            request = request.add_extra_param("resource", resource.clone());
        }
        if let Some(org) = &key.organization_id {
            request = request.add_extra_param("organization_id", org.clone());
        }
        let answer = request
            .request_async(&self.inner.http)
            .await
            .map_err(map_token_error)
            .and_then(|r| check_token_type(&r).map(|()| r));
        let response = match answer {
            Ok(r) => {
                self.inner.refreshes_ok.fetch_add(1, Ordering::Relaxed);
                r
            }
            Err(error) => {
                self.inner.refreshes_failed.fetch_add(1, Ordering::Relaxed);
                if error.oidc().is_some_and(OidcError::is_invalid_grant) {
                    tracing::info!(
                        "refresh token rejected (invalid_grant): clearing the user's tokens"
                    );
                    guard.clear().await?;
                }
                return Err(error);
            }
        };
        let access = response.access_token().secret().clone();
        let id_token = match response.0.extra_fields().id_token.clone() {
            Some(new_id) => {
                match self
                    .check_refreshed_id_token(&provider, &tokens.id_token, &new_id, &access)
                    .await
                {
                    Ok(()) => IdToken::new(new_id),
                    // The JWKS could not be fetched to check it: the grant itself
                    // succeeded (client-authenticated, over the token endpoint) and its
                    // refresh token has rotated, so keep the rotated one and the access
                    // token, and keep the verified ID token we had; the next refresh
                    // brings a new one. Clearing here would sign users out over a
                    // passing JWKS outage.
                    Err(Error::Transport(e)) => {
                        tracing::warn!(error = %e, "refreshed ID token not checked (JWKS unreachable): keeping the previous one");
                        tokens.id_token.clone()
                    }
                    // The same when its key is not in the JWKS yet and the re-fetch
                    // cool-down holds (a rotation right after a failed fetch).
                    Err(Error::Validation(ValidationError::RefreshedIdTokenInvalid(inner)))
                        if matches!(*inner, ValidationError::UnknownKeyId(_)) =>
                    {
                        tracing::warn!(error = %inner, "refreshed ID token not checked (key not fetched yet): keeping the previous one");
                        tokens.id_token.clone()
                    }
                    Err(e) => {
                        // The refresh token may have rotated: never reuse it, sign in again.
                        tracing::warn!(error = %e, "refreshed ID token rejected: clearing the user's tokens");
                        guard.clear().await?;
                        return Err(e);
                    }
                }
            }
            None => tokens.id_token.clone(),
        };
        let new_tokens = TokenSet {
            id_token,
            refresh_token: response
                .refresh_token()
                .map(|r| RefreshToken::new(r.secret().clone()))
                .or(tokens.refresh_token),
        };
        let cached = self.cached_token(&response);
        guard.commit(&new_tokens, key, &cached).await?;
        Ok(cached.token)
    }

    async fn check_refreshed_id_token(
        &self,
        provider: &Provider,
        original: &IdToken,
        new_token: &str,
        access_token: &str,
    ) -> Result<(), Error> {
        let new_claims = self
            .verify_id_token_with(
                provider,
                new_token,
                None,
                Some(access_token),
                Audiences::AsOriginal,
            )
            .await
            .map_err(|e| match e {
                Error::Validation(v) => {
                    ValidationError::RefreshedIdTokenInvalid(Box::new(v)).into()
                }
                other => other,
            })?;
        let old: IdTokenClaims = jwt::decode_claims(original.secret())?;
        // OIDC Core §12.2: `iss`, `sub`, `aud` and `azp` as in the original;
        // no `nonce` needed, but one present is the original's; an `auth_time`
        // present is the time of the original authentication. (The stored ID
        // token may be an earlier refresh's, without them: then there is
        // nothing to compare with.)
        fn differs<T: PartialEq>(old: Option<&T>, new: Option<&T>) -> bool {
            matches!((old, new), (Some(o), Some(n)) if o != n)
        }
        let changed = if old.iss != new_claims.iss {
            Some("iss")
        } else if old.sub != new_claims.sub {
            Some("sub")
        } else if old.aud != new_claims.aud {
            Some("aud")
        } else if old.azp != new_claims.azp {
            Some("azp")
        } else if differs(old.nonce.as_ref(), new_claims.nonce.as_ref()) {
            Some("nonce")
        } else if differs(old.auth_time.as_ref(), new_claims.auth_time.as_ref()) {
            Some("auth_time")
        } else {
            None
        };
        match changed {
            Some(claim) => Err(ValidationError::RefreshedIdTokenMismatch(claim).into()),
            None => Ok(()),
        }
    }

    // ----- sign-out --------------------------------------------------------------

    /// Signs the user out: revokes the refresh token at the revocation endpoint (best
    /// effort: a failure is logged), clears `storage` (always), and returns Logto's
    /// end-session URL with `client_id`, `id_token_hint` and `post_logout_redirect_uri`.
    pub async fn sign_out<S: Storage + ?Sized>(
        &self,
        storage: &S,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<Url, Error> {
        if let Some(uri) = post_logout_redirect_uri {
            redirect_uri_check(uri)?;
        }
        let tokens = storage.load_tokens().await?;
        if let Some(refresh) = tokens.as_ref().and_then(|t| t.refresh_token.as_ref())
            && let Err(e) = self.revoke_refresh_token(refresh).await
        {
            tracing::warn!(error = %e, "refresh token revocation failed; clearing the session anyway");
        }
        storage.clear().await?;
        let hint = tokens.as_ref().map(|t| t.id_token.secret());
        self.end_session_url(hint, post_logout_redirect_uri, None)
            .await
    }

    /// Revokes a refresh token (RFC 7009, `token_type_hint=refresh_token`, HTTP Basic
    /// client authentication).
    pub async fn revoke_refresh_token(&self, token: &RefreshToken) -> Result<(), Error> {
        let provider = self.provider().await?;
        let url = provider
            .revocation_endpoint
            .clone()
            .ok_or_else(|| ConfigError::Discovery("no revocation_endpoint".into()))?;
        let config = &self.inner.config;
        let mut form = vec![
            ("token", token.secret()),
            ("token_type_hint", "refresh_token"),
        ];
        let mut request = self.inner.http.post(url);
        match &config.app_secret {
            Some(secret) => {
                // RFC 6749 §2.3.1: form-urlencode id and secret before Basic.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(&config.app_id),
                    enc(secret.secret())
                ));
                request = request.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {credentials}"),
                );
            }
            None => form.push(("client_id", config.app_id.as_str())),
        }
        let endpoint = Endpoint::Revocation;
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| transport(endpoint, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = read_body(response, endpoint).await?;
        Err(error_from_body(endpoint, status.as_u16(), &body))
    }

    /// Logto's end-session URL: `client_id`, and the given `id_token_hint`,
    /// `post_logout_redirect_uri` and `state`.
    pub async fn end_session_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<Url, Error> {
        let provider = self.provider().await?;
        let mut url = provider
            .end_session_endpoint
            .clone()
            .ok_or_else(|| ConfigError::Discovery("no end_session_endpoint".into()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.inner.config.app_id);
            if let Some(hint) = id_token_hint {
                q.append_pair("id_token_hint", hint);
            }
            if let Some(uri) = post_logout_redirect_uri {
                q.append_pair("post_logout_redirect_uri", uri);
            }
            if let Some(state) = state {
                q.append_pair("state", state);
            }
        }
        Ok(url)
    }

    // ----- verification ------------------------------------------------------------

    async fn verify_signature(
        &self,
        provider: &Provider,
        jws: &Jws,
    ) -> Result<SigningAlgorithm, Error> {
        let allowed = &self.inner.config.allowed_algorithms;
        if SigningAlgorithm::from_alg(&jws.alg)
            .filter(|a| allowed.contains(a))
            .is_none()
        {
            return Err(ValidationError::AlgorithmNotAllowed(jws.alg.clone()).into());
        }
        let http = &self.inner.http;
        let cooldown = self.inner.config.jwks_refetch_cooldown;
        let keys = self.inner.jwks.get(provider, http, cooldown).await?;
        match keys.verify(jws, allowed) {
            Err(ValidationError::UnknownKeyId(kid)) => {
                tracing::debug!(?kid, "unknown kid: re-fetching the JWKS (rate-limited)");
                let keys = self.inner.jwks.refetch(provider, http, cooldown).await?;
                Ok(keys.verify(jws, allowed)?)
            }
            other => Ok(other?),
        }
    }

    fn expect<'a>(&'a self, provider: &'a Provider, audience: &'a str) -> Expect<'a> {
        Expect {
            issuer: &provider.issuer,
            audience,
            now: self.now(),
            skew: self.inner.config.skew_secs(),
            max_age: None,
            trusted_audiences: None,
        }
    }

    /// Verifies an ID token. `audiences` says how its audiences besides this
    /// client are judged: [`Audiences::Trusted`] checks them against
    /// [`LogtoConfig::trusted_audiences`]; [`Audiences::AsOriginal`] leaves it to
    /// the caller, a refresh, whose ID token must name the very audiences of the
    /// original one (OIDC Core §12.2), which passed this check.
    async fn verify_id_token_with(
        &self,
        provider: &Provider,
        token: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
        audiences: Audiences,
    ) -> Result<IdTokenClaims, Error> {
        let jws = jwt::decode(token)?;
        let alg = self.verify_signature(provider, &jws).await?;
        let config = &self.inner.config;
        let expect = Expect {
            max_age: Some(secs(config.max_id_token_age)),
            trusted_audiences: match audiences {
                Audiences::Trusted => Some(&config.trusted_audiences),
                Audiences::AsOriginal => None,
            },
            ..self.expect(provider, &config.app_id)
        };
        jwt::check_id_token(&jws, alg, &expect, nonce, access_token)?;
        Ok(serde_json::from_value(Value::Object(jws.claims))
            .map_err(|e| ValidationError::Malformed(format!("claims: {e}")))?)
    }

    /// Verifies an ID token completely: signature (allowed algorithms, JWKS with
    /// re-fetch on unknown `kid`), `iss`, `aud` (this client, plus only
    /// [`LogtoConfig::trusted_audiences`]) and `azp`, `exp`, `iat` (not in the future,
    /// not older than [`LogtoConfig::max_id_token_age`]), `nbf`, and `nonce` when
    /// `expected_nonce` is given. Time claims may carry a fraction (rounded down).
    pub async fn verify_id_token(
        &self,
        token: &str,
        expected_nonce: Option<&str>,
    ) -> Result<IdTokenClaims, Error> {
        let provider = self.provider().await?;
        self.verify_id_token_with(&provider, token, expected_nonce, None, Audiences::Trusted)
            .await
    }

    /// Verifies a JWT access token for a resource server (bearer-protected API):
    /// signature, `typ: at+jwt`, `iss`, `aud` containing `expected_audience`, `exp`, `iat`.
    /// Check the permissions with [`AccessTokenClaims::has_scope`].
    ///
    /// A signature that verified is remembered while the JWKS stays the same, so
    /// a token presented again costs a hash instead of a signature verification;
    /// everything else is checked on every call.
    pub async fn verify_access_token(
        &self,
        token: &str,
        expected_audience: &str,
    ) -> Result<AccessTokenClaims, Error> {
        let provider = self.provider().await?;
        let jws = jwt::decode(token)?;
        self.verify_signature(&provider, &jws).await?;
        jwt::check_access_token(&jws, &self.expect(&provider, expected_audience))?;
        Ok(serde_json::from_value(Value::Object(jws.claims))
            .map_err(|e| ValidationError::Malformed(format!("claims: {e}")))?)
    }

    /// Verifies an organization token for `organization_id`
    /// (`aud = urn:logto:organization:{organization_id}`).
    pub async fn verify_organization_token(
        &self,
        token: &str,
        organization_id: &str,
    ) -> Result<OrganizationTokenClaims, Error> {
        let claims = self
            .verify_access_token(token, &build_organization_urn(organization_id))
            .await?;
        let claims = OrganizationTokenClaims::from_access_token_claims(claims)
            .ok_or(ValidationError::AudienceMismatch)?;
        if claims.organization_id != organization_id {
            return Err(ValidationError::AudienceMismatch.into());
        }
        Ok(claims)
    }

    /// Verifies a back-channel logout token (OIDC Back-Channel Logout 1.0): signature,
    /// `typ` (`logout+jwt` if present), `iss`, `aud` = app id (and nothing else),
    /// `iat` within the skew, `exp` present and not past, `events` holding the
    /// back-channel logout event as an object, no `nonce`, `sub` or `sid` present, `jti`.
    /// Replay detection on `jti` is the caller's.
    pub async fn verify_logout_token(&self, token: &str) -> Result<LogoutTokenClaims, Error> {
        let provider = self.provider().await?;
        let jws = jwt::decode(token)?;
        self.verify_signature(&provider, &jws).await?;
        jwt::check_logout_token(&jws, &self.expect(&provider, &self.inner.config.app_id))?;
        Ok(serde_json::from_value(Value::Object(jws.claims))
            .map_err(|e| ValidationError::Malformed(format!("claims: {e}")))?)
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
