//! Resource, organization and organization-resource tokens.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn code_exchange_with_resource_gives_a_jwt_access_token() {
    let idp = spawn_default().await;
    let (req, callback) = sign_in(&idp, "bob", &[]).await;
    let res = exchange(&idp, &req, &callback, &[("resource", API)]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let at = res.body["access_token"].as_str().unwrap();
    let (header, _) = decode(at);
    assert_eq!(header["typ"], "at+jwt");
    let claims = verify(&idp, at, API).await;
    // bob: report-reader globally, member (read:reports) in both organizations.
    assert_eq!(claims["scope"], "read:reports");
    assert_eq!(res.body["scope"], "read:reports");
    assert_eq!(claims["client_id"], CLIENT_ID);
    assert_eq!(claims["sub"], json!(sub_of(&idp, "bob")));
    for key in ["jti", "iat", "exp", "iss"] {
        assert!(claims.get(key).is_some(), "{key}");
    }
    assert!(claims.get("organization_id").is_none());
}

#[tokio::test]
async fn refresh_with_resource_and_organization_tokens() {
    let idp = spawn_default().await;
    let (_, body) = login(&idp, "alice").await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();

    let res = refresh(&idp, &rt, &[("resource", API)]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let claims = verify(&idp, res.body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(claims["scope"], "read:reports write:reports");
    let rt = res.body["refresh_token"].as_str().unwrap().to_owned();

    let res = refresh(&idp, &rt, &[("organization_id", "org-acme")]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let aud = "urn:logto:organization:org-acme";
    let claims = verify(&idp, res.body["access_token"].as_str().unwrap(), aud).await;
    assert_eq!(
        claims["scope"],
        "read:members invite:members manage:billing"
    );
    assert_eq!(res.body["scope"], claims["scope"]);
    assert!(claims.get("organization_id").is_none());
    let rt = res.body["refresh_token"].as_str().unwrap().to_owned();

    let res = refresh(
        &idp,
        &rt,
        &[("organization_id", "org-acme"), ("resource", API)],
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let claims = verify(&idp, res.body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(claims["organization_id"], "org-acme");
    assert_eq!(claims["scope"], "read:reports write:reports");
    let rt = res.body["refresh_token"].as_str().unwrap().to_owned();

    // Narrowing with `scope`.
    let res = refresh(
        &idp,
        &rt,
        &[("organization_id", "org-acme"), ("scope", "read:members")],
    )
    .await;
    assert_eq!(res.body["scope"], "read:members");
    assert_eq!(idp.counters().refresh_token_grants, 4);
}

#[tokio::test]
async fn organization_token_for_a_non_member_is_access_denied() {
    let idp = spawn_default().await;
    let (_, body) = login(&idp, "carol").await;
    let res = refresh(
        &idp,
        body["refresh_token"].as_str().unwrap(),
        &[("organization_id", "org-acme")],
    )
    .await;
    assert_eq!(res.status, 403);
    assert_eq!(res.body["error"], "access_denied");
    assert_eq!(
        res.body["error_description"],
        "user is not a member of the organization"
    );
    assert_eq!(res.body["code"], "oidc.access_denied");
}

#[tokio::test]
async fn organization_token_needs_the_organizations_scope() {
    let idp = spawn_default().await;
    let (req, callback) =
        sign_in(&idp, "alice", &[("scope", "openid offline_access profile")]).await;
    let res = exchange(&idp, &req, &callback, &[]).await;
    let res = refresh(
        &idp,
        res.body["refresh_token"].as_str().unwrap(),
        &[("organization_id", "org-acme")],
    )
    .await;
    assert_eq!(res.status, 403);
    assert_eq!(res.body["error"], "insufficient_scope");
    assert_eq!(res.body["scope"], "urn:logto:scope:organizations");
}

#[tokio::test]
async fn claims_can_be_kept_out_of_the_id_token() {
    let idp = spawn(logto_dev::Settings {
        claims_in_id_token: false,
        ..logto_dev::Settings::default()
    })
    .await;
    let (_, body) = login(&idp, "alice").await;
    let (_, claims) = decode(body["id_token"].as_str().unwrap());
    assert!(claims.get("organizations").is_none());
    assert!(claims.get("roles").is_none());
    let me: serde_json::Value = http()
        .get(idp.endpoint().join("oidc/me").unwrap())
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["organizations"], json!(["org-acme"]));
    assert_eq!(me["organization_roles"], json!(["org-acme:admin"]));
    assert_eq!(me["roles"], json!(["report-writer"]));
}
