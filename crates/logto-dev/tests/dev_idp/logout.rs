//! End session and back-channel logout, with a real relying-party endpoint on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use logto_dev::testing::Browser;
use serde_json::{Value, json};

use crate::helpers::*;

/// A relying party that records the logout tokens POSTed to `/backchannel-logout`.
struct Rp {
    port: u16,
    tokens: Arc<Mutex<Vec<String>>>,
    handle: actix_web::dev::ServerHandle,
}

async fn start_rp() -> Rp {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let data = web::Data::new(tokens.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).route(
            "/backchannel-logout",
            web::post().to(
                |data: web::Data<Arc<Mutex<Vec<String>>>>,
                 form: web::Form<Vec<(String, String)>>| async move {
                    for (k, v) in form.into_inner() {
                        if k == "logout_token" {
                            data.lock().unwrap().push(v);
                        }
                    }
                    HttpResponse::NoContent().finish()
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
    Rp {
        port,
        tokens,
        handle,
    }
}

fn check_logout_token(idp: &logto_dev::DevIdp, token: &str, sub: &str, sid: &Value) {
    let (header, claims) = decode(token);
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(claims["sub"], json!(sub));
    assert_eq!(&claims["sid"], sid);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["iss"], json!(idp.issuer()));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    // Same header and claim names as the logout token captured from a real Logto.
    let sample_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logout-token.jwt");
    let sample = std::fs::read_to_string(sample_path).unwrap();
    let (sample_header, sample_claims) = decode(sample.trim());
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&header), keys(&sample_header));
    assert_eq!(keys(&claims), keys(&sample_claims));
}

#[tokio::test]
async fn end_session_redirects_and_sends_a_backchannel_logout() {
    let idp = spawn_default().await;
    let rp = start_rp().await;
    let browser = Browser::new().unwrap();
    let redirect = format!("http://127.0.0.1:{}/callback", rp.port);
    let req = auth_request_to(&idp, &redirect, &[]);
    let cb = browser
        .sign_in(&req.url, "alice", "alice-password")
        .await
        .unwrap();
    let tokens = exchange(&idp, &req, &cb, &[]).await.body;
    let id_token = tokens["id_token"].as_str().unwrap();
    let sid = decode(id_token).1["sid"].clone();

    let mut end = idp.endpoint().join("oidc/session/end").unwrap();
    let post_logout = format!("http://127.0.0.1:{}/", rp.port);
    end.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("post_logout_redirect_uri", &post_logout)
        .append_pair("id_token_hint", id_token)
        .append_pair("state", "bye");
    // Like Logto: 200 with a page that submits itself to the confirmation endpoint...
    let r = browser.client().get(end).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let confirm = format!("{}/session/end/confirm", idp.issuer());
    assert!(html.contains(&format!("action=\"{confirm}\"")), "{html}");
    assert!(html.contains("name=\"logout\" value=\"yes\""), "{html}");
    assert!(html.contains(".submit()"), "{html}");
    assert_eq!(
        idp.counters().end_sessions,
        0,
        "nothing ends before the confirmation"
    );
    let xsrf = html
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    // ...which answers 303 to the post-logout redirect URI.
    let r = browser
        .client()
        .post(&confirm)
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc.as_str().starts_with(&post_logout));
    assert_eq!(query(&loc, "state").as_deref(), Some("bye"));
    // The confirmation works once.
    let again = browser
        .client()
        .post(&confirm)
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error_description"], "could not find logout details");

    let received = rp.tokens.clone();
    assert!(
        eventually(Duration::from_secs(5), || received.lock().unwrap().len()
            == 1)
        .await
    );
    let token = received.lock().unwrap()[0].clone();
    check_logout_token(&idp, &token, &sub_of(&idp, "alice"), &sid);
    verify_logout_signature(&idp, &token).await;
    assert_eq!(idp.counters().backchannel_logouts_sent, 1);
    assert_eq!(idp.counters().end_sessions, 1);

    // The session is gone: prompt=none now needs a login.
    let req = auth_request_to(&idp, &redirect, &[("prompt", "none")]);
    let r = browser.client().get(req.url).send().await.unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(query(&loc, "error").as_deref(), Some("login_required"));
    // offline_access grants survive logout (Logto behaviour).
    let res = refresh(&idp, tokens["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(res.status, 200);
    rp.handle.stop(true).await;
}

async fn verify_logout_signature(idp: &logto_dev::DevIdp, token: &str) {
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(idp.endpoint().join("oidc/jwks").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(&header.kid.unwrap()).unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[CLIENT_ID]);
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key, &v).unwrap();
}

#[tokio::test]
async fn unregistered_post_logout_redirect_uri_is_refused() {
    let idp = spawn_default().await;
    let mut end = idp.endpoint().join("oidc/session/end").unwrap();
    end.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("post_logout_redirect_uri", "http://evil.test/");
    let r = http().get(end).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "post_logout_redirect_uri not registered"
    );
}

#[tokio::test]
async fn admin_backchannel_logout_by_sub() {
    let idp = spawn_default().await;
    let rp = start_rp().await;
    let redirect = format!("http://127.0.0.1:{}/callback", rp.port);
    let req = auth_request_to(&idp, &redirect, &[]);
    let cb = logto_dev::testing::complete_sign_in(&req.url, "bob", "bob-password")
        .await
        .unwrap();
    let tokens = exchange(&idp, &req, &cb, &[]).await.body;
    let sid = decode(tokens["id_token"].as_str().unwrap()).1["sid"].clone();
    let sent = idp.backchannel_logout(&sub_of(&idp, "bob")).await.unwrap();
    assert_eq!(sent, 1);
    let token = rp.tokens.lock().unwrap()[0].clone();
    check_logout_token(&idp, &token, &sub_of(&idp, "bob"), &sid);
    assert_eq!(
        idp.backchannel_logout(&sub_of(&idp, "carol"))
            .await
            .unwrap(),
        0
    );
    rp.handle.stop(true).await;
}

#[tokio::test]
async fn deleting_sessions_sends_no_backchannel_logout() {
    let idp = spawn_default().await;
    let rp = start_rp().await;
    let redirect = format!("http://127.0.0.1:{}/callback", rp.port);
    let browser = Browser::new().unwrap();
    let req = auth_request_to(&idp, &redirect, &[]);
    let cb = browser
        .sign_in(&req.url, "bob", "bob-password")
        .await
        .unwrap();
    let tokens = exchange(&idp, &req, &cb, &[]).await.body;
    let rt = tokens["refresh_token"].as_str().unwrap();

    // Logto's default: the session ends, the offline grant survives.
    assert_eq!(idp.delete_sessions_of(&sub_of(&idp, "bob"), false), 1);
    let req = auth_request_to(&idp, &redirect, &[("prompt", "none")]);
    let r = browser.client().get(req.url).send().await.unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(query(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(refresh(&idp, rt, &[]).await.status, 200);

    // With every grant revoked (`revokeGrantsTarget=all`) the next refresh fails.
    let req = auth_request_to(&idp, &redirect, &[]);
    let cb = browser
        .sign_in(&req.url, "bob", "bob-password")
        .await
        .unwrap();
    let tokens = exchange(&idp, &req, &cb, &[]).await.body;
    assert_eq!(idp.delete_sessions_of(&sub_of(&idp, "bob"), true), 1);
    let res = refresh(&idp, tokens["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(res.body["error"], "invalid_grant");

    assert!(
        rp.tokens.lock().unwrap().is_empty(),
        "no logout token was sent"
    );
    assert_eq!(idp.counters().backchannel_logouts_sent, 0);
    rp.handle.stop(true).await;
}
