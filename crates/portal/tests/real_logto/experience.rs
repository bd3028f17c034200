//! Signing in on real Logto without a browser, through the Experience API
//! that Logto's own sign-in page calls (`/api/experience…`). The browser
//! test drives the page itself; every other test signs in this way.

use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

/// Follows an authorization URL through Logto's sign-in with `username` and
/// `password` and returns the first URL outside Logto it redirects to (the
/// application's callback, carrying `code`, `state` and `iss`). `browser`
/// must keep cookies and not follow redirects.
pub async fn sign_in(
    browser: &reqwest::Client,
    authorization_url: &Url,
    username: &str,
    password: &str,
) -> Url {
    let logto = authorization_url.origin();
    let base = authorization_url.clone();
    // To the sign-in page: this sets the interaction cookies.
    let page = match follow(browser, authorization_url.clone(), &logto).await {
        Leaving::Out(url) => return url, // a Logto session already signed in
        Leaving::Page(url) => url,
    };
    assert!(
        page.path().starts_with("/sign-in") || page.path().starts_with("/register"),
        "expected Logto's sign-in page, got {page}"
    );
    let api = |path: &str| base.join(path).unwrap();
    let res = browser
        .put(api("/api/experience"))
        .json(&json!({ "interactionEvent": "SignIn" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "{}",
        res.text().await.unwrap()
    );
    let res = browser
        .post(api("/api/experience/verification/password"))
        .json(&json!({
            "identifier": { "type": "username", "value": username },
            "password": password,
        }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "password verification: {body}");
    let verification_id = body["verificationId"].as_str().unwrap().to_owned();
    let res = browser
        .post(api("/api/experience/identification"))
        .json(&json!({ "verificationId": verification_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "{}",
        res.text().await.unwrap()
    );
    let res = browser
        .post(api("/api/experience/submit"))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "submit: {body}");
    let next = Url::parse(body["redirectTo"].as_str().unwrap()).unwrap();
    match follow(browser, next, &logto).await {
        Leaving::Out(url) => url,
        Leaving::Page(url) => panic!("Logto stopped at {url} after the sign-in"),
    }
}

enum Leaving {
    /// A redirect out of Logto.
    Out(Url),
    /// A page of Logto's (a 200).
    Page(Url),
}

/// Follows Logto's redirects from `url` (a consent step of a first-party
/// application is granted by Logto on its own) until a page answers or a
/// redirect leaves Logto's origin.
async fn follow(browser: &reqwest::Client, mut url: Url, logto: &url::Origin) -> Leaving {
    for _ in 0..20 {
        let res = browser.get(url.clone()).send().await.unwrap();
        if res.status().is_redirection() {
            let location = res.headers()["location"].to_str().unwrap().to_owned();
            let next = url.join(&location).unwrap();
            if &next.origin() != logto {
                return Leaving::Out(next);
            }
            url = next;
            continue;
        }
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{url}: {}",
            res.text().await.unwrap()
        );
        return Leaving::Page(url);
    }
    panic!("more than 20 redirects from {url}");
}
