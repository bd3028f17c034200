//! actix-session's server-side state in PostgreSQL (`sessions` table).
//!
//! The cookie carries a random 256-bit key (URL-safe base64); the table holds
//! only its SHA-256, so a copy of the table cannot be turned into a working
//! cookie. Expiry is enforced here (`expires_at`), not by the cookie: a
//! client that stretches its cookie's `Max-Age` extends nothing. Times come
//! from the database clock, so every instance agrees on them.
//!
//! [`crate::storage::caching::CachingSessionStore`] serves the sessions
//! seen lately from memory, in front of this store.
//!
//! Database failures surface as the `Other` variants of actix-session's
//! errors (the portal answers 503); the key is never logged.

use std::time::Duration as StdDuration;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgPool, Row as _};
use uuid::Uuid;

use logto_actix::postgres::sha256;

pub use crate::storage::local_cache::{KeyHash, SessionState};

/// Random bytes in a session key (256 bits).
const KEY_BYTES: usize = 32;

/// actix-session's [`SessionStore`] over the `sessions` table.
#[derive(Clone)]
pub struct PgSessionStore {
    pool: PgPool,
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
pub fn key_hash(key: &SessionKey) -> KeyHash {
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(sha256(key.as_ref().as_bytes())) {
        *o = b;
    }
    out
}

/// The login id a session's state names (actix-session keeps every value
/// as its JSON text: a quoted UUID), stored beside the state.
fn login_id_in(state: &SessionState) -> Option<Uuid> {
    state
        .get(logto_actix::LOGIN_ID_KEY)
        .and_then(|v| serde_json::from_str(v).ok())
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
        Self { pool }
    }

    /// The session state of `session_key` and how long it has left to live,
    /// by the database's clock (for a copy in memory to expire it on time).
    pub async fn load_with_ttl(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<(SessionState, StdDuration)>, LoadError> {
        let row: Option<PgRow> = sqlx::query(
            "SELECT state, extract(epoch FROM expires_at - now())::float8 AS left_secs \
             FROM sessions WHERE key_hash = $1 AND expires_at > now()",
        )
        .bind(key_hash(session_key).as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(load_error)?;
        let Some(row) = row else { return Ok(None) };
        let state = decode_state(&row, "state")?;
        let left: f64 = row.try_get("left_secs").map_err(load_error)?;
        let left = StdDuration::try_from_secs_f64(left.max(0.0)).unwrap_or(StdDuration::ZERO);
        Ok(Some((state, left)))
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
        .bind(key_hash(&key).as_slice())
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
        let row: Option<PgRow> =
            sqlx::query("SELECT state FROM sessions WHERE key_hash = $1 AND expires_at > now()")
                .bind(key_hash(session_key).as_slice())
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
        .bind(key_hash(&session_key).as_slice())
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
        .bind(key_hash(session_key).as_slice())
        .bind(ttl_seconds(ttl))
        .execute(&self.pool)
        .await
        .map_err(|e| anyhow::Error::new(e).context("extending a session"))?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        sqlx::query("DELETE FROM sessions WHERE key_hash = $1")
            .bind(key_hash(session_key).as_slice())
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
