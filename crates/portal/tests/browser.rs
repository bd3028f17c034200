//! Browser end-to-end tests: a real headless Chromium, driven through a
//! `chromedriver` child process, signs in to an in-process portal against an
//! in-process logto-dev, visits tenant spaces and signs out; and, in two
//! browsers at once, an admin invites a newcomer who signs up through the
//! link, joins, and sees the role the admin then gives them.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `apt-get
//! install chromium chromium-driver`; `cargo xtask test` installs them when it
//! runs as root). Every test here is `#[ignore]`d, so a plain `cargo test`
//! reports them as ignored instead of failing for want of Chromium;
//! `cargo xtask test` runs them (nextest `--run-ignored all`) where Chromium
//! is installed and otherwise counts them as skipped and says so in its last
//! line. By hand: `cargo nextest run -p portal --test browser --run-ignored all`.
//! With `UPDATE_SCREENSHOTS=1` they also write the README's screenshots to
//! `crates/portal/docs/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser {
    pub mod driver;
    pub mod portal;
}

use std::time::Duration;

use fantoccini::{Client, Locator};
use sqlx::PgPool;

use browser::driver::{Browser, Window};
use browser::portal::{TestPortal, page_status, save_screenshot};

/// How long one page may take to show what the test waits for.
const PAGE: Duration = Duration::from_secs(20);

/// Waits for `css` on the current page.
async fn element(client: &Client, css: &str) -> fantoccini::elements::Element {
    browser::driver::element(client, css, PAGE).await
}

/// Waits until the browser is back at the post-logout `url`, carrying the
/// `state` the portal sent with RP-Initiated Logout (the IdP hands it back).
async fn wait_for_post_logout_url(client: &Client, expected: &str) {
    let deadline = tokio::time::Instant::now() + PAGE;
    loop {
        let now = client.current_url().await.unwrap();
        let mut bare = now.clone();
        bare.set_query(None);
        if bare.as_str() == expected {
            let keys: Vec<String> = now.query_pairs().map(|(k, _)| k.into_owned()).collect();
            assert_eq!(keys, ["state"], "{now}");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected the browser at {expected}?state=…, it is at {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the browser is at `url` (path and query compared as given).
async fn wait_for_url(client: &Client, expected: &str) {
    let deadline = tokio::time::Instant::now() + PAGE;
    loop {
        let now = client.current_url().await.unwrap();
        if now.as_str() == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected the browser at {expected}, it is at {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The visible text of the whole page.
async fn body_text(client: &Client) -> String {
    element(client, "body").await.text().await.unwrap()
}

/// From a signed-out page: the Sign in button, logto-dev's form, back at the portal.
async fn sign_in_through_the_form(client: &Client, portal: &TestPortal, username: &str) {
    element(client, "#hero-sign-in, #sign-in")
        .await
        .click()
        .await
        .unwrap();
    // logto-dev's sign-in screen (crates/logto-dev/src/auth.rs `sign_in_form`).
    let form = element(client, "form[action='/interaction/submit']").await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(portal.idp.endpoint().as_str()),
        "the sign-in form is served by the identity provider"
    );
    let user = form
        .find(Locator::Css("input[name='username']"))
        .await
        .unwrap();
    user.clear().await.unwrap();
    user.send_keys(username).await.unwrap();
    form.find(Locator::Css("input[name='password']"))
        .await
        .unwrap()
        .send_keys(&format!("{username}-password"))
        .await
        .unwrap();
    form.find(Locator::Css("button[type='submit']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Back at the portal, signed in.
    element(client, "#sign-out").await;
    let at = client.current_url().await.unwrap();
    assert!(
        at.as_str().starts_with(&portal.address),
        "signed in, the browser is back at the portal: {at}"
    );
}

/// The whole journey of an organization admin: sign in through the identity
/// provider's form, claims, user info, her tenant, a refused tenant, sign out.
#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs Chromium: run through cargo xtask test"]
async fn alice_signs_in_sees_her_tenant_is_refused_another_and_signs_out(pool: PgPool) {
    let browser = Browser::start(Window::Desktop).await;
    let portal = TestPortal::spawn(pool.clone()).await;
    let client = &browser.client;

    client.goto(&portal.url("/")).await.unwrap();
    element(client, "#hero-sign-in").await;
    sign_in_through_the_form(client, &portal, "alice").await;

    // Home, signed in: her name, her organizations, the spaces.
    client.goto(&portal.url("/")).await.unwrap();
    let name = element(client, "[data-testid='signed-in-as']").await;
    assert_eq!(name.text().await.unwrap(), "Alice Example");
    assert!(body_text(client).await.contains("Acme"));
    save_screenshot(client, "home.png").await;

    client.goto(&portal.url("/protected")).await.unwrap();
    wait_for_url(client, &portal.url("/protected")).await;
    element(client, "#sign-out").await;
    let text = body_text(client).await;
    assert!(text.contains("Alice Example"), "{text}");
    assert!(text.contains(&portal.sub_of("alice")), "{text}");

    client
        .goto(&portal.url("/protected/userinfo"))
        .await
        .unwrap();
    wait_for_url(client, &portal.url("/protected/userinfo")).await;
    element(client, "#sign-out").await;
    let text = body_text(client).await;
    assert!(text.contains("alice@acme.test"), "{text}");

    // Her tenant: roles and permissions from the organization token.
    client.goto(&portal.url("/t/acme/")).await.unwrap();
    let title = element(client, "#tenant-name").await;
    assert_eq!(page_status(client).await, 200);
    assert_eq!(title.text().await.unwrap(), "Acme Corp");
    let roles = element(client, "#tenant-roles").await.text().await.unwrap();
    assert!(roles.contains("admin"), "roles: {roles}");
    let permissions = element(client, "#tenant-permissions")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        permissions.contains("invite:members"),
        "permissions: {permissions}"
    );
    save_screenshot(client, "tenant.png").await;

    // Another tenant: refused, with a way to sign in there with another account.
    client.goto(&portal.url("/t/globex/")).await.unwrap();
    let refused = element(client, "#error").await.text().await.unwrap();
    assert_eq!(page_status(client).await, 403);
    assert!(refused.contains("Globex"), "{refused}");
    let link = element(client, "#tenant-sign-in").await;
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some("/t/globex/sign-in")
    );
    save_screenshot(client, "refused.png").await;

    // Sign out from the home page: the form POSTs with its CSRF token, the
    // identity provider ends its session and sends the browser back home.
    client.goto(&portal.url("/")).await.unwrap();
    assert_eq!(portal.logins().await, 1);
    let sessions_before = portal.session_keys().await;
    assert!(!sessions_before.is_empty(), "a signed-in session row");
    element(client, "#sign-out").await.click().await.unwrap();
    element(client, "#hero-sign-in").await;
    wait_for_post_logout_url(client, &portal.url("/")).await;
    assert!(
        client.find(Locator::Css("#sign-out")).await.is_err(),
        "signed out"
    );
    assert_eq!(portal.logins().await, 0, "the logins table is empty");
    let left = portal.remaining(&sessions_before).await;
    assert_eq!(left, 0, "the browser's signed-in session row is deleted");

    // And the browser really is signed out: a protected page sends it to sign in.
    client.goto(&portal.url("/protected")).await.unwrap();
    element(client, "form[action='/interaction/submit']").await;

    browser.close().await;
}

/// At phone width (390 px) the home page, signed out and signed in, fits the
/// screen: nothing scrolls sideways and the navigation stays reachable.
#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs Chromium: run through cargo xtask test"]
async fn the_home_page_fits_a_phone_screen(pool: PgPool) {
    let browser = Browser::start(Window::Phone).await;
    let portal = TestPortal::spawn(pool).await;
    let client = &browser.client;

    client.goto(&portal.url("/")).await.unwrap();
    element(client, "#hero-sign-in").await;
    assert_fits(client, 390).await;

    sign_in_through_the_form(client, &portal, "alice").await;
    client.goto(&portal.url("/")).await.unwrap();
    element(client, "[data-testid='signed-in-as']").await;
    assert_fits(client, 390).await;
    for css in ["#sign-out", "[data-testid='signed-in-as']", "a.tile"] {
        assert!(
            element(client, css).await.is_displayed().await.unwrap(),
            "{css} is visible at phone width"
        );
    }
    save_screenshot(client, "phone.png").await;

    browser.close().await;
}

/// The page is exactly `width` CSS pixels wide and nothing overflows it.
async fn assert_fits(client: &Client, width: u64) {
    let sizes = client
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            vec![],
        )
        .await
        .unwrap();
    let inner = sizes[0].as_u64().unwrap();
    let scroll = sizes[1].as_u64().unwrap();
    assert_eq!(inner, width, "the viewport is {width} px wide");
    assert!(
        scroll <= inner,
        "the page scrolls sideways: {scroll} px of content in {inner} px"
    );
}

/// Waits until the text of `css` reads `expected` (trimmed), finding the
/// element afresh each time: a submitted form may still be replacing the page.
async fn wait_for_text(client: &Client, css: &str, expected: &str) {
    let deadline = tokio::time::Instant::now() + PAGE;
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.ok(),
            Err(_) => None,
        };
        if text.as_deref().map(str::trim) == Some(expected) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let url = client.current_url().await.map(|u| u.to_string());
            panic!("expected `{css}` to read {expected:?}, it reads {text:?} on {url:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Organization self-service end to end, in two browsers that share no
/// cookies: Alice (Acme's admin) invites a newcomer through the members
/// page; the newcomer opens the link, is signed up by the one-time token
/// without a form, accepts and lands in Acme's space as `member`; Alice
/// makes them `admin`, and their space shows it on reload, without signing
/// in again.
#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs Chromium: run through cargo xtask test"]
async fn an_admin_invites_a_newcomer_who_signs_up_accepts_and_is_promoted(pool: PgPool) {
    const NEWCOMER: &str = "nora@acme.test";
    let portal = TestPortal::spawn(pool).await;
    let admin_browser = Browser::start(Window::Desktop).await;
    let alice = &admin_browser.client;

    // Alice signs in and invites Nora as a member through the form.
    alice.goto(&portal.url("/")).await.unwrap();
    sign_in_through_the_form(alice, &portal, "alice").await;
    alice.goto(&portal.url("/t/acme/members")).await.unwrap();
    let form = element(alice, "form#invite").await;
    assert_eq!(page_status(alice).await, 200);
    let own_row = format!("tr[data-member='{}']", portal.sub_of("alice"));
    let own = element(alice, &own_row).await.text().await.unwrap();
    assert!(own.contains("Alice Example"), "her own row: {own}");
    form.find(Locator::Css("input[name='email']"))
        .await
        .unwrap()
        .send_keys(NEWCOMER)
        .await
        .unwrap();
    form.find(Locator::Css("select[name='role']"))
        .await
        .unwrap()
        .select_by_value("member")
        .await
        .unwrap();
    element(alice, "#send-invitation")
        .await
        .click()
        .await
        .unwrap();
    let link = element(alice, "#invitation-link")
        .await
        .text()
        .await
        .unwrap();
    wait_for_url(alice, &portal.url("/t/acme/members/invite")).await;
    assert_eq!(page_status(alice).await, 200);
    let text = body_text(alice).await;
    assert!(text.contains(&format!("{NEWCOMER} is invited")), "{text}");
    assert!(text.contains("Role: member"), "{text}");
    let link = url::Url::parse(link.trim()).unwrap();
    assert!(
        link.as_str().starts_with(&portal.url("/invitations/")),
        "the invitation link is the portal's: {link}"
    );
    assert_eq!(
        portal.idp.user_id_by_email(NEWCOMER),
        None,
        "no account yet"
    );

    // Nora, in a browser of her own, opens the link signed out.
    let newcomer_browser = Browser::start(Window::Desktop).await;
    let nora = &newcomer_browser.client;
    nora.goto(link.as_str()).await.unwrap();
    let sign_in = element(nora, "#invitation-sign-in").await;
    assert_eq!(page_status(nora).await, 200);
    let text = body_text(nora).await;
    assert!(text.contains("Join Acme Corp"), "{text}");
    assert!(text.contains(NEWCOMER), "{text}");
    assert!(
        nora.find(Locator::Css("#sign-out")).await.is_err()
            && nora.find(Locator::Css("#accept-invitation")).await.is_err(),
        "signed out: no Accept button yet"
    );
    // The one-time token signs her up at logto-dev without a form and
    // sends her back to the invitation, which is accepted on return: she
    // lands in Acme's space as a member.
    let code_grants = portal.idp.counters().authorization_code_grants;
    sign_in.click().await.unwrap();
    element(nora, "#tenant-name").await;
    wait_for_url(nora, &portal.url("/t/acme/")).await;
    assert_eq!(page_status(nora).await, 200);
    wait_for_text(nora, "#tenant-name", "Acme Corp").await;
    wait_for_text(nora, "#tenant-roles", "member").await;
    assert_eq!(
        portal.idp.counters().authorization_code_grants,
        code_grants + 1,
        "one sign-in"
    );
    let nora_id = portal
        .idp
        .user_id_by_email(NEWCOMER)
        .expect("signed up with the invited address");
    let permissions = element(nora, "#tenant-permissions")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        permissions.contains("read:members") && !permissions.contains("manage:members"),
        "permissions: {permissions}"
    );
    assert_eq!(
        portal.idp.organization_roles_of(&nora_id, "org-acme"),
        Some(vec!["member".to_owned()])
    );

    // Alice sees her among the members and makes her admin instead.
    alice.goto(&portal.url("/t/acme/members")).await.unwrap();
    let row = format!("tr[data-member='{nora_id}']");
    let nora_row = element(alice, &row).await;
    let row_text = nora_row.text().await.unwrap();
    assert!(row_text.contains(NEWCOMER), "{row_text}");
    wait_for_text(alice, &format!("{row} .member-roles"), "member").await;
    let member = nora_row
        .find(Locator::Css("input[name='role'][value='member']"))
        .await
        .unwrap();
    let admin = nora_row
        .find(Locator::Css("input[name='role'][value='admin']"))
        .await
        .unwrap();
    assert!(member.is_selected().await.unwrap(), "member is checked");
    assert!(!admin.is_selected().await.unwrap(), "admin is not checked");
    member.click().await.unwrap();
    admin.click().await.unwrap();
    assert!(!member.is_selected().await.unwrap());
    assert!(admin.is_selected().await.unwrap());
    nora_row
        .find(Locator::Css("button[data-action='set-roles']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Back on the members page (303), her row says admin.
    wait_for_text(alice, &format!("{row} .member-roles"), "admin").await;
    wait_for_url(alice, &portal.url("/t/acme/members")).await;
    assert_eq!(page_status(alice).await, 200);
    assert_eq!(
        portal.idp.organization_roles_of(&nora_id, "org-acme"),
        Some(vec!["admin".to_owned()])
    );

    // Nora reloads her space: admin, with the admin's permissions, and no
    // new sign-in.
    let code_grants = portal.idp.counters().authorization_code_grants;
    nora.refresh().await.unwrap();
    wait_for_text(nora, "#tenant-roles", "admin").await;
    wait_for_url(nora, &portal.url("/t/acme/")).await;
    assert_eq!(page_status(nora).await, 200);
    element(nora, "#sign-out").await;
    let permissions = element(nora, "#tenant-permissions")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        permissions.contains("manage:members") && permissions.contains("invite:members"),
        "permissions: {permissions}"
    );
    assert_eq!(
        portal.idp.counters().authorization_code_grants,
        code_grants,
        "no new sign-in"
    );

    newcomer_browser.close().await;
    admin_browser.close().await;
}
