//! [`PgLogins`]: the [`LoginStore`] on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use logto_client::{LogtoClient, StorageError};
use sqlx::PgPool;
use uuid::Uuid;

use super::cipher::TokenCipher;
use super::logins::{self, LoginRecord};
use super::storage::{AccessTokenCache, PgTokenStorage};
use crate::login_store::LoginStore;

/// Logins in PostgreSQL: a row of `logins` per signed-in browser, its tokens
/// in [`PgTokenStorage`] (encrypted with a [`TokenCipher`]).
///
/// A login ends at sign-out, at back-channel logout
/// ([`logins::delete_by_sid`]), after [`Self::idle_timeout`] without a
/// request, [`Self::absolute_timeout`] after sign-in, or, with
/// [`Self::revalidate_every`], when the identity provider no longer knows
/// its grant. Its row is the truth on every instance. The logins' ids are
/// UUIDs (v4).
///
/// ```no_run
/// # fn run(pool: sqlx::PgPool) -> Result<(), logto_actix::postgres::CryptoError> {
/// use std::time::Duration;
/// use logto_actix::postgres::{PgLogins, TokenCipher};
///
/// let logins = PgLogins::new(pool, TokenCipher::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?)
///     .idle_timeout(Duration::from_secs(30 * 60))
///     .absolute_timeout(Duration::from_secs(12 * 3600))
///     .revalidate_every(Duration::from_secs(5 * 60));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PgLogins {
    pool: PgPool,
    cipher: Arc<TokenCipher>,
    idle_timeout: Duration,
    absolute_timeout: Duration,
    revalidate: Option<Duration>,
    max_access_token_age: Option<Duration>,
    cache: Option<Arc<dyn AccessTokenCache>>,
    /// The refresh slots of the pool, shared by every storage it builds.
    refresh_slots: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for PgLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLogins")
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("revalidate", &self.revalidate)
            .field("max_access_token_age", &self.max_access_token_age)
            .finish_non_exhaustive()
    }
}

impl PgLogins {
    /// Logins in `pool`'s database (migrated with [`super::MIGRATOR`]),
    /// their tokens encrypted with `cipher`: 30 minutes idle timeout, 12
    /// hours absolute timeout, no re-validation.
    ///
    /// ```no_run
    /// # fn run(pool: sqlx::PgPool) -> Result<(), logto_actix::postgres::CryptoError> {
    /// let cipher = logto_actix::postgres::TokenCipher::from_bytes(&[7; 32])?;
    /// let logins = logto_actix::postgres::PgLogins::new(pool, cipher);
    /// # Ok(()) }
    /// ```
    pub fn new(pool: PgPool, cipher: impl Into<Arc<TokenCipher>>) -> Self {
        Self {
            refresh_slots: super::storage::refresh_slots(pool.options().get_max_connections()),
            pool,
            cipher: cipher.into(),
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            revalidate: None,
            max_access_token_age: None,
            cache: None,
        }
    }

    /// A login without a request for `timeout` ends (to within
    /// 1/[`logins::LAST_SEEN_RESOLUTION`] of it, early).
    ///
    /// ```no_run
    /// # fn run(logins: logto_actix::postgres::PgLogins) {
    /// let logins = logins.idle_timeout(std::time::Duration::from_secs(15 * 60));
    /// # }
    /// ```
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// A login ends `timeout` after its sign-in, however active.
    ///
    /// ```no_run
    /// # fn run(logins: logto_actix::postgres::PgLogins) {
    /// let logins = logins.absolute_timeout(std::time::Duration::from_secs(8 * 3600));
    /// # }
    /// ```
    #[must_use]
    pub fn absolute_timeout(mut self, timeout: Duration) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// Re-validation: a login whose grant was checked with the identity
    /// provider longer than `interval` ago is checked again (a refresh
    /// grant, which also renews the stored ID token) at its next request,
    /// and cached access tokens older than `interval` are not served (as
    /// [`Self::max_access_token_age`]). Concurrent requests of the login, on
    /// every instance, share one refresh.
    ///
    /// A dead grant (`invalid_grant`: revoked, its session deleted at Logto)
    /// ends the login everywhere. Any other failure — the identity provider
    /// down or slow, say — signs nobody out: the request is served, one
    /// line is logged, and the next try waits one interval.
    ///
    /// ```no_run
    /// # fn run(logins: logto_actix::postgres::PgLogins) {
    /// let logins = logins.revalidate_every(std::time::Duration::from_secs(300));
    /// # }
    /// ```
    #[must_use]
    pub fn revalidate_every(mut self, interval: Duration) -> Self {
        self.revalidate = Some(interval);
        self.max_access_token_age = Some(interval);
        self
    }

    /// Cached access tokens obtained longer than `age` ago are not served:
    /// organization roles and API permissions changed at the identity
    /// provider show within `age` ([`PgTokenStorage::max_access_token_age`]).
    /// Call it after [`Self::revalidate_every`] to set a different age.
    ///
    /// ```no_run
    /// # fn run(logins: logto_actix::postgres::PgLogins) {
    /// let logins = logins.max_access_token_age(std::time::Duration::from_secs(600));
    /// # }
    /// ```
    #[must_use]
    pub fn max_access_token_age(mut self, age: Duration) -> Self {
        self.max_access_token_age = Some(age);
        self
    }

    /// Organization tokens read from the database are kept in `cache`, a
    /// copy of the process ([`PgTokenStorage::with_local_cache`]).
    ///
    /// ```no_run
    /// # fn run(logins: logto_actix::postgres::PgLogins, cache: std::sync::Arc<dyn logto_actix::postgres::AccessTokenCache>) {
    /// let logins = logins.access_token_cache(cache);
    /// # }
    /// ```
    #[must_use]
    pub fn access_token_cache(mut self, cache: Arc<dyn AccessTokenCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The idle timeout set with [`Self::idle_timeout`] (30 minutes unless
    /// set), for wrappers that decide on a login themselves.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use logto_actix::postgres::{PgLogins, TokenCipher};
    /// let pool = sqlx::PgPool::connect_lazy("postgres://localhost/app")?;
    /// let logins = PgLogins::new(pool, TokenCipher::from_bytes(&[7; 32])?);
    /// assert_eq!(logins.get_idle_timeout(), Duration::from_secs(30 * 60));
    /// let logins = logins.idle_timeout(Duration::from_secs(15 * 60));
    /// assert_eq!(logins.get_idle_timeout(), Duration::from_secs(15 * 60));
    /// # Ok(()) }
    /// ```
    pub fn get_idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The re-validation interval set with [`Self::revalidate_every`];
    /// `None`: logins are not re-validated.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use logto_actix::postgres::{PgLogins, TokenCipher};
    /// let pool = sqlx::PgPool::connect_lazy("postgres://localhost/app")?;
    /// let logins = PgLogins::new(pool, TokenCipher::from_bytes(&[7; 32])?);
    /// assert_eq!(logins.get_revalidate_every(), None);
    /// let logins = logins.revalidate_every(Duration::from_secs(300));
    /// assert_eq!(logins.get_revalidate_every(), Some(Duration::from_secs(300)));
    /// # Ok(()) }
    /// ```
    pub fn get_revalidate_every(&self) -> Option<Duration> {
        self.revalidate
    }

    /// The pool the logins are read from.
    ///
    /// ```no_run
    /// # fn run(logins: logto_actix::postgres::PgLogins) {
    /// let pool: &sqlx::PgPool = logins.pool();
    /// # }
    /// ```
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The token storage of `login_id` for the browser `browser_id`.
    ///
    /// ```no_run
    /// # fn run(logins: logto_actix::postgres::PgLogins) {
    /// let storage = logins.storage_of("0123456789abcdef-browser", uuid::Uuid::new_v4());
    /// # }
    /// ```
    pub fn storage_of(&self, browser_id: &str, login_id: Uuid) -> PgTokenStorage {
        let mut storage = PgTokenStorage::new(
            self.pool.clone(),
            Arc::clone(&self.cipher),
            browser_id.as_bytes().to_vec(),
            login_id,
            self.absolute_timeout,
        )
        .with_refresh_slots(Arc::clone(&self.refresh_slots));
        if let Some(cache) = &self.cache {
            storage = storage.with_local_cache(Arc::clone(cache));
        }
        // What Logto says about organizations and permissions is no older than
        // what it says about the login itself.
        match self.max_access_token_age {
            Some(age) => storage.max_access_token_age(age),
            None => storage,
        }
    }

    /// Re-validation: checks login `login_id`'s grant with the identity
    /// provider through a refresh grant (see [`Self::revalidate_every`] and
    /// [`PgTokenStorage::checked_within`]).
    async fn revalidate(
        &self,
        client: &LogtoClient,
        browser_id: &str,
        login_id: Uuid,
        every: Duration,
    ) -> Result<(), logto_client::Error> {
        let storage = self.storage_of(browser_id, login_id).checked_within(every);
        // The userinfo token: `checked_within` reports it stale once the last
        // check is older than `every`, so this is a refresh grant then.
        match client.get_access_token(&storage, None).await {
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
                let _ = logins::postpone_check(&self.pool, login_id).await;
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

#[async_trait]
impl LoginStore for PgLogins {
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
        // One query reads the login with its (encrypted) tokens: the claims
        // need no second one.
        let Some((login, tokens)) =
            logins::touch_loading_tokens(&self.pool, login_id, self.idle_timeout)
                .await
                .map_err(database)?
        else {
            // Signed out elsewhere (sign-out, back-channel logout, timeout).
            return Ok(None);
        };
        // Checked with the identity provider too long ago: check it now. A
        // login without a refresh token cannot be checked (nor refreshed).
        let check = self
            .revalidate
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
        logins::delete(&self.pool, parse_login_id(login_id)?)
            .await
            .map_err(|e| StorageError::with_source("deleting the login", e))?;
        Ok(())
    }
}
