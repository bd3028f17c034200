//! The company portal: Logto sign-in for an actix-web application, with
//! server-side sessions and encrypted tokens in PostgreSQL, and one space per
//! customer organization (tenant).

pub mod config;
pub mod routes;
pub mod startup;
pub mod telemetry;

/// The workspace's sqlx migrations, applied at start-up and by `portal migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
