//! The [`logto_client::Storage`] of one browser, built on a [`KeyValueStore`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use logto_client::{
    AccessTokenKey, CachedAccessToken, RefreshGuard, SignInSession, Storage, StorageError, TokenSet,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::{KeyValueStore, LockGuard};

type AccessTokens = HashMap<String, CachedAccessToken>;

/// Async mutexes per key, for single-flight refresh inside one process.
#[derive(Default)]
pub(crate) struct Locks(Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl Locks {
    fn get(&self, key: &str) -> Result<Arc<tokio::sync::Mutex<()>>, StorageError> {
        let mut map = self
            .0
            .lock()
            .map_err(|_| StorageError::new("refresh lock registry poisoned"))?;
        if let Some(lock) = map.get(key).and_then(Weak::upgrade) {
            return Ok(lock);
        }
        if map.len() >= 1024 && map.len().is_power_of_two() {
            map.retain(|_, weak| weak.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(key.to_owned(), Arc::downgrade(&lock));
        Ok(lock)
    }
}

/// The [`logto_client::Storage`] of one browser: its pending sign-ins (keyed by
/// a random browser id) and its tokens (keyed by a random login id), both kept
/// in the application's [`KeyValueStore`], never in the session cookie.
///
/// Refresh is single-flight: [`Storage::lock_for_refresh`] takes the store's
/// own lock ([`KeyValueStore::lock`]) or else an async mutex of this login
/// inside the process.
///
/// Handlers get it from an extractor, to call any method of
/// [`logto_client::LogtoClient`] the extractors do not wrap:
///
/// ```no_run
/// use actix_web::HttpResponse;
/// use logto_actix::{Authenticated, Error};
///
/// async fn refresh_roles(auth: Authenticated) -> Result<HttpResponse, Error> {
///     let key = logto_client::AccessTokenKey::organization("org-acme");
///     auth.client()
///         .refresh_access_token(auth.storage(), &key)
///         .await
///         .map_err(|e| auth.error(e))?;
///     Ok(HttpResponse::Ok().finish())
/// }
/// ```
#[derive(Clone)]
pub struct SessionStorage {
    kv: Arc<dyn KeyValueStore>,
    locks: Arc<Locks>,
    browser_id: String,
    login_id: String,
    token_ttl: Duration,
    sign_in_ttl: Duration,
}

impl fmt::Debug for SessionStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStorage").finish_non_exhaustive()
    }
}

fn decode<T: DeserializeOwned>(raw: Option<String>) -> Result<Option<T>, StorageError> {
    raw.map(|s| {
        serde_json::from_str(&s).map_err(|e| StorageError::with_source("corrupt stored value", e))
    })
    .transpose()
}

fn encode<T: Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError::with_source("cannot serialize", e))
}

impl SessionStorage {
    pub(crate) fn new(
        kv: Arc<dyn KeyValueStore>,
        locks: Arc<Locks>,
        browser_id: String,
        login_id: String,
        token_ttl: Duration,
        sign_in_ttl: Duration,
    ) -> Self {
        Self {
            kv,
            locks,
            browser_id,
            login_id,
            token_ttl,
            sign_in_ttl,
        }
    }

    fn sign_in_key(&self, state: &str) -> String {
        format!("logto:signin:{}:{state}", self.browser_id)
    }
    fn tokens_key(&self) -> String {
        format!("logto:tokens:{}", self.login_id)
    }
    fn access_key(&self) -> String {
        format!("logto:access:{}", self.login_id)
    }

    async fn access_tokens(&self) -> Result<AccessTokens, StorageError> {
        Ok(decode(self.kv.get(&self.access_key()).await?)?.unwrap_or_default())
    }

    async fn save_access_tokens(&self, tokens: &AccessTokens) -> Result<(), StorageError> {
        self.kv
            .set(&self.access_key(), encode(tokens)?, self.token_ttl)
            .await
    }

    async fn remove_all(&self) -> Result<(), StorageError> {
        self.kv.delete(&self.tokens_key()).await?;
        self.kv.delete(&self.access_key()).await
    }
}

#[async_trait]
impl Storage for SessionStorage {
    async fn save_sign_in_session(&self, session: &SignInSession) -> Result<(), StorageError> {
        self.kv
            .set(
                &self.sign_in_key(&session.state),
                encode(session)?,
                self.sign_in_ttl,
            )
            .await
    }
    async fn take_sign_in_session(
        &self,
        state: &str,
    ) -> Result<Option<SignInSession>, StorageError> {
        decode(self.kv.take(&self.sign_in_key(state)).await?)
    }
    async fn load_tokens(&self) -> Result<Option<TokenSet>, StorageError> {
        decode(self.kv.get(&self.tokens_key()).await?)
    }
    async fn save_tokens(&self, tokens: &TokenSet) -> Result<(), StorageError> {
        self.kv
            .set(&self.tokens_key(), encode(tokens)?, self.token_ttl)
            .await
    }
    async fn get_access_token(
        &self,
        key: &AccessTokenKey,
    ) -> Result<Option<CachedAccessToken>, StorageError> {
        Ok(self.access_tokens().await?.remove(&key.cache_key()))
    }
    async fn set_access_token(
        &self,
        key: &AccessTokenKey,
        token: &CachedAccessToken,
    ) -> Result<(), StorageError> {
        // A lost update between two concurrent writers loses a cache entry
        // only: the next request refreshes it.
        let mut tokens = self.access_tokens().await?;
        tokens.insert(key.cache_key(), token.clone());
        self.save_access_tokens(&tokens).await
    }
    async fn remove_access_token(&self, key: &AccessTokenKey) -> Result<(), StorageError> {
        let mut tokens = self.access_tokens().await?;
        if tokens.remove(&key.cache_key()).is_some() {
            self.save_access_tokens(&tokens).await?;
        }
        Ok(())
    }
    async fn clear_access_tokens(&self) -> Result<(), StorageError> {
        self.kv.delete(&self.access_key()).await
    }
    async fn clear(&self) -> Result<(), StorageError> {
        self.remove_all().await
    }
    async fn lock_for_refresh(&self) -> Result<Box<dyn RefreshGuard + '_>, StorageError> {
        let key = format!("logto:refresh:{}", self.login_id);
        let lock: Box<dyn LockGuard> = match self.kv.lock(&key).await? {
            Some(guard) => guard,
            None => Box::new(self.locks.get(&key)?.lock_owned().await),
        };
        Ok(Box::new(Guard {
            storage: self.clone(),
            _lock: lock,
        }))
    }
    fn session_key(&self) -> Option<String> {
        Some(self.login_id.clone())
    }
}

struct Guard {
    storage: SessionStorage,
    _lock: Box<dyn LockGuard>,
}

#[async_trait]
impl RefreshGuard for Guard {
    async fn load_tokens(&mut self) -> Result<Option<TokenSet>, StorageError> {
        self.storage.load_tokens().await
    }
    async fn get_access_token(
        &mut self,
        key: &AccessTokenKey,
    ) -> Result<Option<CachedAccessToken>, StorageError> {
        self.storage.get_access_token(key).await
    }
    async fn commit(
        self: Box<Self>,
        tokens: &TokenSet,
        key: &AccessTokenKey,
        token: &CachedAccessToken,
    ) -> Result<(), StorageError> {
        self.storage.save_tokens(tokens).await?;
        self.storage.set_access_token(key, token).await
    }
    async fn clear(self: Box<Self>) -> Result<(), StorageError> {
        self.storage.remove_all().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    fn storage(kv: &MemoryStore, locks: &Arc<Locks>, login: &str) -> SessionStorage {
        SessionStorage::new(
            Arc::new(kv.clone()),
            Arc::clone(locks),
            "browser".into(),
            login.into(),
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
    }

    #[tokio::test]
    async fn refresh_is_single_flight_per_login() {
        let kv = MemoryStore::new(100);
        let locks = Arc::new(Locks::default());
        let a = storage(&kv, &locks, "one");
        let same = storage(&kv, &locks, "one");
        let other = storage(&kv, &locks, "two");
        let guard = a.lock_for_refresh().await.unwrap();
        // Another login is not blocked.
        let other_guard = other.lock_for_refresh().await.unwrap();
        drop(other_guard);
        // The same login waits until the first guard goes (polled once: pending).
        let busy = tokio::time::timeout(Duration::ZERO, same.lock_for_refresh()).await;
        assert!(busy.is_err(), "the lock of this login is held");
        drop(guard);
        let free = tokio::time::timeout(Duration::ZERO, same.lock_for_refresh()).await;
        assert!(free.is_ok(), "the lock is free again");
    }

    #[tokio::test]
    async fn access_tokens_are_kept_per_key_and_cleared_together() {
        let kv = MemoryStore::new(100);
        let locks = Arc::new(Locks::default());
        let s = storage(&kv, &locks, "one");
        let token = CachedAccessToken {
            token: logto_client::AccessToken::new("t"),
            expires_at: 10,
            scope: String::new(),
            obtained_at: 0,
        };
        let a = AccessTokenKey::resource("https://a".parse().unwrap());
        let b = AccessTokenKey::organization("org");
        s.set_access_token(&a, &token).await.unwrap();
        s.set_access_token(&b, &token).await.unwrap();
        assert!(s.get_access_token(&a).await.unwrap().is_some());
        s.remove_access_token(&a).await.unwrap();
        assert!(s.get_access_token(&a).await.unwrap().is_none());
        assert!(s.get_access_token(&b).await.unwrap().is_some());
        s.clear().await.unwrap();
        assert!(s.get_access_token(&b).await.unwrap().is_none());
    }
}
