//! # logto-dev — a development-only identity provider that speaks Logto's dialect
//!
//! **For development and tests only. Never use it as a production identity provider.**
//! It keeps everything in memory, stores plain-text passwords from a seed file, and accepts
//! `:*` port wildcards in redirect URIs (real Logto requires exact URIs).
//!
//! It imitates a Logto OSS 1.42 server on the wire — discovery, JWKS (ES384 by default,
//! RS256 selectable), `/oidc/auth` with a plain HTML sign-in form, `/oidc/token`
//! (`authorization_code` with PKCE S256, `refresh_token` with `resource`, `organization_id`
//! and `scope`), `/oidc/me`, `/oidc/session/end` (a page submitting itself to
//! `/oidc/session/end/confirm`), `/oidc/token/revocation`, back-channel logout,
//! `client_credentials` for a machine-to-machine application, and the part of the
//! Management API (`/api/*`) that organization self-service uses (members, their roles,
//! invitations, one-time tokens, users) — with Logto's token shapes, refresh-token policy (the same token back for a Traditional web
//! app, rotation for public clients) and error bodies. A conformance test of the real-Logto
//! tier (`tests/conformance`, binary `real_logto`) sends the same requests to a real Logto
//! and to logto-dev and compares the answers; `tests/fixtures/README.md` lists what still
//! differs on purpose.
//!
//! ```no_run
//! # async fn run() -> Result<(), logto_dev::Error> {
//! let idp = logto_dev::serve(
//!     logto_dev::Seed::demo(),
//!     logto_dev::Settings::default(),
//!     "127.0.0.1:0".parse().map_err(|_| logto_dev::Error::NoKey)?,
//! )
//! .await?;
//! println!("LOGTO_ENDPOINT={}", idp.endpoint());
//! idp.stop().await;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod auth;
mod backchannel;
mod claims;
mod directory;
mod error;
mod keys;
mod management;
mod oidc;
mod seed;
mod server;
mod settings;
mod state;
pub mod testing;
mod token;

pub use directory::InvitationMessage;
pub use error::Error;
pub use seed::{
    ApiResource, AppType, Application, Member, Organization, OrganizationRole, Seed, SeedError,
    SsoConnector, TenantSpec, User, UserRole,
};
pub use server::{DEVELOPMENT_ONLY_WARNING, DevIdp, serve, serve_demo};
pub use settings::{RefreshPolicy, Settings, SigningAlg};
pub use state::{Counters, Endpoint};
