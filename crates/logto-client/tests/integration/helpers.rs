//! Shared helpers: a logto-dev instance per test, and a tiny fake IdP on loopback for
//! answers logto-dev never gives (garbage, forged ID tokens).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use logto_client::{
    AppSecret, InMemoryStorage, LogtoClient, LogtoConfig, SignInOptions, SignInOutcome, UserScope,
};
use p384::ecdsa::signature::Signer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const APP_ID: &str = "portal-demo";
pub const APP_SECRET: &str = "portal-demo-secret";
pub const API: &str = "https://api.portal.test";
/// The API resource the fake IdP's clients are configured with.
pub const FAKE_API: &str = "https://api.fake.test";
/// A resource indicator of the tests (they are all valid).
pub fn res(resource: &str) -> logto_client::ResourceIndicator {
    logto_client::ResourceIndicator::parse(resource).unwrap()
}

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub struct Env {
    pub idp: logto_dev::DevIdp,
    pub client: LogtoClient,
}

pub fn full_scopes() -> Vec<&'static str> {
    vec![
        UserScope::Email.as_str(),
        UserScope::Phone.as_str(),
        UserScope::CustomData.as_str(),
        UserScope::Identities.as_str(),
        UserScope::Roles.as_str(),
        UserScope::Organizations.as_str(),
        UserScope::OrganizationRoles.as_str(),
        // API and organization permissions are granted only when requested (as in Logto).
        "read:reports",
        "write:reports",
        "read:members",
        "invite:members",
    ]
}

pub async fn spawn_with(settings: logto_dev::Settings, scopes: Vec<&str>) -> Env {
    let idp = logto_dev::serve(
        logto_dev::Seed::demo(),
        settings,
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let config = LogtoConfig::new(
        idp.endpoint().as_str(),
        APP_ID,
        Some(AppSecret::new(APP_SECRET)),
    )
    .unwrap()
    .with_scopes(scopes)
    .with_resources([API])
    .unwrap();
    let client = LogtoClient::new(config).unwrap();
    Env { idp, client }
}

pub async fn spawn() -> Env {
    spawn_with(logto_dev::Settings::default(), full_scopes()).await
}

/// Like [`spawn`], with logto-dev rotating the refresh token at every refresh. Real Logto
/// gives a Traditional web app the same token back until 70 % of its lifetime has passed
/// (then a new one); forcing rotation lets a test check that a new token is stored.
pub async fn spawn_rotating() -> Env {
    let settings = logto_dev::Settings {
        refresh_policy: logto_dev::RefreshPolicy::RotateEveryUse,
        ..Default::default()
    };
    spawn_with(settings, full_scopes()).await
}

impl Env {
    /// Signs `user` in through logto-dev's form; returns the callback URL (not yet handled).
    pub async fn callback_url(&self, storage: &InMemoryStorage, user: &str) -> url::Url {
        let url = self
            .client
            .sign_in(
                storage,
                SignInOptions::new(REDIRECT).app_state(json!({"return_to": "/home"})),
            )
            .await
            .unwrap();
        logto_dev::testing::complete_sign_in(&url, user, &format!("{user}-password"))
            .await
            .unwrap()
    }

    pub async fn sign_in(&self, user: &str) -> (InMemoryStorage, SignInOutcome) {
        let storage = InMemoryStorage::new();
        let cb = self.callback_url(&storage, user).await;
        let outcome = self
            .client
            .handle_sign_in_callback(&storage, cb.as_str())
            .await
            .unwrap();
        (storage, outcome)
    }
}

pub fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

// ----- the fake IdP ---------------------------------------------------------------

pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }
    pub fn raw(status: u16, content_type: &'static str, body: &str) -> Self {
        Self {
            status,
            content_type,
            body: body.as_bytes().to_vec(),
        }
    }
}

#[derive(Default)]
pub struct FakeState {
    pub jwks: Value,
    pub token: Vec<Canned>,
    pub userinfo: Option<Canned>,
    pub hits: HashMap<String, usize>,
}

pub struct FakeIdp {
    pub endpoint: String,
    pub state: Arc<Mutex<FakeState>>,
    pub key: p384::ecdsa::SigningKey,
    pub kid: String,
}

impl FakeIdp {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let key = p384::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let kid = "fake-key-1".to_owned();
        let state = Arc::new(Mutex::new(FakeState {
            jwks: json!({"keys": [jwk(&key, &kid)]}),
            ..Default::default()
        }));
        let (st, ep) = (state.clone(), endpoint.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (st, ep) = (st.clone(), ep.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Read the head and the body (Content-Length).
                    loop {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(end) = find(&buf, b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("/")
                        .split('?')
                        .next()
                        .unwrap_or("/")
                        .to_owned();
                    let canned = {
                        let mut s = st.lock().unwrap();
                        *s.hits.entry(path.clone()).or_default() += 1;
                        match path.as_str() {
                            "/oidc/.well-known/openid-configuration" => {
                                Canned::json(200, &discovery(&ep))
                            }
                            "/oidc/jwks" => Canned::json(200, &s.jwks),
                            "/oidc/token" if !s.token.is_empty() => s.token.remove(0),
                            "/oidc/me" => s
                                .userinfo
                                .take()
                                .unwrap_or_else(|| Canned::raw(404, "text/plain", "no")),
                            "/oidc/token/revocation" => Canned::raw(200, "text/plain", ""),
                            _ => Canned::raw(404, "text/plain", "not found"),
                        }
                    };
                    let response = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        canned.status,
                        canned.content_type,
                        canned.body.len()
                    );
                    let _ = sock.write_all(response.as_bytes()).await;
                    let _ = sock.write_all(&canned.body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self {
            endpoint,
            state,
            key,
            kid,
        }
    }

    pub fn issuer(&self) -> String {
        format!("{}/oidc", self.endpoint)
    }

    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn push_token(&self, canned: Canned) {
        self.state.lock().unwrap().token.push(canned);
    }

    pub fn set_userinfo(&self, canned: Canned) {
        self.state.lock().unwrap().userinfo = Some(canned);
    }

    pub fn client(&self) -> LogtoClient {
        let config = LogtoConfig::new(
            &self.endpoint,
            "fake-app",
            Some(AppSecret::new("fake-secret")),
        )
        .unwrap()
        .with_resources([FAKE_API])
        .unwrap();
        LogtoClient::new(config).unwrap()
    }

    /// Signs claims with the fake's key (or another `kid` in the header).
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        sign_es384(&self.key, kid, claims)
    }

    pub fn id_claims(&self, nonce: &str) -> Value {
        let now = now();
        json!({"iss": self.issuer(), "sub": "user-1", "aud": "fake-app", "exp": now + 3600, "iat": now, "nonce": nonce})
    }

    pub fn token_response(&self, id_token: &str) -> Canned {
        Canned::json(
            200,
            &json!({"access_token": "opaque-at", "expires_in": 3600, "id_token": id_token,
                    "refresh_token": "rt-1", "scope": "openid", "token_type": "Bearer"}),
        )
    }
}

pub fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

use test_support::b64;

pub fn jwk(key: &p384::ecdsa::SigningKey, kid: &str) -> Value {
    let p = key.verifying_key().to_encoded_point(false);
    json!({"kty": "EC", "crv": "P-384", "alg": "ES384", "use": "sig", "kid": kid,
           "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
}

pub fn sign_es384(key: &p384::ecdsa::SigningKey, kid: &str, claims: &Value) -> String {
    sign_es384_with(key, &json!({"alg": "ES384", "kid": kid}), claims)
}

/// An ES384 JWS with any header (e.g. `typ: at+jwt`).
pub fn sign_es384_with(key: &p384::ecdsa::SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig: p384::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn discovery(ep: &str) -> Value {
    json!({
        "issuer": format!("{ep}/oidc"),
        "authorization_endpoint": format!("{ep}/oidc/auth"),
        "token_endpoint": format!("{ep}/oidc/token"),
        "userinfo_endpoint": format!("{ep}/oidc/me"),
        "jwks_uri": format!("{ep}/oidc/jwks"),
        "end_session_endpoint": format!("{ep}/oidc/session/end"),
        "revocation_endpoint": format!("{ep}/oidc/token/revocation"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES384", "HS256", "none"],
        "authorization_response_iss_parameter_supported": true
    })
}
