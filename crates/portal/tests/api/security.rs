//! Hostile input (issue 7): forged logout tokens, open redirects, cross-site
//! posts, rate limits, the identity provider going away, tenant isolation,
//! and no secret in the logs or pages.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sqlx::PgPool;
use url::Url;
use uuid::Uuid;

use crate::helpers::*;

pub(crate) const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
pub(crate) const APP_ID: &str = "portal-demo";

pub(crate) fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

pub(crate) use test_support::{b64, hmac_sha256};

pub(crate) fn app_secret(app: &TestApp) -> String {
    app.idp
        .seed()
        .applications
        .iter()
        .find(|a| a.id == APP_ID)
        .and_then(|a| a.secret.clone())
        .unwrap()
}

/// The claims of a genuine logout token for `sub` (no `sid`: ends every login of `sub`).
pub(crate) fn logout_claims(app: &TestApp, sub: &str) -> Value {
    let t = now();
    json!({
        "iss": app.idp.issuer(),
        "aud": APP_ID,
        "iat": t,
        "exp": t + 120,
        "jti": Uuid::new_v4().to_string(),
        "events": { LOGOUT_EVENT: {} },
        "sub": sub,
    })
}

fn set(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn unset(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

pub(crate) fn sign(app: &TestApp, claims: &Value) -> String {
    app.idp
        .sign_jwt(&json!({"typ": "logout+jwt"}), claims)
        .unwrap()
}

/// The plaintext tokens of every login: (login id, ID token, refresh token).
pub(crate) async fn stored_tokens(app: &TestApp) -> Vec<(Uuid, String, Option<String>)> {
    let rows: Vec<(Uuid, Vec<u8>, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT id, id_token, refresh_token FROM logins")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let open = |id: Uuid, column: &str, sealed: &[u8]| {
        let aad = format!("logins:{id}:{column}");
        String::from_utf8(app.state.cipher.decrypt(sealed, aad.as_bytes()).unwrap()).unwrap()
    };
    rows.into_iter()
        .map(|(id, it, rt)| {
            (
                id,
                open(id, "id_token", &it),
                rt.map(|rt| open(id, "refresh_token", &rt)),
            )
        })
        .collect()
}

/// Every string inside the cached access-token rows (the tokens themselves).
pub(crate) async fn stored_access_tokens(app: &TestApp) -> Vec<String> {
    let rows: Vec<(Uuid, String, Vec<u8>)> =
        sqlx::query_as("SELECT login_id, audience, token FROM access_tokens")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut out = Vec::new();
    for (login, audience, sealed) in rows {
        let aad = format!("access_tokens:{login}:{audience}");
        let plain = app.state.cipher.decrypt(&sealed, aad.as_bytes()).unwrap();
        let v: Value = serde_json::from_slice(&plain).unwrap();
        collect_strings(&v, &mut out);
    }
    out.retain(|s| s.starts_with("eyJ"));
    assert!(!out.is_empty(), "access tokens were cached");
    out
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn forged_logout_tokens_get_400_no_store_and_end_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    assert_eq!(app.logins().await, 2);
    let alice = app.sub_of("alice");
    let base = logout_claims(&app, &alice);
    let t = now();

    let valid = sign(&app, &base);
    let (h, p, s) = {
        let mut parts = valid.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let alg_none = format!(
        "{}.{p}.",
        b64(json!({"alg": "none", "typ": "logout+jwt"})
            .to_string()
            .as_bytes())
    );
    let hs_header = b64(json!({"alg": "HS256", "typ": "logout+jwt"})
        .to_string()
        .as_bytes());
    let hs256 = format!(
        "{hs_header}.{p}.{}",
        b64(&hmac_sha256(
            app_secret(&app).as_bytes(),
            format!("{hs_header}.{p}").as_bytes()
        ))
    );
    let flipped = {
        let mut sig = URL_SAFE_NO_PAD.decode(&s).unwrap();
        sig[10] ^= 0x01;
        format!("{h}.{p}.{}", b64(&sig))
    };
    // A second IdP under the same issuer name: its key is not in the JWKS.
    let impostor = logto_dev::serve(
        logto_dev::Seed::demo(),
        logto_dev::Settings {
            endpoint: Some(app.idp.endpoint()),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let foreign_key = impostor
        .sign_jwt(&json!({"typ": "logout+jwt"}), &base)
        .unwrap();
    impostor.stop().await;
    let id_token = stored_tokens(&app).await[0].1.clone();

    let cases: Vec<(&str, String)> = vec![
        ("alg none", alg_none),
        ("HS256 keyed with the app secret", hs256),
        (
            "alg outside the allow-list",
            app.idp
                .sign_jwt(&json!({"alg": "ES256K", "typ": "logout+jwt"}), &base)
                .unwrap(),
        ),
        (
            "alg of another key type",
            app.idp
                .sign_jwt(&json!({"alg": "ES512", "typ": "logout+jwt"}), &base)
                .unwrap(),
        ),
        ("signature bits flipped", flipped),
        ("signed by a key not in the JWKS", foreign_key),
        (
            "iss + 1",
            sign(
                &app,
                &set(base.clone(), "iss", json!(format!("{}1", app.idp.issuer()))),
            ),
        ),
        (
            "aud + 1",
            sign(&app, &set(base.clone(), "aud", json!(format!("{APP_ID}1")))),
        ),
        (
            "extra untrusted aud",
            sign(
                &app,
                &set(base.clone(), "aud", json!([APP_ID, "https://evil.example"])),
            ),
        ),
        (
            "expired beyond leeway",
            sign(
                &app,
                &set(
                    set(base.clone(), "exp", json!(t - 3600)),
                    "iat",
                    json!(t - 3700),
                ),
            ),
        ),
        ("exp missing", sign(&app, &unset(base.clone(), "exp"))),
        (
            "iat a day in the future",
            sign(&app, &set(base.clone(), "iat", json!(t + 86_400))),
        ),
        (
            "exp as a string",
            sign(
                &app,
                &set(base.clone(), "exp", json!((t + 120).to_string())),
            ),
        ),
        ("events missing", sign(&app, &unset(base.clone(), "events"))),
        (
            "events as an array",
            sign(&app, &set(base.clone(), "events", json!([LOGOUT_EVENT]))),
        ),
        (
            "events with only foobar",
            sign(
                &app,
                &set(
                    base.clone(),
                    "events",
                    json!({"http://schemas.openid.net/event/foobar": {}}),
                ),
            ),
        ),
        (
            "nonce present",
            sign(&app, &set(base.clone(), "nonce", json!("n-0S6_WzA2Mj"))),
        ),
        (
            "neither sid nor sub",
            sign(&app, &unset(base.clone(), "sub")),
        ),
        ("jti missing", sign(&app, &unset(base.clone(), "jti"))),
        (
            "typ at+jwt",
            app.idp.sign_jwt(&json!({"typ": "at+jwt"}), &base).unwrap(),
        ),
        ("an ID token", id_token),
        ("empty", String::new()),
    ];
    for (name, token) in &cases {
        let res = app.post_logout_token(token).await;
        assert_eq!(res.status().as_u16(), 400, "{name}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{name}");
        assert_eq!(app.logins().await, 2, "{name}: nothing deleted");
    }

    // Not form-encoded (a valid token inside, so acceptance would show).
    let client = reqwest::Client::new();
    let bodies: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "JSON body",
            client
                .post(app.url("/backchannel-logout"))
                .json(&json!({ "logout_token": valid })),
        ),
        (
            "text/plain body",
            client
                .post(app.url("/backchannel-logout"))
                .header("content-type", "text/plain")
                .body(format!("logout_token={valid}")),
        ),
        (
            "no body",
            client
                .post(app.url("/backchannel-logout"))
                .header("content-type", "application/x-www-form-urlencoded"),
        ),
        (
            "a 1 MiB body",
            client
                .post(app.url("/backchannel-logout"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("logout_token={valid}&pad={}", "a".repeat(1 << 20))),
        ),
    ];
    for (name, req) in bodies {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 400, "{name}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{name}");
        assert_eq!(app.logins().await, 2, "{name}: nothing deleted");
    }
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);

    // The control: the same claims, genuinely signed, do end alice's login.
    let res = app.post_logout_token(&valid).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(app.logins().await, 1);
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn unknown_sid_or_sub_and_replays_touch_nothing_and_cookies_are_ignored(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    let alice = app.sub_of("alice");

    // A4.3: a valid token for an unknown sid — even naming alice's sub, the
    // sid decides — and one for an unknown sub: 200, nothing touched.
    let unknown_sid = set(
        logout_claims(&app, &alice),
        "sid",
        json!("no-such-session-id"),
    );
    let res = app.post_logout_token(&sign(&app, &unknown_sid)).await;
    assert_eq!(res.status().as_u16(), 200);
    let unknown_sub = logout_claims(&app, "no-such-user");
    let res = app.post_logout_token(&sign(&app, &unknown_sub)).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(app.logins().await, 2);

    // A4.8: no cookie needed (`post_logout_token` sends none); and a cookie sent
    // along changes nothing: bob's own session cookie does not make the
    // token for alice end bob's login.
    let token = sign(&app, &logout_claims(&app, &alice));
    let res = bob
        .post(app.url("/backchannel-logout"))
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no session is created"
    );
    assert_eq!(app.logins().await, 1, "alice's login ended, bob's did not");
    let bob_status = bob
        .get(app.url("/protected"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(bob_status.as_u16(), 200);

    // A4.4: the same token again (same jti, within exp) after alice signed in
    // afresh: documented 200, and no side effect — her new login survives.
    app.sign_in_as("alice").await;
    assert_eq!(app.logins().await, 2);
    let res = app.post_logout_token(&token).await;
    assert_eq!(res.status().as_u16(), 200, "a replay is answered 200");
    assert_eq!(app.logins().await, 2, "a replay ends nothing");
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
}

/// Checks a sign-in with `return_to` ends on the portal (`/`) and no response
/// on the way points at another origin.
async fn assert_return_to_refused(app: &TestApp, raw: &str) {
    let b = browser();
    let res = b
        .get(app.url(&format!("/sign-in?return_to={}", urlencode(raw))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302, "{raw:?}");
    let auth = Url::parse(&location(&res)).unwrap();
    assert!(
        auth.as_str().starts_with(&app.idp.issuer()),
        "{raw:?}: to the IdP only"
    );
    let callback = logto_dev::testing::complete_sign_in(&auth, "bob", "bob-password")
        .await
        .unwrap();
    let res = b.get(callback.as_str()).send().await.unwrap();
    assert_redirect_to(&res, "/");
    let page = b.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "{raw:?}");
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn every_hostile_return_to_ends_on_the_home_page(pool: PgPool) {
    let app = spawn_app(pool).await;
    let long = format!("/{}", "a".repeat(10 * 1024));
    let values = [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "/%2F%2Fevil.example",
        "javascript:alert(1)",
        "https:evil.example",
        "/%09/evil.example",
        "http://portal@evil.example",
        long.as_str(),
        // Variations on the same themes.
        "///evil.example",
        "/.//evil.example",
        "/a/..//evil.example",
        "/%2e//evil.example",
        "/%5C%5Cevil.example",
        "/\t/evil.example",
        "/\r\n/evil.example",
        "%2F%2Fevil.example",
        "data:text/html,<script>alert(1)</script>",
        "HTTPS://EVIL.EXAMPLE",
    ];
    let tasks: Vec<_> = values
        .iter()
        .map(|raw| assert_return_to_refused(&app, raw))
        .collect();
    futures_util::future::join_all(tasks).await;
    // Same-origin paths do come back.
    let b = browser();
    let res = app.sign_in_as_in(&b, "bob", "%2Forganizations").await;
    assert_redirect_to(&res, "/organizations");
}

/// A `MakeWriter` appending every log line to one shared buffer.
#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged in this test process (debug and up; logto-dev's own
/// lines excluded: it is the IdP, not the portal). Installed once, globally,
/// so the portal's worker threads are captured too.
pub(crate) static LOGS: LazyLock<Arc<Mutex<Vec<u8>>>> = LazyLock::new(|| {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = Captured(buffer.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug,logto_dev=off"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("no other global subscriber in this test binary");
    buffer
});

pub(crate) fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn no_code_token_secret_or_session_id_reaches_the_logs_or_the_pages(pool: PgPool) {
    LazyLock::force(&LOGS);
    let app = spawn_app(pool).await;
    let mut secrets: Vec<(String, String)> = vec![("app secret".into(), app_secret(&app))];
    let mut pages: Vec<(String, String)> = Vec::new();

    let auth = app
        .start_sign_in(&app.browser, "/sign-in?return_to=/protected")
        .await;
    secrets.push(("pre-sign-in cookie".into(), app.session_cookie().unwrap()));
    let callback = logto_dev::testing::complete_sign_in(&auth, "alice", "alice-password")
        .await
        .unwrap();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    secrets.push(("authorization code".into(), code));
    let res = app.browser.get(callback.as_str()).send().await.unwrap();
    assert_redirect_to(&res, "/protected");
    secrets.push(("session cookie".into(), app.session_cookie().unwrap()));
    let (_, id_token, rt) = stored_tokens(&app).await.remove(0);
    secrets.push(("ID token".into(), id_token));
    secrets.push(("first refresh token".into(), rt.unwrap()));

    for path in [
        "/",
        "/protected",
        "/t/acme/",
        "/protected/userinfo",
        "/protected/resource",
        "/organizations",
        "/api/me",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status().as_u16(), 200, "{path}");
        pages.push((path.to_owned(), res.text().await.unwrap()));
    }
    for (_, id_token, rt) in stored_tokens(&app).await {
        secrets.push(("ID token after refresh".into(), id_token));
        secrets.push(("refresh token after refresh".into(), rt.unwrap()));
    }
    for at in stored_access_tokens(&app).await {
        secrets.push(("access token".into(), at));
    }
    let res = app.sign_out().await;
    assert_eq!(res.status().as_u16(), 303);
    pages.push((
        "/ after sign-out".into(),
        app.get("/").await.text().await.unwrap(),
    ));

    let logs = logs();
    assert!(
        logs.contains("signed in"),
        "the capture works: {}",
        &logs[..logs.len().min(2000)]
    );
    for (what, value) in &secrets {
        assert!(value.len() >= 16, "{what} is a real value");
        assert!(!logs.contains(value.as_str()), "the {what} is in the logs");
    }
    // No JWT at all (every JWT's header starts with `eyJ`).
    assert!(!logs.contains("eyJ"), "a JWT is in the logs");
    for (path, html) in &pages {
        assert!(!html.contains("eyJ"), "a JWT on {path}");
        for (what, value) in &secrets {
            assert!(!html.contains(value.as_str()), "the {what} on {path}");
        }
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn cross_site_posts_are_refused_and_the_session_survives(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let evil = "https://evil.example";

    // The one state-changing route a browser can reach: 403 whatever the
    // encoding a cross-site <form> can use.
    let csrf = app.csrf().await;
    let requests = [
        app.browser
            .post(app.url("/sign-out"))
            .header("origin", evil)
            .form(&[("x", "1")]),
        app.browser
            .post(app.url("/sign-out"))
            .header("origin", evil)
            .header("content-type", "text/plain")
            .body("csrf=whatever"),
        app.browser
            .post(app.url("/sign-out"))
            .header("origin", evil)
            .header("content-type", "multipart/form-data; boundary=xyz")
            .body("--xyz\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nx\r\n--xyz--\r\n"),
        app.browser
            .post(app.url("/sign-out"))
            .header("referer", "https://evil.example/page")
            .form(&[("x", "1")]),
        // Even the right token from a foreign origin.
        app.browser
            .post(app.url("/sign-out"))
            .header("origin", evil)
            .form(&[("csrf", csrf.as_str())]),
        // And no Origin at all, no token.
        app.browser.post(app.url("/sign-out")).form(&[("x", "1")]),
    ];
    for (i, req) in requests.into_iter().enumerate() {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 403, "cross-site sign-out #{i}");
    }

    // Every other route: no POST, PUT, PATCH or DELETE changes anything
    // (404/405; /backchannel-logout is exempt by design and tested apart).
    for path in [
        "/",
        "/sign-in",
        "/callback",
        "/protected",
        "/protected/userinfo",
        "/protected/resource",
        "/organizations",
        "/t/acme/",
        "/t/acme/sign-in",
        "/api/me",
        "/api/orgs/org-acme/whoami",
        "/api/reports",
        "/healthz",
        "/readyz",
        "/metrics",
        "/sign-out",
    ] {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let res = app
                .browser
                .request(method.parse().unwrap(), app.url(path))
                .header("origin", evil)
                .form(&[("x", "1")])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            assert!(
                matches!(status, 403..=405),
                "{method} {path} from another site: {status}"
            );
        }
    }
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
    assert_eq!(app.logins().await, 1, "the session survived");
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn sign_in_and_callback_are_rate_limited_per_ip(pool: PgPool) {
    let env = vec![("PORTAL_SIGN_IN_RATE", "5".to_owned())];
    let app = spawn_app_with(
        pool.clone(),
        Options {
            env: env.clone(),
            ..Default::default()
        },
    )
    .await;
    for i in 0..5 {
        let res = app.get("/sign-in").await;
        assert_eq!(res.status().as_u16(), 302, "sign-in #{}", i + 1);
    }
    for path in ["/sign-in", "/callback?code=x&state=y", "/t/acme/sign-in"] {
        let res = app.get(path).await;
        assert_eq!(res.status().as_u16(), 429, "{path}");
        assert_eq!(res.headers()["retry-after"], "60");
        assert!(res.headers().get("location").is_none());
        let html = res.text().await.unwrap();
        assert!(html.contains("too many requests"), "{html}");
    }
    // The callback on its own, on a fresh instance (its own counter).
    let (other, _) = spawn_portal(pool, &app.idp, &env).await;
    let b = browser();
    for i in 0..5 {
        let res = b
            .get(format!("{other}/callback?code=x&state=y"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400, "callback #{}", i + 1);
    }
    let res = b
        .get(format!("{other}/callback?code=x&state=y"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    // Other pages are not limited.
    assert_eq!(
        b.get(format!("{other}/")).send().await.unwrap().status(),
        200
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn with_the_idp_down_sign_in_is_a_clear_503_and_sessions_keep_working(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.sign_in_as("alice").await;
    // A sign-in completed at the IdP whose callback arrives once it is gone.
    let late = browser();
    let auth = app.start_sign_in(&late, "/sign-in").await;
    let callback = logto_dev::testing::complete_sign_in(&auth, "bob", "bob-password")
        .await
        .unwrap();
    let idp = app.idp.clone();
    tokio::time::timeout(std::time::Duration::from_secs(10), idp.stop())
        .await
        .expect("the IdP stops");
    // An instance that never reached the IdP (no discovery cached).
    let (fresh, _) = spawn_portal(pool, &app.idp, &[]).await;

    let b = browser();
    for path in [
        "/sign-in",
        "/sign-in?return_to=/protected",
        "/t/acme/sign-in",
    ] {
        let res = b.get(format!("{fresh}{path}")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 503, "{path}");
        assert!(res.headers().get("location").is_none(), "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let html = res.text().await.unwrap();
        assert!(html.contains("Temporarily unavailable"), "{html}");
        assert!(html.contains("unavailable right now"), "{html}");
    }

    // The callback cannot redeem its code: 503, no session.
    let res = late.get(callback.as_str()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(app.logins().await, 1);

    // The signed-in browser: pages that need nothing new keep working, on
    // both instances; pages that need the IdP say so, and sign nobody out.
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
    assert_eq!(app.get("/api/me").await.status().as_u16(), 200);
    let res = app
        .browser
        .get(format!("{fresh}/protected"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    for path in ["/protected/userinfo", "/t/acme/", "/protected/resource"] {
        assert_unavailable_page(app.get(path).await, path).await;
    }
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
    assert_eq!(app.logins().await, 1, "nobody was signed out");
}

/// Alice's organization token for Acme, obtained the ordinary way, and her
/// ID token.
pub(crate) async fn acme_token_of_alice(app: &TestApp) -> (String, String) {
    let (client, storage) = tokens_for(app, "alice").await;
    let org = client
        .get_organization_token(&storage, "org-acme")
        .await
        .unwrap();
    let id = client.get_id_token(&storage).await.unwrap();
    (org.secret().to_owned(), id.secret().to_owned())
}

async fn whoami(app: &TestApp, org: &str, token: &str) -> reqwest::Response {
    app.get_with_bearer(&format!("/api/orgs/{org}/whoami"), token)
        .await
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_member_of_acme_only_cannot_reach_globex(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;

    // Through the pages, and odd spellings of the path.
    for path in [
        "/t/globex/",
        "/t/globex",
        "/t/GLOBEX/",
        "/t/globex%2F/",
        "/t/acme%2F..%2Fglobex/",
        "/t/%2E%2E/globex/",
        "/t/globex%00/",
        "/t/globex%20/",
        "/t/org-globex/",
    ] {
        let res = app.get(path).await;
        let status = res.status().as_u16();
        let html = res.text().await.unwrap();
        assert!(matches!(status, 403 | 404), "{path}: {status}");
        assert!(!html.contains("manage:billing"), "{path}");
    }

    // Through the API, with her genuine Acme organization token.
    let (acme, id_token) = acme_token_of_alice(&app).await;
    let res = whoami(&app, "org-acme", &acme).await;
    assert_eq!(res.status().as_u16(), 200, "the control");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["organization_id"], "org-acme");
    let res = whoami(&app, "org-globex", &acme).await;
    assert_eq!(res.status().as_u16(), 403, "an Acme token at Globex");
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    for forged in [
        "ORG-GLOBEX",
        "org-globex%00",
        "org-globex%20",
        "org-acme%2F..%2Forg-globex",
        "org-acme,org-globex",
        "org-acme%20org-globex",
        "urn:logto:organization:org-globex",
        "%2A",
        "",
    ] {
        let res = whoami(&app, forged, &acme).await;
        let status = res.status().as_u16();
        assert!(matches!(status, 403 | 404), "{forged:?}: {status}");
    }
    // Other tokens are not organization tokens; a re-pointed payload breaks
    // the signature.
    assert_eq!(whoami(&app, "org-acme", &id_token).await.status(), 401);
    let mut parts: Vec<String> = acme.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["aud"] = json!("urn:logto:organization:org-globex");
    parts[1] = b64(claims.to_string().as_bytes());
    assert_eq!(
        whoami(&app, "org-globex", &parts.join(".")).await.status(),
        401
    );

    // Through Globex's own sign-in: alice takes its authorization URL, drops
    // the SSO shortcut and signs in herself. However that ends, she is not
    // let into Globex.
    let b = browser();
    let auth = app.start_sign_in(&b, "/t/globex/sign-in").await;
    let mut stripped = auth.clone();
    let pairs: Vec<(String, String)> = auth
        .query_pairs()
        .filter(|(k, _)| k != "direct_sign_in")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    stripped.query_pairs_mut().clear().extend_pairs(pairs);
    if let Ok(cb) = logto_dev::testing::complete_sign_in(&stripped, "alice", "alice-password").await
    {
        let res = b.get(cb.as_str()).send().await.unwrap();
        assert!(
            matches!(res.status().as_u16(), 302 | 400 | 403),
            "{}",
            res.status()
        );
    }
    let res = b.get(app.url("/t/globex/")).send().await.unwrap();
    assert!(
        matches!(res.status().as_u16(), 302 | 403),
        "{}",
        res.status()
    );
    assert!(!res.text().await.unwrap().contains("manage:billing"));
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_callback_with_a_foreign_iss_makes_no_token_request(pool: PgPool) {
    let app = spawn_app(pool).await;
    let auth = app.start_sign_in(&app.browser, "/sign-in").await;
    let callback = logto_dev::testing::complete_sign_in(&auth, "alice", "alice-password")
        .await
        .unwrap();
    let grants = app.idp.counters().authorization_code_grants;
    let with_iss = |iss: Option<&str>| {
        let mut u = callback.clone();
        let pairs: Vec<(String, String)> = callback
            .query_pairs()
            .filter(|(k, _)| k != "iss")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        {
            let mut q = u.query_pairs_mut();
            q.clear().extend_pairs(pairs);
            if let Some(iss) = iss {
                q.append_pair("iss", iss);
            }
        }
        u
    };
    let issuer = app.idp.issuer();
    for iss in [
        Some(format!("{issuer}1")),
        Some(format!("{issuer}/")),
        Some("https://evil.example/oidc".to_owned()),
        None,
    ] {
        let res = app
            .browser
            .get(with_iss(iss.as_deref()).as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400, "{iss:?}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(res.text().await.unwrap().contains("Sign-in failed"));
    }
    assert_eq!(
        app.idp.counters().authorization_code_grants,
        grants,
        "no token request"
    );
    assert_eq!(app.logins().await, 0);
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
}
