//! `/oidc/auth`, the sign-in screens and the simulated enterprise SSO page.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::claims::OIDC_SCOPES;
use crate::directory::OneTimeTokenError;
use crate::error::OAuthError;
use crate::keys::{b64, random_token};
use crate::state::{
    AppState, AuthRequest, Code, Endpoint, Grant, Interaction, Session, uri_matches,
};

pub(crate) const SESSION_COOKIE: &str = "_session";
pub(crate) const RESERVED_ORGANIZATION_RESOURCE: &str = "urn:logto:resource:organizations";

type Params = Vec<(String, String)>;

fn first<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Applies an injected delay or failure to the next response of `endpoint`.
pub(crate) async fn apply_fault(state: &AppState, endpoint: Endpoint) -> Option<HttpResponse> {
    let fault = state.take_fault(endpoint);
    if let Some(delay) = fault.delay {
        tokio::time::sleep(delay).await;
    }
    fault.status.map(|status| {
        let error = if status >= 500 {
            "server_error"
        } else {
            "invalid_request"
        };
        OAuthError::new(status, error, "failure injected by logto-dev").response()
    })
}

fn page(status: u16, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · logto-dev</title>\
<style>body{{font-family:sans-serif;max-width:28rem;margin:3rem auto}}.dev{{background:#fee;border:1px solid #c33;padding:.5rem}}\
.error{{color:#b00}}label{{display:block;margin:.5rem 0}}</style></head><body>\n\
<p class=\"dev\">logto-dev — a development and test identity provider. Never use it in production.</p>\n\
<h1>{title}</h1>\n{body}\n</body></html>\n",
        title = html_escape(title)
    );
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .insert_header(("cache-control", "no-store"))
    .content_type("text/html; charset=utf-8")
    .body(html)
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .insert_header(("cache-control", "no-store"))
        .finish()
}

/// Builds `redirect_uri?…&iss=…` (RFC 9207) for a response to the client.
fn client_redirect(
    state: &AppState,
    redirect_uri: &str,
    fragment: bool,
    pairs: &[(&str, Option<&str>)],
) -> HttpResponse {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            ser.append_pair(k, v);
        }
    }
    ser.append_pair("iss", &state.issuer);
    let encoded = ser.finish();
    let location = if fragment {
        format!("{redirect_uri}#{encoded}")
    } else if redirect_uri.contains('?') {
        format!("{redirect_uri}&{encoded}")
    } else {
        format!("{redirect_uri}?{encoded}")
    };
    redirect(&location)
}

fn redirect_error(
    state: &AppState,
    redirect_uri: &str,
    client_state: Option<&str>,
    error: &str,
    description: &str,
) -> HttpResponse {
    client_redirect(
        state,
        redirect_uri,
        false,
        &[
            ("error", Some(error)),
            ("error_description", Some(description)),
            ("state", client_state),
        ],
    )
}

fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    valid_pkce_value(verifier) && b64(&Sha256::digest(verifier.as_bytes())) == challenge
}

/// Logto's extra parameters. Logto checks only `first_screen` and `interaction_mode`
/// against their enumerations (any other value is taken as a string); one invalid value
/// makes it ignore all of them.
struct Extra {
    first_screen: Option<String>,
    direct_sign_in: Option<String>,
    login_hint: Option<String>,
    one_time_token: Option<String>,
}

fn extra_params(params: &Params) -> Extra {
    let first_screen = first(params, "first_screen");
    let interaction_mode = first(params, "interaction_mode");
    let valid_first = first_screen.is_none_or(|v| {
        matches!(
            v,
            "sign_in"
                | "register"
                | "reset_password"
                | "identifier:sign_in"
                | "identifier:register"
                | "single_sign_on"
                | "signIn"
        )
    });
    let valid_mode = interaction_mode.is_none_or(|v| matches!(v, "signIn" | "signUp"));
    if !(valid_first && valid_mode) {
        tracing::info!("an invalid Logto extra parameter: ignoring all of them (as Logto does)");
        return Extra {
            first_screen: None,
            direct_sign_in: None,
            login_hint: None,
            one_time_token: None,
        };
    }
    let first_screen = first_screen
        .map(str::to_owned)
        .or_else(|| (interaction_mode == Some("signUp")).then(|| "register".to_owned()));
    Extra {
        first_screen,
        direct_sign_in: first(params, "direct_sign_in").map(str::to_owned),
        login_hint: first(params, "login_hint").map(str::to_owned),
        one_time_token: first(params, "one_time_token").map(str::to_owned),
    }
}

fn screen_path(first_screen: Option<&str>) -> &'static str {
    match first_screen {
        Some("register") => "/register",
        Some("reset_password") => "/reset-password",
        Some("identifier:sign_in") => "/identifier-sign-in",
        Some("identifier:register") => "/identifier-register",
        Some("single_sign_on") => "/single-sign-on",
        _ => "/sign-in",
    }
}

fn session_of(state: &AppState, req: &HttpRequest) -> Option<(String, Session)> {
    let cookie = req.cookie(SESSION_COOKIE)?;
    let store = state.store();
    store
        .sessions
        .get(cookie.value())
        .map(|s| (cookie.value().to_owned(), s.clone()))
}

/// `GET /oidc/auth` (POST is forwarded to it, like Logto).
pub(crate) async fn authorize(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    query: web::Query<Params>,
    form: Option<web::Form<Params>>,
) -> HttpResponse {
    if let Some(resp) = apply_fault(&state, Endpoint::Auth).await {
        return resp;
    }
    let mut params = query.into_inner();
    if let Some(form) = form {
        params.extend(form.into_inner());
    }
    match authorize_inner(&state, &req, &params) {
        Ok(resp) | Err(resp) => resp,
    }
}

// Both arms are complete responses; boxing them would only add noise.
#[allow(clippy::result_large_err)]
fn authorize_inner(
    state: &AppState,
    req: &HttpRequest,
    params: &Params,
) -> Result<HttpResponse, HttpResponse> {
    // Errors before the redirect URI is trusted are answered directly, never redirected;
    // like Logto, the JSON body echoes `state` and names the issuer.
    let direct = |e: OAuthError| {
        let e = match first(params, "state") {
            Some(s) => e.with_field("state", s),
            None => e,
        };
        e.with_field("iss", state.issuer.clone()).response()
    };
    let Some(client_id) = first(params, "client_id") else {
        return Err(direct(OAuthError::invalid_request(
            "missing required parameter 'client_id'",
        )));
    };
    let Some(app) = state.seed.application(client_id) else {
        return Err(direct(OAuthError::new(
            400,
            "invalid_client",
            format!("invalid client {client_id}"),
        )));
    };
    let redirect_uri = match first(params, "redirect_uri") {
        Some(uri) => uri.to_owned(),
        None => match app.redirect_uris.as_slice() {
            [only] if !only.contains(":*") => only.clone(),
            _ => {
                return Err(direct(OAuthError::invalid_request(
                    "missing required parameter 'redirect_uri'",
                )));
            }
        },
    };
    if !app
        .redirect_uris
        .iter()
        .any(|r| uri_matches(r, &redirect_uri))
    {
        return Err(direct(OAuthError::new(
            400,
            "invalid_redirect_uri",
            "redirect_uri did not match any of the client's registered redirect_uris",
        )));
    }
    let client_state = first(params, "state");
    let fail = |error: &str, description: &str| {
        redirect_error(state, &redirect_uri, client_state, error, description)
    };

    match first(params, "response_type") {
        Some("code") => {}
        Some(other) => {
            // Response types that return tokens default to the fragment response mode, so
            // Logto answers this error in the fragment.
            let fragment = other.split(' ').any(|t| t == "token" || t == "id_token");
            return Err(client_redirect(
                state,
                &redirect_uri,
                fragment,
                &[
                    ("error", Some("unsupported_response_type")),
                    (
                        "error_description",
                        Some("unsupported response_type requested"),
                    ),
                    ("state", client_state),
                ],
            ));
        }
        None => {
            return Err(fail(
                "invalid_request",
                "missing required parameter 'response_type'",
            ));
        }
    }
    let prompt: Vec<String> = first(params, "prompt")
        .map(|p| {
            p.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if prompt
        .iter()
        .any(|p| !matches!(p.as_str(), "none" | "login" | "consent"))
    {
        return Err(fail(
            "invalid_request",
            "unsupported prompt value requested",
        ));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(fail(
            "invalid_request",
            "prompt none must only be used alone",
        ));
    }
    // Logto requires PKCE from every client except those authenticating with
    // `client_secret_basic` (Traditional web apps), for which it stays optional.
    let code_challenge = first(params, "code_challenge");
    match code_challenge {
        None if !app.app_type.is_confidential() => {
            return Err(fail(
                "invalid_request",
                "Authorization Server policy requires PKCE to be used for this request",
            ));
        }
        None => {}
        Some(challenge) => {
            if first(params, "code_challenge_method") != Some("S256") {
                return Err(fail(
                    "invalid_request",
                    "not supported value of code_challenge_method",
                ));
            }
            if !valid_pkce_value(challenge) {
                return Err(fail("invalid_request", "code_challenge is invalid"));
            }
        }
    }
    let consent = prompt.iter().any(|p| p == "consent");
    let mut scopes: Vec<String> = Vec::new();
    for s in first(params, "scope").unwrap_or("").split_whitespace() {
        if s == "offline_access" && !consent {
            // Logto (oidc-provider) silently drops offline_access without prompt=consent.
            continue;
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    let mut resources: Vec<String> = Vec::new();
    for (_, value) in params.iter().filter(|(k, _)| k == "resource") {
        for r in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            if r != RESERVED_ORGANIZATION_RESOURCE && state.seed.resource(r).is_none() {
                return Err(fail(
                    "invalid_target",
                    "resource indicator is missing, or unknown",
                ));
            }
            if !resources.iter().any(|x| x == r) {
                resources.push(r.to_owned());
            }
        }
    }
    let extra = extra_params(params);
    let request = AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: client_state.map(str::to_owned),
        nonce: first(params, "nonce").map(str::to_owned),
        code_challenge: code_challenge.map(str::to_owned),
        resources,
        prompt,
        max_age: first(params, "max_age").and_then(|v| v.parse().ok()),
        login_hint: extra.login_hint,
        one_time_token: extra.one_time_token,
        first_screen: extra.first_screen,
        direct_sign_in: extra.direct_sign_in,
        response_mode_fragment: first(params, "response_mode") == Some("fragment"),
    };

    let session = session_of(state, req);
    let wants_login = request.prompt.iter().any(|p| p == "login");
    let max_age_exceeded = match (&session, request.max_age) {
        (Some((_, s)), Some(max_age)) => {
            crate::state::now_secs() - s.auth_time > i64::try_from(max_age).unwrap_or(i64::MAX)
        }
        _ => false,
    };
    if request.prompt.iter().any(|p| p == "none") {
        return match session {
            Some((cookie, s)) if !max_age_exceeded => {
                Ok(issue_code(state, request, &cookie, &s.user_id, None))
            }
            _ => Err(fail(
                "login_required",
                "End-User authentication is required",
            )),
        };
    }
    // `one_time_token` with `login_hint` (the email): Logto's sign-in page goes to its
    // one-time-token page, which signs that person in (or up) without a password.
    let one_time = request.one_time_token.is_some() && request.login_hint.is_some();
    if let Some((cookie, s)) = &session
        && !wants_login
        && !max_age_exceeded
        && !one_time
    {
        return Ok(issue_code(state, request, cookie, &s.user_id, None));
    }

    let uid = random_token();
    let app_id: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    if one_time {
        state.store().interactions.insert(
            uid.clone(),
            Interaction {
                request,
                expires: Instant::now() + Duration::from_secs(3600),
            },
        );
        return Ok(redirect(&format!(
            "/one-time-token?app_id={app_id}&interaction={uid}"
        )));
    }
    // Only `sso:<connector>` has a page here; any other `direct_sign_in` (a social
    // connector, a malformed value) ends on the first screen, where Logto's sign-in page
    // falls back to as well.
    let location = match request
        .direct_sign_in
        .as_deref()
        .and_then(|d| d.split_once(':'))
    {
        Some(("sso", target)) if !target.is_empty() => format!(
            "/direct/sso/{}?app_id={app_id}&interaction={uid}&fallback={}",
            url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>(),
            screen_path(request.first_screen.as_deref()).trim_start_matches('/')
        ),
        _ => format!(
            "{}?app_id={app_id}&interaction={uid}",
            screen_path(request.first_screen.as_deref())
        ),
    };
    state.store().interactions.insert(
        uid,
        Interaction {
            request,
            expires: Instant::now() + Duration::from_secs(3600),
        },
    );
    Ok(redirect(&location))
}

/// The scopes a grant holds, as Logto accepts them at sign-in: the OIDC scopes requested,
/// plus each requested permission the user holds on a requested resource (for
/// `urn:logto:resource:organizations`: any organization permission of the tenant). Other
/// scopes are dropped silently, so an organization token can only carry permissions when
/// the organizations resource was requested at sign-in.
fn granted_scopes(state: &AppState, request: &AuthRequest, user_id: &str) -> Vec<String> {
    let mut available: Vec<String> = Vec::new();
    for resource in &request.resources {
        if resource == RESERVED_ORGANIZATION_RESOURCE {
            available.extend(
                state
                    .seed
                    .organization_roles
                    .iter()
                    .flat_map(|r| r.permissions.iter().cloned()),
            );
        } else {
            available.extend(state.directory().seed.resource_scopes(user_id, resource));
        }
    }
    request
        .scopes
        .iter()
        .filter(|s| OIDC_SCOPES.contains(&s.as_str()) || available.contains(s))
        .cloned()
        .collect()
}

/// Creates (or reuses) the session, a grant and a code; answers the redirect to the client.
fn issue_code(
    state: &AppState,
    request: AuthRequest,
    cookie: &str,
    user_id: &str,
    new_session_sid: Option<String>,
) -> HttpResponse {
    let now = crate::state::now_secs();
    let code = random_token();
    let grant_id = random_token();
    let granted = granted_scopes(state, &request, user_id);
    {
        let mut store = state.store();
        if let Some(sid) = new_session_sid {
            store.sessions.insert(
                cookie.to_owned(),
                Session {
                    sid,
                    user_id: user_id.to_owned(),
                    clients: BTreeMap::new(),
                    auth_time: now,
                },
            );
        }
        let Some(session) = store.sessions.get_mut(cookie) else {
            return OAuthError::new(500, "server_error", "session vanished").response();
        };
        session
            .clients
            .insert(request.client_id.clone(), request.redirect_uri.clone());
        let sid = session.sid.clone();
        let auth_time = (request.max_age.is_some() || request.prompt.iter().any(|p| p == "login"))
            .then_some(session.auth_time);
        store.grants.insert(
            grant_id.clone(),
            Grant {
                client_id: request.client_id.clone(),
                user_id: user_id.to_owned(),
                sid,
                scopes: granted,
                resources: request.resources.clone(),
                nonce: request.nonce.clone(),
                auth_time,
                redirect_uri: request.redirect_uri.clone(),
                revoked: false,
            },
        );
        store.codes.insert(
            code.clone(),
            Code {
                grant_id,
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                expires: Instant::now() + state.settings.code_ttl,
                used: false,
            },
        );
    }
    let mut resp = client_redirect(
        state,
        &request.redirect_uri,
        request.response_mode_fragment,
        &[("code", Some(&code)), ("state", request.state.as_deref())],
    );
    let cookie = Cookie::build(SESSION_COOKIE, cookie.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    if let Err(e) = resp.add_cookie(&cookie) {
        tracing::warn!(error = %e, "cannot set the session cookie");
    }
    resp
}

#[derive(serde::Deserialize)]
pub(crate) struct ScreenQuery {
    interaction: Option<String>,
}

fn interaction_request(state: &AppState, uid: &str) -> Option<AuthRequest> {
    let mut store = state.store();
    let now = Instant::now();
    store.interactions.retain(|_, i| i.expires > now);
    store.interactions.get(uid).map(|i| i.request.clone())
}

fn expired_page() -> HttpResponse {
    page(
        400,
        "Session expired",
        "<p class=\"error\">This sign-in request is unknown or has expired. Start again from the application.</p>",
    )
}

fn screen_title(screen: &str) -> &'static str {
    match screen {
        "register" => "Create your account",
        "reset_password" => "Reset your password",
        "identifier:sign_in" => "Sign in with your identifier",
        "identifier:register" => "Register with your identifier",
        "single_sign_on" => "Single sign-on",
        _ => "Sign in",
    }
}

fn sign_in_form(
    state: &AppState,
    uid: &str,
    request: &AuthRequest,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let screen = request.first_screen.as_deref().unwrap_or("sign_in");
    let app_name = state
        .seed
        .application(&request.client_id)
        .map_or(request.client_id.as_str(), |a| a.name.as_str());
    let error_html = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", html_escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<p>to continue to <strong>{app}</strong></p>\n{error_html}\
<form method=\"post\" action=\"/interaction/submit\" data-first-screen=\"{screen}\">\n\
<input type=\"hidden\" name=\"interaction\" value=\"{uid}\">\n\
<label>Username <input type=\"text\" name=\"username\" value=\"{username}\" autocomplete=\"username\" autofocus></label>\n\
<label>Password <input type=\"password\" name=\"password\" value=\"\" autocomplete=\"current-password\"></label>\n\
<button type=\"submit\">Sign in</button>\n</form>",
        app = html_escape(app_name),
        screen = html_escape(screen),
        uid = html_escape(uid),
        username = html_escape(username),
    );
    page(
        if error.is_some() { 400 } else { 200 },
        screen_title(screen),
        &body,
    )
}

/// The first screens (`/sign-in`, `/register`, …): a plain username + password form.
pub(crate) async fn screen(
    state: web::Data<Arc<AppState>>,
    query: web::Query<ScreenQuery>,
) -> HttpResponse {
    let Some(uid) = query.interaction.as_deref() else {
        return expired_page();
    };
    let Some(request) = interaction_request(&state, uid) else {
        return expired_page();
    };
    let hint = request.login_hint.clone().unwrap_or_default();
    sign_in_form(&state, uid, &request, &hint, None)
}

#[derive(serde::Deserialize)]
pub(crate) struct SubmitForm {
    interaction: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn complete_interaction(
    state: &AppState,
    req: &HttpRequest,
    uid: &str,
    user_id: &str,
) -> HttpResponse {
    let Some(interaction) = state.store().interactions.remove(uid) else {
        return expired_page();
    };
    state.count(|c| c.sign_ins += 1);
    // Logto stamps the user's `updated_at` (milliseconds) at every sign-in.
    state
        .store()
        .updated_at
        .insert(user_id.to_owned(), crate::state::now_millis());
    // Reuse the browser session when the same user signs in again; otherwise start a new one.
    let existing = session_of(state, req).filter(|(_, s)| s.user_id == user_id);
    match existing {
        Some((cookie, _)) => issue_code(state, interaction.request, &cookie, user_id, None),
        None => {
            if let Some((old, _)) = session_of(state, req) {
                state.store().sessions.remove(&old);
            }
            issue_code(
                state,
                interaction.request,
                &random_token(),
                user_id,
                Some(random_token()),
            )
        }
    }
}

/// `POST /interaction/submit`: checks the password; a wrong one re-renders the form.
pub(crate) async fn submit(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    form: web::Form<SubmitForm>,
) -> HttpResponse {
    let Some(request) = interaction_request(&state, &form.interaction) else {
        return expired_page();
    };
    // Users signed up through a one-time token have no username and no password.
    let user_id = state
        .directory()
        .seed
        .user_by_username(form.username.trim())
        .filter(|u| !u.password.is_empty() && u.password == form.password)
        .map(|u| u.id.clone());
    match user_id {
        Some(user_id) => complete_interaction(&state, &req, &form.interaction, &user_id),
        None => sign_in_form(
            &state,
            &form.interaction,
            &request,
            &form.username,
            Some("Invalid username or password. Try again."),
        ),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct DirectQuery {
    interaction: Option<String>,
    fallback: Option<String>,
}

/// `GET /direct/sso/{connector}`: the visible intermediate page of a simulated enterprise SSO.
pub(crate) async fn direct_sso(
    state: web::Data<Arc<AppState>>,
    path: web::Path<String>,
    query: web::Query<DirectQuery>,
) -> HttpResponse {
    let Some(uid) = query.interaction.as_deref() else {
        return expired_page();
    };
    if interaction_request(&state, uid).is_none() {
        return expired_page();
    }
    let connector_id = path.into_inner();
    let Some((org, connector)) = state.seed.connector(&connector_id) else {
        // Unknown connector: Logto falls back to the first screen.
        let fallback = query.fallback.as_deref().unwrap_or("sign-in");
        let fallback = match fallback {
            "register"
            | "reset-password"
            | "identifier-sign-in"
            | "identifier-register"
            | "single-sign-on" => fallback,
            _ => "sign-in",
        };
        return redirect(&format!("/{fallback}?interaction={uid}"));
    };
    let body = format!(
        "<p>Redirecting you to <strong>{name}</strong>, the enterprise identity provider of \
<strong>{org}</strong> (simulated by logto-dev).</p>\n\
<form method=\"post\" action=\"/direct/sso/{id}\" data-direct-sign-in=\"sso:{id}\">\n\
<input type=\"hidden\" name=\"interaction\" value=\"{uid}\">\n\
<button type=\"submit\">Continue with {name}</button>\n</form>",
        name = html_escape(&connector.name),
        org = html_escape(&org.name),
        id = html_escape(&connector.id),
        uid = html_escape(uid),
    );
    page(200, "Single sign-on", &body)
}

#[derive(serde::Deserialize)]
pub(crate) struct DirectForm {
    interaction: String,
}

/// `POST /direct/sso/{connector}`: signs in the connector's seeded user.
pub(crate) async fn direct_sso_submit(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<DirectForm>,
) -> HttpResponse {
    let Some((_, connector)) = state.seed.connector(&path) else {
        return page(
            400,
            "Single sign-on",
            "<p class=\"error\">Unknown connector.</p>",
        );
    };
    let user_id = connector.user_id.clone();
    complete_interaction(&state, &req, &form.interaction, &user_id)
}

/// `GET /one-time-token`: Logto's one-time-token page, without the script. It checks the
/// token against `login_hint` (exact email; not expired, consumed or revoked), consumes it,
/// signs in the user with that primary email — or signs one up with only that email — adds
/// them to the token's `jitOrganizationIds`, and redirects to the client like a sign-in.
/// A token already consumed still signs in a browser whose session is that user's (Logto's
/// consent guard). On failure it shows Logto's message, as its error page does.
pub(crate) async fn one_time_token(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    query: web::Query<ScreenQuery>,
) -> HttpResponse {
    let Some(uid) = query.interaction.as_deref() else {
        return expired_page();
    };
    let Some(request) = interaction_request(&state, uid) else {
        return expired_page();
    };
    let (Some(token), Some(email)) = (&request.one_time_token, &request.login_hint) else {
        return expired_page();
    };
    let now = crate::state::now_millis();
    let outcome = {
        let mut directory = state.directory_mut();
        directory
            .consume_one_time_token(token, email, now)
            .map(|ott| {
                let user_id = match directory.user_by_email(email) {
                    Some(u) => u.id.clone(),
                    None => directory.register_by_email(email, now),
                };
                for org in &ott.jit_organization_ids {
                    directory.add_member(org, &user_id);
                }
                user_id
            })
    };
    let user_id = match outcome {
        Ok(user_id) => user_id,
        Err(OneTimeTokenError::Consumed) => {
            // Logto's consent guard lets a consumed token through for the same person.
            let session_user = session_of(&state, &req).map(|(_, s)| s.user_id);
            let same = session_user.filter(|id| {
                state
                    .directory()
                    .seed
                    .user(id)
                    .and_then(|u| u.email.as_deref())
                    .is_some_and(|e| e == email)
            });
            match same {
                Some(id) => id,
                None => return one_time_token_error(OneTimeTokenError::Consumed),
            }
        }
        Err(e) => return one_time_token_error(e),
    };
    complete_interaction(&state, &req, uid, &user_id)
}

fn one_time_token_error(e: OneTimeTokenError) -> HttpResponse {
    page(
        400,
        "Sign in with a one-time token",
        &format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            html_escape(&e.to_string())
        ),
    )
}
