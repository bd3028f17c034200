//! The `logins` table: one row per signed-in browser, the truth of "signed
//! in", and every statement on it. Rows are created by `save_tokens` of
//! [`super::PgTokenStorage`] at the callback; sign-out, back-channel logout,
//! timeouts and [`sweep`] delete them (their cached access tokens go with
//! them, `ON DELETE CASCADE`).
//!
//! ```no_run
//! # async fn run(pool: sqlx::PgPool) -> Result<(), sqlx::Error> {
//! use logto_actix::postgres::logins;
//!
//! // A back-channel logout token for Logto session `sid` arrived (verified):
//! let ended = logins::delete_by_sid(&pool, "https://tenant.logto.app/oidc", "sid-1").await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::cipher::{CryptoError, TokenCipher};

/// A login, without its tokens.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool, id: uuid::Uuid) -> Result<(), sqlx::Error> {
/// if let Some(login) = logto_actix::postgres::logins::find(&pool, id).await? {
///     println!("{} signed in at {}", login.user_sub, login.created_at);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginRecord {
    /// The login id (kept in the browser's session state).
    pub id: Uuid,
    /// The issuer that signed the user in.
    pub issuer: String,
    /// The user's `sub`.
    pub user_sub: String,
    /// Logto's session id (`sid`), when the ID token carried one.
    pub logto_sid: Option<String>,
    /// When the user signed in.
    pub created_at: OffsetDateTime,
    /// The last authenticated request, to within `idle_timeout /`
    /// [`LAST_SEEN_RESOLUTION`] (for [`touch`]'s result: after this one).
    pub last_seen_at: OffsetDateTime,
    /// The absolute end of the login.
    pub expires_at: OffsetDateTime,
}

/// A duration in seconds for `make_interval(secs => …)`, capped at 100
/// years so that it never overflows.
///
/// ```
/// use std::time::Duration;
/// use logto_actix::postgres::logins::interval_secs;
/// assert_eq!(interval_secs(Duration::from_millis(1500)), 1.5);
/// assert!(interval_secs(Duration::MAX) < 4e9);
/// ```
pub fn interval_secs(d: Duration) -> f64 {
    const MAX: f64 = 100.0 * 366.0 * 24.0 * 3600.0;
    d.as_secs_f64().min(MAX)
}

/// Associated data of a `logins` token column: the ciphertext only opens in
/// the row and column it was written for.
///
/// ```
/// let id = uuid::Uuid::nil();
/// assert_eq!(
///     logto_actix::postgres::logins::login_aad(id, "id_token"),
///     format!("logins:{id}:id_token").into_bytes()
/// );
/// ```
pub fn login_aad(id: Uuid, column: &str) -> Vec<u8> {
    format!("logins:{id}:{column}").into_bytes()
}

/// How finely `last_seen_at` follows activity: it is rewritten only once it
/// is older than `idle_timeout / LAST_SEEN_RESOLUTION`. Most requests then
/// only read the login row; the idle timeout may end a login up to that much
/// (1/60 of it: 30 s of the default 30 minutes) *early*, never late.
///
/// ```
/// assert_eq!(logto_actix::postgres::logins::LAST_SEEN_RESOLUTION, 60);
/// ```
pub const LAST_SEEN_RESOLUTION: u32 = 60;

/// The encrypted token columns of a login, read together with the login by
/// [`touch_loading_tokens`] so that a request needs no second query for them;
/// [`super::PgTokenStorage::with_loaded`] serves them.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool, id: uuid::Uuid) -> Result<(), sqlx::Error> {
/// use std::time::Duration;
/// use logto_actix::postgres::logins;
/// if let Some((login, tokens)) = logins::touch_loading_tokens(&pool, id, Duration::from_secs(1800)).await? {
///     println!("checked {:?} ago", tokens.unchecked_for);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedLoginTokens {
    /// `logins.id_token` (ciphertext).
    pub id_token: Vec<u8>,
    /// `logins.refresh_token` (ciphertext).
    pub refresh_token: Option<Vec<u8>>,
    /// How long ago the grant behind these tokens was last checked with the
    /// identity provider (`logins.checked_at`, by the database's clock): the
    /// auth gate checks it again past [`super::PgLogins::revalidate_every`].
    pub unchecked_for: Duration,
}

/// The login check's read of login `$1`: the record, its encrypted ID and
/// refresh tokens, whether it is `alive` and `stale`, and the seconds since
/// its grant was last checked (binds: `$2` the idle timeout and `$3` the
/// `last_seen_at` resolution, in seconds).
const SELECT_CHECKED_LOGIN: &str = "SELECT \
    id, issuer, user_sub, logto_sid, created_at, last_seen_at, expires_at, \
    id_token, refresh_token, \
    expires_at > now() AND last_seen_at + make_interval(secs => $2) > now() AS alive, \
    last_seen_at + make_interval(secs => $3) <= now() AS stale, \
    extract(epoch FROM now() - checked_at)::float8 AS unchecked_secs \
    FROM logins WHERE id = $1";

/// A row of [`SELECT_CHECKED_LOGIN`].
#[derive(Debug, sqlx::FromRow)]
struct CheckedLogin {
    #[sqlx(flatten)]
    record: LoginRecord,
    alive: bool,
    stale: bool,
    id_token: Vec<u8>,
    refresh_token: Option<Vec<u8>>,
    unchecked_secs: f64,
}

/// Checks a login and marks it used.
///
/// Returns `None` — and deletes the row — when the login is gone, past its
/// absolute `expires_at`, or idle for longer than `idle_timeout` since
/// `last_seen_at`. Otherwise returns the record, with `last_seen_at` set to
/// `now()` when it was older than `idle_timeout / LAST_SEEN_RESOLUTION`.
/// Never waits on a running token refresh of the same login.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool, id: uuid::Uuid) -> Result<(), sqlx::Error> {
/// let alive = logto_actix::postgres::logins::touch(&pool, id, std::time::Duration::from_secs(1800))
///     .await?
///     .is_some();
/// # Ok(()) }
/// ```
pub async fn touch(
    pool: &PgPool,
    id: Uuid,
    idle_timeout: Duration,
) -> Result<Option<LoginRecord>, sqlx::Error> {
    Ok(touch_loading_tokens(pool, id, idle_timeout)
        .await?
        .map(|(record, _)| record))
}

/// [`touch`], also returning the login's encrypted tokens (one query for the
/// common case: a live login whose `last_seen_at` is recent enough).
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool, id: uuid::Uuid) -> Result<(), sqlx::Error> {
/// use logto_actix::postgres::logins;
/// let found = logins::touch_loading_tokens(&pool, id, std::time::Duration::from_secs(1800)).await?;
/// # Ok(()) }
/// ```
pub async fn touch_loading_tokens(
    pool: &PgPool,
    id: Uuid,
    idle_timeout: Duration,
) -> Result<Option<(LoginRecord, SealedLoginTokens)>, sqlx::Error> {
    let idle = interval_secs(idle_timeout);
    // A plain read: no row lock, no write, so it never waits on a refresh
    // (which holds an advisory lock, and the row lock only while committing).
    let row: Option<CheckedLogin> = sqlx::query_as(SELECT_CHECKED_LOGIN)
        .bind(id)
        .bind(idle)
        .bind(idle / f64::from(LAST_SEEN_RESOLUTION))
        .fetch_optional(pool)
        .await?;
    let Some(mut row) = row else {
        return Ok(None);
    };
    if !row.alive {
        // The delete re-checks the conditions: a concurrent sign-out may have
        // deleted it already, which is the same outcome.
        sqlx::query(
            "DELETE FROM logins WHERE id = $1 \
               AND (expires_at <= now() OR last_seen_at + make_interval(secs => $2) <= now())",
        )
        .bind(id)
        .bind(idle)
        .execute(pool)
        .await?;
        return Ok(None);
    }
    if row.stale {
        // Re-checked in the update: a login that ended meanwhile (signed out,
        // swept) stays ended.
        let bumped: Option<OffsetDateTime> = sqlx::query_scalar(
            "UPDATE logins SET last_seen_at = now() \
             WHERE id = $1 \
               AND expires_at > now() \
               AND last_seen_at + make_interval(secs => $2) > now() \
             RETURNING last_seen_at",
        )
        .bind(id)
        .bind(idle)
        .fetch_optional(pool)
        .await?;
        match bumped {
            Some(at) => row.record.last_seen_at = at,
            None => return Ok(None),
        }
    }
    Ok(Some((
        row.record,
        SealedLoginTokens {
            id_token: row.id_token,
            refresh_token: row.refresh_token,
            // A clock step back can make it negative: "just checked".
            unchecked_for: Duration::try_from_secs_f64(row.unchecked_secs.max(0.0))
                .unwrap_or(Duration::MAX),
        },
    )))
}

/// Records that the identity provider could not be asked about login `id`'s
/// grant just now (it was down, say): the next re-validation waits one
/// interval instead of being tried by every request. `false` if the login
/// is gone.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool, id: uuid::Uuid) -> Result<(), sqlx::Error> {
/// logto_actix::postgres::logins::postpone_check(&pool, id).await?;
/// # Ok(()) }
/// ```
pub async fn postpone_check(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("UPDATE logins SET checked_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// The login, if it exists (expired or not), without touching it.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool, id: uuid::Uuid) -> Result<(), sqlx::Error> {
/// let login = logto_actix::postgres::logins::find(&pool, id).await?;
/// # Ok(()) }
/// ```
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<LoginRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, issuer, user_sub, logto_sid, created_at, last_seen_at, expires_at \
         FROM logins WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Deletes one login (and its cached access tokens). `true` if it existed.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool, id: uuid::Uuid) -> Result<(), sqlx::Error> {
/// let existed = logto_actix::postgres::logins::delete(&pool, id).await?;
/// # Ok(()) }
/// ```
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("DELETE FROM logins WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Deletes every login of Logto session `sid` at `issuer` (back-channel
/// logout with `sid`). Returns how many.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), sqlx::Error> {
/// let n = logto_actix::postgres::logins::delete_by_sid(&pool, "https://t.logto.app/oidc", "sid-1").await?;
/// # Ok(()) }
/// ```
pub async fn delete_by_sid(pool: &PgPool, issuer: &str, sid: &str) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM logins WHERE issuer = $1 AND logto_sid = $2")
            .bind(issuer)
            .bind(sid)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// Deletes every login of user `sub` at `issuer` (back-channel logout
/// without `sid`, or "terminate the user's sessions"). Returns how many.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), sqlx::Error> {
/// let n = logto_actix::postgres::logins::delete_by_sub(&pool, "https://t.logto.app/oidc", "user-1").await?;
/// # Ok(()) }
/// ```
pub async fn delete_by_sub(pool: &PgPool, issuer: &str, sub: &str) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM logins WHERE issuer = $1 AND user_sub = $2")
            .bind(issuer)
            .bind(sub)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// How many unexpired logins user `sub` at `issuer` has.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), sqlx::Error> {
/// let n = logto_actix::postgres::logins::count_for_sub(&pool, "https://t.logto.app/oidc", "user-1").await?;
/// # Ok(()) }
/// ```
pub async fn count_for_sub(pool: &PgPool, issuer: &str, sub: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM logins WHERE issuer = $1 AND user_sub = $2 AND expires_at > now()",
    )
    .bind(issuer)
    .bind(sub)
    .fetch_one(pool)
    .await
}

/// Why [`id_token`] failed.
///
/// ```
/// use logto_actix::postgres::{CryptoError, logins::IdTokenError};
/// let e = IdTokenError::from(CryptoError::Decrypt);
/// assert!(e.to_string().starts_with("stored ID token"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The stored ciphertext did not open (wrong token key, or tampering).
    #[error("stored ID token: {0}")]
    Crypto(#[from] CryptoError),
    /// The plaintext is not UTF-8.
    #[error("stored ID token is not UTF-8")]
    Encoding,
}

/// The login's latest ID token, decrypted (for `id_token_hint` at sign-out).
/// `None` if the login is gone.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool, cipher: logto_actix::postgres::TokenCipher, id: uuid::Uuid)
/// # -> Result<(), logto_actix::postgres::logins::IdTokenError> {
/// let hint = logto_actix::postgres::logins::id_token(&pool, &cipher, id).await?;
/// # Ok(()) }
/// ```
pub async fn id_token(
    pool: &PgPool,
    cipher: &TokenCipher,
    id: Uuid,
) -> Result<Option<String>, IdTokenError> {
    let row: Option<Vec<u8>> = sqlx::query_scalar("SELECT id_token FROM logins WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(sealed) = row else { return Ok(None) };
    let plain = cipher.decrypt(&sealed, &login_aad(id, "id_token"))?;
    String::from_utf8(plain)
        .map(Some)
        .map_err(|_| IdTokenError::Encoding)
}

/// How many rows one [`sweep`] deleted, per table.
///
/// ```
/// let swept = logto_actix::postgres::logins::Swept::default();
/// assert_eq!(swept.sign_in_attempts + swept.logins + swept.access_tokens, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Expired pending sign-ins.
    pub sign_in_attempts: u64,
    /// Logins past their absolute lifetime or idle too long (their cached
    /// access tokens go with them).
    pub logins: u64,
    /// Expired cached access tokens of live logins.
    pub access_tokens: u64,
}

/// Drops every stored token scoped to `organization_id` (its organization
/// token, and API-resource tokens for it) from every login of user `sub`
/// at `issuer`, so that their next page fetches new ones: after a change of
/// their roles or membership. Returns how many.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), sqlx::Error> {
/// use logto_actix::postgres::logins::drop_organization_tokens;
/// let n = drop_organization_tokens(&pool, "https://t.logto.app/oidc", "user-1", "org-acme").await?;
/// # Ok(()) }
/// ```
pub async fn drop_organization_tokens(
    pool: &PgPool,
    issuer: &str,
    sub: &str,
    organization_id: &str,
) -> Result<u64, sqlx::Error> {
    // A cache key ends with `#{organization id}` exactly when the token is
    // scoped to that organization (resource indicators have no fragment).
    let key = logto_client::AccessTokenKey::organization(organization_id).cache_key();
    let suffix = key.trim_start_matches('@');
    Ok(sqlx::query(
        "DELETE FROM access_tokens WHERE right(audience, length($3)) = $3 AND login_id IN \
         (SELECT id FROM logins WHERE issuer = $1 AND user_sub = $2)",
    )
    .bind(issuer)
    .bind(sub)
    .bind(suffix)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Makes every login of user `sub` at `issuer` due for its check with the
/// identity provider (see [`crate::postgres::PgLogins::revalidate_every`]):
/// the next request refreshes their tokens, and with them the ID token's
/// claims (organizations, roles). Returns their ids.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), sqlx::Error> {
/// let ids = logto_actix::postgres::logins::recheck_by_sub(&pool, "https://t.logto.app/oidc", "user-1").await?;
/// # Ok(()) }
/// ```
pub async fn recheck_by_sub(
    pool: &PgPool,
    issuer: &str,
    sub: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE logins SET checked_at = 'epoch' WHERE issuer = $1 AND user_sub = $2 RETURNING id",
    )
    .bind(issuer)
    .bind(sub)
    .fetch_all(pool)
    .await
}

/// Deletes every expired row of the three tables once: sign-in attempts and
/// access tokens past `expires_at`, and logins past `expires_at` or idle for
/// longer than `idle_timeout`. Correctness never depends on it (every read
/// checks the expiry); it keeps the tables small. Run it every few minutes.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), sqlx::Error> {
/// let swept = logto_actix::postgres::logins::sweep(&pool, std::time::Duration::from_secs(1800)).await?;
/// # Ok(()) }
/// ```
pub async fn sweep(pool: &PgPool, idle_timeout: Duration) -> Result<Swept, sqlx::Error> {
    let sign_in_attempts = sqlx::query("DELETE FROM sign_in_attempts WHERE expires_at <= now()")
        .execute(pool)
        .await?
        .rows_affected();
    let logins = sqlx::query(
        "DELETE FROM logins \
         WHERE expires_at <= now() OR last_seen_at + make_interval(secs => $1) <= now()",
    )
    .bind(interval_secs(idle_timeout))
    .execute(pool)
    .await?
    .rows_affected();
    let access_tokens = sqlx::query("DELETE FROM access_tokens WHERE expires_at <= now()")
        .execute(pool)
        .await?
        .rows_affected();
    Ok(Swept {
        sign_in_attempts,
        logins,
        access_tokens,
    })
}
