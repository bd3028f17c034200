//! Where tokens live: the [`KeyValueStore`] trait and the in-memory [`MemoryStore`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hashlink::LruCache;
use logto_client::StorageError;

/// A small async key-value store: the only thing a custom token store has to
/// provide. [`crate::LogtoAuth`] builds the full [`logto_client::Storage`] of
/// every signed-in browser on top of it ([`crate::SessionStorage`]).
///
/// Keys are short ASCII strings (a random id of the browser plus a suffix);
/// values are JSON. Tokens are never written to the session cookie: the cookie
/// carries only the random id.
///
/// # Example: a custom store in about ten lines
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::Duration;
///
/// use logto_actix::{KeyValueStore, StorageError, async_trait};
///
/// /// A store without expiry (a real one would call Redis, a database…).
/// #[derive(Default)]
/// struct MapStore(Mutex<HashMap<String, String>>);
///
/// #[async_trait]
/// impl KeyValueStore for MapStore {
///     async fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
///         let map = self.0.lock().map_err(|_| StorageError::new("poisoned"))?;
///         Ok(map.get(key).cloned())
///     }
///     async fn set(&self, key: &str, value: String, _ttl: Duration) -> Result<(), StorageError> {
///         let mut map = self.0.lock().map_err(|_| StorageError::new("poisoned"))?;
///         map.insert(key.to_owned(), value);
///         Ok(())
///     }
///     async fn delete(&self, key: &str) -> Result<(), StorageError> {
///         let mut map = self.0.lock().map_err(|_| StorageError::new("poisoned"))?;
///         map.remove(key);
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait KeyValueStore: Send + Sync + 'static {
    /// The value of `key`, or `None` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<String>, StorageError>;

    /// Stores `value` under `key` for at most `ttl`.
    async fn set(&self, key: &str, value: String, ttl: Duration) -> Result<(), StorageError>;

    /// Removes `key` (absent is not an error).
    async fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// Removes `key` and returns its value. Used for the single-use sign-in
    /// transactions; the default is [`KeyValueStore::get`] then
    /// [`KeyValueStore::delete`]. A store shared by several processes should
    /// override it with an atomic operation (`GETDEL`, `DELETE … RETURNING`).
    ///
    /// ```
    /// # use logto_actix::{KeyValueStore, MemoryStore};
    /// # async fn run() -> Result<(), logto_actix::StorageError> {
    /// let store = MemoryStore::new(100);
    /// store.set("k", "v".into(), std::time::Duration::from_secs(60)).await?;
    /// assert_eq!(store.take("k").await?.as_deref(), Some("v"));
    /// assert_eq!(store.take("k").await?, None);
    /// # Ok(()) }
    /// ```
    async fn take(&self, key: &str) -> Result<Option<String>, StorageError> {
        let value = self.get(key).await?;
        if value.is_some() {
            self.delete(key).await?;
        }
        Ok(value)
    }

    /// Takes the refresh lock of `key` for as long as the returned guard lives.
    ///
    /// The default, `None`, makes [`crate::SessionStorage`] use an async mutex
    /// per key inside this process: refreshes are single-flight within one
    /// process. A store shared by several instances (PostgreSQL with an advisory
    /// lock, Redis with a lock key) returns its own guard to make them
    /// single-flight across instances.
    ///
    /// ```
    /// # use logto_actix::{KeyValueStore, MemoryStore};
    /// # async fn run() -> Result<(), logto_actix::StorageError> {
    /// // The in-memory store relies on the in-process lock.
    /// assert!(MemoryStore::new(10).lock("login-1").await?.is_none());
    /// # Ok(()) }
    /// ```
    async fn lock(&self, key: &str) -> Result<Option<Box<dyn LockGuard>>, StorageError> {
        let _ = key;
        Ok(None)
    }
}

/// A lock held by a [`KeyValueStore::lock`] guard: dropping it releases the lock.
///
/// ```
/// use logto_actix::LockGuard;
///
/// /// Releases a (hypothetical) distributed lock when dropped.
/// struct RedisLock { /* connection, lock key */ }
/// impl LockGuard for RedisLock {}
/// ```
pub trait LockGuard: Send {}

impl LockGuard for tokio::sync::OwnedMutexGuard<()> {}

struct Entry {
    value: String,
    expires_at: Instant,
}

/// An in-memory [`KeyValueStore`] for one process: entries expire after their
/// TTL, and at most `capacity` entries are kept (the least recently used go
/// first). Clones share the same entries.
///
/// Tokens live as long as the process: after a restart every browser is
/// signed out. Several instances behind a load balancer need a shared store.
///
/// ```
/// # use logto_actix::{KeyValueStore, MemoryStore};
/// # async fn run() -> Result<(), logto_actix::StorageError> {
/// let store = MemoryStore::new(10_000);
/// store.set("a", "1".into(), std::time::Duration::from_secs(60)).await?;
/// assert_eq!(store.get("a").await?.as_deref(), Some("1"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    entries: Arc<Mutex<LruCache<String, Entry>>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    /// A store of at most 100 000 entries.
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl MemoryStore {
    /// A store of at most `capacity` entries (at least one).
    ///
    /// ```
    /// let store = logto_actix::MemoryStore::new(1_000);
    /// assert_eq!(store.len(), 0);
    /// ```
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Arc::new(Mutex::new(LruCache::new(capacity.max(1)))),
        }
    }

    /// How many entries are held (expired ones included until touched).
    ///
    /// ```
    /// assert!(logto_actix::MemoryStore::new(1).is_empty());
    /// ```
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether no entry is held.
    ///
    /// ```
    /// assert!(logto_actix::MemoryStore::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock_entries(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, LruCache<String, Entry>>, StorageError> {
        self.entries
            .lock()
            .map_err(|_| StorageError::new("in-memory store mutex poisoned"))
    }
}

#[async_trait]
impl KeyValueStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let mut entries = self.lock_entries()?;
        let expired = match entries.get(key) {
            None => return Ok(None),
            Some(entry) if entry.expires_at > Instant::now() => {
                return Ok(Some(entry.value.clone()));
            }
            Some(_) => true,
        };
        if expired {
            entries.remove(key);
        }
        Ok(None)
    }

    async fn set(&self, key: &str, value: String, ttl: Duration) -> Result<(), StorageError> {
        let now = Instant::now();
        let expires_at = now.checked_add(ttl).unwrap_or(now);
        self.lock_entries()?
            .insert(key.to_owned(), Entry { value, expires_at });
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.lock_entries()?.remove(key);
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StorageError> {
        let entry = self.lock_entries()?.remove(key);
        Ok(entry
            .filter(|e| e.expires_at > Instant::now())
            .map(|e| e.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire() {
        let store = MemoryStore::new(10);
        store.set("a", "1".into(), Duration::ZERO).await.unwrap();
        assert_eq!(store.get("a").await.unwrap(), None);
        assert_eq!(store.take("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_store_is_bounded() {
        let store = MemoryStore::new(2);
        let ttl = Duration::from_secs(60);
        store.set("a", "1".into(), ttl).await.unwrap();
        store.set("b", "2".into(), ttl).await.unwrap();
        assert!(store.get("a").await.unwrap().is_some()); // a is now the most recent
        store.set("c", "3".into(), ttl).await.unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.get("b").await.unwrap(), None);
        assert!(store.get("a").await.unwrap().is_some());
        assert!(store.get("c").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn take_is_single_use() {
        let store = MemoryStore::new(2);
        store
            .set("a", "1".into(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.take("a").await.unwrap().as_deref(), Some("1"));
        assert_eq!(store.take("a").await.unwrap(), None);
    }
}
