//! Starting a sign-in: the authorization URL and its [`SignInSession`].

use std::borrow::Cow;

use openidconnect as oidc;
use openidconnect::core::{CoreAuthPrompt, CoreResponseType};
use url::Url;

use super::{LogtoClient, redirect_uri_check};
use crate::config::Prompt;
use crate::error::{ConfigError, Error};
use crate::options::SignInOptions;
use crate::secret::CodeVerifier;
use crate::storage::{SignInSession, Storage};

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

impl LogtoClient {
    /// Starts a sign-in: saves a [`SignInSession`] (keyed by a fresh `state`) in
    /// `storage` and returns the authorization URL to redirect the browser to.
    ///
    /// The URL carries `response_type=code`, PKCE S256, `state` and `nonce` (256 bits
    /// each), the scopes and resources of the configuration, `prompt`, and the
    /// Logto parameters of `options`.
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
    /// use logto_client::{InMemoryStorage, SignInOptions};
    ///
    /// let storage = InMemoryStorage::new();
    /// let url = client
    ///     .sign_in(&storage, SignInOptions::new("https://app.example.com/callback"))
    ///     .await?;
    /// assert!(url.as_str().starts_with("https://auth.example.com/oidc/auth?"));
    /// assert!(url.query_pairs().any(|(k, v)| k == "code_challenge_method" && v == "S256"));
    /// assert_eq!(storage.pending_sign_ins(), 1); // until its callback takes it
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        for prompt in options
            .prompt
            .as_ref()
            .map_or(config.prompt(), Vec::as_slice)
        {
            request = request.add_prompt(match prompt {
                Prompt::Consent => CoreAuthPrompt::Consent,
                Prompt::Login => CoreAuthPrompt::Login,
                Prompt::None => CoreAuthPrompt::None,
            });
        }
        for resource in config.effective_resources() {
            request = request.add_extra_param("resource", resource.into_string());
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
            request = request.add_extra_param("organization_id", org.as_str().to_owned());
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
}
