//! User claims per scope, ID tokens and JWT access tokens, as Logto issues them.

use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::keys::random_token;
use crate::seed::User;
use crate::state::{AppState, Grant, now_secs};

/// OIDC scopes Logto knows (`scopes_supported`).
pub(crate) const OIDC_SCOPES: &[&str] = &[
    "openid",
    "offline_access",
    "profile",
    "email",
    "phone",
    "address",
    "custom_data",
    "identities",
    "roles",
    "urn:logto:scope:organizations",
    "urn:logto:scope:organization_roles",
    "urn:logto:scope:sessions",
    "urn:logto:scope:trusted_devices",
];

pub(crate) const ORGANIZATIONS_SCOPE: &str = "urn:logto:scope:organizations";
pub(crate) const ORGANIZATION_ROLES_SCOPE: &str = "urn:logto:scope:organization_roles";

fn has(scopes: &[String], scope: &str) -> bool {
    scopes.iter().any(|s| s == scope)
}

fn opt(value: &Option<String>) -> Value {
    value.as_ref().map_or(Value::Null, |v| json!(v))
}

/// Which document the claims are for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    IdToken,
    UserInfo,
}

/// User claims released for `scopes`, as in Logto's `getUserClaimsData`.
pub(crate) fn user_claims(
    state: &AppState,
    user: &User,
    scopes: &[String],
    target: Target,
) -> Map<String, Value> {
    let seed = &state.seed;
    let extended = target == Target::UserInfo || state.settings.claims_in_id_token;
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id));
    // An empty username is none (a user signed up through a one-time token).
    let username = (!user.username.is_empty()).then(|| user.username.clone());
    if has(scopes, "profile") {
        c.insert("name".into(), opt(&user.name));
        c.insert("preferred_username".into(), opt(&username));
        c.insert("picture".into(), opt(&user.picture));
        let updated_at = state
            .store()
            .updated_at
            .get(&user.id)
            .copied()
            .unwrap_or(user.updated_at);
        c.insert("updated_at".into(), json!(updated_at));
        c.insert("username".into(), opt(&username));
        c.insert("created_at".into(), json!(user.created_at));
    }
    if has(scopes, "email") {
        c.insert("email".into(), opt(&user.email));
        c.insert("email_verified".into(), json!(user.email.is_some()));
    }
    if has(scopes, "phone") {
        c.insert("phone_number".into(), opt(&user.phone));
        c.insert("phone_number_verified".into(), json!(user.phone.is_some()));
    }
    if target == Target::UserInfo && has(scopes, "custom_data") {
        c.insert("custom_data".into(), user.custom_data.clone());
    }
    if target == Target::UserInfo && has(scopes, "identities") {
        c.insert("identities".into(), user.identities.clone());
        let sso: Vec<Value> = seed
            .organizations
            .iter()
            .flat_map(|o| o.sso_connectors.iter())
            .filter(|conn| conn.user_id == user.id)
            .map(|conn| {
                json!({
                    "issuer": conn.issuer,
                    "identityId": format!("{}@{}", user.username, conn.id),
                    "detail": { "email": user.email, "name": user.name },
                })
            })
            .collect();
        c.insert("sso_identities".into(), Value::Array(sso));
    }
    if extended && has(scopes, "roles") {
        c.insert("roles".into(), json!(user.roles));
    }
    // Memberships are live (the Management API changes them): copy them out of the lock.
    let memberships: Vec<(Value, Vec<String>)> = state
        .directory()
        .seed
        .memberships(&user.id)
        .into_iter()
        .map(|(o, roles)| {
            (
                json!({ "id": o.id, "name": o.name, "description": o.description }),
                roles.to_vec(),
            )
        })
        .collect();
    if has(scopes, ORGANIZATIONS_SCOPE) {
        if extended {
            let ids: Vec<&Value> = memberships.iter().map(|(o, _)| &o["id"]).collect();
            c.insert("organizations".into(), json!(ids));
        }
        if target == Target::UserInfo {
            let data: Vec<Value> = memberships.iter().map(|(o, _)| o.clone()).collect();
            c.insert("organization_data".into(), Value::Array(data));
        }
    }
    if extended && has(scopes, ORGANIZATION_ROLES_SCOPE) {
        let roles: Vec<String> = memberships
            .iter()
            .flat_map(|(o, roles)| {
                let id = o["id"].as_str().unwrap_or_default().to_owned();
                roles.iter().map(move |r| format!("{id}:{r}"))
            })
            .collect();
        c.insert("organization_roles".into(), json!(roles));
    }
    c
}

/// Builds and signs an ID token for a grant.
pub(crate) fn id_token(state: &AppState, grant: &Grant, user: &User) -> Result<String, Error> {
    let mut claims = user_claims(state, user, &grant.scopes, Target::IdToken);
    if let Some(nonce) = &grant.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(auth_time) = grant.auth_time {
        claims.insert("auth_time".into(), json!(auth_time));
    }
    let sid_required = state.seed.application(&grant.client_id).is_some_and(|a| {
        a.backchannel_logout_uri.is_some() && a.backchannel_logout_session_required
    });
    if sid_required {
        claims.insert("sid".into(), json!(grant.sid));
    }
    let iat = now_secs();
    let ttl = i64::try_from(state.settings.id_token_ttl.as_secs()).unwrap_or(3600);
    claims.insert("aud".into(), json!(grant.client_id));
    claims.insert("exp".into(), json!(iat + ttl));
    claims.insert("iat".into(), json!(iat));
    claims.insert("iss".into(), json!(state.issuer));
    let claims = Value::Object(claims);
    if let Some(forge) = state.take_id_token_forger() {
        tracing::warn!("test hook: handing out a forged ID token");
        return Ok(forge(claims));
    }
    state.keys().sign(None, &claims)
}

/// Builds and signs a JWT access token (`typ: at+jwt`).
pub(crate) fn jwt_access_token(
    state: &AppState,
    grant: &Grant,
    audience: &str,
    scope: &str,
    organization_id: Option<&str>,
    ttl_secs: i64,
) -> Result<String, Error> {
    let iat = now_secs();
    let mut claims = Map::new();
    if let Some(org) = organization_id {
        claims.insert("organization_id".into(), json!(org));
    }
    claims.insert("jti".into(), json!(random_token()));
    claims.insert("sub".into(), json!(grant.user_id));
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(iat + ttl_secs));
    // An empty scope is left out of the token (the token response still says `""`).
    if !scope.is_empty() {
        claims.insert("scope".into(), json!(scope));
    }
    claims.insert("client_id".into(), json!(grant.client_id));
    claims.insert("iss".into(), json!(state.issuer));
    claims.insert("aud".into(), json!(audience));
    state.keys().sign(Some("at+jwt"), &Value::Object(claims))
}

/// Builds and signs a `client_credentials` access token (`typ: at+jwt`): oidc-provider's
/// claims with `sub` = the client id.
pub(crate) fn client_credentials_token(
    state: &AppState,
    client_id: &str,
    audience: &str,
    scope: &str,
    ttl_secs: i64,
) -> Result<String, Error> {
    let iat = now_secs();
    let mut claims = Map::new();
    claims.insert("jti".into(), json!(random_token()));
    claims.insert("sub".into(), json!(client_id));
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(iat + ttl_secs));
    if !scope.is_empty() {
        claims.insert("scope".into(), json!(scope));
    }
    claims.insert("client_id".into(), json!(client_id));
    claims.insert("iss".into(), json!(state.issuer));
    claims.insert("aud".into(), json!(audience));
    state.keys().sign(Some("at+jwt"), &Value::Object(claims))
}

/// Builds and signs a back-channel logout token (`typ: logout+jwt`).
pub(crate) fn logout_token(
    state: &AppState,
    client_id: &str,
    sub: &str,
    sid: Option<&str>,
) -> Result<String, Error> {
    let iat = now_secs();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(sub));
    claims.insert(
        "events".into(),
        json!({ "http://schemas.openid.net/event/backchannel-logout": {} }),
    );
    claims.insert("jti".into(), json!(random_token()));
    if let Some(sid) = sid {
        claims.insert("sid".into(), json!(sid));
    }
    claims.insert("aud".into(), json!(client_id));
    claims.insert("exp".into(), json!(iat + 120));
    claims.insert("iat".into(), json!(iat));
    claims.insert("iss".into(), json!(state.issuer));
    state
        .keys()
        .sign(Some("logout+jwt"), &Value::Object(claims))
}
