//! [`LogtoAuth`]: the configuration, and the sign-in, callback and sign-out routes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_session::SessionExt;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use logto_client::{LogtoClient, SignInOptions};
use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::login_store::{KeyValueLogins, LoginStore};
use crate::return_to::safe_return_to;
use crate::session::{LogtoSession, random_id};
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

/// Turns the routes' errors into the application's own (see
/// [`LogtoAuth::error_handler`]).
type ErrorHandler = dyn Fn(Error, &HttpRequest) -> actix_web::Error + Send + Sync;

struct Inner<S> {
    client: LogtoClient,
    store: Arc<S>,
    origin: String,
    /// The base URL without a trailing `/`: the origin and the path under
    /// which a proxy serves the application (usually none).
    base: String,
    sign_in_path: String,
    callback_path: String,
    sign_out_path: String,
    post_sign_out_path: String,
    error_handler: Option<Arc<ErrorHandler>>,
}

impl<S> Clone for Inner<S> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            store: Arc::clone(&self.store),
            origin: self.origin.clone(),
            base: self.base.clone(),
            sign_in_path: self.sign_in_path.clone(),
            callback_path: self.callback_path.clone(),
            sign_out_path: self.sign_out_path.clone(),
            post_sign_out_path: self.post_sign_out_path.clone(),
            error_handler: self.error_handler.clone(),
        }
    }
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
pub struct LogtoAuth<S = KeyValueLogins> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for LogtoAuth<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> fmt::Debug for LogtoAuth<S> {
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

impl LogtoAuth<KeyValueLogins> {
    /// Routes at `/sign-in`, `/callback` and `/sign-out`; after sign-out Logto
    /// sends the browser back to `/`. `base_url` is the URL the browser sees
    /// (`https://app.example.com`, or with the path a proxy serves the
    /// application under): register `{base_url}/callback` as a redirect URI
    /// and `{base_url}/` as a post sign-out redirect URI of the Logto
    /// application. The tokens go to `store` ([`KeyValueLogins`]).
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
        Self::with_login_store(client, KeyValueLogins::new(store), base_url)
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
        self.with(|i| i.store = Arc::new((*i.store).clone().token_ttl(ttl)))
    }
}

impl<S: LoginStore> LogtoAuth<S> {
    /// Like [`LogtoAuth::new`], with logins kept in an application's own
    /// [`LoginStore`].
    ///
    /// ```
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use logto_actix::{KeyValueLogins, LogtoAuth, MemoryStore};
    ///
    /// let config = logto_client::LogtoConfig::new("https://tenant.logto.app", "app-id", None)?;
    /// let logins = KeyValueLogins::new(MemoryStore::default());
    /// let auth = LogtoAuth::with_login_store(
    ///     logto_client::LogtoClient::new(config)?,
    ///     logins,
    ///     "https://app.example.com",
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn with_login_store(client: LogtoClient, store: S, base_url: &str) -> Result<Self, Error> {
        let url = url::Url::parse(base_url)
            .map_err(|e| config_error(format!("invalid base URL {base_url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(config_error(format!(
                "the base URL {base_url:?} must be an http(s) URL without a query or fragment"
            )));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                store: Arc::new(store),
                origin: url.origin().ascii_serialization(),
                base: url.as_str().trim_end_matches('/').to_owned(),
                sign_in_path: "/sign-in".into(),
                callback_path: "/callback".into(),
                sign_out_path: "/sign-out".into(),
                post_sign_out_path: "/".into(),
                error_handler: None,
            }),
        })
    }

    fn with(mut self, change: impl FnOnce(&mut Inner<S>)) -> Self {
        change(Arc::make_mut(&mut self.inner));
        self
    }

    /// Answers the routes' errors (sign-in, callback, sign-out) with what
    /// `handler` makes of them — the application's own error type and
    /// pages — instead of this crate's plain ones. The callback's
    /// `Referrer-Policy: no-referrer` is kept.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// let auth = auth.error_handler(|error, _req| {
    ///     actix_web::error::InternalError::new(error.to_string(), error.status()).into()
    /// });
    /// # }
    /// ```
    pub fn error_handler(
        self,
        handler: impl Fn(Error, &HttpRequest) -> actix_web::Error + Send + Sync + 'static,
    ) -> Self {
        self.with(|i| i.error_handler = Some(Arc::new(handler)))
    }

    /// The same configuration on another login store: one per worker thread,
    /// say, each with the worker's own database pool.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// use logto_actix::{KeyValueLogins, MemoryStore};
    ///
    /// let other = auth.replace_login_store(KeyValueLogins::new(MemoryStore::new(10)));
    /// assert_eq!(other.redirect_uri(), auth.redirect_uri());
    /// # }
    /// ```
    pub fn replace_login_store<T: LoginStore>(&self, store: T) -> LogtoAuth<T> {
        let i = &self.inner;
        LogtoAuth {
            inner: Arc::new(Inner {
                client: i.client.clone(),
                store: Arc::new(store),
                origin: i.origin.clone(),
                base: i.base.clone(),
                sign_in_path: i.sign_in_path.clone(),
                callback_path: i.callback_path.clone(),
                sign_out_path: i.sign_out_path.clone(),
                post_sign_out_path: i.post_sign_out_path.clone(),
                error_handler: i.error_handler.clone(),
            }),
        }
    }

    /// The login store.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// let logins: &logto_actix::KeyValueLogins = auth.login_store();
    /// # }
    /// ```
    pub fn login_store(&self) -> &S {
        &self.inner.store
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

    /// The Logto client.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// println!("app id: {}", auth.client().config().app_id());
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
        format!("{}{}", self.inner.base, self.inner.callback_path)
    }

    /// The post sign-out redirect URI: the base URL and the post sign-out path.
    ///
    /// ```
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// println!("register {} at Logto", auth.post_sign_out_uri());
    /// # }
    /// ```
    pub fn post_sign_out_uri(&self) -> String {
        format!("{}{}", self.inner.base, self.inner.post_sign_out_path)
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

    pub(crate) fn storage(&self, browser_id: &str, login_id: &str) -> Result<S::Storage, Error> {
        Ok(self.inner.store.storage(browser_id, login_id)?)
    }

    /// The routes (sign-in, callback, sign-out) and the extractors' access to
    /// this value, for [`actix_web::App::configure`].
    ///
    /// ```no_run
    /// # fn run(auth: logto_actix::LogtoAuth) {
    /// let app = actix_web::App::new().configure(auth.routes());
    /// # }
    /// ```
    pub fn routes(&self) -> impl FnOnce(&mut web::ServiceConfig) + use<S> {
        let auth = self.clone();
        move |cfg| {
            let inner = &auth.inner;
            let (sign_in, callback, sign_out) = (
                inner.sign_in_path.clone(),
                inner.callback_path.clone(),
                inner.sign_out_path.clone(),
            );
            cfg.app_data(auth.clone())
                .route(&sign_in, web::get().to(sign_in_route::<S>))
                .route(&callback, web::get().to(callback_route::<S>))
                // A resource answers 405 to any other method (a GET sign-out).
                .service(web::resource(sign_out).route(web::post().to(sign_out_route::<S>)));
        }
    }

    /// The value registered by [`LogtoAuth::routes`].
    pub(crate) fn registered(req: &HttpRequest) -> Result<Self, Error> {
        req.app_data::<LogtoAuth<S>>()
            .cloned()
            .ok_or_else(|| config_error("LogtoAuth::routes() is not registered on this App"))
    }

    /// Starts a sign-in with `options` (an organization, a login hint, direct
    /// sign-in…): stores it under this browser's id and redirects to Logto.
    /// The callback sends the browser to `app_state`'s `"return_to"` when it
    /// is a same-origin path, else to `/`. `GET /sign-in` is this with the
    /// default options.
    ///
    /// ```no_run
    /// use actix_web::{HttpRequest, HttpResponse};
    /// use logto_actix::{Error, LogtoAuth};
    /// use logto_client::SignInOptions;
    ///
    /// async fn acme_sign_in(req: HttpRequest, auth: LogtoAuth) -> Result<HttpResponse, Error> {
    ///     let options = SignInOptions::new(auth.redirect_uri())
    ///         .organization_id("org-acme")
    ///         .app_state(serde_json::json!({ "return_to": "/acme/" }));
    ///     auth.start_sign_in(&req, options).await
    /// }
    /// ```
    pub async fn start_sign_in(
        &self,
        req: &HttpRequest,
        options: SignInOptions,
    ) -> Result<HttpResponse, Error> {
        let session = req.get_session();
        let session = LogtoSession(&session);
        // The login id is irrelevant for pending sign-ins: they are keyed by state.
        let storage = self.storage(&session.browser_id()?, &self.inner.store.new_login_id())?;
        let url = self
            .client()
            .sign_in(&storage, options)
            .await
            .map_err(ErrorKind::Logto)?;
        Ok(redirect(actix_web::http::StatusCode::FOUND, url.as_str()))
    }

    /// The application's answer to a route's error.
    fn answer(&self, error: Error, req: &HttpRequest) -> actix_web::Error {
        match &self.inner.error_handler {
            Some(handler) => handler(error, req),
            None => error.into(),
        }
    }
}

/// A handler may take the [`LogtoAuth`] registered by [`LogtoAuth::routes`]
/// as an argument.
impl<S: LoginStore> actix_web::FromRequest for LogtoAuth<S> {
    type Error = Error;
    type Future = std::future::Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Self::registered(req))
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
async fn sign_in_route<S: LoginStore>(
    req: HttpRequest,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let auth = LogtoAuth::<S>::registered(&req)?;
    let return_to = safe_return_to(query.return_to.as_deref());
    let options = SignInOptions::new(auth.redirect_uri())
        .app_state(serde_json::json!({ "return_to": return_to }));
    auth.start_sign_in(&req, options)
        .await
        .map_err(|e| auth.answer(e, &req))
}

/// `GET /callback`: every answer carries `Referrer-Policy: no-referrer`.
async fn callback_route<S: LoginStore>(req: HttpRequest) -> HttpResponse {
    let mut res = match LogtoAuth::<S>::registered(&req) {
        Ok(auth) => finish_sign_in(&auth, &req)
            .await
            .unwrap_or_else(|e| HttpResponse::from_error(auth.answer(e, &req))),
        Err(e) => HttpResponse::from_error(e),
    };
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn finish_sign_in<S: LoginStore>(
    auth: &LogtoAuth<S>,
    req: &HttpRequest,
) -> Result<HttpResponse, Error> {
    let session = req.get_session();
    let session = LogtoSession(&session);
    let Some(browser_id) = session.existing_browser_id() else {
        return Err(ErrorKind::SignInFailed(logto_client::Error::Callback(
            logto_client::CallbackError::UnknownState,
        ))
        .into());
    };
    let store = auth.login_store();
    let login_id = store.new_login_id();
    let storage = auth.storage(&browser_id, &login_id)?;
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
    store.signed_in(&storage).await?;
    // A browser that was signed in before signs in afresh.
    if let Some(previous) = session.login_id() {
        store.end(&browser_id, &previous).await?;
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

/// The origin a request says it comes from: `Origin`, or lacking it the
/// origin of `Referer`.
fn request_origin(req: &HttpRequest) -> Option<String> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        return Some(String::from_utf8_lossy(origin.as_bytes()).into_owned());
    }
    let referer = req.headers().get(header::REFERER)?.to_str().ok()?;
    Some(
        url::Url::parse(referer)
            .ok()?
            .origin()
            .ascii_serialization(),
    )
}

/// `POST /sign-out`: CSRF-checked; revokes, ends the login, purges, then
/// Logto's end-session endpoint.
async fn sign_out_route<S: LoginStore>(
    req: HttpRequest,
    // A body that is not a form carries no CSRF token: refused as CSRF (403).
    form: Result<web::Form<SignOutForm>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let auth = LogtoAuth::<S>::registered(&req)?;
    sign_out(&auth, &req, form.ok())
        .await
        .map_err(|e| auth.answer(e, &req))
}

async fn sign_out<S: LoginStore>(
    auth: &LogtoAuth<S>,
    req: &HttpRequest,
    form: Option<web::Form<SignOutForm>>,
) -> Result<HttpResponse, Error> {
    if request_origin(req).is_some_and(|origin| origin != auth.inner.origin) {
        return Err(ErrorKind::Csrf.into());
    }
    let submitted = match (&form, req.headers().get(CSRF_HEADER)) {
        (Some(form), _) if !form.csrf.is_empty() => form.csrf.clone(),
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
        let storage = auth.storage(&browser_id, &login_id)?;
        match auth
            .client()
            .sign_out(&storage, Some(&auth.post_sign_out_uri()))
            .await
        {
            Ok(mut url) => {
                // RP-Initiated Logout's `state`: fresh for every sign-out; the
                // landing page accepts any (or none), so nothing is stored.
                url.query_pairs_mut().append_pair("state", &random_id());
                target = url.to_string();
            }
            Err(e) => tracing::warn!(error = %e, "sign-out at Logto failed; signed out locally"),
        }
        // Whatever happened at Logto, the login ends here.
        auth.login_store().end(&browser_id, &login_id).await?;
    }
    session.purge();
    Ok(redirect(actix_web::http::StatusCode::SEE_OTHER, &target))
}
