//! What the integration tests share: an application on a loopback port
//! driven like a browser (cookies kept, redirects not followed), signing in
//! through logto-dev's form, and the demo seed's configuration.
#![allow(dead_code)] // each test binary uses its part

use std::sync::Arc;

use logto_client::{AppSecret, LogtoConfig};
use logto_dev::DevIdp;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use serde_json::Value;

/// The configuration of the demo seed's application on `idp`.
pub fn demo_config(idp: &DevIdp) -> LogtoConfig {
    LogtoConfig::new(
        idp.endpoint().as_str(),
        "portal-demo",
        Some(AppSecret::new("portal-demo-secret")),
    )
    .unwrap()
}

/// The application at `base`, signed in with `idp`, and a browser on it.
pub struct TestApp {
    pub base: String,
    pub browser: reqwest::Client,
    jar: Arc<Jar>,
    _idp: DevIdp,
}

impl TestApp {
    pub fn new(base: String, idp: DevIdp) -> Self {
        let jar = Arc::new(Jar::default());
        let browser = reqwest::Client::builder()
            .redirect(Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Self {
            base,
            browser,
            jar,
            _idp: idp,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.browser
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// `GET path`'s body.
    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// `GET path`, answered 200 with JSON.
    pub async fn json(&self, path: &str) -> Value {
        let res = self.get(path).await;
        assert_eq!(res.status().as_u16(), 200, "{path}");
        res.json().await.unwrap()
    }

    /// The cookies the browser sends to the application.
    pub fn cookies(&self) -> String {
        let url = self.base.parse().unwrap();
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// Signs `username` in on logto-dev's form at `auth_url` (where
    /// `/sign-in` sent the browser); the callback's response.
    pub async fn complete_sign_in(&self, auth_url: &url::Url, username: &str) -> reqwest::Response {
        let password = format!("{username}-password");
        let callback = logto_dev::testing::complete_sign_in(auth_url, username, &password)
            .await
            .unwrap();
        self.browser.get(callback.as_str()).send().await.unwrap()
    }

    /// Signs in from `/sign-in?return_to=…`; the callback's response.
    pub async fn sign_in(&self, username: &str, return_to: &str) -> reqwest::Response {
        let res = self.get(&format!("/sign-in?return_to={return_to}")).await;
        assert_eq!(res.status().as_u16(), 302);
        let auth_url = url::Url::parse(&location(&res)).unwrap();
        self.complete_sign_in(&auth_url, username).await
    }

    /// The CSRF token the home page shows.
    pub async fn csrf(&self) -> String {
        between(&self.text("/").await, r#"name="csrf" value=""#, "\"").to_owned()
    }

    /// `POST /sign-out`, with `csrf` in the form when given.
    pub async fn post_sign_out(&self, csrf: Option<&str>) -> reqwest::Response {
        let form: Vec<(&str, &str)> = csrf.map(|c| vec![("csrf", c)]).unwrap_or_default();
        self.browser
            .post(format!("{}/sign-out", self.base))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

/// The `Location` of a redirect.
pub fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// The text of `html` between `start` and the next `end`.
pub fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).unwrap() + start.len();
    let to = html[from..].find(end).unwrap() + from;
    &html[from..to]
}
