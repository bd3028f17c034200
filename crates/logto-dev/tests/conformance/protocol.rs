//! The protocol requests, sent alike to either server: sign-in over HTTP (logto-dev's
//! form; real Logto's Experience API with the cookies `/oidc/auth` set), the token
//! endpoint, userinfo.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use logto_dev::testing::Browser;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::sides::{Kind, Names, Side};

/// One authorization request's secrets.
pub struct AuthRequest {
    pub url: url::Url,
    pub verifier: String,
    pub redirect_uri: String,
}

/// An HTTP answer: status, headers and the body as JSON (`null` when not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    async fn from(resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A header's value, or `null` when absent.
    pub fn header(&self, name: &str) -> Value {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map_or(Value::Null, |v| Value::String(v.to_owned()))
    }
}

impl Side {
    /// An authorization request for `client_id` with `scope`, `resources` and extra
    /// parameters (`prompt=consent` unless `extra` sets a prompt).
    pub fn auth_request(
        &self,
        client_id: &str,
        scope: &str,
        resources: &[&str],
        extra: &[(&str, &str)],
    ) -> AuthRequest {
        let verifier = crate::random_hex(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = crate::random_hex(8);
        let mut url = self.endpoint.join("oidc/auth").unwrap();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", client_id)
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("response_type", "code")
                .append_pair("scope", scope)
                .append_pair("state", &state)
                .append_pair("nonce", &crate::random_hex(8))
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if !extra.iter().any(|(k, _)| *k == "prompt") {
                q.append_pair("prompt", "consent");
            }
            for r in resources {
                q.append_pair("resource", r);
            }
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        AuthRequest {
            url,
            verifier,
            redirect_uri: self.redirect_uri.clone(),
        }
    }

    /// Signs the test user in with `browser` and returns the callback URL (not requested).
    pub async fn sign_in(&self, browser: &Browser, names: &Names, req: &AuthRequest) -> url::Url {
        match self.kind {
            Kind::Dev => browser
                .sign_in(&req.url, &names.username, &names.password)
                .await
                .unwrap(),
            Kind::Real => self.experience_sign_in(browser, names, req).await,
        }
    }

    /// Follows `/oidc/auth` to Logto's sign-in page, signs in through the Experience API
    /// (same cookies), then follows the redirects back to the redirect URI.
    async fn experience_sign_in(
        &self,
        browser: &Browser,
        names: &Names,
        req: &AuthRequest,
    ) -> url::Url {
        let client = browser.client();
        let mut current = req.url.clone();
        let mut submitted = false;
        for _ in 0..16 {
            let resp = client.get(current.clone()).send().await.unwrap();
            if resp.status().is_redirection() {
                let location = resp.headers()["location"].to_str().unwrap().to_owned();
                let next = current.join(&location).unwrap();
                if next.as_str().starts_with(&req.redirect_uri) {
                    return next;
                }
                current = next;
                continue;
            }
            assert_eq!(resp.status(), 200, "unexpected page at {current}");
            assert!(!submitted, "still on a page ({current}) after signing in");
            let api = |path: &str| {
                self.endpoint
                    .join(&format!("api/experience{path}"))
                    .unwrap()
            };
            let r = client
                .put(api(""))
                .json(&serde_json::json!({"interactionEvent": "SignIn"}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                204,
                "PUT /api/experience: {}",
                r.text().await.unwrap()
            );
            let r = client
                .post(api("/verification/password"))
                .json(&serde_json::json!({
                    "identifier": {"type": "username", "value": names.username},
                    "password": names.password,
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "password verification");
            let verification: Value = r.json().await.unwrap();
            let r = client
                .post(api("/identification"))
                .json(&serde_json::json!({"verificationId": verification["verificationId"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                204,
                "identification: {}",
                r.text().await.unwrap()
            );
            let r = client.post(api("/submit")).send().await.unwrap();
            assert_eq!(r.status(), 200, "submit");
            let done: Value = r.json().await.unwrap();
            current = url::Url::parse(done["redirectTo"].as_str().unwrap()).unwrap();
            submitted = true;
        }
        panic!("the sign-in on real Logto did not come back to the redirect URI");
    }

    /// `POST /oidc/token` as the confidential client (HTTP Basic).
    pub async fn token(&self, form: &[(&str, &str)]) -> Answer {
        self.token_as(&self.client_id, &self.client_secret, form)
            .await
    }

    /// `POST /oidc/token` with HTTP Basic as `client_id:secret`.
    pub async fn token_as(&self, client_id: &str, secret: &str, form: &[(&str, &str)]) -> Answer {
        let resp = crate::http()
            .post(self.endpoint.join("oidc/token").unwrap())
            .basic_auth(client_id, Some(secret))
            .form(form)
            .send()
            .await
            .unwrap();
        Answer::from(resp).await
    }

    /// `POST /oidc/token` as the public client (`client_id` in the body, no secret).
    pub async fn public_token(&self, form: &[(&str, &str)]) -> Answer {
        let mut form = form.to_vec();
        form.push(("client_id", self.spa_id.as_str()));
        let resp = crate::http()
            .post(self.endpoint.join("oidc/token").unwrap())
            .form(&form)
            .send()
            .await
            .unwrap();
        Answer::from(resp).await
    }

    /// Exchanges the code of `callback`, with `extra` parameters (e.g. a resource).
    pub async fn exchange(
        &self,
        req: &AuthRequest,
        callback: &url::Url,
        extra: &[(&str, &str)],
    ) -> Answer {
        let code = query(callback, "code")
            .unwrap_or_else(|| panic!("{:?}: no code in {callback}", self.kind));
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", req.redirect_uri.as_str()),
            ("code_verifier", req.verifier.as_str()),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// A refresh-token grant with `extra` parameters.
    pub async fn refresh(&self, refresh_token: &str, extra: &[(&str, &str)]) -> Answer {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// `GET /oidc/me`, with a bearer token when given.
    pub async fn userinfo(&self, access_token: Option<&str>) -> Answer {
        let mut req = crate::http().get(self.endpoint.join("oidc/me").unwrap());
        if let Some(token) = access_token {
            req = req.bearer_auth(token);
        }
        Answer::from(req.send().await.unwrap()).await
    }

    /// A full sign-in with every scope and `resources`, code exchanged with `extra`.
    pub async fn login(&self, names: &Names, resources: &[&str], extra: &[(&str, &str)]) -> Answer {
        let browser = Browser::new().unwrap();
        let req = self.auth_request(&self.client_id, &names.all_scopes(), resources, &[]);
        let callback = self.sign_in(&browser, names, &req).await;
        let answer = self.exchange(&req, &callback, extra).await;
        assert_eq!(
            answer.status, 200,
            "{:?} code exchange: {}",
            self.kind, answer.body
        );
        answer
    }
}

pub fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The header and the payload of a JWT (not verified: shapes are compared here).
pub fn jwt_parts(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let (h, p, _) = (parts.next()?, parts.next()?, parts.next()?);
    let decode = |s: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()
    };
    Some((decode(h)?, decode(p)?))
}
