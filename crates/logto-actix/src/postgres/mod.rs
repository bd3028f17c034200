//! Logins in PostgreSQL (feature `postgres`): the storage the Logto portal
//! runs on, for any application.
//!
//! - [`PgLogins`] is the [`crate::LoginStore`]: one row of `logins` per
//!   signed-in browser, with an idle and an absolute timeout, optional
//!   re-validation with the identity provider, and back-channel logout by
//!   `sid` or `sub` ([`logins::delete_by_sid`], [`logins::delete_by_sub`]).
//! - [`PgTokenStorage`] is its [`logto_client::Storage`]: pending sign-ins
//!   in `sign_in_attempts`, one row per `state`, bound to the browser that
//!   started them; ID and refresh tokens in the login's row; cached access
//!   tokens in `access_tokens`. Refresh is single-flight across instances
//!   (a PostgreSQL advisory lock per login).
//! - Every token is encrypted at rest with [`TokenCipher`] (AES-256-GCM),
//!   bound to the row and column it was written for.
//!
//! The tables come with [`MIGRATOR`]; the SQL of all three lives in this
//! module. Expired rows are never served (every read checks `expires_at`);
//! [`logins::sweep`] deletes them.
//!
//! ```no_run
//! use actix_session::{SessionMiddleware, storage::CookieSessionStore};
//! use actix_web::{App, HttpServer, cookie::Key};
//! use logto_actix::LogtoAuth;
//! use logto_actix::postgres::{MIGRATOR, PgLogins, TokenCipher};
//! use logto_client::{AppSecret, LogtoClient, LogtoConfig};
//! use std::time::Duration;
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
//!     MIGRATOR.run(&pool).await?;
//!     // 32 bytes, base64 (`openssl rand -base64 32`), from configuration.
//!     let cipher = TokenCipher::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
//!     let logins = PgLogins::new(pool, cipher)
//!         .idle_timeout(Duration::from_secs(30 * 60))
//!         .absolute_timeout(Duration::from_secs(12 * 3600))
//!         .revalidate_every(Duration::from_secs(300));
//!     let config = LogtoConfig::new(
//!         "https://tenant.logto.app",
//!         "app-id",
//!         Some(AppSecret::new("app-secret")),
//!     )?;
//!     let auth = LogtoAuth::with_login_store(
//!         LogtoClient::new(config)?,
//!         logins,
//!         "http://localhost:3000",
//!     )?;
//!     let key = Key::generate(); // load it from configuration in production
//!     HttpServer::new(move || {
//!         App::new()
//!             .configure(auth.routes())
//!             .wrap(SessionMiddleware::new(CookieSessionStore::default(), key.clone()))
//!     })
//!     .bind(("127.0.0.1", 3000))?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```

mod cipher;
pub mod logins;
mod storage;
mod store;

pub use cipher::{CryptoError, KEY_LEN, NONCE_LEN, TAG_LEN, TokenCipher, sha256};
pub use logins::{LoginRecord, SealedLoginTokens};
pub use storage::{
    AccessTokenCache, PgTokenStorage, REFRESH_LOCK_TIMEOUT, RefreshWaitTimedOut,
    SIGN_IN_ATTEMPT_TTL, refresh_lock_key, refresh_slots,
};
pub use store::PgLogins;

/// The migrations creating `logins`, `access_tokens` and
/// `sign_in_attempts` (`crates/logto-actix/migrations`).
///
/// Run it on the application's database at start-up. An application with
/// migrations of its own keeps one history per database: copy the file into
/// its migrations directory instead, or run both migrators with
/// [`sqlx::migrate::Migrator::set_ignore_missing`].
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
/// logto_actix::postgres::MIGRATOR.run(&pool).await?;
/// # Ok(()) }
/// ```
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
