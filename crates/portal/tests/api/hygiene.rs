//! The redirect, the callback, logout and hygiene, through the portal
//! (checklist A2.1–A2.8, A4.1, A4.6–A4.8, A6.3, A6.4; issue 7 items 2 and 5):
//! security headers on every answer, templates without inline code, what the
//! browser may see, RP-initiated and back-channel logout on two instances,
//! rate limits per client IP, a rustls-only stack, and the one advisory the
//! dependency audit (`cargo xtask test`) accepts.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sqlx::PgPool;
use url::Url;
use uuid::Uuid;

use crate::helpers::*;
use crate::security::{LOGS, logout_claims, logs, sign, stored_tokens};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn query_map(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Checks the headers every answer of the portal carries (issue 7 item 5).
fn assert_security_headers(what: &str, headers: &HeaderMap) {
    let get = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    let referrer = get("referrer-policy");
    assert!(
        [
            "no-referrer",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin"
        ]
        .contains(&referrer.as_str()),
        "{what}: Referrer-Policy {referrer}"
    );
    let csp = get("content-security-policy");
    let directives: HashMap<String, Vec<String>> = csp
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            (words.next().unwrap().to_ascii_lowercase(), words.collect())
        })
        .collect();
    assert_eq!(
        directives.get("frame-ancestors"),
        Some(&vec!["'none'".to_owned()]),
        "{what}: {csp}"
    );
    // Scripts are governed by script-src, else default-src: neither may allow
    // inline code, eval, or arbitrary hosts.
    let scripts = directives
        .get("script-src")
        .or_else(|| directives.get("default-src"))
        .unwrap_or_else(|| panic!("{what}: no script-src or default-src in {csp}"));
    for bad in [
        "'unsafe-inline'",
        "'unsafe-eval'",
        "'unsafe-hashes'",
        "*",
        "data:",
        "http:",
        "https:",
    ] {
        assert!(
            !scripts.iter().any(|s| s == bad),
            "{what}: scripts allow {bad}: {csp}"
        );
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(directives.contains_key("base-uri"), "{what}: {csp}");
}

/// Inline code in an HTML document: `<script`, `on…=` handlers, `javascript:` URLs.
fn inline_code(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for needle in ["<script", "javascript:", "<iframe", "<object", "<embed"] {
        if lower.contains(needle) {
            found.push(needle.to_owned());
        }
    }
    let bytes = lower.as_bytes();
    for (i, w) in bytes.windows(3).enumerate() {
        if (w[0].is_ascii_whitespace() || w[0] == b'/' || w[0] == b'"' || w[0] == b'\'')
            && &w[1..] == b"on"
        {
            let name: String = lower[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let rest = lower[i + 1 + name.len()..].trim_start();
            if name.len() > 2 && rest.starts_with('=') {
                found.push(name);
            }
        }
    }
    found
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            html_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
}

/// Issue 7 item 5: the templates hold no inline script, no event handler
/// attribute, no `javascript:` URL (the CSP would block them anyway, and a
/// page that needed one would break), and the scanner does catch them.
#[test]
fn templates_have_no_inline_code() {
    for sample in [
        "<p>x</p><script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<body onload = \"x()\">",
        "<a href=\"JavaScript:alert(1)\">",
        "<svg/onload=alert(1)>",
    ] {
        assert!(
            !inline_code(sample).is_empty(),
            "the scanner misses {sample}"
        );
    }
    assert!(inline_code("<p>once upon a time, one onion</p><button>on</button>").is_empty());
    let mut files = Vec::new();
    html_files(&Path::new(WORKSPACE).join("templates"), &mut files);
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let html = std::fs::read_to_string(&file).unwrap();
        let found = inline_code(&html);
        assert!(found.is_empty(), "{}: {found:?}", file.display());
    }
}

/// Issue 7 item 5 / A2.7: every answer — pages, error pages, redirects, JSON,
/// the stylesheet, the probes — carries the security headers; no HTML page
/// holds inline code; the callback answers are `no-referrer` + `no-store`.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn every_answer_carries_the_security_headers(pool: PgPool) {
    let app = spawn_app(pool).await;
    let anonymous = browser();
    let mut answers: Vec<(String, reqwest::Response)> = Vec::new();
    for path in [
        "/",
        "/protected",
        "/sign-in?return_to=/organizations",
        "/callback?code=x&state=y",
        "/t/acme/",
        "/t/no-such-tenant/",
        "/no/such/page",
        "/api/me",
        "/api/orgs/org-acme/whoami",
        "/api/reports",
        "/healthz",
        "/readyz",
        "/metrics",
        "/static/portal.css",
        "/sign-out",
        "/backchannel-logout",
    ] {
        let res = anonymous.get(app.url(path)).send().await.unwrap();
        answers.push((format!("anonymous GET {path}"), res));
    }
    // The whole sign-in.
    let auth = app
        .start_sign_in(&app.browser, "/sign-in?return_to=/protected")
        .await;
    let callback = logto_dev::testing::complete_sign_in(&auth, "alice", "alice-password")
        .await
        .unwrap();
    let res = app.browser.get(callback.as_str()).send().await.unwrap();
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert_eq!(res.headers()["cache-control"], "no-store");
    answers.push(("the callback".into(), res));
    let res = app.browser.get(callback.as_str()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert_eq!(res.headers()["cache-control"], "no-store");
    answers.push(("a replayed callback (error page)".into(), res));
    for path in [
        "/",
        "/protected",
        "/protected/userinfo",
        "/protected/resource",
        "/organizations",
        "/t/acme/",
        "/t/globex/",
        "/t/acme/sign-in",
        "/api/me",
        "/no/such/page",
    ] {
        let res = app.get(path).await;
        answers.push((format!("signed-in GET {path}"), res));
    }
    answers.push((
        "POST /backchannel-logout (garbage)".into(),
        app.post_logout_token("x").await,
    ));
    answers.push((
        "cross-site POST /sign-out".into(),
        app.browser
            .post(app.url("/sign-out"))
            .header("origin", "https://evil.example")
            .form(&[("csrf", "x")])
            .send()
            .await
            .unwrap(),
    ));
    answers.push((
        "PUT /".into(),
        app.browser.put(app.url("/")).send().await.unwrap(),
    ));
    let csrf = app.csrf().await;
    answers.push((
        "POST /sign-out".into(),
        app.browser
            .post(app.url("/sign-out"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap(),
    ));
    let mut statuses = BTreeSet::new();
    for (what, res) in answers {
        statuses.insert(res.status().as_u16());
        assert_security_headers(&what, res.headers());
        let is_html = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
        let body = res.text().await.unwrap();
        if is_html {
            let found = inline_code(&body);
            assert!(found.is_empty(), "{what}: inline code {found:?}");
        }
    }
    // The sample covers successes, redirects, client errors and refusals.
    for s in [200, 302, 303, 400, 401, 403, 404, 405] {
        assert!(statuses.contains(&s), "no {s} among {statuses:?}");
    }
}

/// A2.1, A2.2, A2.4, A2.7: login CSRF, a replayed callback and the IdP's
/// `error=access_denied` make no token request (a redeemed code presented
/// again would count as an `invalid_grant` at the IdP), show a friendly 4xx
/// page with `no-store` and `no-referrer`, and create no session.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn refused_callbacks_make_no_token_request(pool: PgPool) {
    LazyLock::force(&LOGS);
    let app = spawn_app(pool).await;
    let counters = || {
        let c = app.idp.counters();
        (c.authorization_code_grants, c.invalid_grants)
    };
    let check_page = async |res: reqwest::Response, what: &str| {
        assert_eq!(res.status().as_u16(), 400, "{what}");
        assert!(res.headers().get("location").is_none(), "{what}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{what}");
        assert_eq!(res.headers()["referrer-policy"], "no-referrer", "{what}");
        let html = res.text().await.unwrap();
        assert!(html.contains("Sign-in failed"), "{what}: {html}");
        assert!(
            html.contains("href=\"/sign-in\""),
            "{what}: a way to try again"
        );
    };

    // A2.1: the attacker's code and state, in the victim's browser (which has
    // a sign-in of its own pending).
    let attacker = browser();
    let victim = browser();
    let auth = app.start_sign_in(&attacker, "/sign-in").await;
    app.start_sign_in(&victim, "/sign-in").await;
    let planted = logto_dev::testing::complete_sign_in(&auth, "bob", "bob-password")
        .await
        .unwrap();
    let before = counters();
    let res = victim.get(planted.as_str()).send().await.unwrap();
    check_page(res, "login CSRF").await;
    assert_eq!(counters(), before, "login CSRF: no token request");
    assert_eq!(app.logins().await, 0);

    // A2.2: the rightful browser completes; a replay makes no token request.
    let res = attacker.get(planted.as_str()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let before = counters();
    let res = attacker.get(planted.as_str()).send().await.unwrap();
    check_page(res, "replay").await;
    assert_eq!(counters(), before, "replay: no token request");
    assert_eq!(app.logins().await, 1);

    // A2.4: the user cancelled at the IdP.
    let b = browser();
    let auth = app.start_sign_in(&b, "/sign-in").await;
    let state = query_map(&auth)["state"].clone();
    let before = counters();
    let res = b
        .get(app.url(&format!(
            "/callback?error=access_denied&error_description={}&state={state}&iss={}",
            urlencode("The end-user denied the request"),
            urlencode(&app.idp.issuer())
        )))
        .send()
        .await
        .unwrap();
    check_page(res, "access_denied").await;
    assert_eq!(counters(), before, "access_denied: no token request");
    assert_eq!(app.logins().await, 1, "no session created");
    let res = b.get(app.url("/protected")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
    // Its state is spent: the same answer again is refused the same way.
    let res = b
        .get(app.url(&format!("/callback?code=x&state={state}")))
        .send()
        .await
        .unwrap();
    check_page(res, "the cancelled sign-in's state again").await;
    assert!(logs().contains("access_denied"), "the reason is logged");
}

/// A2.6: two tabs start sign-in; completed in either order, both land and
/// one session results, with no state error from the other tab.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn two_tabs_complete_in_either_order(pool: PgPool) {
    let app = spawn_app(pool).await;
    for reverse in [false, true] {
        let b = browser();
        let first = app
            .start_sign_in(&b, "/sign-in?return_to=/organizations")
            .await;
        let second = app.start_sign_in(&b, "/sign-in?return_to=/protected").await;
        let cb1 = logto_dev::testing::complete_sign_in(&first, "alice", "alice-password")
            .await
            .unwrap();
        let cb2 = logto_dev::testing::complete_sign_in(&second, "alice", "alice-password")
            .await
            .unwrap();
        let mut order = vec![(cb1, "/organizations"), (cb2, "/protected")];
        if reverse {
            order.reverse();
        }
        for (cb, target) in order {
            let res = b.get(cb.as_str()).send().await.unwrap();
            assert_redirect_to(&res, target);
        }
        let res = b.get(app.url("/protected")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "reverse = {reverse}");
    }
    assert_eq!(app.logins().await, 2, "one login per browser");
}

/// Every access and refresh token value the portal holds right now
/// (decrypted from the database), opaque ones included.
async fn held_tokens(app: &TestApp) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, _, rt) in stored_tokens(app).await {
        out.extend(rt);
    }
    let rows: Vec<(Uuid, String, Vec<u8>)> =
        sqlx::query_as("SELECT login_id, audience, token FROM access_tokens")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    for (login, audience, sealed) in rows {
        let aad = format!("access_tokens:{login}:{audience}");
        let plain = app.state.cipher.decrypt(&sealed, aad.as_bytes()).unwrap();
        let v: Value = serde_json::from_slice(&plain).unwrap();
        let token = v["token"]
            .as_str()
            .unwrap_or_else(|| panic!("an access-token row without a token: {v}"));
        out.push(token.to_owned());
    }
    out
}

/// A2.8: over the HTTP transcript of a whole session — sign-in, every page
/// (with refreshes), sign-out — no cookie, header or body carries an access or
/// refresh token, and no cookie or body carries any JWT.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn no_access_or_refresh_token_ever_reaches_the_browser(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut transcript: Vec<(String, String, String)> = Vec::new(); // (what, headers, body)
    let mut held: BTreeSet<String> = BTreeSet::new();
    async fn record(
        transcript: &mut Vec<(String, String, String)>,
        what: String,
        res: reqwest::Response,
    ) -> (u16, HeaderMap) {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let body = res.text().await.unwrap();
        transcript.push((what, text, body));
        (status, headers)
    }
    let b = &app.browser;
    let (_, h) = record(
        &mut transcript,
        "GET /sign-in".into(),
        b.get(app.url("/sign-in?return_to=/protected"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let auth = Url::parse(h["location"].to_str().unwrap()).unwrap();
    let callback = logto_dev::testing::complete_sign_in(&auth, "alice", "alice-password")
        .await
        .unwrap();
    let (status, _) = record(
        &mut transcript,
        "GET /callback".into(),
        b.get(callback.as_str()).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 302);
    held.extend(held_tokens(&app).await);
    for path in [
        "/protected",
        "/",
        "/protected/userinfo",
        "/protected/resource",
        "/organizations",
        "/t/acme/",
        "/api/me",
        "/t/acme/",
    ] {
        let (status, _) = record(
            &mut transcript,
            format!("GET {path}"),
            b.get(app.url(path)).send().await.unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{path}");
        held.extend(held_tokens(&app).await);
    }
    let refreshes = app.idp.counters().refresh_token_grants;
    assert!(refreshes >= 1, "the run includes refreshes");
    let csrf = extract_csrf(&transcript.last().unwrap().2);
    let (status, _) = record(
        &mut transcript,
        "POST /sign-out".into(),
        b.post(app.url("/sign-out"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 303);
    record(
        &mut transcript,
        "GET / after sign-out".into(),
        b.get(app.url("/")).send().await.unwrap(),
    )
    .await;

    assert!(held.len() >= 4, "tokens collected: {}", held.len());
    for token in &held {
        assert!(token.len() >= 20);
        for (what, headers, body) in &transcript {
            assert!(
                !headers.contains(token.as_str()),
                "a token in the headers of {what}"
            );
            assert!(
                !body.contains(token.as_str()),
                "a token in the body of {what}"
            );
        }
    }
    for (what, headers, body) in &transcript {
        for line in headers.lines().filter(|l| l.starts_with("set-cookie:")) {
            assert!(!holds_a_jwt(line), "a JWT in a cookie of {what}: {line}");
        }
        assert!(!holds_a_jwt(body), "a JWT in the body of {what}");
    }
}

/// Whether `text` holds something shaped like a JWT: `eyJ…` (a base64url
/// JSON header), a dot, a segment, a dot. A bare `eyJ` also turns up in
/// random base64 (an encrypted cookie, one run in a few thousand).
fn holds_a_jwt(text: &str) -> bool {
    let b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices("eyJ").any(|(at, _)| {
        let mut parts = text[at..].splitn(3, '.');
        let (Some(header), Some(payload), Some(_)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        header.chars().all(b64url) && !payload.is_empty() && payload.chars().all(b64url)
    })
}

#[test]
fn jwt_shapes_are_told_from_random_base64() {
    assert!(holds_a_jwt("x eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJhIn0.c2ln y"));
    assert!(!holds_a_jwt(
        "portal-session=+1U62p8JseyJ7VKVkezVugF7TmLoVAdQ13TpESc1YAf%2F; HttpOnly"
    ));
    assert!(!holds_a_jwt("eyJ alone. and. dots"));
}

/// A4.6: the RP-initiated logout redirect carries `id_token_hint` = the
/// session's latest (refreshed) ID token, `post_logout_redirect_uri` byte for
/// byte, `client_id` and a fresh `state`; the login row is gone when the
/// redirect arrives.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_logout_redirect_is_exact_and_the_login_is_gone_first(pool: PgPool) {
    let app = spawn_app(pool).await;
    let expected_uri = app.state.settings.post_logout_redirect_uri();
    assert_eq!(expected_uri, format!("{}/", app.address));
    let mut states = BTreeSet::new();
    for round in 0..2 {
        let b = browser();
        app.sign_in_as_in(&b, "alice", "/").await;
        let first_id = stored_tokens(&app).await.remove(0).1;
        // A refresh brings a newer ID token; the hint must be that one (marked,
        // so it differs even when issued within the same second).
        let idp = app.idp.clone();
        app.idp.forge_next_id_token(move |mut c| {
            c["refreshed"] = json!(true);
            idp.sign_jwt(&json!({}), &c).unwrap()
        });
        let res = b.get(app.url("/t/acme/")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let latest_id = stored_tokens(&app).await.remove(0).1;
        assert_ne!(first_id, latest_id, "the refresh replaced the ID token");
        let html = b
            .get(app.url("/protected"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let res = b
            .post(app.url("/sign-out"))
            .form(&[("csrf", extract_csrf(&html).as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303, "round {round}");
        assert_eq!(app.logins().await, 0, "deleted before the redirect");
        let end = Url::parse(&location(&res)).unwrap();
        assert_eq!(
            format!("{}{}", end.origin().ascii_serialization(), end.path()),
            format!("{}/session/end", app.idp.issuer())
        );
        let pairs: Vec<(String, String)> = end.query_pairs().into_owned().collect();
        let one = |name: &str| {
            let v: Vec<&String> = pairs
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v)
                .collect();
            assert_eq!(v.len(), 1, "{name} once: {end}");
            v[0].clone()
        };
        assert_eq!(one("id_token_hint"), latest_id);
        assert_eq!(
            one("post_logout_redirect_uri"),
            expected_uri,
            "byte for byte"
        );
        // ... and encoded so that nothing can be smuggled next to it.
        assert!(end.query().unwrap().contains(&format!(
            "post_logout_redirect_uri={}",
            urlencode(&expected_uri)
        )));
        assert_eq!(one("client_id"), "portal-demo");
        let state = one("state");
        assert!(state.len() >= 22, "≥ 128 bits: {state}");
        assert!(states.insert(state), "a fresh state every time");
    }
}

/// A4.7: the post-logout landing page, whatever `state`, `return_to` or
/// `redirect` it is given, answers 200 "signed out" (the sign-in button),
/// never redirects anywhere and never re-creates a session.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_post_logout_landing_page_is_inert(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let res = app.sign_out().await;
    assert_eq!(res.status().as_u16(), 303);
    let end = Url::parse(&location(&res)).unwrap();
    let state = query_map(&end)["state"].clone();
    let landing = Url::parse(&query_map(&end)["post_logout_redirect_uri"]).unwrap();
    assert_eq!(landing.as_str(), format!("{}/", app.address));
    let sessions_before: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let queries = [
        format!("state={state}"),
        "state=wrong".to_owned(),
        String::new(),
        format!(
            "state={state}&return_to={}",
            urlencode("https://evil.example/")
        ),
        format!("redirect={}", urlencode("//evil.example")),
        format!(
            "return_to=%2Fprotected&redirect_uri={}",
            urlencode("https://evil.example")
        ),
        format!(
            "post_logout_redirect_uri={}",
            urlencode("https://evil.example/")
        ),
        format!("state={}", "s".repeat(5000)),
        "next=javascript:alert(1)&url=https://evil.example".to_owned(),
    ];
    // Both the browser that signed out (its old cookie, if any) and a stranger.
    let stranger = browser();
    for q in &queries {
        for (who, b) in [
            ("signed-out browser", &app.browser),
            ("stranger", &stranger),
        ] {
            let url = if q.is_empty() {
                landing.to_string()
            } else {
                format!("{landing}?{q}")
            };
            let res = b.get(&url).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 200, "{who} {q}");
            assert!(res.headers().get("location").is_none(), "{who} {q}");
            assert!(
                res.headers().get("set-cookie").is_none(),
                "{who} {q}: no session is created"
            );
            let html = res.text().await.unwrap();
            assert!(html.contains("id=\"sign-in\""), "{who} {q}: signed out");
            assert!(!html.contains("evil.example"), "{who} {q}");
        }
    }
    assert_eq!(app.logins().await, 0);
    let sessions_after: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(sessions_after <= sessions_before, "no session row created");
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
}

async fn status(b: &reqwest::Client, base: &str, path: &str) -> u16 {
    b.get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls until every `(browser, expected status)` holds on both instances,
/// for at most one second.
async fn within_a_second(bases: [&str; 2], expect: &[(&reqwest::Client, u16, &str)]) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let mut wrong = Vec::new();
        for (b, want, who) in expect {
            for base in bases {
                let got = status(b, base, "/protected").await;
                if got != *want {
                    wrong.push(format!("{who} on {base}: {got} (want {want})"));
                }
            }
        }
        if wrong.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{wrong:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Issue 7 item 2, A4.1: logto-dev sends a logout token for one `sid`: that
/// login ends on both instances, alice's other login (another `sid`) and bob
/// stay. A `sub`-only token then ends every login of alice, on both, and
/// nobody else's.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn backchannel_logout_by_sid_or_sub_ends_logins_on_both_instances(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (other, _) = spawn_portal(pool, &app.idp, &[]).await;
    let alice = app.sub_of("alice");
    let sids = async || -> Vec<String> {
        sqlx::query_scalar("SELECT logto_sid FROM logins WHERE user_sub = $1 ORDER BY created_at")
            .bind(&alice)
            .fetch_all(&app.pool)
            .await
            .unwrap()
    };
    let laptop = browser();
    app.sign_in_as_in(&laptop, "alice", "/").await;
    let laptop_sid = sids().await.remove(0);
    // The phone signs in through the other instance.
    let phone = browser();
    let res = phone.get(format!("{other}/sign-in")).send().await.unwrap();
    let auth = Url::parse(&location(&res)).unwrap();
    let cb = logto_dev::testing::complete_sign_in(&auth, "alice", "alice-password")
        .await
        .unwrap();
    assert!(cb.as_str().starts_with(&other));
    assert_eq!(phone.get(cb.as_str()).send().await.unwrap().status(), 302);
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    let all = sids().await;
    assert_eq!(all.len(), 2);
    assert_ne!(all[0], all[1], "two IdP sessions, two sids");
    let bases = [app.address.as_str(), other.as_str()];
    within_a_second(
        bases,
        &[
            (&laptop, 200, "laptop"),
            (&phone, 200, "phone"),
            (&bob, 200, "bob"),
        ],
    )
    .await;

    // By sid, sent by the IdP itself.
    let delivered = app.idp.backchannel_logout_sid(&laptop_sid).await.unwrap();
    assert_eq!(delivered, 1);
    within_a_second(
        bases,
        &[
            (&laptop, 302, "laptop"),
            (&phone, 200, "phone"),
            (&bob, 200, "bob"),
        ],
    )
    .await;
    assert_eq!(sids().await, vec![all[1].clone()]);

    // By sub only (no sid), delivered to the other instance.
    let res = reqwest::Client::new()
        .post(format!("{other}/backchannel-logout"))
        .form(&[("logout_token", sign(&app, &logout_claims(&app, &alice)))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    within_a_second(
        bases,
        &[
            (&laptop, 302, "laptop"),
            (&phone, 302, "phone"),
            (&bob, 200, "bob"),
        ],
    )
    .await;
    assert_eq!(app.logins().await, 1, "bob's login only");
}

/// A4.8: `/backchannel-logout` takes at most 64 KiB of body and a limited
/// number of refused deliveries per client IP and minute (429 beyond, ending
/// nothing); valid deliveries never count; another IP is not affected.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn backchannel_logout_is_rate_limited_and_its_body_capped(pool: PgPool) {
    let app = spawn_app_with_env(pool, &[("PORTAL_BACKCHANNEL_RATE", "5")]).await;
    app.sign_in_as("alice").await;
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    let client = reqwest::Client::new();
    let padded = |token: &str, total: usize| {
        let head = format!("logout_token={token}&pad=");
        format!("{head}{}", "a".repeat(total - head.len()))
    };
    let post = |body: String| {
        client
            .post(app.url("/backchannel-logout"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let alice = sign(&app, &logout_claims(&app, &app.sub_of("alice")));
    // 1: 64 KiB + 1 byte: refused, nothing ends.
    let res = post(padded(&alice, 64 * 1024 + 1)).await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(app.logins().await, 2);
    // 2: exactly 64 KiB: accepted.
    let res = post(padded(&alice, 64 * 1024)).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(app.logins().await, 1, "alice's login ended");
    // Valid deliveries never count: ten more (replays: 200, nothing to do).
    for _ in 0..10 {
        let res = post(format!("logout_token={alice}")).await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
    }
    // Garbage, refused one by one: with the oversized one, 5 refusals.
    for _ in 0..4 {
        let res = app.post_logout_token("garbage").await;
        assert_eq!(res.status().as_u16(), 400);
    }
    // Over the limit, even with a valid token: 429, bob stays.
    let bob_token = sign(&app, &logout_claims(&app, &app.sub_of("bob")));
    let res = app.post_logout_token(&bob_token).await;
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(app.logins().await, 1, "nothing ended over the limit");
    // Another client IP has its own budget.
    let from_other_ip = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let res = from_other_ip
        .post(app.url("/backchannel-logout"))
        .form(&[("logout_token", bob_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(app.logins().await, 0);
    assert_eq!(
        bob.get(app.url("/protected"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        302
    );
}

/// Issue 7 item 5: `/sign-in` and `/callback` share one budget per client IP;
/// another IP keeps its own.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn sign_in_rate_limit_is_per_client_ip(pool: PgPool) {
    let app = spawn_app_with_env(pool, &[("PORTAL_SIGN_IN_RATE", "3")]).await;
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(IpAddr::from(ip))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let (a, b) = (from([127, 0, 0, 1]), from([127, 0, 0, 3]));
    for (who, c) in [("127.0.0.1", &a), ("127.0.0.3", &b)] {
        assert_eq!(status(c, &app.address, "/sign-in").await, 302, "{who}");
        assert_eq!(
            status(c, &app.address, "/callback?code=x&state=y").await,
            400,
            "{who}"
        );
        assert_eq!(
            status(c, &app.address, "/t/acme/sign-in").await,
            302,
            "{who}"
        );
        assert_eq!(status(c, &app.address, "/sign-in").await, 429, "{who}");
        assert_eq!(
            status(c, &app.address, "/callback?code=x&state=y").await,
            429,
            "{who}"
        );
        // Pages are not limited.
        assert_eq!(status(c, &app.address, "/").await, 200, "{who}");
    }
}

/// The names of the packages in Cargo.lock.
fn locked_package_names() -> BTreeSet<String> {
    let lock = std::fs::read_to_string(Path::new(WORKSPACE).join("Cargo.lock")).unwrap();
    let names: BTreeSet<String> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = "))
        .map(|n| n.trim_matches('"').to_owned())
        .collect();
    assert!(
        names.len() > 100,
        "Cargo.lock parsed: {} packages",
        names.len()
    );
    names
}

/// The stack is rustls-only: no OpenSSL or native-tls anywhere in the tree.
#[test]
fn the_stack_is_rustls_only() {
    let names = locked_package_names();
    assert!(names.contains("rustls"), "rustls is in the tree");
    for name in ["openssl", "openssl-sys", "native-tls"] {
        assert!(!names.contains(name), "{name}: the stack is rustls-only");
    }
}

/// A6.3: `cargo xtask test` audits Cargo.lock against the RustSec advisory
/// database; `.cargo/audit.toml` may accept RUSTSEC-2023-0071 (rsa, the Marvin
/// timing attack on private-key operations) and nothing else. Its reason
/// holds only while no production code holds an RSA private key: the
/// client and the portal verify signatures with public keys; private keys sign
/// in logto-dev (the development identity provider) and in test helpers.
#[test]
fn the_rsa_advisory_exception_holds() {
    let audit = std::fs::read_to_string(Path::new(WORKSPACE).join(".cargo/audit.toml")).unwrap();
    let ignored: Vec<&str> = audit
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .flat_map(|code| code.split('"').skip(1).step_by(2))
        .filter(|s| s.starts_with("RUSTSEC-"))
        .collect();
    assert!(
        ignored.iter().all(|id| *id == "RUSTSEC-2023-0071"),
        "the audit may accept RUSTSEC-2023-0071 alone (checklist A6.3): {ignored:?}"
    );
    if ignored.is_empty() {
        return;
    }
    assert!(
        locked_package_names().contains("rsa"),
        "rsa is gone from Cargo.lock: remove RUSTSEC-2023-0071 from .cargo/audit.toml"
    );
    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    // Production code: every crate's src/ but logto-dev's, and without the
    // client's `#[cfg(test)]` signing helpers.
    let mut sources = Vec::new();
    for krate in ["logto-client", "portal", "xtask"] {
        rust_files(
            &Path::new(WORKSPACE).join("crates").join(krate).join("src"),
            &mut sources,
        );
    }
    let lib = std::fs::read_to_string(Path::new(WORKSPACE).join("crates/logto-client/src/lib.rs"))
        .unwrap();
    assert!(
        lib.contains("#[cfg(test)]\nmod test_support;"),
        "the client's signing helpers are test-only"
    );
    sources.retain(|f| !f.ends_with("logto-client/src/test_support.rs"));
    let mut verifiers = 0;
    for file in sources {
        let text = std::fs::read_to_string(&file).unwrap();
        if !text.contains("rsa::") {
            continue;
        }
        verifiers += 1;
        for api in [
            "RsaPrivateKey",
            "SigningKey",
            "Oaep",
            "Pkcs1v15Encrypt",
            ".decrypt",
            ".sign(",
            "CoreRsaPrivateSigningKey",
        ] {
            assert!(
                !text.contains(api),
                "{}: uses {api}: an RSA private-key operation outside logto-dev and the \
                 tests, where RUSTSEC-2023-0071 applies",
                file.display()
            );
        }
    }
    assert!(
        verifiers >= 1,
        "the client verifies RSA signatures: {verifiers} files"
    );
}

/// A6.4: `Debug` of the settings, the token cipher and the token storage never
/// shows a secret; the client's own types are checked in logto-client's tests.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn debug_output_of_the_portal_never_shows_a_secret(pool: PgPool) {
    let app = spawn_app(pool).await;
    let settings = &app.state.settings;
    let secrets = [
        ("session key", SESSION_KEY_B64.to_owned()),
        ("token key", TOKEN_KEY_B64.to_owned()),
        ("app secret", crate::security::app_secret(&app)),
    ];
    let outputs = [
        ("settings", format!("{settings:?}")),
        ("cipher", format!("{:?}", app.state.cipher)),
        ("client", format!("{:?}", app.state.client)),
        ("client config", format!("{:?}", app.state.client.config())),
    ];
    for (what, out) in &outputs {
        for (name, secret) in &secrets {
            assert!(
                !out.contains(secret.as_str()),
                "the {name} in {what}: {out}"
            );
        }
    }
    assert!(outputs[0].1.contains("[redacted]"));
    // A DATABASE_URL with a password never shows either.
    let mut with_password = settings.clone();
    with_password.database_url = "postgres://portal:hunter2-secret@db/portal"
        .to_owned()
        .into();
    assert!(!format!("{with_password:?}").contains("hunter2-secret"));
}
