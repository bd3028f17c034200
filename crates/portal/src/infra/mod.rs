//! Infrastructure the other layers lean on: the database circuit breaker,
//! Prometheus metrics, the expired-row sweeper and tracing set-up.

pub mod breaker;
pub mod metrics;
pub mod sweeper;
pub mod telemetry;
