//! actix-session's server-side state in PostgreSQL (`sessions` table).
//!
//! The cookie carries a random 256-bit key (URL-safe base64); the table holds
//! only its SHA-256, so a copy of the table cannot be turned into a working
//! cookie. Expiry is enforced here (`expires_at`), not by the cookie: a
//! client that stretches its cookie's `Max-Age` extends nothing. Times come
//! from the database clock, so every instance agrees on them.
//!
//! Database failures surface as the `Other` variants of actix-session's
//! errors (the portal answers 503); the key is never logged.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sqlx::PgPool;
use sqlx::types::Json;

use crate::crypto::sha256;

/// The session state actix-session hands to a store.
type SessionState = HashMap<String, String>;

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
fn key_hash(key: &SessionKey) -> Vec<u8> {
    sha256(key.as_ref().as_bytes())
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

    async fn insert(
        &self,
        state: &SessionState,
        ttl: &Duration,
    ) -> Result<SessionKey, anyhow::Error> {
        let key = generate_key()?;
        sqlx::query(
            "INSERT INTO sessions (key_hash, state, expires_at) \
             VALUES ($1, $2, now() + make_interval(secs => $3))",
        )
        .bind(key_hash(&key))
        .bind(Json(state))
        .bind(ttl_seconds(ttl))
        .execute(&self.pool)
        .await
        .map_err(|e| anyhow::Error::new(e).context("saving a session"))?;
        Ok(key)
    }
}

impl SessionStore for PgSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        let row: Option<Json<serde_json::Value>> = sqlx::query_scalar(
            "SELECT state FROM sessions WHERE key_hash = $1 AND expires_at > now()",
        )
        .bind(key_hash(session_key))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| LoadError::Other(anyhow::Error::new(e).context("loading a session")))?;
        match row {
            None => Ok(None),
            Some(Json(value)) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
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
            "UPDATE sessions SET state = $2, expires_at = now() + make_interval(secs => $3) \
             WHERE key_hash = $1 AND expires_at > now()",
        )
        .bind(key_hash(&session_key))
        .bind(Json(&session_state))
        .bind(ttl_seconds(ttl))
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
