//! One async mutex per key, for as long as anyone holds or waits for it:
//! the in-process single-flight of refresh grants (one per login), so that
//! requests waiting for a login's refresh queue here rather than in the
//! storage's cross-instance lock, where each would hold a resource (a
//! database connection, say) while it waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a request waits for another request's refresh of the same
/// user's tokens before giving up with a [`crate::StorageError`] whose
/// source is [`RefreshWaitTimedOut`].
pub(crate) const REFRESH_WAIT: Duration = Duration::from_secs(15);

/// A wait for another refresh of the same user's tokens (or for what a
/// storage needs to start one) ran out: the source of such a
/// [`crate::StorageError`], so that an application can answer "try again
/// shortly" by type rather than by message.
///
/// ```
/// use logto_client::{RefreshWaitTimedOut, StorageError};
/// let e = StorageError::with_source("waiting", RefreshWaitTimedOut::new("another refresh"));
/// let source = std::error::Error::source(&e).unwrap();
/// assert!(source.is::<RefreshWaitTimedOut>());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("timed out waiting for {what}")]
pub struct RefreshWaitTimedOut {
    what: &'static str,
}

impl RefreshWaitTimedOut {
    /// The wait for `what` ran out.
    ///
    /// ```
    /// let e = logto_client::RefreshWaitTimedOut::new("a refresh slot");
    /// assert_eq!(e.to_string(), "timed out waiting for a refresh slot");
    /// ```
    pub fn new(what: &'static str) -> Self {
        Self { what }
    }
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct KeyedMutex {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds the key's lock; the key's entry goes when its last holder or waiter
/// does.
pub(crate) struct KeyedGuard<'a> {
    owner: &'a KeyedMutex,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedMutex {
    /// Waits for the lock of `key`.
    pub(crate) async fn lock(&self, key: String) -> KeyedGuard<'_> {
        let mutex = Arc::clone(
            self.locks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key.clone())
                .or_default(),
        );
        let guard = mutex.lock_owned().await;
        KeyedGuard {
            owner: self,
            key,
            guard: Some(guard),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        // The guard holds a reference to the mutex too: let go of it first.
        self.guard = None;
        let mut locks = self
            .owner
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if locks
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_holder_per_key_and_no_entry_left_behind() {
        let locks = KeyedMutex::default();
        let a = locks.lock("a".into()).await;
        // Another key is free; the same key waits.
        drop(locks.lock("b".into()).await);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), locks.lock("a".into()))
                .await
                .is_err()
        );
        assert_eq!(locks.len(), 1, "a waiter that gave up leaves nothing");
        drop(a);
        assert_eq!(locks.len(), 0);
        drop(locks.lock("a".into()).await);
        assert_eq!(locks.len(), 0);
    }
}
