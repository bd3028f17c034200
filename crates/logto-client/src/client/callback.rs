//! Completing a sign-in: the callback, the code exchange and the first tokens.

use std::borrow::Cow;
use std::collections::HashMap;

use openidconnect as oidc;
use openidconnect::OAuth2TokenResponse;
use url::Url;

use super::verify::Audiences;
use super::{LogtoClient, check_token_type, map_token_error, protocol_error};
use crate::claims::AccessTokenClaims;
use crate::config::secs;
use crate::discovery::LogtoTokenResponse;
use crate::error::{CallbackError, Error, ValidationError};
use crate::jwt;
use crate::options::SignInOutcome;
use crate::scopes::organization_id_from_urn;
use crate::secret::{IdToken, RefreshToken};
use crate::storage::{AccessTokenKey, CachedAccessToken, Storage, TokenSet};
use crate::types::ResourceIndicator;

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

impl LogtoClient {
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
    /// `iss`, `aud`/`azp`, `exp`, `iat` no older than [`LogtoConfig::max_id_token_age`](crate::LogtoConfig::max_id_token_age),
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
        let ttl = secs(self.inner.config.sign_in_session_ttl());
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
        if let Some(key) = key {
            storage.set_access_token(&key, &cached).await?;
        }
        Ok(SignInOutcome {
            claims,
            app_state: session.app_state,
            redirect_uri: session.redirect_uri,
        })
    }

    /// The code exchange returns the userinfo token, or a JWT for the tenant's default
    /// resource: cache it under the key it belongs to (not at all when its
    /// audience is neither an organization nor a resource indicator).
    pub(super) fn cache_entry_for_exchange(
        &self,
        response: &LogtoTokenResponse,
    ) -> (Option<AccessTokenKey>, CachedAccessToken) {
        let cached = self.cached_token(response);
        let key = match jwt::decode_claims::<AccessTokenClaims>(cached.token.secret())
            .ok()
            .and_then(|c| c.aud.first().cloned())
        {
            None => Some(AccessTokenKey::userinfo()),
            Some(aud) => match organization_id_from_urn(&aud) {
                Some(org) => Some(AccessTokenKey::organization(org)),
                None => ResourceIndicator::parse(aud)
                    .ok()
                    .map(AccessTokenKey::resource),
            },
        };
        (key, cached)
    }
}
