//! Signing out: revocation and the end-session URL.

use base64::Engine;
use url::Url;

use super::{LogtoClient, error_from_body, redirect_uri_check};
use crate::discovery::{read_body, transport};
use crate::error::{ConfigError, Endpoint, Error};
use crate::secret::RefreshToken;
use crate::storage::Storage;

impl LogtoClient {
    /// Signs the user out: revokes the refresh token at the revocation endpoint (best
    /// effort: a failure is logged), clears `storage` (always), and returns Logto's
    /// end-session URL with `client_id`, `id_token_hint` and `post_logout_redirect_uri`.
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
    ///     .save_tokens(&TokenSet { id_token: IdToken::new("eyJ...id-token"), refresh_token: None })
    ///     .await?;
    /// let url = client.sign_out(&storage, Some("https://app.example.com/")).await?;
    /// assert!(!client.is_authenticated(&storage).await?);
    /// // Redirect the browser there to end the session at Logto.
    /// assert!(url.as_str().starts_with("https://auth.example.com/oidc/session/end?client_id=my-app-id"));
    /// assert!(url.query_pairs().any(|(k, v)| k == "id_token_hint" && v == "eyJ...id-token"));
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```no_run
    /// # async fn run(client: logto_client::LogtoClient, storage: logto_client::InMemoryStorage)
    /// # -> Result<(), Box<dyn std::error::Error>> {
    /// use logto_client::Storage;
    ///
    /// // Revoke without ending the local session (`sign_out` does both).
    /// if let Some(refresh) = storage.load_tokens().await?.and_then(|t| t.refresh_token) {
    ///     client.revoke_refresh_token(&refresh).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
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
        match config.app_secret() {
            Some(secret) => {
                // RFC 6749 §2.3.1: form-urlencode id and secret before Basic.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(config.app_id()),
                    enc(secret.secret())
                ));
                request = request.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {credentials}"),
                );
            }
            None => form.push(("client_id", config.app_id())),
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
    /// let url = client
    ///     .end_session_url(None, Some("https://app.example.com/"), Some("xyz"))
    ///     .await?;
    /// assert_eq!(
    ///     url.as_str(),
    ///     "https://auth.example.com/oidc/session/end?client_id=my-app-id\
    ///      &post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2F&state=xyz"
    /// );
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
            q.append_pair("client_id", self.inner.config.app_id());
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
}
