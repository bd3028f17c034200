//! The company portal: Logto sign-in for an actix-web application, with
//! server-side sessions and encrypted tokens in PostgreSQL, and one space per
//! customer organization (tenant).
//!
//! Layout, by layer:
//! - [`cli`], [`startup`], [`config`], [`state`]: the process, the server
//!   and what its handlers share;
//! - [`web`]: routes, the `Authenticated` and bearer extractors, the error
//!   type rendered in one place, the rate limiter and the claims views;
//! - [`storage`]: PostgreSQL, one module per table (logins, sessions,
//!   tenants, the audit trail) and the per-instance caches in front of them: the only place
//!   with SQL on the portal's database;
//! - [`tenant`]: the tenant domain (slugs, the tenants file, tenants from
//!   the Logto seed); [`self_service`]: each organization's admins manage
//!   its members, invitations and roles (the rules, the Management API
//!   calls, the audit trail);
//! - [`infra`]: the database breaker, metrics, the sweeper and telemetry;
//! - [`management`] (a client of Logto's Management API) and [`provision`]
//!   (`portal logto provision`: the demo seed into a real Logto).

pub mod cli;
pub mod config;
pub mod infra;
pub mod management;
pub mod provision;
pub mod self_service;
pub mod startup;
pub mod state;
pub mod storage;
pub mod tenant;
pub mod web;

/// The workspace's sqlx migrations, applied at start-up and by `portal migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
