//! logto-client alone against real Logto (no portal in between): sign-in,
//! claims, user info, API resource and organization tokens, sign-out; then
//! the portal's bearer API with those real tokens.

use logto_client::{
    AppSecret, InMemoryStorage, LogtoClient, LogtoConfig, ResourceIndicator, SignInOptions,
};
use reqwest::StatusCode;
use sqlx::PgPool;

use crate::portal::RealPortal;
use crate::support::browser;

/// A client for `portal`'s application, signed in as `username` through
/// Logto's sign-in (the client handles the callback itself).
async fn signed_in_client(portal: &RealPortal, username: &str) -> (LogtoClient, InMemoryStorage) {
    let resource: ResourceIndicator = portal.provisioned["api_resource"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let config = LogtoConfig::new(
        crate::support::endpoint().as_str(),
        &portal.app_id,
        Some(AppSecret::new(portal.app_secret.clone())),
    )
    .unwrap()
    .with_scopes([
        "email",
        "custom_data",
        "urn:logto:scope:organizations",
        "urn:logto:scope:organization_roles",
        "read:members",
        "invite:members",
        "read:reports",
    ])
    .with_resources([&resource])
    .unwrap();
    let client = LogtoClient::new(config).unwrap();
    let storage = InMemoryStorage::new();
    let url = client
        .sign_in(
            &storage,
            SignInOptions::new(portal.url("/callback").as_str()),
        )
        .await
        .unwrap();
    let callback = crate::experience::sign_in(
        &browser(),
        &url.as_str().parse().unwrap(),
        username,
        &format!("{username}-password"),
    )
    .await;
    client
        .handle_sign_in_callback(&storage, callback.as_str())
        .await
        .unwrap();
    (client, storage)
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn the_client_alone_signs_in_and_gets_claims_user_info_and_tokens(pool: PgPool) {
    let portal = RealPortal::spawn(pool).await;
    let (client, storage) = signed_in_client(&portal, "alice").await;
    assert!(client.is_authenticated(&storage).await.unwrap());

    let claims = client.get_id_token_claims(&storage).await.unwrap();
    assert_eq!(claims.sub, portal.sub_of("alice"));
    assert_eq!(claims.username.as_deref(), Some("alice"));
    assert_eq!(claims.aud, std::slice::from_ref(&portal.app_id));
    assert!(claims.sid.is_some(), "back-channel session required: sid");

    let info = client.fetch_user_info(&storage).await.unwrap();
    assert_eq!(info.sub, claims.sub);
    assert_eq!(info.email.as_deref(), Some("alice@acme.test"));
    assert_eq!(info.custom_data.as_ref().unwrap()["plan"], "enterprise");
    let acme = portal.organization("org-acme");
    assert!(
        info.organizations
            .as_ref()
            .unwrap()
            .iter()
            .any(|o| *o == acme),
        "{info:?}"
    );

    let resource: ResourceIndicator = portal.provisioned["api_resource"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let api = client
        .get_access_token_claims(&storage, &resource)
        .await
        .unwrap();
    assert_eq!(api.aud, [resource.as_str()]);
    let mut scopes: Vec<&str> = api.scopes().collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["read:reports"], "asked for read:reports only");

    let org = client
        .get_organization_token_claims(&storage, &acme)
        .await
        .unwrap();
    let mut permissions: Vec<&str> = org.scopes().collect();
    permissions.sort_unstable();
    assert_eq!(permissions, ["invite:members", "read:members"]);

    // A second call is served from the storage: the same token.
    let first = client
        .get_organization_token(&storage, &acme)
        .await
        .unwrap();
    let again = client
        .get_organization_token(&storage, &acme)
        .await
        .unwrap();
    assert_eq!(first.secret(), again.secret());

    // Not a member of Globex: a typed refusal, the session kept.
    let globex = portal.organization("org-globex");
    assert!(
        client
            .get_organization_token(&storage, &globex)
            .await
            .is_err()
    );
    assert!(client.is_authenticated(&storage).await.unwrap());

    let end_session = client
        .sign_out(&storage, Some(portal.url("/").as_str()))
        .await
        .unwrap();
    assert_eq!(end_session.path(), "/oidc/session/end");
    assert!(!client.is_authenticated(&storage).await.unwrap());
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn the_bearer_api_takes_real_tokens_and_refuses_the_wrong_ones(pool: PgPool) {
    let portal = RealPortal::spawn(pool).await;
    let (client, storage) = signed_in_client(&portal, "bob").await;
    let acme = portal.organization("org-acme");
    let globex = portal.organization("org-globex");
    let acme_token = client
        .get_organization_token(&storage, &acme)
        .await
        .unwrap();
    let resource: ResourceIndicator = portal.provisioned["api_resource"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let api_token = client
        .get_access_token(&storage, Some(&resource))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let get = |path: String, token: Option<String>| {
        let mut req = http.get(portal.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };

    let res = get(
        format!("/api/orgs/{acme}/whoami"),
        Some(acme_token.secret().into()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["organization_id"], acme.as_str());
    assert_eq!(body["sub"], portal.sub_of("bob"));
    assert_eq!(body["scopes"], serde_json::json!(["read:members"]));

    // Acme's token at Globex's route: the wrong organization.
    let res = get(
        format!("/api/orgs/{globex}/whoami"),
        Some(acme_token.secret().into()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // An API resource token where an organization token is wanted.
    let res = get(
        format!("/api/orgs/{acme}/whoami"),
        Some(api_token.secret().into()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // No token.
    let res = get(format!("/api/orgs/{acme}/whoami"), None).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The API resource token at the resource's own route; an organization
    // token there is the wrong kind.
    let res = get("/api/reports".into(), Some(api_token.secret().into()))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let res = get("/api/reports".into(), Some(acme_token.secret().into()))
        .await
        .unwrap();
    assert!(
        matches!(
            res.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ),
        "{}",
        res.status()
    );
}
