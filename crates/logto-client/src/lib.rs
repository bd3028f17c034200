//! A framework-agnostic async client for [Logto](https://logto.io), the Rust
//! counterpart of Logto's Python `logto` package and `@logto/js`/`@logto/node`,
//! built on [`openidconnect`] (discovery metadata, PKCE, `state`/`nonce`, the
//! authorization URL and the token requests) and `reqwest` with rustls.
//!
//! # Design
//!
//! * **One [`LogtoClient`] per process serves every user.** It holds discovery,
//!   the JWKS cache and the HTTP pool. Per-user state (the sign-in transaction,
//!   the ID token, the refresh token, the access-token cache) lives only in the
//!   [`Storage`] handed to each call. [`InMemoryStorage`] is the in-memory one; a
//!   web application implements [`Storage`] over its session store.
//! * **Sign-in transactions are keyed by `state`**, so sign-ins started in several
//!   tabs never overwrite each other, and taken once, so a replayed callback fails.
//! * **ID tokens are fully verified**: signature (RS256, PS256, ES256, ES384,
//!   ES512 — pinned in [`LogtoConfig::allowed_algorithms`], never widened by
//!   discovery; `none` and HMAC refused), JWKS re-fetched on an unknown `kid` at
//!   most once per [`LogtoConfig::jwks_refetch_cooldown`], `iss`, `aud` (no
//!   audience outside [`LogtoConfig::trusted_audiences`]), `azp`, `exp`, `iat`
//!   with [`LogtoConfig::clock_skew`] and not older than
//!   [`LogtoConfig::max_id_token_age`], `nonce`, and `at_hash` when present.
//!   Times may be non-integer NumericDates (RFC 7519 §2). A refreshed ID token
//!   must keep the original's `iss`, `sub`, `aud`, `azp`, and `nonce` and
//!   `auth_time` when present (OIDC Core §12.2). The callback's `iss` (RFC 9207)
//!   is checked before any token request. The policy is this crate's; the
//!   signatures are checked by `jsonwebtoken` (RS256, PS256, ES256, ES384) and
//!   by the `p521` crate (ES512, which no maintained JOSE crate verifies).
//! * **Protocol strings are typed**: an API resource is a [`ResourceIndicator`],
//!   checked once where it is made (an absolute URI without a fragment,
//!   RFC 8707), and an organization is an [`OrganizationId`], which any string
//!   converts into (`get_organization_token(&storage, "org-id")`). Both
//!   serialize as the plain string.
//! * **Only bearer tokens are used**: a token response whose `token_type` is not
//!   `Bearer` (in any case) is refused (RFC 6749 §5.1, §7.1).
//! * **Refresh is single-flight**: under [`Storage::lock_for_refresh`] the client
//!   re-reads the tokens, refreshes only if still needed, and commits the rotated
//!   refresh token, a new (verified) ID token and the access token together.
//!
//! # Example
//!
//! ```no_run
//! use logto_client::{
//!     AppSecret, InMemoryStorage, LogtoClient, LogtoConfig, ResourceIndicator, Scope,
//!     SignInOptions, UserScope,
//! };
//!
//! # async fn run() -> Result<(), logto_client::Error> {
//! // Once per process. An API resource indicator is parsed (and checked) once.
//! let api = ResourceIndicator::parse("https://api.example.com")?;
//! let config = LogtoConfig::new(
//!     "https://auth.example.com",
//!     "my-app-id",
//!     Some(AppSecret::new("my-app-secret")),
//! )?
//! // User scopes and API permissions, in one call (see `Scope`).
//! .with_scopes([
//!     Scope::from(UserScope::Email),
//!     UserScope::Organizations.into(),
//!     UserScope::Roles.into(),
//!     "read:reports".into(),
//! ])
//! .with_resources([&api])?;
//! let client = LogtoClient::new(config)?;
//! client.discover().await?; // fail fast on a wrong endpoint or issuer
//!
//! // Per user: the storage of this browser session.
//! let storage = InMemoryStorage::new();
//!
//! // 1. Redirect the browser to the authorization URL.
//! let options = SignInOptions::new("https://app.example.com/callback")
//!     .app_state(serde_json::json!({ "return_to": "/dashboard" }));
//! let url = client.sign_in(&storage, options).await?;
//! println!("redirect to {url}");
//!
//! // 2. Logto redirects back; hand the full callback URL to the client.
//! let callback = "https://app.example.com/callback?code=...&state=...&iss=...";
//! let outcome = client.handle_sign_in_callback(&storage, callback).await?;
//! println!("signed in as {} (back to {:?})", outcome.claims.sub, outcome.app_state);
//!
//! // 3. Use the session.
//! let claims = client.get_id_token_claims(&storage).await?;
//! let user = client.fetch_user_info(&storage).await?; // roles, organizations, custom data
//! let api_token = client.get_access_token(&storage, Some(&api)).await?;
//! let org_token = client.get_organization_token(&storage, "org-acme").await?;
//! # let _ = (claims, user, api_token, org_token);
//!
//! // 4. Sign out: revoke, clear, redirect to Logto's end-session URL.
//! let end_session = client.sign_out(&storage, Some("https://app.example.com/")).await?;
//! println!("redirect to {end_session}");
//! # Ok(())
//! # }
//! ```
//!
//! # Resource servers and back-channel logout
//!
//! The same client verifies bearer tokens for an API with
//! [`LogtoClient::verify_access_token`] / [`LogtoClient::verify_organization_token`],
//! and back-channel logout tokens with [`LogtoClient::verify_logout_token`], all
//! through the shared JWKS cache.
#![warn(missing_docs)]

mod claims;
mod client;
mod config;
mod discovery;
mod error;
mod jwt;
mod options;
mod scopes;
mod secret;
mod single_flight;
mod storage;
#[cfg(test)]
mod test_support;
mod types;

pub use async_trait::async_trait;
pub use claims::{
    AccessTokenClaims, Address, IdTokenClaims, Identity, LogoutTokenClaims, OrganizationData,
    OrganizationTokenClaims, SsoIdentity, UserInfo,
};
pub use client::{ClientStats, LogtoClient};
pub use config::{Clock, FixedClock, LogtoConfig, Prompt, SigningAlgorithm, SystemClock};
pub use error::{
    CallbackError, ConfigError, Endpoint, Error, OidcError, StorageError, TransportError,
    ValidationError,
};
pub use jwt::BACKCHANNEL_LOGOUT_EVENT;
pub use options::{
    DirectSignIn, FirstScreen, IdentifierType, InteractionMode, SignInOptions, SignInOutcome,
};
pub use scopes::{
    DEFAULT_SCOPES, ORGANIZATION_URN_PREFIX, ReservedResource, ReservedScope, Scope, UserScope,
    build_organization_urn, organization_id_from_urn,
};
pub use secret::{AccessToken, AppSecret, CodeVerifier, IdToken, RefreshToken};
pub use single_flight::RefreshWaitTimedOut;
pub use storage::{
    AccessTokenKey, CachedAccessToken, InMemoryStorage, RefreshGuard, SignInSession, Storage,
    TokenSet,
};
pub use types::{OrganizationId, ResourceIndicator};
