//! Tenant routes: membership, organization tokens, refusals, per-tenant sign-in.

use std::collections::HashMap;

use crate::helpers::*;
use sqlx::PgPool;

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_member_sees_roles_and_permissions_from_the_organization_token(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let res = app.get("/t/acme/").await;
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Acme Corp"));
    assert!(html.contains(">admin<"), "role shown: {html}");
    for p in ["read:members", "invite:members", "manage:billing"] {
        assert!(html.contains(p), "permission {p}");
    }
    assert!(!html.contains("eyJ"));
    // Warm: a second visit makes no token request.
    let grants = app.idp.counters().refresh_token_grants;
    assert_eq!(app.get("/t/acme/").await.status().as_u16(), 200);
    assert_eq!(app.idp.counters().refresh_token_grants, grants);

    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("/t/acme/"));
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_non_member_gets_403_naming_the_tenant_and_an_unknown_slug_404(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let res = app.get("/t/globex/").await;
    assert_eq!(res.status().as_u16(), 403);
    let html = res.text().await.unwrap();
    assert!(html.contains("Globex"));
    assert!(
        html.contains("/t/globex/sign-in"),
        "offers the tenant's sign-in"
    );
    // The refusal page keeps the signed-in navigation (who, and sign-out).
    assert!(html.contains("id=\"sign-out\""), "{html}");
    assert!(!html.contains("id=\"sign-in\""), "{html}");
    assert!(html.contains("Alice"), "names the signed-in user: {html}");
    assert_eq!(app.get("/t/nope/").await.status().as_u16(), 404);
    assert_eq!(app.get("/t/..%2Fadmin/").await.status().as_u16(), 404);
    assert_eq!(
        app.get("/protected").await.status().as_u16(),
        200,
        "still signed in"
    );

    let carol = browser();
    app.sign_in_as_in(&carol, "carol", "/").await;
    let home = carol
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("not a member of any organization"), "{home}");
    assert_eq!(
        carol
            .get(app.url("/t/acme/"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_signed_out_visitor_is_sent_to_the_tenants_sign_in(pool: PgPool) {
    let app = spawn_app(pool).await;
    assert_redirect_to(&app.get("/t/acme/").await, "/t/acme/sign-in");
    let auth = app.start_sign_in(&app.browser, "/t/acme/sign-in").await;
    let q: HashMap<String, String> = auth.query_pairs().into_owned().collect();
    assert_eq!(q["organization_id"], "org-acme");
    assert_eq!(q["login_hint"], "alice@acme.test");
    assert!(!q.contains_key("direct_sign_in"));
    let callback = logto_dev::testing::complete_sign_in(&auth, "alice", "alice-password")
        .await
        .unwrap();
    let res = app.browser.get(callback.as_str()).send().await.unwrap();
    assert_redirect_to(&res, "/t/acme/");

    let b = browser();
    let auth = app.start_sign_in(&b, "/t/globex/sign-in").await;
    let q: HashMap<String, String> = auth.query_pairs().into_owned().collect();
    assert_eq!(q["direct_sign_in"], "sso:globex-okta");
    assert_eq!(q["organization_id"], "org-globex");
    // The dev IdP signs the seeded SSO user (dave) in after its SSO page.
    let callback = logto_dev::testing::complete_sign_in(&auth, "ignored", "ignored")
        .await
        .unwrap();
    let res = b.get(callback.as_str()).send().await.unwrap();
    assert_redirect_to(&res, "/t/globex/");
    let res = b.get(app.url("/t/globex/")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(app.get("/t/nope/sign-in").await.status().as_u16(), 404);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn membership_comes_from_userinfo_when_the_id_token_lacks_it(pool: PgPool) {
    let idp = logto_dev::Settings {
        claims_in_id_token: false,
        ..Default::default()
    };
    let app = spawn_app_with(
        pool,
        Options {
            idp: Some(idp),
            ..Default::default()
        },
    )
    .await;
    app.sign_in_as("bob").await;
    let claims = app.get("/protected").await.text().await.unwrap();
    assert!(
        !claims.contains("org-acme"),
        "the ID token has no organizations here"
    );
    assert_eq!(app.get("/t/acme/").await.status().as_u16(), 200);
    assert_eq!(app.get("/t/globex/").await.status().as_u16(), 200);
    let orgs = app.get("/organizations").await.text().await.unwrap();
    assert!(orgs.contains("org-acme") && orgs.contains("member"));
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_revoked_grant_ends_the_session_with_a_sign_in_again_page(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("bob").await;
    app.idp.revoke_grants_of(&app.sub_of("bob"));
    let res = app.get("/t/acme/").await;
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.text().await.unwrap().contains("Please sign in again"));
    assert_eq!(app.logins().await, 0);
    assert_eq!(app.get("/protected").await.status().as_u16(), 302);
}

/// Until the instance hears change notifications, tenant pages read tenants
/// and tokens from PostgreSQL; from then on, from its copy.
async fn hearing_changes(app: &TestApp) {
    let cache = app.state.local_cache.clone();
    crate::support::eventually("the change notifications to be heard", HEAR_WITHIN, || {
        let known = cache.knows_tenants();
        async move { known.then_some(()) }
    })
    .await;
}

/// Generous: a listener that fails its first test waits 1 s, then 2 s,
/// before the next one, each waiting up to 5 s.
const HEAR_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

async fn status_of(app: &TestApp, path: &str) -> u16 {
    app.get(path).await.status().as_u16()
}

/// Waits until `/t/acme/` answers `status` (the copy follows a change only
/// once its notification is heard).
async fn until_acme_answers(app: &TestApp, status: u16, what: &str) {
    crate::support::eventually(what, HEAR_WITHIN, || async {
        (status_of(app, "/t/acme/").await == status).then_some(())
    })
    .await;
}

/// Removes the tenant `acme` behind the portal's back (`portal tenants
/// remove` elsewhere) and waits until its page is gone; returns it, to be
/// added again.
async fn remove_acme(app: &TestApp, pool: &PgPool) -> portal::tenant::Tenant {
    let acme = portal::storage::tenants::find(pool, "acme")
        .await
        .unwrap()
        .unwrap();
    assert!(
        portal::storage::tenants::remove(pool, "acme")
            .await
            .unwrap()
    );
    until_acme_answers(app, 404, "the removed tenant to be gone").await;
    acme
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn tenant_pages_follow_tenant_and_token_changes_made_elsewhere(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.sign_in_as("alice").await;
    hearing_changes(&app).await;
    // The first visit fetches the organization token and stores it; a later
    // one reads it from the database and keeps it (unless the store's own
    // notification lands during that read, which voids it); from then on it
    // comes from the copy.
    assert_eq!(status_of(&app, "/t/acme/").await, 200);
    let login: uuid::Uuid = sqlx::query_scalar("SELECT id FROM logins")
        .fetch_one(&pool)
        .await
        .unwrap();
    let key = logto_client::AccessTokenKey::organization("org-acme").cache_key();
    let cache = app.state.local_cache.clone();
    crate::support::eventually("the token to be kept", HEAR_WITHIN, || async {
        assert_eq!(status_of(&app, "/t/acme/").await, 200);
        cache.access_token(login, &key).map(|_| ())
    })
    .await;
    let grants = app.idp.counters().refresh_token_grants;
    assert_eq!(status_of(&app, "/t/acme/").await, 200);
    assert_eq!(app.idp.counters().refresh_token_grants, grants);

    // Another instance drops the login's tokens: the copy must not serve
    // the dropped one; the page fetches a new token.
    sqlx::query("DELETE FROM access_tokens")
        .execute(&pool)
        .await
        .unwrap();
    crate::support::eventually("a new token for the dropped one", HEAR_WITHIN, || async {
        (status_of(&app, "/t/acme/").await == 200
            && app.idp.counters().refresh_token_grants > grants)
            .then_some(())
    })
    .await;

    // `portal tenants remove` runs elsewhere: the tenant is gone here too,
    // and back once it is added again.
    let acme = remove_acme(&app, &pool).await;
    portal::storage::tenants::upsert(&pool, &acme)
        .await
        .unwrap();
    until_acme_answers(&app, 200, "the tenant to be back").await;
    // The copy answers again once the reload is done.
    hearing_changes(&app).await;
    assert_eq!(status_of(&app, "/t/acme/").await, 200);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_lost_listener_leaves_the_copy_unused_until_it_hears_again(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.sign_in_as("alice").await;
    hearing_changes(&app).await;
    assert_eq!(status_of(&app, "/t/acme/").await, 200);

    // The listening connection dies (PostgreSQL restarted, say), and the
    // tenant is removed before the listener is back: that notification is
    // never heard, yet the page must not show the tenant.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(killed, [true], "one listening connection");
    let acme = remove_acme(&app, &pool).await;
    // The listener connects again and reloads; the copy answers again.
    hearing_changes(&app).await;
    assert_eq!(status_of(&app, "/t/acme/").await, 404);
    portal::storage::tenants::upsert(&pool, &acme)
        .await
        .unwrap();
    until_acme_answers(&app, 200, "the tenant to be back").await;
}
