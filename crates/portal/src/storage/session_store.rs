//! actix-session's server-side state in PostgreSQL (`sessions` table).
//!
//! The cookie carries a random 256-bit key (URL-safe base64); the table holds
//! only its SHA-256, so a copy of the table cannot be turned into a working
//! cookie. Expiry is enforced here (`expires_at`), not by the cookie: a
//! client that stretches its cookie's `Max-Age` extends nothing. Times come
//! from the database clock, so every instance agrees on them.
//!
//! With [`PgSessionStore::prefetching_logins`] the load also reads, in the
//! same query, the login the session names and the tenant the request
//! names, for the auth gate and the tenant routes
//! ([`crate::storage::logins::prefetch`]): a signed-in page costs one query.
//!
//! Database failures surface as the `Other` variants of actix-session's
//! errors (the portal answers 503); the key is never logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{FromRow as _, PgPool, Row as _};
use uuid::Uuid;

use logto_actix::login_check_columns;
use logto_actix::postgres::sha256;

use crate::storage::local_cache::LocalCache;
use crate::storage::logins::{self, CheckedLogin, LAST_SEEN_RESOLUTION};
use crate::tenant::Tenant;

/// The session state actix-session hands to a store.
type SessionState = HashMap<String, String>;

/// Random bytes in a session key (256 bits).
const KEY_BYTES: usize = 32;

/// actix-session's [`SessionStore`] over the `sessions` table.
#[derive(Clone)]
pub struct PgSessionStore {
    pool: PgPool,
    /// The idle timeout of logins, when loads read the session's login too.
    login_prefetch: Option<StdDuration>,
    /// Where a tenant page's tenant and token are taken from first.
    local_cache: Option<Arc<LocalCache>>,
}

impl std::fmt::Debug for PgSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSessionStore").finish_non_exhaustive()
    }
}

/// A fresh session key: 256 bits from the OS CSPRNG, URL-safe base64
/// without padding (43 characters).
fn generate_key() -> Result<SessionKey, anyhow::Error> {
    let mut bytes = [0u8; KEY_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SessionKey::try_from(URL_SAFE_NO_PAD.encode(bytes)).map_err(anyhow::Error::from)
}

/// The stored form of a cookie's key.
fn key_hash(key: &SessionKey) -> Vec<u8> {
    sha256(key.as_ref().as_bytes())
}

/// The login id a session's state names (actix-session keeps every value
/// as its JSON text: a quoted UUID), stored beside the state.
fn login_id_in(state: &SessionState) -> Option<Uuid> {
    state
        .get(logto_actix::LOGIN_ID_KEY)
        .and_then(|v| serde_json::from_str(v).ok())
}

/// The session, its login and the login check (binds: `$1` the key hash,
/// `$2` and `$3` as for `login_check_columns!()`), then what follows.
macro_rules! session_with_login {
    ($($rest:expr),*) => {
        concat!(
            "SELECT s.state, ",
            login_check_columns!(),
            $($rest,)*
            " WHERE s.key_hash = $1 AND s.expires_at > now()"
        )
    };
}

/// The session, its login, and the tenant `$4` with the login's cached
/// organization token for it (cached under `@#{organization id}`, the
/// Logto SDKs' key: [`organization_token_key`]).
const SESSION_LOGIN_TENANT: &str = session_with_login!(
    ", t.slug IS NOT NULL AS has_tenant, \
       t.slug, t.display_name, t.organization_id, t.sso_connector_id, t.login_hint, \
       (SELECT a.token FROM access_tokens a \
         WHERE a.login_id = l.id AND a.audience = '@#' || t.organization_id) \
         AS organization_token \
     FROM sessions s LEFT JOIN logins l ON l.id = s.login_id \
     LEFT JOIN tenants t ON t.slug = $4"
);

/// The session and its login.
const SESSION_LOGIN: &str =
    session_with_login!(" FROM sessions s LEFT JOIN logins l ON l.id = s.login_id");

/// The cache key of `organization`'s token, as the SQL above builds it.
fn organization_token_key(organization: &str) -> String {
    logto_client::AccessTokenKey::organization(organization).cache_key()
}

fn load_error(e: sqlx::Error) -> LoadError {
    LoadError::Other(anyhow::Error::new(e).context("loading a session"))
}

/// The session state in column `column` of `row` (straight from the JSON
/// text; a state that is not an object of strings is a deserialization
/// error, not an outage).
fn decode_state(row: &PgRow, column: &str) -> Result<SessionState, LoadError> {
    match row.try_get::<Json<SessionState>, _>(column) {
        Ok(Json(state)) => Ok(state),
        Err(e @ sqlx::Error::ColumnDecode { .. }) => Err(LoadError::Deserialization(e.into())),
        Err(e) => Err(load_error(e)),
    }
}

/// A TTL in seconds for `make_interval`, never negative.
fn ttl_seconds(ttl: &Duration) -> f64 {
    ttl.as_seconds_f64().max(0.0)
}

impl PgSessionStore {
    /// A store over `pool` (the migrations must have run).
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            login_prefetch: None,
            local_cache: None,
        }
    }

    /// Loads of a tenant page take the tenant and the login's organization
    /// token from `cache` when it has them, and read only the session and
    /// its login.
    pub fn with_local_cache(mut self, cache: Arc<LocalCache>) -> Self {
        self.local_cache = Some(cache);
        self
    }

    /// Loads also read the login the session names (with logins' idle
    /// timeout), and leave it for the auth gate ([`logins::prefetch`]).
    pub fn prefetching_logins(mut self, idle_timeout: StdDuration) -> Self {
        self.login_prefetch = Some(idle_timeout);
        self
    }

    /// The session state of `session_key`, and with it the login it names
    /// and the tenant the request names (with the login's cached
    /// organization token for it), for [`logins::prefetch`].
    async fn load_with_login(
        &self,
        session_key: &SessionKey,
        idle_timeout: StdDuration,
    ) -> Result<Option<SessionState>, LoadError> {
        let idle = logins::interval_secs(idle_timeout);
        let tenant = logins::prefetch::take_wanted_tenant();
        // The tenant from this instance's copy, when it can say: then the
        // statement reads neither tenants nor access_tokens.
        let cache = self.local_cache.as_deref();
        let copied = tenant
            .as_deref()
            .zip(cache)
            .and_then(|(slug, cache)| cache.tenant(slug));
        let sql = if tenant.is_some() && copied.is_none() {
            SESSION_LOGIN_TENANT
        } else {
            SESSION_LOGIN
        };
        let mut query = sqlx::query(sql)
            .bind(key_hash(session_key))
            .bind(idle)
            .bind(idle / f64::from(LAST_SEEN_RESOLUTION));
        if let (Some(slug), None) = (&tenant, &copied) {
            query = query.bind(slug.as_str());
        }
        let row: Option<PgRow> = query.fetch_optional(&self.pool).await.map_err(load_error)?;
        let Some(row) = row else { return Ok(None) };
        let state = decode_state(&row, "state")?;
        // The tenant the request names, if it exists.
        let from_copy = copied.is_some();
        let found = match (&tenant, copied) {
            (Some(_), Some(copied)) => copied,
            (Some(_), None) if row.try_get::<bool, _>("has_tenant").map_err(load_error)? => {
                Some(Tenant::from_row(&row).map_err(load_error)?)
            }
            _ => None,
        };
        if let Some(login_id) = login_id_in(&state) {
            let joined: Option<Uuid> = row.try_get("id").map_err(load_error)?;
            match joined {
                // The login the state names (the column is written with it),
                // with its cached token for the tenant's organization.
                Some(id) if id == login_id => {
                    let login = CheckedLogin::from_row(&row).map_err(load_error)?;
                    let cached = match &found {
                        Some(t) => {
                            let key = organization_token_key(&t.organization_id);
                            let token: Option<Vec<u8>> = match cache {
                                Some(cache) if from_copy => cache.access_token(login_id, &key),
                                _ => row.try_get("organization_token").map_err(load_error)?,
                            };
                            token.map(|token| (key, token))
                        }
                        None => None,
                    };
                    logins::prefetch::stash_login(
                        login_id,
                        Some(login),
                        cached.into_iter().collect(),
                    );
                }
                // No such login (any more).
                None => logins::prefetch::stash_login(login_id, None, Vec::new()),
                // Column and state disagree (written by hand?): the login
                // check reads the state's login itself.
                Some(_) => {}
            }
        }
        if let Some(slug) = tenant {
            logins::prefetch::stash_tenant(slug, found);
        }
        Ok(Some(state))
    }

    async fn insert(
        &self,
        state: &SessionState,
        ttl: &Duration,
    ) -> Result<SessionKey, anyhow::Error> {
        let key = generate_key()?;
        sqlx::query(
            "INSERT INTO sessions (key_hash, state, expires_at, login_id) \
             VALUES ($1, $2, now() + make_interval(secs => $3), $4)",
        )
        .bind(key_hash(&key))
        .bind(Json(state))
        .bind(ttl_seconds(ttl))
        .bind(login_id_in(state))
        .execute(&self.pool)
        .await
        .map_err(|e| anyhow::Error::new(e).context("saving a session"))?;
        Ok(key)
    }
}

impl SessionStore for PgSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        if let Some(idle_timeout) = self.login_prefetch {
            return self.load_with_login(session_key, idle_timeout).await;
        }
        let row: Option<PgRow> =
            sqlx::query("SELECT state FROM sessions WHERE key_hash = $1 AND expires_at > now()")
                .bind(key_hash(session_key))
                .fetch_optional(&self.pool)
                .await
                .map_err(load_error)?;
        row.map(|row| decode_state(&row, "state")).transpose()
    }

    async fn save(
        &self,
        session_state: SessionState,
        ttl: &Duration,
    ) -> Result<SessionKey, SaveError> {
        self.insert(&session_state, ttl)
            .await
            .map_err(SaveError::Other)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: SessionState,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let updated = sqlx::query(
            "UPDATE sessions \
             SET state = $2, expires_at = now() + make_interval(secs => $3), login_id = $4 \
             WHERE key_hash = $1 AND expires_at > now()",
        )
        .bind(key_hash(&session_key))
        .bind(Json(&session_state))
        .bind(ttl_seconds(ttl))
        .bind(login_id_in(&session_state))
        .execute(&self.pool)
        .await
        .map_err(|e| UpdateError::Other(anyhow::Error::new(e).context("updating a session")))?
        .rows_affected();
        if updated == 1 {
            return Ok(session_key);
        }
        // The row is gone or expired (deleted elsewhere, swept): never
        // resurrect a key the server no longer knows; save under a new one,
        // as actix-session's own stores do.
        self.insert(&session_state, ttl)
            .await
            .map_err(UpdateError::Other)
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &Duration,
    ) -> Result<(), anyhow::Error> {
        sqlx::query(
            "UPDATE sessions SET expires_at = now() + make_interval(secs => $2) \
             WHERE key_hash = $1 AND expires_at > now()",
        )
        .bind(key_hash(session_key))
        .bind(ttl_seconds(ttl))
        .execute(&self.pool)
        .await
        .map_err(|e| anyhow::Error::new(e).context("extending a session"))?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        sqlx::query("DELETE FROM sessions WHERE key_hash = $1")
            .bind(key_hash(session_key))
            .execute(&self.pool)
            .await
            .map_err(|e| anyhow::Error::new(e).context("deleting a session"))?;
        Ok(())
    }
}

/// Deletes the expired sessions (the sweeper); returns how many.
pub async fn delete_expired(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE expires_at <= now()")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    /// `SESSION_LOGIN_TENANT` builds the key in SQL as `'@#' || organization_id`.
    #[test]
    fn organization_token_keys_are_what_the_query_builds() {
        assert_eq!(super::organization_token_key("org-acme"), "@#org-acme");
    }
}
