//! The portal on logto-actix: its [`LoginStore`] (logins in PostgreSQL,
//! with idle and absolute timeouts and re-validation), and the extractors
//! its pages take, which answer with the portal's own errors and pages.
//!
//! The routes (sign-in, callback, sign-out) and the session's keys are
//! logto-actix's; see `startup` for how they are mounted.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use logto_actix::{ErrorKind, LoginStore};
use logto_client::{AccessTokenKey, LogtoClient, StorageError};
use uuid::Uuid;

use crate::error::AppError;
use crate::logins::{self, LoginRecord};
use crate::state::AppState;
use crate::token_store::PgTokenStorage;

/// Same-origin `return_to` values: the one rule, from logto-actix.
pub use logto_actix::safe_return_to;

/// The portal's logins: a row of `logins` per signed-in browser (see
/// [`crate::logins`]), its tokens in [`PgTokenStorage`].
pub struct PortalLogins {
    state: AppState,
}

/// The portal's [`logto_actix::LogtoAuth`].
pub type PortalAuth = logto_actix::LogtoAuth<PortalLogins>;

impl PortalLogins {
    /// The logins of `state`'s database (its worker's pool).
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The token storage of `login_id` for the browser `browser_id`.
    fn storage_of(&self, browser_id: &str, login_id: Uuid) -> PgTokenStorage {
        let state = &self.state;
        let storage = PgTokenStorage::new(
            state.pool.clone(),
            Arc::clone(&state.cipher),
            browser_id.as_bytes().to_vec(),
            login_id,
            state.settings.absolute_timeout,
        )
        .with_local_cache(Arc::clone(&state.local_cache));
        // What Logto says about organizations and permissions is no older than
        // what it says about the login itself.
        match state.settings.session_revalidate {
            Some(every) => storage.max_access_token_age(every),
            None => storage,
        }
    }

    /// Re-validation (`PORTAL_SESSION_REVALIDATE`): checks login `login_id`'s
    /// grant with the identity provider through a refresh grant, which also
    /// renews the stored ID token. Concurrent requests of the login, on every
    /// instance, share one refresh (see [`PgTokenStorage::checked_within`]).
    ///
    /// A dead grant (`invalid_grant`: revoked, its session deleted at Logto)
    /// ends the login everywhere (the client has deleted it): the error is
    /// returned, and the page says "please sign in again". Any other failure
    /// — the identity provider down or slow, say — signs nobody out: the page
    /// is served, one line is logged, and the next try waits one interval.
    async fn revalidate(
        &self,
        client: &LogtoClient,
        browser_id: &str,
        login_id: Uuid,
        every: Duration,
    ) -> Result<(), logto_client::Error> {
        let storage = self.storage_of(browser_id, login_id).checked_within(every);
        match client
            .get_token(&storage, &AccessTokenKey::userinfo(), false)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.requires_sign_in() => Err(e),
            Err(e) => {
                tracing::warn!(
                    login = %login_id,
                    error = %e,
                    retry_in_secs = every.as_secs(),
                    "could not re-validate a login with the identity provider; serving it meanwhile"
                );
                // Not fatal either: without the mark, the next request tries again.
                let _ = logins::postpone_check(&self.state.pool, login_id).await;
                Ok(())
            }
        }
    }
}

fn parse_login_id(login_id: &str) -> Result<Uuid, StorageError> {
    Uuid::parse_str(login_id).map_err(|e| StorageError::with_source("malformed login id", e))
}

fn database(e: sqlx::Error) -> StorageError {
    StorageError::with_source("reading the login", e)
}

#[async_trait::async_trait]
impl LoginStore for PortalLogins {
    type Storage = PgTokenStorage;
    type Login = LoginRecord;

    fn new_login_id(&self) -> String {
        Uuid::new_v4().to_string()
    }

    fn storage(&self, browser_id: &str, login_id: &str) -> Result<PgTokenStorage, StorageError> {
        Ok(self.storage_of(browser_id, parse_login_id(login_id)?))
    }

    async fn resume(
        &self,
        client: &LogtoClient,
        browser_id: &str,
        login_id: &str,
    ) -> Result<Option<(PgTokenStorage, LoginRecord)>, logto_client::Error> {
        // A malformed value (tampered state) counts as signed out.
        let Ok(login_id) = Uuid::parse_str(login_id) else {
            return Ok(None);
        };
        let settings = &self.state.settings;
        // One query reads the login with its (encrypted) tokens: the claims
        // need no second one.
        let Some((login, tokens)) =
            logins::touch_loading_tokens(&self.state.pool, login_id, settings.idle_timeout)
                .await
                .map_err(database)?
        else {
            // Signed out elsewhere (sign-out, back-channel logout, timeout).
            return Ok(None);
        };
        // Checked with the identity provider too long ago: check it now. A
        // login without a refresh token cannot be checked (nor refreshed).
        let check = settings
            .session_revalidate
            .filter(|every| tokens.unchecked_for >= *every && tokens.refresh_token.is_some());
        let storage = match check {
            Some(every) => {
                self.revalidate(client, browser_id, login_id, every).await?;
                // The check may have renewed the tokens: read them again.
                self.storage_of(browser_id, login_id)
            }
            None => self.storage_of(browser_id, login_id).with_loaded(tokens),
        };
        Ok(Some((storage, login)))
    }

    async fn end(&self, _browser_id: &str, login_id: &str) -> Result<(), StorageError> {
        logins::delete(&self.state.pool, parse_login_id(login_id)?)
            .await
            .map_err(|e| StorageError::with_source("deleting the login", e))?;
        Ok(())
    }

    async fn signed_in(&self, _storage: &PgTokenStorage) -> Result<(), StorageError> {
        self.state.metrics.token_call("authorization_code", "ok");
        Ok(())
    }
}

impl From<logto_actix::Error> for AppError {
    fn from(e: logto_actix::Error) -> Self {
        match e.into_kind() {
            ErrorKind::SignInRequired { .. } => Self::SignedOut {
                return_to: "/".into(),
            },
            ErrorKind::SessionEnded { .. } => Self::SessionEnded,
            ErrorKind::Csrf => Self::Csrf,
            ErrorKind::NotAMember { .. } | ErrorKind::AccessDenied { .. } => Self::Forbidden {
                message: "you do not have access to this organization".into(),
                tenant: None,
            },
            // The IdP's own failure (`server_error`, `temporarily_unavailable`,
            // a 5xx from the token endpoint) is a 503 "try again"; anything
            // else refuses the callback.
            ErrorKind::SignInFailed(e) => {
                let message = e.to_string();
                match Self::from(e) {
                    unavailable @ Self::IdpUnavailable(_) => unavailable,
                    _ => Self::SignInFailed(message),
                }
            }
            ErrorKind::Logto(e) => Self::from(e),
            ErrorKind::Storage(e) => Self::from(logto_client::Error::Storage(e)),
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}

/// What the navigation bar of a signed-in page needs, left in the request's
/// extensions by the extractors for the error pages.
#[derive(Clone)]
pub(crate) struct SignedInNav {
    pub(crate) user_name: String,
    pub(crate) csrf: String,
}

/// A signed-in browser (the Rust form of the Python quick-start's
/// `@authenticated(shouldRedirect, fetchUserInfo)`): logto-actix's, on the
/// portal's logins. A page request that is not signed in is redirected to
/// `/sign-in?return_to=…`; under `/api/` it is answered 401 JSON.
pub struct Authenticated(logto_actix::Authenticated<PortalLogins>);

impl Deref for Authenticated {
    type Target = logto_actix::Authenticated<PortalLogins>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// [`Authenticated`] plus the user info from Logto's userinfo endpoint
/// (`fetchUserInfo: true` in the Python quick-start).
pub struct AuthenticatedWithUserInfo {
    /// The signed-in browser.
    pub auth: Authenticated,
    /// Fresh user info.
    pub user_info: logto_client::UserInfo,
}

/// `Option<Authenticated>` without the redirect: for pages that serve both.
pub struct MaybeAuthenticated(pub Option<Authenticated>);

/// The path and query of the request, as a `return_to` value.
fn here(req: &HttpRequest) -> String {
    match req.uri().query() {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path().to_owned(),
    }
}

async fn authenticate(req: HttpRequest) -> Result<Option<Authenticated>, AppError> {
    let maybe = logto_actix::MaybeAuthenticated::<PortalLogins>::extract(&req).await?;
    let Some(auth) = maybe.0 else {
        return Ok(None);
    };
    // Error pages rendered later in this request (a refused tenant, say)
    // show the same signed-in navigation as every other page.
    req.extensions_mut().insert(SignedInNav {
        user_name: crate::routes::display_name(auth.claims()),
        csrf: auth.csrf_token().to_owned(),
    });
    Ok(Some(Authenticated(auth)))
}

impl FromRequest for Authenticated {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let return_to = here(&req);
            authenticate(req)
                .await?
                .ok_or(AppError::SignedOut { return_to })
        })
    }
}

impl FromRequest for MaybeAuthenticated {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Self(authenticate(req).await?)) })
    }
}

impl FromRequest for AuthenticatedWithUserInfo {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let auth = Authenticated::from_request(req, payload);
        Box::pin(async move {
            let auth = auth.await?;
            let user_info = auth.client().fetch_user_info(auth.storage()).await?;
            Ok(Self { auth, user_info })
        })
    }
}
