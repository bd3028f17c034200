//! The company portal: Logto sign-in for an actix-web application, with
//! server-side sessions and encrypted tokens in PostgreSQL, and one space per
//! customer organization (tenant).
//!
//! Layout: [`config`] (settings read once), [`startup`] (the server),
//! [`routes`] (handlers, with [`claims_table`]), [`auth`] (the `Authenticated` extractor),
//! [`session_store`] / [`logins`] (PostgreSQL persistence; the logins, their
//! tokens encrypted at rest and the token storage are logto-actix's
//! `postgres` feature), [`tenants`], [`error`] (one error type, rendered in one place),
//! [`management`] (a client of Logto's Management API) and [`provision`]
//! (`portal logto provision`: the demo seed into a real Logto).

pub mod auth;
pub mod breaker;
pub mod claims_table;
pub mod cli;
pub mod config;
pub mod error;
pub mod local_cache;
pub mod logins;
pub mod management;
pub mod metrics;
pub mod provision;
pub mod rate_limit;
pub mod routes;
pub mod session_store;
pub mod startup;
pub mod state;
pub mod sweeper;
pub mod telemetry;
pub mod tenants;

/// The workspace's sqlx migrations, applied at start-up and by `portal migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
