//! The system under test: a portal (in-process, port 0) on its own database,
//! signing in against its own logto-dev, both on loopback — the same setup as
//! `tests/api/helpers.rs`, with the demo's tenants and its machine-to-machine
//! application (organization self-service).

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;

use fantoccini::Client;
use logto_dev::DevIdp;
use portal::config::Settings;
use portal::startup::Application;
use sqlx::PgPool;

const SESSION_KEY_B64: &str = "dGVzdC1zZXNzaW9uLWtleS10aGF0LWlzLWxvbmctZW5vdWdoLWZvci1hY3RpeC1jb29raWUtc2lnbmluZy1hbmQtZW5jcnlwdGlvbg==";
const TOKEN_KEY_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub struct TestPortal {
    pub address: String,
    pub pool: PgPool,
    pub idp: DevIdp,
}

/// The workspace root (`crates/portal/../..`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl TestPortal {
    pub async fn spawn(pool: PgPool) -> Self {
        let idp = logto_dev::serve_demo().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let app = idp
            .seed()
            .applications
            .iter()
            .find(|a| a.id == "portal-demo")
            .unwrap();
        // The machine-to-machine application organization self-service
        // calls logto-dev's Management API as.
        let m2m = idp
            .seed()
            .applications
            .iter()
            .find(|a| a.id == "portal-m2m")
            .unwrap();
        let root = workspace_root();
        let env: HashMap<&str, String> = HashMap::from([
            (
                "DATABASE_URL",
                "postgres://unused-the-pool-is-given".to_owned(),
            ),
            ("LOGTO_ENDPOINT", idp.endpoint().to_string()),
            ("LOGTO_APP_ID", app.id.clone()),
            ("LOGTO_APP_SECRET", app.secret.clone().unwrap_or_default()),
            ("LOGTO_M2M_APP_ID", m2m.id.clone()),
            (
                "LOGTO_M2M_APP_SECRET",
                m2m.secret.clone().unwrap_or_default(),
            ),
            (
                "LOGTO_SCOPES",
                "email phone custom_data identities roles read:members invite:members \
                 manage:members manage:billing read:reports write:reports"
                    .to_owned(),
            ),
            ("PORTAL_BASE_URL", address.clone()),
            ("PORTAL_SESSION_KEY", SESSION_KEY_B64.to_owned()),
            ("PORTAL_TOKEN_KEY", TOKEN_KEY_B64.to_owned()),
            ("PORTAL_API_RESOURCE", "https://api.portal.test".to_owned()),
            (
                "PORTAL_TENANTS_FILE",
                root.join("crates/logto-seed/demo.toml")
                    .to_string_lossy()
                    .into_owned(),
            ),
            (
                "PORTAL_TEMPLATES_DIR",
                root.join("templates").to_string_lossy().into_owned(),
            ),
            ("PORTAL_SIGN_IN_RATE", "0".to_owned()),
        ]);
        let settings = Settings::from_lookup(|name| env.get(name).cloned()).unwrap();
        let application = Application::build_with(settings, pool.clone(), listener)
            .await
            .unwrap();
        tokio::spawn(application.run_until_stopped());
        Self { address, pool, idp }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn sub_of(&self, username: &str) -> String {
        self.idp
            .seed()
            .user_by_username(username)
            .unwrap()
            .id
            .clone()
    }

    /// Rows in `logins`: one per signed-in browser.
    pub async fn logins(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM logins")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The keys (hashes) of every session row now.
    pub async fn session_keys(&self) -> Vec<Vec<u8>> {
        sqlx::query_scalar("SELECT key_hash FROM sessions")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    /// How many of `keys` still have a session row.
    pub async fn remaining(&self, keys: &[Vec<u8>]) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE key_hash = ANY($1)")
            .bind(keys)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The HTTP status of the page the browser shows now (Navigation Timing).
pub async fn page_status(client: &Client) -> u64 {
    let status = client
        .execute(
            "const nav = performance.getEntriesByType('navigation'); \
             return nav.length ? nav[nav.length - 1].responseStatus : null;",
            vec![],
        )
        .await
        .unwrap();
    status
        .as_u64()
        .unwrap_or_else(|| panic!("no navigation status: {status}"))
}

/// With `UPDATE_SCREENSHOTS=1`: saves what the browser shows to
/// `crates/portal/docs/screenshots/{name}` for the README.
pub async fn save_screenshot(client: &Client, name: &str) {
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let png = client.screenshot().await.unwrap();
    let dir = workspace_root().join("crates/portal/docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("browser test: wrote {}", path.display());
}
