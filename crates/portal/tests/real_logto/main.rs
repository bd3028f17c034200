//! The real-Logto tier: tests against a real Logto 1.42, provisioned with the
//! demo seed by `portal logto provision`. `cargo xtask test` starts it and
//! passes the `LOGTO_TIER_*` variables (see `support`); a plain `cargo test`
//! reports every test here as ignored.
//!
//! These tests share one Logto and must not change the seeded demo data
//! others rely on: a test that changes something creates its own, uniquely
//! named objects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actix_quickstart;
mod changes;
mod chromium;
mod client;
#[allow(dead_code)] // shared with the browser binary, which uses all of it
#[path = "../browser/driver.rs"]
mod driver;
mod experience;
mod pages;
mod portal;
mod provision;
#[allow(dead_code)] // its `main` runs the example on its own
#[path = "../../../logto-actix/examples/quickstart.rs"]
mod quickstart;
mod self_service;
mod support;
