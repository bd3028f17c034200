//! [`logto_client::Storage`] in PostgreSQL for one browser.
//!
//! - Pending sign-ins live in `sign_in_attempts`, one row per `state` (keyed
//!   by its SHA-256), bound to the browser that started them
//!   (`browser_hash`), encrypted, single use, valid 10 minutes.
//! - The ID and refresh tokens live in the `logins` row of the login id kept
//!   in the browser's session; cached access tokens in `access_tokens`.
//!   Every token is AES-256-GCM ciphertext bound to its row and column.
//! - Refresh is single-flight across instances: [`Storage::lock_for_refresh`]
//!   opens a transaction holding a transaction-scoped advisory lock for the
//!   login, and the guard commits the rotated refresh token, the new ID token
//!   and the new access token in that transaction. Within one process the
//!   client's single-flight (one refresh per login at a time) sits in front
//!   of it, so waiting requests do not hold pool connections; the holders
//!   are capped by the storage's refresh slots
//!   ([`PgTokenStorage::with_refresh_slots`]).
//!
//! Why an advisory lock rather than `SELECT … FOR UPDATE` on the row: the
//! lock is held for the whole token-endpoint call (seconds when the identity
//! provider is slow), and a row lock would also stall every request's
//! [`super::logins::touch`] (an `UPDATE` of the row) and every access-token
//! insert (its foreign-key check takes `FOR KEY SHARE`) of that login for as
//! long. The advisory lock serialises refreshes only.
//!
//! A holder that dies between sending the refresh token and storing the
//! answer (SIGKILL, OOM, a lost host) leaves the identity provider with a
//! rotated token the application never saw; presenting the old one again would be
//! a reuse (Logto revokes the grant, or accepts it once within its grace
//! period). So before the refresh token can leave, the guard marks the login
//! `refresh_started_at` in a statement of its own, committed at once; the
//! lock's transaction clears it when the result is stored, and a holder that
//! fails while alive clears it as it lets go. The next holder that still
//! finds the mark knows the token may be spent: it ends the login (sign in
//! again) instead of presenting it.
//!
//! The request's login check ([`super::logins::touch_loading_tokens`]) reads
//! the login's encrypted tokens along with the row;
//! [`PgTokenStorage::with_loaded`] serves those instead of querying again,
//! until this storage writes anything (then every read goes to the database).
//!
//! Re-validation ([`super::PgLogins::revalidate_every`]): every refresh grant that
//! succeeds, like the sign-in, sets the login's `checked_at`. A storage built
//! with [`PgTokenStorage::checked_within`] serves a cached access token only
//! while the login was checked that recently, so a token request through it
//! makes a refresh grant — the check — unless a concurrent request (on any
//! instance) has just made one: it sees that under the same refresh lock, and
//! takes the token that refresh stored.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use logto_client::{
    AccessTokenKey, CachedAccessToken, Clock, IdToken, RefreshGuard, RefreshToken, SignInSession,
    Storage, StorageError, SystemClock, TokenSet,
};
use serde::Deserialize;
use sqlx::{PgPool, Postgres, Transaction};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use uuid::Uuid;

use super::cipher::{TokenCipher, sha256};
use super::logins::{SealedLoginTokens, interval_secs, login_aad};

/// How long a started sign-in stays valid.
///
/// ```
/// assert_eq!(logto_actix::postgres::SIGN_IN_ATTEMPT_TTL.as_secs(), 600);
/// ```
pub const SIGN_IN_ATTEMPT_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a request waits for another request's refresh of the same login
/// before giving up with a [`StorageError`] (in-process wait and PostgreSQL
/// `lock_timeout` each).
///
/// ```
/// assert_eq!(logto_actix::postgres::REFRESH_LOCK_TIMEOUT.as_secs(), 15);
/// ```
pub const REFRESH_LOCK_TIMEOUT: Duration = Duration::from_secs(15);

/// A process-local copy of cached access-token ciphertexts that
/// [`PgTokenStorage`] fills as it reads organization tokens from the
/// database, and tells of every change it makes. Whoever implements it keeps
/// it current with other instances' changes (by `LISTEN`/`NOTIFY`, say) and
/// serves it back through [`AccessTokenCache::get`].
///
/// ```
/// use std::sync::Mutex;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use logto_actix::postgres::AccessTokenCache;
/// use uuid::Uuid;
///
/// /// Keeps every token; a change anywhere drops them all.
/// #[derive(Default)]
/// struct Naive {
///     epoch: AtomicU64,
///     kept: Mutex<Vec<(Uuid, String, Vec<u8>)>>,
/// }
///
/// impl AccessTokenCache for Naive {
///     fn epoch(&self) -> u64 {
///         self.epoch.load(Ordering::SeqCst)
///     }
///     fn keep(&self, epoch: u64, login_id: Uuid, cache_key: &str, sealed: Vec<u8>) {
///         let mut kept = self.kept.lock().unwrap();
///         if epoch == self.epoch() {
///             kept.push((login_id, cache_key.to_owned(), sealed));
///         }
///     }
///     fn forget(&self, _login_id: Uuid) {
///         let mut kept = self.kept.lock().unwrap();
///         self.epoch.fetch_add(1, Ordering::SeqCst);
///         kept.clear();
///     }
/// }
/// ```
pub trait AccessTokenCache: Send + Sync + 'static {
    /// A counter of changes: the storage takes it before reading a token
    /// from the database, and hands it back to [`Self::keep`].
    fn epoch(&self) -> u64;

    /// `sealed`, the ciphertext of `login_id`'s token under `cache_key`, was
    /// read from the database after [`Self::epoch`] answered `epoch`: keep
    /// it, unless a change came since (the read may predate it).
    fn keep(&self, epoch: u64, login_id: Uuid, cache_key: &str, sealed: Vec<u8>);

    /// This storage is changing `login_id`'s tokens: drop what is kept of
    /// them (without waiting to hear of the change from the database).
    fn forget(&self, login_id: Uuid);

    /// The kept ciphertext of `login_id`'s token under `cache_key`, if the
    /// cache can vouch that it is current (`None`: read the database). The
    /// storage asks it before reading an organization token. By default the
    /// cache only remembers for whoever reads it back elsewhere.
    fn get(&self, login_id: Uuid, cache_key: &str) -> Option<Vec<u8>> {
        let _ = (login_id, cache_key);
        None
    }
}
/// The shortest browser binding accepted (bytes).
const MIN_BINDING_LEN: usize = 16;

/// Token storage of one browser: its pending sign-ins and the tokens of one
/// login. Cheap to build; build one per request ([`super::PgLogins`] does).
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use logto_actix::postgres::{PgTokenStorage, TokenCipher};
/// use logto_client::Storage as _;
///
/// let cipher = Arc::new(TokenCipher::from_bytes(&[7; 32])?);
/// let storage = PgTokenStorage::new(
///     pool,
///     cipher,
///     b"a random browser id of 16+ bytes".to_vec(),
///     uuid::Uuid::new_v4(),
///     Duration::from_secs(12 * 3600),
/// );
/// assert!(storage.load_tokens().await?.is_none()); // not signed in yet
/// # Ok(()) }
/// ```
pub struct PgTokenStorage {
    pool: PgPool,
    cipher: Arc<TokenCipher>,
    browser_hash: Vec<u8>,
    binding_ok: bool,
    login_id: Uuid,
    login_ttl: Duration,
    /// Ciphertexts read by the request's login check; see [`Self::with_loaded`].
    loaded: Mutex<Option<Loaded>>,
    /// Where organization tokens read from the database are kept.
    local_cache: Option<Arc<dyn AccessTokenCache>>,
    /// See [`Self::checked_within`].
    checked_within: Option<Duration>,
    /// See [`Self::max_access_token_age`].
    max_access_token_age: Option<Duration>,
    /// See [`Self::with_refresh_slots`].
    refresh_slots: Arc<tokio::sync::Semaphore>,
}

/// What [`PgTokenStorage::with_loaded`] was given.
struct Loaded {
    id_token: Vec<u8>,
    refresh_token: Option<Vec<u8>>,
}

impl std::fmt::Debug for PgTokenStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTokenStorage")
            .field("login_id", &self.login_id)
            .finish_non_exhaustive()
    }
}

impl PgTokenStorage {
    /// Storage for the browser holding `browser_binding` (a random secret kept
    /// in its session, at least 16 bytes) and for login `login_id`.
    /// `login_ttl` is the absolute session lifetime: it sets
    /// `logins.expires_at` when the login is created.
    ///
    /// ```no_run
    /// # fn run(pool: sqlx::PgPool, cipher: std::sync::Arc<logto_actix::postgres::TokenCipher>) {
    /// let storage = logto_actix::postgres::PgTokenStorage::new(
    ///     pool, cipher, b"0123456789abcdef".to_vec(), uuid::Uuid::new_v4(),
    ///     std::time::Duration::from_secs(3600),
    /// );
    /// # }
    /// ```
    pub fn new(
        pool: PgPool,
        cipher: Arc<TokenCipher>,
        browser_binding: Vec<u8>,
        login_id: Uuid,
        login_ttl: Duration,
    ) -> Self {
        Self {
            cipher,
            binding_ok: browser_binding.len() >= MIN_BINDING_LEN,
            browser_hash: sha256(&browser_binding),
            login_id,
            login_ttl,
            loaded: Mutex::new(None),
            local_cache: None,
            checked_within: None,
            max_access_token_age: None,
            refresh_slots: refresh_slots(pool.options().get_max_connections()),
            pool,
        }
    }

    /// Refresh locks are held by at most as many requests at once as
    /// `slots` has permits, shared with every storage given the same
    /// `slots` ([`refresh_slots`]; [`super::PgLogins`] shares one per pool).
    /// Without it, a storage has slots of its own.
    ///
    /// ```no_run
    /// # fn run(pool: sqlx::PgPool, storage: logto_actix::postgres::PgTokenStorage) {
    /// let slots = logto_actix::postgres::refresh_slots(pool.options().get_max_connections());
    /// let storage = storage.with_refresh_slots(slots);
    /// # }
    /// ```
    #[must_use]
    pub fn with_refresh_slots(mut self, slots: Arc<tokio::sync::Semaphore>) -> Self {
        self.refresh_slots = slots;
        self
    }

    /// Cached access tokens obtained longer than `age` ago are not served:
    /// the client fetches new ones. Organization roles and API permissions
    /// changed at the identity provider then show within `age`, as the
    /// re-validation does for the ID token.
    ///
    /// ```no_run
    /// # fn run(storage: logto_actix::postgres::PgTokenStorage) {
    /// let storage = storage.max_access_token_age(std::time::Duration::from_secs(300));
    /// # }
    /// ```
    #[must_use]
    pub fn max_access_token_age(mut self, age: Duration) -> Self {
        self.max_access_token_age = Some(age);
        self
    }

    /// Cached access tokens count only while the login's grant was checked
    /// with the identity provider within `interval` (`logins.checked_at`):
    /// a token request through this storage then makes a refresh grant, which
    /// checks the grant, unless another request has just made one. For the
    /// auth gate's re-validation; the tokens loaded with
    /// [`Self::with_loaded`] and the local cache are not consulted.
    ///
    /// ```no_run
    /// # fn run(storage: logto_actix::postgres::PgTokenStorage) {
    /// let storage = storage.checked_within(std::time::Duration::from_secs(300));
    /// # }
    /// ```
    #[must_use]
    pub fn checked_within(mut self, interval: Duration) -> Self {
        self.checked_within = Some(interval);
        self
    }

    /// Organization tokens read from the database are left in `cache` for
    /// the next pages, and every change this storage makes is told to it.
    ///
    /// ```no_run
    /// # fn run(storage: logto_actix::postgres::PgTokenStorage, cache: std::sync::Arc<dyn logto_actix::postgres::AccessTokenCache>) {
    /// let storage = storage.with_local_cache(cache);
    /// # }
    /// ```
    #[must_use]
    pub fn with_local_cache(mut self, cache: Arc<dyn AccessTokenCache>) -> Self {
        self.local_cache = Some(cache);
        self
    }

    /// Serves the tokens just read with the login row (still encrypted;
    /// opened on use) instead of reading them again: `load_tokens` answers
    /// from them. Any write through this storage, or a refresh lock,
    /// forgets them.
    ///
    /// ```no_run
    /// # async fn run(pool: sqlx::PgPool, storage: logto_actix::postgres::PgTokenStorage) -> Result<(), sqlx::Error> {
    /// use logto_actix::postgres::logins;
    /// let idle = std::time::Duration::from_secs(1800);
    /// if let Some((_login, tokens)) = logins::touch_loading_tokens(&pool, storage.login_id(), idle).await? {
    ///     let storage = storage.with_loaded(tokens);
    /// }
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_loaded(self, tokens: SealedLoginTokens) -> Self {
        let loaded = Loaded {
            id_token: tokens.id_token,
            refresh_token: tokens.refresh_token,
        };
        if let Ok(mut slot) = self.loaded.lock() {
            *slot = Some(loaded);
        }
        self
    }

    /// Drops the tokens of [`Self::with_loaded`]: from now on every read
    /// goes to the database.
    fn forget_loaded(&self) {
        if let Ok(mut slot) = self.loaded.lock() {
            *slot = None;
        }
        // And so does this instance's copy, without waiting for the write's
        // notification.
        if let Some(cache) = &self.local_cache {
            cache.forget(self.login_id);
        }
    }

    /// The loaded ID and refresh token ciphertexts, if any.
    fn loaded_tokens(&self) -> Option<TokenRow> {
        let slot = self.loaded.lock().ok()?;
        let l = slot.as_ref()?;
        Some((l.id_token.clone(), l.refresh_token.clone()))
    }

    /// The login this storage acts for.
    ///
    /// ```no_run
    /// # fn run(storage: logto_actix::postgres::PgTokenStorage) {
    /// println!("login {}", storage.login_id());
    /// # }
    /// ```
    pub fn login_id(&self) -> Uuid {
        self.login_id
    }

    fn check_binding(&self) -> Result<(), StorageError> {
        if self.binding_ok {
            Ok(())
        } else {
            Err(StorageError::new("browser binding missing or too short"))
        }
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, StorageError> {
        self.cipher
            .try_encrypt(plaintext, aad)
            .map_err(|e| StorageError::with_source("encrypting a token", e))
    }
}

/// The PostgreSQL advisory-lock key of a login's refresh lock (a 64-bit
/// digest of the login id; a collision only serialises two refreshes). The
/// digest's input is `portal:refresh:{login id}`, as in the Logto portal
/// this storage comes from, so that instances of either agree on the lock.
///
/// ```
/// let id = uuid::Uuid::new_v4();
/// assert_eq!(logto_actix::postgres::refresh_lock_key(id), logto_actix::postgres::refresh_lock_key(id));
/// ```
pub fn refresh_lock_key(login_id: Uuid) -> i64 {
    let digest = sha256(format!("portal:refresh:{login_id}").as_bytes());
    let mut bytes = [0u8; 8];
    for (b, d) in bytes.iter_mut().zip(digest.iter()) {
        *b = *d;
    }
    i64::from_be_bytes(bytes)
}

/// The wait for another refresh of the same login (or for a refresh slot)
/// ran out: the source of such a [`StorageError`] (logto-client's type: the
/// client's own single-flight reports it too).
///
/// ```
/// let e = logto_actix::postgres::RefreshWaitTimedOut::new("a refresh slot");
/// assert!(e.to_string().ends_with("a refresh slot"));
/// ```
pub use logto_client::RefreshWaitTimedOut;

fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StorageError {
    move |e| {
        let lock_timeout = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "55P03");
        if lock_timeout {
            StorageError::with_source("timed out waiting for another refresh of this login", e)
        } else {
            StorageError::with_source(context, e)
        }
    }
}

fn attempt_aad(state_hash: &[u8]) -> Vec<u8> {
    let mut aad = b"sign_in_attempts:".to_vec();
    aad.extend_from_slice(state_hash);
    aad
}

fn access_token_aad(login_id: Uuid, cache_key: &str) -> Vec<u8> {
    format!("access_tokens:{login_id}:{cache_key}").into_bytes()
}

/// What the login row needs from the (already verified) ID token.
#[derive(Deserialize)]
struct IdentityClaims {
    iss: String,
    sub: String,
    #[serde(default)]
    sid: Option<String>,
}

/// Base64url, padded or not.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn identity_of(id_token: &IdToken) -> Result<IdentityClaims, StorageError> {
    let mut parts = id_token.secret().split('.');
    let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => payload,
        _ => return Err(StorageError::new("the ID token is not a compact JWS")),
    };
    let json = B64URL
        .decode(payload)
        .map_err(|e| StorageError::with_source("the ID token payload is not base64url", e))?;
    serde_json::from_slice(&json)
        .map_err(|e| StorageError::with_source("the ID token payload lacks iss/sub", e))
}

/// Encrypted token columns of a login.
struct SealedTokens {
    id_token: Vec<u8>,
    refresh_token: Option<Vec<u8>>,
}

fn seal_tokens(
    cipher: &TokenCipher,
    login_id: Uuid,
    tokens: &TokenSet,
) -> Result<SealedTokens, StorageError> {
    let seal = |plain: &str, column: &str| {
        cipher
            .try_encrypt(plain.as_bytes(), &login_aad(login_id, column))
            .map_err(|e| StorageError::with_source("encrypting a token", e))
    };
    Ok(SealedTokens {
        id_token: seal(tokens.id_token.secret(), "id_token")?,
        refresh_token: tokens
            .refresh_token
            .as_ref()
            .map(|r| seal(r.secret(), "refresh_token"))
            .transpose()?,
    })
}

fn open_tokens(
    cipher: &TokenCipher,
    login_id: Uuid,
    id_token: &[u8],
    refresh_token: Option<&[u8]>,
) -> Result<TokenSet, StorageError> {
    let open = |sealed: &[u8], column: &str| -> Result<String, StorageError> {
        let plain = cipher
            .decrypt(sealed, &login_aad(login_id, column))
            .map_err(|e| StorageError::with_source("decrypting a stored token", e))?;
        String::from_utf8(plain)
            .map_err(|e| StorageError::with_source("decrypting a stored token", e))
    };
    Ok(TokenSet {
        id_token: IdToken::new(open(id_token, "id_token")?),
        refresh_token: refresh_token
            .map(|r| open(r, "refresh_token").map(RefreshToken::new))
            .transpose()?,
    })
}

type TokenRow = (Vec<u8>, Option<Vec<u8>>);

const SELECT_TOKENS: &str =
    "SELECT id_token, refresh_token FROM logins WHERE id = $1 AND expires_at > now()";

/// [`SELECT_TOKENS`] under the refresh lock, with the interrupted-refresh mark.
const SELECT_TOKENS_FOR_REFRESH: &str = "SELECT id_token, refresh_token, refresh_started_at IS NOT NULL \
     FROM logins WHERE id = $1 AND expires_at > now()";

const SELECT_ACCESS_TOKEN: &str =
    "SELECT token FROM access_tokens WHERE login_id = $1 AND audience = $2";

/// [`SELECT_ACCESS_TOKEN`], only while the login was checked within `$3` seconds.
const SELECT_CHECKED_ACCESS_TOKEN: &str = "SELECT a.token FROM access_tokens a \
     JOIN logins l ON l.id = a.login_id \
     WHERE a.login_id = $1 AND a.audience = $2 \
       AND l.checked_at + make_interval(secs => $3) > now()";

/// The ciphertext of the access token cached for `login_id` under
/// `cache_key`; with `checked_within`, only if the login was checked within it.
async fn select_access_token<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    login_id: Uuid,
    cache_key: &str,
    checked_within: Option<Duration>,
) -> Result<Option<Vec<u8>>, StorageError> {
    let query = match checked_within {
        None => sqlx::query_scalar(SELECT_ACCESS_TOKEN),
        Some(_) => sqlx::query_scalar(SELECT_CHECKED_ACCESS_TOKEN),
    };
    let mut query = query.bind(login_id).bind(cache_key);
    if let Some(interval) = checked_within {
        query = query.bind(interval_secs(interval));
    }
    query
        .fetch_optional(executor)
        .await
        .map_err(db("loading an access token"))
}

const UPSERT_ACCESS_TOKEN: &str = "INSERT INTO access_tokens (login_id, audience, token, scopes, expires_at) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (login_id, audience) DO UPDATE \
     SET token = EXCLUDED.token, scopes = EXCLUDED.scopes, expires_at = EXCLUDED.expires_at";

/// A cached token that no longer opens (key changed, tampering) is a cache
/// miss: the client fetches a new one and overwrites it. So is one obtained
/// longer than `max_age` ago.
fn open_access_token(
    cipher: &TokenCipher,
    login_id: Uuid,
    key: &AccessTokenKey,
    sealed: Option<Vec<u8>>,
    max_age: Option<Duration>,
) -> Option<CachedAccessToken> {
    let sealed = sealed?;
    let cache_key = key.cache_key();
    let opened: Option<CachedAccessToken> = cipher
        .decrypt(&sealed, &access_token_aad(login_id, &cache_key))
        .ok()
        .and_then(|plain| serde_json::from_slice(&plain).ok());
    if opened.is_none() {
        tracing::warn!(login = %login_id, "a cached access token did not decrypt; ignoring it");
    }
    // The client stamps `obtained_at` with the system clock too.
    opened.filter(|token| match max_age {
        Some(age) => {
            let age = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
            SystemClock.now().saturating_sub(token.obtained_at) < age
        }
        None => true,
    })
}

/// Parameters of an access-token upsert.
struct SealedAccessToken {
    audience: String,
    token: Vec<u8>,
    scopes: String,
    expires_at: OffsetDateTime,
}

fn seal_access_token(
    cipher: &TokenCipher,
    login_id: Uuid,
    key: &AccessTokenKey,
    token: &CachedAccessToken,
) -> Result<SealedAccessToken, StorageError> {
    let audience = key.cache_key();
    let json = serde_json::to_vec(token)
        .map_err(|e| StorageError::with_source("serialising an access token", e))?;
    let sealed = cipher
        .try_encrypt(&json, &access_token_aad(login_id, &audience))
        .map_err(|e| StorageError::with_source("encrypting a token", e))?;
    let expires_at = OffsetDateTime::from_unix_timestamp(token.expires_at)
        .map_err(|e| StorageError::with_source("access token expiry out of range", e))?;
    Ok(SealedAccessToken {
        audience,
        token: sealed,
        scopes: token.scope.clone(),
        expires_at,
    })
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "23503")
}

/// The refresh slots of a pool of `max_connections`: at most half its
/// connections hold refresh locks at once. Each holder keeps a connection
/// for its transaction and briefly needs a second one (the mark); with half
/// the pool for holders, a second connection always comes, so holders cannot
/// starve each other.
///
/// ```
/// let slots = logto_actix::postgres::refresh_slots(16);
/// assert_eq!(slots.available_permits(), 8);
/// assert_eq!(logto_actix::postgres::refresh_slots(1).available_permits(), 1);
/// ```
pub fn refresh_slots(max_connections: u32) -> Arc<tokio::sync::Semaphore> {
    let half = usize::try_from(max_connections / 2).unwrap_or(usize::MAX);
    Arc::new(tokio::sync::Semaphore::new(half.max(1)))
}

#[async_trait]
impl Storage for PgTokenStorage {
    async fn save_sign_in_session(&self, session: &SignInSession) -> Result<(), StorageError> {
        self.check_binding()?;
        let state_hash = sha256(session.state.as_bytes());
        let json = serde_json::to_vec(session)
            .map_err(|e| StorageError::with_source("serialising a sign-in session", e))?;
        let payload = self.seal(&json, &attempt_aad(&state_hash))?;
        sqlx::query(
            "INSERT INTO sign_in_attempts (state_hash, browser_hash, payload, expires_at) \
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        )
        .bind(state_hash)
        .bind(&self.browser_hash)
        .bind(payload)
        .bind(interval_secs(SIGN_IN_ATTEMPT_TTL))
        .execute(&self.pool)
        .await
        .map_err(db("saving a sign-in attempt"))?;
        Ok(())
    }

    async fn take_sign_in_session(
        &self,
        state: &str,
    ) -> Result<Option<SignInSession>, StorageError> {
        if !self.binding_ok {
            return Ok(None);
        }
        let state_hash = sha256(state.as_bytes());
        // The browser condition is part of the DELETE: another browser's
        // attempt neither reads nor consumes the row.
        let payload: Option<Vec<u8>> = sqlx::query_scalar(
            "DELETE FROM sign_in_attempts \
             WHERE state_hash = $1 AND browser_hash = $2 AND expires_at > now() \
             RETURNING payload",
        )
        .bind(&state_hash)
        .bind(&self.browser_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("taking a sign-in attempt"))?;
        let Some(payload) = payload else {
            return Ok(None);
        };
        let json = self
            .cipher
            .decrypt(&payload, &attempt_aad(&state_hash))
            .map_err(|e| StorageError::with_source("decrypting a sign-in attempt", e))?;
        let session: SignInSession = serde_json::from_slice(&json)
            .map_err(|e| StorageError::with_source("reading a sign-in attempt", e))?;
        if !bool::from(session.state.as_bytes().ct_eq(state.as_bytes())) {
            return Ok(None);
        }
        Ok(Some(session))
    }

    async fn load_tokens(&self) -> Result<Option<TokenSet>, StorageError> {
        if let Some((id, rt)) = self.loaded_tokens() {
            return open_tokens(&self.cipher, self.login_id, &id, rt.as_deref()).map(Some);
        }
        let row: Option<TokenRow> = sqlx::query_as(SELECT_TOKENS)
            .bind(self.login_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("loading tokens"))?;
        row.map(|(id, rt)| open_tokens(&self.cipher, self.login_id, &id, rt.as_deref()))
            .transpose()
    }

    async fn save_tokens(&self, tokens: &TokenSet) -> Result<(), StorageError> {
        self.forget_loaded();
        let who = identity_of(&tokens.id_token)?;
        let sealed = seal_tokens(&self.cipher, self.login_id, tokens)?;
        let mut tx = self.pool.begin().await.map_err(db("saving tokens"))?;
        // A new login gets its absolute lifetime now; an existing one keeps it.
        // Either way the identity provider has just vouched for the grant.
        sqlx::query(
            "INSERT INTO logins (id, issuer, user_sub, logto_sid, id_token, refresh_token, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) \
             ON CONFLICT (id) DO UPDATE SET issuer = EXCLUDED.issuer, user_sub = EXCLUDED.user_sub, \
                 logto_sid = EXCLUDED.logto_sid, id_token = EXCLUDED.id_token, \
                 refresh_token = EXCLUDED.refresh_token, checked_at = now()",
        )
        .bind(self.login_id)
        .bind(&who.iss)
        .bind(&who.sub)
        .bind(&who.sid)
        .bind(sealed.id_token)
        .bind(sealed.refresh_token)
        .bind(interval_secs(self.login_ttl))
        .execute(&mut *tx)
        .await
        .map_err(db("saving tokens"))?;
        // New tokens, new grant: access tokens cached under the old ones go.
        sqlx::query("DELETE FROM access_tokens WHERE login_id = $1")
            .bind(self.login_id)
            .execute(&mut *tx)
            .await
            .map_err(db("saving tokens"))?;
        tx.commit().await.map_err(db("saving tokens"))
    }

    async fn get_access_token(
        &self,
        key: &AccessTokenKey,
    ) -> Result<Option<CachedAccessToken>, StorageError> {
        let cache_key = key.cache_key();
        if self.checked_within.is_some() {
            let sealed =
                select_access_token(&self.pool, self.login_id, &cache_key, self.checked_within)
                    .await?;
            return Ok(open_access_token(
                &self.cipher,
                self.login_id,
                key,
                sealed,
                self.max_access_token_age,
            ));
        }
        // Taken before the read: a change heard after it voids the read.
        let keep = match &self.local_cache {
            Some(cache) if key.organization_id.is_some() && key.resource.is_none() => {
                if let Some(sealed) = cache.get(self.login_id, &cache_key) {
                    return Ok(open_access_token(
                        &self.cipher,
                        self.login_id,
                        key,
                        Some(sealed),
                        self.max_access_token_age,
                    ));
                }
                Some((cache, cache.epoch()))
            }
            _ => None,
        };
        let sealed = select_access_token(&self.pool, self.login_id, &cache_key, None).await?;
        if let (Some((cache, epoch)), Some(sealed)) = (keep, &sealed) {
            cache.keep(epoch, self.login_id, &cache_key, sealed.clone());
        }
        Ok(open_access_token(
            &self.cipher,
            self.login_id,
            key,
            sealed,
            self.max_access_token_age,
        ))
    }

    async fn set_access_token(
        &self,
        key: &AccessTokenKey,
        token: &CachedAccessToken,
    ) -> Result<(), StorageError> {
        self.forget_loaded();
        let sealed = seal_access_token(&self.cipher, self.login_id, key, token)?;
        let result = sqlx::query(UPSERT_ACCESS_TOKEN)
            .bind(self.login_id)
            .bind(sealed.audience)
            .bind(sealed.token)
            .bind(sealed.scopes)
            .bind(sealed.expires_at)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            // The login ended meanwhile: there is nothing to cache for it.
            Err(e) if is_foreign_key_violation(&e) => Ok(()),
            Err(e) => Err(db("caching an access token")(e)),
        }
    }

    async fn remove_access_token(&self, key: &AccessTokenKey) -> Result<(), StorageError> {
        self.forget_loaded();
        sqlx::query("DELETE FROM access_tokens WHERE login_id = $1 AND audience = $2")
            .bind(self.login_id)
            .bind(key.cache_key())
            .execute(&self.pool)
            .await
            .map_err(db("removing an access token"))?;
        Ok(())
    }

    async fn clear_access_tokens(&self) -> Result<(), StorageError> {
        self.forget_loaded();
        sqlx::query("DELETE FROM access_tokens WHERE login_id = $1")
            .bind(self.login_id)
            .execute(&self.pool)
            .await
            .map_err(db("removing access tokens"))?;
        Ok(())
    }

    async fn clear(&self) -> Result<(), StorageError> {
        self.forget_loaded();
        super::logins::delete(&self.pool, self.login_id)
            .await
            .map_err(db("deleting a login"))?;
        Ok(())
    }

    async fn lock_for_refresh(&self) -> Result<Box<dyn RefreshGuard + '_>, StorageError> {
        // The refresh rotates tokens: what was loaded goes stale.
        self.forget_loaded();
        // A holder needs a second connection for a moment (the mark below);
        // capping the holders well under the pool's size means that second
        // connection always comes, however many logins refresh at once.
        let slot = tokio::time::timeout(
            REFRESH_LOCK_TIMEOUT,
            Arc::clone(&self.refresh_slots).acquire_owned(),
        )
        .await
        .map_err(|_| {
            StorageError::with_source(
                "timed out waiting for a refresh slot",
                RefreshWaitTimedOut::new("a refresh slot"),
            )
        })?
        .map_err(|_| StorageError::new("the refresh slots are closed"))?;
        let mut tx = self.pool.begin().await.map_err(db("starting a refresh"))?;
        let timeout_ms = REFRESH_LOCK_TIMEOUT.as_millis().to_string();
        sqlx::query("SELECT set_config('lock_timeout', $1, true)")
            .bind(timeout_ms)
            .execute(&mut *tx)
            .await
            .map_err(db("starting a refresh"))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(refresh_lock_key(self.login_id))
            .execute(&mut *tx)
            .await
            .map_err(db("taking the refresh lock"))?;
        Ok(Box::new(PgRefreshGuard {
            tx: Some(tx),
            pool: self.pool.clone(),
            cipher: Arc::clone(&self.cipher),
            login_id: self.login_id,
            checked_within: self.checked_within,
            max_access_token_age: self.max_access_token_age,
            marked: false,
            _slot: slot,
        }))
    }

    fn session_key(&self) -> Option<String> {
        Some(self.login_id.to_string())
    }
}

/// A login's refresh lock: an open transaction holding the advisory lock
/// (and a refresh slot). Dropped without `commit`/`clear`, the
/// transaction rolls back and both locks are released.
struct PgRefreshGuard {
    /// The lock's transaction; `None` once it is committed.
    tx: Option<Transaction<'static, Postgres>>,
    pool: PgPool,
    cipher: Arc<TokenCipher>,
    login_id: Uuid,
    /// See [`PgTokenStorage::checked_within`].
    checked_within: Option<Duration>,
    /// See [`PgTokenStorage::max_access_token_age`].
    max_access_token_age: Option<Duration>,
    /// `refresh_started_at` was set (committed) by this guard.
    marked: bool,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl PgRefreshGuard {
    fn tx(&mut self) -> Result<&mut Transaction<'static, Postgres>, StorageError> {
        self.tx
            .as_mut()
            .ok_or_else(|| StorageError::new("the refresh lock was already released"))
    }

    /// Deletes the login (its tokens go with it) in the lock's transaction
    /// and commits: the lock is released with the login gone.
    async fn end_login(&mut self, what: &'static str) -> Result<(), StorageError> {
        let mut tx = self
            .tx
            .take()
            .ok_or_else(|| StorageError::new("the refresh lock was already released"))?;
        sqlx::query("DELETE FROM logins WHERE id = $1")
            .bind(self.login_id)
            .execute(&mut *tx)
            .await
            .map_err(db(what))?;
        tx.commit().await.map_err(db(what))
    }
}

impl Drop for PgRefreshGuard {
    /// Let go without storing a result (the IdP failed, a fresh token was
    /// found, an error): the mark is cleared in the lock's transaction, so
    /// the next holder never sees it. Only a holder that dies leaves it.
    fn drop(&mut self) {
        let (Some(mut tx), true) = (self.tx.take(), self.marked) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Rolled back: the mark stays, and the login ends at its next
            // refresh (the safe side).
            return;
        };
        let login_id = self.login_id;
        runtime.spawn(async move {
            let cleared = sqlx::query("UPDATE logins SET refresh_started_at = NULL WHERE id = $1")
                .bind(login_id)
                .execute(&mut *tx)
                .await;
            if cleared.is_ok() {
                let _ = tx.commit().await;
            }
        });
    }
}

#[async_trait]
impl RefreshGuard for PgRefreshGuard {
    async fn load_tokens(&mut self) -> Result<Option<TokenSet>, StorageError> {
        let login_id = self.login_id;
        let row: Option<(Vec<u8>, Option<Vec<u8>>, bool)> =
            sqlx::query_as(SELECT_TOKENS_FOR_REFRESH)
                .bind(login_id)
                .fetch_optional(&mut **self.tx()?)
                .await
                .map_err(db("loading tokens"))?;
        let Some((id_token, refresh_token, interrupted)) = row else {
            return Ok(None);
        };
        if interrupted {
            // An earlier holder sent the refresh token and never stored the
            // answer: the token may be spent. Never present it again.
            tracing::warn!(login = %login_id, "a refresh of this login was interrupted; its refresh token may be spent: ending the login");
            self.end_login("ending an interrupted login").await?;
            return Ok(None);
        }
        let tokens = open_tokens(&self.cipher, login_id, &id_token, refresh_token.as_deref())?;
        // Committed at once, outside the lock's transaction: it must outlive
        // this process if the process dies with the request in flight.
        sqlx::query("UPDATE logins SET refresh_started_at = now() WHERE id = $1")
            .bind(login_id)
            .execute(&self.pool)
            .await
            .map_err(db("marking a refresh"))?;
        self.marked = true;
        Ok(Some(tokens))
    }

    async fn get_access_token(
        &mut self,
        key: &AccessTokenKey,
    ) -> Result<Option<CachedAccessToken>, StorageError> {
        let (login_id, checked_within) = (self.login_id, self.checked_within);
        let sealed = select_access_token(
            &mut **self.tx()?,
            login_id,
            &key.cache_key(),
            checked_within,
        )
        .await?;
        Ok(open_access_token(
            &self.cipher,
            login_id,
            key,
            sealed,
            self.max_access_token_age,
        ))
    }

    async fn commit(
        self: Box<Self>,
        tokens: &TokenSet,
        key: &AccessTokenKey,
        token: &CachedAccessToken,
    ) -> Result<(), StorageError> {
        let mut this = *self;
        let sealed = seal_tokens(&this.cipher, this.login_id, tokens)?;
        let access = seal_access_token(&this.cipher, this.login_id, key, token)?;
        let login_id = this.login_id;
        let mut tx = this
            .tx
            .take()
            .ok_or_else(|| StorageError::new("the refresh lock was already released"))?;
        // The result is stored: the mark goes in the same commit. The grant
        // has just been checked with the identity provider.
        let updated = sqlx::query(
            "UPDATE logins SET id_token = $2, refresh_token = $3, refresh_started_at = NULL, \
                 checked_at = now() \
             WHERE id = $1",
        )
        .bind(login_id)
        .bind(sealed.id_token)
        .bind(sealed.refresh_token)
        .execute(&mut *tx)
        .await
        .map_err(db("storing refreshed tokens"))?
        .rows_affected();
        if updated == 0 {
            // Signed out (or swept) while refreshing: nothing to keep. The
            // transaction rolls back on drop.
            tracing::debug!(login = %login_id, "login ended during refresh; tokens discarded");
            return Ok(());
        }
        sqlx::query(UPSERT_ACCESS_TOKEN)
            .bind(login_id)
            .bind(access.audience)
            .bind(access.token)
            .bind(access.scopes)
            .bind(access.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db("storing refreshed tokens"))?;
        tx.commit().await.map_err(db("storing refreshed tokens"))
    }

    async fn clear(self: Box<Self>) -> Result<(), StorageError> {
        let mut this = *self;
        this.end_login("deleting a login").await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use base64::engine::general_purpose;

    #[test]
    fn identity_is_read_from_the_payload() {
        let payload = general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://l/oidc","sub":"u1","sid":"s1"}"#);
        let who = identity_of(&IdToken::new(format!("h.{payload}.sig"))).unwrap();
        assert_eq!(
            (who.iss.as_str(), who.sub.as_str(), who.sid.as_deref()),
            ("https://l/oidc", "u1", Some("s1"))
        );
        assert!(identity_of(&IdToken::new("only.two")).is_err());
        assert!(identity_of(&IdToken::new("a.!!!.c")).is_err());
    }

    #[test]
    fn lock_keys_differ_per_login() {
        let a = Uuid::new_v4();
        assert_eq!(refresh_lock_key(a), refresh_lock_key(a));
        assert_ne!(refresh_lock_key(a), refresh_lock_key(Uuid::new_v4()));
    }
}
