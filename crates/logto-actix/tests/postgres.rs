//! An application on `logto_actix::postgres` alone: a database migrated by
//! [`MIGRATOR`] and nothing else, [`PgLogins`] as the login store, a
//! sign-in through logto-dev's form, an API resource token, back-channel
//! style logout by `sub`, and sign-out. Needs `DATABASE_URL` (`cargo xtask
//! test` provides it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpListener;
use std::time::Duration;

use actix_session::{SessionMiddleware, storage::CookieSessionStore};
use actix_web::web::{self, Html, Json};
use actix_web::{App, HttpServer, cookie::Key};
use logto_actix::postgres::{PgLogins, TokenCipher, logins};
use logto_actix::{Authenticated, Error, LogtoAuth, MaybeAuthenticated};
use logto_client::LogtoClient;
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{TestApp, between, demo_config, location};

const API_RESOURCE: &str = "https://api.portal.test";
static API: std::sync::LazyLock<logto_client::ResourceIndicator> =
    std::sync::LazyLock::new(|| API_RESOURCE.parse().unwrap());
const KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

async fn home(user: MaybeAuthenticated<PgLogins>) -> Html {
    Html::new(match &user.0 {
        Some(auth) => format!(
            "<p>Signed in as {} (login {}).</p><input name=\"csrf\" value=\"{}\">",
            auth.claims().sub,
            auth.login().id,
            auth.csrf_token()
        ),
        None => "<p>Not signed in.</p>".to_owned(),
    })
}

async fn api_resource(auth: Authenticated<PgLogins>) -> Result<Json<Value>, Error> {
    let token = auth.access_token_claims(&API).await?;
    Ok(Json(json!({ "scope": token.scope })))
}

async fn spawn_app(pool: PgPool) -> TestApp {
    let idp = logto_dev::serve_demo().await.unwrap();
    let config = demo_config(&idp)
        .add_scopes(["read:reports"])
        .with_resources([API_RESOURCE])
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let logins = PgLogins::new(pool, TokenCipher::from_base64(KEY).unwrap())
        .idle_timeout(Duration::from_secs(600))
        .absolute_timeout(Duration::from_secs(3600))
        .revalidate_every(Duration::from_secs(3600));
    let auth =
        LogtoAuth::with_login_store(LogtoClient::new(config).unwrap(), logins, &base).unwrap();
    let key = Key::generate();
    let server = HttpServer::new(move || {
        let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_secure(false)
            .build();
        App::new()
            .configure(auth.routes())
            .route("/", web::get().to(home))
            .route("/api-resource", web::get().to(api_resource))
            .wrap(session)
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    TestApp::new(base, idp)
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "logto_actix::postgres::MIGRATOR")]
async fn an_application_signs_in_on_a_database_migrated_by_the_migrator_alone(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    assert!(app.text("/").await.contains("Not signed in"));

    // The sign-in: one attempt, bound to the browser, encrypted.
    let res = app.get("/sign-in?return_to=/").await;
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(count(&pool, "sign_in_attempts").await, 1);
    let auth_url = url::Url::parse(&location(&res)).unwrap();
    let state = auth_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let payload: Vec<u8> = sqlx::query_scalar("SELECT payload FROM sign_in_attempts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        !payload.windows(state.len()).any(|w| w == state.as_bytes()),
        "the attempt is encrypted"
    );
    let res = app.complete_sign_in(&auth_url, "alice").await;
    assert_eq!(res.status().as_u16(), 302, "{}", res.text().await.unwrap());
    assert_eq!(location(&res), "/");
    assert_eq!(count(&pool, "sign_in_attempts").await, 0, "single use");

    // The login: one row, tokens encrypted, named by the session.
    let home = app.text("/").await;
    assert!(home.contains("Signed in as"), "{home}");
    let sub = between(&home, "Signed in as ", " (").to_owned();
    let login_id: uuid::Uuid = between(&home, "(login ", ")").parse().unwrap();
    let record = logins::find(&pool, login_id).await.unwrap().unwrap();
    assert_eq!(record.user_sub, sub);
    let (id_token, refresh_token): (Vec<u8>, Option<Vec<u8>>) =
        sqlx::query_as("SELECT id_token, refresh_token FROM logins WHERE id = $1")
            .bind(login_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!id_token.starts_with(b"eyJ"), "the ID token is encrypted");
    assert!(refresh_token.is_some());
    let cipher = TokenCipher::from_base64(KEY).unwrap();
    let hint = logins::id_token(&pool, &cipher, login_id)
        .await
        .unwrap()
        .unwrap();
    assert!(hint.starts_with("eyJ"), "and opens with the key");

    // An API resource token, cached (encrypted) in access_tokens.
    let cached = count(&pool, "access_tokens").await;
    let res = app.get("/api-resource").await;
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["scope"].as_str().unwrap().contains("read:reports"));
    assert_eq!(count(&pool, "access_tokens").await, cached + 1);
    let sealed: Vec<u8> = sqlx::query_scalar(
        "SELECT token FROM access_tokens WHERE login_id = $1 AND audience LIKE '%api.portal.test%'",
    )
    .bind(login_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!sealed.windows(3).any(|w| w == b"eyJ"), "encrypted");

    // Ending the user's logins (back-channel logout without `sid`) signs
    // the browser out on the next request.
    let iss = record.issuer.clone();
    assert_eq!(logins::count_for_sub(&pool, &iss, &sub).await.unwrap(), 1);
    assert_eq!(logins::delete_by_sub(&pool, &iss, &sub).await.unwrap(), 1);
    assert_eq!(count(&pool, "access_tokens").await, 0, "cascaded");
    assert!(app.text("/").await.contains("Not signed in"));
    assert_eq!(app.get("/api-resource").await.status().as_u16(), 302);

    // Signing in again, then out: the row goes.
    let res = app.sign_in("alice", "/").await;
    assert_eq!(res.status().as_u16(), 302);
    let csrf = app.csrf().await;
    assert_eq!(count(&pool, "logins").await, 1);
    let res = app.post_sign_out(Some(&csrf)).await;
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(count(&pool, "logins").await, 0);
    assert!(app.text("/").await.contains("Not signed in"));
    let swept = logins::sweep(&pool, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(swept, logins::Swept::default());
}
