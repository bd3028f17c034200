//! The crate's keys in actix-session's session: random ids and the CSRF token,
//! never a token.

use actix_session::Session;
use base64::Engine;
use rand::RngCore;

use crate::error::{Error, ErrorKind};

/// The random id of this browser's pending sign-ins.
const BROWSER_ID: &str = "logto.browser";
/// The key of actix-session's session state holding the login id (a JSON
/// string), for a session store that indexes sessions by login (to delete
/// them all at a back-channel logout, say).
///
/// ```
/// assert_eq!(logto_actix::LOGIN_ID_KEY, "logto.login");
/// ```
pub const LOGIN_ID_KEY: &str = "logto.login";
/// The CSRF token of this session.
const CSRF: &str = "logto.csrf";

/// 256 random bits, base64url.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn session_error(e: impl std::fmt::Display) -> Error {
    ErrorKind::Session(e.to_string()).into()
}

/// Typed access to the crate's keys of the actix session.
pub(crate) struct LogtoSession<'a>(pub(crate) &'a Session);

impl LogtoSession<'_> {
    fn get_or_create(&self, key: &str) -> Result<String, Error> {
        // A malformed value (tampered state) is replaced.
        if let Ok(Some(v)) = self.0.get::<String>(key) {
            return Ok(v);
        }
        let v = random_id();
        self.0.insert(key, &v).map_err(session_error)?;
        Ok(v)
    }

    /// The id of this browser's pending sign-ins, created on first use.
    pub(crate) fn browser_id(&self) -> Result<String, Error> {
        self.get_or_create(BROWSER_ID)
    }

    /// The id of this browser's pending sign-ins, if any was started.
    pub(crate) fn existing_browser_id(&self) -> Option<String> {
        self.0.get::<String>(BROWSER_ID).ok().flatten()
    }

    /// The login of this browser, if signed in.
    pub(crate) fn login_id(&self) -> Option<String> {
        self.0.get::<String>(LOGIN_ID_KEY).ok().flatten()
    }

    /// Binds the session to a new login: renews the session id first (session
    /// fixation: the pre-sign-in id stops working) and issues a new CSRF token.
    pub(crate) fn start_login(&self, login_id: &str) -> Result<(), Error> {
        self.0.renew();
        self.0
            .insert(LOGIN_ID_KEY, login_id)
            .map_err(session_error)?;
        self.0.insert(CSRF, random_id()).map_err(session_error)?;
        Ok(())
    }

    /// Forgets the login (its tokens are gone).
    pub(crate) fn forget_login(&self) {
        self.0.remove(LOGIN_ID_KEY);
    }

    /// The CSRF token, created on first use.
    pub(crate) fn csrf_token(&self) -> Result<String, Error> {
        self.get_or_create(CSRF)
    }

    /// Constant-time check of a submitted CSRF token.
    pub(crate) fn check_csrf(&self, submitted: &str) -> bool {
        use subtle::ConstantTimeEq;
        match self.0.get::<String>(CSRF) {
            Ok(Some(t)) if !submitted.is_empty() => t.as_bytes().ct_eq(submitted.as_bytes()).into(),
            _ => false,
        }
    }
}
