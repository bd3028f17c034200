//! Token verification: ID tokens, access and organization tokens for resource
//! servers, and back-channel logout tokens.

use serde_json::Value;

use super::LogtoClient;
use crate::claims::{AccessTokenClaims, IdTokenClaims, LogoutTokenClaims, OrganizationTokenClaims};
use crate::config::{SigningAlgorithm, secs};
use crate::discovery::Provider;
use crate::error::{Error, ValidationError};
use crate::jwt::{self, Expect, Jws};
use crate::scopes::build_organization_urn;
use crate::types::{OrganizationId, ResourceIndicator};

/// How an ID token's audiences other than this client are checked (see
/// `LogtoClient::verify_id_token_with`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Audiences {
    /// Each must be in [`LogtoConfig::trusted_audiences`](crate::LogtoConfig::trusted_audiences).
    Trusted,
    /// They must be the original ID token's (a refresh; the caller compares).
    AsOriginal,
}

impl LogtoClient {
    async fn verify_signature(
        &self,
        provider: &Provider,
        jws: &Jws,
    ) -> Result<SigningAlgorithm, Error> {
        let allowed = self.inner.config.allowed_algorithms();
        if SigningAlgorithm::from_alg(&jws.alg)
            .filter(|a| allowed.contains(a))
            .is_none()
        {
            return Err(ValidationError::AlgorithmNotAllowed(jws.alg.clone()).into());
        }
        let http = &self.inner.http;
        let cooldown = self.inner.config.jwks_refetch_cooldown();
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
    /// [`LogtoConfig::trusted_audiences`](crate::LogtoConfig::trusted_audiences); [`Audiences::AsOriginal`] leaves it to
    /// the caller, a refresh, whose ID token must name the very audiences of the
    /// original one (OIDC Core §12.2), which passed this check.
    pub(super) async fn verify_id_token_with(
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
            max_age: Some(secs(config.max_id_token_age())),
            trusted_audiences: match audiences {
                Audiences::Trusted => Some(config.trusted_audiences()),
                Audiences::AsOriginal => None,
            },
            ..self.expect(provider, config.app_id())
        };
        jwt::check_id_token(&jws, alg, &expect, nonce, access_token)?;
        Ok(serde_json::from_value(Value::Object(jws.claims))
            .map_err(|e| ValidationError::Malformed(format!("claims: {e}")))?)
    }

    /// Verifies an ID token completely: signature (allowed algorithms, JWKS with
    /// re-fetch on unknown `kid`), `iss`, `aud` (this client, plus only
    /// [`LogtoConfig::trusted_audiences`](crate::LogtoConfig::trusted_audiences)) and `azp`, `exp`, `iat` (not in the future,
    /// not older than [`LogtoConfig::max_id_token_age`](crate::LogtoConfig::max_id_token_age)), `nbf`, and `nonce` when
    /// `expected_nonce` is given. Time claims may carry a fraction (rounded down).
    ///
    /// ```no_run
    /// # async fn run(client: logto_client::LogtoClient, id_token: &str) -> Result<(), logto_client::Error> {
    /// // An ID token received some other way (e.g. from a native app).
    /// let claims = client.verify_id_token(id_token, None).await?;
    /// println!("{} signed in at {:?}", claims.sub, claims.auth_time);
    /// # Ok(())
    /// # }
    /// ```
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
    ///
    /// ```no_run
    /// # async fn run(client: logto_client::LogtoClient, bearer: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// use logto_client::ResourceIndicator;
    ///
    /// let api = ResourceIndicator::parse("https://api.example.com")?; // once, at start-up
    /// let claims = client.verify_access_token(bearer, &api).await?;
    /// if !claims.has_scope("read:reports") {
    ///     // answer 403
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_access_token(
        &self,
        token: &str,
        resource: &ResourceIndicator,
    ) -> Result<AccessTokenClaims, Error> {
        self.verify_access_token_for(token, resource.as_str()).await
    }

    async fn verify_access_token_for(
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
    /// (`aud = urn:logto:organization:{organization_id}`), as
    /// [`LogtoClient::verify_access_token`] does; any string converts into the id.
    ///
    /// ```no_run
    /// # async fn run(client: logto_client::LogtoClient, bearer: &str) -> Result<(), logto_client::Error> {
    /// let claims = client.verify_organization_token(bearer, "org-acme").await?;
    /// assert_eq!(claims.organization_id, "org-acme");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_organization_token(
        &self,
        token: &str,
        organization_id: impl Into<OrganizationId>,
    ) -> Result<OrganizationTokenClaims, Error> {
        let organization_id = organization_id.into();
        if organization_id.is_empty() {
            return Err(ValidationError::AudienceMismatch.into());
        }
        let claims = self
            .verify_access_token_for(token, &build_organization_urn(&organization_id))
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
    ///
    /// ```no_run
    /// # async fn run(client: logto_client::LogtoClient, form_logout_token: &str) -> Result<(), logto_client::Error> {
    /// // The `logout_token` form field of Logto's back-channel logout POST.
    /// let claims = client.verify_logout_token(form_logout_token).await?;
    /// // It names a Logto session, a user, or both.
    /// if let Some(sid) = &claims.sid {
    ///     println!("end the logins of Logto session {sid}");
    /// } else if let Some(sub) = &claims.sub {
    ///     println!("end every login of user {sub}");
    /// }
    /// println!("refuse jti {} again until {}", claims.jti, claims.exp);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_logout_token(&self, token: &str) -> Result<LogoutTokenClaims, Error> {
        let provider = self.provider().await?;
        let jws = jwt::decode(token)?;
        self.verify_signature(&provider, &jws).await?;
        jwt::check_logout_token(&jws, &self.expect(&provider, self.inner.config.app_id()))?;
        Ok(serde_json::from_value(Value::Object(jws.claims))
            .map_err(|e| ValidationError::Malformed(format!("claims: {e}")))?)
    }
}
