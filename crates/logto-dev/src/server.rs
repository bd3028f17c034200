//! The HTTP server, the [`DevIdp`] handle and the optional admin routes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;

use crate::directory::InvitationMessage;
use crate::error::Error;
use crate::seed::Seed;
use crate::settings::Settings;
use crate::state::{AppState, Counters, Endpoint};
use crate::{auth, backchannel, management, oidc, token};

/// The warning every start-up prints.
pub const DEVELOPMENT_ONLY_WARNING: &str = "logto-dev is a DEVELOPMENT AND TEST identity provider. \
It is NOT Logto and must NEVER be used as a production identity provider.";

/// Handle on a running logto-dev instance.
#[derive(Clone)]
pub struct DevIdp {
    state: Arc<AppState>,
    handle: ServerHandle,
    addr: SocketAddr,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp")
            .field("endpoint", &self.state.endpoint.as_str())
            .field("addr", &self.addr)
            .finish()
    }
}

/// Starts logto-dev with the demo seed and default settings on a free
/// loopback port: what the quick starts and most tests need.
///
/// ```no_run
/// # async fn run() -> Result<(), logto_dev::Error> {
/// let idp = logto_dev::serve_demo().await?;
/// println!("LOGTO_ENDPOINT={}", idp.endpoint());
/// # Ok(()) }
/// ```
pub async fn serve_demo() -> Result<DevIdp, Error> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    serve(Seed::demo(), Settings::default(), loopback).await
}

/// Starts logto-dev on `bind` (port 0 picks a free port) and returns once it accepts
/// connections. The server runs on the current Tokio runtime until [`DevIdp::stop`].
pub async fn serve(seed: Seed, settings: Settings, bind: SocketAddr) -> Result<DevIdp, Error> {
    let listener = std::net::TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let endpoint = match &settings.endpoint {
        Some(e) => e.clone(),
        None => {
            let host = if addr.ip().is_unspecified() {
                "127.0.0.1".to_owned()
            } else {
                match addr {
                    SocketAddr::V4(a) => a.ip().to_string(),
                    SocketAddr::V6(a) => format!("[{}]", a.ip()),
                }
            };
            url::Url::parse(&format!("http://{host}:{}", addr.port()))?
        }
    };
    let signing = settings.signing;
    // RSA key generation is slow: keep it off the async threads.
    let state = Arc::new(
        tokio::task::spawn_blocking(move || AppState::new(seed, settings, endpoint))
            .await
            .map_err(|e| Error::KeyGeneration(e.to_string()))??,
    );
    tracing::warn!("{DEVELOPMENT_ONLY_WARNING}");
    tracing::info!(endpoint = %state.endpoint, issuer = %state.issuer, ?signing, "logto-dev listening");

    let data = web::Data::new(state.clone());
    let admin = state.settings.enable_admin_routes;
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(data.clone())
            .app_data(web::FormConfig::default().limit(56 * 1024))
            .route(
                "/oidc/.well-known/openid-configuration",
                web::get().to(oidc::discovery),
            )
            .route(
                "/oidc/.well-known/oauth-authorization-server",
                web::get().to(oidc::discovery),
            )
            .route("/oidc/jwks", web::get().to(oidc::jwks))
            .route("/oidc/auth", web::get().to(auth::authorize))
            .route("/oidc/auth", web::post().to(auth::authorize))
            .route("/oidc/token", web::post().to(token::token))
            .route("/oidc/me", web::get().to(oidc::userinfo))
            .route("/oidc/me", web::post().to(oidc::userinfo))
            .route("/oidc/token/revocation", web::post().to(oidc::revocation))
            .route(
                "/oidc/token/introspection",
                web::post().to(oidc::introspection),
            )
            .route("/oidc/session/end", web::get().to(oidc::end_session))
            .route("/oidc/session/end", web::post().to(oidc::end_session))
            .route(
                "/oidc/session/end/confirm",
                web::post().to(oidc::end_session_confirm),
            )
            .route(
                "/oidc/session/end/success",
                web::get().to(oidc::end_session_success),
            )
            .route("/sign-in", web::get().to(auth::screen))
            .route("/register", web::get().to(auth::screen))
            .route("/reset-password", web::get().to(auth::screen))
            .route("/identifier-sign-in", web::get().to(auth::screen))
            .route("/identifier-register", web::get().to(auth::screen))
            .route("/single-sign-on", web::get().to(auth::screen))
            .route("/interaction/submit", web::post().to(auth::submit))
            .route("/one-time-token", web::get().to(auth::one_time_token))
            .route("/direct/sso/{connector}", web::get().to(auth::direct_sso))
            .route(
                "/direct/sso/{connector}",
                web::post().to(auth::direct_sso_submit),
            )
            .route("/", web::get().to(banner));
        if admin {
            app = app.service(admin_scope());
        }
        app.service(management::scope())
            .service(web::scope("/oidc").default_service(web::to(oidc::unrecognized)))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(DevIdp {
        state,
        handle,
        addr,
    })
}

async fn banner() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "{DEVELOPMENT_ONLY_WARNING}\nOIDC discovery: /oidc/.well-known/openid-configuration\n"
        ))
}

impl DevIdp {
    /// The endpoint (`LOGTO_ENDPOINT`), e.g. `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> url::Url {
        self.state.endpoint.clone()
    }

    /// The issuer: endpoint + `/oidc`, no trailing slash.
    pub fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    /// The socket address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The seed the instance started with. Users and memberships may have changed since
    /// through the Management API; [`DevIdp::organization_roles_of`] reads the live ones.
    pub fn seed(&self) -> &Seed {
        &self.state.seed
    }

    /// The live organization role names of a user in an organization (`None` when not a
    /// member), after whatever the Management API changed.
    pub fn organization_roles_of(
        &self,
        user_id: &str,
        organization_id: &str,
    ) -> Option<Vec<String>> {
        let directory = self.state.directory();
        let org = directory.seed.organization(organization_id)?;
        org.members
            .iter()
            .find(|m| m.user_id == user_id)
            .map(|m| m.roles.clone())
    }

    /// The id of the live user whose primary email is `email` (case-insensitive), e.g. one
    /// signed up through a one-time token.
    pub fn user_id_by_email(&self, email: &str) -> Option<String> {
        self.state
            .directory()
            .user_by_email(email)
            .map(|u| u.id.clone())
    }

    /// **Test-only hook**: moves an organization invitation's `expiresAt` (epoch
    /// milliseconds), e.g. into the past to see it `Expired` without waiting. Returns
    /// whether the invitation exists.
    pub fn set_invitation_expiry(&self, invitation_id: &str, expires_at_ms: i64) -> bool {
        let mut directory = self.state.directory_mut();
        match directory
            .invitations
            .iter_mut()
            .find(|i| i.id == invitation_id)
        {
            Some(invitation) => {
                invitation.expires_at = expires_at_ms;
                true
            }
            None => false,
        }
    }

    /// The invitation emails "sent" so far: logto-dev records an invitation's
    /// `messagePayload` (e.g. `{"link": "…"}`) instead of delivering it.
    pub fn invitation_messages(&self) -> Vec<InvitationMessage> {
        self.state.directory().messages.clone()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.state.counters()
    }

    /// Rotates the signing key: a new current key of the configured algorithm; the previous
    /// key stays in the JWKS (like Logto).
    pub fn rotate_keys(&self) {
        self.rotate_keys_to(self.state.settings.signing);
    }

    /// Rotates to a key of another algorithm (e.g. to test a JWKS with mixed key types).
    pub fn rotate_keys_to(&self, alg: crate::settings::SigningAlg) {
        if let Err(e) = self.state.keys_mut().rotate(alg) {
            tracing::error!(error = %e, "key rotation failed");
        }
    }

    /// The `kid` of the current signing key.
    pub fn current_kid(&self) -> Option<String> {
        self.state.keys().current().map(|k| k.kid.clone())
    }

    /// Makes the next response of `endpoint` fail with `status` (OAuth JSON error body;
    /// `server_error` for 5xx).
    pub fn fail_next(&self, endpoint: Endpoint, status: u16) {
        self.state.set_fault(endpoint, |f| f.status = Some(status));
    }

    /// Delays the next response of `endpoint`.
    pub fn delay_next(&self, endpoint: Endpoint, delay: Duration) {
        self.state.set_fault(endpoint, |f| f.delay = Some(delay));
    }

    /// Sends a back-channel logout token for every session and grant of the user to each
    /// application's back-channel logout URI, and ends those sessions. Returns the number of
    /// tokens delivered; fails with the first delivery error after trying them all.
    pub async fn backchannel_logout(&self, user_sub: &str) -> Result<usize, Error> {
        let targets = collect_logout_targets(&self.state, |user, _sid| user == user_sub);
        deliver_all(&self.state, targets).await
    }

    /// Like [`DevIdp::backchannel_logout`], for one session id (`sid`).
    pub async fn backchannel_logout_sid(&self, sid: &str) -> Result<usize, Error> {
        let targets = collect_logout_targets(&self.state, |_user, s| s == sid);
        deliver_all(&self.state, targets).await
    }

    /// Deletes the user's sessions the way Logto's Management API does
    /// (`DELETE /api/users/{userId}/sessions/{sessionId}`): the browser sessions end (the next
    /// `prompt=none` needs a login) and **no** back-channel logout is sent. Without
    /// `revoke_all_grants` (Logto's default) grants without `offline_access` end and offline
    /// ones survive, so refreshes keep working; with it (`revokeGrantsTarget=all`) every
    /// grant of those sessions ends and the next refresh gets `invalid_grant`. Returns the
    /// number of sessions deleted.
    pub fn delete_sessions_of(&self, user_sub: &str, revoke_all_grants: bool) -> usize {
        let mut store = self.state.store();
        let keys: Vec<String> = store
            .sessions
            .iter()
            .filter(|(_, s)| s.user_id == user_sub)
            .map(|(k, _)| k.clone())
            .collect();
        let mut deleted = 0;
        for key in keys {
            let Some(session) = store.sessions.remove(&key) else {
                continue;
            };
            deleted += 1;
            let ended: Vec<String> = store
                .grants
                .iter()
                .filter(|(_, g)| g.sid == session.sid && (revoke_all_grants || !g.offline()))
                .map(|(id, _)| id.clone())
                .collect();
            for id in ended {
                store.revoke_grant(&id);
            }
        }
        deleted
    }

    /// Revokes every grant of the user (like the admin console): later refreshes get
    /// `invalid_grant`. Sends no back-channel logout, as Logto does not.
    pub fn revoke_grants_of(&self, user_sub: &str) {
        let mut store = self.state.store();
        let ids: Vec<String> = store
            .grants
            .iter()
            .filter(|(_, g)| g.user_id == user_sub)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            store.revoke_grant(&id);
        }
    }

    /// Deletes the session `sid` and revokes its grants, as deleting a user's session through
    /// Logto's Management API does: **no** back-channel logout is sent, and the next refresh
    /// of those grants gets `invalid_grant`. The user's other sessions are untouched. Returns
    /// whether anything had that `sid`.
    pub fn delete_session(&self, sid: &str) -> bool {
        let mut store = self.state.store();
        let before = store.sessions.len();
        store.sessions.retain(|_, s| s.sid != sid);
        let mut found = store.sessions.len() != before;
        let ids: Vec<String> = store
            .grants
            .iter()
            .filter(|(_, g)| g.sid == sid && !g.revoked)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            store.revoke_grant(&id);
            found = true;
        }
        found
    }

    /// **Test-only hook**: signs a JWT with the current signing key. `header` is used as
    /// given (an object; a missing `alg` or `kid` is taken from the key), `claims` as the
    /// payload. Lets tests forge tokens the IdP would never issue (logout tokens with a
    /// nonce, `events` as an array, a wrong `iss`...) that still carry a genuine signature.
    pub fn sign_jwt(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, Error> {
        self.state.keys().sign_with_header(header, claims)
    }

    /// **Test-only hook**: the next ID token this instance issues (at a code exchange or
    /// a refresh) is replaced by `forge(claims)`, where `claims` are the claims it would
    /// have signed (with the grant's `nonce`, `sid`, `iss`, `aud`, `iat`, `exp`). With
    /// [`DevIdp::sign_jwt`] inside `forge`, tests hand a relying party a genuinely signed
    /// ID token with a wrong `iss`, `sub`, `aud`, `azp`, an unknown `kid`, a string `exp`,
    /// or no signature at all (`alg: none`, HS256), and check that it refuses it.
    pub fn forge_next_id_token(
        &self,
        forge: impl FnOnce(serde_json::Value) -> String + Send + 'static,
    ) {
        self.state.set_id_token_forger(Box::new(forge));
    }

    /// **Test-only hook**: merges `overrides` (a JSON object; anything else clears them)
    /// into the discovery document from now on; a `null` value removes the key. E.g.
    /// `{"id_token_signing_alg_values_supported": ["ES384", "HS256", "none"]}`, or an
    /// `issuer` with a trailing slash. Replaces earlier overrides.
    pub fn set_discovery_overrides(&self, overrides: serde_json::Value) {
        let map = match overrides {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        self.state.set_discovery_overrides(map);
    }

    /// Stops the server gracefully.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

type LogoutTargets = Vec<(String, String, Vec<(String, String)>)>;

/// Ends the matching sessions and lists `(sub, sid, [(client, redirect_uri)])` to notify.
fn collect_logout_targets(state: &AppState, matches: impl Fn(&str, &str) -> bool) -> LogoutTargets {
    let mut out: LogoutTargets = Vec::new();
    let mut store = state.store();
    let keys: Vec<String> = store
        .sessions
        .iter()
        .filter(|(_, s)| matches(&s.user_id, &s.sid))
        .map(|(k, _)| k.clone())
        .collect();
    for k in keys {
        if let Some(s) = store.sessions.remove(&k) {
            out.push((
                s.user_id.clone(),
                s.sid.clone(),
                s.clients.into_iter().collect(),
            ));
        }
    }
    for g in store.grants.values().filter(|g| !g.revoked) {
        if !matches(&g.user_id, &g.sid) {
            continue;
        }
        let pair = (g.client_id.clone(), g.redirect_uri.clone());
        match out
            .iter_mut()
            .find(|(u, s, _)| u == &g.user_id && s == &g.sid)
        {
            Some((_, _, clients)) => {
                if !clients.iter().any(|(c, _)| c == &g.client_id) {
                    clients.push(pair);
                }
            }
            None => out.push((g.user_id.clone(), g.sid.clone(), vec![pair])),
        }
    }
    out
}

async fn deliver_all(state: &AppState, targets: LogoutTargets) -> Result<usize, Error> {
    let mut delivered = 0;
    let mut first_error = None;
    for (sub, sid, clients) in targets {
        for result in backchannel::send(state, &sub, &sid, &clients).await {
            match result {
                Ok(()) => delivered += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(delivered),
    }
}

// ---- admin routes (`/__dev/*`, only with `enable_admin_routes`) ------------------------

fn admin_scope() -> actix_web::Scope {
    web::scope("/__dev")
        .route("/counters", web::get().to(admin_counters))
        .route("/rotate-keys", web::post().to(admin_rotate))
        .route("/fail-next", web::post().to(admin_fail_next))
        .route("/delay-next", web::post().to(admin_delay_next))
        .route(
            "/backchannel-logout",
            web::post().to(admin_backchannel_logout),
        )
        .route("/revoke-grants", web::post().to(admin_revoke_grants))
}

async fn admin_counters(state: web::Data<Arc<AppState>>) -> HttpResponse {
    HttpResponse::Ok().json(state.counters())
}

async fn admin_rotate(state: web::Data<Arc<AppState>>) -> HttpResponse {
    match state.keys_mut().rotate(state.settings.signing) {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

#[derive(Deserialize)]
struct FailNext {
    endpoint: Endpoint,
    status: u16,
}

async fn admin_fail_next(
    state: web::Data<Arc<AppState>>,
    body: web::Json<FailNext>,
) -> HttpResponse {
    state.set_fault(body.endpoint, |f| f.status = Some(body.status));
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct DelayNext {
    endpoint: Endpoint,
    delay_ms: u64,
}

async fn admin_delay_next(
    state: web::Data<Arc<AppState>>,
    body: web::Json<DelayNext>,
) -> HttpResponse {
    state.set_fault(body.endpoint, |f| {
        f.delay = Some(Duration::from_millis(body.delay_ms));
    });
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct LogoutTarget {
    sub: Option<String>,
    sid: Option<String>,
}

async fn admin_backchannel_logout(
    state: web::Data<Arc<AppState>>,
    body: web::Json<LogoutTarget>,
) -> HttpResponse {
    let targets = match (&body.sub, &body.sid) {
        (Some(sub), _) => collect_logout_targets(&state, |u, _| u == sub),
        (None, Some(sid)) => collect_logout_targets(&state, |_, s| s == sid),
        (None, None) => return HttpResponse::BadRequest().body("give `sub` or `sid`"),
    };
    let result = deliver_all(&state, targets).await;
    match result {
        Ok(n) => HttpResponse::Ok().json(serde_json::json!({ "delivered": n })),
        Err(e) => HttpResponse::BadGateway().json(serde_json::json!({ "error": e.to_string() })),
    }
}

async fn admin_revoke_grants(
    state: web::Data<Arc<AppState>>,
    body: web::Json<LogoutTarget>,
) -> HttpResponse {
    let Some(sub) = &body.sub else {
        return HttpResponse::BadRequest().body("give `sub`");
    };
    let mut store = state.store();
    let ids: Vec<String> = store
        .grants
        .iter()
        .filter(|(_, g)| &g.user_id == sub)
        .map(|(id, _)| id.clone())
        .collect();
    for id in ids {
        store.revoke_grant(&id);
    }
    HttpResponse::NoContent().finish()
}
