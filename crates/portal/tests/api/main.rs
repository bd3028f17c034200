//! The portal's integration tests: one binary, one module per area. Each
//! test gets its own database (`#[sqlx::test]`) and its own logto-dev.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod caching;
mod flows;
mod harness;
mod helpers;
mod hygiene;
mod id_tokens;
mod properties;
mod reliability;
mod security;
mod self_service;
mod sessions;
mod storage;
mod support;
mod tenants;
