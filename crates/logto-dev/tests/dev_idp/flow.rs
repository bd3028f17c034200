//! The authorization code flow over real HTTP, and the sign-in screens.

use logto_dev::testing::{Browser, complete_sign_in};
use logto_dev::{Settings, SigningAlg};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn full_code_flow_issues_logto_shaped_tokens() {
    let idp = spawn_default().await;
    let (req, callback) = sign_in(&idp, "alice", &[]).await;
    assert!(callback.as_str().starts_with(REDIRECT_URI));
    assert_eq!(
        query(&callback, "state").as_deref(),
        Some(req.state.as_str())
    );
    assert_eq!(query(&callback, "iss"), Some(idp.issuer()));
    assert!(!idp.issuer().ends_with('/'));

    let res = exchange(&idp, &req, &callback, &[]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.headers["cache-control"], "no-store");
    let body = res.body;
    let access = body["access_token"].as_str().unwrap();
    assert!(!access.contains('.'), "no resource: opaque access token");
    assert!(access.len() >= 43);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["refresh_token"].is_string());
    let scope = body["scope"].as_str().unwrap();
    assert!(
        scope.starts_with("openid offline_access profile email"),
        "{scope}"
    );
    assert!(
        !scope.contains("read:reports"),
        "opaque token scope holds OIDC scopes only"
    );

    let id_token = body["id_token"].as_str().unwrap();
    let (header, _) = decode(id_token);
    assert_eq!(
        header,
        json!({"alg": "ES384", "kid": header["kid"].clone()})
    );
    let claims = verify(&idp, id_token, CLIENT_ID).await;
    assert_eq!(claims["sub"], json!(sub_of(&idp, "alice")));
    assert_eq!(claims["nonce"], json!(req.nonce));
    assert_eq!(claims["aud"], json!(CLIENT_ID));
    assert!(claims["sid"].is_string());
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["picture"], Value::Null);
    assert!(
        claims["created_at"].as_i64().unwrap() > 1_000_000_000_000,
        "milliseconds"
    );
    assert_eq!(claims["organizations"], json!(["org-acme"]));
    assert_eq!(claims["organization_roles"], json!(["org-acme:admin"]));
    assert_eq!(claims["roles"], json!(["report-writer"]));
    assert!(
        claims.get("custom_data").is_none(),
        "custom_data is userinfo-only"
    );
    assert!(claims.get("at_hash").is_none());
    assert!(claims.get("auth_time").is_none());

    let me: Value = http()
        .get(idp.endpoint().join("oidc/me").unwrap())
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], claims["sub"]);
    assert_eq!(me["custom_data"]["plan"], "enterprise");
    assert_eq!(me["organization_data"][0]["id"], "org-acme");
    assert_eq!(me["organization_data"][0]["name"], "Acme");
    assert!(me["identities"].is_object());
    assert!(me["sso_identities"].is_array());
    assert_eq!(idp.counters().authorization_code_grants, 1);
    assert_eq!(idp.counters().userinfo_hits, 1);
}

#[tokio::test]
async fn discovery_parses_with_openidconnect() {
    let idp = spawn_default().await;
    let text = http()
        .get(
            idp.endpoint()
                .join("oidc/.well-known/openid-configuration")
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let meta: openidconnect::core::CoreProviderMetadata = serde_json::from_str(&text).unwrap();
    assert_eq!(meta.issuer().as_str(), idp.issuer());
    assert_eq!(
        meta.jwks_uri().url().as_str(),
        format!("{}/jwks", idp.issuer())
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES384"])
    );
    assert_eq!(idp.counters().discovery_hits, 1);
}

#[tokio::test]
async fn wrong_password_shows_an_error_and_the_retry_succeeds() {
    let idp = spawn_default().await;
    let req = auth_request(&idp, &[]);
    let err = complete_sign_in(&req.url, "alice", "nope")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Invalid username or password"),
        "{err}"
    );

    // Same interaction: the form is shown again and accepts the right password.
    let client = http();
    let r = client.get(req.url.clone()).send().await.unwrap();
    let form_url = idp
        .endpoint()
        .join(r.headers()["location"].to_str().unwrap())
        .unwrap();
    let uid = query(&form_url, "interaction").unwrap();
    let submit = idp.endpoint().join("interaction/submit").unwrap();
    let bad = client
        .post(submit.clone())
        .form(&[
            ("interaction", uid.as_str()),
            ("username", "alice"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let html = bad.text().await.unwrap();
    assert!(html.contains("class=\"error\""));
    assert!(
        html.contains("value=\"alice\""),
        "username kept for the retry"
    );
    let good = client
        .post(submit)
        .form(&[
            ("interaction", uid.as_str()),
            ("username", "alice"),
            ("password", "alice-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 303);
    let loc = url::Url::parse(good.headers()["location"].to_str().unwrap()).unwrap();
    assert!(query(&loc, "code").is_some());
}

#[tokio::test]
async fn offline_access_needs_prompt_consent() {
    let idp = spawn_default().await;
    let (req, callback) = sign_in(&idp, "bob", &[("prompt", "login")]).await;
    let res = exchange(&idp, &req, &callback, &[]).await;
    assert_eq!(res.status, 200);
    assert!(res.body.get("refresh_token").is_none(), "{}", res.body);
    assert!(
        !res.body["scope"]
            .as_str()
            .unwrap()
            .contains("offline_access")
    );
    // prompt=login adds auth_time.
    let (_, claims) = decode(res.body["id_token"].as_str().unwrap());
    assert!(claims["auth_time"].is_i64());
}

#[tokio::test]
async fn login_hint_prefills_and_first_screen_selects_the_screen() {
    let idp = spawn_default().await;
    let req = auth_request(&idp, &[("login_hint", "bob"), ("first_screen", "register")]);
    let client = http();
    let r = client.get(req.url.clone()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with("/register?"), "{loc}");
    let html = client
        .get(idp.endpoint().join(&loc).unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"username\" value=\"bob\""), "{html}");
    assert!(html.contains("data-first-screen=\"register\""));

    // One invalid extra parameter makes Logto ignore all of them.
    let req = auth_request(
        &idp,
        &[
            ("login_hint", "bob"),
            ("first_screen", "identifier:sign-in"),
        ],
    );
    let r = client.get(req.url.clone()).send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with("/sign-in?"), "{loc}");
    let html = client
        .get(idp.endpoint().join(&loc).unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"username\" value=\"\""));
}

#[tokio::test]
async fn direct_sign_in_sso_shows_a_page_then_signs_in_the_sso_user() {
    let idp = spawn_default().await;
    let req = auth_request(&idp, &[("direct_sign_in", "sso:globex-okta")]);
    let client = http();
    let r = client.get(req.url.clone()).send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with("/direct/sso/globex-okta?"), "{loc}");
    let html = client
        .get(idp.endpoint().join(&loc).unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Globex Okta"));
    // The helper submits the intermediate page; credentials are not used.
    let callback = complete_sign_in(&req.url, "ignored", "ignored")
        .await
        .unwrap();
    let res = exchange(&idp, &req, &callback, &[]).await;
    let (_, claims) = decode(res.body["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], json!(sub_of(&idp, "dave")));
}

#[tokio::test]
async fn prompt_none_and_session_reuse() {
    let idp = spawn_default().await;
    let browser = Browser::new().unwrap();
    // No session yet: login_required, redirected with iss.
    let req = auth_request(&idp, &[("prompt", "none")]);
    let cb = browser
        .sign_in(&req.url, "alice", "alice-password")
        .await
        .unwrap();
    assert_eq!(query(&cb, "error").as_deref(), Some("login_required"));
    assert_eq!(query(&cb, "iss"), Some(idp.issuer()));
    // Sign in, then prompt=none succeeds silently with the same session (same sid).
    let req1 = auth_request(&idp, &[]);
    let cb1 = browser
        .sign_in(&req1.url, "alice", "alice-password")
        .await
        .unwrap();
    let t1 = exchange(&idp, &req1, &cb1, &[]).await.body;
    let req2 = auth_request(&idp, &[("prompt", "none")]);
    let r = browser.client().get(req2.url.clone()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cb2 = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let t2 = exchange(&idp, &req2, &cb2, &[]).await.body;
    let sid = |t: &Value| decode(t["id_token"].as_str().unwrap()).1["sid"].clone();
    assert_eq!(sid(&t1), sid(&t2));
    assert_eq!(idp.counters().sign_ins, 1);
}

#[tokio::test]
async fn rs256_keys_have_no_alg_and_verify() {
    let idp = spawn(Settings {
        signing: SigningAlg::Rs256,
        ..Settings::default()
    })
    .await;
    let jwks: Value = http()
        .get(idp.endpoint().join("oidc/jwks").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert!(jwks["keys"][0].get("alg").is_none());
    let (_, body) = login(&idp, "carol").await;
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(decode(id_token).0["alg"], "RS256");
    let claims = verify(&idp, id_token, CLIENT_ID).await;
    assert_eq!(claims["picture"], "https://avatars.example.test/carol.png");
    assert_eq!(claims["organizations"], json!([]));
}

#[tokio::test]
async fn key_rotation_keeps_the_previous_key() {
    let idp = spawn_default().await;
    let (_, before) = login(&idp, "alice").await;
    let old_kid = idp.current_kid().unwrap();
    idp.rotate_keys();
    let new_kid = idp.current_kid().unwrap();
    assert_ne!(old_kid, new_kid);
    let jwks: Value = http()
        .get(idp.endpoint().join("oidc/jwks").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![new_kid.as_str(), old_kid.as_str()]);
    // Old tokens still verify, new ones use the new kid.
    verify(&idp, before["id_token"].as_str().unwrap(), CLIENT_ID).await;
    let res = refresh(&idp, before["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(
        decode(res.body["id_token"].as_str().unwrap()).0["kid"],
        json!(new_kid)
    );
}

#[tokio::test]
async fn updated_at_changes_at_every_sign_in() {
    let idp = spawn_default().await;
    let (_, first) = login(&idp, "alice").await;
    let (_, second) = login(&idp, "alice").await;
    let updated = |t: &Value| {
        decode(t["id_token"].as_str().unwrap()).1["updated_at"]
            .as_i64()
            .unwrap()
    };
    let created = decode(first["id_token"].as_str().unwrap()).1["created_at"]
        .as_i64()
        .unwrap();
    assert!(updated(&first) > 1_000_000_000_000, "milliseconds");
    assert!(updated(&first) >= created);
    assert!(
        updated(&second) > updated(&first),
        "a second sign-in stamps it again"
    );
    // Userinfo and a refreshed ID token of the first login say the same.
    let (_, me) = userinfo(&idp, second["access_token"].as_str().unwrap()).await;
    assert_eq!(me["updated_at"].as_i64(), Some(updated(&second)));
    let refreshed = refresh(&idp, first["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(updated(&refreshed.body), updated(&second));
}

#[tokio::test]
async fn pkce_is_optional_for_a_traditional_web_app_only() {
    let idp = spawn_with(seed_with_spa(), Settings::default()).await;
    let browser = Browser::new().unwrap();
    let without_pkce = |client_id: &str| {
        let mut url = idp.endpoint().join("oidc/auth").unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile")
            .append_pair("state", "s1");
        url
    };
    let callback = browser
        .sign_in(&without_pkce(CLIENT_ID), "alice", "alice-password")
        .await
        .unwrap();
    let code = query(&callback, "code").expect("a code without PKCE");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let res = token_request(&idp, &form).await;
    assert_eq!(res.status, 200, "{}", res.body);
    // A verifier for a code issued without a challenge is refused.
    let callback = browser
        .sign_in(&without_pkce(CLIENT_ID), "alice", "alice-password")
        .await
        .unwrap();
    let code = query(&callback, "code").unwrap();
    let verifier = random(32);
    let res = token_request(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    assert_eq!(res.body["error"], "invalid_grant");
    // A public client must use PKCE.
    let r = http().get(without_pkce(SPA_ID)).send().await.unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(query(&loc, "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn direct_sign_in_is_not_validated_and_falls_back_to_the_password_form() {
    let idp = spawn_default().await;
    let client = http();
    for direct in ["sso:no-such-connector", "bogus", "social:github"] {
        let req = auth_request(&idp, &[("direct_sign_in", direct), ("login_hint", "bob")]);
        let r = client.get(req.url.clone()).send().await.unwrap();
        let mut loc = r.headers()["location"].to_str().unwrap().to_owned();
        if loc.starts_with("/direct/") {
            let r = client
                .get(idp.endpoint().join(&loc).unwrap())
                .send()
                .await
                .unwrap();
            loc = r.headers()["location"].to_str().unwrap().to_owned();
        }
        assert!(loc.starts_with("/sign-in?"), "{direct}: {loc}");
        let html = client
            .get(idp.endpoint().join(&loc).unwrap())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // The other extra parameters are kept (Logto only checks first_screen and
        // interaction_mode).
        assert!(
            html.contains("name=\"username\" value=\"bob\""),
            "{direct}: {html}"
        );
        let callback = complete_sign_in(&req.url, "bob", "bob-password")
            .await
            .unwrap();
        assert!(query(&callback, "code").is_some(), "{direct}");
    }
}
