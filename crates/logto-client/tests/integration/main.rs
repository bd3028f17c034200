//! Integration tests: `logto-client` against `logto-dev` (and a tiny fake IdP) over
//! real HTTP on loopback. Each test starts its own server on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod conformance;
mod flows;
mod helpers;
mod hostile;
