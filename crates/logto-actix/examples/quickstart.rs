//! Logto's Python quick-start, for actix-web: one route per section.
//!
//! `cargo run -p logto-actix --example quickstart` starts logto-dev in-process
//! (sign in as alice / alice-password), or uses `LOGTO_ENDPOINT`,
//! `LOGTO_APP_ID` and `LOGTO_APP_SECRET` when set. `PORT` picks the port.

use std::net::TcpListener;

use actix_session::{SessionMiddleware, storage::CookieSessionStore};
use actix_web::{App, HttpServer, cookie::Key, dev::Server, middleware::from_fn, web};
use logto_actix::{
    ApiAuthenticated, Authenticated, AuthenticatedWithUserInfo, Error, LogtoAuth,
    MaybeAuthenticated, MemoryStore, check_session_size,
};
use logto_client::{AppSecret, LogtoClient, LogtoConfig, UserScope};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error>;

/// The API resource of the demo seed.
pub const API_RESOURCE: &str = "https://api.portal.test";

/// Where Logto is, and the application registered there.
pub struct Logto {
    pub endpoint: String,
    pub app_id: String,
    pub app_secret: String,
}

/// The application on `listener`; returns the server and its base URL.
pub fn server(logto: &Logto, listener: TcpListener) -> Result<(Server, String), BoxError> {
    let base_url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    // Extra scopes and claims, and the API resource.
    let config = LogtoConfig::new(
        &logto.endpoint,
        &logto.app_id,
        Some(AppSecret::new(&logto.app_secret)),
    )?
    .with_scopes([
        String::from(UserScope::Email),
        UserScope::Roles.into(),
        UserScope::Organizations.into(),
        UserScope::CustomData.into(),
        // Permissions of the API resource and of organizations.
        "read:reports".into(),
        "write:reports".into(),
        "read:members".into(),
        "invite:members".into(),
    ])
    .with_resources([API_RESOURCE]);
    // Sign-in and sign-out: /sign-in, /callback, POST /sign-out.
    let auth = LogtoAuth::new(LogtoClient::new(config)?, MemoryStore::default(), &base_url)?;
    let key = Key::generate();
    let server = HttpServer::new(move || {
        let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_secure(false) // plain http on 127.0.0.1
            .build();
        App::new()
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

/// Authentication status.
async fn home(user: MaybeAuthenticated) -> web::Html {
    web::Html::new(match &user.0 {
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

/// User information: the ID token's claims...
async fn id_token_claims(auth: Authenticated) -> web::Json<logto_client::IdTokenClaims> {
    web::Json(auth.claims().clone())
}

/// ...and the user info fetched from Logto.
async fn user_info(auth: AuthenticatedWithUserInfo) -> web::Json<logto_client::UserInfo> {
    web::Json(auth.user_info.clone())
}

/// Extra scopes and claims: email, roles, organizations, custom data.
async fn scopes_and_claims(auth: AuthenticatedWithUserInfo) -> web::Json<Value> {
    let info = &auth.user_info;
    web::Json(json!({ "email": info.email, "roles": info.roles,
        "organizations": info.organizations, "custom_data": info.custom_data }))
}

/// An API resource token.
async fn api_resource(auth: Authenticated) -> Result<web::Json<Value>, Error> {
    let claims = auth.access_token_claims(API_RESOURCE).await?;
    Ok(web::Json(
        json!({ "aud": claims.aud, "scope": claims.scope }),
    ))
}

/// An organization token (403 for a non-member).
async fn organization(
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<web::Json<Value>, Error> {
    let claims = auth.organization_token_claims(&id).await?;
    Ok(web::Json(
        json!({ "organization_id": claims.organization_id, "scope": claims.claims.scope }),
    ))
}

/// An API route: 401 JSON when signed out.
async fn api_me(auth: ApiAuthenticated) -> web::Json<Value> {
    web::Json(json!({ "sub": auth.claims().sub }))
}

#[actix_web::main]
async fn main() -> Result<(), BoxError> {
    let var = |name: &str| std::env::var(name).ok();
    let mut _idp = None;
    let logto = match (
        var("LOGTO_ENDPOINT"),
        var("LOGTO_APP_ID"),
        var("LOGTO_APP_SECRET"),
    ) {
        (Some(endpoint), Some(app_id), Some(app_secret)) => Logto {
            endpoint,
            app_id,
            app_secret,
        },
        _ => {
            let idp = logto_dev::serve_demo().await?;
            let endpoint = idp.endpoint().to_string();
            println!("logto-dev at {endpoint}: sign in as alice / alice-password");
            _idp = Some(idp);
            Logto {
                endpoint,
                app_id: "portal-demo".into(),
                app_secret: "portal-demo-secret".into(),
            }
        }
    };
    let port = var("PORT").unwrap_or_else(|| "0".into());
    let (server, url) = server(&logto, TcpListener::bind(format!("127.0.0.1:{port}"))?)?;
    println!("quick start at {url}/");
    Ok(server.await?)
}
