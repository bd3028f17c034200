//! The `logins` table, one row per signed-in browser, is logto-actix's
//! (`logto_actix::postgres::logins`: the table and every statement on it,
//! re-exported here). The portal adds the back-channel logout's replay
//! protection (`seen_logout_tokens`); its copy of the logins in memory is
//! [`crate::storage::caching::CachingLogins`].

use sqlx::PgPool;
use time::OffsetDateTime;

pub use logto_actix::postgres::logins::{
    IdTokenError, LAST_SEEN_RESOLUTION, LoginRecord, SealedLoginTokens, count_for_sub, delete,
    delete_by_sid, delete_by_sub, drop_organization_tokens, find, id_token, interval_secs,
    postpone_check, recheck_by_sub, touch, touch_loading_tokens,
};

/// Signed-in browsers whose login has not expired (all instances).
pub async fn count_alive(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM logins WHERE expires_at > now()")
        .fetch_one(pool)
        .await
}

/// Ends every login of `sub`, whatever its issuer (`portal sessions
/// revoke`); returns how many.
pub async fn delete_every_login_of(pool: &PgPool, sub: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM logins WHERE user_sub = $1")
        .bind(sub)
        .execute(pool)
        .await?
        .rows_affected())
}

/// Records a back-channel logout token's `jti` until `expires_at` (the
/// token's `exp`). `true` the first time, `false` for a replay.
pub async fn remember_logout_jti(
    pool: &PgPool,
    jti: &str,
    expires_at: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO seen_logout_tokens (jti, expires_at) VALUES ($1, $2) \
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(expires_at)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Forgets the `jti`s whose token has expired (the sweeper); returns how many.
pub async fn forget_expired_logout_jtis(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM seen_logout_tokens WHERE expires_at <= now()")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
