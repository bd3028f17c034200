//! The client against a small fake of Logto's token endpoint and API on
//! loopback: token caching, single-flight refresh, retry on 401, errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use super::*;

const SECRET: &str = "right-secret";

#[derive(Default)]
struct Fake {
    tokens_issued: AtomicUsize,
    /// API calls to answer 401 before accepting the token.
    reject_next: AtomicUsize,
}

fn basic_ok(req: &HttpRequest) -> bool {
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("m2m:{SECRET}"));
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(format!("Basic {expected}").as_str())
}

async fn token(
    fake: web::Data<Fake>,
    req: HttpRequest,
    form: web::Form<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    if !basic_ok(&req) {
        return HttpResponse::Unauthorized().json(serde_json::json!({
            "error": "invalid_client", "error_description": "client authentication failed"
        }));
    }
    if form.get("resource").map(String::as_str) != Some(DEFAULT_MANAGEMENT_RESOURCE)
        || form.get("scope").map(String::as_str) != Some("all")
    {
        return HttpResponse::BadRequest().json(serde_json::json!({
            "error": "invalid_target", "error_description": "wrong resource"
        }));
    }
    // Slow enough that concurrent callers overlap with this one request.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n = fake.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    HttpResponse::Ok().json(serde_json::json!({
        "access_token": format!("token-{n}"), "expires_in": 3600, "token_type": "Bearer"
    }))
}

async fn users(fake: web::Data<Fake>, req: HttpRequest) -> HttpResponse {
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let rejecting = fake
        .reject_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if rejecting || !bearer.starts_with("Bearer token-") {
        return HttpResponse::Unauthorized().json(serde_json::json!({
            "code": "auth.unauthorized", "message": "Unauthorized."
        }));
    }
    HttpResponse::Ok()
        .insert_header(("Total-Number", "1"))
        .json(serde_json::json!([{ "id": "u1", "username": "alice", "customData": {} }]))
}

async fn missing() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "code": "entity.not_found", "message": "The resource does not exist."
    }))
}

async fn serve(fake: Arc<Fake>) -> Url {
    let data = web::Data::from(fake);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/oidc/token", web::post().to(token))
            .route("/api/users", web::get().to(users))
            .default_service(web::to(missing))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    format!("http://{addr}").parse().unwrap()
}

fn client(endpoint: Url, secret: &str) -> ManagementClient {
    ManagementClient::new(endpoint, M2mCredentials::new("m2m", secret)).unwrap()
}

#[tokio::test]
async fn concurrent_calls_share_one_token_request() {
    let fake = Arc::new(Fake::default());
    let client = Arc::new(client(serve(fake.clone()).await, SECRET));
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.find_user_by_username("alice").await })
        })
        .collect();
    for call in calls {
        let user = call.await.unwrap().unwrap().unwrap();
        assert_eq!(user.id, "u1");
    }
    assert_eq!(fake.tokens_issued.load(Ordering::SeqCst), 1);
    // And the cached token serves later calls too.
    client.find_user_by_username("alice").await.unwrap();
    assert_eq!(fake.tokens_issued.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let fake = Arc::new(Fake::default());
    let client = client(serve(fake.clone()).await, SECRET);
    client.find_user_by_username("alice").await.unwrap();
    fake.reject_next.store(1, Ordering::SeqCst);
    client.find_user_by_username("alice").await.unwrap();
    assert_eq!(fake.tokens_issued.load(Ordering::SeqCst), 2);
    // Refused twice in a row: the second 401 is the caller's error.
    fake.reject_next.store(2, Ordering::SeqCst);
    let err = client.find_user_by_username("alice").await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
}

#[tokio::test]
async fn a_wrong_secret_is_bad_credentials() {
    let fake = Arc::new(Fake::default());
    let client = client(serve(fake.clone()).await, "not-the-secret");
    let err = client.find_user_by_username("alice").await.unwrap_err();
    assert!(
        matches!(&err, ManagementError::BadCredentials { app_id } if app_id == "m2m"),
        "{err:?}"
    );
    assert!(
        !format!("{err} {err:?}").contains("not-the-secret"),
        "the secret leaked"
    );
}

#[tokio::test]
async fn logto_error_bodies_become_api_errors() {
    let fake = Arc::new(Fake::default());
    let client = client(serve(fake).await, SECRET);
    let err = client.user("nobody").await.unwrap_err();
    match &err {
        ManagementError::Api {
            status,
            code,
            method,
            path,
            ..
        } => {
            assert_eq!((*status, code.as_str()), (404, "entity.not_found"));
            assert_eq!(
                (method.as_str(), path.as_str()),
                ("GET", "api/users/nobody")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_not_found());
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint: Url = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    drop(listener);
    let err = client(endpoint, SECRET)
        .list_applications()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManagementError::Unreachable { .. }),
        "{err:?}"
    );
}

#[test]
fn endpoints_must_be_http_bases() {
    for bad in ["ftp://x/", "mailto:a@b.c", "http://x/?q=1"] {
        let err =
            ManagementClient::new(bad.parse().unwrap(), M2mCredentials::new("a", "b")).unwrap_err();
        assert!(matches!(err, ManagementError::InvalidEndpoint(_)), "{bad}");
    }
    let c = ManagementClient::new(
        "http://127.0.0.1:1/prefix".parse().unwrap(),
        M2mCredentials::new("a", "b"),
    )
    .unwrap();
    assert_eq!(
        c.url("api/users").unwrap().as_str(),
        "http://127.0.0.1:1/prefix/api/users"
    );
    assert!(!format!("{c:?}").contains("\"b\""), "the secret leaked");
}

#[test]
fn short_tokens_are_not_refreshed_on_every_call() {
    assert_eq!(
        refresh_margin(Duration::from_secs(3600)),
        Duration::from_secs(60)
    );
    assert_eq!(
        refresh_margin(Duration::from_secs(10)),
        Duration::from_secs(2)
    );
    assert_eq!(refresh_margin(Duration::ZERO), Duration::ZERO);
}
