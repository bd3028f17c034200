//! Background deletion of expired rows. Correctness never depends on it
//! (every read checks `expires_at`); it keeps the tables small.

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::storage;

/// How many rows one sweep deleted, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Expired actix-session rows.
    pub sessions: u64,
    /// Expired pending sign-ins.
    pub sign_in_attempts: u64,
    /// Back-channel logout `jti`s past their token's `exp`.
    pub seen_logout_tokens: u64,
    /// Logins past their absolute lifetime or idle too long (their cached
    /// access tokens go with them).
    pub logins: u64,
    /// Expired cached access tokens of live logins.
    pub access_tokens: u64,
}

impl SweepStats {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.sessions
            + self.sign_in_attempts
            + self.seen_logout_tokens
            + self.logins
            + self.access_tokens
    }
}

/// Deletes every expired row once: sessions, sign-in attempts, seen logout
/// tokens and expired access tokens past `expires_at`, and logins past
/// `expires_at` or idle for longer than `idle_timeout`.
pub async fn sweep_once(pool: &PgPool, idle_timeout: Duration) -> Result<SweepStats, sqlx::Error> {
    let sessions = storage::session_store::delete_expired(pool).await?;
    // The tables of logto-actix's store: its sweep.
    let swept = logto_actix::postgres::logins::sweep(pool, idle_timeout).await?;
    let seen_logout_tokens = storage::logins::forget_expired_logout_jtis(pool).await?;
    let logto_actix::postgres::logins::Swept {
        sign_in_attempts,
        logins,
        access_tokens,
    } = swept;
    Ok(SweepStats {
        sessions,
        sign_in_attempts,
        seen_logout_tokens,
        logins,
        access_tokens,
    })
}

/// Runs [`sweep_once`] every `every` (first run immediately) until the task
/// is aborted. A failed sweep is logged on one line and the loop goes on.
pub fn spawn(pool: PgPool, every: Duration, idle_timeout: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every.max(Duration::from_millis(10)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match sweep_once(&pool, idle_timeout).await {
                Ok(stats) if stats.total() > 0 => tracing::debug!(?stats, "swept expired rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweeping expired rows failed; will retry"),
            }
        }
    })
}
