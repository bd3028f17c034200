//! The quick start, driven like a browser (cookies kept, redirects not
//! followed), signing in through logto-dev's sign-in form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use actix_session::storage::{
    LoadError, SaveError, SessionKey, SessionStore, UpdateError, generate_session_key,
};
use serde_json::Value;
use support::{TestApp, demo_config, location};

async fn spawn_app() -> TestApp {
    let idp = logto_dev::serve_demo().await.unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (server, base) = quickstart::server(demo_config(&idp), listener).unwrap();
    tokio::spawn(server);
    TestApp::new(base, idp)
}

#[tokio::test]
async fn signed_out_pages_redirect_and_apis_answer_401_json() {
    let app = spawn_app().await;
    let home = app.text("/").await;
    assert!(home.contains("Not signed in"), "{home}");
    let page = app.get("/id-token-claims?x=1").await;
    assert_eq!(page.status().as_u16(), 302);
    assert_eq!(
        location(&page),
        "/sign-in?return_to=%2Fid-token-claims%3Fx%3D1"
    );
    let api = app.get("/api/me").await;
    assert_eq!(api.status().as_u16(), 401);
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
}

#[tokio::test]
async fn every_quick_start_section_works_after_sign_in() {
    let app = spawn_app().await;
    let res = app.sign_in("alice", "/user-info").await;
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(location(&res), "/user-info");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");

    let home = app.text("/").await;
    assert!(home.contains("Signed in as"), "{home}");
    let claims = app.json("/id-token-claims").await;
    assert!(claims["sub"].is_string(), "{claims}");
    let info = app.json("/user-info").await;
    assert_eq!(info["sub"], claims["sub"]);
    let extra = app.json("/scopes-and-claims").await;
    assert_eq!(extra["email"], "alice@acme.test");
    assert!(
        extra["organizations"].to_string().contains("org-acme"),
        "{extra}"
    );
    let api = app.json("/api-resource").await;
    assert!(
        api["scope"].as_str().unwrap().contains("write:reports"),
        "{api}"
    );
    let org = app.json("/organizations/org-acme").await;
    assert_eq!(org["organization_id"], "org-acme");
    assert!(
        org["scope"].as_str().unwrap().contains("invite:members"),
        "{org}"
    );
    let me = app.json("/api/me").await;
    assert_eq!(me["sub"], claims["sub"]);
}

#[tokio::test]
async fn a_non_member_gets_a_403() {
    let app = spawn_app().await;
    app.sign_in("carol", "/").await;
    let res = app.get("/organizations/org-acme").await;
    assert_eq!(res.status().as_u16(), 403);
}

#[tokio::test]
async fn sign_out_is_a_csrf_protected_post() {
    let app = spawn_app().await;
    app.sign_in("alice", "/").await;
    let get = app.get("/sign-out").await;
    assert_eq!(get.status().as_u16(), 405);
    let forged = app.post_sign_out(None).await;
    assert_eq!(forged.status().as_u16(), 403);
    let wrong = app.post_sign_out(Some("not-the-token")).await;
    assert_eq!(wrong.status().as_u16(), 403);
    // Still signed in.
    assert_eq!(app.get("/id-token-claims").await.status().as_u16(), 200);

    let csrf = app.csrf().await;
    let res = app.post_sign_out(Some(&csrf)).await;
    assert_eq!(res.status().as_u16(), 303);
    assert!(
        location(&res).contains("/oidc/session/end"),
        "{}",
        location(&res)
    );
    assert_eq!(app.get("/id-token-claims").await.status().as_u16(), 302);
}

#[tokio::test]
async fn sign_in_protections() {
    let app = spawn_app().await;
    // A forged state is refused, with no referrer.
    app.get("/sign-in").await;
    let forged = app.get("/callback?code=abc&state=forged&iss=x").await;
    assert_eq!(forged.status().as_u16(), 400);
    assert_eq!(forged.headers()["referrer-policy"], "no-referrer");

    // return_to to another origin is ignored; the session changes at sign-in.
    let before = app.cookies();
    let res = app.sign_in("alice", "//evil.example").await;
    assert_eq!(location(&res), "/");
    let after = app.cookies();
    assert_ne!(before, after);
    assert!(!after.contains("eyJ"), "no token in the cookie: {after}");
}

/// A server-side session store, to see the session id itself.
#[derive(Clone, Default)]
struct MemSessions(Arc<std::sync::Mutex<HashMap<String, HashMap<String, String>>>>);

impl SessionStore for MemSessions {
    async fn load(&self, key: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        Ok(self.0.lock().unwrap().get(key.as_ref()).cloned())
    }
    async fn save(
        &self,
        state: HashMap<String, String>,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, SaveError> {
        let key = generate_session_key();
        self.0
            .lock()
            .unwrap()
            .insert(key.as_ref().to_owned(), state);
        Ok(key)
    }
    async fn update(
        &self,
        key: SessionKey,
        state: HashMap<String, String>,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, UpdateError> {
        self.0
            .lock()
            .unwrap()
            .insert(key.as_ref().to_owned(), state);
        Ok(key)
    }
    async fn update_ttl(
        &self,
        _key: &SessionKey,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<(), anyhow::Error> {
        Ok(())
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        self.0.lock().unwrap().remove(key.as_ref());
        Ok(())
    }
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_the_old_one_is_dead() {
    use actix_web::{App, HttpServer, web};
    use logto_actix::{ApiAuthenticated, LogtoAuth, MemoryStore};

    let idp = logto_dev::serve_demo().await.unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let auth = LogtoAuth::new(
        logto_client::LogtoClient::new(demo_config(&idp)).unwrap(),
        MemoryStore::default(),
        &base,
    )
    .unwrap();
    let sessions = MemSessions::default();
    let key = actix_web::cookie::Key::generate();
    let store = sessions.clone();
    let server = HttpServer::new(move || {
        App::new()
            .configure(auth.routes())
            .route(
                "/me",
                web::get().to(|a: ApiAuthenticated| async move { a.claims().sub.clone() }),
            )
            .wrap(
                actix_session::SessionMiddleware::builder(store.clone(), key.clone())
                    .cookie_secure(false)
                    .build(),
            )
    })
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    let app = TestApp::new(base, idp);
    let res = app.get("/sign-in").await;
    let before = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let before = before.split(';').next().unwrap().to_owned();
    let ids_before: Vec<String> = sessions.0.lock().unwrap().keys().cloned().collect();
    assert_eq!(ids_before.len(), 1);

    let auth_url = url::Url::parse(&location(&res)).unwrap();
    let res = app.complete_sign_in(&auth_url, "alice").await;
    assert_eq!(res.status().as_u16(), 302);
    let ids_after: Vec<String> = sessions.0.lock().unwrap().keys().cloned().collect();
    assert_eq!(ids_after.len(), 1);
    assert_ne!(
        ids_before, ids_after,
        "the session id is renewed at sign-in"
    );
    assert_eq!(app.get("/me").await.status().as_u16(), 200);

    // The pre-sign-in cookie is dead.
    let replay = reqwest::Client::new()
        .get(format!("{}/me", app.base))
        .header("cookie", before)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 401);
}
