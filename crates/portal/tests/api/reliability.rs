//! Several instances on one database; refresh under concurrency and faults
//! (checklist A5, issue 7); sessions ending everywhere (A3.3, A3.9, A3.10).
//!
//! "Another instance" is, where it matters, the real `portal` binary in its
//! own process: two instances in one test process would share the
//! in-process refresh lock and hide a missing cross-instance one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logto_dev::{Counters, DevIdp, Endpoint, Settings as IdpSettings};
use sqlx::PgPool;

use crate::helpers::*;
use crate::support::*;

/// logto-dev rotating the refresh token at every refresh. Real Logto gives a
/// Traditional web app the same token back until 70 % of its lifetime has
/// passed and a new one after that; the refresh tests here make every refresh
/// rotate, so that a token presented twice (a race, a lost answer) shows up in
/// the reuse counters instead of going unnoticed.
fn rotating() -> IdpSettings {
    IdpSettings {
        refresh_policy: logto_dev::RefreshPolicy::RotateEveryUse,
        ..IdpSettings::default()
    }
}

/// [`spawn_app`] on a [`rotating`] identity provider.
async fn spawn_rotating(pool: PgPool) -> TestApp {
    spawn_app_with(
        pool,
        Options {
            idp: Some(rotating()),
            ..Options::default()
        },
    )
    .await
}

/// A `TestApp` around an instance spawned with a given identity provider.
async fn app_on(pool: &PgPool, idp: DevIdp) -> TestApp {
    app_on_with(pool, idp, &[]).await
}

/// [`app_on`] with extra environment variables.
async fn app_on_with(pool: &PgPool, idp: DevIdp, env: &[(&'static str, String)]) -> TestApp {
    let (address, state) = spawn_portal(pool.clone(), &idp, env).await;
    let (browser, jar) = browser_with_jar();
    TestApp {
        address,
        pool: pool.clone(),
        idp,
        browser,
        jar,
        state,
    }
}

/// `n` concurrent GETs with `browser`, round-robin over `urls`; the statuses
/// and bodies, in order.
async fn burst(browser: &reqwest::Client, urls: &[String], n: usize) -> Vec<(String, u16, String)> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let url = urls[i % urls.len()].clone();
            let b = browser.clone();
            tokio::spawn(async move {
                let res = b.get(&url).send().await.unwrap();
                let status = res.status().as_u16();
                (url, status, res.text().await.unwrap())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// No refresh token was presented twice: the [`rotating`] dev IdP counts every
/// reuse, inside the grace period or not.
fn assert_no_reuse(before: &Counters, after: &Counters) {
    assert_eq!(
        after.refresh_reuse_events, before.refresh_reuse_events,
        "reuse"
    );
    assert_eq!(
        after.refresh_reuse_within_grace, before.refresh_reuse_within_grace,
        "reuse within the grace period"
    );
}

fn status_of<'a>(app: &'a TestApp, path: &str) -> impl std::future::Future<Output = u16> + 'a {
    let url = app.url(path);
    async move { app.browser.get(url).send().await.unwrap().status().as_u16() }
}

/// A5.1, issue 7.1: two portal processes, one user whose organization token
/// has expired, 200 concurrent requests per instance: one refresh grant.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn one_refresh_serves_a_burst_across_two_processes(pool: PgPool) {
    let app = spawn_rotating(pool.clone()).await;
    let other = ChildPortal::start(&app.idp, &database_url_of(&pool, None)).await;
    app.sign_in_as("alice").await;
    assert_eq!(status_of(&app, "/t/acme/").await, 200);
    app.change_behind_its_back(expire_cached_access_tokens(&app.pool))
        .await;
    let before = app.idp.counters();

    let urls = [app.url("/t/acme/"), format!("{}/t/acme/", other.address)];
    let results = burst(&app.browser, &urls, 400).await;
    for (url, status, body) in &results {
        assert_eq!(*status, 200, "{url}: {body}");
        // A valid organization token: its permissions are on the page.
        assert!(body.contains("invite:members"), "{url}");
    }
    let after = app.idp.counters();
    assert_eq!(
        after.refresh_token_grants - before.refresh_token_grants,
        1,
        "single-flight across processes"
    );
    assert_no_reuse(&before, &after);
    assert_eq!(after.invalid_grants, before.invalid_grants);
    assert_eq!(app.logins().await, 1, "nobody signed out");
    assert_eq!(status_of(&app, "/protected").await, 200);
    let res = app
        .browser
        .get(format!("{}/protected", other.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

/// A5.2: organization A, organization B and the default API resource, all
/// from one refresh token: one redemption per rotation, none reused.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn two_organizations_and_an_api_resource_share_one_refresh_token(pool: PgPool) {
    let app = spawn_rotating(pool.clone()).await;
    let other = ChildPortal::start(&app.idp, &database_url_of(&pool, None)).await;
    app.sign_in_as("bob").await;
    let before = app.idp.counters();
    let mut urls = Vec::new();
    for base in [app.address.clone(), other.address.clone()] {
        for path in ["/t/acme/", "/t/globex/", "/protected/resource"] {
            urls.push(format!("{base}{path}"));
        }
    }
    for (url, status, body) in burst(&app.browser, &urls, 300).await {
        assert_eq!(status, 200, "{url}: {body}");
    }
    let after = app.idp.counters();
    assert_eq!(
        after.refresh_token_grants - before.refresh_token_grants,
        3,
        "one grant per audience, each with the then-current refresh token"
    );
    assert_no_reuse(&before, &after);
    assert_eq!(after.invalid_grants, before.invalid_grants);
    assert_eq!(app.logins().await, 1);
}

/// A5.3: the IdP takes its time (10 s under XTASK_LONG) to answer the
/// refresh: still one redemption; waiters get the token or a 503 "try
/// again"; nobody is signed out.
/// Many logins refreshing at once (more than the pool has connections):
/// each refresh holds a connection and briefly needs a second one; none may
/// starve the others into a pool timeout.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn more_logins_refreshing_at_once_than_the_pool_has_connections_all_succeed(pool: PgPool) {
    std::sync::LazyLock::force(&crate::security::LOGS);
    let app = spawn_rotating(pool).await;
    let mut browsers = Vec::new();
    for _ in 0..40 {
        let b = browser();
        let res = app.sign_in_as_in(&b, "alice", "/protected").await;
        assert_redirect_to(&res, "/protected");
        browsers.push(b);
    }
    let before = app.idp.counters();
    let started = std::time::Instant::now();
    // Every login's first API-resource token needs a refresh of its own.
    let tasks: Vec<_> = browsers
        .into_iter()
        .map(|b| {
            let url = app.url("/protected/resource");
            tokio::spawn(async move {
                let res = b.get(url).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            })
        })
        .collect();
    for t in tasks {
        let (status, _) = t.await.unwrap();
        if status != 200 {
            let logs = crate::security::logs();
            let failures: Vec<&str> = logs
                .lines()
                .filter(|l| l.contains("request failed"))
                .take(3)
                .collect();
            panic!("{status} after {:?}: {failures:#?}", started.elapsed());
        }
    }
    let after = app.idp.counters();
    assert_eq!(after.refresh_token_grants, before.refresh_token_grants + 40);
    assert_no_reuse(&before, &after);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_slow_refresh_is_redeemed_once_and_signs_nobody_out(pool: PgPool) {
    let app = spawn_rotating(pool.clone()).await;
    let other = ChildPortal::start(&app.idp, &database_url_of(&pool, None)).await;
    app.sign_in_as("alice").await;
    let delay = Duration::from_secs(if long() { 10 } else { 3 });
    app.idp.delay_next(Endpoint::Token, delay);
    let before = app.idp.counters();
    let started = Instant::now();
    let urls = [app.url("/t/acme/"), format!("{}/t/acme/", other.address)];
    let results = burst(&app.browser, &urls, 100).await;
    assert!(started.elapsed() >= delay, "the delay applied");
    for (url, status, body) in &results {
        match status {
            200 => assert!(body.contains("invite:members")),
            503 => assert!(body.contains("Temporarily unavailable"), "{url}: {body}"),
            other => panic!("{url}: {other}: {body}"),
        }
    }
    let after = app.idp.counters();
    assert_eq!(after.refresh_token_grants - before.refresh_token_grants, 1);
    assert_no_reuse(&before, &after);
    assert_eq!(after.invalid_grants, before.invalid_grants);
    assert_eq!(app.logins().await, 1, "nobody signed out");
    for url in urls {
        let res = app.browser.get(&url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{url}");
    }
}

/// Follows redirects from `url` (without the IdP): the chain must leave the
/// portal for the IdP's sign-in within a few hops and never revisit a URL.
async fn assert_no_redirect_loop(app: &TestApp, path: &str) {
    let mut url = app.url(path);
    let mut seen = Vec::new();
    for _ in 0..5 {
        assert!(!seen.contains(&url), "redirect loop: {seen:?}");
        seen.push(url.clone());
        let res = app.browser.get(&url).send().await.unwrap();
        let status = res.status().as_u16();
        assert!(status < 500, "{url}: {status}");
        if !res.status().is_redirection() {
            return;
        }
        let next = location(&res);
        if next.starts_with(&app.idp.issuer()) {
            return;
        }
        url = if next.starts_with('/') {
            app.url(&next)
        } else {
            next
        };
    }
    panic!("too many redirects: {seen:?}");
}

/// A5.4: the instance holding the refresh lock is SIGKILLed after the IdP
/// rotated the refresh token and before the portal stored the new one. The
/// other instance never presents the consumed token again, never answers
/// 500 and never loops: the session ends cleanly.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_instance_killed_mid_refresh_never_causes_a_second_redemption(pool: PgPool) {
    let (idp, idp_proxy) = idp_behind_proxy(rotating()).await;
    let app = app_on(&pool, idp).await;
    let mut doomed = ChildPortal::start(&app.idp, &database_url_of(&pool, None)).await;
    app.sign_in_as("alice").await;
    // The doomed instance is warm (discovery, keys) before the refresh.
    let res = app
        .browser
        .get(format!("{}/protected", doomed.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);

    let before = app.idp.counters();
    let passed = idp_proxy.hold_after(b"grant_type=refresh_token");
    let request = {
        let b = app.browser.clone();
        let url = format!("{}/t/acme/", doomed.address);
        tokio::spawn(async move { b.get(url).send().await.map(|r| r.status().as_u16()) })
    };
    tokio::time::timeout(Duration::from_secs(20), passed)
        .await
        .expect("the refresh request reaches the IdP")
        .unwrap();
    // The IdP has rotated the refresh token; its answer is held back.
    eventually("the IdP to rotate", Duration::from_secs(10), || async {
        (app.idp.counters().refresh_token_grants == before.refresh_token_grants + 1).then_some(())
    })
    .await;
    doomed.kill().await;
    assert!(
        request.await.unwrap().is_err(),
        "the killed instance never answered"
    );

    let res = app.get("/t/acme/").await;
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Please sign in again"), "{body}");
    let after = app.idp.counters();
    assert_eq!(
        after.refresh_token_grants,
        before.refresh_token_grants + 1,
        "only the killed instance's redemption"
    );
    assert_no_reuse(&before, &after);
    assert_eq!(after.invalid_grants, before.invalid_grants);
    assert_eq!(app.logins().await, 0);
    let res = app.get("/t/acme/").await;
    assert_redirect_to(&res, "/t/acme/sign-in");
    assert_no_redirect_loop(&app, "/protected").await;
    assert_eq!(app.idp.counters(), after, "nothing more reached the IdP");
}

/// A5.4, the mark a killed holder leaves: a login whose last refresh never
/// finished ends at its next refresh, without its refresh token being
/// presented; a refresh that fails while the portal is alive leaves no mark.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_unfinished_refresh_ends_the_login_without_presenting_the_token(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let marked = || async {
        sqlx::query_scalar::<_, bool>("SELECT refresh_started_at IS NOT NULL FROM logins")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    app.idp.fail_next(Endpoint::Token, 503);
    assert_eq!(status_of(&app, "/t/acme/").await, 503);
    eventually(
        "the failed refresh to clear its mark",
        Duration::from_secs(5),
        || async { (!marked().await).then_some(()) },
    )
    .await;

    // What a holder killed after sending the refresh token leaves behind.
    sqlx::query("UPDATE logins SET refresh_started_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    let before = app.idp.counters();
    let res = app.get("/t/acme/").await;
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.text().await.unwrap().contains("Please sign in again"));
    assert_eq!(app.idp.counters(), before, "the token was not presented");
    assert_eq!(app.logins().await, 0);
    let res = app.get("/protected").await;
    assert_redirect_to(&res, "/sign-in?return_to=%2Fprotected");
}

/// A5.5, issue 7.3: the grant is revoked at the IdP. The session ends with a
/// "please sign in again" page after exactly one refresh attempt, however
/// many requests were waiting, on whichever instance.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_revoked_grant_ends_the_session_after_one_attempt(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let other = ChildPortal::start(&app.idp, &database_url_of(&pool, None)).await;
    app.sign_in_as("bob").await;
    app.idp.revoke_grants_of(&app.sub_of("bob"));
    let before = app.idp.counters();
    let urls = [app.url("/t/acme/"), format!("{}/t/globex/", other.address)];
    for (url, status, body) in burst(&app.browser, &urls, 100).await {
        match status {
            401 => assert!(body.contains("Please sign in again"), "{url}: {body}"),
            302 => {}
            other => panic!("{url}: {other}: {body}"),
        }
    }
    let after = app.idp.counters();
    assert_eq!(
        after.invalid_grants - before.invalid_grants,
        1,
        "one attempt"
    );
    assert_eq!(after.refresh_token_grants, before.refresh_token_grants);
    assert_eq!(app.logins().await, 0, "the login row is gone");
    for url in &urls {
        let res = app.browser.get(url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 302, "{url}");
    }
    let res = app.get("/protected").await;
    assert_redirect_to(&res, "/sign-in?return_to=%2Fprotected");
    assert_eq!(app.idp.counters(), after, "no storm");
}

/// A5.6: the IdP fails (503), is unreachable, or (XTASK_LONG) never answers
/// a refresh: pages needing a new token say 503, the rest keep working, the
/// login is kept, and the next request after recovery succeeds.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_idp_failing_on_refresh_degrades_and_recovers_without_sign_in(pool: PgPool) {
    let (idp, idp_proxy) = idp_behind_proxy(rotating()).await;
    let app = app_on(&pool, idp).await;
    app.sign_in_as("bob").await;
    let before = app.idp.counters();
    let degraded = |what: &'static str, path: &'static str| {
        let app = &app;
        async move {
            let res = app.get(path).await;
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            assert_eq!(status, 503, "{what}: {body}");
            assert!(body.contains("Temporarily unavailable"), "{what}");
            assert_eq!(app.logins().await, 1, "{what}: the login is kept");
            assert_eq!(status_of(app, "/protected").await, 200, "{what}");
            assert_eq!(status_of(app, "/api/me").await, 200, "{what}");
        }
    };

    // 503 from the token endpoint.
    app.idp.fail_next(Endpoint::Token, 503);
    degraded("IdP 503", "/t/acme/").await;
    assert_eq!(status_of(&app, "/t/acme/").await, 200, "recovered");

    // Unreachable.
    idp_proxy.cut();
    degraded("IdP unreachable", "/t/globex/").await;
    idp_proxy.restore().await;
    assert_eq!(status_of(&app, "/t/globex/").await, 200, "recovered");

    // Accepts the connection and never answers (the client's 30 s timeout).
    if long() {
        idp_proxy.blackhole(true);
        let started = Instant::now();
        degraded("IdP silent", "/protected/resource").await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(25) && waited < Duration::from_secs(40),
            "the client's own timeout: {waited:?}"
        );
        idp_proxy.blackhole(false);
        assert_eq!(status_of(&app, "/protected/resource").await, 200);
    }
    let after = app.idp.counters();
    assert_no_reuse(&before, &after);
    assert_eq!(after.invalid_grants, before.invalid_grants);
    assert_eq!(app.logins().await, 1);
}

/// A5.7: warm tokens serve 1,000 (10,000 under XTASK_LONG) requests on two
/// instances with no call to the IdP at all.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn warm_tokens_serve_thousands_of_requests_without_the_idp(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (other, _) = spawn_portal(pool, &app.idp, &[]).await;
    app.sign_in_as("alice").await;
    let paths = [
        "/",
        "/protected",
        "/t/acme/",
        "/protected/resource",
        "/organizations",
        "/api/me",
    ];
    let mut urls = Vec::new();
    for base in [app.address.clone(), other.clone()] {
        for p in paths {
            urls.push(format!("{base}{p}"));
        }
    }
    for url in &urls {
        let res = app.browser.get(url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{url}");
    }
    let before = app.idp.counters();
    let n = if long() { 10_000 } else { 1_000 };
    let started = Instant::now();
    let statuses: Vec<u16> = {
        use futures_util::StreamExt;
        futures_util::stream::iter(0..n)
            .map(|i| {
                let url = urls[i % urls.len()].clone();
                let b = app.browser.clone();
                async move { b.get(url).send().await.unwrap().status().as_u16() }
            })
            .buffer_unordered(8)
            .collect()
            .await
    };
    eprintln!("{n} warm requests in {:?}", started.elapsed());
    assert_eq!(statuses.len(), n);
    assert!(statuses.iter().all(|s| *s == 200));
    assert_eq!(app.idp.counters(), before, "no IdP call at all");
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    started: Instant,
    took: Duration,
    status: u16,
}

/// A5.8, issue 7.4: PostgreSQL goes away for 4 s while requests flow on two
/// instances (a proxy between the portal and PostgreSQL closes its port and
/// drops every connection, as a restart does). Requests answer 503 — never
/// 500, never a redirect to sign-in — within the pool's 3 s acquire timeout
/// (a request that started in the outage may also wait for PostgreSQL to come
/// back and succeed; the outage outlasts the timeout so that 503s are seen
/// whatever the pool does with broken connections), service is back within
/// 5 s, and no session is lost.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn postgres_going_away_under_load_loses_no_session(pool: PgPool) {
    let idp = logto_dev::serve_demo().await.unwrap();
    let pg = postgres_proxy(&pool).await;
    let via_proxy = database_url_of(&pool, Some(pg.port()));
    let (a, state) = spawn_portal_via(&idp, &via_proxy, &[]).await;
    let (b, _) = spawn_portal_via(&idp, &via_proxy, &[]).await;
    let (browser, jar) = browser_with_jar();
    let app = TestApp {
        address: a.clone(),
        pool: pool.clone(),
        idp,
        browser,
        jar,
        state,
    };
    let users = ["alice", "bob", "carol", "dave"];
    let mut browsers = Vec::new();
    for u in users {
        let (br, jar) = browser_with_jar();
        app.sign_in_as_in(&br, u, "/protected").await;
        browsers.push((br, jar));
    }
    let cookies_of = |jar: &reqwest::cookie::Jar| {
        use reqwest::cookie::CookieStore;
        jar.cookies(&url::Url::parse(&a).unwrap())
            .map(|h| h.to_str().unwrap().to_owned())
    };
    let cookies_before: Vec<_> = browsers.iter().map(|(_, j)| cookies_of(j)).collect();
    let logins_before = app.logins().await;
    assert_eq!(logins_before, 4);

    let stop = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Vec<(usize, Sample)>>> = Arc::default();
    let mut loops = Vec::new();
    for (i, (br, _)) in browsers.iter().enumerate() {
        for (j, base) in [&a, &b].into_iter().enumerate() {
            let (br, url) = (br.clone(), format!("{base}/protected"));
            let (stop, samples) = (Arc::clone(&stop), Arc::clone(&samples));
            loops.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let status = match br.get(&url).send().await {
                        Ok(r) => r.status().as_u16(),
                        Err(_) => 0,
                    };
                    let s = Sample {
                        started,
                        took: started.elapsed(),
                        status,
                    };
                    samples.lock().unwrap().push((i * 2 + j, s));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
    }
    let n_loops = loops.len();
    // Healthy, then the outage (its length is the test's parameter), then back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cut_at = Instant::now();
    pg.cut();
    tokio::time::sleep(Duration::from_secs(4)).await;
    pg.restore().await;
    let back_at = Instant::now();
    let recovered = eventually(
        "every client to be served again",
        Duration::from_secs(10),
        || {
            let samples = Arc::clone(&samples);
            async move {
                let s = samples.lock().unwrap();
                let firsts: Vec<Instant> = (0..n_loops)
                    .filter_map(|l| {
                        s.iter()
                            .filter(|(i, x)| *i == l && x.started >= back_at && x.status == 200)
                            .map(|(_, x)| x.started + x.took)
                            .min()
                    })
                    .collect();
                (firsts.len() == n_loops).then(|| firsts.into_iter().max().unwrap())
            }
        },
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    for l in loops {
        l.await.unwrap();
    }
    let samples = samples.lock().unwrap().clone();
    let recovery = recovered.duration_since(back_at);
    let during: Vec<&Sample> = samples
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.started >= cut_at && s.started < back_at)
        .collect();
    let slowest = during.iter().map(|s| s.took).max().unwrap_or_default();
    let unavailable = during.iter().filter(|s| s.status == 503).count();
    eprintln!(
        "{} requests; {} during the outage ({unavailable} answered 503, slowest {slowest:?}); \
         recovered {recovery:?} after PostgreSQL was back",
        samples.len(),
        during.len()
    );
    for (_, s) in &samples {
        assert!(
            matches!(s.status, 200 | 503),
            "only 200 or 503, never a 500 or a redirect to sign-in: {s:?}"
        );
    }
    assert!(unavailable > 0, "the outage was seen");
    assert!(
        slowest <= Duration::from_millis(3500),
        "requests fail fast during the outage: {slowest:?}"
    );
    assert!(
        recovery < Duration::from_secs(5),
        "recovery took {recovery:?}"
    );
    assert_eq!(app.logins().await, logins_before, "no session lost");
    for ((br, jar), before) in browsers.iter().zip(cookies_before) {
        assert_eq!(cookies_of(jar), before, "the same cookie");
        for base in [&a, &b] {
            let res = br.get(format!("{base}/protected")).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 200, "{base}");
        }
    }
    let res = reqwest::get(format!("{a}/readyz")).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

/// A5.9: the rotated refresh token is stored before anything else happens:
/// after a portal restart (a new process) and after PostgreSQL went away and
/// came back, the rotated-out token is never presented again.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn rotated_out_refresh_tokens_are_never_sent_again_after_restarts(pool: PgPool) {
    let app = spawn_rotating(pool.clone()).await;
    let pg = postgres_proxy(&pool).await;
    let mut instance = ChildPortal::start(&app.idp, &database_url_of(&pool, Some(pg.port()))).await;
    app.sign_in_as("bob").await;
    let before = app.idp.counters();
    // A restart keeps the address.
    let base = instance.address.clone();
    let at = |path: &str| format!("{base}{path}");
    let mut seen = vec![stored_refresh_tokens(&pool).await.remove(0)];
    let refresh_through = |path: String| {
        let app = &app;
        let pool = &pool;
        async move {
            let res = app.browser.get(&path).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 200, "{path}");
            stored_refresh_tokens(pool).await.remove(0)
        }
    };

    let rt = refresh_through(at("/t/acme/")).await;
    assert!(!seen.contains(&rt), "rotated");
    seen.push(rt);

    // A new process: nothing in memory, only what PostgreSQL kept.
    instance.restart().await;
    let rt = refresh_through(at("/t/globex/")).await;
    assert!(!seen.contains(&rt), "rotated");
    seen.push(rt);

    // PostgreSQL away and back: every pooled connection is gone.
    pg.cut();
    let res = app.browser.get(at("/protected")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 503);
    pg.restore().await;
    eventually(
        "the portal to reach PostgreSQL again",
        Duration::from_secs(5),
        || {
            let b = app.browser.clone();
            let url = at("/protected");
            async move { (b.get(url).send().await.ok()?.status().as_u16() == 200).then_some(()) }
        },
    )
    .await;
    let rt = refresh_through(at("/protected/resource")).await;
    assert!(!seen.contains(&rt), "rotated");

    let after = app.idp.counters();
    assert_eq!(after.refresh_token_grants - before.refresh_token_grants, 3);
    assert_no_reuse(&before, &after);
    assert_eq!(after.invalid_grants, before.invalid_grants);
    let _ = instance.log();
}

/// A3.9 and A3.3: signed in via A, the cookie works on B; signed out via B
/// (the cookie is cleared), the old cookie is dead on B at once, and on A
/// within a notification's delay.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_session_works_on_every_instance_and_sign_out_ends_it_everywhere(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let other = ChildPortal::start(&app.idp, &database_url_of(&pool, None)).await;
    app.sign_in_as("bob").await;
    let cookie = app.session_cookie().unwrap();
    let res = app
        .browser
        .get(format!("{}/protected", other.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let csrf = extract_csrf(&res.text().await.unwrap());
    let res = app
        .browser
        .post(format!("{}/sign-out", other.address))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let cleared = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portal-session="))
        .expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // A hears of it within a notification's delay (its copy of the
    // session and login is dropped then); B, which ended it, at once.
    let replay = app.browser_with_session(&cookie);
    let res = crate::support::eventually(
        "the old cookie to be dead on A",
        Duration::from_secs(30),
        || async {
            let res = replay.get(app.url("/protected")).send().await.unwrap();
            (res.status().as_u16() == 302).then_some(res)
        },
    )
    .await;
    assert_redirect_to(&res, "/sign-in?return_to=%2Fprotected");
    let res = replay
        .get(format!("{}/protected", other.address))
        .send()
        .await
        .unwrap();
    assert_redirect_to(&res, "/sign-in?return_to=%2Fprotected");
    assert_eq!(app.logins().await, 0);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn idle_and_absolute_timeouts_are_enforced_server_side(pool: PgPool) {
    let app = spawn_app_with_env(pool, &[("PORTAL_IDLE_TIMEOUT", "2")]).await;
    app.sign_in_as("bob").await;
    // Idle: pretend the last request was 10 s ago.
    // Changed behind the instance's back: it hears of it within a
    // notification's delay (its copy of the login is dropped then).
    sqlx::query("UPDATE logins SET last_seen_at = now() - interval '10 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    signed_out_within_a_notification(&app).await;
    assert_eq!(app.logins().await, 0);

    // Absolute: activity does not extend past expires_at.
    app.sign_in_as("bob").await;
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
    sqlx::query("UPDATE logins SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    signed_out_within_a_notification(&app).await;
    assert_eq!(app.logins().await, 0);
}

/// Polls `/protected` until it redirects to the sign-in (a notification's
/// delay, generously).
async fn signed_out_within_a_notification(app: &crate::helpers::TestApp) {
    crate::support::eventually(
        "the page to be signed out",
        Duration::from_secs(30),
        || async { (app.get("/protected").await.status().as_u16() == 302).then_some(()) },
    )
    .await;
}

/// A3.10: the operator's `portal sessions revoke --user` ends every session
/// of that user, on every instance, and no one else's.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_operator_can_end_every_session_of_a_user(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (other, _) = spawn_portal(pool.clone(), &app.idp, &[]).await;
    app.sign_in_as("alice").await;
    let second = browser();
    app.sign_in_as_in(&second, "alice", "/").await;
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    assert_eq!(app.logins().await, 3);

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["sessions", "revoke", "--user", &app.sub_of("alice")])
        .env_clear()
        .env("DATABASE_URL", database_url_of(&pool, None))
        .current_dir(std::env::temp_dir())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ended 2 session(s)"),
        "{out:?}"
    );
    assert_eq!(app.logins().await, 1);
    // Every instance hears of it within a notification's delay.
    for (b, base) in [
        (&app.browser, &app.address),
        (&second, &app.address),
        (&app.browser, &other),
        (&second, &other),
    ] {
        let res = crate::support::eventually(
            "alice's sessions to end",
            Duration::from_secs(30),
            || async {
                let res = b.get(format!("{base}/protected")).send().await.unwrap();
                (res.status().as_u16() == 302).then_some(res)
            },
        )
        .await;
        assert_redirect_to(&res, "/sign-in?return_to=%2Fprotected");
    }
    for base in [&app.address, &other] {
        let res = bob.get(format!("{base}/protected")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{base}");
    }
}

/// PostgreSQL really stopped (`pg_ctl stop`) while a signed-in browser keeps
/// asking: every request gets a 503 page, and after the first, at once
/// (the breaker, not the pool's 3 s acquire timeout); started again, the
/// portal serves within seconds, and the browser is still signed in. The
/// cluster is the test's own.
#[tokio::test]
async fn postgres_stopped_and_restarted_fails_fast_then_serves_the_same_session() {
    let cluster = PgCluster::create();
    cluster.start();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&cluster.url())
        .await
        .unwrap();
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let res = app.get("/protected").await;
    assert_eq!(res.status(), 200);
    // A script's organization token, for the bearer API.
    let (client, storage) = tokens_for(&app, "alice").await;
    let bearer = client
        .get_organization_token(&storage, "org-acme")
        .await
        .unwrap();

    cluster.stop();
    // The listener's connection is gone with the server: once the portal
    // notices, it stops answering from its copy and asks PostgreSQL.
    eventually(
        "the portal to notice that it hears nothing",
        Duration::from_secs(30),
        || async { (!app.state.local_cache.is_hearing()).then_some(()) },
    )
    .await;
    // The first request meets the outage (and may wait for the pool).
    let res = app.get("/protected").await;
    assert_eq!(res.status(), 503);
    for i in 0..20 {
        let started = Instant::now();
        let res = app.get("/protected").await;
        let took = started.elapsed();
        assert_unavailable_page(res, &format!("request {i} during the outage")).await;
        assert!(
            took < Duration::from_secs(1),
            "request {i} failed fast: {took:?} (the pool's acquire timeout is 3 s)"
        );
    }
    // What needs no database still answers: health, and the bearer API
    // (tokens are checked against the JWKS, not the database).
    assert_eq!(app.get("/healthz").await.status(), 200);
    let res = app
        .get_with_bearer("/api/orgs/org-acme/whoami", bearer.secret())
        .await;
    assert_eq!(res.status(), 200, "the bearer API during the outage");
    // The back-channel receiver needs the database: it fails fast too.
    let started = Instant::now();
    let res = app.post_logout_token("not-a-token").await;
    assert_eq!(res.status(), 503, "the logout receiver during the outage");
    assert!(started.elapsed() < Duration::from_secs(1));

    cluster.start();
    let body = eventually(
        "the portal to serve again",
        Duration::from_secs(15),
        || async {
            let res = app.get("/protected").await;
            if res.status() == 200 {
                Some(res.text().await.unwrap())
            } else {
                None
            }
        },
    )
    .await;
    assert!(body.contains("alice"), "still signed in as alice");
}

/// A breaker tripped while PostgreSQL answers (a false alarm) closes again
/// after one probe.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_false_alarm_closes_the_database_breaker_at_once(pool: PgPool) {
    let breaker = portal::infra::breaker::DbBreaker::new();
    assert!(!breaker.is_open());
    breaker.trip(&pool);
    assert!(breaker.is_open(), "open at once: requests fail fast");
    eventually(
        "the probe to close the breaker",
        Duration::from_secs(5),
        || async { (!breaker.is_open()).then_some(()) },
    )
    .await;
}

/// `LOGTO_HTTP_TIMEOUT` bounds every request to the IdP: a userinfo call the
/// IdP holds for 10 s ends after 1 s with the 503 page, the session intact.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_slow_idp_is_given_up_on_after_logto_http_timeout(pool: PgPool) {
    let app = spawn_app_with_env(pool, &[("LOGTO_HTTP_TIMEOUT", "1")]).await;
    app.sign_in_as("alice").await;
    app.idp
        .delay_next(Endpoint::UserInfo, Duration::from_secs(10));
    let res = app.get("/protected/userinfo").await;
    assert_unavailable_page(res, "userinfo held past the timeout").await;
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
}

/// Issue 16.3: a stale login (its last check backdated past the 60 s
/// interval), 200 concurrent requests over two processes: one refresh grant
/// checks it for all of them. Then, its grant revoked and its check stale
/// again, one `invalid_grant` ends it for all of them.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn one_recheck_serves_a_burst_across_two_processes(pool: PgPool) {
    let every = [("PORTAL_SESSION_REVALIDATE", "60".to_owned())];
    let app = spawn_app_with(
        pool.clone(),
        Options {
            env: every.to_vec(),
            ..Options::default()
        },
    )
    .await;
    let other = ChildPortal::start_with(
        &app.idp,
        &database_url_of(&pool, None),
        &[("PORTAL_SESSION_REVALIDATE", "60")],
    )
    .await;
    app.sign_in_as("alice").await;
    let urls = [
        app.url("/protected"),
        format!("{}/protected", other.address),
    ];

    let heard = other.notifications_heard().await;
    app.change_behind_its_back(backdate_checks(&app.pool, 120))
        .await;
    other.wait_heard_more_than(heard).await;
    let before = app.idp.counters();
    for (url, status, body) in burst(&app.browser, &urls, 200).await {
        assert_eq!(status, 200, "{url}: {body}");
    }
    let after = app.idp.counters();
    assert_eq!(
        after.refresh_token_grants - before.refresh_token_grants,
        1,
        "one check for the burst"
    );
    assert_no_reuse(&before, &after);
    assert_eq!(after.invalid_grants, before.invalid_grants);
    // Checked now: the next pages make no call.
    for (url, status, _) in burst(&app.browser, &urls, 20).await {
        assert_eq!(status, 200, "{url}");
    }
    assert_eq!(app.idp.counters(), after, "fresh: no call");

    app.idp.revoke_grants_of(&app.sub_of("alice"));
    let heard = other.notifications_heard().await;
    app.change_behind_its_back(backdate_checks(&app.pool, 120))
        .await;
    other.wait_heard_more_than(heard).await;
    for (url, status, body) in burst(&app.browser, &urls, 200).await {
        match status {
            401 => assert!(body.contains("Please sign in again"), "{url}: {body}"),
            302 => {}
            other => panic!("{url}: {other}: {body}"),
        }
    }
    let ended = app.idp.counters();
    assert_eq!(
        ended.invalid_grants - after.invalid_grants,
        1,
        "one attempt"
    );
    assert_eq!(ended.refresh_token_grants, after.refresh_token_grants);
    assert_eq!(app.logins().await, 0, "the login row is gone");
    for url in &urls {
        let res = app.browser.get(url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 302, "{url}");
    }
}

/// Issue 16.3: an identity provider that cannot answer the check (a 503, or
/// unreachable) signs nobody out: the page is served, the login kept, and
/// the check is tried again one interval later, not on every request.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_idp_that_cannot_answer_the_recheck_signs_nobody_out(pool: PgPool) {
    let (idp, idp_proxy) = idp_behind_proxy(IdpSettings::default()).await;
    let app = app_on_with(
        &pool,
        idp,
        &[("PORTAL_SESSION_REVALIDATE", "60".to_owned())],
    )
    .await;
    app.sign_in_as("bob").await;
    let failed = || app.state.client.stats().refreshes_failed;

    // A 503 from the token endpoint.
    app.change_behind_its_back(backdate_checks(&app.pool, 120))
        .await;
    let (before, failed_before) = (app.idp.counters(), failed());
    app.idp.fail_next(Endpoint::Token, 503);
    assert_eq!(status_of(&app, "/protected").await, 200);
    assert_eq!(failed() - failed_before, 1, "the check was tried");
    assert_eq!(app.logins().await, 1, "the login is kept");
    // Tried again in an interval, not at the next request.
    assert_eq!(status_of(&app, "/protected").await, 200);
    assert_eq!(failed() - failed_before, 1);
    assert_eq!(app.idp.counters(), before);

    // Unreachable.
    idp_proxy.cut();
    app.change_behind_its_back(backdate_checks(&app.pool, 120))
        .await;
    assert_eq!(status_of(&app, "/protected").await, 200);
    assert_eq!(status_of(&app, "/api/me").await, 200);
    assert_eq!(failed() - failed_before, 2, "tried once");
    assert_eq!(app.logins().await, 1, "the login is kept");
    idp_proxy.restore().await;

    // Back: the next check goes through.
    app.change_behind_its_back(backdate_checks(&app.pool, 120))
        .await;
    assert_eq!(status_of(&app, "/protected").await, 200);
    let after = app.idp.counters();
    assert_eq!(after.refresh_token_grants - before.refresh_token_grants, 1);
    assert_eq!(after.invalid_grants, before.invalid_grants);
}
