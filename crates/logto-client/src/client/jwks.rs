//! The shared JWKS cache: one fetch on first use, a re-fetch on an unknown `kid`
//! at most once per cool-down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::discovery::{Provider, get_json_bytes};
use crate::error::{Endpoint, Error, TransportError};
use crate::jwt::KeySet;

#[derive(Debug, Default)]
struct FetchTimes {
    /// Last attempt of the initial load (only consulted while no keys are loaded).
    initial: Option<Instant>,
    /// Last re-fetch for an unknown `kid`.
    refetch: Option<Instant>,
}

#[derive(Debug, Default)]
pub(crate) struct JwksCache {
    keys: RwLock<Option<Arc<KeySet>>>,
    times: tokio::sync::Mutex<FetchTimes>,
    fetches: AtomicU64,
}

fn unavailable() -> Error {
    TransportError::UnexpectedResponse {
        endpoint: Endpoint::Jwks,
        url: None,
        status: None,
        detail: "JWKS unavailable (fetch failed recently)".into(),
    }
    .into()
}

impl JwksCache {
    pub(crate) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        self.keys.read().ok().and_then(|k| k.clone())
    }

    pub(crate) fn set(&self, keys: KeySet) {
        if let Ok(mut k) = self.keys.write() {
            *k = Some(Arc::new(keys));
        }
    }

    /// The keys, fetching them on first use (a failed first load is retried at most
    /// once per `cooldown`).
    pub(crate) async fn get(
        &self,
        provider: &Provider,
        http: &reqwest::Client,
        cooldown: Duration,
    ) -> Result<Arc<KeySet>, Error> {
        if let Some(k) = self.current() {
            return Ok(k);
        }
        let mut times = self.times.lock().await;
        if let Some(k) = self.current() {
            return Ok(k);
        }
        if times.initial.is_some_and(|t| t.elapsed() < cooldown) {
            return Err(unavailable());
        }
        times.initial = Some(Instant::now());
        self.fetch(provider, http).await
    }

    /// Re-fetches the JWKS for an unknown `kid`, unless a re-fetch happened within
    /// `cooldown`; returns the keys as they are afterwards.
    pub(crate) async fn refetch(
        &self,
        provider: &Provider,
        http: &reqwest::Client,
        cooldown: Duration,
    ) -> Result<Arc<KeySet>, Error> {
        let mut times = self.times.lock().await;
        if times.refetch.is_some_and(|t| t.elapsed() < cooldown) {
            return self.current().ok_or_else(unavailable);
        }
        times.refetch = Some(Instant::now());
        self.fetch(provider, http).await
    }

    async fn fetch(
        &self,
        provider: &Provider,
        http: &reqwest::Client,
    ) -> Result<Arc<KeySet>, Error> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(jwks_uri = %provider.jwks_uri, "fetching JWKS");
        let body = get_json_bytes(http, provider.jwks_uri.as_str(), Endpoint::Jwks).await?;
        let keys = KeySet::parse(&body).map_err(|detail| TransportError::UnexpectedResponse {
            endpoint: Endpoint::Jwks,
            url: Some(provider.jwks_uri.to_string()),
            status: Some(200),
            detail,
        })?;
        let keys = Arc::new(keys);
        if let Ok(mut k) = self.keys.write() {
            *k = Some(Arc::clone(&keys));
        }
        Ok(keys)
    }
}
