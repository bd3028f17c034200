//! Integration tests: logto-dev driven over real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod errors;
mod flow;
mod helpers;
mod logout;
mod management;
mod refresh;
mod shape;
mod tokens;
