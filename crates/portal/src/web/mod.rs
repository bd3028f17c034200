//! The HTTP layer: routes, extractors (`auth`), the error type (rendered
//! in one place), middleware, the sign-in rate limiter, and the views:
//! pages, error pages and claims tables.

pub mod auth;
pub mod claims_table;
pub mod error;
pub mod middleware;
pub mod rate_limit;
pub mod routes;
pub mod views;
