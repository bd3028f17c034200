//! Per-user state: the [`Storage`] trait and [`InMemoryStorage`].
//!
//! A [`crate::LogtoClient`] holds no per-user state: every call takes the storage of
//! the user it acts for. A web application keeps one storage value per browser
//! session (e.g. a row in its session table); a CLI keeps one.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StorageError;
use crate::scopes::build_organization_urn;
use crate::secret::{AccessToken, CodeVerifier, IdToken, RefreshToken};
use crate::types::{OrganizationId, ResourceIndicator};

#[cfg(test)]
mod tests;

/// A sign-in in progress, saved by [`crate::LogtoClient::sign_in`] and taken (once)
/// by [`crate::LogtoClient::handle_sign_in_callback`].
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use logto_client::{CodeVerifier, InMemoryStorage, SignInSession, Storage};
///
/// let storage = InMemoryStorage::new();
/// let session = SignInSession {
///     state: "state-1".into(),
///     nonce: "nonce-1".into(),
///     code_verifier: CodeVerifier::new("verifier"),
///     redirect_uri: "https://app.example.com/callback".into(),
///     created_at: 1_800_000_000,
///     app_state: None,
/// };
/// storage.save_sign_in_session(&session).await?;
/// // Taken once: a replayed callback finds nothing.
/// assert!(storage.take_sign_in_session("state-1").await?.is_some());
/// assert!(storage.take_sign_in_session("state-1").await?.is_none());
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct SignInSession {
    /// The `state` sent (≥ 256 bits, base64url): the key of the session.
    pub state: String,
    /// The `nonce` sent; the ID token must carry it.
    pub nonce: String,
    /// The PKCE verifier.
    pub code_verifier: CodeVerifier,
    /// The `redirect_uri` sent.
    pub redirect_uri: String,
    /// When the sign-in started (Unix seconds).
    pub created_at: i64,
    /// Opaque caller data given back by the callback (e.g. a `return_to` path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_state: Option<serde_json::Value>,
}

impl fmt::Debug for SignInSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInSession")
            .field("state", &"[redacted]")
            .field("nonce", &"[redacted]")
            .field("code_verifier", &self.code_verifier)
            .field("redirect_uri", &self.redirect_uri)
            .field("created_at", &self.created_at)
            .field("app_state", &self.app_state)
            .finish()
    }
}

/// The tokens of a signed-in user: the (verified) ID token and the refresh token.
///
/// ```
/// use logto_client::{IdToken, RefreshToken, TokenSet};
///
/// let tokens = TokenSet {
///     id_token: IdToken::new("eyJ..."),
///     refresh_token: Some(RefreshToken::new("rt-1")),
/// };
/// // Storable as JSON (the tokens are secrets: encrypt them at rest).
/// let json = serde_json::to_string(&tokens)?;
/// assert_eq!(json, r#"{"id_token":"eyJ...","refresh_token":"rt-1"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenSet {
    /// The latest verified ID token.
    pub id_token: IdToken,
    /// The latest refresh token (rotated ones replace it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
}

/// Which access token: for an API resource, an organization, both, or neither
/// (the opaque token for the userinfo endpoint).
///
/// ```
/// use logto_client::{AccessTokenKey, ResourceIndicator};
///
/// let api = ResourceIndicator::parse("https://api.example.com")?;
/// assert_eq!(AccessTokenKey::userinfo().cache_key(), "@");
/// assert_eq!(AccessTokenKey::resource(api.clone()).cache_key(), "@https://api.example.com");
/// assert_eq!(AccessTokenKey::organization("org1").cache_key(), "@#org1");
/// assert_eq!(
///     AccessTokenKey::organization_resource(api, "org1").cache_key(),
///     "@https://api.example.com#org1"
/// );
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct AccessTokenKey {
    /// The API resource indicator, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceIndicator>,
    /// The organization id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<OrganizationId>,
}

impl AccessTokenKey {
    /// The userinfo (no resource) token.
    ///
    /// ```
    /// use logto_client::AccessTokenKey;
    ///
    /// let key = AccessTokenKey::userinfo();
    /// assert!(key.resource.is_none() && key.organization_id.is_none());
    /// ```
    pub fn userinfo() -> Self {
        Self::default()
    }
    /// A token for an API resource.
    ///
    /// ```
    /// use logto_client::{AccessTokenKey, ResourceIndicator};
    ///
    /// let key = AccessTokenKey::resource(ResourceIndicator::parse("https://api.example.com")?);
    /// assert_eq!(key.audience().as_deref(), Some("https://api.example.com"));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn resource(resource: ResourceIndicator) -> Self {
        Self {
            resource: Some(resource),
            organization_id: None,
        }
    }
    /// An organization token.
    ///
    /// ```
    /// use logto_client::AccessTokenKey;
    ///
    /// let key = AccessTokenKey::organization("org-acme");
    /// assert_eq!(key.audience().as_deref(), Some("urn:logto:organization:org-acme"));
    /// ```
    pub fn organization(organization_id: impl Into<OrganizationId>) -> Self {
        Self {
            resource: None,
            organization_id: Some(organization_id.into()),
        }
    }
    /// An organization-scoped API resource token.
    ///
    /// ```
    /// use logto_client::{AccessTokenKey, ResourceIndicator};
    ///
    /// let api = ResourceIndicator::parse("https://api.example.com")?;
    /// let key = AccessTokenKey::organization_resource(api, "org-acme");
    /// assert_eq!(key.audience().as_deref(), Some("https://api.example.com"));
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub fn organization_resource(
        resource: ResourceIndicator,
        organization_id: impl Into<OrganizationId>,
    ) -> Self {
        Self {
            resource: Some(resource),
            organization_id: Some(organization_id.into()),
        }
    }
    /// A key; an empty organization id counts as absent.
    ///
    /// ```
    /// use logto_client::{AccessTokenKey, OrganizationId};
    ///
    /// let key = AccessTokenKey::new(None, Some(OrganizationId::from("")));
    /// assert_eq!(key, AccessTokenKey::userinfo());
    /// ```
    pub fn new(
        resource: Option<ResourceIndicator>,
        organization_id: Option<OrganizationId>,
    ) -> Self {
        Self {
            resource,
            organization_id: organization_id.filter(|s| !s.is_empty()),
        }
    }

    /// The stable string form, used as the cache key. It follows the SDK convention
    /// `@{resource}` plus `#{organization_id}`: `"@"` (userinfo),
    /// `"@https://api.example.com"`, `"@#org1"`, `"@https://api.example.com#org1"`.
    ///
    /// ```
    /// use logto_client::AccessTokenKey;
    ///
    /// assert_eq!(AccessTokenKey::organization("org1").cache_key(), "@#org1");
    /// ```
    pub fn cache_key(&self) -> String {
        let mut s = String::from("@");
        if let Some(r) = &self.resource {
            s.push_str(r.as_str());
        }
        if let Some(o) = &self.organization_id {
            s.push('#');
            s.push_str(o.as_str());
        }
        s
    }

    /// The `aud` the token carries: the resource, else `urn:logto:organization:{id}`,
    /// else `None` (the opaque userinfo token).
    ///
    /// ```
    /// use logto_client::AccessTokenKey;
    ///
    /// assert_eq!(AccessTokenKey::userinfo().audience(), None);
    /// assert_eq!(
    ///     AccessTokenKey::organization("org1").audience().as_deref(),
    ///     Some("urn:logto:organization:org1")
    /// );
    /// ```
    pub fn audience(&self) -> Option<String> {
        match (&self.resource, &self.organization_id) {
            (Some(r), _) => Some(r.as_str().to_owned()),
            (None, Some(o)) => Some(build_organization_urn(o)),
            (None, None) => None,
        }
    }
}

/// An access token in the cache.
///
/// ```
/// use logto_client::{AccessToken, CachedAccessToken};
///
/// let cached = CachedAccessToken {
///     token: AccessToken::new("eyJ..."),
///     expires_at: 1_800_003_600,
///     scope: "read:reports".into(),
///     obtained_at: 1_800_000_000,
/// };
/// assert_eq!(cached.expires_at - cached.obtained_at, 3600);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedAccessToken {
    /// The token.
    pub token: AccessToken,
    /// When it expires (Unix seconds): the JWT's `exp` when present, else `expires_in` from the response.
    pub expires_at: i64,
    /// The granted scopes (space separated), as the token endpoint said.
    #[serde(default)]
    pub scope: String,
    /// When it was obtained (Unix seconds).
    pub obtained_at: i64,
}

/// Where the client keeps one user's state.
///
/// Implementations must be cheap to call concurrently. Single-flight refresh is the
/// implementation's duty through [`Storage::lock_for_refresh`]: the client re-reads
/// the tokens under the returned guard, refreshes only if still needed, and commits
/// the rotated refresh token, the new ID token and the new access token together.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use logto_client::{IdToken, InMemoryStorage, Storage, StorageError, TokenSet};
///
/// /// Works with any storage: the in-memory one, logto-actix's PostgreSQL one, …
/// async fn user_is_signed_in(storage: &(impl Storage + ?Sized)) -> Result<bool, StorageError> {
///     Ok(storage.load_tokens().await?.is_some())
/// }
///
/// let storage = InMemoryStorage::new();
/// assert!(!user_is_signed_in(&storage).await?);
/// storage
///     .save_tokens(&TokenSet { id_token: IdToken::new("eyJ..."), refresh_token: None })
///     .await?;
/// assert!(user_is_signed_in(&storage).await?);
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[async_trait]
pub trait Storage: Send + Sync {
    /// Saves a sign-in transaction, keyed by its `state` (several tabs never overwrite each other).
    async fn save_sign_in_session(&self, session: &SignInSession) -> Result<(), StorageError>;
    /// Atomically removes and returns the sign-in session of `state` (single use:
    /// a replayed callback finds nothing).
    async fn take_sign_in_session(
        &self,
        state: &str,
    ) -> Result<Option<SignInSession>, StorageError>;
    /// The tokens of the signed-in user, if any.
    async fn load_tokens(&self) -> Result<Option<TokenSet>, StorageError>;
    /// Replaces the tokens (after sign-in).
    async fn save_tokens(&self, tokens: &TokenSet) -> Result<(), StorageError>;
    /// A cached access token.
    async fn get_access_token(
        &self,
        key: &AccessTokenKey,
    ) -> Result<Option<CachedAccessToken>, StorageError>;
    /// Caches an access token.
    async fn set_access_token(
        &self,
        key: &AccessTokenKey,
        token: &CachedAccessToken,
    ) -> Result<(), StorageError>;
    /// Drops one cached access token.
    async fn remove_access_token(&self, key: &AccessTokenKey) -> Result<(), StorageError>;
    /// Drops every cached access token.
    async fn clear_access_tokens(&self) -> Result<(), StorageError>;
    /// Drops everything of this user (tokens, access tokens; sign-in sessions may stay).
    async fn clear(&self) -> Result<(), StorageError>;
    /// Takes this user's refresh lock and returns a guard holding it (in-memory: an
    /// owned async mutex guard; a database: a transaction holding a lock, e.g. a
    /// transaction-scoped advisory lock keyed by the user's session).
    async fn lock_for_refresh(&self) -> Result<Box<dyn RefreshGuard + '_>, StorageError>;
    /// An identity of this user's token set, used to coalesce concurrent refreshes
    /// of the same user and audience inside one client. `None` disables coalescing.
    fn session_key(&self) -> Option<String> {
        None
    }
}

/// The refresh lock of one user, returned by [`Storage::lock_for_refresh`].
///
/// Dropping it without [`RefreshGuard::commit`] or [`RefreshGuard::clear`] releases
/// the lock and changes nothing (rollback).
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use logto_client::{
///     AccessToken, AccessTokenKey, CachedAccessToken, IdToken, InMemoryStorage, RefreshToken,
///     Storage, TokenSet,
/// };
///
/// let storage = InMemoryStorage::new();
/// // What the client does around a refresh grant:
/// let mut guard = storage.lock_for_refresh().await?;
/// let _current = guard.load_tokens().await?; // re-read under the lock
/// let refreshed = TokenSet {
///     id_token: IdToken::new("eyJ...new"),
///     refresh_token: Some(RefreshToken::new("rt-2")),
/// };
/// let token = CachedAccessToken {
///     token: AccessToken::new("eyJ...at"),
///     expires_at: 1_800_003_600,
///     scope: String::new(),
///     obtained_at: 1_800_000_000,
/// };
/// guard.commit(&refreshed, &AccessTokenKey::userinfo(), &token).await?;
/// assert!(storage.load_tokens().await?.is_some());
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[async_trait]
pub trait RefreshGuard: Send {
    /// The tokens, as they are now (another process may have refreshed meanwhile).
    async fn load_tokens(&mut self) -> Result<Option<TokenSet>, StorageError>;
    /// A cached access token, as it is now.
    async fn get_access_token(
        &mut self,
        key: &AccessTokenKey,
    ) -> Result<Option<CachedAccessToken>, StorageError>;
    /// Stores the refreshed tokens and the new access token together, and releases the lock.
    async fn commit(
        self: Box<Self>,
        tokens: &TokenSet,
        key: &AccessTokenKey,
        token: &CachedAccessToken,
    ) -> Result<(), StorageError>;
    /// The refresh token is dead (`invalid_grant`): removes the user's tokens and releases the lock.
    async fn clear(self: Box<Self>) -> Result<(), StorageError>;
}

#[derive(Default)]
struct MemoryState {
    sessions: HashMap<String, SignInSession>,
    tokens: Option<TokenSet>,
    access_tokens: HashMap<String, CachedAccessToken>,
}

struct MemoryInner {
    id: String,
    state: Mutex<MemoryState>,
    refresh_lock: Arc<tokio::sync::Mutex<()>>,
}

impl MemoryInner {
    fn lock(&self) -> Result<MutexGuard<'_, MemoryState>, StorageError> {
        self.state
            .lock()
            .map_err(|_| StorageError::new("in-memory storage mutex poisoned"))
    }
}

/// An in-memory [`Storage`] for one user: clones share the same state.
///
/// Refresh is single-flight through an async mutex.
///
/// ```
/// use logto_client::InMemoryStorage;
///
/// let storage = InMemoryStorage::new(); // one per user (per browser session)
/// let same_user = storage.clone(); // shares the state
/// assert_eq!(same_user.pending_sign_ins(), storage.pending_sign_ins());
/// ```
#[derive(Clone)]
pub struct InMemoryStorage {
    inner: Arc<MemoryInner>,
}

impl fmt::Debug for InMemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryStorage")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryStorage {
    /// An empty storage.
    ///
    /// ```
    /// use logto_client::InMemoryStorage;
    ///
    /// assert_eq!(InMemoryStorage::new().pending_sign_ins(), 0);
    /// ```
    pub fn new() -> Self {
        use rand::Rng;
        let id: u128 = rand::thread_rng().r#gen();
        Self {
            inner: Arc::new(MemoryInner {
                id: format!("mem-{id:032x}"),
                state: Mutex::new(MemoryState::default()),
                refresh_lock: Arc::new(tokio::sync::Mutex::new(())),
            }),
        }
    }

    /// How many sign-in sessions are pending.
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use logto_client::{CodeVerifier, InMemoryStorage, SignInSession, Storage};
    ///
    /// let storage = InMemoryStorage::new();
    /// let session = SignInSession {
    ///     state: "state-1".into(),
    ///     nonce: "nonce-1".into(),
    ///     code_verifier: CodeVerifier::new("verifier"),
    ///     redirect_uri: "https://app.example.com/callback".into(),
    ///     created_at: 1_800_000_000,
    ///     app_state: None,
    /// };
    /// storage.save_sign_in_session(&session).await?;
    /// assert_eq!(storage.pending_sign_ins(), 1);
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(run()).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pending_sign_ins(&self) -> usize {
        self.inner.lock().map(|s| s.sessions.len()).unwrap_or(0)
    }
}

#[async_trait]
impl Storage for InMemoryStorage {
    async fn save_sign_in_session(&self, session: &SignInSession) -> Result<(), StorageError> {
        self.inner
            .lock()?
            .sessions
            .insert(session.state.clone(), session.clone());
        Ok(())
    }
    async fn take_sign_in_session(
        &self,
        state: &str,
    ) -> Result<Option<SignInSession>, StorageError> {
        Ok(self.inner.lock()?.sessions.remove(state))
    }
    async fn load_tokens(&self) -> Result<Option<TokenSet>, StorageError> {
        Ok(self.inner.lock()?.tokens.clone())
    }
    async fn save_tokens(&self, tokens: &TokenSet) -> Result<(), StorageError> {
        self.inner.lock()?.tokens = Some(tokens.clone());
        Ok(())
    }
    async fn get_access_token(
        &self,
        key: &AccessTokenKey,
    ) -> Result<Option<CachedAccessToken>, StorageError> {
        Ok(self
            .inner
            .lock()?
            .access_tokens
            .get(&key.cache_key())
            .cloned())
    }
    async fn set_access_token(
        &self,
        key: &AccessTokenKey,
        token: &CachedAccessToken,
    ) -> Result<(), StorageError> {
        self.inner
            .lock()?
            .access_tokens
            .insert(key.cache_key(), token.clone());
        Ok(())
    }
    async fn remove_access_token(&self, key: &AccessTokenKey) -> Result<(), StorageError> {
        self.inner.lock()?.access_tokens.remove(&key.cache_key());
        Ok(())
    }
    async fn clear_access_tokens(&self) -> Result<(), StorageError> {
        self.inner.lock()?.access_tokens.clear();
        Ok(())
    }
    async fn clear(&self) -> Result<(), StorageError> {
        let mut s = self.inner.lock()?;
        s.tokens = None;
        s.access_tokens.clear();
        Ok(())
    }
    async fn lock_for_refresh(&self) -> Result<Box<dyn RefreshGuard + '_>, StorageError> {
        let guard = Arc::clone(&self.inner.refresh_lock).lock_owned().await;
        Ok(Box::new(MemoryRefreshGuard {
            inner: Arc::clone(&self.inner),
            _guard: guard,
        }))
    }
    fn session_key(&self) -> Option<String> {
        Some(self.inner.id.clone())
    }
}

struct MemoryRefreshGuard {
    inner: Arc<MemoryInner>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

#[async_trait]
impl RefreshGuard for MemoryRefreshGuard {
    async fn load_tokens(&mut self) -> Result<Option<TokenSet>, StorageError> {
        Ok(self.inner.lock()?.tokens.clone())
    }
    async fn get_access_token(
        &mut self,
        key: &AccessTokenKey,
    ) -> Result<Option<CachedAccessToken>, StorageError> {
        Ok(self
            .inner
            .lock()?
            .access_tokens
            .get(&key.cache_key())
            .cloned())
    }
    async fn commit(
        self: Box<Self>,
        tokens: &TokenSet,
        key: &AccessTokenKey,
        token: &CachedAccessToken,
    ) -> Result<(), StorageError> {
        let mut s = self.inner.lock()?;
        s.tokens = Some(tokens.clone());
        s.access_tokens.insert(key.cache_key(), token.clone());
        Ok(())
    }
    async fn clear(self: Box<Self>) -> Result<(), StorageError> {
        let mut s = self.inner.lock()?;
        s.tokens = None;
        s.access_tokens.clear();
        Ok(())
    }
}
