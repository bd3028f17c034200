//! Logto's Python quick-start, for actix-web: one route per section.
//!
//! `cargo run -p logto-actix --example quickstart` starts logto-dev in-process
//! (sign in as alice / alice-password), or uses `LOGTO_ENDPOINT`,
//! `LOGTO_APP_ID` and `LOGTO_APP_SECRET` when set. `PORT` picks the port.

use std::net::TcpListener;

use actix_session::{SessionMiddleware, storage::CookieSessionStore};
use actix_web::web::{self, Html, Json, Path};
use actix_web::{App, HttpServer, cookie::Key, dev::Server, middleware::from_fn};
use logto_actix::{
    ApiAuthenticated, Authenticated, AuthenticatedWithUserInfo, Error, LogtoAuth,
    MaybeAuthenticated, MemoryStore, check_session_size,
};
use logto_client::{
    AppSecret, IdTokenClaims, LogtoClient, LogtoConfig, ResourceIndicator, UserInfo, UserScope,
};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error>;

/// The API resource of the demo seed.
pub const API_RESOURCE: &str = "https://api.portal.test";

/// The application on `listener`, signed in with `config`; the server and its URL.
pub fn server(config: LogtoConfig, listener: TcpListener) -> Result<(Server, String), BoxError> {
    let base_url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    // Request additional scopes and claims, and the API resource (parsed once,
    // shared with the handlers).
    let api = ResourceIndicator::parse(API_RESOURCE)?;
    let config = config
        .with_scopes([UserScope::Email, UserScope::Roles, UserScope::CustomData])
        .add_scopes(["read:reports", "write:reports"]) // the API resource's permissions
        .add_scopes([UserScope::Organizations])
        .add_scopes(["read:members", "invite:members"]) // organization permissions
        .with_resources([&api])?;
    // Sign-in and sign-out routes: /sign-in, /callback, POST /sign-out.
    let auth = LogtoAuth::new(LogtoClient::new(config)?, MemoryStore::default(), &base_url)?;
    let key = Key::generate();
    let server = HttpServer::new(move || {
        let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_secure(false) // plain http on 127.0.0.1
            .build();
        App::new()
            .app_data(web::Data::new(api.clone()))
            .configure(auth.routes())
            .route("/", web::get().to(home))
            .route("/id-token-claims", web::get().to(id_token_claims))
            .route("/user-info", web::get().to(user_info))
            .route("/scopes-and-claims", web::get().to(scopes_and_claims))
            .route("/api-resource", web::get().to(api_resource))
            .route("/organizations/{id}", web::get().to(organization))
            .route("/api/me", web::get().to(api_me))
            .wrap(from_fn(check_session_size))
            .wrap(session)
    })
    .listen(listener)?
    .run();
    Ok((server, base_url))
}

/// Authentication status, and the sign-out form (a POST with the CSRF token).
async fn home(user: MaybeAuthenticated) -> Html {
    Html::new(match &user.0 {
        Some(auth) => format!(
            r#"<p>Signed in as {}.</p><form method="post" action="{}">
<input type="hidden" name="csrf" value="{}"><button>Sign out</button></form>"#,
            auth.claims().sub,
            auth.sign_out_path(),
            auth.csrf_token()
        ),
        None => r#"<p>Not signed in.</p><a href="/sign-in">Sign in</a>"#.to_owned(),
    })
}

/// User information: the ID token's claims (no call to Logto)...
async fn id_token_claims(auth: Authenticated) -> Json<IdTokenClaims> {
    Json(auth.claims().clone())
}

/// ...and the user info fetched from Logto.
async fn user_info(auth: AuthenticatedWithUserInfo) -> Json<UserInfo> {
    Json(auth.user_info)
}

/// The claims the additional scopes bring.
async fn scopes_and_claims(auth: AuthenticatedWithUserInfo) -> Json<Value> {
    let info = auth.user_info;
    Json(json!({
        "email": info.email,
        "roles": info.roles,
        "organizations": info.organizations,
        "custom_data": info.custom_data,
    }))
}

/// An API resource token.
async fn api_resource(
    auth: Authenticated,
    api: web::Data<ResourceIndicator>,
) -> Result<Json<Value>, Error> {
    let token = auth.access_token_claims(&api).await?;
    Ok(Json(json!({ "aud": token.aud, "scope": token.scope })))
}

/// An organization token; a non-member gets 403 (`ErrorKind::NotAMember`).
async fn organization(auth: Authenticated, id: Path<String>) -> Result<Json<Value>, Error> {
    let token = auth.organization_token_claims(id.into_inner()).await?;
    let body = json!({ "organization_id": token.organization_id, "scope": token.claims.scope });
    Ok(Json(body))
}

/// An API route: where a page redirects to sign-in, it answers 401 JSON.
async fn api_me(auth: ApiAuthenticated) -> Json<Value> {
    Json(json!({ "sub": auth.claims().sub }))
}

#[actix_web::main]
async fn main() -> Result<(), BoxError> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    // Init LogtoClient: the Logto at LOGTO_ENDPOINT, or logto-dev in-process.
    let mut dev = None;
    let config = match env("LOGTO_ENDPOINT") {
        Ok(endpoint) => {
            let secret = AppSecret::new(env("LOGTO_APP_SECRET")?);
            LogtoConfig::new(&endpoint, env("LOGTO_APP_ID")?, Some(secret))?
        }
        Err(_) => {
            let idp = dev.insert(logto_dev::serve_demo().await?);
            println!("logto-dev: sign in as alice / alice-password");
            let secret = AppSecret::new("portal-demo-secret");
            LogtoConfig::new(idp.endpoint().as_str(), "portal-demo", Some(secret))?
        }
    };
    let port = env("PORT").unwrap_or_else(|_| "0".into());
    let (server, url) = server(config, TcpListener::bind(format!("127.0.0.1:{port}"))?)?;
    println!("quick start at {url}/");
    Ok(server.await?)
}
