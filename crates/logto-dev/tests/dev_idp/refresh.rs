//! Refresh-token policy (as real Logto: the same token back for a Traditional web app,
//! rotation for public clients), reuse detection, lifetimes, counters and fault injection.

use std::time::{Duration, Instant};

use logto_dev::{Endpoint, RefreshPolicy, Settings};

use crate::helpers::*;

#[tokio::test]
async fn rotation_and_reuse_after_grace_revokes_the_grant() {
    let idp = spawn(Settings {
        refresh_policy: RefreshPolicy::RotateEveryUse,
        reuse_grace: Duration::ZERO,
        ..Settings::default()
    })
    .await;
    let (req, body) = login(&idp, "alice").await;
    let rt1 = body["refresh_token"].as_str().unwrap().to_owned();
    let res = refresh(&idp, &rt1, &[]).await;
    assert_eq!(res.status, 200);
    let rt2 = res.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "rotated");
    // Refreshed ID token keeps the original nonce.
    let (_, claims) = decode(res.body["id_token"].as_str().unwrap());
    assert_eq!(claims["nonce"], serde_json::json!(req.nonce));

    let reuse = refresh(&idp, &rt1, &[]).await;
    assert_eq!(reuse.status, 400);
    assert_eq!(reuse.body["error"], "invalid_grant");
    // The whole grant is gone: the newest token dies too.
    let after = refresh(&idp, &rt2, &[]).await;
    assert_eq!(after.body["error"], "invalid_grant");
    let c = idp.counters();
    assert_eq!(c.refresh_reuse_events, 1);
    assert_eq!(c.invalid_grants, 2);
    assert_eq!(c.grants("refresh_token"), 1);
}

#[tokio::test]
async fn reuse_within_grace_is_accepted() {
    let idp = spawn(Settings {
        refresh_policy: RefreshPolicy::RotateEveryUse,
        reuse_grace: Duration::from_secs(60),
        ..Settings::default()
    })
    .await;
    let (_, body) = login(&idp, "bob").await;
    let rt1 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(&idp, &rt1, &[]).await.status, 200);
    let again = refresh(&idp, &rt1, &[]).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(idp.counters().refresh_reuse_within_grace, 1);
    assert_eq!(idp.counters().refresh_reuse_events, 0);
}

#[tokio::test]
async fn a_traditional_web_app_gets_the_same_refresh_token_back_by_default() {
    let idp = spawn_default().await;
    let (_, body) = login(&idp, "alice").await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    for extra in [
        &[][..],
        &[("resource", API)][..],
        &[("organization_id", "org-acme")][..],
    ] {
        let res = refresh(&idp, &rt, extra).await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(res.body["refresh_token"], rt.as_str(), "not rotated");
    }
    let c = idp.counters();
    assert_eq!(c.refresh_token_grants, 3);
    assert_eq!(c.refresh_reuse_within_grace, 0);
    assert_eq!(c.refresh_reuse_events, 0);
}

#[tokio::test]
async fn a_traditional_web_app_token_rotates_after_seventy_percent_of_its_lifetime() {
    let idp = spawn(Settings {
        refresh_token_ttl: Duration::from_secs(2),
        ..Settings::default()
    })
    .await;
    let (_, body) = login(&idp, "alice").await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        refresh(&idp, &rt, &[]).await.body["refresh_token"],
        rt.as_str()
    );
    // Not synchronisation: the test needs 70 % of the token's lifetime to pass.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let res = refresh(&idp, &rt, &[]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_ne!(res.body["refresh_token"], rt.as_str(), "rotated past 70 %");
}

#[tokio::test]
async fn a_public_client_rotates_on_every_use_with_a_grace_period() {
    let idp = spawn_with(seed_with_spa(), Settings::default()).await;
    let req = auth_request_for(&idp, SPA_ID, REDIRECT_URI, &[]);
    let callback = logto_dev::testing::complete_sign_in(&req.url, "bob", "bob-password")
        .await
        .unwrap();
    let code = query(&callback, "code").unwrap();
    let first = public_token_request(
        &idp,
        SPA_ID,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &req.verifier),
        ],
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let rt1 = first.body["refresh_token"].as_str().unwrap().to_owned();
    let refresh_public = |rt: String| {
        let idp = idp.clone();
        async move {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ];
            public_token_request(&idp, SPA_ID, &form).await
        }
    };
    let second = refresh_public(rt1.clone()).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let rt2 = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "a public client's token rotates");
    // Within Logto's 3 s grace the rotated token still works.
    let again = refresh_public(rt1).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(idp.counters().refresh_reuse_within_grace, 1);
}

#[tokio::test]
async fn each_reuse_within_the_grace_period_restarts_it() {
    let idp = spawn(Settings {
        refresh_policy: RefreshPolicy::RotateEveryUse,
        reuse_grace: Duration::from_secs(2),
        ..Settings::default()
    })
    .await;
    let (_, body) = login(&idp, "alice").await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(&idp, &rt, &[]).await.status, 200);
    // Not synchronisation: the test needs time to pass. 1.2 s after the first use the token
    // is reused (within the grace), and 1.2 s later again: 2.4 s after the first use but only
    // 1.2 s after the last one, which is what Logto counts from.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let res = refresh(&idp, &rt, &[]).await;
        assert_eq!(res.status, 200, "{}", res.body);
    }
    assert_eq!(idp.counters().refresh_reuse_within_grace, 2);
    assert_eq!(idp.counters().refresh_reuse_events, 0);
}

#[tokio::test]
async fn short_lifetimes_expire_tokens() {
    let idp = spawn(Settings {
        access_token_ttl: Duration::from_secs(1),
        refresh_token_ttl: Duration::from_millis(300),
        ..Settings::default()
    })
    .await;
    let (_, body) = login(&idp, "alice").await;
    assert_eq!(body["expires_in"], 1);
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    // Not synchronisation: the test needs the token's lifetime to pass.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let probe = refresh(&idp, &rt, &[]).await;
    assert_eq!(probe.status, 400);
    assert_eq!(probe.body["error"], "invalid_grant");
}

#[tokio::test]
async fn fail_next_and_delay_next_affect_one_response() {
    let idp = spawn_default().await;
    let (_, body) = login(&idp, "alice").await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    idp.fail_next(Endpoint::Token, 503);
    let failed = refresh(&idp, &rt, &[]).await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.body["error"], "server_error");
    let ok = refresh(&idp, &rt, &[]).await;
    assert_eq!(ok.status, 200, "the fault applies once");

    idp.delay_next(Endpoint::Jwks, Duration::from_millis(300));
    let started = Instant::now();
    let r = http()
        .get(idp.endpoint().join("oidc/jwks").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(idp.counters().jwks_hits, 1);
}

#[tokio::test]
async fn admin_routes_are_off_unless_enabled() {
    let idp = spawn_default().await;
    let r = http()
        .get(idp.endpoint().join("__dev/counters").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let idp = spawn(Settings {
        enable_admin_routes: true,
        ..Settings::default()
    })
    .await;
    let r = http()
        .post(idp.endpoint().join("__dev/fail-next").unwrap())
        .json(&serde_json::json!({"endpoint": "user_info", "status": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let me = http()
        .get(idp.endpoint().join("oidc/me").unwrap())
        .bearer_auth("x")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 500);
    let counters: serde_json::Value = http()
        .get(idp.endpoint().join("__dev/counters").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["userinfo_hits"], 1);
}

#[tokio::test]
async fn revoke_grants_of_kills_refresh() {
    let idp = spawn_default().await;
    let (_, body) = login(&idp, "bob").await;
    idp.revoke_grants_of(&sub_of(&idp, "bob"));
    let res = refresh(&idp, body["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(res.body["error"], "invalid_grant");
}

/// Like deleting a session through Logto's Management API: that session's grant dies
/// silently (no back-channel logout), the user's other session keeps working.
#[tokio::test]
async fn delete_session_kills_only_that_sessions_refresh_silently() {
    let idp = spawn_default().await;
    let (_, first) = login(&idp, "bob").await;
    let (_, second) = login(&idp, "bob").await;
    let sid =
        |body: &serde_json::Value| decode(body["id_token"].as_str().unwrap()).1["sid"].clone();
    let (gone, kept) = (sid(&first), sid(&second));
    assert_ne!(gone, kept, "two browsers, two sessions");
    let before = idp.counters();
    assert!(idp.delete_session(gone.as_str().unwrap()));
    assert!(!idp.delete_session("no-such-session"));
    let res = refresh(&idp, first["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(res.body["error"], "invalid_grant");
    let res = refresh(&idp, second["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let after = idp.counters();
    assert_eq!(
        (
            after.backchannel_logouts_sent,
            after.backchannel_logout_failures
        ),
        (
            before.backchannel_logouts_sent,
            before.backchannel_logout_failures
        ),
        "no back-channel logout"
    );
}

#[tokio::test]
async fn revocation_endpoint() {
    let idp = spawn_default().await;
    let (_, body) = login(&idp, "alice").await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let jwt = refresh(&idp, &rt, &[("resource", API)]).await.body;
    let revoke = |token: String| {
        let idp = idp.clone();
        async move {
            http()
                .post(idp.endpoint().join("oidc/token/revocation").unwrap())
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[
                    ("token", token.as_str()),
                    ("token_type_hint", "refresh_token"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = revoke(jwt["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_token_type");
    let rt2 = jwt["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(revoke(rt2.clone()).await.status(), 200);
    assert_eq!(
        refresh(&idp, &rt2, &[]).await.body["error"],
        "invalid_grant"
    );
    assert_eq!(idp.counters().revocations, 1);
}
