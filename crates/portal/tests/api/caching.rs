//! The caching layer (`portal::storage::caching`): signed-in pages served
//! from memory while the change notifications are heard, and every way of
//! ending a login still taking effect on every instance within the
//! notification's delay, a lost listener included. Two instances share each
//! test's database; every wait polls with a deadline.

use std::time::Duration;

use portal::state::AppState;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{assert_redirect_to, spawn_app, spawn_app_with_env, spawn_portal};
use crate::support::{database_url_of, eventually, postgres_proxy, spawn_portal_via};

/// A notification's delay, generously (a loaded machine).
const HEAR_WITHIN: Duration = Duration::from_secs(30);

async fn hearing(state: &AppState) {
    eventually(
        "the change notifications to be heard",
        HEAR_WITHIN,
        || async { state.local_cache.is_hearing().then_some(()) },
    )
    .await;
}

async fn status(browser: &reqwest::Client, url: &str) -> u16 {
    let res = tokio::time::timeout(Duration::from_secs(10), browser.get(url).send())
        .await
        .expect("an answer within 10 s")
        .unwrap();
    res.status().as_u16()
}

async fn only_login(pool: &PgPool) -> Uuid {
    sqlx::query_scalar("SELECT id FROM logins")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// With PostgreSQL's connections open but silent (everything the portal
/// sends is swallowed), a signed-in page and a tenant page seen before are
/// still served: they need no round trip.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_signed_in_page_needs_no_round_trip_while_changes_are_heard(pool: PgPool) {
    let first = spawn_app(pool.clone()).await;
    let proxy = postgres_proxy(&pool).await;
    let (base, state) =
        spawn_portal_via(&first.idp, &database_url_of(&pool, Some(proxy.port())), &[]).await;
    hearing(&state).await;
    first.sign_in_as("alice").await;
    for path in ["/protected", "/t/acme/", "/protected", "/t/acme/"] {
        assert_eq!(
            status(&first.browser, &format!("{base}{path}")).await,
            200,
            "{path}"
        );
    }
    proxy.blackhole(true);
    for path in ["/protected", "/t/acme/", "/api/me"] {
        assert_eq!(
            status(&first.browser, &format!("{base}{path}")).await,
            200,
            "{path} without PostgreSQL"
        );
    }
    // Cut: the queries swallowed meanwhile fail, and the pools can close.
    proxy.cut();
    state.close_database().await;
}

/// Signed out on one instance, the session is dead on the other one within
/// the notification's delay, although that one served it from memory.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn sign_out_on_one_instance_takes_effect_on_the_other(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (other, other_state) = spawn_portal(pool, &app.idp, &[]).await;
    hearing(&app.state).await;
    hearing(&other_state).await;
    app.sign_in_as("bob").await;
    let cookie = app.session_cookie().unwrap();
    let replay = app.browser_with_session(&cookie);
    let page = format!("{other}/protected");
    for _ in 0..2 {
        assert_eq!(status(&replay, &page).await, 200);
    }
    let login = only_login(&app.pool).await;
    assert!(other_state.local_cache.login(login).is_some(), "kept");

    assert_eq!(app.sign_out().await.status().as_u16(), 303);
    eventually(
        "the sign-out to reach the other instance",
        HEAR_WITHIN,
        || async { (status(&replay, &page).await == 302).then_some(()) },
    )
    .await;
    let res = replay.get(&page).send().await.unwrap();
    assert_redirect_to(&res, "/sign-in?return_to=%2Fprotected");
}

/// The idle timeout still ends a login served from memory: once it has
/// passed (by PostgreSQL's clock, the written-behind touches included),
/// the next page is signed out and the row is gone.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_idle_timeout_still_signs_out(pool: PgPool) {
    let app = spawn_app_with_env(pool, &[("PORTAL_IDLE_TIMEOUT", "2")]).await;
    hearing(&app.state).await;
    app.sign_in_as("bob").await;
    for _ in 0..3 {
        assert_eq!(app.get("/protected").await.status().as_u16(), 200);
    }
    eventually("two idle seconds to pass", HEAR_WITHIN, || async {
        let idle: bool = sqlx::query_scalar(
            "SELECT bool_and(last_seen_at < now() - interval '2.5 seconds') FROM logins",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        idle.then_some(())
    })
    .await;
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
    assert_eq!(app.logins().await, 0);
}

/// The listener's connection killed: the instance stops answering from
/// memory at once, so a sign-out elsewhere is honoured on its next page;
/// once it hears again, its copy starts empty and fills again.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_lost_listener_sends_every_read_to_postgres(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (other, other_state) = spawn_portal(pool.clone(), &app.idp, &[]).await;
    hearing(&other_state).await;
    app.sign_in_as("alice").await;
    let cookie = app.session_cookie().unwrap();
    let replay = app.browser_with_session(&cookie);
    let page = format!("{other}/protected");
    assert_eq!(status(&replay, &page).await, 200);
    let login = only_login(&pool).await;
    assert!(other_state.local_cache.login(login).is_some(), "kept");

    let pid = other_state.local_cache.listener_pid().unwrap();
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(killed);
    eventually("the loss to be noticed", HEAR_WITHIN, || async {
        (!other_state.local_cache.is_hearing()).then_some(())
    })
    .await;
    assert!(
        other_state.local_cache.login(login).is_none(),
        "deaf: nothing"
    );

    // Ended behind the instance's back, while it may still be deaf: if it
    // is, it reads PostgreSQL; if it already hears again, its copy started
    // empty. Either way the very next page is signed out.
    portal::storage::logins::delete(&pool, login).await.unwrap();
    assert_eq!(status(&replay, &page).await, 302);

    eventually("the listener to be back", HEAR_WITHIN, || async {
        other_state
            .local_cache
            .listener_pid()
            .filter(|p| *p != pid)
            .map(drop)
    })
    .await;
    app.sign_in_as("alice").await;
    let login = only_login(&pool).await;
    assert_eq!(
        status(&app.browser, &format!("{other}/protected")).await,
        200
    );
    assert!(other_state.local_cache.login(login).is_some(), "kept again");
}

/// A login served from memory still has its `last_seen_at` written, behind
/// the request, in a batch.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn last_seen_is_written_behind(pool: PgPool) {
    let app = spawn_app(pool).await;
    hearing(&app.state).await;
    app.sign_in_as("carol").await;
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
    // As if the last request were ten minutes ago (within the idle timeout):
    // the change is announced, and the next page reads the row again.
    sqlx::query("UPDATE logins SET last_seen_at = now() - interval '10 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    eventually("the page to record its request", HEAR_WITHIN, || async {
        assert_eq!(app.get("/protected").await.status().as_u16(), 200);
        let recent: bool =
            sqlx::query_scalar("SELECT last_seen_at > now() - interval '1 minute' FROM logins")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        recent.then_some(())
    })
    .await;
}
