//! Logto sign-in for actix-web: what `@logto/express` is for Express, secure
//! by default. It builds on [`logto_client`] (the framework-agnostic client).
//!
//! The sections below follow Logto's Python quick-start; the runnable version
//! is `cargo run -p logto-actix --example quickstart` (it starts the
//! development identity provider `logto-dev` in-process; sign in as `alice` /
//! `alice-password`).
//!
//! # Integration
//!
//! ## Init LogtoClient
//!
//! One [`logto_client::LogtoClient`] per process, wrapped in a [`LogtoAuth`]
//! with a token store ([`MemoryStore`], or your own [`KeyValueStore`]) and the
//! application's base URL. actix-session's `SessionMiddleware` must wrap the
//! app; any session store works, the cookie one included, because the session
//! holds only random ids and the CSRF token, never a token.
//!
//! ```no_run
//! use actix_session::{SessionMiddleware, storage::CookieSessionStore};
//! use actix_web::{App, HttpServer, cookie::Key, middleware::from_fn};
//! use logto_actix::{LogtoAuth, MemoryStore, check_session_size};
//! use logto_client::{AppSecret, LogtoClient, LogtoConfig};
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = LogtoConfig::new(
//!         "https://tenant.logto.app",
//!         "app-id",
//!         Some(AppSecret::new("app-secret")),
//!     )?;
//!     let auth = LogtoAuth::new(
//!         LogtoClient::new(config)?,
//!         MemoryStore::default(),
//!         "http://localhost:3000",
//!     )?;
//!     let key = Key::generate(); // load it from configuration in production
//!     HttpServer::new(move || {
//!         App::new()
//!             .configure(auth.routes()) // /sign-in, /callback, POST /sign-out
//!             // .route("/", web::get().to(home)) …
//!             .wrap(from_fn(check_session_size))
//!             .wrap(SessionMiddleware::new(CookieSessionStore::default(), key.clone()))
//!     })
//!     .bind(("127.0.0.1", 3000))?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! ## Implement sign-in and sign-out routes
//!
//! [`LogtoAuth::routes`] mounts them (paths configurable with
//! [`LogtoAuth::sign_in_path`], [`LogtoAuth::callback_path`],
//! [`LogtoAuth::sign_out_path`]). Register `http://localhost:3000/callback` as
//! the redirect URI and `http://localhost:3000/` as the post sign-out redirect
//! URI of the Logto application. What they do for you:
//!
//! * `GET /sign-in?return_to=/orders` keeps `return_to` only when it is a
//!   same-origin path ([`safe_return_to`]: one leading `/`, no `//`, no
//!   backslash);
//! * `GET /callback` renews the session id (`Session::renew`, against session
//!   fixation), issues a new CSRF token, and answers
//!   `Referrer-Policy: no-referrer` (its URL carries the authorization code);
//! * sign-out is a `POST` with the session's CSRF token (field `csrf`, or the
//!   `X-CSRF-Token` header); a `GET` is answered 405, so a link or an image on
//!   another site cannot sign your users out.
//!
//! ```no_run
//! async fn home(user: logto_actix::MaybeAuthenticated) -> actix_web::web::Html {
//!     actix_web::web::Html::new(match &user.0 {
//!         Some(auth) => format!(
//!             r#"<form method="post" action="{}"><input type="hidden" name="csrf" value="{}">
//!                <button>Sign out</button></form>"#,
//!             auth.sign_out_path(),
//!             auth.csrf_token()
//!         ),
//!         None => r#"<a href="/sign-in">Sign in</a>"#.to_owned(),
//!     })
//! }
//! ```
//!
//! ## Checkpoint: Test your application
//!
//! Run the example, open the URL it prints, sign in and out. The end-to-end
//! test `tests/quickstart.rs` does the same with a scripted browser.
//!
//! # Display authentication status
//!
//! The extractors are the Rust form of `@authenticated(shouldRedirect,
//! fetchUserInfo)`: [`Authenticated`] redirects a signed-out page to sign-in,
//! [`ApiAuthenticated`] answers 401 JSON; [`MaybeAuthenticated`] redirects
//! nobody (the `home` above).
//!
//! # Get user information
//!
//! ## Display user information
//!
//! The ID token's claims need no network call; [`AuthenticatedWithUserInfo`]
//! (and [`ApiAuthenticatedWithUserInfo`]) fetch the user info from Logto.
//!
//! ```no_run
//! use actix_web::web::Json;
//! use logto_actix::{Authenticated, AuthenticatedWithUserInfo};
//!
//! async fn claims(auth: Authenticated) -> Json<logto_client::IdTokenClaims> {
//!     Json(auth.claims().clone())
//! }
//!
//! async fn user_info(auth: AuthenticatedWithUserInfo) -> Json<logto_client::UserInfo> {
//!     Json(auth.user_info.clone())
//! }
//! ```
//!
//! ## Request additional scopes and claims
//!
//! Scopes are the client's configuration: user scopes and API or organization
//! permissions go in one `with_scopes` call.
//!
//! ```
//! # fn run() -> Result<(), logto_client::ConfigError> {
//! use logto_client::{LogtoConfig, UserScope};
//!
//! let config = LogtoConfig::new("https://tenant.logto.app", "app-id", None)?
//!     .with_scopes([
//!         String::from(UserScope::Email),
//!         UserScope::Organizations.into(),
//!         "read:reports".into(), // a permission of an API resource
//!     ])
//!     .with_resources(["https://api.example.com"])?; // refused unless an absolute URI
//! # Ok(()) }
//! ```
//!
//! # API resources and organizations
//!
//! One call from a handler gets an API resource token or an organization
//! token (cached, refreshed when needed, single-flight). A user who is not a
//! member of the organization gets [`ErrorKind::NotAMember`], answered 403.
//!
//! The API resource is a [`logto_client::ResourceIndicator`], parsed once at
//! start-up (here shared as `web::Data`); an organization id is any string.
//!
//! ```no_run
//! use actix_web::{web, web::Json};
//! use logto_actix::{Authenticated, Error};
//! use logto_client::ResourceIndicator;
//!
//! async fn reports(
//!     auth: Authenticated,
//!     api: web::Data<ResourceIndicator>,
//! ) -> Result<Json<String>, Error> {
//!     let claims = auth.access_token_claims(&api).await?;
//!     Ok(Json(claims.scope))
//! }
//!
//! async fn organization(auth: Authenticated, id: web::Path<String>) -> Result<Json<String>, Error> {
//!     let token = auth.organization_token(id.into_inner()).await?; // 403 for a non-member
//!     Ok(Json(format!("{} bytes", token.secret().len())))
//! }
//! ```
//!
//! # Storage
//!
//! Tokens live server-side, in a [`KeyValueStore`], keyed by a random id that
//! actix-session's session carries. Why not implement
//! [`logto_client::Storage`] over actix-session's `Session` directly? Because
//! `Session` is not `Send` (it is an `Rc<RefCell<…>>` of the request), while
//! the client's `Storage` futures must be `Send`; and a cookie session would
//! carry the tokens to the browser and past the 4 KB a cookie may hold (the
//! browser drops it silently). [`check_session_size`] turns such a loss into
//! an error for the application's own session values.
//!
//! [`MemoryStore`] is bounded and expires entries, for one process. A custom
//! store (Redis, a database) implements the three methods of
//! [`KeyValueStore`] — about ten lines, see its documentation — and may
//! override [`KeyValueStore::take`] (atomic single-use sign-in transactions)
//! and [`KeyValueStore::lock`] (single-flight refresh across instances).
//!
//! ## PostgreSQL
//!
//! With the `postgres` feature, `logto_actix::postgres` is the storage the
//! Logto portal runs on: `PgLogins`, a [`LoginStore`] with idle and absolute
//! timeouts, re-validation and back-channel logout, tokens encrypted at rest
//! (AES-256-GCM), single-flight refresh across instances, one sign-in
//! attempt per `state`, and the migration creating its tables. Without the
//! feature the crate does not depend on sqlx.
#![warn(missing_docs)]

mod auth;
mod error;
mod extract;
mod login_store;
#[cfg(feature = "postgres")]
pub mod postgres;
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
pub use login_store::{KeyValueLogins, LoginStore};
pub use logto_client::StorageError;
pub use return_to::safe_return_to;
pub use session::LOGIN_ID_KEY;
pub use size::{SESSION_SIZE_LIMIT, check_session_size};
pub use storage::SessionStorage;
pub use store::{KeyValueStore, LockGuard, MemoryStore};
