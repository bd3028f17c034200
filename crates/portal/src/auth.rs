//! The auth gate: the `Authenticated` extractor (the Rust form of the Python
//! quick-start's `@authenticated(shouldRedirect, fetchUserInfo)`), and the
//! `return_to` validator.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use logto_client::{AccessTokenKey, IdTokenClaims, UserInfo};
use uuid::Uuid;

use crate::error::AppError;
use crate::logins::{self, LoginRecord};
use crate::session::TypedSession;
use crate::state::AppState;
use crate::token_store::PgTokenStorage;

/// A signed-in browser. Extracting it from a page request that is not
/// signed in redirects to `/sign-in?return_to=…`; under `/api/` it answers
/// 401 JSON.
pub struct Authenticated {
    /// The login row (who, since when).
    pub login: LoginRecord,
    /// The verified ID token claims.
    pub claims: IdTokenClaims,
    /// Token storage of this login, for the Logto client.
    pub storage: PgTokenStorage,
    /// CSRF token for the page's forms.
    pub csrf: String,
}

/// [`Authenticated`] plus the user info from Logto's userinfo endpoint
/// (`fetchUserInfo: true` in the Python quick-start).
pub struct AuthenticatedWithUserInfo {
    /// The signed-in browser.
    pub auth: Authenticated,
    /// Fresh user info.
    pub user_info: UserInfo,
}

/// What the navigation bar of a signed-in page needs, left in the request's
/// extensions by the extractors for the error pages.
#[derive(Clone)]
pub(crate) struct SignedInNav {
    pub(crate) user_name: String,
    pub(crate) csrf: String,
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

/// Builds the token storage of `login_id` for this browser.
pub fn storage_for(
    state: &AppState,
    session: &TypedSession,
    login_id: Uuid,
) -> Result<PgTokenStorage, AppError> {
    let storage = PgTokenStorage::new(
        state.pool.clone(),
        Arc::clone(&state.cipher),
        session.browser_binding()?,
        login_id,
        state.settings.absolute_timeout,
    )
    .with_local_cache(Arc::clone(&state.local_cache));
    // What Logto says about organizations and permissions is no older than
    // what it says about the login itself.
    Ok(match state.settings.session_revalidate {
        Some(every) => storage.max_access_token_age(every),
        None => storage,
    })
}

async fn authenticate(req: HttpRequest) -> Result<Option<Authenticated>, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("application state missing")))?
        .clone();
    let session = TypedSession::from_request(&req, &mut Payload::None)
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("session: {e}")))?;
    let Some(login_id) = session.login_id()? else {
        return Ok(None);
    };
    // One query reads the login with its (encrypted) tokens: the claims
    // below need no second one.
    let Some((login, tokens)) =
        logins::touch_loading_tokens(&state.pool, login_id, state.settings.idle_timeout).await?
    else {
        // Signed out elsewhere (sign-out, back-channel logout, timeout):
        // this browser is signed out too.
        session.purge();
        return Ok(None);
    };
    // Checked with the identity provider too long ago: check it now. A
    // login without a refresh token cannot be checked (nor refreshed).
    let check = state
        .settings
        .session_revalidate
        .filter(|every| tokens.unchecked_for >= *every && tokens.refresh_token.is_some());
    let storage = match check {
        Some(every) => {
            revalidate(&state, &session, login_id, every).await?;
            // The check may have renewed the tokens: read them again.
            storage_for(&state, &session, login_id)?
        }
        None => storage_for(&state, &session, login_id)?.with_loaded(tokens),
    };
    let claims = match state.client.get_id_token_claims(&storage).await {
        Ok(c) => c,
        Err(e) if e.requires_sign_in() => {
            session.purge();
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let csrf = session.csrf_token()?;
    // Error pages rendered later in this request (a refused tenant, say)
    // show the same signed-in navigation as every other page.
    req.extensions_mut().insert(SignedInNav {
        user_name: crate::routes::display_name(&claims),
        csrf: csrf.clone(),
    });
    Ok(Some(Authenticated {
        login,
        claims,
        storage,
        csrf,
    }))
}

/// Re-validation (`PORTAL_SESSION_REVALIDATE`): checks login `login_id`'s
/// grant with the identity provider through a refresh grant, which also
/// renews the stored ID token. Concurrent requests of the login, on every
/// instance, share one refresh (see [`PgTokenStorage::checked_within`]).
///
/// A dead grant (`invalid_grant`: revoked, its session deleted at Logto)
/// ends the login everywhere (the client has deleted it) and this request
/// gets the "please sign in again" page. Any other failure — the identity
/// provider down or slow, say — signs nobody out: the page is served, one
/// line is logged, and the next try waits one interval.
async fn revalidate(
    state: &AppState,
    session: &TypedSession,
    login_id: Uuid,
    every: Duration,
) -> Result<(), AppError> {
    let storage = storage_for(state, session, login_id)?.checked_within(every);
    let checked = state
        .client
        .get_token(&storage, &AccessTokenKey::userinfo(), false)
        .await;
    match checked {
        Ok(_) => Ok(()),
        Err(e) if e.requires_sign_in() => {
            session.purge();
            Err(AppError::SessionEnded)
        }
        Err(e) => {
            tracing::warn!(
                login = %login_id,
                error = %e,
                retry_in_secs = every.as_secs(),
                "could not re-validate a login with the identity provider; serving it meanwhile"
            );
            // Not fatal either: without the mark, the next request tries again.
            let _ = logins::postpone_check(&state.pool, login_id).await;
            Ok(())
        }
    }
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
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let auth = auth.await?;
            let state = state.ok_or_else(|| {
                AppError::Unexpected(anyhow::anyhow!("application state missing"))
            })?;
            let user_info = state.client.fetch_user_info(&auth.storage).await?;
            Ok(Self { auth, user_info })
        })
    }
}
/// Same-origin `return_to` values: the one rule, from logto-actix.
pub use logto_actix::safe_return_to;
