//! What every real-Logto test needs: the tier's variables, a Management API
//! client, unique names, a Traditional web application per test portal.

use std::path::PathBuf;

use logto_seed::Seed;
use portal::management::{M2mCredentials, ManagementClient};
use portal::provision::AppCredentials;
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
