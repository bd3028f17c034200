//! The caching layer: decorators over the session store and the login
//! store that serve signed-in pages from this instance's copy
//! ([`LocalCache`]), in the style of tower-sessions' `CachingSessionStore`.
//!
//! A signed-in page needs its session and its login. While the change
//! notifications are heard, both come from memory once read, and a page
//! costs PostgreSQL nothing; the idle-timeout bookkeeping is written behind
//! in batches ([`crate::storage::local_cache::spawn_touches`]). Every change
//! made anywhere — sign-out, back-channel logout, `portal sessions revoke`,
//! a refresh, a timeout's delete — is announced by a trigger and drops the
//! copy within the notification's delay; changes made here drop it at once.
//! While the notifications are not heard, every read goes to PostgreSQL as
//! without this layer.
//!
//! A login is served from memory only while its deadlines, kept on this
//! process's clock, say it is alive: one whose idle or absolute timeout may
//! have passed is read from PostgreSQL, which decides (and deletes it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use logto_actix::LoginStore;
use logto_actix::postgres::{LoginRecord, PgLogins, PgTokenStorage, SealedLoginTokens};
use logto_client::{LogtoClient, StorageError};
use sqlx::PgPool;
use uuid::Uuid;

use crate::infra::metrics::Metrics;
use crate::storage::local_cache::{CachedLogin, LocalCache, SessionState};
use crate::storage::logins::{LAST_SEEN_RESOLUTION, interval_secs};
use crate::storage::session_store::{PgSessionStore, key_hash};

/// A cookie TTL as a [`Duration`], never negative.
fn std_ttl(ttl: &CookieDuration) -> Duration {
    Duration::try_from_secs_f64(ttl.as_seconds_f64().max(0.0)).unwrap_or(Duration::ZERO)
}

/// [`PgSessionStore`] with the sessions read or written lately kept in
/// [`LocalCache`].
#[derive(Clone)]
pub struct CachingSessionStore {
    store: PgSessionStore,
    cache: Arc<LocalCache>,
}

impl std::fmt::Debug for CachingSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingSessionStore")
            .finish_non_exhaustive()
    }
}

impl CachingSessionStore {
    /// `store`, in front of it `cache`.
    pub fn new(store: PgSessionStore, cache: Arc<LocalCache>) -> Self {
        Self { store, cache }
    }
}

impl SessionStore for CachingSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        let hash = key_hash(session_key);
        if let Some(state) = self.cache.session(&hash) {
            return Ok(Some(state));
        }
        // Both taken before the read: a change heard meanwhile voids it, and
        // the expiry is counted from no later than the database's `now()`.
        let (epoch, started) = (self.cache.epoch(), Instant::now());
        let Some((state, left)) = self.store.load_with_ttl(session_key).await? else {
            return Ok(None);
        };
        self.cache
            .keep_session(epoch, hash, state.clone(), started + left);
        Ok(Some(state))
    }

    async fn save(
        &self,
        session_state: SessionState,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        let (epoch, started) = (self.cache.epoch(), Instant::now());
        let key = self.store.save(session_state.clone(), ttl).await?;
        self.cache
            .keep_session(epoch, key_hash(&key), session_state, started + std_ttl(ttl));
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: SessionState,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        self.cache.forget_session(&key_hash(&session_key));
        self.store.update(session_key, session_state, ttl).await
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> Result<(), anyhow::Error> {
        self.cache.forget_session(&key_hash(session_key));
        self.store.update_ttl(session_key, ttl).await
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        self.cache.forget_session(&key_hash(session_key));
        self.store.delete(session_key).await
    }
}

/// A login read for the copy: the row, its tokens, and its deadlines as
/// seconds by the database's clock.
#[derive(sqlx::FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    record: LoginRecord,
    id_token: Vec<u8>,
    refresh_token: Option<Vec<u8>>,
    expires_in: f64,
    idle_for: f64,
    unchecked_for: f64,
}

const SELECT_LOGIN: &str = "SELECT id, issuer, user_sub, logto_sid, created_at, last_seen_at, \
     expires_at, id_token, refresh_token, \
     extract(epoch FROM expires_at - now())::float8 AS expires_in, \
     extract(epoch FROM now() - last_seen_at)::float8 AS idle_for, \
     extract(epoch FROM now() - checked_at)::float8 AS unchecked_for \
     FROM logins WHERE id = $1";

/// `at - secs`, if this process's clock reaches back that far.
fn before(at: Instant, secs: f64) -> Option<Instant> {
    at.checked_sub(Duration::try_from_secs_f64(secs.max(0.0)).ok()?)
}

/// [`PgLogins`] with the logins read lately kept in [`LocalCache`]; see the
/// module documentation.
pub struct CachingLogins {
    logins: PgLogins,
    cache: Arc<LocalCache>,
    pool: PgPool,
    idle_timeout: Duration,
    revalidate: Option<Duration>,
    metrics: Arc<Metrics>,
}

impl CachingLogins {
    /// `logins`, in front of it `cache` (with `logins`' pool, idle timeout
    /// and re-validation); each sign-in counts an `authorization_code` call
    /// in `metrics`.
    pub fn new(logins: PgLogins, cache: Arc<LocalCache>, metrics: Arc<Metrics>) -> Self {
        Self {
            pool: logins.pool().clone(),
            idle_timeout: logins.get_idle_timeout(),
            revalidate: logins.get_revalidate_every(),
            logins,
            cache,
            metrics,
        }
    }

    /// `last_seen_at` is written once it is older than this.
    fn touch_after(&self) -> Duration {
        self.idle_timeout / LAST_SEEN_RESOLUTION
    }

    /// The login from the copy while its deadlines say it is alive and no
    /// re-validation is due; `None`: ask PostgreSQL.
    fn kept_alive(&self, id: Uuid, now: Instant) -> Option<CachedLogin> {
        let login = self.cache.login(id)?;
        let alive = now < login.expires && now < login.last_seen + self.idle_timeout;
        let check_due = self.revalidate.is_some_and(|every| {
            now.saturating_duration_since(login.checked) >= every && login.refresh_token.is_some()
        });
        if !alive || check_due {
            self.cache.forget_login(id);
            return None;
        }
        Some(login)
    }

    /// Reads login `id` for the copy. `None` when it is gone, or in any
    /// state the login check must decide on (timed out, re-validation due).
    async fn read(&self, id: Uuid) -> Result<Option<CachedLogin>, sqlx::Error> {
        let (epoch, started) = (self.cache.epoch(), Instant::now());
        let row: Option<LoginRow> = sqlx::query_as(SELECT_LOGIN)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let alive = row.expires_in > 0.0 && row.idle_for < interval_secs(self.idle_timeout);
        let check_due = self
            .revalidate
            .is_some_and(|every| row.unchecked_for >= interval_secs(every))
            && row.refresh_token.is_some();
        if !alive || check_due {
            return Ok(None);
        }
        let (Some(last_seen), Some(checked)) = (
            before(started, row.idle_for),
            before(started, row.unchecked_for),
        ) else {
            return Ok(None);
        };
        let expires =
            started + Duration::try_from_secs_f64(row.expires_in).unwrap_or(Duration::from_secs(1));
        let login = CachedLogin {
            record: row.record,
            id_token: row.id_token,
            refresh_token: row.refresh_token,
            expires,
            last_seen,
            checked,
        };
        self.cache.keep_login(epoch, login.clone());
        Ok(Some(login))
    }

    /// The storage and record of a login served from memory; its
    /// `last_seen_at` is written behind when due.
    fn serve(
        &self,
        browser_id: &str,
        login: CachedLogin,
        now: Instant,
    ) -> (PgTokenStorage, LoginRecord) {
        let id = login.record.id;
        if now.saturating_duration_since(login.last_seen) >= self.touch_after() {
            self.cache.touch_login(id, now);
        }
        let tokens = SealedLoginTokens {
            id_token: login.id_token,
            refresh_token: login.refresh_token,
            unchecked_for: now.saturating_duration_since(login.checked),
        };
        let storage = self.logins.storage_of(browser_id, id).with_loaded(tokens);
        (storage, login.record)
    }
}

#[async_trait::async_trait]
impl LoginStore for CachingLogins {
    type Storage = PgTokenStorage;
    type Login = LoginRecord;

    fn new_login_id(&self) -> String {
        self.logins.new_login_id()
    }

    fn storage(&self, browser_id: &str, login_id: &str) -> Result<PgTokenStorage, StorageError> {
        self.logins.storage(browser_id, login_id)
    }

    async fn resume(
        &self,
        client: &LogtoClient,
        browser_id: &str,
        login_id: &str,
    ) -> Result<Option<(PgTokenStorage, LoginRecord)>, logto_client::Error> {
        // Deaf, or a malformed id: the login check as without the copy.
        let id = match Uuid::parse_str(login_id) {
            Ok(id) if self.cache.is_hearing() => id,
            _ => return self.logins.resume(client, browser_id, login_id).await,
        };
        let now = Instant::now();
        if let Some(login) = self.kept_alive(id, now) {
            return Ok(Some(self.serve(browser_id, login, now)));
        }
        let read = self
            .read(id)
            .await
            .map_err(|e| StorageError::with_source("reading the login", e))?;
        match read {
            Some(login) => Ok(Some(self.serve(browser_id, login, Instant::now()))),
            // Gone, timed out or due for a check: the login check decides.
            None => self.logins.resume(client, browser_id, login_id).await,
        }
    }

    async fn end(&self, browser_id: &str, login_id: &str) -> Result<(), StorageError> {
        if let Ok(id) = Uuid::parse_str(login_id) {
            self.cache.forget_login(id);
        }
        self.logins.end(browser_id, login_id).await
    }

    async fn signed_in(&self, storage: &PgTokenStorage) -> Result<(), StorageError> {
        self.logins.signed_in(storage).await?;
        self.metrics.token_call("authorization_code", "ok");
        Ok(())
    }
}
