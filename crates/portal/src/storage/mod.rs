//! PostgreSQL persistence: one module per table (the logins and their
//! tokens, through logto-actix's `postgres` feature; the browser sessions;
//! the tenants), this instance's copy of them ([`local_cache`]), and the
//! caching layer serving pages from it ([`caching`]).

use sqlx::PgPool;

pub mod caching;
pub mod local_cache;
pub mod logins;
pub mod session_store;
pub mod tenants;

/// One round trip to the database (`/readyz`).
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(pool)
        .await
        .map(drop)
}
