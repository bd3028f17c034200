//! logto-actix's quick start (`crates/logto-actix/examples/quickstart.rs`:
//! `LogtoAuth`, `MemoryStore`, actix-session's cookie `SessionMiddleware`)
//! on real Logto, with an application of its own: sign-in through Logto's
//! sign-in, every section's route, an organization token for a member and a
//! 403 for a non-member, sign-out.

use std::net::TcpListener;

use logto_client::{AppSecret, LogtoConfig};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;

use crate::quickstart;
use crate::support::{self, browser, csrf, location, page};

/// `GET url` answered 200 with JSON.
async fn json(browser: &reqwest::Client, url: Url) -> Value {
    let res = browser.get(url.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    res.json().await.unwrap()
}

/// The space-separated scopes of a token, sorted.
fn scopes(scope: &Value) -> Vec<&str> {
    let mut scopes: Vec<&str> = scope.as_str().unwrap().split_whitespace().collect();
    scopes.sort_unstable();
    scopes
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn the_logto_actix_quick_start_signs_in_gets_tokens_and_signs_out_on_real_logto() {
    let provisioned = support::provisioned().expect("LOGTO_TIER_PROVISIONED is not set");
    assert_eq!(provisioned["api_resource"], quickstart::API_RESOURCE);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base: Url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
        .parse()
        .unwrap();
    let app = support::test_app(&base).await;
    let config = LogtoConfig::new(
        support::endpoint().as_str(),
        &app.id,
        Some(AppSecret::new(app.secret.expose_secret())),
    )
    .unwrap();
    let (server, _) = quickstart::server(config, listener).unwrap();
    tokio::spawn(server);
    let url = |path: &str| base.join(path).unwrap();
    let alice = browser();

    // Signed out: the protected page sends the browser to sign-in.
    let res = alice.get(url("/id-token-claims")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/sign-in?return_to=%2Fid-token-claims");

    let res = support::sign_in_at(
        &alice,
        &base,
        "/sign-in?return_to=/id-token-claims",
        "alice",
        "alice-password",
    )
    .await;
    assert_eq!(location(&res), "/id-token-claims");

    // Authentication status and user information: her `sub` from Logto.
    let sub = support::user_id(&provisioned, "alice");
    let claims = json(&alice, url("/id-token-claims")).await;
    assert_eq!(claims["sub"], sub.as_str());
    let (status, home) = page(&alice, url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains(&format!("Signed in as {sub}.")), "{home}");
    let info = json(&alice, url("/user-info")).await;
    assert_eq!(info["sub"], sub.as_str());

    // Additional scopes and claims, and an API resource token.
    let acme = support::organization_id(&provisioned, "org-acme");
    let extra = json(&alice, url("/scopes-and-claims")).await;
    assert_eq!(extra["email"], "alice@acme.test");
    assert_eq!(extra["custom_data"]["plan"], "enterprise");
    assert!(
        extra["organizations"].to_string().contains(&acme),
        "{extra}"
    );
    let api = json(&alice, url("/api-resource")).await;
    assert_eq!(api["aud"], serde_json::json!([quickstart::API_RESOURCE]));
    assert!(scopes(&api["scope"]).contains(&"write:reports"), "{api}");

    // An organization token for Acme, where she is an admin: the two
    // organization permissions the quick start asks for.
    let org = json(&alice, url(&format!("/organizations/{acme}"))).await;
    assert_eq!(org["organization_id"], acme.as_str());
    assert_eq!(scopes(&org["scope"]), ["invite:members", "read:members"]);

    // Globex, where she is not a member: 403, `ErrorKind::NotAMember`; she
    // stays signed in.
    let globex = support::organization_id(&provisioned, "org-globex");
    let (status, html) = page(&alice, url(&format!("/organizations/{globex}"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        html.contains(&format!("not a member of organization {globex}")),
        "{html}"
    );
    assert_eq!(
        page(&alice, url("/id-token-claims")).await.0,
        StatusCode::OK
    );

    // Sign-out: a POST with the CSRF token of the home page, then Logto's
    // end-session endpoint; the session is over.
    let res = alice
        .post(url("/sign-out"))
        .form(&[("csrf", csrf(&home))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let end_session: Url = location(&res).parse().unwrap();
    assert_eq!(
        end_session.origin(),
        support::endpoint().origin(),
        "{end_session}"
    );
    assert_eq!(end_session.path(), "/oidc/session/end");
    let res = alice.get(url("/id-token-claims")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/sign-in?return_to=%2Fid-token-claims");
    let (status, home) = page(&alice, url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("Not signed in"), "{home}");
}
