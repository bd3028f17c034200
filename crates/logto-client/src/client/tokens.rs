//! The tokens of a signed-in user: ID token, access tokens for resources and
//! organizations, and the cache.

use openidconnect::OAuth2TokenResponse;

use super::LogtoClient;
use crate::claims::{AccessTokenClaims, IdTokenClaims, OrganizationTokenClaims};
use crate::discovery::LogtoTokenResponse;
use crate::error::Error;
use crate::jwt;
use crate::secret::{AccessToken, IdToken};
use crate::storage::{AccessTokenKey, CachedAccessToken, Storage};
use crate::types::{OrganizationId, ResourceIndicator};

impl LogtoClient {
    /// Whether `storage` holds a signed-in user (an ID token), as the SDKs define it.
    ///
    /// ```
    /// # const DISCOVERY: &str = r#"{
    /// #     "issuer": "https://auth.example.com/oidc",
    /// #     "authorization_endpoint": "https://auth.example.com/oidc/auth",
    /// #     "token_endpoint": "https://auth.example.com/oidc/token",
    /// #     "jwks_uri": "https://auth.example.com/oidc/jwks",
    /// #     "end_session_endpoint": "https://auth.example.com/oidc/session/end",
    /// #     "response_types_supported": ["code"],
    /// #     "subject_types_supported": ["public"],
    /// #     "id_token_signing_alg_values_supported": ["ES384"]
    /// # }"#;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let config = logto_client::LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// # let client = logto_client::LogtoClient::with_discovery_document(config, DISCOVERY.as_bytes(), None)?;
    /// use logto_client::{IdToken, InMemoryStorage, Storage, TokenSet};
    ///
    /// let storage = InMemoryStorage::new();
    /// assert!(!client.is_authenticated(&storage).await?);
    /// storage
    ///     .save_tokens(&TokenSet { id_token: IdToken::new("eyJ..."), refresh_token: None })
    ///     .await?;
    /// assert!(client.is_authenticated(&storage).await?);
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn is_authenticated<S: Storage + ?Sized>(&self, storage: &S) -> Result<bool, Error> {
        Ok(storage.load_tokens().await?.is_some())
    }

    /// The raw ID token.
    ///
    /// ```
    /// # const DISCOVERY: &str = r#"{
    /// #     "issuer": "https://auth.example.com/oidc",
    /// #     "authorization_endpoint": "https://auth.example.com/oidc/auth",
    /// #     "token_endpoint": "https://auth.example.com/oidc/token",
    /// #     "jwks_uri": "https://auth.example.com/oidc/jwks",
    /// #     "end_session_endpoint": "https://auth.example.com/oidc/session/end",
    /// #     "response_types_supported": ["code"],
    /// #     "subject_types_supported": ["public"],
    /// #     "id_token_signing_alg_values_supported": ["ES384"]
    /// # }"#;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let config = logto_client::LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// # let client = logto_client::LogtoClient::with_discovery_document(config, DISCOVERY.as_bytes(), None)?;
    /// use logto_client::{Error, InMemoryStorage};
    ///
    /// let storage = InMemoryStorage::new();
    /// let err = client.get_id_token(&storage).await.unwrap_err();
    /// assert!(matches!(err, Error::NotAuthenticated));
    /// assert!(err.requires_sign_in());
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: logto_client::LogtoClient,
    /// #     storage: logto_client::InMemoryStorage,
    /// # ) -> Result<(), logto_client::Error> {
    /// let claims = client.get_id_token_claims(&storage).await?;
    /// println!("signed in as {} ({:?})", claims.sub, claims.email);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_id_token_claims<S: Storage + ?Sized>(
        &self,
        storage: &S,
    ) -> Result<IdTokenClaims, Error> {
        let token = self.get_id_token(storage).await?;
        Ok(jwt::decode_claims(token.secret())?)
    }

    /// An access token for `resource` (an API resource indicator), or for the userinfo
    /// endpoint with `None`. Served from the cache while valid, else one refresh grant.
    ///
    /// A resource not configured with [`LogtoConfig::with_resources`](crate::LogtoConfig::with_resources) is refused
    /// before any network call with [`ConfigError::ResourceNotConfigured`](crate::ConfigError::ResourceNotConfigured).
    /// Parse the indicator once, where the configuration is made, and pass it
    /// by reference (or take it from [`LogtoConfig::resources`](crate::LogtoConfig::resources)).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use logto_client::{InMemoryStorage, LogtoClient, LogtoConfig, ResourceIndicator};
    ///
    /// let api = ResourceIndicator::parse("https://api.example.com")?;
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_resources([&api])?;
    /// let client = LogtoClient::new(config)?;
    /// let storage = InMemoryStorage::new(); // a signed-in user's
    /// let token = client.get_access_token(&storage, Some(&api)).await?;
    /// println!("Authorization: Bearer {}", token.secret());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_access_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        resource: Option<&ResourceIndicator>,
    ) -> Result<AccessToken, Error> {
        let key = AccessTokenKey::new(resource.cloned(), None);
        self.get_token(storage, &key, false).await
    }

    /// The claims of [`LogtoClient::get_access_token`]'s JWT (decoded, not re-verified:
    /// it comes straight from the token endpoint).
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: logto_client::LogtoClient,
    /// #     storage: logto_client::InMemoryStorage,
    /// # ) -> Result<(), Box<dyn std::error::Error>> {
    /// let api = "https://api.example.com".parse()?;
    /// let claims = client.get_access_token_claims(&storage, &api).await?;
    /// println!("granted: {}", claims.scope);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_access_token_claims<S: Storage + ?Sized>(
        &self,
        storage: &S,
        resource: &ResourceIndicator,
    ) -> Result<AccessTokenClaims, Error> {
        let token = self.get_access_token(storage, Some(resource)).await?;
        Ok(jwt::decode_claims(token.secret())?)
    }

    /// An organization token (`aud = urn:logto:organization:{organization_id}`),
    /// as the Python SDK's `get_organization_token("org-id")`: any string, or
    /// an [`OrganizationId`], converts.
    ///
    /// Refuses early with [`ConfigError::MissingOrganizationsScope`](crate::ConfigError::MissingOrganizationsScope) when the
    /// organizations scope is not configured, and with
    /// [`ConfigError::EmptyOrganizationId`](crate::ConfigError::EmptyOrganizationId) for an empty id.
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: logto_client::LogtoClient,
    /// #     storage: logto_client::InMemoryStorage,
    /// # ) -> Result<(), logto_client::Error> {
    /// let token = client.get_organization_token(&storage, "org-acme").await?;
    /// # let _ = token;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_organization_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        organization_id: impl Into<OrganizationId>,
    ) -> Result<AccessToken, Error> {
        self.get_token(
            storage,
            &AccessTokenKey::organization(organization_id),
            false,
        )
        .await
    }

    /// The claims of [`LogtoClient::get_organization_token`]'s JWT.
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: logto_client::LogtoClient,
    /// #     storage: logto_client::InMemoryStorage,
    /// # ) -> Result<(), logto_client::Error> {
    /// let claims = client.get_organization_token_claims(&storage, "org-acme").await?;
    /// assert_eq!(claims.organization_id, "org-acme");
    /// println!("may invite: {}", claims.has_scope("invite:members"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_organization_token_claims<S: Storage + ?Sized>(
        &self,
        storage: &S,
        organization_id: impl Into<OrganizationId>,
    ) -> Result<OrganizationTokenClaims, Error> {
        let token = self
            .get_organization_token(storage, organization_id)
            .await?;
        OrganizationTokenClaims::decode(&token)
    }

    /// An organization-scoped API resource token (`resource` and `organization_id`):
    /// its scopes are limited to the user's roles in that organization.
    ///
    /// Refused before any network call with [`ConfigError::MissingOrganizationsScope`](crate::ConfigError::MissingOrganizationsScope)
    /// when the organizations scope is not configured, with
    /// [`ConfigError::EmptyOrganizationId`](crate::ConfigError::EmptyOrganizationId) for an empty id, and with
    /// [`ConfigError::ResourceNotConfigured`](crate::ConfigError::ResourceNotConfigured) when `resource` was not configured
    /// with [`LogtoConfig::with_resources`](crate::LogtoConfig::with_resources).
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: logto_client::LogtoClient,
    /// #     storage: logto_client::InMemoryStorage,
    /// # ) -> Result<(), Box<dyn std::error::Error>> {
    /// let api = "https://api.example.com".parse()?;
    /// let token = client
    ///     .get_organization_scoped_access_token(&storage, &api, "org-acme")
    ///     .await?;
    /// # let _ = token;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_organization_scoped_access_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        resource: &ResourceIndicator,
        organization_id: impl Into<OrganizationId>,
    ) -> Result<AccessToken, Error> {
        self.get_token(
            storage,
            &AccessTokenKey::organization_resource(resource.clone(), organization_id),
            false,
        )
        .await
    }

    /// The claims of [`LogtoClient::get_organization_scoped_access_token`]'s JWT.
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: logto_client::LogtoClient,
    /// #     storage: logto_client::InMemoryStorage,
    /// # ) -> Result<(), Box<dyn std::error::Error>> {
    /// let api = "https://api.example.com".parse()?;
    /// let claims = client
    ///     .get_organization_scoped_access_token_claims(&storage, &api, "org-acme")
    ///     .await?;
    /// assert_eq!(claims.organization_id.as_ref().map(|id| id.as_str()), Some("org-acme"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_organization_scoped_access_token_claims<S: Storage + ?Sized>(
        &self,
        storage: &S,
        resource: &ResourceIndicator,
        organization_id: impl Into<OrganizationId>,
    ) -> Result<AccessTokenClaims, Error> {
        let token = self
            .get_organization_scoped_access_token(storage, resource, organization_id)
            .await?;
        Ok(jwt::decode_claims(token.secret())?)
    }

    /// Refreshes the token of `key` even if the cached one is still valid (e.g. so new
    /// roles or organization permissions show without signing in again).
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: logto_client::LogtoClient,
    /// #     storage: logto_client::InMemoryStorage,
    /// # ) -> Result<(), logto_client::Error> {
    /// use logto_client::AccessTokenKey;
    ///
    /// // The user was just given a role in org-acme: show it now.
    /// let token = client
    ///     .refresh_access_token(&storage, &AccessTokenKey::organization("org-acme"))
    ///     .await?;
    /// # let _ = token;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn refresh_access_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        key: &AccessTokenKey,
    ) -> Result<AccessToken, Error> {
        self.get_token(storage, key, true).await
    }

    /// Drops the cached token of `key`; the next request for it refreshes.
    ///
    /// ```
    /// # const DISCOVERY: &str = r#"{
    /// #     "issuer": "https://auth.example.com/oidc",
    /// #     "authorization_endpoint": "https://auth.example.com/oidc/auth",
    /// #     "token_endpoint": "https://auth.example.com/oidc/token",
    /// #     "jwks_uri": "https://auth.example.com/oidc/jwks",
    /// #     "end_session_endpoint": "https://auth.example.com/oidc/session/end",
    /// #     "response_types_supported": ["code"],
    /// #     "subject_types_supported": ["public"],
    /// #     "id_token_signing_alg_values_supported": ["ES384"]
    /// # }"#;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let config = logto_client::LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// # let client = logto_client::LogtoClient::with_discovery_document(config, DISCOVERY.as_bytes(), None)?;
    /// use logto_client::{AccessToken, AccessTokenKey, CachedAccessToken, InMemoryStorage, Storage};
    ///
    /// let storage = InMemoryStorage::new();
    /// let key = AccessTokenKey::organization("org-acme");
    /// let cached = CachedAccessToken {
    ///     token: AccessToken::new("eyJ..."),
    ///     expires_at: 1_900_000_000,
    ///     scope: String::new(),
    ///     obtained_at: 1_800_000_000,
    /// };
    /// storage.set_access_token(&key, &cached).await?;
    /// client.invalidate_access_token(&storage, &key).await?;
    /// assert!(storage.get_access_token(&key).await?.is_none());
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn invalidate_access_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        key: &AccessTokenKey,
    ) -> Result<(), Error> {
        Ok(storage.remove_access_token(key).await?)
    }

    /// Drops every cached access token (the ID and refresh tokens stay).
    ///
    /// ```
    /// # const DISCOVERY: &str = r#"{
    /// #     "issuer": "https://auth.example.com/oidc",
    /// #     "authorization_endpoint": "https://auth.example.com/oidc/auth",
    /// #     "token_endpoint": "https://auth.example.com/oidc/token",
    /// #     "jwks_uri": "https://auth.example.com/oidc/jwks",
    /// #     "end_session_endpoint": "https://auth.example.com/oidc/session/end",
    /// #     "response_types_supported": ["code"],
    /// #     "subject_types_supported": ["public"],
    /// #     "id_token_signing_alg_values_supported": ["ES384"]
    /// # }"#;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let config = logto_client::LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// # let client = logto_client::LogtoClient::with_discovery_document(config, DISCOVERY.as_bytes(), None)?;
    /// use logto_client::{AccessToken, AccessTokenKey, CachedAccessToken, IdToken, InMemoryStorage, Storage, TokenSet};
    ///
    /// let storage = InMemoryStorage::new();
    /// storage
    ///     .save_tokens(&TokenSet { id_token: IdToken::new("eyJ..."), refresh_token: None })
    ///     .await?;
    /// let key = AccessTokenKey::organization("org-acme");
    /// let cached = CachedAccessToken {
    ///     token: AccessToken::new("eyJ..."),
    ///     expires_at: 1_900_000_000,
    ///     scope: String::new(),
    ///     obtained_at: 1_800_000_000,
    /// };
    /// storage.set_access_token(&key, &cached).await?;
    /// client.clear_access_tokens(&storage).await?;
    /// assert!(storage.get_access_token(&key).await?.is_none());
    /// assert!(client.is_authenticated(&storage).await?); // still signed in
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn clear_access_tokens<S: Storage + ?Sized>(&self, storage: &S) -> Result<(), Error> {
        Ok(storage.clear_access_tokens().await?)
    }

    /// Drops all tokens of the user locally, without revoking anything.
    ///
    /// ```
    /// # const DISCOVERY: &str = r#"{
    /// #     "issuer": "https://auth.example.com/oidc",
    /// #     "authorization_endpoint": "https://auth.example.com/oidc/auth",
    /// #     "token_endpoint": "https://auth.example.com/oidc/token",
    /// #     "jwks_uri": "https://auth.example.com/oidc/jwks",
    /// #     "end_session_endpoint": "https://auth.example.com/oidc/session/end",
    /// #     "response_types_supported": ["code"],
    /// #     "subject_types_supported": ["public"],
    /// #     "id_token_signing_alg_values_supported": ["ES384"]
    /// # }"#;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let config = logto_client::LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
    /// # let client = logto_client::LogtoClient::with_discovery_document(config, DISCOVERY.as_bytes(), None)?;
    /// use logto_client::{IdToken, InMemoryStorage, Storage, TokenSet};
    ///
    /// let storage = InMemoryStorage::new();
    /// storage
    ///     .save_tokens(&TokenSet { id_token: IdToken::new("eyJ..."), refresh_token: None })
    ///     .await?;
    /// client.clear_all_tokens(&storage).await?;
    /// assert!(!client.is_authenticated(&storage).await?);
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn clear_all_tokens<S: Storage + ?Sized>(&self, storage: &S) -> Result<(), Error> {
        Ok(storage.clear().await?)
    }

    pub(super) fn cached_token(&self, response: &LogtoTokenResponse) -> CachedAccessToken {
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
}
