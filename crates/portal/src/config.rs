//! Configuration, read once at start-up from the environment (optionally a
//! `.env` file) into typed values. A missing or malformed value stops
//! start-up with one line naming the variable.

use std::net::SocketAddr;

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {name}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// The portal's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `PORTAL_BIND`, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError {
                    name,
                    problem: "is not set".into(),
                })
        };
        let bind = match get("PORTAL_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.parse().map_err(|e| ConfigError {
                name: "PORTAL_BIND",
                problem: format!("{v:?} is not a socket address ({e})"),
            })?,
        };
        Ok(Self {
            database_url: required("DATABASE_URL")?,
            bind,
        })
    }
}
