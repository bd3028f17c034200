//! Logto sign-in for actix-web (docs in progress).
#![warn(missing_docs)]

mod auth;
mod error;
mod extract;
mod return_to;
mod session;
mod size;
mod storage;
mod store;

pub use async_trait::async_trait;
pub use auth::{CSRF_FIELD, CSRF_HEADER, LogtoAuth};
pub use error::{Answer, Error, ErrorKind};
pub use extract::{
    ApiAuthenticated, ApiAuthenticatedWithUserInfo, Authenticated, AuthenticatedWithUserInfo,
    MaybeAuthenticated,
};
pub use logto_client::StorageError;
pub use return_to::safe_return_to;
pub use size::{SESSION_SIZE_LIMIT, check_session_size};
pub use storage::SessionStorage;
pub use store::{KeyValueStore, LockGuard, MemoryStore};
