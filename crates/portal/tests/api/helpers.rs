//! `spawn_app()`: a real portal (in-process, port 0) on its own fresh
//! PostgreSQL database, signing in against a real logto-dev on loopback.

use std::collections::HashMap;
use std::net::TcpListener;

use actix_web::web;
use logto_dev::{DevIdp, Seed, Settings as IdpSettings};
use portal::config::Settings;
use portal::startup::Application;
use portal::state::AppState;
use reqwest::redirect::Policy;
use sqlx::PgPool;
use url::Url;

pub const SESSION_KEY_B64: &str = "dGVzdC1zZXNzaW9uLWtleS10aGF0LWlzLWxvbmctZW5vdWdoLWZvci1hY3RpeC1jb29raWUtc2lnbmluZy1hbmQtZW5jcnlwdGlvbg==";
pub const TOKEN_KEY_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const API_RESOURCE: &str = "https://api.portal.test";

pub const TENANTS: &str = r#"
[[tenant]]
slug = "acme"
display_name = "Acme Corp"
organization_id = "org-acme"
login_hint = "alice@acme.test"

[[tenant]]
slug = "globex"
display_name = "Globex"
organization_id = "org-globex"
sso_connector_id = "globex-okta"
"#;

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub idp: DevIdp,
    /// A browser: cookies kept, redirects not followed.
    pub browser: reqwest::Client,
    /// The browser's cookie jar.
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
    pub state: web::Data<AppState>,
}

impl TestApp {
    /// Runs `change`, a statement behind the portal's back (as another
    /// instance or an operator would), and waits until this portal has
    /// heard of it: its copy of sessions, logins and tokens is then as
    /// current as the table. `change` must touch at least one row (an
    /// empty statement announces nothing). While the portal hears nothing,
    /// it reads PostgreSQL and there is nothing to wait for.
    pub async fn change_behind_its_back<F: std::future::Future>(&self, change: F) -> F::Output {
        let cache = &self.state.local_cache;
        let before = cache.epoch();
        let out = change.await;
        crate::support::eventually(
            "the portal to hear the change",
            std::time::Duration::from_secs(30),
            || async { (cache.epoch() != before || !cache.is_hearing()).then_some(()) },
        )
        .await;
        out
    }
}

/// Options for [`spawn_app_with`].
#[derive(Default)]
pub struct Options {
    pub idp: Option<IdpSettings>,
    pub env: Vec<(&'static str, String)>,
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, Options::default()).await
}

/// [`spawn_app_with`] with extra environment variables only.
pub async fn spawn_app_with_env(pool: PgPool, env: &[(&'static str, &str)]) -> TestApp {
    let env = env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    spawn_app_with(
        pool,
        Options {
            env,
            ..Options::default()
        },
    )
    .await
}

pub fn browser() -> reqwest::Client {
    browser_with_jar().0
}

pub fn browser_with_jar() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (client, jar)
}

pub async fn spawn_app_with(pool: PgPool, options: Options) -> TestApp {
    let idp = logto_dev::serve(
        Seed::demo(),
        options.idp.unwrap_or_default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let (address, state) = spawn_portal(pool.clone(), &idp, &options.env).await;
    let (browser, jar) = browser_with_jar();
    TestApp {
        address,
        pool,
        idp,
        browser,
        jar,
        state,
    }
}

/// The tenants file every test instance reads: one file per content, shared
/// by every test process (written atomically), so runs leave no litter.
pub fn tenants_file() -> std::path::PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    TENANTS.hash(&mut hasher);
    let dir = std::env::temp_dir();
    let path = dir.join(format!("portal-test-tenants-{:016x}.toml", hasher.finish()));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(TENANTS) {
        let tmp = dir.join(format!("portal-test-tenants-{}.tmp", uuid::Uuid::new_v4()));
        std::fs::write(&tmp, TENANTS).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// One more portal instance on the same database and identity provider.
pub async fn spawn_portal(
    pool: PgPool,
    idp: &DevIdp,
    extra_env: &[(&'static str, String)],
) -> (String, web::Data<AppState>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut env: HashMap<String, String> = crate::support::portal_env(
        idp,
        &format!("http://127.0.0.1:{port}"),
        "postgres://unused-the-pool-is-given",
    )
    .into_iter()
    .collect();
    for (k, v) in extra_env {
        env.insert((*k).to_owned(), v.clone());
    }
    let settings = Settings::from_lookup(|name| env.get(name).cloned()).unwrap();
    // The instance gets a pool of its own with the production settings: the
    // test pool reaps idle connections every second, and sqlx 0.9.0's reaper
    // can wedge the test's runtime under sustained load (sqlx#3645).
    let test_pool = pool;
    let pool = portal::startup::pool_options()
        .max_connections(10)
        .connect_lazy_with((*test_pool.connect_options()).clone());
    let application = Application::build_with(settings, pool, listener)
        .await
        .unwrap();
    let state = application.state();
    // sqlx::test closes the test's pool when the test ends, then drops the
    // database, which waits (5 s) for every other connection to it to go:
    // the instance's connections (its workers' pools too) go with the
    // test's pool.
    let instance = state.clone();
    tokio::spawn(async move {
        test_pool.close_event().await;
        instance.close_database().await;
    });
    tokio::spawn(application.run_until_stopped());
    (format!("http://127.0.0.1:{port}"), state)
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on a {} response", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A 503 with the "temporarily unavailable" page; `what` names the case.
pub async fn assert_unavailable_page(res: reqwest::Response, what: &str) {
    assert_eq!(res.status().as_u16(), 503, "{what}");
    assert_eq!(res.headers()["retry-after"], "5", "{what}");
    let body = res.text().await.unwrap();
    assert!(body.contains("Temporarily unavailable"), "{what}: {body}");
}

pub fn assert_redirect_to(res: &reqwest::Response, expected: &str) {
    assert!(res.status().is_redirection(), "status {}", res.status());
    assert_eq!(location(res), expected);
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.browser.get(self.url(path)).send().await.unwrap()
    }

    /// Starts a sign-in at `path` (e.g. `/sign-in?return_to=/protected`) and
    /// returns the authorization URL the portal redirected to.
    pub async fn start_sign_in(&self, browser: &reqwest::Client, path: &str) -> Url {
        let res = browser.get(self.url(path)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 302, "{path}");
        Url::parse(&location(&res)).unwrap()
    }

    /// A full sign-in of `username` in `browser`; returns the callback response.
    pub async fn sign_in_as_in(
        &self,
        browser: &reqwest::Client,
        username: &str,
        return_to: &str,
    ) -> reqwest::Response {
        let auth = self
            .start_sign_in(browser, &format!("/sign-in?return_to={return_to}"))
            .await;
        let callback = logto_dev::testing::complete_sign_in(&auth, username, &password(username))
            .await
            .unwrap();
        browser.get(callback.as_str()).send().await.unwrap()
    }

    /// Signs `username` in with the app's own browser; asserts success.
    pub async fn sign_in_as(&self, username: &str) {
        let res = self
            .sign_in_as_in(&self.browser, username, "/protected")
            .await;
        assert_redirect_to(&res, "/protected");
    }

    /// `GET path` with `Authorization: Bearer token` and no cookie (an API
    /// client, not the browser).
    pub async fn get_with_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Signs out the app's own browser the way the page's form does
    /// (POST with the page's CSRF token); the portal's answer.
    pub async fn sign_out(&self) -> reqwest::Response {
        let csrf = self.csrf().await;
        self.browser
            .post(self.url("/sign-out"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap()
    }

    /// Delivers `token` to the back-channel logout receiver as Logto does
    /// (a form POST, no cookie); the portal's answer.
    pub async fn post_logout_token(&self, token: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url("/backchannel-logout"))
            .form(&[("logout_token", token)])
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token from a signed-in page.
    pub async fn csrf(&self) -> String {
        let html = self.get("/protected").await.text().await.unwrap();
        extract_csrf(&html)
    }

    pub async fn logins(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM logins")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The session cookie's value in the app's browser, if any.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let header = self.jar.cookies(&Url::parse(&self.address).unwrap())?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix("portal-session="))
            .map(str::to_owned)
    }

    /// A fresh browser carrying `cookie` as its session cookie.
    pub fn browser_with_session(&self, cookie: &str) -> reqwest::Client {
        let (client, jar) = browser_with_jar();
        jar.add_cookie_str(
            &format!("portal-session={cookie}; Path=/"),
            &Url::parse(&self.address).unwrap(),
        );
        client
    }

    pub fn sub_of(&self, username: &str) -> String {
        self.idp
            .seed()
            .user_by_username(username)
            .unwrap()
            .id
            .clone()
    }
}

pub fn password(username: &str) -> String {
    format!("{username}-password")
}

pub fn extract_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field on the page") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A second relying party (a script, another service) that holds its own
/// tokens for `username`.
pub async fn tokens_for(
    app: &TestApp,
    username: &str,
) -> (logto_client::LogtoClient, logto_client::InMemoryStorage) {
    let scopes = [
        "urn:logto:scope:organizations",
        "urn:logto:scope:organization_roles",
        "read:members",
        "read:reports",
    ];
    signed_in_client(app, username, &scopes, &[API_RESOURCE]).await
}

/// A relying party of its own, signed in as `username` with these scopes
/// and resources.
pub async fn signed_in_client(
    app: &TestApp,
    username: &str,
    scopes: &[&str],
    resources: &[&str],
) -> (logto_client::LogtoClient, logto_client::InMemoryStorage) {
    let config = logto_client::LogtoConfig::new(
        app.idp.endpoint().as_str(),
        "portal-demo",
        Some(logto_client::AppSecret::new(
            "portal-demo-secret".to_owned(),
        )),
    )
    .unwrap()
    .with_scopes(scopes.iter().copied())
    .with_resources(resources.iter().copied())
    .unwrap();
    let client = logto_client::LogtoClient::new(config).unwrap();
    let storage = logto_client::InMemoryStorage::new();
    let url = client
        .sign_in(
            &storage,
            logto_client::SignInOptions::new(app.url("/callback")),
        )
        .await
        .unwrap();
    let callback = logto_dev::testing::complete_sign_in(&url, username, &password(username))
        .await
        .unwrap();
    client
        .handle_sign_in_callback(&storage, callback.as_str())
        .await
        .unwrap();
    (client, storage)
}
