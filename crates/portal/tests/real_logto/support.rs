//! What every real-Logto test needs: the tier's variables, a Management API
//! client, unique names, a Traditional web application per test portal, the
//! provisioned demo data, and a scripted browser that signs in on Logto.

use std::path::PathBuf;
use std::sync::Arc;

use logto_seed::Seed;
use portal::management::{M2mCredentials, ManagementClient};
use portal::provision::AppCredentials;
use reqwest::redirect::Policy;
use url::Url;

/// Why a test cannot run: said in the panic when a variable is missing.
const HOW: &str = "run the real-Logto tier through `cargo xtask test` (or set LOGTO_TIER_ENDPOINT, \
                   LOGTO_TIER_M2M_APP_ID, LOGTO_TIER_M2M_APP_SECRET by hand)";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn required(name: &str) -> String {
    var(name).unwrap_or_else(|| panic!("{name} is not set: {HOW}"))
}

/// The tier's Logto endpoint (`LOGTO_TIER_ENDPOINT`; issuer = that + `/oidc`).
pub fn endpoint() -> Url {
    required("LOGTO_TIER_ENDPOINT").parse().unwrap()
}

/// The tier's machine-to-machine application with Management API access.
pub fn m2m() -> M2mCredentials {
    M2mCredentials::new(
        required("LOGTO_TIER_M2M_APP_ID"),
        required("LOGTO_TIER_M2M_APP_SECRET"),
    )
}

/// Logto's own database (`LOGTO_TIER_DATABASE_URL`), for bootstrap tests.
pub fn logto_database_url() -> String {
    required("LOGTO_TIER_DATABASE_URL")
}

/// The JSON written by `portal logto provision --write-json` for the demo
/// seed (`LOGTO_TIER_PROVISIONED`), when the harness provisioned one.
#[allow(dead_code)]
pub fn provisioned() -> Option<serde_json::Value> {
    let path = PathBuf::from(var("LOGTO_TIER_PROVISIONED")?);
    Some(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
}

/// The id Logto gave the demo organization `seed_id` (`org-acme`), from
/// [`provisioned`]'s JSON.
pub fn organization_id(provisioned: &serde_json::Value, seed_id: &str) -> String {
    provisioned["organizations"][seed_id]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The id (`sub`) of demo user `username`, from [`provisioned`]'s JSON.
pub fn user_id(provisioned: &serde_json::Value, username: &str) -> String {
    provisioned["users"][username]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A Management API client with the tier's M2M application.
pub fn client() -> ManagementClient {
    ManagementClient::new(endpoint(), m2m()).unwrap()
}

/// A name no other test (nor an earlier run) uses: `[a-z0-9]`, a letter first,
/// so it fits Logto's usernames and the portal's slugs.
pub fn unique() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// A Traditional web application of its own for a test portal at `base_url`.
#[allow(dead_code)]
pub async fn test_app(base_url: &Url) -> AppCredentials {
    let name = format!("Test portal {}", unique());
    portal::provision::ensure_web_app(&client(), &name, std::slice::from_ref(base_url), true)
        .await
        .unwrap()
}

/// The demo seed with its own copies of what a run creates per instance (the
/// application, users, organizations, tenants), suffixed with `suffix`.
/// Roles, API resources and the organization template stay the demo's: a run
/// finds them as they are and changes nothing there.
pub fn unique_demo_seed(suffix: &str) -> Seed {
    let mut seed = Seed::demo();
    for app in &mut seed.applications {
        app.name = format!("{} {suffix}", app.name);
    }
    for user in &mut seed.users {
        user.username = format!("{}_{suffix}", user.username);
        // Emails and phones are unique in Logto.
        user.email = user.email.as_ref().map(|e| {
            let (local, domain) = e.split_once('@').unwrap();
            format!("{local}+{suffix}@{domain}")
        });
        user.phone = None;
    }
    for org in &mut seed.organizations {
        org.id = format!("{}-{suffix}", org.id);
        org.name = format!("{} {suffix}", org.name);
        if let Some(tenant) = &mut org.tenant {
            tenant.slug = format!("{}-{suffix}", tenant.slug);
        }
    }
    seed
}

/// Deletes what a run of `seed` created per instance (best effort, so that
/// the shared Logto does not fill up).
pub async fn clean_up(client: &ManagementClient, provisioned: &portal::provision::Provisioned) {
    for user in provisioned.users.values() {
        let _ = client.delete_user(&user.id).await;
    }
    for org in provisioned.organizations.values() {
        let _ = client.delete_organization(&org.id).await;
    }
    let _ = client.delete_application(&provisioned.app.id).await;
}

/// The address of a loopback port nothing listens on.
pub fn closed_endpoint() -> Url {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url.parse().unwrap()
}

/// A browser: cookies kept, redirects not followed.
pub fn browser() -> reqwest::Client {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_provider(jar)
        .build()
        .unwrap()
}

/// `GET url`: status and body.
pub async fn page(browser: &reqwest::Client, url: Url) -> (reqwest::StatusCode, String) {
    let res = browser.get(url).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// The CSRF token of a page's sign-out form.
pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field on the page") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

/// Starts sign-in at `path` of the application at `app`, signs in on Logto
/// (through its Experience API) and finishes at the application's callback;
/// asserts that the application then redirects, and returns that response.
pub async fn sign_in_at(
    browser: &reqwest::Client,
    app: &Url,
    path: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let res = browser.get(app.join(path).unwrap()).send().await.unwrap();
    assert!(res.status().is_redirection(), "{path}: {}", res.status());
    let authorization: Url = location(&res).parse().unwrap();
    let callback = crate::experience::sign_in(browser, &authorization, username, password).await;
    assert_eq!(callback.origin(), app.origin(), "{callback}");
    let res = browser.get(callback.clone()).send().await.unwrap();
    assert!(
        res.status().is_redirection(),
        "callback {callback}: {} {}",
        res.status(),
        res.text().await.unwrap()
    );
    res
}
