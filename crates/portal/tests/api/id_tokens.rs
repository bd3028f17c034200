//! ID tokens and discovery, through the portal (checklist A1.3, A1.5–A1.9,
//! A4.5): logto-dev's token endpoint hands out genuinely signed but wrong ID
//! tokens (`DevIdp::forge_next_id_token`), its discovery document lies
//! (`DevIdp::set_discovery_overrides`), and each is REJECTed: a 4xx page,
//! no session, no further call to the IdP, a log line naming the reason, no
//! token in the log.

use std::sync::LazyLock;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::*;
use crate::security::{LOGOUT_EVENT, LOGS, app_secret, b64, hmac_sha256, logs, now};

fn long() -> bool {
    std::env::var("XTASK_LONG").as_deref() == Ok("1")
}

/// Starts a sign-in of alice in a fresh browser, arms `forge` for the code
/// exchange, and sends the browser to the callback.
async fn callback_with_forged_id_token(
    app: &TestApp,
    forge: impl FnOnce(Value) -> String + Send + 'static,
) -> reqwest::Response {
    let b = browser();
    let auth = app.start_sign_in(&b, "/sign-in?return_to=/protected").await;
    let callback = logto_dev::testing::complete_sign_in(&auth, "alice", "alice-password")
        .await
        .unwrap();
    app.idp.forge_next_id_token(forge);
    b.get(callback.as_str()).send().await.unwrap()
}

/// A REJECT of a callback, as the checklist defines it (the log part is
/// checked by the caller over the whole run).
async fn assert_rejected(app: &TestApp, res: reqwest::Response, what: &str) {
    let status = res.status().as_u16();
    assert!((400..500).contains(&status), "{what}: {status}");
    assert!(
        res.headers().get("location").is_none(),
        "{what}: no redirect"
    );
    assert_eq!(res.headers()["cache-control"], "no-store", "{what}");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer", "{what}");
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign-in failed"), "{what}: {html}");
    assert!(!html.contains("eyJ"), "{what}: a token on the error page");
    assert_eq!(app.logins().await, 0, "{what}: no session");
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

fn hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{input}.{}", b64(&hmac_sha256(key, input.as_bytes())))
}

type Forge = Box<dyn FnOnce(Value) -> String + Send>;

/// A1.5, A1.8, A1.9, A4.5: forged ID tokens at the callback, with a discovery
/// document that lists `HS256` and `none`.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn forged_id_tokens_at_the_callback_are_rejected(pool: PgPool) {
    LazyLock::force(&LOGS);
    let app = spawn_app(pool).await;
    app.idp.set_discovery_overrides(json!({
        "id_token_signing_alg_values_supported": ["ES384", "HS256", "none"]
    }));
    let secret = app_secret(&app);
    let idp = app.idp.clone();
    let signer = move |header: Value| {
        let idp = idp.clone();
        move |claims: Value| idp.sign_jwt(&header, &claims).unwrap()
    };
    let plain = || signer(json!({}));
    let with = |f: fn(&mut Value)| {
        let sign = plain();
        move |mut claims: Value| {
            f(&mut claims);
            sign(claims)
        }
    };
    let t = now();
    let cases: Vec<(&str, &str, Forge)> = vec![
        (
            "HS256 MACed with the client secret",
            "\"HS256\" is not allowed",
            Box::new(move |c| {
                hs256(
                    &json!({"alg": "HS256", "typ": "JWT"}),
                    &c,
                    secret.as_bytes(),
                )
            }),
        ),
        (
            "alg none",
            "\"none\" is not allowed",
            Box::new(|c| unsigned(&json!({"alg": "none"}), &c)),
        ),
        (
            "alg outside the allow-list",
            "\"ES256K\" is not allowed",
            Box::new(signer(json!({"alg": "ES256K"}))),
        ),
        (
            "exp as a string",
            "invalid claim exp",
            Box::new(with(|c| c["exp"] = json!((now() + 3600).to_string()))),
        ),
        (
            "nbf as a string",
            "invalid claim nbf",
            Box::new(with(|c| c["nbf"] = json!((now() - 5).to_string()))),
        ),
        (
            "iat as a string",
            "invalid claim iat",
            Box::new(with(|c| c["iat"] = json!(now().to_string()))),
        ),
        (
            "another nonce",
            "nonce mismatch",
            Box::new(with(|c| c["nonce"] = json!("replayed-nonce"))),
        ),
        (
            "another audience",
            "audience mismatch",
            Box::new(with(|c| c["aud"] = json!("another-app"))),
        ),
        (
            "another issuer",
            "issuer mismatch",
            Box::new(with(|c| c["iss"] = json!("https://evil.example/oidc"))),
        ),
        ("expired", "token expired", {
            let sign = plain();
            Box::new(move |mut c: Value| {
                c["exp"] = json!(t - 3600);
                c["iat"] = json!(t - 7200);
                sign(c)
            })
        }),
        (
            // A4.5: the claims of a logout token (events, no nonce), as Logto signs them.
            "a logout token",
            "wrong token type",
            {
                let sign = signer(json!({"typ": "logout+jwt"}));
                Box::new(move |c: Value| {
                    let logout = json!({"iss": c["iss"], "aud": c["aud"], "iat": c["iat"],
                        "exp": c["exp"], "jti": "jti-1", "sub": c["sub"], "sid": c["sid"],
                        "events": {LOGOUT_EVENT: {}}});
                    sign(logout)
                })
            },
        ),
        (
            // ... and with our nonce and no typ: `events` still gives it away.
            "a logout token carrying our nonce",
            "a logout token is not an ID token",
            {
                let sign = plain();
                Box::new(move |mut c: Value| {
                    c["events"] = json!({LOGOUT_EVENT: {}});
                    sign(c)
                })
            },
        ),
    ];
    let n = cases.len();
    let userinfo = app.idp.counters().userinfo_hits;
    for (what, reason, forge) in cases {
        let res = callback_with_forged_id_token(&app, forge).await;
        assert_rejected(&app, res, what).await;
        let logs = logs();
        assert!(logs.contains(reason), "{what}: the log names {reason:?}");
    }
    let c = app.idp.counters();
    assert_eq!(c.userinfo_hits, userinfo, "A1.9: no userinfo request");
    assert_eq!(
        c.authorization_code_grants,
        u64::try_from(n).unwrap(),
        "one code exchange per callback, no more"
    );
    assert_eq!(c.refresh_token_grants, 0);
    assert!(!logs().contains("eyJ"), "no token in the log");
    // The control: an honest ID token signs in.
    app.sign_in_as("alice").await;
}

/// A1.3: after a sign-in (one JWKS fetch), callbacks and bearer tokens with
/// random unknown kids, genuinely signed by the IdP's current key (so a
/// verifier that fell back to "any key" would accept them) — 310 normally,
/// 2,100 under `XTASK_LONG` — cost at most one more JWKS fetch within the
/// cool-down (configured ≤ 60 s), and none is accepted.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_flood_of_unknown_kids_costs_at_most_one_jwks_fetch(pool: PgPool) {
    let app = spawn_app(pool).await;
    let cooldown = app.state.client.config().jwks_refetch_cooldown();
    assert!(cooldown > Duration::ZERO && cooldown <= Duration::from_secs(60));
    app.sign_in_as("alice").await;
    assert_eq!(app.idp.counters().jwks_hits, 1);

    let callbacks = if long() { 100 } else { 10 };
    for i in 0..callbacks {
        let idp = app.idp.clone();
        let kid = format!("unknown-{i}-{:016x}", rand_u64());
        let res = callback_with_forged_id_token(&app, move |c| {
            idp.sign_jwt(&json!({ "kid": kid }), &c).unwrap()
        })
        .await;
        assert_eq!(res.status().as_u16(), 400, "callback #{i}");
    }
    let bearers = if long() { 2_000 } else { 300 };
    let t = now();
    let http = reqwest::Client::new();
    let results: Vec<u16> = futures_util::stream::iter(0..bearers)
        .map(|i| {
            let claims = json!({"iss": app.idp.issuer(), "aud": "urn:logto:organization:org-acme",
                "sub": app.sub_of("alice"), "client_id": "portal-demo", "scope": "read:members",
                "jti": format!("j{i}"), "iat": t, "exp": t + 3600});
            let kid = format!("flood-{i}-{:016x}", rand_u64());
            let token = app
                .idp
                .sign_jwt(&json!({"typ": "at+jwt", "kid": kid}), &claims)
                .unwrap();
            let url = app.url("/api/orgs/org-acme/whoami");
            let http = http.clone();
            async move {
                http.get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(results.iter().all(|s| *s == 401), "every one refused");
    let hits = app.idp.counters().jwks_hits;
    assert!(
        hits <= 2,
        "{callbacks} callbacks and {bearers} bearer tokens with unknown kids: {hits} JWKS fetches"
    );
    assert_eq!(app.logins().await, 1, "only alice's own login");
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
}

fn rand_u64() -> u64 {
    use rand::Rng;
    rand::thread_rng().r#gen()
}

/// A1.6: the refresh behind `/t/acme/` (an organization token) answers with an
/// ID token for someone else, another issuer, audience or `azp`: the page asks
/// to sign in again (401, never a 5xx), the login and its tokens are gone on the
/// spot, nothing of the refresh is stored, and there is no second refresh.
/// With the original nonce and the same identity, the refresh is accepted.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_refreshed_id_token_that_changes_identity_ends_the_session(pool: PgPool) {
    let app = spawn_app(pool).await;
    type Tweak = fn(&mut Value);
    let cases: Vec<(&str, Tweak)> = vec![
        ("sub", |c| c["sub"] = json!("someone-else")),
        ("iss", |c| c["iss"] = json!("https://evil.example/oidc")),
        ("aud", |c| c["aud"] = json!("another-app")),
        ("aud widened", |c| {
            c["aud"] = json!([c["aud"].clone(), "another-app"]);
            c["azp"] = c["aud"][0].clone();
        }),
        ("azp", |c| c["azp"] = json!("another-app")),
        ("azp added", |c| c["azp"] = c["aud"].clone()),
    ];
    for (what, tweak) in cases {
        let b = browser();
        let res = app.sign_in_as_in(&b, "alice", "/").await;
        assert_redirect_to(&res, "/");
        assert_eq!(app.logins().await, 1, "{what}");
        let idp = app.idp.clone();
        app.idp.forge_next_id_token(move |mut c| {
            tweak(&mut c);
            idp.sign_jwt(&json!({}), &c).unwrap()
        });
        let refreshes = app.idp.counters().refresh_token_grants;
        let res = b.get(app.url("/t/acme/")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401, "{what}");
        let html = res.text().await.unwrap();
        assert!(html.contains("Please sign in again"), "{what}: {html}");
        assert!(!html.contains("manage:billing") && !html.contains("read:members"));
        assert_eq!(app.logins().await, 0, "{what}: the login is gone");
        let cached: i64 = sqlx::query_scalar("SELECT count(*) FROM access_tokens")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(cached, 0, "{what}: nothing of the refresh stored");
        let res = b.get(app.url("/t/acme/")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 302, "{what}: sign in again");
        assert_eq!(
            app.idp.counters().refresh_token_grants,
            refreshes + 1,
            "{what}: one refresh, no retry"
        );
    }
    // The control: the same identity with the original nonce is accepted.
    let b = browser();
    app.sign_in_as_in(&b, "alice", "/").await;
    let idp = app.idp.clone();
    let nonce = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = nonce.clone();
    app.idp.forge_next_id_token(move |c| {
        *seen.lock().unwrap() = c.get("nonce").cloned();
        idp.sign_jwt(&json!({}), &c).unwrap()
    });
    let res = b.get(app.url("/t/acme/")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        nonce.lock().unwrap().as_ref().is_some_and(Value::is_string),
        "the refreshed ID token carried the original nonce"
    );
    assert_eq!(app.logins().await, 1);
}

/// A1.7: a discovery `issuer` one character off (a trailing slash, another
/// host) stops sign-in before any redirect to the OP, and `/readyz` says why.
/// Once discovery is right again, both recover.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_issuer_mismatch_stops_sign_in_and_readyz_reports_it(pool: PgPool) {
    LazyLock::force(&LOGS);
    let app = spawn_app(pool).await;
    let issuer = app.idp.issuer();
    for wrong in [
        format!("{issuer}/"),
        issuer.replace("/oidc", "/oidc2"),
        issuer.replace("127.0.0.1", "localhost"),
        issuer.to_uppercase(),
    ] {
        app.idp.set_discovery_overrides(json!({ "issuer": wrong }));
        let res = app.get("/sign-in?return_to=/protected").await;
        let status = res.status().as_u16();
        assert_eq!(
            status, 503,
            "{wrong}: a clear 'unavailable' page, not a 500"
        );
        assert!(
            res.headers().get("location").is_none(),
            "{wrong}: no redirect"
        );
        let res = app.get("/readyz").await;
        assert_eq!(res.status().as_u16(), 503, "{wrong}");
        let body: Value = res.json().await.unwrap();
        let reason = body["identity_provider"].as_str().unwrap_or_default();
        assert!(reason.contains("issuer"), "{wrong}: {body}");
        assert!(logs().contains("issuer"), "{wrong}: logged");
    }
    assert_eq!(app.idp.counters().sign_ins, 0);
    app.idp.set_discovery_overrides(json!({}));
    let res = app.get("/readyz").await;
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["identity_provider"], "ok");
    app.sign_in_as("alice").await;
}

/// OIDC Core §5.3.2: userinfo naming another `sub` than the ID token must not
/// be used. logto-dev's ID tokens (at the callback and at the refresh for the
/// userinfo token) are made to name someone else, so its userinfo (alice's)
/// disagrees: `/protected/userinfo` answers the 502 error page, with one log
/// line naming the reason and no claim of either user; the session stays.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn userinfo_for_another_user_is_a_502_page(pool: PgPool) {
    LazyLock::force(&LOGS);
    let app = spawn_app(pool).await;
    let rename = |idp: logto_dev::DevIdp| {
        move |mut claims: Value| {
            claims["sub"] = json!("someone-else");
            idp.sign_jwt(&json!({}), &claims).unwrap()
        }
    };
    let auth = app
        .start_sign_in(&app.browser, "/sign-in?return_to=/protected")
        .await;
    let callback = logto_dev::testing::complete_sign_in(&auth, "alice", "alice-password")
        .await
        .unwrap();
    app.idp.forge_next_id_token(rename(app.idp.clone()));
    let res = app.browser.get(callback.as_str()).send().await.unwrap();
    assert_redirect_to(&res, "/protected");
    assert_eq!(app.logins().await, 1);
    // The ID token of the refresh that fetches the userinfo token says the same.
    app.idp.forge_next_id_token(rename(app.idp.clone()));
    let userinfo_calls = app.idp.counters().userinfo_hits;
    let res = app.get("/protected/userinfo").await;
    assert_eq!(res.status().as_u16(), 502);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign-in service error"), "{html}");
    assert!(html.contains("cannot accept"), "{html}");
    assert!(
        !html.contains("alice@") && !html.contains("eyJ"),
        "nothing of the userinfo shown: {html}"
    );
    assert_eq!(app.idp.counters().userinfo_hits, userinfo_calls + 1);
    let logs = logs();
    assert!(
        logs.contains("userinfo sub does not match the ID token's sub"),
        "logged with its reason"
    );
    // Nothing else is wrong with the session.
    assert_eq!(app.logins().await, 1);
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
}
