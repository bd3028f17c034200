//! [`LoginStore`]: where a login's tokens live and how long a login lives;
//! [`KeyValueLogins`], the one built on a [`KeyValueStore`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use logto_client::{LogtoClient, Storage, StorageError};

use crate::session::random_id;
use crate::storage::{Locks, SessionStorage};
use crate::store::KeyValueStore;

/// Where the tokens of signed-in browsers live, and what ends a login.
///
/// A browser's session holds two random ids: the *browser id*, which keys its
/// pending sign-ins, and, once signed in, the *login id*, which keys its
/// tokens. [`crate::LogtoAuth::new`] builds this trait on a
/// [`KeyValueStore`] ([`KeyValueLogins`]); an application with its own notion
/// of a login — a table of logins with idle timeouts and back-channel logout,
/// say — implements it and hands it to [`crate::LogtoAuth::with_login_store`].
/// The routes and the extractors then work on that store.
///
/// ```
/// use logto_actix::{KeyValueLogins, LoginStore, MemoryStore, async_trait};
/// use logto_client::{LogtoClient, StorageError};
///
/// /// Key-value logins that also count the sign-ins.
/// struct Counted {
///     inner: KeyValueLogins,
///     sign_ins: std::sync::atomic::AtomicU64,
/// }
///
/// #[async_trait]
/// impl LoginStore for Counted {
///     type Storage = logto_actix::SessionStorage;
///     type Login = ();
///
///     fn storage(&self, browser_id: &str, login_id: &str) -> Result<Self::Storage, StorageError> {
///         self.inner.storage(browser_id, login_id)
///     }
///     async fn resume(
///         &self,
///         client: &LogtoClient,
///         browser_id: &str,
///         login_id: &str,
///     ) -> Result<Option<(Self::Storage, ())>, logto_client::Error> {
///         self.inner.resume(client, browser_id, login_id).await
///     }
///     async fn end(&self, browser_id: &str, login_id: &str) -> Result<(), StorageError> {
///         self.inner.end(browser_id, login_id).await
///     }
///     async fn signed_in(&self, _storage: &Self::Storage) -> Result<(), StorageError> {
///         self.sign_ins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         Ok(())
///     }
/// }
///
/// let store = Counted {
///     inner: KeyValueLogins::new(MemoryStore::default()),
///     sign_ins: Default::default(),
/// };
/// ```
#[async_trait]
pub trait LoginStore: Send + Sync + 'static {
    /// The client storage of one browser and one login.
    type Storage: Storage + Send + Sync + 'static;

    /// What the store knows of a login besides its tokens (when it began,
    /// say), handed to handlers by [`crate::Authenticated::login`].
    type Login: Send + Sync + 'static;

    /// A fresh login id, at each sign-in. The default is 256 random bits,
    /// base64url.
    fn new_login_id(&self) -> String {
        random_id()
    }

    /// The storage of `browser_id`'s pending sign-ins and of `login_id`'s
    /// tokens. Called on every sign-in, callback and sign-out; it should not
    /// do I/O.
    fn storage(&self, browser_id: &str, login_id: &str) -> Result<Self::Storage, StorageError>;

    /// The login a browser's session names, at the start of a request:
    /// `None` when it has ended (signed out elsewhere, timed out, its tokens
    /// forgotten), or the storage (and what is known of the login) to serve
    /// the request with. An error that requires signing in again
    /// ([`logto_client::Error::requires_sign_in`]) ends the browser's login
    /// and is answered [`crate::ErrorKind::SessionEnded`].
    async fn resume(
        &self,
        client: &LogtoClient,
        browser_id: &str,
        login_id: &str,
    ) -> Result<Option<(Self::Storage, Self::Login)>, logto_client::Error>;

    /// Ends a login: at sign-out (after the refresh token is revoked), and when
    /// a browser signs in again. Its tokens must be gone afterwards.
    async fn end(&self, browser_id: &str, login_id: &str) -> Result<(), StorageError>;

    /// A sign-in completed with `storage`, just before the session is bound
    /// to it. The default does nothing.
    async fn signed_in(&self, storage: &Self::Storage) -> Result<(), StorageError> {
        let _ = storage;
        Ok(())
    }
}

/// The [`LoginStore`] on a [`KeyValueStore`]: every login is its tokens, kept
/// for a time to live after their last write; refresh is single-flight
/// through the store's lock ([`KeyValueStore::lock`]) or, lacking one, a
/// mutex per login inside the process. [`crate::LogtoAuth::new`] builds it.
///
/// ```
/// use logto_actix::{KeyValueLogins, MemoryStore};
///
/// let logins = KeyValueLogins::new(MemoryStore::default())
///     .token_ttl(std::time::Duration::from_secs(8 * 3600));
/// ```
#[derive(Clone)]
pub struct KeyValueLogins {
    kv: Arc<dyn KeyValueStore>,
    locks: Arc<Locks>,
    token_ttl: Duration,
    sign_in_ttl: Duration,
}

impl std::fmt::Debug for KeyValueLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyValueLogins")
            .field("token_ttl", &self.token_ttl)
            .field("sign_in_ttl", &self.sign_in_ttl)
            .finish_non_exhaustive()
    }
}

impl KeyValueLogins {
    /// Logins in `store`: tokens kept 14 days after their last write, pending
    /// sign-ins 15 minutes.
    ///
    /// ```
    /// let logins = logto_actix::KeyValueLogins::new(logto_actix::MemoryStore::new(1000));
    /// ```
    pub fn new(store: impl KeyValueStore) -> Self {
        Self {
            kv: Arc::new(store),
            locks: Arc::new(Locks::default()),
            token_ttl: Duration::from_secs(14 * 24 * 3600),
            sign_in_ttl: Duration::from_secs(15 * 60),
        }
    }

    /// How long tokens are kept after they were last written (the store then
    /// forgets them, and the browser is signed out).
    ///
    /// ```
    /// # let logins = logto_actix::KeyValueLogins::new(logto_actix::MemoryStore::default());
    /// let logins = logins.token_ttl(std::time::Duration::from_secs(3600));
    /// ```
    #[must_use]
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }
}

#[async_trait]
impl LoginStore for KeyValueLogins {
    type Storage = SessionStorage;
    type Login = ();

    fn storage(&self, browser_id: &str, login_id: &str) -> Result<SessionStorage, StorageError> {
        Ok(SessionStorage::new(
            Arc::clone(&self.kv),
            Arc::clone(&self.locks),
            browser_id.to_owned(),
            login_id.to_owned(),
            self.token_ttl,
            self.sign_in_ttl,
        ))
    }

    /// Every login is resumed: one whose tokens are gone is noticed when its
    /// ID token is read.
    async fn resume(
        &self,
        _client: &LogtoClient,
        browser_id: &str,
        login_id: &str,
    ) -> Result<Option<(SessionStorage, ())>, logto_client::Error> {
        Ok(Some((self.storage(browser_id, login_id)?, ())))
    }

    async fn end(&self, browser_id: &str, login_id: &str) -> Result<(), StorageError> {
        self.storage(browser_id, login_id)?.clear().await
    }
}
