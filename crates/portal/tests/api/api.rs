//! Bearer-protected API routes.

use sqlx::PgPool;

use crate::helpers::*;

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn whoami_accepts_only_an_organization_token_for_that_organization(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (client, storage) = tokens_for(&app, "bob").await;
    let acme = client
        .get_organization_token(&storage, "org-acme")
        .await
        .unwrap();
    let globex = client
        .get_organization_token(&storage, "org-globex")
        .await
        .unwrap();

    let res = app
        .get_with_bearer("/api/orgs/org-acme/whoami", acme.secret())
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["organization_id"], "org-acme");
    assert_eq!(body["sub"], app.sub_of("bob"));
    assert_eq!(body["scopes"], serde_json::json!(["read:members"]));

    // Globex's token presented to Acme's API.
    let res = app
        .get_with_bearer("/api/orgs/org-acme/whoami", globex.secret())
        .await;
    assert_eq!(res.status().as_u16(), 403);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("Bearer")
    );

    // No token at all (a plain client: no cookie either).
    let res = reqwest::get(app.url("/api/orgs/org-acme/whoami"))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    let mut forged = acme.secret().to_owned();
    forged.pop();
    forged.push('A');
    let res = app
        .get_with_bearer("/api/orgs/org-acme/whoami", &forged)
        .await;
    assert_eq!(res.status().as_u16(), 401);
    let res = app
        .get_with_bearer("/api/orgs/org-acme/whoami", "garbage")
        .await;
    assert_eq!(res.status().as_u16(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // The API resource token is not an organization token.
    let api = client
        .get_access_token(&storage, Some(&API_RESOURCE.parse().unwrap()))
        .await
        .unwrap();
    let res = app
        .get_with_bearer("/api/orgs/org-acme/whoami", api.secret())
        .await;
    assert_eq!(res.status().as_u16(), 403);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_expired_organization_token_is_refused(pool: PgPool) {
    // Real Logto fixes organization tokens at 3600 s; logto-dev can shorten them
    // for a test.
    let idp = logto_dev::Settings {
        organization_token_ttl: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let app = spawn_app_with(
        pool,
        Options {
            idp: Some(idp),
            env: vec![("PORTAL_CLOCK_SKEW", "1".to_owned())],
        },
    )
    .await;
    let (client, storage) = tokens_for(&app, "bob").await;
    let acme = client
        .get_organization_token(&storage, "org-acme")
        .await
        .unwrap();
    // exp = iat + 1 and the portal allows 1 s of skew here: poll until it is
    // refused, with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let res = app
            .get_with_bearer("/api/orgs/org-acme/whoami", acme.secret())
            .await;
        if res.status().as_u16() == 401 {
            break;
        }
        assert_eq!(res.status().as_u16(), 200);
        assert!(
            std::time::Instant::now() < deadline,
            "an expired token stayed accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_api_resource_route_checks_the_scope(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (client, storage) = tokens_for(&app, "bob").await;
    let token = client
        .get_access_token(&storage, Some(&API_RESOURCE.parse().unwrap()))
        .await
        .unwrap();
    let res = app.get_with_bearer("/api/reports", token.secret()).await;
    assert_eq!(res.status().as_u16(), 200);
    // carol has no role granting read:reports.
    let (client, storage) = tokens_for(&app, "carol").await;
    let token = client
        .get_access_token(&storage, Some(&API_RESOURCE.parse().unwrap()))
        .await
        .unwrap();
    let res = app.get_with_bearer("/api/reports", token.secret()).await;
    assert_eq!(res.status().as_u16(), 403);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
}
