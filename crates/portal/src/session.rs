//! Typed access to the actix session: the only place that knows its keys.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use rand::RngCore;
use uuid::Uuid;

use crate::error::AppError;

/// The key of the login id (the session store's prefetch reads it too).
pub(crate) const LOGIN_ID: &str = "login_id";
const BROWSER_BINDING: &str = "browser_binding";
const CSRF: &str = "csrf";

/// The session of the current browser.
pub struct TypedSession(Session);

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn session_error(e: impl std::fmt::Display) -> AppError {
    AppError::Unexpected(anyhow::anyhow!("session: {e}"))
}

impl TypedSession {
    /// The login this browser is signed in with, if any.
    pub fn login_id(&self) -> Result<Option<Uuid>, AppError> {
        // A malformed value (tampered state) counts as signed out.
        Ok(self.0.get::<Uuid>(LOGIN_ID).unwrap_or(None))
    }

    /// Binds the session to a new login; renews the session id first
    /// (session fixation: the pre-sign-in id stops working).
    pub fn start_login(&self, login_id: Uuid) -> Result<(), AppError> {
        self.0.renew();
        self.0.insert(LOGIN_ID, login_id).map_err(session_error)?;
        self.0.insert(CSRF, random_token()).map_err(session_error)?;
        Ok(())
    }

    /// The secret that binds pending sign-ins to this browser, created on first use.
    pub fn browser_binding(&self) -> Result<Vec<u8>, AppError> {
        if let Ok(Some(b)) = self.0.get::<String>(BROWSER_BINDING) {
            return Ok(b.into_bytes());
        }
        let b = random_token();
        self.0.insert(BROWSER_BINDING, &b).map_err(session_error)?;
        Ok(b.into_bytes())
    }

    /// The existing binding, without creating one (at the callback).
    pub fn existing_browser_binding(&self) -> Option<Vec<u8>> {
        self.0
            .get::<String>(BROWSER_BINDING)
            .ok()
            .flatten()
            .map(String::into_bytes)
    }

    /// The CSRF token for forms, created on first use.
    pub fn csrf_token(&self) -> Result<String, AppError> {
        if let Ok(Some(t)) = self.0.get::<String>(CSRF) {
            return Ok(t);
        }
        let t = random_token();
        self.0.insert(CSRF, &t).map_err(session_error)?;
        Ok(t)
    }

    /// Constant-time check of a submitted CSRF token.
    pub fn check_csrf(&self, submitted: &str) -> bool {
        use subtle::ConstantTimeEq;
        match self.0.get::<String>(CSRF) {
            Ok(Some(t)) => t.as_bytes().ct_eq(submitted.as_bytes()).into(),
            _ => false,
        }
    }

    /// Forgets everything and deletes the server-side row.
    pub fn purge(&self) {
        self.0.purge();
    }
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(Self(req.get_session())))
    }
}
