//! The portal on logto-actix: its login store ([`portal_logins`]:
//! logto-actix's [`PgLogins`] behind the caching layer, configured from the
//! portal's settings), and the extractors its pages take, which answer
//! with the portal's own errors and pages.
//!
//! The routes (sign-in, callback, sign-out) and the session's keys are
//! logto-actix's; see `startup` for how they are mounted.

use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use logto_actix::ErrorKind;
use logto_actix::postgres::PgLogins;

use crate::state::AppState;
use crate::storage::caching::CachingLogins;
use crate::web::error::{AppError, is_idp_outage};
use crate::web::views::SignedInNav;

/// Same-origin `return_to` values: the one rule, from logto-actix.
pub use logto_actix::safe_return_to;

/// The portal's logins: logto-actix's [`PgLogins`] behind the caching
/// layer ([`CachingLogins`]).
pub type PortalLogins = CachingLogins;

/// The portal's [`logto_actix::LogtoAuth`].
pub type PortalAuth = logto_actix::LogtoAuth<PortalLogins>;

/// The logins of `state`'s database (its worker's pool), with the portal's
/// timeouts and re-validation (`PORTAL_IDLE_TIMEOUT`,
/// `PORTAL_ABSOLUTE_TIMEOUT`, `PORTAL_SESSION_REVALIDATE`) and the
/// `authorization_code` metric at each sign-in.
pub fn portal_logins(state: AppState) -> PortalLogins {
    let settings = &state.settings;
    let mut logins = PgLogins::new(state.pool.clone(), Arc::clone(&state.cipher))
        .idle_timeout(settings.idle_timeout)
        .absolute_timeout(settings.absolute_timeout)
        .access_token_cache(state.local_cache.clone());
    if let Some(every) = settings.session_revalidate {
        logins = logins.revalidate_every(every);
    }
    CachingLogins::new(
        logins,
        Arc::clone(&state.local_cache),
        Arc::clone(&state.metrics),
    )
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
            ErrorKind::SignInFailed(e) if is_idp_outage(&e) => Self::from(e),
            ErrorKind::SignInFailed(e) => Self::SignInFailed(e),
            ErrorKind::Logto(e) => Self::from(e),
            ErrorKind::Storage(e) => Self::from(logto_client::Error::Storage(e)),
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}

/// A signed-in browser (the Rust form of the Python quick-start's
/// `@authenticated(shouldRedirect, fetchUserInfo)`): logto-actix's, on the
/// portal's logins. A page request that is not signed in is redirected to
/// `/sign-in?return_to=…`; under `/api/` it is answered 401 JSON.
pub struct Authenticated(logto_actix::Authenticated<PortalLogins>);

impl Authenticated {
    /// The navigation bar of this user's pages.
    pub(crate) fn nav(&self) -> SignedInNav {
        SignedInNav::new(self.claims(), self.csrf_token())
    }
}

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
    req.extensions_mut()
        .insert(SignedInNav::new(auth.claims(), auth.csrf_token()));
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
