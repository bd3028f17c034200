//! `/oidc/token`: `authorization_code` and `refresh_token` (with resource and organization tokens).

use std::sync::Arc;
use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::auth::{RESERVED_ORGANIZATION_RESOURCE, apply_fault, pkce_matches};
use crate::claims::{self, OIDC_SCOPES, ORGANIZATIONS_SCOPE};
use crate::error::OAuthError;
use crate::keys::random_token;
use crate::seed::{AppType, Application};
use crate::settings::RefreshPolicy;
use crate::state::{
    AccessToken, AppState, Endpoint, Grant, ManagementToken, RefreshToken, uri_matches,
};

/// The Management API's resource indicator in Logto OSS (tenant `default`).
pub(crate) const MANAGEMENT_API_RESOURCE: &str = "https://default.logto.app/api";
/// The one permission of the Management API (Logto's `PredefinedScope.All`).
pub(crate) const MANAGEMENT_API_SCOPE: &str = "all";

pub(crate) type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn params_named<'a>(params: &'a Params, name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Refuses a POST whose body is empty or neither a form nor JSON, with oidc-provider's
/// words (it looks at the content type only when there is a body).
pub(crate) fn require_form(req: &HttpRequest, body: &[u8]) -> Result<(), OAuthError> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !body.is_empty()
        && (content_type.starts_with("application/x-www-form-urlencoded")
            || content_type.starts_with("application/json"))
    {
        return Ok(());
    }
    Err(OAuthError::invalid_request(format!(
        "only application/x-www-form-urlencoded content-type bodies are supported on POST {}",
        req.path().strip_prefix("/oidc").unwrap_or(req.path())
    )))
}

/// Parses a form or JSON body (Logto accepts both) into name/value pairs.
pub(crate) fn parse_body(req: &HttpRequest, body: &[u8]) -> Result<Params, OAuthError> {
    let is_json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Ok(url::form_urlencoded::parse(body).into_owned().collect());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| OAuthError::invalid_request("failed to parse the request body"))?;
    let Value::Object(map) = value else {
        return Err(OAuthError::invalid_request(
            "failed to parse the request body",
        ));
    };
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            Value::String(s) => out.push((k, s)),
            Value::Array(items) => {
                out.extend(items.into_iter().filter_map(|i| match i {
                    Value::String(s) => Some((k.clone(), s)),
                    _ => None,
                }));
            }
            other => out.push((k, other.to_string())),
        }
    }
    Ok(out)
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Client authentication: `client_secret_basic` or `client_secret_post` for confidential
/// clients, `none` for public ones.
pub(crate) fn authenticate<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    params: &Params,
) -> Result<&'a Application, OAuthError> {
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .map(|b64| {
            let decoded = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| {
                    OAuthError::invalid_request("invalid authorization header value format")
                })?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| {
                OAuthError::invalid_request("invalid authorization header value format")
            })?;
            Ok::<_, OAuthError>((form_decode(id), form_decode(secret)))
        })
        .transpose()?;
    let body_id = param(params, "client_id");
    let body_secret = param(params, "client_secret");
    let (client_id, secret) = match &basic {
        Some((id, secret)) => {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "client authentication must only be provided using one mechanism",
                ));
            }
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "mismatch in body and authorization client ids",
                ));
            }
            (id.as_str(), Some(secret.as_str()))
        }
        None => match body_id {
            Some(id) => (id, body_secret),
            None => {
                return Err(OAuthError::invalid_request(
                    "no client authentication mechanism provided",
                ));
            }
        },
    };
    let Some(app) = state.seed.application(client_id) else {
        return Err(OAuthError::new(
            400,
            "invalid_client",
            format!("invalid client {client_id}"),
        ));
    };
    if app.app_type.is_confidential() {
        let ok = matches!((secret, &app.secret), (Some(s), Some(expected)) if s == expected);
        if !ok {
            let mut err = OAuthError::new(401, "invalid_client", "client authentication failed");
            if basic.is_some() {
                err = err.with_www_authenticate(format!(
                    "Basic realm=\"{}\", error=\"invalid_client\", error_description=\"client authentication failed\"",
                    state.issuer
                ));
            }
            return Err(err);
        }
    }
    Ok(app)
}

/// `POST /oidc/token`.
pub(crate) async fn token(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(resp) = apply_fault(&state, Endpoint::Token).await {
        return resp;
    }
    let result = require_form(&req, &body)
        .and_then(|()| parse_body(&req, &body))
        .and_then(|params| {
            let app = authenticate(&state, &req, &params)?;
            let grant_type = param(&params, "grant_type");
            // A machine-to-machine app has only `client_credentials`; the others lack it.
            let m2m = app.app_type == AppType::MachineToMachine;
            if matches!(
                grant_type,
                Some("authorization_code" | "refresh_token" | "client_credentials")
            ) && m2m != (grant_type == Some("client_credentials"))
            {
                return Err(OAuthError::new(
                    400,
                    "unauthorized_client",
                    "requested grant type is not allowed for this client",
                ));
            }
            match grant_type {
                Some("authorization_code") => authorization_code(&state, app, &params),
                Some("refresh_token") => refresh_token(&state, app, &params),
                Some("client_credentials") => client_credentials(&state, app, &params),
                Some(_) => Err(OAuthError::new(
                    400,
                    "unsupported_grant_type",
                    "unsupported grant_type requested",
                )),
                None => Err(OAuthError::invalid_request(
                    "missing required parameter 'grant_type'",
                )),
            }
        });
    match result {
        Ok(body) => HttpResponse::Ok()
            .insert_header(("cache-control", "no-store"))
            .content_type("application/json; charset=utf-8")
            .body(body.to_string()),
        Err(e) => {
            if e.error == "invalid_grant" {
                state.count(|c| c.invalid_grants += 1);
            }
            tracing::debug!(error = %e, "token request refused");
            e.response()
        }
    }
}

enum Audience<'a> {
    Opaque,
    Resource(&'a str),
    Organization(&'a str),
    OrganizationResource(&'a str, &'a str),
}

fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

fn intersect(requested: &[String], allowed: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|s| allowed.contains(s))
        .cloned()
        .collect()
}

fn ttl_secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(3600)
}

/// The scopes of `indicator` the user holds through global user roles.
fn user_role_scopes(state: &AppState, user_id: &str, indicator: &str) -> Vec<String> {
    let seed = &state.seed;
    let mut out: Vec<String> = Vec::new();
    let roles = state
        .directory()
        .seed
        .user(user_id)
        .map(|u| u.roles.clone())
        .unwrap_or_default();
    for role in seed.roles.iter().filter(|r| roles.contains(&r.name)) {
        for s in role.scopes.get(indicator).into_iter().flatten() {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
    }
    out
}

/// Issues the access token (and the ID token) for a grant; returns the token response
/// without `refresh_token`.
fn issue(
    state: &AppState,
    grant_id: &str,
    grant: &Grant,
    audience: &Audience<'_>,
    requested: &[String],
) -> Result<Map<String, Value>, OAuthError> {
    let user = state
        .directory()
        .seed
        .user(&grant.user_id)
        .cloned()
        .ok_or_else(OAuthError::invalid_grant)?;
    let server_error = |e: crate::error::Error| OAuthError::new(500, "server_error", e.to_string());
    let check_resource = |indicator: &str| -> Result<i64, OAuthError> {
        let res = state
            .seed
            .resource(indicator)
            .ok_or_else(OAuthError::invalid_target)?;
        if !grant.resources.iter().any(|r| r == indicator) {
            return Err(OAuthError::invalid_target());
        }
        Ok(res
            .access_token_ttl
            .and_then(|t| i64::try_from(t).ok())
            .unwrap_or_else(|| ttl_secs(state.settings.access_token_ttl)))
    };
    let check_org = |org: &str| -> Result<(), OAuthError> {
        if !grant.scopes.iter().any(|s| s == ORGANIZATIONS_SCOPE) {
            return Err(OAuthError::new(
                403,
                "insufficient_scope",
                "refresh token missing required scope",
            )
            .with_scope(ORGANIZATIONS_SCOPE));
        }
        if state
            .directory()
            .seed
            .organization_permissions(&grant.user_id, org)
            .is_none()
        {
            return Err(OAuthError::new(
                403,
                "access_denied",
                "user is not a member of the organization",
            ));
        }
        Ok(())
    };
    let (access_token, expires_in, scope) = match audience {
        Audience::Opaque => {
            let oidc: Vec<String> = requested
                .iter()
                .filter(|s| OIDC_SCOPES.contains(&s.as_str()))
                .cloned()
                .collect();
            let ttl = state.settings.access_token_ttl;
            let token = random_token();
            state.store().access_tokens.insert(
                token.clone(),
                AccessToken {
                    grant_id: grant_id.to_owned(),
                    client_id: grant.client_id.clone(),
                    scopes: oidc.clone(),
                    expires: Instant::now() + ttl,
                },
            );
            (token, ttl_secs(ttl), join(&oidc))
        }
        Audience::Resource(indicator) => {
            let ttl = check_resource(indicator)?;
            let scope = join(&intersect(
                requested,
                &state
                    .directory()
                    .seed
                    .resource_scopes(&grant.user_id, indicator),
            ));
            let jwt = claims::jwt_access_token(state, grant, indicator, &scope, None, ttl)
                .map_err(server_error)?;
            (jwt, ttl, scope)
        }
        Audience::Organization(org) => {
            check_org(org)?;
            // Permissions come only through the organizations resource requested at sign-in
            // (the grant holds no organization permission otherwise). Logto lists them in
            // the order of its internal scope ids; here they are sorted by name.
            let perms = if grant
                .resources
                .iter()
                .any(|r| r == RESERVED_ORGANIZATION_RESOURCE)
            {
                state
                    .directory()
                    .seed
                    .organization_permissions(&grant.user_id, org)
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            let mut issued = intersect(requested, &perms);
            issued.sort();
            let scope = join(&issued);
            let ttl = ttl_secs(state.settings.organization_token_ttl);
            let aud = format!("urn:logto:organization:{org}");
            let jwt = claims::jwt_access_token(state, grant, &aud, &scope, None, ttl)
                .map_err(server_error)?;
            (jwt, ttl, scope)
        }
        Audience::OrganizationResource(org, indicator) => {
            let ttl = check_resource(indicator)?;
            check_org(org)?;
            // The user's own roles count too, not only the roles in this organization.
            let mut allowed = user_role_scopes(state, &grant.user_id, indicator);
            let org_scopes = state
                .directory()
                .seed
                .organization_resource_scopes(&grant.user_id, org, indicator)
                .unwrap_or_default();
            for s in org_scopes {
                if !allowed.contains(&s) {
                    allowed.push(s);
                }
            }
            let scope = join(&intersect(requested, &allowed));
            let jwt = claims::jwt_access_token(state, grant, indicator, &scope, Some(org), ttl)
                .map_err(server_error)?;
            (jwt, ttl, scope)
        }
    };
    let mut out = Map::new();
    out.insert("access_token".into(), json!(access_token));
    out.insert("expires_in".into(), json!(expires_in));
    if requested.iter().any(|s| s == "openid") {
        let mut id_grant = grant.clone();
        id_grant.scopes = requested.to_vec();
        let id_token = claims::id_token(state, &id_grant, &user).map_err(server_error)?;
        out.insert("id_token".into(), json!(id_token));
    }
    out.insert("scope".into(), json!(scope));
    out.insert("token_type".into(), json!("Bearer"));
    Ok(out)
}

fn audience<'a>(params: &'a Params) -> Result<Audience<'a>, OAuthError> {
    let resources = params_named(params, "resource");
    if resources.len() > 1 {
        return Err(OAuthError::new(
            400,
            "invalid_target",
            "only a single resource indicator value is supported for this grant type",
        ));
    }
    Ok(
        match (resources.first().copied(), param(params, "organization_id")) {
            (None, None) => Audience::Opaque,
            (Some(r), None) => Audience::Resource(r),
            (None, Some(o)) => Audience::Organization(o),
            (Some(r), Some(o)) => Audience::OrganizationResource(o, r),
        },
    )
}

fn authorization_code(
    state: &AppState,
    app: &Application,
    params: &Params,
) -> Result<Value, OAuthError> {
    let code = param(params, "code")
        .ok_or_else(|| OAuthError::invalid_request("missing required parameter 'code'"))?;
    let audience = audience(params)?;
    let (grant_id, grant) = {
        let mut store = state.store();
        let Some(entry) = store.codes.get_mut(code) else {
            return Err(OAuthError::invalid_grant());
        };
        if entry.client_id != app.id {
            return Err(OAuthError::invalid_grant());
        }
        if entry.expires < Instant::now() {
            store.codes.remove(code);
            return Err(OAuthError::invalid_grant());
        }
        if entry.used {
            // Reusing a code revokes the grant it produced.
            let grant_id = entry.grant_id.clone();
            store.revoke_grant(&grant_id);
            return Err(OAuthError::invalid_grant());
        }
        entry.used = true;
        let redirect_ok = match param(params, "redirect_uri") {
            Some(uri) => uri == entry.redirect_uri,
            None => {
                matches!(app.redirect_uris.as_slice(), [only] if uri_matches(only, &entry.redirect_uri))
            }
        };
        // Without a challenge (a confidential client skipping PKCE) no verifier may come.
        let pkce_ok = match (param(params, "code_verifier"), &entry.code_challenge) {
            (Some(v), Some(challenge)) => pkce_matches(v, challenge),
            (None, None) => true,
            _ => false,
        };
        if !redirect_ok || !pkce_ok {
            return Err(OAuthError::invalid_grant());
        }
        let grant_id = entry.grant_id.clone();
        match store.grants.get(&grant_id) {
            Some(g) if !g.revoked => (grant_id, g.clone()),
            _ => return Err(OAuthError::invalid_grant()),
        }
    };
    let mut response = issue(state, &grant_id, &grant, &audience, &grant.scopes)?;
    if grant.offline() {
        let token = random_token();
        let now = Instant::now();
        state.store().refresh_tokens.insert(
            token.clone(),
            RefreshToken {
                grant_id,
                created: now,
                expires: now + state.settings.refresh_token_ttl,
                consumed_at: None,
            },
        );
        response.insert("refresh_token".into(), json!(token));
    }
    state.count(|c| c.authorization_code_grants += 1);
    Ok(Value::Object(sorted(response)))
}

fn sorted(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

fn refresh_token(
    state: &AppState,
    app: &Application,
    params: &Params,
) -> Result<Value, OAuthError> {
    let presented = param(params, "refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("missing required parameter 'refresh_token'"))?;
    let audience = audience(params)?;
    let now = Instant::now();
    let (grant_id, grant, rotate_from) = {
        let mut store = state.store();
        let Some(rt) = store.refresh_tokens.get(presented).cloned() else {
            return Err(OAuthError::invalid_grant());
        };
        let grant = match store.grants.get(&rt.grant_id) {
            Some(g) if !g.revoked => g.clone(),
            _ => return Err(OAuthError::invalid_grant()),
        };
        if grant.client_id != app.id {
            return Err(OAuthError::invalid_grant());
        }
        if rt.expires <= now {
            store.refresh_tokens.remove(presented);
            return Err(OAuthError::invalid_grant());
        }
        if let Some(consumed) = rt.consumed_at {
            if now.duration_since(consumed) >= state.settings.reuse_grace {
                // Reuse after the grace period: Logto revokes the whole grant.
                tracing::info!(client_id = %app.id, "rotated refresh token reused: revoking the grant");
                store.revoke_grant(&rt.grant_id);
                drop(store);
                state.count(|c| c.refresh_reuse_events += 1);
                return Err(OAuthError::invalid_grant());
            }
            state.count(|c| c.refresh_reuse_within_grace += 1);
        }
        (rt.grant_id.clone(), grant, rt)
    };
    let requested: Vec<String> = match param(params, "scope") {
        Some(scope) => {
            let requested: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
            let missing: Vec<String> = requested
                .iter()
                .filter(|s| !grant.scopes.contains(s))
                .cloned()
                .collect();
            if !missing.is_empty() {
                let noun = if missing.len() == 1 {
                    "scope"
                } else {
                    "scopes"
                };
                return Err(OAuthError::new(
                    400,
                    "invalid_scope",
                    format!("refresh token missing requested {noun}"),
                )
                .with_scope(missing.join(" ")));
            }
            requested
        }
        None => grant.scopes.clone(),
    };
    let mut response = issue(state, &grant_id, &grant, &audience, &requested)?;

    let rt = rotate_from;
    let rotate = if !app.app_type.is_confidential() {
        true
    } else {
        match state.settings.refresh_policy {
            RefreshPolicy::RotateEveryUse => true,
            RefreshPolicy::ConfidentialSeventyPercent => {
                let lifetime = rt.expires.duration_since(rt.created);
                now.duration_since(rt.created).as_secs_f64() >= lifetime.as_secs_f64() * 0.7
            }
        }
    };
    let returned = if rotate {
        let token = random_token();
        let mut store = state.store();
        if store.grants.get(&grant_id).is_none_or(|g| g.revoked) {
            return Err(OAuthError::invalid_grant());
        }
        // Every use stamps the token again: a reuse within the grace period restarts it.
        if let Some(old) = store.refresh_tokens.get_mut(presented) {
            old.consumed_at = Some(now);
        }
        // SPA refresh tokens keep their original expiry; others get a fresh lifetime.
        let expires = if app.app_type == crate::seed::AppType::Spa {
            rt.expires
        } else {
            now + state.settings.refresh_token_ttl
        };
        store.refresh_tokens.insert(
            token.clone(),
            RefreshToken {
                grant_id,
                created: now,
                expires,
                consumed_at: None,
            },
        );
        token
    } else {
        presented.to_owned()
    };
    response.insert("refresh_token".into(), json!(returned));
    state.count(|c| c.refresh_token_grants += 1);
    Ok(Value::Object(sorted(response)))
}

/// `client_credentials` (machine-to-machine apps), as oidc-provider runs it for Logto: one
/// resource at most; the requested scopes the resource grants the app are kept (for the
/// Management API, `all`, through the role "Logto Management API access" every seeded M2M
/// app is taken to have). The access token is a JWT whose `sub` is the client id.
fn client_credentials(
    state: &AppState,
    app: &Application,
    params: &Params,
) -> Result<Value, OAuthError> {
    let resources = params_named(params, "resource");
    if resources.len() > 1 {
        return Err(OAuthError::new(
            400,
            "invalid_target",
            "only a single resource indicator value is supported for this grant type",
        ));
    }
    let requested: Vec<String> = param(params, "scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut out = Map::new();
    let ttl = ttl_secs(state.settings.access_token_ttl);
    let scope = match resources.first().copied() {
        // No resource: an opaque token, good for nothing at `/api`.
        None => {
            out.insert("access_token".into(), json!(random_token()));
            String::new()
        }
        Some(indicator) => {
            let allowed: Vec<String> = if indicator == MANAGEMENT_API_RESOURCE {
                vec![MANAGEMENT_API_SCOPE.to_owned()]
            } else if state.seed.resource(indicator).is_some() {
                // The seed gives machine-to-machine apps no role on its own resources.
                Vec::new()
            } else {
                return Err(OAuthError::invalid_target());
            };
            let mut scopes: Vec<String> = Vec::new();
            for s in intersect(&requested, &allowed) {
                if !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
            let scope = join(&scopes);
            let jwt = claims::client_credentials_token(state, &app.id, indicator, &scope, ttl)
                .map_err(|e| OAuthError::new(500, "server_error", e.to_string()))?;
            if indicator == MANAGEMENT_API_RESOURCE {
                state.store().management_tokens.insert(
                    jwt.clone(),
                    ManagementToken {
                        client_id: app.id.clone(),
                        scopes,
                        expires: Instant::now() + state.settings.access_token_ttl,
                    },
                );
            }
            out.insert("access_token".into(), json!(jwt));
            scope
        }
    };
    out.insert("expires_in".into(), json!(ttl));
    out.insert("token_type".into(), json!("Bearer"));
    // oidc-provider leaves an empty scope out.
    if !scope.is_empty() {
        out.insert("scope".into(), json!(scope));
    }
    Ok(Value::Object(out))
}
