//! Changes made at Logto while a user is signed in to the portal: a role
//! changed and a membership removed through the Management API, an API
//! resource whose tokens live a few seconds. Each test provisions its own
//! copy of the demo data (unique names), so the shared demo stays as it is.

use std::time::Duration;

use portal::provision::{self, Provisioned};
use sqlx::PgPool;
use tokio::time::Instant;
use url::Url;

use crate::portal::{RealPortal, claim};
use crate::support::{self, browser, client, page, unique, unique_demo_seed};

/// How long a change at Logto may take to show, with a one-second
/// re-validation interval: far more than it needs.
const DEADLINE: Duration = Duration::from_secs(30);

/// A portal re-validating every second, with its own copy of the demo's
/// users and organizations (tenants `acme-{suffix}` and `globex-{suffix}`).
async fn portal_with_own_data(pool: PgPool, extra: &[(&str, &str)]) -> (RealPortal, Provisioned) {
    let suffix = unique();
    let seed = unique_demo_seed(&suffix);
    let base: Url = "http://127.0.0.1:9/".parse().unwrap();
    let provisioned = provision::provision(&client(), &seed, &[base], Some(&pool))
        .await
        .unwrap();
    let mut env = vec![("PORTAL_SESSION_REVALIDATE", "1")];
    env.extend_from_slice(extra);
    (RealPortal::spawn_with(pool, &env).await, provisioned)
}

fn user_id(p: &Provisioned, prefix: &str) -> (String, String) {
    let (name, user) = p
        .users
        .iter()
        .find(|(name, _)| name.starts_with(&format!("{prefix}_")))
        .unwrap();
    (name.clone(), user.id.clone())
}

fn tenant(p: &Provisioned, seed_id: &str) -> (String, String) {
    let (_, org) = p
        .organizations
        .iter()
        .find(|(id, _)| id.starts_with(&format!("{seed_id}-")))
        .unwrap();
    (org.id.clone(), org.slug.clone().unwrap())
}

/// Requests `url` until `done` holds for its answer; fails at the deadline.
async fn until(
    browser: &reqwest::Client,
    url: Url,
    what: &str,
    done: impl Fn(u16, &str) -> bool,
) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, html) = page(browser, url.clone()).await;
        if done(status.as_u16(), &html) {
            return html;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {status} after {DEADLINE:?}: {html}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn a_role_changed_at_logto_shows_with_its_permissions_within_the_interval(pool: PgPool) {
    let (portal, provisioned) = portal_with_own_data(pool, &[]).await;
    let (alice, alice_id) = user_id(&provisioned, "alice");
    let (acme_id, acme) = tenant(&provisioned, "org-acme");
    let browser = browser();
    portal
        .sign_in_with(&browser, "/sign-in", &alice, "alice-password")
        .await;
    let space = portal.url(&format!("/t/{acme}/"));
    let (status, html) = page(&browser, space.clone()).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(">admin<") && html.contains("invite:members"),
        "{html}"
    );

    let admin = client();
    let member_role = admin
        .list_organization_roles()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "member")
        .unwrap();
    admin
        .set_organization_member_roles(&acme_id, &alice_id, &[member_role.id])
        .await
        .unwrap();

    // The ID token (the role) and the organization token (the permissions)
    // are both renewed: never a page with one old and the other new.
    let html = until(&browser, space, "the role change", |status, html| {
        assert_eq!(status, 200, "still a member: {html}");
        let admin_role = html.contains(">admin<");
        let admin_permission = html.contains("invite:members");
        admin_role == admin_permission && !admin_role
    })
    .await;
    assert!(
        html.contains(">member<") && html.contains("read:members"),
        "{html}"
    );
    let (_, html) = page(&browser, portal.url("/organizations")).await;
    assert!(html.contains(&acme_id) && html.contains("member"), "{html}");
    assert!(!html.contains("admin"), "{html}");
    support::clean_up(&admin, &provisioned).await;
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn a_membership_removed_at_logto_closes_that_space_only(pool: PgPool) {
    let (portal, provisioned) = portal_with_own_data(pool, &[]).await;
    let (bob, bob_id) = user_id(&provisioned, "bob");
    let (acme_id, acme) = tenant(&provisioned, "org-acme");
    let (globex_id, globex) = tenant(&provisioned, "org-globex");
    let browser = browser();
    portal
        .sign_in_with(&browser, "/sign-in", &bob, "bob-password")
        .await;
    let space = portal.url(&format!("/t/{acme}/"));
    assert_eq!(page(&browser, space.clone()).await.0, 200);

    let admin = client();
    admin
        .remove_organization_member(&acme_id, &bob_id)
        .await
        .unwrap();

    let html = until(&browser, space, "the removal", |status, html| {
        assert!(status == 200 || status == 403, "{status}: {html}");
        status == 403
    })
    .await;
    assert!(html.contains("not a member"), "{html}");
    assert!(!html.contains("eyJ"), "no token on the error page");
    // Still signed in, still in Globex.
    let (status, html) = page(&browser, portal.url(&format!("/t/{globex}/"))).await;
    assert_eq!(status, 200, "{html}");
    let (status, html) = page(&browser, portal.url("/organizations")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&globex_id) && !html.contains(&acme_id),
        "{html}"
    );
    assert_eq!(portal.logins().await, 1);
    support::clean_up(&admin, &provisioned).await;
}

/// The value of `name` in the portal's Prometheus text, 0 when absent.
async fn metric(portal: &RealPortal, name: &str) -> u64 {
    let text = reqwest::get(portal.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

const REFRESHES: &str = "portal_token_endpoint_calls_total{grant=\"refresh_token\",outcome=\"ok\"}";

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn a_four_second_api_token_is_refreshed_transparently_and_once_for_a_burst(pool: PgPool) {
    // An API resource of its own whose tokens Logto makes live 4 s.
    let admin = client();
    let indicator = format!("https://{}.short-lived.test", unique());
    let resource = admin
        .create_resource("Short-lived API", &indicator, Some(4))
        .await
        .unwrap();
    let portal = RealPortal::spawn_with(
        pool,
        &[
            ("LOGTO_RESOURCES", indicator.as_str()),
            ("PORTAL_API_RESOURCE", indicator.as_str()),
        ],
    )
    .await;
    let alice = portal.signed_in("alice").await;
    let url = portal.url("/protected/resource");
    let (status, html) = page(&alice, url.clone()).await;
    assert_eq!(status, 200, "{html}");
    let first = claim(&html, "jti").expect("a jti claim").to_owned();
    let (iat, exp): (i64, i64) = (
        claim(&html, "iat").unwrap().parse().unwrap(),
        claim(&html, "exp").unwrap().parse().unwrap(),
    );
    assert_eq!(exp - iat, 4, "Logto's lifetime for this resource");

    // Used for about half its life, then replaced: every page answers.
    until(&alice, url.clone(), "a new token", |status, html| {
        assert_eq!(status, 200, "{html}");
        claim(html, "jti").is_some_and(|jti| jti != first)
    })
    .await;

    // Eight pages at once needing a new token (the cached one dropped):
    // one refresh-token grant serves them all.
    let before = metric(&portal, REFRESHES).await;
    sqlx::query("DELETE FROM access_tokens")
        .execute(&portal.pool)
        .await
        .unwrap();
    let pages: Vec<_> = (0..8)
        .map(|_| {
            let (alice, url) = (alice.clone(), url.clone());
            tokio::spawn(async move { page(&alice, url).await })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for p in pages {
        let (status, html) = p.await.unwrap();
        assert_eq!(status, 200, "{html}");
        tokens.insert(claim(&html, "jti").unwrap().to_owned());
    }
    let after = metric(&portal, REFRESHES).await;
    // A page that came after the token's half life may have needed one more.
    assert!(
        after == before + 1 || (after == before + 2 && tokens.len() == 2),
        "{} token requests for 8 pages ({} tokens)",
        after - before,
        tokens.len()
    );
    let _ = admin.delete_resource(&resource.id).await;
}

/// Ends every session `user_id` has at Logto through the Management API.
async fn delete_sessions_at_logto(user_id: &str, revoke_grants: bool) {
    let admin = client();
    let sessions = admin.user_sessions(user_id).await.unwrap();
    assert!(!sessions.is_empty(), "signed in, so Logto has a session");
    for s in sessions {
        admin
            .delete_user_session(user_id, &s.payload.uid, revoke_grants)
            .await
            .unwrap();
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn a_session_deleted_at_logto_ends_the_login_at_its_next_check_if_its_grant_went(
    pool: PgPool,
) {
    let (portal, provisioned) = portal_with_own_data(pool, &[]).await;
    let protected = portal.url("/protected");

    // Logto's default: the session goes, the grant (offline_access) stays.
    // Checks made after that succeed, and the login lives on.
    let (bob, bob_id) = user_id(&provisioned, "bob");
    let bob_browser = browser();
    portal
        .sign_in_with(&bob_browser, "/sign-in", &bob, "bob-password")
        .await;
    delete_sessions_at_logto(&bob_id, false).await;
    let checks = metric(&portal, REFRESHES).await;
    let deadline = Instant::now() + DEADLINE;
    while metric(&portal, REFRESHES).await < checks + 2 {
        let (status, html) = page(&bob_browser, protected.clone()).await;
        assert_eq!(status, 200, "the grant is alive: {html}");
        assert!(Instant::now() < deadline, "no check within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(page(&bob_browser, protected.clone()).await.0, 200);
    assert_eq!(portal.logins().await, 1);

    // With the session's grants revoked, the next check ends the login:
    // "please sign in again", and the login is gone on every instance.
    let (alice, alice_id) = user_id(&provisioned, "alice");
    let alice_browser = browser();
    portal
        .sign_in_with(&alice_browser, "/sign-in", &alice, "alice-password")
        .await;
    assert_eq!(portal.logins().await, 2);
    delete_sessions_at_logto(&alice_id, true).await;
    let html = until(
        &alice_browser,
        protected.clone(),
        "the check",
        |status, html| {
            assert!(status == 200 || status == 401, "{status}: {html}");
            status == 401
        },
    )
    .await;
    assert!(html.contains("Please sign in again"), "{html}");
    assert_eq!(portal.logins().await, 1, "bob's login only");
    let res = alice_browser.get(protected.clone()).send().await.unwrap();
    assert!(
        res.status().is_redirection(),
        "signed out: {}",
        res.status()
    );
    assert_eq!(page(&bob_browser, protected).await.0, 200);
    support::clean_up(&client(), &provisioned).await;
}
