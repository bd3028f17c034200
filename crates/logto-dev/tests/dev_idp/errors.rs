//! Each OAuth error in Logto's shape with the right status.

use serde_json::{Value, json};

use crate::helpers::*;

fn assert_logto_error(body: &Value, error: &str) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["code"], format!("oidc.{error}"));
    assert!(body["message"].is_string());
    assert!(body["error_description"].is_string());
    assert_eq!(body.get("error_uri").is_some(), error == "invalid_grant");
}

#[tokio::test]
async fn unknown_client_is_400_invalid_client() {
    let idp = spawn_default().await;
    let res = token_request_as(
        &idp,
        "no-such-client",
        "x",
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_eq!(res.status, 400);
    assert_logto_error(&res.body, "invalid_client");
    assert_eq!(
        res.body["error_description"],
        "invalid client no-such-client"
    );
    assert_eq!(res.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn bad_secret_is_401_with_www_authenticate() {
    let idp = spawn_default().await;
    let res = token_request_as(
        &idp,
        CLIENT_ID,
        "wrong",
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_eq!(res.status, 401);
    assert_logto_error(&res.body, "invalid_client");
    let www = res.headers["www-authenticate"].to_str().unwrap();
    assert!(
        www.starts_with(&format!("Basic realm=\"{}\"", idp.issuer())),
        "{www}"
    );
}

#[tokio::test]
async fn bad_redirect_uri_is_an_error_page_not_a_redirect() {
    let idp = spawn_default().await;
    let req = auth_request_to(&idp, "http://evil.test/callback", &[]);
    let r = http().get(req.url).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_redirect_uri");
    assert_eq!(
        body["message"],
        "`redirect_uri` did not match any of the client's registered `redirect_uris`."
    );
    // Like Logto, the body echoes the request's state and names the issuer.
    assert_eq!(body["state"], json!(req.state));
    assert_eq!(body["iss"], json!(idp.issuer()));
    let mut url = idp.endpoint().join("oidc/auth").unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "no-such-client");
    let body: Value = http().get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error_description"], "invalid client no-such-client");
    assert!(body.get("state").is_none());
    assert_eq!(body["iss"], json!(idp.issuer()));
}

#[tokio::test]
async fn an_unsupported_token_response_type_is_answered_in_the_fragment() {
    let idp = spawn_default().await;
    let mut url = idp.endpoint().join("oidc/auth").unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "id_token token")
        .append_pair("scope", "openid")
        .append_pair("state", "s1");
    let r = http().get(url).send().await.unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc.query().is_none(), "{loc}");
    let fragment: Vec<(String, String)> =
        url::form_urlencoded::parse(loc.fragment().unwrap().as_bytes())
            .into_owned()
            .collect();
    assert!(fragment.contains(&("error".to_owned(), "unsupported_response_type".to_owned())));
}

#[tokio::test]
async fn missing_pkce_is_redirected_as_invalid_request() {
    // PKCE is required from public clients (optional for Traditional web apps, see flow.rs).
    let idp = spawn_with(seed_with_spa(), logto_dev::Settings::default()).await;
    let mut url = idp.endpoint().join("oidc/auth").unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", SPA_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "s1");
    let r = http().get(url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(query(&loc, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query(&loc, "state").as_deref(), Some("s1"));
    assert_eq!(query(&loc, "iss"), Some(idp.issuer()));
}

#[tokio::test]
async fn bad_pkce_verifier_is_invalid_grant() {
    let idp = spawn_default().await;
    let (mut req, callback) = sign_in(&idp, "alice", &[]).await;
    req.verifier = random(32);
    let res = exchange(&idp, &req, &callback, &[]).await;
    assert_eq!(res.status, 400);
    assert_logto_error(&res.body, "invalid_grant");
    assert_eq!(res.body["error_description"], "grant request is invalid");
}

#[tokio::test]
async fn reused_code_is_invalid_grant_and_revokes_the_grant() {
    let idp = spawn_default().await;
    let (req, callback) = sign_in(&idp, "alice", &[]).await;
    let first = exchange(&idp, &req, &callback, &[]).await;
    assert_eq!(first.status, 200);
    let second = exchange(&idp, &req, &callback, &[]).await;
    assert_eq!(second.status, 400);
    assert_logto_error(&second.body, "invalid_grant");
    let rt = first.body["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&idp, rt, &[]).await.body["error"], "invalid_grant");
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let idp = spawn(logto_dev::Settings {
        code_ttl: std::time::Duration::ZERO,
        ..logto_dev::Settings::default()
    })
    .await;
    let (req, callback) = sign_in(&idp, "alice", &[]).await;
    let res = exchange(&idp, &req, &callback, &[]).await;
    assert_logto_error(&res.body, "invalid_grant");
}

#[tokio::test]
async fn unknown_resource_is_invalid_target() {
    let idp = spawn_default().await;
    let (_, body) = login(&idp, "alice").await;
    let res = refresh(
        &idp,
        body["refresh_token"].as_str().unwrap(),
        &[("resource", "https://unknown.test")],
    )
    .await;
    assert_eq!(res.status, 400);
    assert_logto_error(&res.body, "invalid_target");
    assert_eq!(
        res.body["error_description"],
        "resource indicator is missing, or unknown"
    );
}

#[tokio::test]
async fn userinfo_with_a_jwt_is_401_invalid_token() {
    let idp = spawn_default().await;
    let (_, body) = login(&idp, "alice").await;
    let jwt = refresh(
        &idp,
        body["refresh_token"].as_str().unwrap(),
        &[("resource", API)],
    )
    .await
    .body;
    let r = http()
        .get(idp.endpoint().join("oidc/me").unwrap())
        .bearer_auth(jwt["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=")
    );
    let body: Value = r.json().await.unwrap();
    assert_logto_error(&body, "invalid_token");
}

#[tokio::test]
async fn unknown_oidc_route_is_404_invalid_request() {
    let idp = spawn_default().await;
    let r = http()
        .get(idp.endpoint().join("oidc/nope").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_logto_error(&body, "invalid_request");
    assert_eq!(body["message"], "Request is invalid.");
    assert_eq!(
        body["error_description"],
        "unrecognized route or not allowed method (GET on /nope)"
    );
}

#[tokio::test]
async fn userinfo_without_a_token_is_401_invalid_token() {
    let idp = spawn_default().await;
    let r = http()
        .get(idp.endpoint().join("oidc/me").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"].to_str().unwrap(),
        format!("Bearer realm=\"{}\"", idp.issuer())
    );
    let body: Value = r.json().await.unwrap();
    assert_logto_error(&body, "invalid_token");
    assert_eq!(body["error_description"], "no access token provided");
}

#[tokio::test]
async fn insufficient_scope_carries_logtos_message() {
    let idp = spawn_default().await;
    let (req, callback) = sign_in(&idp, "alice", &[("scope", "openid offline_access")]).await;
    let res = exchange(&idp, &req, &callback, &[]).await;
    let rt = res.body["refresh_token"].as_str().unwrap();
    let res = refresh(&idp, rt, &[("organization_id", "org-acme")]).await;
    assert_eq!(res.status, 403);
    assert_logto_error(&res.body, "insufficient_scope");
    assert_eq!(res.body["message"], "Token missing scope `{{scope}}`.");
}

#[tokio::test]
async fn a_token_request_that_is_not_a_form_is_invalid() {
    let idp = spawn_default().await;
    let r = http()
        .post(idp.endpoint().join("oidc/token").unwrap())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .body("grant_type=refresh_token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_logto_error(&body, "invalid_request");
    let expected =
        "only application/x-www-form-urlencoded content-type bodies are supported on POST /token";
    assert_eq!(body["error_description"], expected);
    // An empty form is no form either.
    let res = token_request(&idp, &[]).await;
    assert_eq!(res.body["error_description"], expected);
}
