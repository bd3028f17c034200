//! Shared helpers: start an instance, run the code flow, call the token endpoint.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use logto_dev::{DevIdp, Seed, Settings};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "portal-demo";
pub const CLIENT_SECRET: &str = "portal-demo-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
pub const API: &str = "https://api.portal.test";
pub const DEFAULT_SCOPES: &str = "openid offline_access profile email roles custom_data identities urn:logto:scope:organizations urn:logto:scope:organization_roles read:reports write:reports read:members invite:members manage:billing";

pub async fn spawn(settings: Settings) -> DevIdp {
    logto_dev::serve(Seed::demo(), settings, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A public client (SPA) added to the demo seed, for tests of public-client behaviour.
pub const SPA_ID: &str = "portal-spa";

/// The demo seed plus the public client [`SPA_ID`].
pub fn seed_with_spa() -> Seed {
    let text = format!(
        "{}\n[[applications]]\nid = \"{SPA_ID}\"\ntype = \"spa\"\nredirect_uris = [\"{REDIRECT_URI}\"]\n",
        include_str!("../../../logto-seed/demo.toml")
    );
    Seed::from_toml_str(&text).unwrap()
}

pub async fn spawn_with(seed: Seed, settings: Settings) -> DevIdp {
    logto_dev::serve(seed, settings, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub async fn spawn_default() -> DevIdp {
    spawn(Settings::default()).await
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn sub_of(idp: &DevIdp, username: &str) -> String {
    idp.seed().user_by_username(username).unwrap().id.clone()
}

/// One authorization request's secrets.
pub struct AuthRequest {
    pub url: url::Url,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub redirect_uri: String,
}

pub fn random(n: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn auth_request(idp: &DevIdp, extra: &[(&str, &str)]) -> AuthRequest {
    auth_request_to(idp, REDIRECT_URI, extra)
}

pub fn auth_request_to(idp: &DevIdp, redirect_uri: &str, extra: &[(&str, &str)]) -> AuthRequest {
    auth_request_for(idp, CLIENT_ID, redirect_uri, extra)
}

pub fn auth_request_for(
    idp: &DevIdp,
    client_id: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> AuthRequest {
    let verifier = random(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random(12);
    let nonce = random(12);
    let mut url = idp.endpoint().join("oidc/auth").unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let has = |k: &str| extra.iter().any(|(n, _)| *n == k);
        if !has("scope") {
            q.append_pair("scope", DEFAULT_SCOPES);
        }
        if !has("prompt") {
            q.append_pair("prompt", "consent");
        }
        if !has("resource") {
            q.append_pair("resource", API);
            q.append_pair("resource", "urn:logto:resource:organizations");
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    AuthRequest {
        url,
        state,
        nonce,
        verifier,
        redirect_uri: redirect_uri.to_owned(),
    }
}

pub fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub struct TokenResult {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

pub async fn token_request(idp: &DevIdp, form: &[(&str, &str)]) -> TokenResult {
    token_request_as(idp, CLIENT_ID, CLIENT_SECRET, form).await
}

pub async fn token_request_as(
    idp: &DevIdp,
    client_id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> TokenResult {
    let resp = http()
        .post(idp.endpoint().join("oidc/token").unwrap())
        .basic_auth(client_id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    TokenResult {
        status,
        headers,
        body,
    }
}

/// Signs in and returns the callback URL.
pub async fn sign_in(idp: &DevIdp, user: &str, extra: &[(&str, &str)]) -> (AuthRequest, url::Url) {
    let req = auth_request(idp, extra);
    let password = format!("{user}-password");
    let callback = logto_dev::testing::complete_sign_in(&req.url, user, &password)
        .await
        .unwrap();
    (req, callback)
}

pub async fn exchange(
    idp: &DevIdp,
    req: &AuthRequest,
    callback: &url::Url,
    extra: &[(&str, &str)],
) -> TokenResult {
    let code = query(callback, "code").expect("code in callback");
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", req.redirect_uri.as_str()),
        ("code_verifier", req.verifier.as_str()),
    ];
    form.extend_from_slice(extra);
    token_request(idp, &form).await
}

/// Full flow for `user`: returns the code-exchange response (status 200 asserted).
pub async fn login(idp: &DevIdp, user: &str) -> (AuthRequest, Value) {
    let (req, callback) = sign_in(idp, user, &[]).await;
    let res = exchange(idp, &req, &callback, &[]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    (req, res.body)
}

/// A token request from a public client: `client_id` in the body, no secret.
pub async fn public_token_request(
    idp: &DevIdp,
    client_id: &str,
    form: &[(&str, &str)],
) -> TokenResult {
    let mut form = form.to_vec();
    form.push(("client_id", client_id));
    let resp = http()
        .post(idp.endpoint().join("oidc/token").unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    TokenResult {
        status,
        headers,
        body,
    }
}

/// Fetches `/oidc/me` with `access_token`; the status and the JSON body.
pub async fn userinfo(idp: &DevIdp, access_token: &str) -> (u16, Value) {
    let resp = http()
        .get(idp.endpoint().join("oidc/me").unwrap())
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

pub async fn refresh(idp: &DevIdp, refresh_token: &str, extra: &[(&str, &str)]) -> TokenResult {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    token_request(idp, &form).await
}

pub fn decode(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let h = parts.next().unwrap();
    let p = parts.next().unwrap();
    (
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap(),
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap(),
    )
}

/// Verifies a JWT's signature against the instance's JWKS (fetched over HTTP).
pub async fn verify(idp: &DevIdp, jwt: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(idp.endpoint().join("oidc/jwks").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let kid = header.kid.clone().unwrap();
    let jwk = jwks.find(&kid).expect("kid in JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[idp.issuer()]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .unwrap()
        .claims
}

#[allow(dead_code)]
/// Polls `f` until it returns true or the deadline passes.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
