//! [`LogtoAuth`]: the configuration, and the sign-in, callback and sign-out routes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_session::SessionExt;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use logto_client::{LogtoClient, SignInOptions, Storage};
use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::return_to::safe_return_to;
use crate::session::{LogtoSession, random_id};
use crate::storage::{Locks, SessionStorage};
use crate::store::KeyValueStore;

/// The form field (or `X-CSRF-Token` header) the sign-out route checks.
///
/// ```
/// assert_eq!(logto_actix::CSRF_FIELD, "csrf");
/// ```
pub const CSRF_FIELD: &str = "csrf";

/// The header an API client may send the CSRF token in instead of the form field.
///
/// ```no_run
/// # async fn run(csrf: &str) -> Result<(), reqwest::Error> {
/// reqwest::Client::new()
///     .post("http://localhost:3000/sign-out")
///     .header(logto_actix::CSRF_HEADER, csrf)
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
pub const CSRF_HEADER: &str = "x-csrf-token";

struct Inner {
    client: LogtoClient,
    kv: Arc<dyn KeyValueStore>,
    locks: Arc<Locks>,
    origin: String,
    sign_in_path: String,
    callback_path: String,
    sign_out_path: String,
    post_sign_out_path: String,
    token_ttl: Duration,
    sign_in_ttl: Duration,
}

/// Logto sign-in for an actix-web application: what `@logto/express` is for
/// Express.
///
/// One value per process (it is cheap to clone), built from a
/// [`LogtoClient`], a [`KeyValueStore`] for the tokens, and the application's
/// base URL (the origin the browser sees, which makes the redirect URI
/// `{base_url}/callback`). [`LogtoAuth::routes`] mounts the routes and makes
/// the extractors ([`crate::Authenticated`], [`crate::ApiAuthenticated`], …)
/// available.
///
/// The routes, secure by default:
///
/// * `GET /sign-in?return_to=/path` redirects to Logto (PKCE, `state`,
///   `nonce`); `return_to` is kept only if it is a same-origin path
///   ([`crate::safe_return_to`]).
/// * `GET /callback` completes the sign-in, **renews the session id**
///   (`Session::renew`, against session fixation), issues a new CSRF token, and
///   answers `Referrer-Policy: no-referrer` (its URL holds the authorization code).
/// * `POST /sign-out` (a GET is answered 405) requires the session's CSRF token
///   (form field `csrf` or header `X-CSRF-Token`) and, when present, a
///   same-origin `Origin`; it revokes the refresh token, clears the tokens,
///   purges the session and redirects to Logto's end-session endpoint.
///
/// The session (actix-session's `SessionMiddleware`, any store) holds only
/// random ids and the CSRF token: the tokens are in the [`KeyValueStore`].
///
/// ```no_run
/// use actix_session::{SessionMiddleware, storage::CookieSessionStore};
/// use actix_web::{App, HttpServer, cookie::Key, middleware::from_fn};
/// use logto_actix::{LogtoAuth, MemoryStore};
/// use logto_client::{LogtoClient, LogtoConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = LogtoConfig::new("https://tenant.logto.app", "app-id", None)?;
/// let auth = LogtoAuth::new(
///     LogtoClient::new(config)?,
///     MemoryStore::default(),
///     "http://localhost:3000",
/// )?
/// .sign_out_path("/logout")?;
/// let key = Key::generate();
/// HttpServer::new(move || {
///     App::new()
///         .configure(auth.routes())
///         .wrap(from_fn(logto_actix::check_session_size))
///         .wrap(SessionMiddleware::new(CookieSessionStore::default(), key.clone()))
/// })
/// .bind(("127.0.0.1", 3000))?
/// .run()
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LogtoAuth {
    inner: Arc<Inner>,
}

impl fmt::Debug for LogtoAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogtoAuth")
            .field("origin", &self.inner.origin)
            .field("sign_in_path", &self.inner.sign_in_path)
            .field("callback_path", &self.inner.callback_path)
            .field("sign_out_path", &self.inner.sign_out_path)
            .finish_non_exhaustive()
    }
}

fn config_error(message: impl Into<String>) -> Error {
    ErrorKind::Config(message.into()).into()
}

fn check_path(path: &str) -> Result<String, Error> {
    if path.starts_with('/') && !path.starts_with("//") && !path.contains(['?', '#', '\\']) {
        Ok(path.to_owned())
    } else {
        Err(config_error(format!(
            "{path:?} is not an absolute path (it must start with a single /)"
        )))
    }
}

impl LogtoAuth {
    /// Routes at `/sign-in`, `/callback` and `/sign-out`; after sign-out Logto
    /// sends the browser back to `/`. `base_url` is the origin the browser
    /// sees (`https://app.example.com`): register `{base_url}/callback` as a
    /// redirect URI and `{base_url}/` as a post sign-out redirect URI of the
    /// Logto application.
    ///
    /// ```
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = logto_client::LogtoConfig::new("https://tenant.logto.app", "app-id", None)?;
    /// let auth = logto_actix::LogtoAuth::new(
    ///     logto_client::LogtoClient::new(config)?,
    ///     logto_actix::MemoryStore::default(),
    ///     "https://app.example.com",
    /// )?;
    /// assert_eq!(auth.redirect_uri(), "https://app.example.com/callback");
    /// # Ok(()) }
    /// ```
    pub fn new(
        client: LogtoClient,
        store: impl KeyValueStore,
        base_url: &str,
    ) -> Result<Self, Error> {
        let url = url::Url::parse(base_url)
            .map_err(|e| config_error(format!("invalid base URL {base_url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.path() != "/" {
            return Err(config_error(format!(
                "the base URL {base_url:?} must be an http(s) origin without a path"
            )));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                kv: Arc::new(store),
                locks: Arc::new(Locks::default()),
                origin: url.origin().ascii_serialization(),
                sign_in_path: "/sign-in".into(),
                callback_path: "/callback".into(),
                sign_out_path: "/sign-out".into(),
                post_sign_out_path: "/".into(),
                token_ttl: Duration::from_secs(14 * 24 * 3600),
                sign_in_ttl: Duration::from_secs(15 * 60),
            }),
        })
    }

    fn with(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => change(inner),
            None => {
                let old = &self.inner;
                let mut inner = Inner {
                    client: old.client.clone(),
                    kv: Arc::clone(&old.kv),
                    locks: Arc::clone(&old.locks),
                    origin: old.origin.clone(),
                    sign_in_path: old.sign_in_path.clone(),
                    callback_path: old.callback_path.clone(),
                    sign_out_path: old.sign_out_path.clone(),
                    post_sign_out_path: old.post_sign_out_path.clone(),
                    token_ttl: old.token_ttl,
                    sign_in_ttl: old.sign_in_ttl,
                };
                change(&mut inner);
                self.inner = Arc::new(inner);
            }
        }
        self
    }

    /// Serves sign-in at `path` instead of `/sign-in`.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) -> Result<(), logto_actix::Error> {
    /// let auth = auth.sign_in_path("/login")?;
    /// assert_eq!(auth.sign_in_url("/"), "/login?return_to=%2F");
    /// # Ok(()) }
    /// ```
    pub fn sign_in_path(self, path: &str) -> Result<Self, Error> {
        let path = check_path(path)?;
        Ok(self.with(|i| i.sign_in_path = path))
    }

    /// Serves the callback at `path` instead of `/callback` (the redirect URI
    /// changes with it).
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) -> Result<(), logto_actix::Error> {
    /// let auth = auth.callback_path("/auth/callback")?;
    /// assert!(auth.redirect_uri().ends_with("/auth/callback"));
    /// # Ok(()) }
    /// ```
    pub fn callback_path(self, path: &str) -> Result<Self, Error> {
        let path = check_path(path)?;
        Ok(self.with(|i| i.callback_path = path))
    }

    /// Serves sign-out (POST) at `path` instead of `/sign-out`.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) -> Result<(), logto_actix::Error> {
    /// let auth = auth.sign_out_path("/logout")?;
    /// assert_eq!(auth.sign_out_path_str(), "/logout");
    /// # Ok(()) }
    /// ```
    pub fn sign_out_path(self, path: &str) -> Result<Self, Error> {
        let path = check_path(path)?;
        Ok(self.with(|i| i.sign_out_path = path))
    }

    /// Where Logto sends the browser after sign-out, instead of `/`.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) -> Result<(), logto_actix::Error> {
    /// let auth = auth.post_sign_out_path("/goodbye")?;
    /// assert!(auth.post_sign_out_uri().ends_with("/goodbye"));
    /// # Ok(()) }
    /// ```
    pub fn post_sign_out_path(self, path: &str) -> Result<Self, Error> {
        let path = check_path(path)?;
        Ok(self.with(|i| i.post_sign_out_path = path))
    }

    /// How long tokens are kept in the store after they were last written
    /// (default 14 days; the store forgets them then, and the browser is
    /// signed out).
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// let auth = auth.token_ttl(std::time::Duration::from_secs(8 * 3600));
    /// # }
    /// ```
    pub fn token_ttl(self, ttl: Duration) -> Self {
        self.with(|i| i.token_ttl = ttl)
    }

    /// The Logto client.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// println!("app id: {}", auth.client().config().app_id);
    /// # }
    /// ```
    pub fn client(&self) -> &LogtoClient {
        &self.inner.client
    }

    /// The redirect URI: the base URL and the callback path.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// println!("register {} at Logto", auth.redirect_uri());
    /// # }
    /// ```
    pub fn redirect_uri(&self) -> String {
        format!("{}{}", self.inner.origin, self.inner.callback_path)
    }

    /// The post sign-out redirect URI: the base URL and the post sign-out path.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// println!("register {} at Logto", auth.post_sign_out_uri());
    /// # }
    /// ```
    pub fn post_sign_out_uri(&self) -> String {
        format!("{}{}", self.inner.origin, self.inner.post_sign_out_path)
    }

    /// The path of the sign-out route, for the action of sign-out forms.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// assert_eq!(auth.sign_out_path_str(), "/sign-out");
    /// # }
    /// ```
    pub fn sign_out_path_str(&self) -> &str {
        &self.inner.sign_out_path
    }

    /// The sign-in URL (relative) that comes back to `return_to`.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// assert_eq!(auth.sign_in_url("/orders?page=2"), "/sign-in?return_to=%2Forders%3Fpage%3D2");
    /// # }
    /// ```
    pub fn sign_in_url(&self, return_to: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        format!("{}?return_to={encoded}", self.inner.sign_in_path)
    }

    pub(crate) fn storage(&self, browser_id: String, login_id: String) -> SessionStorage {
        SessionStorage::new(
            Arc::clone(&self.inner.kv),
            Arc::clone(&self.inner.locks),
            browser_id,
            login_id,
            self.inner.token_ttl,
            self.inner.sign_in_ttl,
        )
    }

    /// The routes (sign-in, callback, sign-out) and the extractors' access to
    /// this value, for [`actix_web::App::configure`].
    ///
    /// ```no_run
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// let app = actix_web::App::new().configure(auth.routes());
    /// # }
    /// ```
    pub fn routes(&self) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
        let auth = self.clone();
        move |cfg| {
            let inner = &auth.inner;
            let (sign_in, callback, sign_out) = (
                inner.sign_in_path.clone(),
                inner.callback_path.clone(),
                inner.sign_out_path.clone(),
            );
            cfg.app_data(auth.clone())
                .route(&sign_in, web::get().to(sign_in_route))
                .route(&callback, web::get().to(callback_route))
                // A resource answers 405 to any other method (a GET sign-out).
                .service(web::resource(sign_out).route(web::post().to(sign_out_route)));
        }
    }

    /// The value registered by [`LogtoAuth::routes`].
    pub(crate) fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        req.app_data::<LogtoAuth>()
            .cloned()
            .ok_or_else(|| config_error("LogtoAuth::routes() is not registered on this App"))
    }
}

/// `?return_to=`.
#[derive(Deserialize)]
struct SignInQuery {
    return_to: Option<String>,
}

fn redirect(status: actix_web::http::StatusCode, location: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `GET /sign-in`: a pending sign-in keyed by `state`, stored under this
/// browser's id; redirect to Logto.
async fn sign_in_route(
    req: HttpRequest,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, Error> {
    let auth = LogtoAuth::from_request(&req)?;
    let session = req.get_session();
    let session = LogtoSession(&session);
    let return_to = safe_return_to(query.return_to.as_deref());
    // The login id is irrelevant for pending sign-ins: they are keyed by state.
    let storage = auth.storage(session.browser_id()?, random_id());
    let options = SignInOptions::new(auth.redirect_uri())
        .app_state(serde_json::json!({ "return_to": return_to }));
    let url = auth
        .client()
        .sign_in(&storage, options)
        .await
        .map_err(ErrorKind::Logto)?;
    Ok(redirect(actix_web::http::StatusCode::FOUND, url.as_str()))
}

/// `GET /callback`: every answer carries `Referrer-Policy: no-referrer`.
async fn callback_route(req: HttpRequest) -> HttpResponse {
    let mut res = finish_sign_in(&req)
        .await
        .unwrap_or_else(HttpResponse::from_error);
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn finish_sign_in(req: &HttpRequest) -> Result<HttpResponse, Error> {
    let auth = LogtoAuth::from_request(req)?;
    let session = req.get_session();
    let session = LogtoSession(&session);
    let Some(browser_id) = session.existing_browser_id() else {
        return Err(ErrorKind::SignInFailed(logto_client::Error::Callback(
            logto_client::CallbackError::UnknownState,
        ))
        .into());
    };
    let login_id = random_id();
    let storage = auth.storage(browser_id.clone(), login_id.clone());
    let callback_url = format!("{}?{}", auth.redirect_uri(), req.query_string());
    let outcome = match auth
        .client()
        .handle_sign_in_callback(&storage, &callback_url)
        .await
    {
        Ok(outcome) => outcome,
        Err(e @ (logto_client::Error::Transport(_) | logto_client::Error::Storage(_))) => {
            return Err(ErrorKind::Logto(e).into());
        }
        Err(e) => return Err(ErrorKind::SignInFailed(e).into()),
    };
    // A browser that was signed in before signs in afresh.
    if let Some(previous) = session.login_id() {
        auth.storage(browser_id, previous).clear().await?;
    }
    session.start_login(&login_id)?;
    tracing::info!(sub = %outcome.claims.sub, "signed in");
    let return_to = outcome
        .app_state
        .as_ref()
        .and_then(|v| v.get("return_to"))
        .and_then(|v| v.as_str());
    Ok(redirect(
        actix_web::http::StatusCode::FOUND,
        &safe_return_to(return_to),
    ))
}

/// The sign-out form.
#[derive(Deserialize)]
struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /sign-out`: CSRF-checked; revokes, clears, purges, then Logto's
/// end-session endpoint.
async fn sign_out_route(
    req: HttpRequest,
    // A body that is not a form carries no CSRF token: refused as CSRF (403).
    form: Result<web::Form<SignOutForm>, actix_web::Error>,
) -> Result<HttpResponse, Error> {
    let auth = LogtoAuth::from_request(&req)?;
    if let Some(origin) = req.headers().get(header::ORIGIN)
        && origin.as_bytes() != auth.inner.origin.as_bytes()
    {
        return Err(ErrorKind::Csrf.into());
    }
    let submitted = match (&form, req.headers().get(CSRF_HEADER)) {
        (Ok(form), _) if !form.csrf.is_empty() => form.csrf.clone(),
        (_, Some(header)) => header.to_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    let session = req.get_session();
    let typed = LogtoSession(&session);
    if !typed.check_csrf(&submitted) {
        return Err(ErrorKind::Csrf.into());
    }
    let mut target = auth.post_sign_out_uri();
    if let (Some(login_id), Some(browser_id)) = (typed.login_id(), typed.existing_browser_id()) {
        let storage = auth.storage(browser_id, login_id);
        match auth
            .client()
            .sign_out(&storage, Some(&auth.post_sign_out_uri()))
            .await
        {
            Ok(url) => target = url.to_string(),
            Err(e) => {
                tracing::warn!(error = %e, "sign-out at Logto failed; signed out locally");
                storage.clear().await?;
            }
        }
    }
    session.purge();
    Ok(redirect(actix_web::http::StatusCode::SEE_OTHER, &target))
}
