//! The HTTP layer: routes, extractors, the error type (rendered in one
//! place), the sign-in rate limiter and the views of claims.

pub mod auth;
pub mod claims_table;
pub mod error;
pub mod middleware;
pub mod rate_limit;
pub mod routes;
