//! Several instances on one database; timeouts; operator revocation.

use crate::helpers::*;
use sqlx::PgPool;

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn one_refresh_serves_a_burst_across_two_instances(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (other, _) = spawn_portal(pool, &app.idp, &[]).await;
    app.sign_in_as("alice").await;
    let before = app.idp.counters();

    // 200 concurrent requests, split across both instances, all needing the
    // (not yet cached) organization token.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let url = if i % 2 == 0 {
            app.url("/t/acme/")
        } else {
            format!("{other}/t/acme/")
        };
        let b = app.browser.clone();
        tasks.push(tokio::spawn(async move {
            b.get(url).send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let after = app.idp.counters();
    assert_eq!(
        after.refresh_token_grants - before.refresh_token_grants,
        1,
        "single-flight"
    );
    assert_eq!(after.refresh_reuse_events, before.refresh_reuse_events);
    assert_eq!(after.invalid_grants, before.invalid_grants);
    assert_eq!(
        app.get("/protected").await.status().as_u16(),
        200,
        "still signed in"
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_session_works_on_every_instance_and_sign_out_ends_it_everywhere(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (other, _) = spawn_portal(pool, &app.idp, &[]).await;
    app.sign_in_as("bob").await;
    let cookie = app.session_cookie().unwrap();
    let res = app
        .browser
        .get(format!("{other}/protected"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap();
    let csrf = extract_csrf(&html);
    let res = app
        .browser
        .post(format!("{other}/sign-out"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let replay = app.browser_with_session(&cookie);
    let res = replay.get(app.url("/protected")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn idle_and_absolute_timeouts_are_enforced_server_side(pool: PgPool) {
    let app = spawn_app_with(
        pool,
        Options {
            env: vec![("PORTAL_IDLE_TIMEOUT", "2".to_owned())],
            ..Default::default()
        },
    )
    .await;
    app.sign_in_as("bob").await;
    // Idle: pretend the last request was 10 s ago.
    sqlx::query("UPDATE logins SET last_seen_at = now() - interval '10 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
    assert_eq!(app.logins().await, 0);

    // Absolute: activity does not extend past expires_at.
    app.sign_in_as("bob").await;
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
    sqlx::query("UPDATE logins SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
    assert_eq!(app.logins().await, 0);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_operator_can_end_every_session_of_a_user(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let second = browser();
    app.sign_in_as_in(&second, "alice", "/").await;
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    assert_eq!(app.logins().await, 3);
    let ended = portal::logins::delete_by_sub(&app.pool, &app.idp.issuer(), &app.sub_of("alice"))
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
    assert_eq!(
        second
            .get(app.url("/protected"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        302
    );
    assert_eq!(
        bob.get(app.url("/protected"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}
