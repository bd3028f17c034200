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
    // Sorted by name (Logto's order follows its internal scope ids: never rely on it).
    assert_eq!(
        claims["scope"],
        "invite:members manage:billing read:members"
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

#[tokio::test]
async fn organization_token_without_the_organizations_resource_has_no_permissions() {
    let idp = spawn_default().await;
    // The organizations scope and the permissions are asked for, but not the resource.
    let (req, callback) = sign_in(&idp, "alice", &[("resource", API)]).await;
    let res = exchange(&idp, &req, &callback, &[]).await;
    let rt = res.body["refresh_token"].as_str().unwrap().to_owned();
    let org = refresh(&idp, &rt, &[("organization_id", "org-acme")]).await;
    assert_eq!(org.status, 200, "{}", org.body);
    assert_eq!(org.body["scope"], "", "the response says an empty scope");
    let aud = "urn:logto:organization:org-acme";
    let claims = verify(&idp, org.body["access_token"].as_str().unwrap(), aud).await;
    assert!(claims.get("scope").is_none(), "no scope claim: {claims}");
    // The permissions were never granted, so asking for one is an invalid scope.
    let narrowed = refresh(
        &idp,
        &rt,
        &[("organization_id", "org-acme"), ("scope", "read:members")],
    )
    .await;
    assert_eq!(narrowed.status, 400, "{}", narrowed.body);
    assert_eq!(narrowed.body["error"], "invalid_scope");
    assert_eq!(
        narrowed.body["error_description"],
        "refresh token missing requested scope"
    );
    assert_eq!(narrowed.body["scope"], "read:members");
    // API-resource permissions still come through the requested resource.
    let api = refresh(&idp, &rt, &[("resource", API)]).await;
    assert_eq!(api.body["scope"], "read:reports write:reports");
}

#[tokio::test]
async fn a_permission_the_user_lacks_is_not_granted_at_sign_in() {
    let idp = spawn_default().await;
    // bob asks for write:reports, which no role of his grants.
    let (_, body) = login(&idp, "bob").await;
    let rt = body["refresh_token"].as_str().unwrap();
    let res = refresh(&idp, rt, &[("resource", API), ("scope", "write:reports")]).await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.body["error"], "invalid_scope");
    assert_eq!(res.body["message"], "Invalid scope: {{error_description}}.");
}

#[tokio::test]
async fn organization_tokens_live_3600_s_whatever_the_access_token_lifetime() {
    let idp = spawn(logto_dev::Settings {
        access_token_ttl: std::time::Duration::from_secs(5),
        ..logto_dev::Settings::default()
    })
    .await;
    let (_, body) = login(&idp, "alice").await;
    assert_eq!(body["expires_in"], 5);
    let rt = body["refresh_token"].as_str().unwrap();
    let org = refresh(&idp, rt, &[("organization_id", "org-acme")]).await;
    assert_eq!(org.body["expires_in"], 3600);
    let (_, claims) = decode(org.body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    // An organization-scoped API token follows the resource (here: the settings).
    let org_api = refresh(
        &idp,
        rt,
        &[("organization_id", "org-acme"), ("resource", API)],
    )
    .await;
    assert_eq!(org_api.body["expires_in"], 5);
}

#[tokio::test]
async fn a_resource_lifetime_of_zero_seconds_is_allowed() {
    let seed =
        logto_dev::Seed::from_toml_str(&include_str!("../../../logto-seed/demo.toml").replace(
            "name = \"Portal API\"",
            "name = \"Portal API\"\naccess_token_ttl = 0",
        ))
        .unwrap();
    let idp = spawn_with(seed, logto_dev::Settings::default()).await;
    let (req, callback) = sign_in(&idp, "alice", &[]).await;
    let res = exchange(&idp, &req, &callback, &[("resource", API)]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["expires_in"], 0);
    let (_, claims) = decode(res.body["access_token"].as_str().unwrap());
    assert_eq!(claims["exp"], claims["iat"]);
}

#[tokio::test]
async fn an_organization_api_token_adds_the_users_own_roles() {
    // bob writes reports through a user role of his own; his organization role only reads.
    let seed =
        logto_dev::Seed::from_toml_str(&include_str!("../../../logto-seed/demo.toml").replace(
            "email = \"bob@acme.test\"\nroles = [\"report-reader\"]",
            "email = \"bob@acme.test\"\nroles = [\"report-writer\"]",
        ))
        .unwrap();
    let idp = spawn_with(seed, logto_dev::Settings::default()).await;
    let (_, body) = login(&idp, "bob").await;
    let res = refresh(
        &idp,
        body["refresh_token"].as_str().unwrap(),
        &[("organization_id", "org-acme"), ("resource", API)],
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["scope"], "read:reports write:reports");
}
