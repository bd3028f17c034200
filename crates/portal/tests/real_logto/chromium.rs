//! Headless Chromium on Logto's own sign-in page (its React app), then the
//! portal's pages, and sign-out through the button across Logto's
//! end-session page. Left out with the browser tier where Chromium is missing.

use std::time::Duration;

use fantoccini::Client;
use sqlx::PgPool;

use crate::driver::{Browser, Window};
use crate::portal::RealPortal;

/// How long one page may take to show what the test waits for.
const PAGE: Duration = Duration::from_secs(30);

async fn element(client: &Client, css: &str) -> fantoccini::elements::Element {
    crate::driver::element(client, css, PAGE).await
}

/// Polls until the browser's URL satisfies `done`, with a deadline.
async fn until_url(client: &Client, what: &str, done: impl Fn(&url::Url) -> bool) -> url::Url {
    let deadline = tokio::time::Instant::now() + PAGE;
    loop {
        let now = client.current_url().await.unwrap();
        if done(&now) {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: at {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn alice_signs_in_on_logtos_own_page_and_signs_out_with_the_button(pool: PgPool) {
    let portal = RealPortal::spawn(pool).await;
    let browser = Browser::start(Window::Desktop).await;
    let client = &browser.client;
    client.goto(portal.url("/").as_str()).await.unwrap();
    element(client, "#hero-sign-in, #sign-in")
        .await
        .click()
        .await
        .unwrap();
    // Logto's sign-in page: identifier and password, then the submit button.
    let identifier = element(client, "input[name='identifier']").await;
    let logto = crate::support::endpoint();
    let at = client.current_url().await.unwrap();
    assert_eq!(at.origin(), logto.origin(), "Logto serves the sign-in page");
    identifier.send_keys("alice").await.unwrap();
    element(client, "input[name='password']")
        .await
        .send_keys("alice-password")
        .await
        .unwrap();
    element(client, "button[type='submit']")
        .await
        .click()
        .await
        .unwrap();
    // Back at the portal, signed in.
    element(client, "#sign-out").await;
    let at = client.current_url().await.unwrap();
    assert_eq!(at.origin(), portal.address.origin(), "{at}");
    assert_eq!(portal.logins().await, 1);

    client.goto(portal.url("/t/acme/").as_str()).await.unwrap();
    let text = element(client, "body").await.text().await.unwrap();
    assert!(
        text.contains("Acme Corp") && text.contains("invite:members"),
        "{text}"
    );

    // Sign out with the button: Logto's end-session page submits itself and
    // sends the browser back to the portal's home.
    element(client, "#sign-out").await.click().await.unwrap();
    let home = portal.url("/");
    until_url(client, "back at the portal after sign-out", |now| {
        let mut bare = now.clone();
        bare.set_query(None);
        bare == home
    })
    .await;
    element(client, "#hero-sign-in, #sign-in").await;
    assert_eq!(portal.logins().await, 0);
    browser.close().await;
}
