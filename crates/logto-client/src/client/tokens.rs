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

impl LogtoClient {
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

    /// An access token for `resource` (an API resource indicator), or for the userinfo
    /// endpoint with `None`. Served from the cache while valid, else one refresh grant.
    ///
    /// A resource not configured with [`LogtoConfig::with_resources`](crate::LogtoConfig::with_resources) is refused
    /// before any network call with [`ConfigError::ResourceNotConfigured`](crate::ConfigError::ResourceNotConfigured).
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
    /// Refuses early with [`ConfigError::MissingOrganizationsScope`](crate::ConfigError::MissingOrganizationsScope) when the
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
    /// Refused before any network call with [`ConfigError::MissingOrganizationsScope`](crate::ConfigError::MissingOrganizationsScope)
    /// when the organizations scope is not configured, and with
    /// [`ConfigError::ResourceNotConfigured`](crate::ConfigError::ResourceNotConfigured) when `resource` was not configured
    /// with [`LogtoConfig::with_resources`](crate::LogtoConfig::with_resources).
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
