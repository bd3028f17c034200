//! The Management API (`/api/*`) as a machine-to-machine application uses it.

use logto_dev::DevIdp;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const M2M_ID: &str = "portal-m2m";
const M2M_SECRET: &str = "portal-m2m-secret";
const MANAGEMENT_API: &str = "https://default.logto.app/api";

/// A Management API token for the seeded machine-to-machine app.
async fn m2m_token(idp: &DevIdp) -> String {
    let res = token_request_as(
        idp,
        M2M_ID,
        M2M_SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("resource", MANAGEMENT_API),
            ("scope", "all"),
        ],
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["access_token"].as_str().unwrap().to_owned()
}

struct Answer {
    status: u16,
    total: Option<String>,
    body: Value,
}

/// One call with `token` (none: no `Authorization` header).
async fn call(
    idp: &DevIdp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let mut req = http().request(method, idp.endpoint().join(path).unwrap());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let total = resp
        .headers()
        .get("total-number")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        total,
        body,
    }
}

/// The Management API with the M2M app's token.
struct Api {
    idp: DevIdp,
    token: String,
}

impl Api {
    async fn new() -> Self {
        let idp = spawn_default().await;
        let token = m2m_token(&idp).await;
        Api { idp, token }
    }

    async fn get(&self, path: &str) -> Answer {
        call(&self.idp, Some(&self.token), Method::GET, path, None).await
    }

    async fn send(&self, method: Method, path: &str, body: Value) -> Answer {
        call(&self.idp, Some(&self.token), method, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Answer {
        call(&self.idp, Some(&self.token), Method::DELETE, path, None).await
    }

    /// The id of an organization role, from `GET /api/organization-roles`.
    async fn role_id(&self, name: &str) -> String {
        let roles = self.get("api/organization-roles").await.body;
        roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn names(list: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap_or("(null)").to_owned())
        .collect();
    out.sort();
    out
}

fn in_an_hour() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    i64::try_from(now).unwrap() + 3_600_000
}

// ---- machine-to-machine token and the gate -------------------------------------------

#[tokio::test]
async fn the_m2m_app_gets_a_management_api_jwt() {
    let idp = spawn_default().await;
    let res = token_request_as(
        &idp,
        M2M_ID,
        M2M_SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("resource", MANAGEMENT_API),
            ("scope", "all"),
        ],
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["token_type"], "Bearer");
    assert_eq!(res.body["scope"], "all");
    assert_eq!(res.body["expires_in"], 3600);
    assert!(res.body.get("refresh_token").is_none());
    let at = res.body["access_token"].as_str().unwrap();
    assert_eq!(decode(at).0["typ"], "at+jwt");
    let claims = verify(&idp, at, MANAGEMENT_API).await;
    // oidc-provider's client_credentials claims: the client is its own subject.
    assert_eq!(claims["sub"], M2M_ID);
    assert_eq!(claims["client_id"], M2M_ID);
    assert_eq!(claims["scope"], "all");
    assert!(claims.get("jti").is_some());
}

#[tokio::test]
async fn client_credentials_is_for_machine_to_machine_apps_only() {
    let idp = spawn_default().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", MANAGEMENT_API),
        ("scope", "all"),
    ];
    let res = token_request(&idp, &form).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body["error"], "unauthorized_client");

    let res = token_request_as(&idp, M2M_ID, "wrong", &form).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.body["error"], "invalid_client");

    let res = token_request_as(
        &idp,
        M2M_ID,
        M2M_SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_eq!(res.body["error"], "unauthorized_client");

    let res = token_request_as(
        &idp,
        M2M_ID,
        M2M_SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://unknown.test"),
        ],
    )
    .await;
    assert_eq!(res.body["error"], "invalid_target");
}

#[tokio::test]
async fn the_api_needs_a_management_token() {
    let idp = spawn_default().await;
    let path = "api/organizations/org-acme/users";

    let res = call(&idp, None, Method::GET, path, None).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.body["code"], "auth.authorization_header_missing");
    assert_eq!(res.body["message"], "Authorization header is missing.");

    let resp = http()
        .get(idp.endpoint().join(path).unwrap())
        .basic_auth(M2M_ID, Some(M2M_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "auth.authorization_token_type_not_supported");

    let res = call(&idp, Some("not-a-token"), Method::GET, path, None).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.body["code"], "auth.unauthorized");

    // A user's access token for another resource is no Management API token.
    let (req, callback) = sign_in(&idp, "alice", &[]).await;
    let user_token = exchange(&idp, &req, &callback, &[("resource", API)]).await;
    let user_token = user_token.body["access_token"].as_str().unwrap();
    let res = call(&idp, Some(user_token), Method::GET, path, None).await;
    assert_eq!(res.status, 401);

    // Without `scope=all` the token carries no permission: 403.
    let res = token_request_as(
        &idp,
        M2M_ID,
        M2M_SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("resource", MANAGEMENT_API),
        ],
    )
    .await;
    assert!(res.body.get("scope").is_none(), "{}", res.body);
    let scopeless = res.body["access_token"].as_str().unwrap();
    let res = call(&idp, Some(scopeless), Method::GET, path, None).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.body["code"], "auth.forbidden");

    let token = m2m_token(&idp).await;
    assert_eq!(
        call(&idp, Some(&token), Method::GET, path, None)
            .await
            .status,
        200
    );
}

// ---- organizations, members, roles ---------------------------------------------------

#[tokio::test]
async fn members_are_listed_with_their_roles_and_paginated() {
    let api = Api::new().await;
    let res = api.get("api/organizations/org-acme/users").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.total.as_deref(), Some("2"));
    assert_eq!(names(&res.body, "username"), ["alice", "bob"]);
    let alice = res
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "alice")
        .unwrap();
    assert_eq!(alice["id"], json!(sub_of(&api.idp, "alice")));
    assert_eq!(alice["primaryEmail"], "alice@acme.test");
    assert_eq!(
        alice["organizationRoles"],
        json!([{ "id": api.role_id("admin").await, "name": "admin" }])
    );

    let res = api
        .get("api/organizations/org-acme/users?page=2&page_size=1")
        .await;
    assert_eq!(res.total.as_deref(), Some("2"));
    assert_eq!(res.body.as_array().unwrap().len(), 1);

    let res = api
        .get("api/organizations/org-acme/users?page_size=101")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body["code"], "guard.invalid_pagination");

    // Logto answers an unknown organization's members with an empty list, and the
    // organization itself with 404.
    let res = api.get("api/organizations/org-nope/users").await;
    assert_eq!((res.status, res.total.as_deref()), (200, Some("0")));
    let res = api.get("api/organizations/org-nope").await;
    assert_eq!(res.status, 404);
    assert_eq!(res.body["code"], "entity.not_found");
    assert_eq!(
        api.get("api/organizations/org-acme").await.body["name"],
        "Acme"
    );
}

#[tokio::test]
async fn members_are_added_and_removed() {
    let api = Api::new().await;
    let carol = sub_of(&api.idp, "carol");
    let res = api
        .send(
            Method::POST,
            "api/organizations/org-acme/users",
            json!({ "userIds": [carol] }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body, json!({ "userIds": [carol] }));
    let members = api.get("api/organizations/org-acme/users").await.body;
    assert_eq!(names(&members, "username"), ["alice", "bob", "carol"]);
    assert_eq!(
        api.idp.organization_roles_of(&carol, "org-acme"),
        Some(vec![])
    );

    for (path, body) in [
        (
            "api/organizations/org-acme/users",
            json!({ "userIds": ["nobody"] }),
        ),
        (
            "api/organizations/org-nope/users",
            json!({ "userIds": [carol] }),
        ),
    ] {
        let res = api.send(Method::POST, path, body).await;
        assert_eq!(res.status, 422, "{path}");
        assert_eq!(res.body["code"], "entity.relation_foreign_key_not_found");
    }
    let res = api
        .send(
            Method::POST,
            "api/organizations/org-acme/users",
            json!({ "userIds": [] }),
        )
        .await;
    assert_eq!(res.body["code"], "guard.invalid_input");

    let path = format!("api/organizations/org-acme/users/{carol}");
    assert_eq!(api.delete(&path).await.status, 204);
    assert_eq!(api.idp.organization_roles_of(&carol, "org-acme"), None);
    let res = api.delete(&path).await;
    assert_eq!(res.status, 404);
    assert_eq!(res.body["code"], "entity.not_found");
}

#[tokio::test]
async fn member_roles_are_read_and_replaced() {
    let api = Api::new().await;
    let bob = sub_of(&api.idp, "bob");
    let admin = api.role_id("admin").await;
    let roles_path = format!("api/organizations/org-acme/users/{bob}/roles");

    let res = api.get(&roles_path).await;
    assert_eq!(res.status, 200);
    assert_eq!(names(&res.body, "name"), ["member"]);
    assert!(res.total.is_none(), "pagination is optional here");

    let res = api
        .send(
            Method::PUT,
            &roles_path,
            json!({ "organizationRoleIds": [admin] }),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
    assert_eq!(names(&api.get(&roles_path).await.body, "name"), ["admin"]);
    assert_eq!(
        api.idp.organization_roles_of(&bob, "org-acme"),
        Some(vec!["admin".to_owned()])
    );

    let scopes = api
        .get(&format!("api/organizations/org-acme/users/{bob}/scopes"))
        .await;
    assert_eq!(
        names(&scopes.body, "name"),
        [
            "invite:members",
            "manage:billing",
            "manage:members",
            "read:members"
        ]
    );

    let res = api
        .send(
            Method::PUT,
            &roles_path,
            json!({ "organizationRoleIds": ["no-such-role"] }),
        )
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(res.body["code"], "entity.relation_foreign_key_not_found");

    // carol is no member of org-acme.
    let carol = sub_of(&api.idp, "carol");
    let carol_roles = format!("api/organizations/org-acme/users/{carol}/roles");
    for res in [
        api.get(&carol_roles).await,
        api.send(
            Method::PUT,
            &carol_roles,
            json!({ "organizationRoleIds": [admin] }),
        )
        .await,
    ] {
        assert_eq!(res.status, 422);
        assert_eq!(res.body["code"], "organization.require_membership");
    }
    let res = api
        .get(&format!("api/organizations/org-acme/users/{carol}/scopes"))
        .await;
    assert_eq!((res.status, res.body.clone()), (200, json!([])));
}

#[tokio::test]
async fn a_role_change_shows_in_the_next_organization_token() {
    let api = Api::new().await;
    let idp = &api.idp;
    let bob = sub_of(idp, "bob");
    let (_, body) = login(idp, "bob").await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let aud = "urn:logto:organization:org-acme";

    let res = refresh(idp, &rt, &[("organization_id", "org-acme")]).await;
    let claims = verify(idp, res.body["access_token"].as_str().unwrap(), aud).await;
    assert_eq!(claims["scope"], "read:members");

    let admin = api.role_id("admin").await;
    let res = api
        .send(
            Method::PUT,
            &format!("api/organizations/org-acme/users/{bob}/roles"),
            json!({ "organizationRoleIds": [admin] }),
        )
        .await;
    assert_eq!(res.status, 204);
    let res = refresh(idp, &rt, &[("organization_id", "org-acme")]).await;
    let claims = verify(idp, res.body["access_token"].as_str().unwrap(), aud).await;
    // What the sign-in requested and the new role grants (manage:members was not asked).
    assert_eq!(
        claims["scope"],
        "invite:members manage:billing read:members"
    );

    let res = api
        .delete(&format!("api/organizations/org-acme/users/{bob}"))
        .await;
    assert_eq!(res.status, 204);
    let res = refresh(idp, &rt, &[("organization_id", "org-acme")]).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.body["error"], "access_denied");
}

#[tokio::test]
async fn the_organization_template_is_listed_with_permissions() {
    let api = Api::new().await;
    let res = api.get("api/organization-roles").await;
    assert_eq!((res.status, res.total.as_deref()), (200, Some("2")));
    let admin = res
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "admin")
        .unwrap();
    assert_eq!(
        names(&admin["scopes"], "name"),
        [
            "invite:members",
            "manage:billing",
            "manage:members",
            "read:members"
        ]
    );
    assert_eq!(admin["resourceScopes"][0]["resource"]["name"], "Portal API");
    assert_eq!(
        names(&admin["resourceScopes"], "name"),
        ["read:reports", "write:reports"]
    );

    let scopes = api.get("api/organization-scopes").await.body;
    assert_eq!(
        names(&scopes, "name"),
        [
            "invite:members",
            "manage:billing",
            "manage:members",
            "read:members"
        ]
    );
    // A role's scope ids are the organization scopes' ids.
    let manage = scopes
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "manage:members")
        .unwrap();
    assert!(
        admin["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == manage["id"])
    );
}

// ---- invitations ---------------------------------------------------------------------

async fn invite(api: &Api, invitee: &str, org: &str, role: &str) -> Answer {
    let inviter = sub_of(&api.idp, "alice");
    let role_id = api.role_id(role).await;
    api.send(
        Method::POST,
        "api/organization-invitations",
        json!({
            "inviterId": inviter,
            "invitee": invitee,
            "organizationId": org,
            "expiresAt": in_an_hour(),
            "organizationRoleIds": [role_id],
            "messagePayload": { "link": "http://portal.test/invitation/x" },
        }),
    )
    .await
}

#[tokio::test]
async fn invitations_are_created_listed_and_deleted() {
    let api = Api::new().await;
    let res = invite(&api, "carol@example.test", "org-acme", "member").await;
    assert_eq!(res.status, 201, "{}", res.body);
    let inv = res.body;
    assert_eq!(inv["status"], "Pending");
    assert_eq!(inv["organizationId"], "org-acme");
    assert_eq!(inv["inviterId"], json!(sub_of(&api.idp, "alice")));
    assert_eq!(inv["acceptedUserId"], Value::Null);
    assert_eq!(names(&inv["organizationRoles"], "name"), ["member"]);
    let id = inv["id"].as_str().unwrap().to_owned();
    let sent = api.idp.invitation_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].invitee, "carol@example.test");
    assert_eq!(sent[0].payload["link"], "http://portal.test/invitation/x");

    let acme = api
        .get("api/organization-invitations?organizationId=org-acme")
        .await;
    assert_eq!(names(&acme.body, "id"), std::slice::from_ref(&id));
    let globex = api
        .get("api/organization-invitations?organizationId=org-globex")
        .await;
    assert_eq!(globex.body, json!([]));
    let one = api.get(&format!("api/organization-invitations/{id}")).await;
    assert_eq!(one.body["invitee"], "carol@example.test");

    // One pending invitation per invitee and organization.
    let res = invite(&api, "carol@example.test", "org-acme", "member").await;
    assert_eq!(res.status, 422);
    assert_eq!(res.body["code"], "entity.unique_integrity_violation");

    let path = format!("api/organization-invitations/{id}");
    assert_eq!(api.delete(&path).await.status, 204);
    let res = api.get(&path).await;
    assert_eq!(res.status, 404);
    assert_eq!(res.body["code"], "entity.not_found");
    assert_eq!(api.delete(&path).await.status, 404);
}

#[tokio::test]
async fn invitations_are_validated_as_logto_does() {
    let api = Api::new().await;
    let res = invite(&api, "bob@acme.test", "org-acme", "member").await;
    assert_eq!(res.status, 422);
    assert_eq!(res.body["code"], "request.invalid_input");
    assert_eq!(
        res.body["message"],
        "Input is invalid. The invitee is already a member of the organization."
    );

    let res = invite(&api, "x@acme.test", "org-nope", "member").await;
    assert_eq!(res.status, 422);
    assert_eq!(res.body["code"], "entity.relation_foreign_key_not_found");

    let res = invite(&api, "not-an-email", "org-acme", "member").await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body["code"], "guard.invalid_input");

    let res = api
        .send(
            Method::POST,
            "api/organization-invitations",
            json!({ "invitee": "x@acme.test", "organizationId": "org-acme", "expiresAt": 1 }),
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.body["message"],
        "Input is invalid. The value of `expiresAt` must be in the future."
    );
}

async fn set_status(api: &Api, id: &str, body: Value) -> Answer {
    api.send(
        Method::PUT,
        &format!("api/organization-invitations/{id}/status"),
        body,
    )
    .await
}

#[tokio::test]
async fn accepting_needs_the_invitees_email_and_adds_the_member() {
    let api = Api::new().await;
    let carol = sub_of(&api.idp, "carol");
    let dave = sub_of(&api.idp, "dave");
    let inv = invite(&api, "Carol@Example.test", "org-acme", "admin").await;
    let id = inv.body["id"].as_str().unwrap();

    let res = set_status(
        &api,
        id,
        json!({ "status": "Accepted", "acceptedUserId": dave }),
    )
    .await;
    assert_eq!(res.status, 422);
    assert_eq!(
        res.body["message"],
        "Input is invalid. The accepted user must have the same email as the invitee."
    );
    let res = set_status(&api, id, json!({ "status": "Accepted" })).await;
    assert_eq!(res.status, 422);
    let res = set_status(&api, id, json!({ "status": "Expired" })).await;
    assert_eq!(res.body["code"], "guard.invalid_input");
    assert_eq!(api.idp.organization_roles_of(&carol, "org-acme"), None);

    // The email matches case-insensitively, as Logto compares it.
    let res = set_status(
        &api,
        id,
        json!({ "status": "Accepted", "acceptedUserId": carol }),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["status"], "Accepted");
    assert_eq!(res.body["acceptedUserId"], json!(carol));
    assert_eq!(
        api.idp.organization_roles_of(&carol, "org-acme"),
        Some(vec!["admin".to_owned()])
    );
    // Only the invitation's organization.
    assert_eq!(api.idp.organization_roles_of(&carol, "org-globex"), None);

    let res = set_status(&api, id, json!({ "status": "Revoked" })).await;
    assert_eq!(res.status, 422);
    assert_eq!(
        res.body["message"],
        "Input is invalid. The status of the invitation cannot be changed anymore."
    );
    let res = set_status(&api, "nope", json!({ "status": "Revoked" })).await;
    assert_eq!(res.status, 404);
}

#[tokio::test]
async fn revoked_and_expired_invitations_cannot_be_accepted() {
    let api = Api::new().await;
    let carol = sub_of(&api.idp, "carol");
    let inv = invite(&api, "carol@example.test", "org-acme", "member").await;
    let id = inv.body["id"].as_str().unwrap().to_owned();
    let res = set_status(&api, &id, json!({ "status": "Revoked" })).await;
    assert_eq!(
        (res.status, res.body["status"].clone()),
        (200, json!("Revoked"))
    );
    let res = set_status(
        &api,
        &id,
        json!({ "status": "Accepted", "acceptedUserId": carol }),
    )
    .await;
    assert_eq!(res.status, 422);

    // A new invitation may follow the revoked one; then it runs out.
    let inv = invite(&api, "carol@example.test", "org-acme", "member").await;
    assert_eq!(inv.status, 201, "{}", inv.body);
    let id = inv.body["id"].as_str().unwrap().to_owned();
    assert!(api.idp.set_invitation_expiry(&id, 1));
    let res = api.get(&format!("api/organization-invitations/{id}")).await;
    assert_eq!(res.body["status"], "Expired");
    let res = set_status(
        &api,
        &id,
        json!({ "status": "Accepted", "acceptedUserId": carol }),
    )
    .await;
    assert_eq!(res.status, 422);
    assert_eq!(api.idp.organization_roles_of(&carol, "org-acme"), None);
    // An expired invitation no longer blocks a new one.
    let inv = invite(&api, "carol@example.test", "org-acme", "member").await;
    assert_eq!(inv.status, 201, "{}", inv.body);
}

// ---- one-time tokens and users -------------------------------------------------------

async fn one_time_token(api: &Api, email: &str, jit: &[&str]) -> Value {
    let res = api
        .send(
            Method::POST,
            "api/one-time-tokens",
            json!({ "email": email, "context": { "jitOrganizationIds": jit } }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

/// Follows `/oidc/auth` with a one-time token: the request and the final redirect (the
/// callback), or the error page's status and text.
async fn sign_in_with_token(
    idp: &DevIdp,
    token: &str,
    email: &str,
) -> (AuthRequest, Result<url::Url, (u16, String)>) {
    let req = auth_request(idp, &[("one_time_token", token), ("login_hint", email)]);
    let client = http();
    let resp = client.get(req.url.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/one-time-token?"), "{location}");
    let resp = client
        .get(idp.endpoint().join(&location).unwrap())
        .send()
        .await
        .unwrap();
    if resp.status() != 303 {
        let status = resp.status().as_u16();
        return (req, Err((status, resp.text().await.unwrap())));
    }
    let callback = resp.headers()["location"].to_str().unwrap();
    (req, Ok(url::Url::parse(callback).unwrap()))
}

#[tokio::test]
async fn a_one_time_token_signs_a_new_person_up_into_its_organizations() {
    let api = Api::new().await;
    let idp = &api.idp;
    let ott = one_time_token(&api, "new@acme.test", &["org-acme"]).await;
    assert_eq!(ott["status"], "active");
    assert_eq!(ott["context"]["jitOrganizationIds"], json!(["org-acme"]));
    let token = ott["token"].as_str().unwrap();

    let (req, callback) = sign_in_with_token(idp, token, "new@acme.test").await;
    let callback = callback.unwrap();
    assert!(callback.as_str().starts_with(REDIRECT_URI), "{callback}");
    let res = exchange(idp, &req, &callback, &[]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let new = idp.user_id_by_email("new@acme.test").expect("signed up");
    let id_token = verify(idp, res.body["id_token"].as_str().unwrap(), CLIENT_ID).await;
    assert_eq!(id_token["sub"], json!(new));
    assert_eq!(id_token["email"], "new@acme.test");
    assert_eq!(id_token["username"], Value::Null);
    // The organization it joined shows in its next organization token.
    let rt = res.body["refresh_token"].as_str().unwrap();
    let res = refresh(idp, rt, &[("organization_id", "org-acme")]).await;
    assert_eq!(res.status, 200, "{}", res.body);

    let found = api.get("api/users?search=new%40acme.test").await;
    assert_eq!(found.total.as_deref(), Some("1"));
    assert_eq!(found.body[0]["id"], json!(new));
    assert_eq!(found.body[0]["username"], Value::Null);
    assert_eq!(found.body[0]["hasPassword"], false);
    assert_eq!(idp.organization_roles_of(&new, "org-acme"), Some(vec![]));

    // Once only.
    let (status, text) = sign_in_with_token(idp, token, "new@acme.test")
        .await
        .1
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(text.contains("The token has been consumed."), "{text}");
}

#[tokio::test]
async fn a_one_time_token_signs_an_existing_user_in_and_is_checked() {
    let api = Api::new().await;
    let idp = &api.idp;
    let ott = one_time_token(&api, "carol@example.test", &[]).await;
    let token = ott["token"].as_str().unwrap();

    let (status, text) = sign_in_with_token(idp, token, "dave@globex.test")
        .await
        .1
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(text.contains("Email mismatch with given token."), "{text}");

    // The email mismatch left the token unused: carol signs in with it.
    let (req, callback) = sign_in_with_token(idp, token, "carol@example.test").await;
    let res = exchange(idp, &req, &callback.unwrap(), &[]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let id_token = verify(idp, res.body["id_token"].as_str().unwrap(), CLIENT_ID).await;
    assert_eq!(id_token["sub"], json!(sub_of(idp, "carol")));

    // Revoked tokens sign nobody in.
    let ott = one_time_token(&api, "carol@example.test", &[]).await;
    let id = ott["id"].as_str().unwrap();
    let res = api
        .send(
            Method::PUT,
            &format!("api/one-time-tokens/{id}/status"),
            json!({ "status": "revoked" }),
        )
        .await;
    assert_eq!(
        (res.status, res.body["status"].clone()),
        (200, json!("revoked"))
    );
    let token = ott["token"].as_str().unwrap();
    let (_, text) = sign_in_with_token(idp, token, "carol@example.test")
        .await
        .1
        .unwrap_err();
    assert!(text.contains("The token has been revoked."), "{text}");
    let res = api
        .send(
            Method::PUT,
            &format!("api/one-time-tokens/{id}/status"),
            json!({ "status": "active" }),
        )
        .await;
    assert_eq!(res.body["code"], "one_time_token.cannot_reactivate_token");
}

#[tokio::test]
async fn users_are_found_by_email_and_id() {
    let api = Api::new().await;
    let alice = sub_of(&api.idp, "alice");
    let res = api
        .get("api/users?search.primaryEmail=alice%40acme.test&mode.primaryEmail=exact")
        .await;
    assert_eq!(names(&res.body, "username"), ["alice"]);
    let res = api.get("api/users?search=%25%40acme.test").await;
    assert_eq!(names(&res.body, "username"), ["alice", "bob"]);
    assert_eq!(res.total.as_deref(), Some("2"));
    let res = api.get("api/users?search.password=x").await;
    assert_eq!(res.status, 400);

    let res = api.get(&format!("api/users/{alice}")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["primaryEmail"], "alice@acme.test");
    assert_eq!(res.body["primaryPhone"], "15550000001");
    assert_eq!(res.body["customData"]["plan"], "enterprise");
    let res = api.get("api/users/nobody").await;
    assert_eq!(res.status, 404);
    assert_eq!(res.body["code"], "entity.not_found");
}
