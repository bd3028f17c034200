//! Discovery, JWKS, userinfo, revocation, introspection and end session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::auth::{SESSION_COOKIE, apply_fault, html_escape};
use crate::backchannel;
use crate::claims::{self, Target};
use crate::error::OAuthError;
use crate::keys::{decode_unverified, random_token};
use crate::state::{AppState, Endpoint, PendingLogout, uri_matches};
use crate::token::{Params, authenticate, parse_body, require_form};

fn json_response(value: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(value.to_string())
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The discovery document, key for key as Logto 1.42 serves it.
pub(crate) fn discovery_document(state: &AppState) -> Value {
    let i = &state.issuer;
    let alg = state
        .keys()
        .current()
        .map_or("ES384", |k| k.alg())
        .to_owned();
    let mut doc = json!({
        "authorization_endpoint": format!("{i}/auth"),
        "device_authorization_endpoint": format!("{i}/device/auth"),
        "claims_parameter_supported": false,
        "claims_supported": [
            "sub", "name", "family_name", "given_name", "middle_name", "nickname",
            "preferred_username", "profile", "picture", "website", "gender", "birthdate",
            "zoneinfo", "locale", "updated_at", "username", "created_at", "email",
            "email_verified", "phone_number", "phone_number_verified", "address",
            "custom_data", "identities", "sso_identities", "roles", "organizations",
            "organization_data", "organization_roles", "sid", "auth_time", "iss"
        ],
        "code_challenge_methods_supported": ["S256"],
        "end_session_endpoint": format!("{i}/session/end"),
        "grant_types_supported": [
            "implicit", "authorization_code", "refresh_token", "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ],
        "issuer": i,
        "jwks_uri": format!("{i}/jwks"),
        "authorization_response_iss_parameter_supported": true,
        "response_modes_supported": ["form_post", "fragment", "query"],
        "response_types_supported": ["code id_token", "code", "id_token", "none"],
        "scopes_supported": claims::OIDC_SCOPES,
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_jwt", "client_secret_post",
            "private_key_jwt", "none"
        ],
        "token_endpoint_auth_signing_alg_values_supported": [
            "HS256", "RS256", "PS256", "ES256", "Ed25519", "EdDSA"
        ],
        "token_endpoint": format!("{i}/token"),
        "id_token_signing_alg_values_supported": [alg],
        "pushed_authorization_request_endpoint": format!("{i}/request"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{i}/me"),
        "introspection_endpoint": format!("{i}/token/introspection"),
        "revocation_endpoint": format!("{i}/token/revocation"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "claim_types_supported": ["normal"],
    });
    // Test hook: keys set with `DevIdp::set_discovery_overrides` (`null` removes one).
    if let Value::Object(doc) = &mut doc {
        for (key, value) in state.discovery_overrides() {
            if value.is_null() {
                doc.remove(&key);
            } else {
                doc.insert(key, value);
            }
        }
    }
    doc
}

/// `GET /oidc/.well-known/openid-configuration` (and `oauth-authorization-server`).
pub(crate) async fn discovery(state: web::Data<Arc<AppState>>) -> HttpResponse {
    state.count(|c| c.discovery_hits += 1);
    if let Some(resp) = apply_fault(&state, Endpoint::Discovery).await {
        return resp;
    }
    json_response(&discovery_document(&state))
}

/// `GET /oidc/jwks`.
pub(crate) async fn jwks(state: web::Data<Arc<AppState>>) -> HttpResponse {
    state.count(|c| c.jwks_hits += 1);
    if let Some(resp) = apply_fault(&state, Endpoint::Jwks).await {
        return resp;
    }
    let body = state.keys().jwks();
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-cache, max-age=0, must-revalidate"))
        .content_type("application/jwk-set+json; charset=utf-8")
        .body(body.to_string())
}

fn invalid_token(state: &AppState) -> OAuthError {
    OAuthError::new(401, "invalid_token", "invalid token provided").with_www_authenticate(format!(
        "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"invalid token provided\"",
        state.issuer
    ))
}

/// `GET`/`POST /oidc/me`.
pub(crate) async fn userinfo(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    state.count(|c| c.userinfo_hits += 1);
    if let Some(resp) = apply_fault(&state, Endpoint::UserInfo).await {
        return resp;
    }
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = match from_header {
        Some(t) => t,
        None => match parse_body(&req, &body)
            .ok()
            .and_then(|p| param(&p, "access_token").map(str::to_owned))
        {
            Some(t) => t,
            None => {
                return OAuthError::new(401, "invalid_token", "no access token provided")
                    .with_www_authenticate(format!("Bearer realm=\"{}\"", state.issuer))
                    .response();
            }
        },
    };
    let found = {
        let store = state.store();
        store.access_tokens.get(&token).and_then(|t| {
            let live = t.expires > Instant::now()
                && store.grants.get(&t.grant_id).is_some_and(|g| !g.revoked);
            live.then(|| (t.clone(), store.grants.get(&t.grant_id).cloned()))
        })
    };
    let Some((access, Some(grant))) = found else {
        // Unknown, expired, revoked, or a JWT access token (which has an audience).
        return invalid_token(&state).response();
    };
    if !access.scopes.iter().any(|s| s == "openid") {
        return OAuthError::new(
            403,
            "insufficient_scope",
            "access token missing 'openid' scope",
        )
        .with_scope("openid")
        .response();
    }
    let Some(user) = state.directory().seed.user(&grant.user_id).cloned() else {
        return invalid_token(&state).response();
    };
    let claims = claims::user_claims(&state, &user, &access.scopes, Target::UserInfo);
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .content_type("application/json; charset=utf-8")
        .body(Value::Object(claims).to_string())
}

/// `POST /oidc/token/revocation`.
pub(crate) async fn revocation(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(resp) = apply_fault(&state, Endpoint::Revocation).await {
        return resp;
    }
    let result = require_form(&req, &body)
        .and_then(|()| parse_body(&req, &body))
        .and_then(|params| {
            let app = authenticate(&state, &req, &params)?;
            let token = param(&params, "token")
                .ok_or_else(|| OAuthError::invalid_request("missing required parameter 'token'"))?;
            if decode_unverified(token).is_some() {
                return Err(OAuthError::new(
                    400,
                    "unsupported_token_type",
                    "Structured JWT Tokens cannot be revoked via the revocation_endpoint",
                ));
            }
            let mut store = state.store();
            let grant_id = store
                .refresh_tokens
                .get(token)
                .map(|t| t.grant_id.clone())
                .or_else(|| {
                    store
                        .access_tokens
                        .get(token)
                        .filter(|t| t.client_id == app.id)
                        .map(|t| t.grant_id.clone())
                });
            if let Some(grant_id) = grant_id
                && store
                    .grants
                    .get(&grant_id)
                    .is_some_and(|g| g.client_id == app.id)
            {
                store.revoke_grant(&grant_id);
            }
            Ok(())
        });
    match result {
        Ok(()) => {
            state.count(|c| c.revocations += 1);
            HttpResponse::Ok().finish()
        }
        Err(e) => e.response(),
    }
}

/// `POST /oidc/token/introspection`: `{active: false}` or the opaque token's details.
pub(crate) async fn introspection(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = require_form(&req, &body)
        .and_then(|()| parse_body(&req, &body))
        .and_then(|params| {
        let app = authenticate(&state, &req, &params)?;
        let token = param(&params, "token")
            .ok_or_else(|| OAuthError::invalid_request("missing required parameter 'token'"))?;
        if decode_unverified(token).is_some() {
            return Err(OAuthError::new(
                400,
                "unsupported_token_type",
                "Structured JWT Tokens cannot be introspected via the introspection_endpoint",
            ));
        }
        let store = state.store();
        let Some(t) = store.access_tokens.get(token).filter(|t| {
            t.client_id == app.id
                && t.expires > Instant::now()
                && store.grants.get(&t.grant_id).is_some_and(|g| !g.revoked)
        }) else {
            return Ok(json!({ "active": false }));
        };
        let sub = store
            .grants
            .get(&t.grant_id)
            .map(|g| g.user_id.clone())
            .unwrap_or_default();
        let now = crate::state::now_secs();
        let remaining = i64::try_from(
            t.expires
                .saturating_duration_since(Instant::now())
                .as_secs(),
        )
        .unwrap_or_default();
        Ok(json!({
            "active": true, "client_id": t.client_id, "exp": now + remaining, "iat": now,
            "iss": state.issuer, "scope": t.scopes.join(" "), "sub": sub, "token_type": "Bearer",
        }))
    });
    match result {
        Ok(v) => json_response(&v),
        Err(e) => e.response(),
    }
}

/// `GET`/`POST /oidc/session/end`: checks the request and answers, like Logto, 200 with a
/// page that submits itself to `/oidc/session/end/confirm`, where the session ends.
pub(crate) async fn end_session(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    query: web::Query<Params>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(resp) = apply_fault(&state, Endpoint::EndSession).await {
        return resp;
    }
    let mut params = query.into_inner();
    if let Ok(form) = parse_body(&req, &body) {
        params.extend(form);
    }
    let hint_aud = param(&params, "id_token_hint")
        .and_then(decode_unverified)
        .and_then(|(_, p)| p.get("aud").and_then(Value::as_str).map(str::to_owned));
    let client_id = match (param(&params, "client_id"), hint_aud.as_deref()) {
        (Some(c), Some(aud)) if c != aud => {
            return OAuthError::invalid_request(
                "client_id does not match the provided id_token_hint",
            )
            .response();
        }
        (Some(c), _) => Some(c.to_owned()),
        (None, aud) => aud.map(str::to_owned),
    };
    let mut target = format!("{}/session/end/success", state.issuer);
    if let Some(client_id) = &client_id {
        let Some(app) = state.seed.application(client_id) else {
            return OAuthError::new(400, "invalid_client", format!("invalid client {client_id}"))
                .response();
        };
        if let Some(uri) = param(&params, "post_logout_redirect_uri") {
            if !app
                .post_logout_redirect_uris
                .iter()
                .any(|r| uri_matches(r, uri))
            {
                return OAuthError::invalid_request("post_logout_redirect_uri not registered")
                    .response();
            }
            let mut url = match url::Url::parse(uri) {
                Ok(u) => u,
                Err(_) => {
                    return OAuthError::invalid_request("post_logout_redirect_uri not registered")
                        .response();
                }
            };
            if let Some(s) = param(&params, "state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            target = url.to_string();
        }
    }

    // Only the browser's own session is ended (an ID token hint names the client, not the
    // session to end), once the page below has been submitted.
    let xsrf = random_token();
    {
        let mut store = state.store();
        let now = Instant::now();
        store.logouts.retain(|_, l| l.expires > now);
        let session_key = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|k| store.sessions.contains_key(k));
        store.logouts.insert(
            xsrf.clone(),
            PendingLogout {
                session_key,
                target,
                expires: now + Duration::from_secs(3600),
            },
        );
    }
    let action = format!("{}/session/end/confirm", state.issuer);
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign Out</title></head>\n\
<body onload=\"document.forms[0].submit()\">\n\
<p>logto-dev (development only): signing you out.</p>\n\
<form method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"xsrf\" value=\"{xsrf}\">\n\
<input type=\"hidden\" name=\"logout\" value=\"yes\">\n\
<noscript><button type=\"submit\">Continue</button></noscript>\n\
</form>\n</body></html>\n",
        action = html_escape(&action),
        xsrf = html_escape(&xsrf),
    );
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// `POST /oidc/session/end/confirm`: ends the session the end-session page was shown for,
/// sends back-channel logout tokens and answers 303 to the post-logout redirect URI.
pub(crate) async fn end_session_confirm(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = parse_body(&req, &body).unwrap_or_default();
    let pending = param(&params, "xsrf").and_then(|x| state.store().logouts.remove(x));
    let Some(pending) = pending.filter(|p| p.expires > Instant::now()) else {
        return OAuthError::invalid_request("could not find logout details").response();
    };
    let session = {
        let mut store = state.store();
        let session = pending
            .session_key
            .as_ref()
            .and_then(|k| store.sessions.remove(k));
        if let Some(session) = &session {
            // Grants without offline_access end with the session; offline ones survive.
            let ended: Vec<String> = store
                .grants
                .iter()
                .filter(|(_, g)| g.sid == session.sid && !g.offline())
                .map(|(id, _)| id.clone())
                .collect();
            for id in ended {
                store.revoke_grant(&id);
            }
        }
        session
    };
    if let Some(session) = session {
        state.count(|c| c.end_sessions += 1);
        let targets: Vec<(String, String)> = session
            .clients
            .iter()
            .map(|(c, r)| (c.clone(), r.clone()))
            .collect();
        backchannel::send(&state, &session.user_id, &session.sid, &targets).await;
    }
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, pending.target))
        .insert_header(("cache-control", "no-store"))
        .finish();
    let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    removal.make_removal();
    if let Err(e) = resp.add_cookie(&removal) {
        tracing::warn!(error = %e, "cannot clear the session cookie");
    }
    resp
}

/// `GET /oidc/session/end/success`.
pub(crate) async fn end_session_success() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body("<!doctype html><html><body><p>logto-dev (development only): you are signed out.</p></body></html>\n")
}

/// Any other route under `/oidc`: 404 `invalid_request`, like Logto.
pub(crate) async fn unrecognized(req: HttpRequest) -> HttpResponse {
    OAuthError::new(
        404,
        "invalid_request",
        format!(
            "unrecognized route or not allowed method ({} on {})",
            req.method(),
            req.path().strip_prefix("/oidc").unwrap_or(req.path())
        ),
    )
    .response()
}
