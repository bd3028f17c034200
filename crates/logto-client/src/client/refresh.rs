//! Refresh grants: single-flight, with the refreshed ID token checked against
//! the original (OIDC Core §12.2).

use std::sync::atomic::Ordering;

use openidconnect as oidc;
use openidconnect::OAuth2TokenResponse;

use super::verify::Audiences;
use super::{LogtoClient, check_token_type, map_token_error};
use crate::claims::IdTokenClaims;
use crate::discovery::Provider;
use crate::error::{ConfigError, Error, OidcError, StorageError, ValidationError};
use crate::jwt;
use crate::secret::{AccessToken, IdToken, RefreshToken};
use crate::single_flight::{REFRESH_WAIT, RefreshWaitTimedOut};
use crate::storage::{AccessTokenKey, CachedAccessToken, Storage, TokenSet};

impl LogtoClient {
    /// Whether a cached token is used rather than refreshed: until the expiry
    /// margin, which is at most half the token's lifetime (so a short-lived
    /// token is used for a while instead of refreshed on every request).
    fn is_fresh(&self, token: &CachedAccessToken) -> bool {
        let lifetime = token.expires_at.saturating_sub(token.obtained_at);
        let margin = self.inner.config.expiry_margin_secs(lifetime);
        self.now() < token.expires_at.saturating_sub(margin)
    }

    /// The general form of every `get_*_token`: the token of `key`, from the cache
    /// unless `force_refresh`, else through one refresh grant under the storage's
    /// refresh lock (single-flight).
    ///
    /// A cached token is used until [`LogtoConfig::access_token_expiry_margin`](crate::LogtoConfig::access_token_expiry_margin)
    /// before its expiry, at most half its lifetime. A refresh answer whose
    /// `token_type` is not `Bearer` is refused and nothing of it stored
    /// ([`ValidationError::UnsupportedTokenType`]); one whose ID token fails
    /// verification or changes what OIDC Core §12.2 keeps clears the user's
    /// tokens ([`Error::requires_sign_in`]).
    pub(crate) async fn get_token<S: Storage + ?Sized>(
        &self,
        storage: &S,
        key: &AccessTokenKey,
        force_refresh: bool,
    ) -> Result<AccessToken, Error> {
        if let Some(organization_id) = &key.organization_id {
            if organization_id.is_empty() {
                return Err(ConfigError::EmptyOrganizationId.into());
            }
            if !self.inner.config.has_organizations_scope() {
                return Err(ConfigError::MissingOrganizationsScope.into());
            }
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
        // One refresh of a user's tokens at a time in this process (they share
        // one refresh token): later requests queue here, not in the storage's
        // cross-instance lock, and take what the refresh before them stored.
        let _flight = match storage.session_key() {
            Some(session) => {
                let flight = tokio::time::timeout(REFRESH_WAIT, self.inner.refreshes.lock(session))
                    .await
                    .map_err(|_| {
                        StorageError::with_source(
                            "timed out waiting for another refresh of this user",
                            RefreshWaitTimedOut::new("another refresh of this user"),
                        )
                    })?;
                if !force_refresh
                    && let Some(t) = storage.get_access_token(key).await?
                    && self.is_fresh(&t)
                {
                    self.coalesced();
                    return Ok(t.token);
                }
                Some(flight)
            }
            None => None,
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
            request = request.add_extra_param("resource", resource.as_str().to_owned());
        }
        if let Some(org) = &key.organization_id {
            request = request.add_extra_param("organization_id", org.as_str().to_owned());
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
}
