//! Sign-in, callback, sessions, sign-out, back-channel logout.

use std::collections::HashMap;

use crate::helpers::*;
use sqlx::PgPool;

const CODE_EXCHANGES_OK: &str =
    "portal_token_endpoint_calls_total{grant=\"authorization_code\",outcome=\"ok\"}";

/// The value of `name` (with its labels) on `/metrics`, 0 when absent. A
/// client of its own: the browser's cookies stay untouched.
async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn signed_out_pages_redirect_to_sign_in_and_the_api_answers_401(pool: PgPool) {
    let app = spawn_app(pool).await;
    let res = app.get("/protected").await;
    assert_redirect_to(&res, "/sign-in?return_to=%2Fprotected");
    let res = app.get("/api/me").await;
    assert_eq!(res.status().as_u16(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_authenticated");
    let home = app.get("/").await;
    assert_eq!(home.status().as_u16(), 200);
    let csp = home.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(home.headers()["x-content-type-options"], "nosniff");
    assert!(home.headers().contains_key("referrer-policy"));
    assert!(home.text().await.unwrap().contains("href=\"/sign-in\""));
    let css = app.get("/static/portal.css").await;
    assert_eq!(css.status().as_u16(), 200);
    assert!(css.text().await.unwrap().contains("@media"));
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn sign_in_shows_claims_and_renews_the_session_id(pool: PgPool) {
    let app = spawn_app(pool).await;
    let auth = app
        .start_sign_in(&app.browser, "/sign-in?return_to=/protected")
        .await;
    let q: HashMap<String, String> = auth.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    assert!(q["state"].len() >= 22 && q["nonce"].len() >= 22);
    assert_eq!(q["redirect_uri"], app.url("/callback"));
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    // The pre-sign-in session (one an attacker could have planted).
    let planted = app.session_cookie().expect("a session before sign-in");
    let codes_before = metric(&app, CODE_EXCHANGES_OK).await;

    let callback = logto_dev::testing::complete_sign_in(&auth, "alice", "alice-password")
        .await
        .unwrap();
    let res = app.browser.get(callback.as_str()).send().await.unwrap();
    assert_redirect_to(&res, "/protected");
    // The callback's code exchange is counted once.
    assert_eq!(
        metric(&app, CODE_EXCHANGES_OK).await,
        codes_before + 1,
        "{CODE_EXCHANGES_OK}"
    );
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert!(
        !set_cookie.to_lowercase().contains("domain="),
        "{set_cookie}"
    );
    let renewed = app.session_cookie().unwrap();
    assert_ne!(renewed, planted, "the session id is renewed at sign-in");

    let page = app.get("/protected").await;
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("Alice Example"));
    assert!(html.contains(&app.sub_of("alice")));
    assert!(!html.contains("eyJ"), "no raw token on the page");
    assert!(!html.contains(&renewed), "no session id on the page");
    assert_eq!(app.logins().await, 1);

    // The planted cookie does not carry the sign-in.
    let attacker = app.browser_with_session(&planted);
    let res = attacker.get(app.url("/protected")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);

    let me: serde_json::Value = app.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["sub"], app.sub_of("alice"));

    // The database holds only a hash of the session id.
    let raw: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key_hash FROM sessions")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!raw.is_empty());
    for k in raw {
        assert!(!String::from_utf8_lossy(&k).contains(&renewed));
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn forged_replayed_and_error_callbacks_get_a_clear_page_and_no_session(pool: PgPool) {
    let app = spawn_app(pool).await;
    // No sign-in started in this browser at all.
    let res = app.get("/callback?code=x&state=y").await;
    assert_eq!(res.status().as_u16(), 400);
    assert!(res.text().await.unwrap().contains("Sign-in failed"));

    // Login CSRF: a valid code+state from another browser.
    let victim = browser();
    let auth = app.start_sign_in(&app.browser, "/sign-in").await;
    let _ = app.start_sign_in(&victim, "/sign-in").await;
    let callback = logto_dev::testing::complete_sign_in(&auth, "bob", "bob-password")
        .await
        .unwrap();
    let grants_before = app.idp.counters().authorization_code_grants;
    let res = victim.get(callback.as_str()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(
        app.idp.counters().authorization_code_grants,
        grants_before,
        "no token request"
    );
    assert_eq!(app.logins().await, 0);

    // The rightful browser completes; a replay of the same URL is refused.
    let res = app.browser.get(callback.as_str()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let res = app.browser.get(callback.as_str()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(
        app.logins().await,
        1,
        "the replay neither adds nor removes a login"
    );
    assert_eq!(
        app.get("/protected").await.status().as_u16(),
        200,
        "still signed in"
    );

    // The IdP's error callbacks: the user said no (a refusal), or the IdP
    // failed on its side (RFC 6749 `server_error`, `temporarily_unavailable`:
    // a 503 "try again").
    let other = browser();
    for (error, status) in [
        ("access_denied&error_description=denied", 400),
        ("server_error", 503),
        ("temporarily_unavailable", 503),
    ] {
        let auth = app.start_sign_in(&other, "/sign-in").await;
        let state = auth
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let res = other
            .get(app.url(&format!(
                "/callback?error={error}&state={state}&iss={}",
                app.idp.issuer()
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{error}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.headers()["referrer-policy"], "no-referrer");
        assert_eq!(app.logins().await, 1);
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn sign_ins_started_in_two_tabs_both_complete(pool: PgPool) {
    let app = spawn_app(pool).await;
    let first = app
        .start_sign_in(&app.browser, "/sign-in?return_to=/organizations")
        .await;
    let second = app
        .start_sign_in(&app.browser, "/sign-in?return_to=/protected")
        .await;
    let cb1 = logto_dev::testing::complete_sign_in(&first, "alice", "alice-password")
        .await
        .unwrap();
    let cb2 = logto_dev::testing::complete_sign_in(&second, "alice", "alice-password")
        .await
        .unwrap();
    // Completed in the opposite order from the one they were started in.
    let res = app.browser.get(cb2.as_str()).send().await.unwrap();
    assert_redirect_to(&res, "/protected");
    let res = app.browser.get(cb1.as_str()).send().await.unwrap();
    assert_redirect_to(&res, "/organizations");
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
    assert_eq!(
        app.logins().await,
        1,
        "the second sign-in replaced the first login"
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn open_redirects_are_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    for evil in [
        "https://evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "/\\evil.example",
    ] {
        let b = browser();
        let res = app
            .sign_in_as_in(&b, "bob", &crate::helpers::urlencode(evil))
            .await;
        assert_redirect_to(&res, "/");
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn sign_out_needs_post_and_csrf_then_ends_everything(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let csrf = app.csrf().await;

    assert_eq!(app.get("/sign-out").await.status().as_u16(), 405);
    let res = app
        .browser
        .post(app.url("/sign-out"))
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let res = app
        .browser
        .post(app.url("/sign-out"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(
        app.get("/protected").await.status().as_u16(),
        200,
        "survived"
    );

    let cookie = app.session_cookie().unwrap();
    let revocations = app.idp.counters().revocations;
    let res = app
        .browser
        .post(app.url("/sign-out"))
        .header("origin", app.address.clone())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let end = url::Url::parse(&location(&res)).unwrap();
    assert!(
        end.as_str()
            .starts_with(&format!("{}/session/end", app.idp.issuer())),
        "{end}"
    );
    let q: HashMap<String, String> = end.query_pairs().into_owned().collect();
    assert_eq!(q["post_logout_redirect_uri"], format!("{}/", app.address));
    assert_eq!(q["client_id"], "portal-demo");
    assert!(q.contains_key("id_token_hint"));
    assert_eq!(
        app.idp.counters().revocations,
        revocations + 1,
        "refresh token revoked"
    );
    assert_eq!(app.logins().await, 0);
    let tokens: i64 = sqlx::query_scalar("SELECT count(*) FROM access_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tokens, 0);
    // The old cookie is dead.
    let replay = app.browser_with_session(&cookie);
    let res = replay.get(app.url("/protected")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn backchannel_logout_ends_the_users_sessions(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let bob = browser();
    let res = app.sign_in_as_in(&bob, "bob", "/").await;
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(app.logins().await, 2);

    let delivered = app
        .idp
        .backchannel_logout(&app.sub_of("alice"))
        .await
        .unwrap();
    assert!(delivered >= 1);
    assert_eq!(app.logins().await, 1, "only alice's login ended");
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
    assert_eq!(
        bob.get(app.url("/protected"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    // Garbage is refused with 400 and ends nothing.
    let res = app.post_logout_token("not.a.jwt").await;
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(app.logins().await, 1);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_deleted_or_tampered_session_is_signed_out_cleanly(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    app.change_behind_its_back(sqlx::query("DELETE FROM sessions").execute(&app.pool))
        .await
        .unwrap();
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);

    app.sign_in_as("alice").await;
    let cookie = app.session_cookie().unwrap();
    let mut tampered = cookie.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let b = app.browser_with_session(&String::from_utf8(tampered).unwrap());
    assert_eq!(
        b.get(app.url("/protected"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        302
    );
    let b = app.browser_with_session("%%%garbage%%%");
    assert_eq!(
        b.get(app.url("/protected"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        302
    );
    // The rightful browser is unaffected.
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_database_going_away_gives_503_not_a_panic(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("bob").await;
    app.state.close_database().await;
    let res = app.get("/protected").await;
    assert_unavailable_page(res, "/protected").await;
    let res = app.get("/api/me").await;
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(app.get("/readyz").await.status().as_u16(), 503);
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn user_info_resource_token_and_metrics(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let html = app.get("/protected/userinfo").await.text().await.unwrap();
    assert!(
        html.contains("custom_data") && html.contains("enterprise"),
        "{html}"
    );
    let res = app.get("/protected/resource").await;
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("read:reports"), "{html}");
    assert!(!html.contains("eyJ"));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("portal_http_requests_total{method=\"GET\",route=\"/protected/userinfo\",status=\"200\"} 1"), "{metrics}");
    assert!(metrics.contains("portal_sessions_alive 1"));
    // Tokens at rest are ciphertext.
    let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT id_token, refresh_token FROM logins")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    for (id, rt) in rows {
        assert!(!String::from_utf8_lossy(&id).contains("eyJ"));
        assert!(rt.is_some());
    }
    let tokens: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token FROM access_tokens")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!tokens.is_empty());
    for t in tokens {
        assert!(!String::from_utf8_lossy(&t).contains("eyJ"));
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn concurrent_first_uses_of_a_token_share_one_refresh_and_the_metrics_say_so(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let grants_before = app.idp.counters().refresh_token_grants;
    // The refresh is held for a second, so that all eight are waiting on it
    // when it lands (a request that started after it would simply find the
    // new token, and not count as coalesced).
    app.idp.delay_next(
        logto_dev::Endpoint::Token,
        std::time::Duration::from_secs(1),
    );
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (browser, url) = (app.browser.clone(), app.url("/protected/resource"));
            tokio::spawn(async move { browser.get(url).send().await.unwrap().status().as_u16() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(app.idp.counters().refresh_token_grants, grants_before + 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("portal_refreshes_coalesced_total 7"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "portal_token_endpoint_calls_total{grant=\"refresh_token\",outcome=\"ok\"} 1"
        ) || metrics.contains(
            "portal_token_endpoint_calls_total{grant=\"refresh_token\",outcome=\"success\"} 1"
        ),
        "{metrics}"
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn id_tokens_outside_the_configured_algorithms_are_refused(pool: PgPool) {
    // logto-dev signs with ES384 (Logto's default key); the portal accepts RS256 only.
    let app = spawn_app_with_env(pool, &[("LOGTO_SIGNING_ALGORITHMS", "RS256")]).await;
    let res = app.sign_in_as_in(&app.browser, "alice", "/protected").await;
    assert_eq!(res.status().as_u16(), 400);
    assert!(res.text().await.unwrap().contains("Sign-in failed"));
    assert_eq!(app.logins().await, 0);
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
}

/// Behind the deployment's reverse proxy (a loopback/private peer), the
/// budget of `/sign-in` is per `X-Forwarded-For` client, and a forged hop
/// prepended by the client does not buy a fresh budget.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_sign_in_budget_follows_the_proxys_forwarded_for(pool: PgPool) {
    let app = spawn_app_with_env(pool, &[("PORTAL_SIGN_IN_RATE", "2")]).await;
    let sign_in = |xff: &'static str| {
        let (b, url) = (browser(), app.url("/sign-in"));
        async move {
            b.get(url)
                .header("x-forwarded-for", xff)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(sign_in("203.0.113.1").await, 302);
    assert_eq!(sign_in("203.0.113.1").await, 302);
    assert_eq!(sign_in("203.0.113.1").await, 429);
    assert_eq!(
        sign_in("198.51.100.9, 203.0.113.1").await,
        429,
        "forged hop"
    );
    assert_eq!(sign_in("203.0.113.2").await, 302, "another client");
}
