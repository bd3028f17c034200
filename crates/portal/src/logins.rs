//! The `logins` table, one row per signed-in browser, is logto-actix's
//! (`logto_actix::postgres::logins`: the table and every statement on it,
//! re-exported here). The portal adds [`prefetch`] — the login read with the
//! session, for the auth gate — and the back-channel logout's replay
//! protection (`seen_logout_tokens`).

use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

pub use logto_actix::postgres::logins::{
    CheckedLogin, IdTokenError, LAST_SEEN_RESOLUTION, LoginRecord, SealedLoginTokens,
    count_for_sub, delete, delete_by_sid, delete_by_sub, find, id_token, interval_secs,
    postpone_check,
};

pub mod prefetch;

/// Checks a login and marks it used (`logto_actix::postgres::logins::touch`),
/// taking the login from [`prefetch`] when the session store read it.
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
/// common case; none when the session store read the login with the
/// session, see [`prefetch`], which may add the cached access token the
/// request needs).
pub async fn touch_loading_tokens(
    pool: &PgPool,
    id: Uuid,
    idle_timeout: Duration,
) -> Result<Option<(LoginRecord, SealedLoginTokens)>, sqlx::Error> {
    logto_actix::postgres::logins::touch_preloaded(pool, id, idle_timeout, prefetch::take_login(id))
        .await
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
