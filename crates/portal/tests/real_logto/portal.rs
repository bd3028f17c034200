//! A portal (in-process, port 0, its own database) signing in against the
//! real Logto with an application of its own, and the demo's organizations
//! as its tenants (the ids Logto assigned, from the provisioning's JSON).

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;

use portal::config::Settings;
use portal::startup::Application;
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::PgPool;
use url::Url;

use crate::support::{self, browser};

const SESSION_KEY_B64: &str = "dGVzdC1zZXNzaW9uLWtleS10aGF0LWlzLWxvbmctZW5vdWdoLWZvci1hY3RpeC1jb29raWUtc2lnbmluZy1hbmQtZW5jcnlwdGlvbg==";
const TOKEN_KEY_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// The demo's scopes, as `cargo xtask demo` asks for them.
pub const SCOPES: &str = "email phone custom_data identities roles read:members invite:members \
                          manage:members manage:billing read:reports write:reports";

pub struct RealPortal {
    pub address: Url,
    pub pool: PgPool,
    pub app_id: String,
    pub app_secret: String,
    /// The provisioning's description of the demo data on this Logto.
    pub provisioned: Value,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl RealPortal {
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, &[]).await
    }

    /// With extra (or overriding) configuration.
    pub async fn spawn_with(pool: PgPool, extra: &[(&str, &str)]) -> Self {
        let provisioned = support::provisioned().expect("LOGTO_TIER_PROVISIONED is not set");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address: Url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
            .parse()
            .unwrap();
        let app = support::test_app(&address).await;
        let mut env: HashMap<String, String> = [
            ("DATABASE_URL", "postgres://unused-the-pool-is-given"),
            ("LOGTO_SCOPES", SCOPES),
            ("PORTAL_SESSION_KEY", SESSION_KEY_B64),
            ("PORTAL_TOKEN_KEY", TOKEN_KEY_B64),
            ("PORTAL_SIGN_IN_RATE", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let base = address.as_str().trim_end_matches('/').to_owned();
        let api_resource = provisioned["api_resource"].as_str().unwrap().to_owned();
        // Organization self-service calls the Management API as the tier's
        // machine-to-machine application.
        let m2m = support::m2m();
        for (k, v) in [
            ("LOGTO_M2M_APP_ID", m2m.app_id.clone()),
            (
                "LOGTO_M2M_APP_SECRET",
                m2m.app_secret.expose_secret().to_owned(),
            ),
            ("LOGTO_ENDPOINT", support::endpoint().to_string()),
            ("LOGTO_APP_ID", app.id.clone()),
            ("LOGTO_APP_SECRET", app.secret.expose_secret().to_owned()),
            ("LOGTO_RESOURCES", api_resource.clone()),
            ("PORTAL_API_RESOURCE", api_resource),
            ("PORTAL_BASE_URL", base),
            (
                "PORTAL_TEMPLATES_DIR",
                workspace_root().join("templates").display().to_string(),
            ),
        ] {
            env.insert(k.to_owned(), v);
        }
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let settings = Settings::from_lookup(|name| env.get(name).cloned()).unwrap();
        // The demo's tenants, with the organization ids this Logto assigned.
        let seed = logto_seed::Seed::demo();
        for org in &seed.organizations {
            let id = provisioned["organizations"][&org.id]["id"]
                .as_str()
                .unwrap();
            if let Some(tenant) = portal::tenant::from_seed(org, id, false) {
                portal::storage::tenants::upsert(&pool, &tenant)
                    .await
                    .unwrap();
            }
        }
        let application = Application::build_with(settings, pool.clone(), listener)
            .await
            .unwrap();
        tokio::spawn(application.run_until_stopped());
        Self {
            address,
            pool,
            app_secret: app.secret.expose_secret().to_owned(),
            app_id: app.id,
            provisioned,
        }
    }

    pub fn url(&self, path: &str) -> Url {
        self.address.join(path).unwrap()
    }

    /// The id Logto gave the demo organization `seed_id` (`org-acme`).
    pub fn organization(&self, seed_id: &str) -> String {
        support::organization_id(&self.provisioned, seed_id)
    }

    /// The `sub` of demo user `username`.
    pub fn sub_of(&self, username: &str) -> String {
        support::user_id(&self.provisioned, username)
    }

    /// Rows in `logins`: one per signed-in browser.
    pub async fn logins(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM logins")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Signs `username` in on a new browser (cookies kept, redirects not
    /// followed), through Logto's Experience API; returns the browser.
    pub async fn signed_in(&self, username: &str) -> reqwest::Client {
        let browser = browser();
        self.sign_in_from(&browser, "/sign-in", username).await;
        browser
    }

    /// Starts sign-in at `path` of the portal, signs in on Logto and finishes
    /// at the portal's callback; asserts that the portal then redirects.
    pub async fn sign_in_from(&self, browser: &reqwest::Client, path: &str, username: &str) {
        let password = format!("{username}-password");
        self.sign_in_with(browser, path, username, &password).await;
    }

    /// [`Self::sign_in_from`] with a password of one's own.
    pub async fn sign_in_with(
        &self,
        browser: &reqwest::Client,
        path: &str,
        username: &str,
        password: &str,
    ) {
        support::sign_in_at(browser, &self.address, path, username, password).await;
    }
}

/// The value of claim `name` in a page's claims table.
pub fn claim<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("<td class=\"name\">{name}</td><td class=\"value\"><code>");
    let start = html.find(&marker)? + marker.len();
    Some(&html[start..start + html[start..].find('<')?])
}
