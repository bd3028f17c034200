//! The two servers set up alike: real Logto through its Management API (uniquely named
//! objects, so tests run in parallel and never touch the seeded demo data), logto-dev
//! in-process from an equivalent seed.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// Organization permissions, API permissions and the password of the test user, suffixed
/// per run so objects created on real Logto never collide.
pub struct Names {
    pub suffix: String,
    pub api: String,
    pub read_things: &'static str,
    pub write_things: &'static str,
    pub read_members: String,
    pub invite_members: String,
    pub username: String,
    pub password: String,
}

impl Names {
    fn new() -> Names {
        let suffix = crate::random_hex(4);
        Names {
            api: format!("https://api-{suffix}.conformance.test"),
            read_things: "read:things",
            write_things: "write:things",
            read_members: format!("read:members-{suffix}"),
            invite_members: format!("invite:members-{suffix}"),
            username: format!("conf_{suffix}"),
            password: format!("Conformance-{suffix}-pw1"),
            suffix,
        }
    }

    /// Every scope a full sign-in asks for.
    pub fn all_scopes(&self) -> String {
        format!(
            "openid offline_access profile email phone roles custom_data identities \
             urn:logto:scope:organizations urn:logto:scope:organization_roles {} {} {} {}",
            self.read_things, self.write_things, self.read_members, self.invite_members
        )
    }
}

/// Which server a side is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Real,
    Dev,
}

/// One server with its client, user and organizations.
pub struct Side {
    pub kind: Kind,
    pub endpoint: url::Url,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// A public client (SPA) with the same redirect URI.
    pub spa_id: String,
    pub redirect_uri: String,
    pub post_logout_uri: String,
    pub sub: String,
    /// The organization the user is a member of (no description).
    pub org: String,
    /// An organization the user is not a member of.
    pub other_org: String,
    /// The logto-dev instance, on the logto-dev side.
    pub idp: Option<logto_dev::DevIdp>,
}

impl Side {
    /// Replaces what differs by construction between the servers (URLs, ids) by
    /// placeholders, so values can be compared.
    pub fn normalize(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => {
                let endpoint = self.endpoint.as_str().trim_end_matches('/');
                let mut s = s
                    .replace(&self.issuer, "{issuer}")
                    .replace(endpoint, "{endpoint}")
                    .replace(&self.redirect_uri, "{redirect_uri}");
                for (id, name) in [
                    (&self.client_id, "{client_id}"),
                    (&self.spa_id, "{spa_id}"),
                    (&self.other_org, "{other_org}"),
                    (&self.org, "{org}"),
                    (&self.sub, "{sub}"),
                ] {
                    s = s.replace(id.as_str(), name);
                }
                Value::String(s)
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.normalize(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.normalize(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Logout tokens received: `(side, token)`.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// The relying party both servers talk to: one loopback port for the redirect URIs (never
/// requested: sign-ins stop at the redirect) and the back-channel logout URIs, recording
/// the logout tokens posted to `/backchannel-logout/{real|dev}`.
pub struct RelyingParty {
    pub port: u16,
    pub logout_tokens: Received,
    handle: actix_web::dev::ServerHandle,
}

impl RelyingParty {
    pub async fn start() -> RelyingParty {
        let tokens: Received = Arc::default();
        let data = web::Data::new(tokens.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route(
                "/backchannel-logout/{side}",
                web::post().to(
                    |data: web::Data<Received>,
                     side: web::Path<String>,
                     form: web::Form<Vec<(String, String)>>| async move {
                        for (k, v) in form.into_inner() {
                            if k == "logout_token" {
                                data.lock().unwrap().push((side.clone(), v));
                            }
                        }
                        HttpResponse::Ok().finish()
                    },
                ),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        RelyingParty {
            port,
            logout_tokens: tokens,
            handle,
        }
    }

    /// The logout tokens posted for `side` so far.
    pub fn tokens_for(&self, side: &str) -> Vec<String> {
        self.logout_tokens
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| s == side)
            .map(|(_, t)| t.clone())
            .collect()
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Both servers, set up alike, and the relying party.
pub struct Pair {
    pub names: Names,
    pub real: Side,
    pub dev: Side,
    pub rp: RelyingParty,
    cleanup: Vec<String>,
    admin: Admin,
}

impl Pair {
    /// Sets up both servers. Panics with a clear message when the tier's environment is
    /// missing (these tests only run through `cargo xtask test` or by hand with it set).
    pub async fn start() -> Pair {
        let names = Names::new();
        let rp = RelyingParty::start().await;
        let admin = Admin::connect().await;
        let mut cleanup = Vec::new();
        let real = real_side(&admin, &names, rp.port, &mut cleanup).await;
        let dev = dev_side(&names, rp.port).await;
        Pair {
            names,
            real,
            dev,
            rp,
            cleanup,
            admin,
        }
    }

    /// Deletes what was created on real Logto and stops the relying party and logto-dev.
    pub async fn finish(self) {
        for path in self.cleanup.iter().rev() {
            // Best effort: a leftover object is uniquely named and harms no other test.
            let _ = self.admin.call(reqwest::Method::DELETE, path, None).await;
        }
        if let Some(idp) = self.dev.idp {
            idp.stop().await;
        }
        self.rp.stop().await;
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the real-Logto tier through `cargo xtask test`, or set LOGTO_TIER_ENDPOINT, LOGTO_TIER_M2M_APP_ID and LOGTO_TIER_M2M_APP_SECRET")
    })
}

/// A Management API client authenticated with the tier's machine-to-machine app.
pub struct Admin {
    endpoint: url::Url,
    token: String,
    http: reqwest::Client,
}

impl Admin {
    async fn connect() -> Admin {
        let endpoint = url::Url::parse(&env("LOGTO_TIER_ENDPOINT")).unwrap();
        let http = crate::http();
        let resp = http
            .post(endpoint.join("oidc/token").unwrap())
            .basic_auth(
                env("LOGTO_TIER_M2M_APP_ID"),
                Some(env("LOGTO_TIER_M2M_APP_SECRET")),
            )
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", "https://default.logto.app/api"),
                ("scope", "all"),
            ])
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "Management API token: {status} {body}");
        Admin {
            endpoint,
            token: body["access_token"].as_str().unwrap().to_owned(),
            http,
        }
    }

    /// Calls `/api{path}`; the status and the JSON body (`null` when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = self.endpoint.join(&format!("api{path}")).unwrap();
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Calls `/api{path}` and insists on success.
    pub async fn ok(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (status, out) = self.call(method.clone(), path, Some(body)).await;
        assert!(
            (200..300).contains(&status),
            "Management API {method} {path}: {status} {out}"
        );
        out
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.ok(reqwest::Method::POST, path, body).await
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn real_side(admin: &Admin, n: &Names, port: u16, cleanup: &mut Vec<String>) -> Side {
    let u = &n.suffix;
    let resource = admin
        .post(
            "/resources",
            json!({"name": format!("conformance {u}"), "indicator": n.api}),
        )
        .await;
    let resource_id = id(&resource);
    cleanup.push(format!("/resources/{resource_id}"));
    let read_things = admin
        .post(
            &format!("/resources/{resource_id}/scopes"),
            json!({"name": n.read_things}),
        )
        .await;
    let write_things = admin
        .post(
            &format!("/resources/{resource_id}/scopes"),
            json!({"name": n.write_things}),
        )
        .await;
    let role = admin
        .post(
            "/roles",
            json!({"name": format!("reader-{u}"), "description": "conformance", "type": "User",
                   "scopeIds": [id(&read_things)]}),
        )
        .await;
    cleanup.push(format!("/roles/{}", id(&role)));
    let read_members = admin
        .post("/organization-scopes", json!({"name": n.read_members}))
        .await;
    cleanup.push(format!("/organization-scopes/{}", id(&read_members)));
    let invite_members = admin
        .post("/organization-scopes", json!({"name": n.invite_members}))
        .await;
    cleanup.push(format!("/organization-scopes/{}", id(&invite_members)));
    let org_role = admin
        .post(
            "/organization-roles",
            json!({"name": format!("admin-{u}"),
                   "organizationScopeIds": [id(&read_members), id(&invite_members)],
                   "resourceScopeIds": [id(&write_things)]}),
        )
        .await;
    cleanup.push(format!("/organization-roles/{}", id(&org_role)));
    let org = admin
        .post("/organizations", json!({"name": format!("Org {u}")}))
        .await;
    cleanup.push(format!("/organizations/{}", id(&org)));
    let other = admin
        .post(
            "/organizations",
            json!({"name": format!("Other {u}"), "description": "not a member"}),
        )
        .await;
    cleanup.push(format!("/organizations/{}", id(&other)));
    let user = admin
        .post(
            "/users",
            json!({"username": n.username, "password": n.password, "name": format!("Conformance {u}"),
                   "primaryEmail": format!("{}@example.test", n.username)}),
        )
        .await;
    let sub = id(&user);
    cleanup.push(format!("/users/{sub}"));
    admin
        .post(
            &format!("/users/{sub}/roles"),
            json!({"roleIds": [id(&role)]}),
        )
        .await;
    admin
        .post(
            &format!("/organizations/{}/users", id(&org)),
            json!({"userIds": [sub]}),
        )
        .await;
    admin
        .post(
            &format!("/organizations/{}/users/{sub}/roles", id(&org)),
            json!({"organizationRoleIds": [id(&org_role)]}),
        )
        .await;
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let post_logout_uri = format!("http://127.0.0.1:{port}/");
    let app = admin
        .post(
            "/applications",
            json!({"name": format!("conformance {u}"), "type": "Traditional",
                   "oidcClientMetadata": {
                       "redirectUris": [redirect_uri],
                       "postLogoutRedirectUris": [post_logout_uri],
                       "backchannelLogoutUri": format!("http://127.0.0.1:{port}/backchannel-logout/real"),
                       "backchannelLogoutSessionRequired": true}}),
        )
        .await;
    let client_id = id(&app);
    cleanup.push(format!("/applications/{client_id}"));
    let secret = admin
        .post(
            &format!("/applications/{client_id}/secrets"),
            json!({"name": format!("conformance-{u}")}),
        )
        .await;
    let spa = admin
        .post(
            "/applications",
            json!({"name": format!("conformance spa {u}"), "type": "SPA",
                   "oidcClientMetadata": {"redirectUris": [redirect_uri], "postLogoutRedirectUris": []}}),
        )
        .await;
    cleanup.push(format!("/applications/{}", id(&spa)));
    let endpoint = admin.endpoint.clone();
    Side {
        kind: Kind::Real,
        issuer: format!("{}/oidc", endpoint.as_str().trim_end_matches('/')),
        endpoint,
        client_id,
        client_secret: secret["value"].as_str().unwrap().to_owned(),
        spa_id: id(&spa),
        redirect_uri,
        post_logout_uri,
        sub,
        org: id(&org),
        other_org: id(&other),
        idp: None,
    }
}

/// The logto-dev seed equivalent to what [`real_side`] creates.
fn dev_seed(n: &Names, port: u16) -> String {
    let u = &n.suffix;
    format!(
        r#"
[[applications]]
id = "conformance-{u}"
name = "conformance {u}"
type = "traditional"
secret = "conformance-secret-{u}"
redirect_uris = ["http://127.0.0.1:{port}/callback"]
post_logout_redirect_uris = ["http://127.0.0.1:{port}/"]
backchannel_logout_uri = "http://127.0.0.1:{port}/backchannel-logout/dev"
backchannel_logout_session_required = true

[[applications]]
id = "conformance-spa-{u}"
type = "spa"
redirect_uris = ["http://127.0.0.1:{port}/callback"]

[[api_resources]]
indicator = "{api}"
name = "conformance {u}"
scopes = ["{read_things}", "{write_things}"]

[[roles]]
name = "reader-{u}"
scopes = {{ "{api}" = ["{read_things}"] }}

[[organization_roles]]
name = "admin-{u}"
permissions = ["{read_members}", "{invite_members}"]
resource_scopes = {{ "{api}" = ["{write_things}"] }}

[[users]]
username = "{username}"
password = "{password}"
name = "Conformance {u}"
email = "{username}@example.test"
roles = ["reader-{u}"]

[[organizations]]
id = "org-{u}"
name = "Org {u}"
members = [{{ user = "{username}", roles = ["admin-{u}"] }}]

[[organizations]]
id = "other-{u}"
name = "Other {u}"
description = "not a member"
"#,
        api = n.api,
        read_things = n.read_things,
        write_things = n.write_things,
        read_members = n.read_members,
        invite_members = n.invite_members,
        username = n.username,
        password = n.password,
    )
}

async fn dev_side(n: &Names, port: u16) -> Side {
    let seed = logto_dev::Seed::from_toml_str(&dev_seed(n, port)).unwrap();
    let sub = seed.user_by_username(&n.username).unwrap().id.clone();
    let idp = logto_dev::serve(
        seed,
        logto_dev::Settings::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let u = &n.suffix;
    Side {
        kind: Kind::Dev,
        endpoint: idp.endpoint(),
        issuer: idp.issuer(),
        client_id: format!("conformance-{u}"),
        client_secret: format!("conformance-secret-{u}"),
        spa_id: format!("conformance-spa-{u}"),
        redirect_uri: format!("http://127.0.0.1:{port}/callback"),
        post_logout_uri: format!("http://127.0.0.1:{port}/"),
        sub,
        org: format!("org-{u}"),
        other_org: format!("other-{u}"),
        idp: Some(idp),
    }
}
