//! PostgreSQL persistence: one module per table (the logins and their
//! tokens, through logto-actix's `postgres` feature; the browser sessions;
//! the tenants; the audit trail of organization self-service), this
//! instance's copy of them ([`local_cache`]), and the caching layer serving
//! pages from it ([`caching`]).

use sqlx::PgPool;

pub mod audit;
pub mod caching;
pub mod local_cache;
pub mod logins;
pub mod session_store;
pub mod tenants;

/// Whether PostgreSQL accepts a new connection and answers on it within
/// `timeout`: a connection of its own, not one from `pool`, whose acquire
/// would keep retrying a refused connection for seconds (the breaker's
/// probe).
pub async fn answers_on_new_connection(pool: &PgPool, timeout: std::time::Duration) -> bool {
    use sqlx::Connection as _;
    let options = pool.connect_options();
    let probe = async {
        let mut conn = sqlx::PgConnection::connect_with(&options).await?;
        sqlx::query("SELECT 1").execute(&mut conn).await?;
        conn.close().await
    };
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Ok(())))
}

/// One round trip to the database (`/readyz`).
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(pool)
        .await
        .map(drop)
}
