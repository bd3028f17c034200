//! The portal on real Logto: sign-in, the claims pages, tenant spaces by real
//! membership, sign-out across Logto's end-session page and back-channel
//! logout started at Logto.

use reqwest::StatusCode;
use sqlx::PgPool;
use url::Url;

use crate::portal::RealPortal;
use crate::support::{browser, csrf, location, page};

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn alice_signs_in_on_real_logto_and_sees_her_pages_and_only_her_spaces(pool: PgPool) {
    let portal = RealPortal::spawn(pool).await;
    let alice = portal.signed_in("alice").await;
    assert_eq!(portal.logins().await, 1);

    let (status, html) = page(&alice, portal.url("/protected")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&portal.sub_of("alice")), "her sub: {html}");

    let (status, html) = page(&alice, portal.url("/protected/userinfo")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("enterprise"),
        "custom data from userinfo: {html}"
    );

    let (status, html) = page(&alice, portal.url("/protected/resource")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("write:reports"),
        "her API permissions: {html}"
    );

    let acme = portal.organization("org-acme");
    let globex = portal.organization("org-globex");
    let (status, html) = page(&alice, portal.url("/organizations")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&acme) && html.contains("admin"), "{html}");
    assert!(!html.contains(&globex), "{html}");

    let (status, html) = page(&alice, portal.url("/t/acme/")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Acme Corp"), "{html}");
    assert!(html.contains(">admin<"), "her role: {html}");
    for permission in ["read:members", "invite:members", "manage:billing"] {
        assert!(html.contains(permission), "permission {permission}: {html}");
    }
    assert!(!html.contains("eyJ"), "no token on the page");

    let (status, html) = page(&alice, portal.url("/t/globex/")).await;
    assert_eq!(status, 403, "not a member of Globex: {html}");
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn bob_sees_both_spaces_with_the_member_permissions_only(pool: PgPool) {
    let portal = RealPortal::spawn(pool).await;
    let bob = portal.signed_in("bob").await;
    for slug in ["acme", "globex"] {
        let (status, html) = page(&bob, portal.url(&format!("/t/{slug}/"))).await;
        assert_eq!(status, 200, "{slug}: {html}");
        assert!(html.contains(">member<"), "{slug}: {html}");
        assert!(html.contains("read:members"), "{slug}: {html}");
        assert!(!html.contains("invite:members"), "{slug}: {html}");
    }
    // Carol is in no organization: refused everywhere, her profile still shown.
    let carol = portal.signed_in("carol").await;
    assert_eq!(page(&carol, portal.url("/protected")).await.0, 200);
    for slug in ["acme", "globex"] {
        assert_eq!(
            page(&carol, portal.url(&format!("/t/{slug}/"))).await.0,
            403
        );
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn a_tenant_sign_in_names_the_organization_and_the_login_hint_to_logto(pool: PgPool) {
    let portal = RealPortal::spawn(pool).await;
    let browser = browser();
    let res = browser
        .get(portal.url("/t/acme/sign-in"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let authorization: Url = location(&res).parse().unwrap();
    let params: std::collections::HashMap<String, String> =
        authorization.query_pairs().into_owned().collect();
    assert_eq!(params["organization_id"], portal.organization("org-acme"));
    assert_eq!(params["login_hint"], "alice@acme.test");
    // Logto takes it: its sign-in page, then back to the Acme space.
    let callback =
        crate::experience::sign_in(&browser, &authorization, "alice", "alice-password").await;
    let res = browser.get(callback).send().await.unwrap();
    assert_eq!(location(&res), "/t/acme/");
    assert_eq!(page(&browser, portal.url("/t/acme/")).await.0, 200);
}

/// Follows Logto's end-session page: a 200 with a form that submits itself
/// to `/oidc/session/end/confirm`, which we submit as the page's script
/// would; returns where Logto sends the browser then.
async fn confirm_end_session(browser: &reqwest::Client, end_session: Url) -> Option<Url> {
    let res = browser.get(end_session.clone()).send().await.unwrap();
    assert_eq!(res.status(), 200, "{end_session}");
    let html = res.text().await.unwrap();
    let action_at = html.find("action=\"").expect("a form") + "action=\"".len();
    let action =
        html[action_at..action_at + html[action_at..].find('"').unwrap()].replace("&amp;", "&");
    let mut fields = Vec::new();
    let mut rest = html.as_str();
    while let Some(at) = rest.find("<input") {
        rest = &rest[at..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).map(|i| {
                let v = &tag[i + key.len()..];
                v[..v.find('"').unwrap()].replace("&amp;", "&")
            })
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            fields.push((name, value));
        }
        rest = &rest[end..];
    }
    let res = browser
        .post(end_session.join(&action).unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "confirm: {}", res.status());
    res.headers()
        .get("location")
        .map(|l| end_session.join(l.to_str().unwrap()).unwrap())
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn sign_out_crosses_logtos_end_session_page_back_to_the_portal(pool: PgPool) {
    let portal = RealPortal::spawn(pool).await;
    let alice = portal.signed_in("alice").await;
    let (_, html) = page(&alice, portal.url("/protected")).await;
    let res = alice
        .post(portal.url("/sign-out"))
        .form(&[("csrf", csrf(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let end_session: Url = location(&res).parse().unwrap();
    assert_eq!(end_session.path(), "/oidc/session/end");
    assert_eq!(portal.logins().await, 0, "the login is gone at once");
    let back = confirm_end_session(&alice, end_session).await.unwrap();
    let mut bare = back.clone();
    bare.set_query(None);
    assert_eq!(bare, portal.url("/"), "back at the portal: {back}");
    let res = alice.get(portal.url("/protected")).send().await.unwrap();
    assert!(
        res.status().is_redirection(),
        "signed out: {}",
        res.status()
    );
    assert!(location(&res).starts_with("/sign-in"));
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn ending_the_session_at_logto_ends_the_portal_login_by_back_channel(pool: PgPool) {
    let portal = RealPortal::spawn(pool).await;
    let bob = portal.signed_in("bob").await;
    assert_eq!(page(&bob, portal.url("/protected")).await.0, 200);
    // Logto's own end-session endpoint, as another application of the same
    // browser would call it: no post-logout URI, just the client.
    let mut end_session = crate::support::endpoint().join("oidc/session/end").unwrap();
    end_session
        .query_pairs_mut()
        .append_pair("client_id", &portal.app_id);
    confirm_end_session(&bob, end_session).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while portal.logins().await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Logto's back-channel logout did not end the login"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let res = bob.get(portal.url("/protected")).send().await.unwrap();
    assert!(
        res.status().is_redirection(),
        "signed out: {}",
        res.status()
    );
}
