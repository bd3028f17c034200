//! Conformance of logto-dev with real Logto (the real-Logto tier, test binary
//! `real_logto`): the same protocol requests go to a real Logto 1.42 and to an in-process
//! logto-dev set up alike, and the answers are compared — discovery, token responses,
//! the claims of ID, access and organization tokens, userinfo, refresh-token policy,
//! end session and back-channel logout, error bodies and statuses. A drift fails with the
//! difference named, e.g. `userinfo: real Logto has key organization_data[0].description
//! (null), logto-dev lacks it`.
//!
//! Needs `LOGTO_TIER_ENDPOINT`, `LOGTO_TIER_M2M_APP_ID` and `LOGTO_TIER_M2M_APP_SECRET`
//! (set by `cargo xtask test`); every test is ignored otherwise. By hand:
//! `LOGTO_TIER_ENDPOINT=… LOGTO_TIER_M2M_APP_ID=… LOGTO_TIER_M2M_APP_SECRET=… cargo nextest
//! run -p logto-dev --test real_logto --run-ignored all`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod compare;
mod protocol;
mod sides;

use std::time::{Duration, Instant};

use logto_dev::testing::Browser;
use serde_json::{Value, json};

use compare::Differences;
use protocol::{Answer, jwt_parts, query};
use sides::{Pair, Side};

const ORGANIZATIONS_RESOURCE: &str = "urn:logto:resource:organizations";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Claims whose values (after normalisation) must agree, not only their types.
const STABLE_CLAIMS: &[&str] = &[
    "iss",
    "aud",
    "sub",
    "client_id",
    "organization_id",
    "name",
    "preferred_username",
    "username",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "picture",
    "roles",
    "organizations",
    "organization_roles",
    "organization_data",
    "custom_data",
    "identities",
    "sso_identities",
    "token_type",
    "expires_in",
];

fn lifetime(claims: &Value) -> Value {
    match (claims["exp"].as_i64(), claims["iat"].as_i64()) {
        (Some(exp), Some(iat)) => json!(exp - iat),
        _ => Value::Null,
    }
}

/// Compares two JSON documents: shapes, then the values of [`STABLE_CLAIMS`] normalised,
/// scopes as sets, and token lifetimes.
fn compare_claims(d: &mut Differences, what: &str, pair: &Pair, real: &Value, dev: &Value) {
    d.shape(what, real, dev);
    let (nr, nd) = (pair.real.normalize(real), pair.dev.normalize(dev));
    for key in STABLE_CLAIMS {
        if let (Some(r), Some(v)) = (nr.get(key), nd.get(key)) {
            d.same(&format!("{what}.{key}"), r, v);
        }
    }
    if real.get("scope").is_some() || dev.get("scope").is_some() {
        d.same_scopes(&format!("{what}.scope"), &real["scope"], &dev["scope"]);
    }
    if real.get("exp").is_some() && real.get("iat").is_some() {
        d.same(
            &format!("{what}: exp - iat"),
            &lifetime(real),
            &lifetime(dev),
        );
    }
}

/// Compares two token responses: status, body shape and values, and each token's kind
/// (JWT or opaque), header and claims. `presented` is the refresh token sent, if any:
/// whether each server gave the same one back is compared too.
fn compare_token_response(
    d: &mut Differences,
    what: &str,
    pair: &Pair,
    real: &Answer,
    dev: &Answer,
    presented: Option<(&str, &str)>,
) {
    d.same(
        &format!("{what}: status"),
        &json!(real.status),
        &json!(dev.status),
    );
    compare_claims(d, what, pair, &real.body, &dev.body);
    for header in ["cache-control", "pragma", "content-type"] {
        d.same(
            &format!("{what}: header {header}"),
            &real.header(header),
            &dev.header(header),
        );
    }
    for field in ["access_token", "id_token"] {
        let (Some(r), Some(v)) = (real.body[field].as_str(), dev.body[field].as_str()) else {
            continue;
        };
        match (jwt_parts(r), jwt_parts(v)) {
            (Some((rh, rp)), Some((vh, vp))) => {
                d.shape(&format!("{what}.{field} header"), &rh, &vh);
                for key in ["alg", "typ"] {
                    d.same(&format!("{what}.{field} header.{key}"), &rh[key], &vh[key]);
                }
                compare_claims(d, &format!("{what}.{field} claims"), pair, &rp, &vp);
            }
            (None, None) => {}
            (r, _) => d.note(format!(
                "{what}.{field}: {} in {}, {} in {}",
                if r.is_some() { "a JWT" } else { "opaque" },
                compare::REAL,
                if r.is_some() { "opaque" } else { "a JWT" },
                compare::DEV
            )),
        }
    }
    if let Some((real_rt, dev_rt)) = presented {
        d.same(
            &format!("{what}: the same refresh token back"),
            &json!(real.body["refresh_token"].as_str() == Some(real_rt)),
            &json!(dev.body["refresh_token"].as_str() == Some(dev_rt)),
        );
    }
}

/// Compares two error answers: status, the whole body (normalised) and the headers a
/// client reads.
fn compare_error(d: &mut Differences, what: &str, pair: &Pair, real: &Answer, dev: &Answer) {
    d.same(
        &format!("{what}: status"),
        &json!(real.status),
        &json!(dev.status),
    );
    d.shape(what, &real.body, &dev.body);
    d.same(
        &format!("{what}: body"),
        &pair.real.normalize(&real.body),
        &pair.dev.normalize(&dev.body),
    );
    for header in ["cache-control", "www-authenticate", "content-type"] {
        d.same(
            &format!("{what}: header {header}"),
            &pair.real.normalize(&real.header(header)),
            &pair.dev.normalize(&dev.header(header)),
        );
    }
}

fn refresh_token_of(answer: &Answer) -> String {
    answer.body["refresh_token"].as_str().unwrap().to_owned()
}

fn access_token_of(answer: &Answer) -> String {
    answer.body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn discovery_and_jwks_agree() {
    let pair = Pair::start().await;
    let mut d = Differences::default();
    let get = |side: &Side, path: &str| {
        let url = side.endpoint.join(path).unwrap();
        async move {
            let resp = http().get(url).send().await.unwrap();
            let ct = resp.headers().get("content-type").cloned();
            (resp.json::<Value>().await.unwrap(), ct)
        }
    };
    for path in ["oidc/.well-known/openid-configuration", "oidc/jwks"] {
        let (real, real_ct) = get(&pair.real, path).await;
        let (dev, dev_ct) = get(&pair.dev, path).await;
        d.shape(path, &real, &dev);
        d.same(
            &format!("{path}: content-type"),
            &json!(real_ct.map(|v| v.to_str().unwrap().to_owned())),
            &json!(dev_ct.map(|v| v.to_str().unwrap().to_owned())),
        );
        if path.ends_with("jwks") {
            for key in ["kty", "alg", "use", "crv"] {
                d.same(
                    &format!("jwks key {key}"),
                    &real["keys"][0][key],
                    &dev["keys"][0][key],
                );
            }
        } else {
            // Every value of the discovery document agrees once URLs are normalised.
            let (nr, nd) = (pair.real.normalize(&real), pair.dev.normalize(&dev));
            for (key, value) in nr.as_object().unwrap() {
                if let Some(dv) = nd.get(key) {
                    d.same(&format!("discovery.{key}"), value, dv);
                }
            }
        }
    }
    pair.finish().await;
    d.assert_none("discovery and JWKS");
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn token_responses_claims_and_userinfo_agree() {
    let pair = Pair::start().await;
    let n = &pair.names;
    let mut d = Differences::default();
    let resources = [n.api.as_str(), ORGANIZATIONS_RESOURCE];
    let real = pair
        .real
        .login(n, &resources, &[("resource", &n.api)])
        .await;
    let dev = pair.dev.login(n, &resources, &[("resource", &n.api)]).await;
    compare_token_response(
        &mut d,
        "code exchange with a resource",
        &pair,
        &real,
        &dev,
        None,
    );
    let (real_rt, dev_rt) = (refresh_token_of(&real), refresh_token_of(&dev));
    let rts = Some((real_rt.as_str(), dev_rt.as_str()));

    let plain = (
        pair.real.refresh(&real_rt, &[]).await,
        pair.dev.refresh(&dev_rt, &[]).await,
    );
    compare_token_response(&mut d, "refresh", &pair, &plain.0, &plain.1, rts);
    let cases: [(&str, Vec<(&str, String)>); 4] = [
        ("refresh for a resource", vec![("resource", n.api.clone())]),
        (
            "organization token",
            vec![("organization_id", String::new())],
        ),
        (
            "organization token for a resource",
            vec![
                ("organization_id", String::new()),
                ("resource", n.api.clone()),
            ],
        ),
        (
            "organization token narrowed by scope",
            vec![
                ("organization_id", String::new()),
                ("scope", n.read_members.clone()),
            ],
        ),
    ];
    for (what, params) in cases {
        let with_org = |side: &Side| -> Vec<(&'static str, String)> {
            params
                .iter()
                .map(|(k, v)| {
                    (
                        *k,
                        if *k == "organization_id" {
                            side.org.clone()
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect()
        };
        let (rp, dp) = (with_org(&pair.real), with_org(&pair.dev));
        let rp: Vec<(&str, &str)> = rp.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let dp: Vec<(&str, &str)> = dp.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let real = pair.real.refresh(&real_rt, &rp).await;
        let dev = pair.dev.refresh(&dev_rt, &dp).await;
        compare_token_response(&mut d, what, &pair, &real, &dev, rts);
    }

    let real_me = pair.real.userinfo(Some(&access_token_of(&plain.0))).await;
    let dev_me = pair.dev.userinfo(Some(&access_token_of(&plain.1))).await;
    d.same(
        "userinfo: status",
        &json!(real_me.status),
        &json!(dev_me.status),
    );
    compare_claims(&mut d, "userinfo", &pair, &real_me.body, &dev_me.body);
    d.same(
        "userinfo: header cache-control",
        &real_me.header("cache-control"),
        &dev_me.header("cache-control"),
    );
    pair.finish().await;
    d.assert_none("token responses, claims and userinfo");
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn organization_token_without_the_organizations_resource_agrees() {
    let pair = Pair::start().await;
    let n = &pair.names;
    let mut d = Differences::default();
    // The organization permissions are in the scope, but the organizations resource is
    // not requested: the organization token carries no permission.
    let real = pair.real.login(n, &[n.api.as_str()], &[]).await;
    let dev = pair.dev.login(n, &[n.api.as_str()], &[]).await;
    let (real_rt, dev_rt) = (refresh_token_of(&real), refresh_token_of(&dev));
    let rts = Some((real_rt.as_str(), dev_rt.as_str()));
    let real_org = pair
        .real
        .refresh(&real_rt, &[("organization_id", &pair.real.org)])
        .await;
    let dev_org = pair
        .dev
        .refresh(&dev_rt, &[("organization_id", &pair.dev.org)])
        .await;
    compare_token_response(
        &mut d,
        "organization token",
        &pair,
        &real_org,
        &dev_org,
        rts,
    );
    let real = pair
        .real
        .refresh(
            &real_rt,
            &[
                ("organization_id", &pair.real.org),
                ("scope", &n.read_members),
            ],
        )
        .await;
    let dev = pair
        .dev
        .refresh(
            &dev_rt,
            &[
                ("organization_id", &pair.dev.org),
                ("scope", &n.read_members),
            ],
        )
        .await;
    compare_error(
        &mut d,
        "organization token asking for an ungranted permission",
        &pair,
        &real,
        &dev,
    );
    pair.finish().await;
    d.assert_none("organization token without the organizations resource");
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn token_endpoint_and_userinfo_errors_agree() {
    let pair = Pair::start().await;
    let n = &pair.names;
    let mut d = Differences::default();
    let resources = [n.api.as_str(), ORGANIZATIONS_RESOURCE];
    let real = pair.real.login(n, &resources, &[]).await;
    let dev = pair.dev.login(n, &resources, &[]).await;
    let (real_rt, dev_rt) = (refresh_token_of(&real), refresh_token_of(&dev));

    let both = |real: Answer, dev: Answer| (real, dev);
    let cases = vec![
        (
            "organization token for a non-member",
            both(
                pair.real
                    .refresh(&real_rt, &[("organization_id", &pair.real.other_org)])
                    .await,
                pair.dev
                    .refresh(&dev_rt, &[("organization_id", &pair.dev.other_org)])
                    .await,
            ),
        ),
        (
            "garbage refresh token",
            both(
                pair.real.refresh("garbage", &[]).await,
                pair.dev.refresh("garbage", &[]).await,
            ),
        ),
        (
            "unknown resource",
            both(
                pair.real
                    .refresh(
                        &real_rt,
                        &[("resource", "https://unknown.conformance.test")],
                    )
                    .await,
                pair.dev
                    .refresh(&dev_rt, &[("resource", "https://unknown.conformance.test")])
                    .await,
            ),
        ),
        (
            "scope not granted",
            both(
                pair.real
                    .refresh(&real_rt, &[("scope", "openid nope")])
                    .await,
                pair.dev.refresh(&dev_rt, &[("scope", "openid nope")]).await,
            ),
        ),
        (
            "garbage code",
            both(
                pair.real
                    .token(&[
                        ("grant_type", "authorization_code"),
                        ("code", "garbage"),
                        ("redirect_uri", &pair.real.redirect_uri),
                        ("code_verifier", &random_hex(32)),
                    ])
                    .await,
                pair.dev
                    .token(&[
                        ("grant_type", "authorization_code"),
                        ("code", "garbage"),
                        ("redirect_uri", &pair.dev.redirect_uri),
                        ("code_verifier", &random_hex(32)),
                    ])
                    .await,
            ),
        ),
        (
            "bad client secret",
            both(
                pair.real
                    .token_as(
                        &pair.real.client_id,
                        "wrong",
                        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
                    )
                    .await,
                pair.dev
                    .token_as(
                        &pair.dev.client_id,
                        "wrong",
                        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
                    )
                    .await,
            ),
        ),
        (
            "unknown client",
            both(
                pair.real
                    .token_as(
                        "no-such-client",
                        "x",
                        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
                    )
                    .await,
                pair.dev
                    .token_as(
                        "no-such-client",
                        "x",
                        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
                    )
                    .await,
            ),
        ),
        (
            "unsupported grant type",
            both(
                pair.real.token(&[("grant_type", "password")]).await,
                pair.dev.token(&[("grant_type", "password")]).await,
            ),
        ),
        (
            "missing grant type",
            both(
                pair.real.token(&[("foo", "bar")]).await,
                pair.dev.token(&[("foo", "bar")]).await,
            ),
        ),
        (
            "a body that is not a form",
            both(pair.real.token(&[]).await, pair.dev.token(&[]).await),
        ),
        (
            "userinfo without a token",
            both(
                pair.real.userinfo(None).await,
                pair.dev.userinfo(None).await,
            ),
        ),
        (
            "userinfo with a garbage token",
            both(
                pair.real.userinfo(Some("garbage")).await,
                pair.dev.userinfo(Some("garbage")).await,
            ),
        ),
    ];
    for (what, (real, dev)) in &cases {
        compare_error(&mut d, what, &pair, real, dev);
    }
    // Userinfo with a JWT access token (an API-resource token).
    let real_jwt = pair.real.refresh(&real_rt, &[("resource", &n.api)]).await;
    let dev_jwt = pair.dev.refresh(&dev_rt, &[("resource", &n.api)]).await;
    let real = pair.real.userinfo(Some(&access_token_of(&real_jwt))).await;
    let dev = pair.dev.userinfo(Some(&access_token_of(&dev_jwt))).await;
    compare_error(
        &mut d,
        "userinfo with a JWT access token",
        &pair,
        &real,
        &dev,
    );
    // A used code: invalid_grant, and the grant it produced is revoked.
    let browser = (Browser::new().unwrap(), Browser::new().unwrap());
    let reqs = (
        pair.real
            .auth_request(&pair.real.client_id, &n.all_scopes(), &resources, &[]),
        pair.dev
            .auth_request(&pair.dev.client_id, &n.all_scopes(), &resources, &[]),
    );
    let callbacks = (
        pair.real.sign_in(&browser.0, n, &reqs.0).await,
        pair.dev.sign_in(&browser.1, n, &reqs.1).await,
    );
    let first = (
        pair.real.exchange(&reqs.0, &callbacks.0, &[]).await,
        pair.dev.exchange(&reqs.1, &callbacks.1, &[]).await,
    );
    let again = (
        pair.real.exchange(&reqs.0, &callbacks.0, &[]).await,
        pair.dev.exchange(&reqs.1, &callbacks.1, &[]).await,
    );
    compare_error(&mut d, "a used code", &pair, &again.0, &again.1);
    let after = (
        pair.real.refresh(&refresh_token_of(&first.0), &[]).await,
        pair.dev.refresh(&refresh_token_of(&first.1), &[]).await,
    );
    compare_error(
        &mut d,
        "refresh after a used code",
        &pair,
        &after.0,
        &after.1,
    );
    pair.finish().await;
    d.assert_none("token endpoint and userinfo errors");
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn authorization_endpoint_answers_agree() {
    let pair = Pair::start().await;
    let mut d = Differences::default();
    // (what, parameters to change: a `None` value removes the parameter)
    type Changes<'a> = Vec<(&'a str, Option<&'a str>)>;
    let cases: Vec<(&str, Changes)> = vec![
        (
            "bad redirect_uri",
            vec![("redirect_uri", Some("http://evil.test/cb"))],
        ),
        (
            "unknown client",
            vec![("client_id", Some("no-such-client"))],
        ),
        ("missing client_id", vec![("client_id", None)]),
        ("missing response_type", vec![("response_type", None)]),
        (
            "unsupported response_type",
            vec![("response_type", Some("id_token token"))],
        ),
        ("plain PKCE", vec![("code_challenge_method", Some("plain"))]),
        (
            "unknown resource",
            vec![("resource", Some("https://unknown.conformance.test"))],
        ),
        ("unsupported prompt", vec![("prompt", Some("bogus"))]),
        (
            "prompt none with login",
            vec![("prompt", Some("none login"))],
        ),
        (
            "prompt none without a session",
            vec![("prompt", Some("none"))],
        ),
    ];
    let answer = |side: &Side, changes: &[(&str, Option<&str>)]| {
        let req = side.auth_request(&side.client_id, "openid profile", &[], &[]);
        let mut url = req.url.clone();
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .collect();
        for (k, v) in changes {
            if let Some(v) = v {
                pairs.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        url.query_pairs_mut().clear().extend_pairs(pairs);
        async move {
            let resp = http().get(url).send().await.unwrap();
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (status, location, body)
        }
    };
    for (what, changes) in &cases {
        let (rs, rl, rb) = answer(&pair.real, changes).await;
        let (ds, dl, db) = answer(&pair.dev, changes).await;
        d.same(
            &format!("/oidc/auth, {what}: status"),
            &json!(rs),
            &json!(ds),
        );
        d.shape(&format!("/oidc/auth, {what}"), &rb, &db);
        // The state is each request's own: only its presence is compared.
        let without_state = |side: &Side, body: &Value| {
            let mut body = side.normalize(body);
            if let Some(state) = body.get_mut("state") {
                *state = json!("(state)");
            }
            body
        };
        d.same(
            &format!("/oidc/auth, {what}: body"),
            &without_state(&pair.real, &rb),
            &without_state(&pair.dev, &db),
        );
        // Redirected errors: the same parameters, in the query or the fragment.
        let params = |side: &Side, location: Option<String>| -> Value {
            let Some(location) = location else {
                return Value::Null;
            };
            let url = side.endpoint.join(&location).unwrap();
            if !url.as_str().starts_with(&side.redirect_uri) {
                return json!("(not redirected to the client)");
            }
            let mut out = serde_json::Map::new();
            let (part, text) = match url.fragment() {
                Some(f) => ("fragment", f.to_owned()),
                None => ("query", url.query().unwrap_or_default().to_owned()),
            };
            for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
                let v = if k == "state" {
                    "(state)".to_owned()
                } else {
                    v.into_owned()
                };
                out.insert(format!("{part}.{k}"), side.normalize(&json!(v)));
            }
            Value::Object(out)
        };
        d.same(
            &format!("/oidc/auth, {what}: redirect"),
            &params(&pair.real, rl),
            &params(&pair.dev, dl),
        );
    }
    // Without PKCE a Traditional web app may still sign in (it uses client_secret_basic).
    let no_pkce = [("code_challenge", None), ("code_challenge_method", None)];
    let (rs, rl, _) = answer(&pair.real, &no_pkce).await;
    let (ds, dl, _) = answer(&pair.dev, &no_pkce).await;
    let to_sign_in =
        |l: &Option<String>| json!(l.as_deref().is_some_and(|l| !l.contains("error=")));
    d.same("/oidc/auth without PKCE: status", &json!(rs), &json!(ds));
    d.same(
        "/oidc/auth without PKCE: goes on to sign-in",
        &to_sign_in(&rl),
        &to_sign_in(&dl),
    );
    pair.finish().await;
    d.assert_none("authorization endpoint");
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn refresh_token_policy_agrees() {
    let pair = Pair::start().await;
    let n = &pair.names;
    let mut d = Differences::default();
    // A Traditional web app: the same token back, again and again.
    let real = pair.real.login(n, &[], &[]).await;
    let dev = pair.dev.login(n, &[], &[]).await;
    let (real_rt, dev_rt) = (refresh_token_of(&real), refresh_token_of(&dev));
    for i in 1..=2 {
        let r = pair.real.refresh(&real_rt, &[]).await;
        let v = pair.dev.refresh(&dev_rt, &[]).await;
        compare_token_response(
            &mut d,
            &format!("Traditional web app, refresh {i}"),
            &pair,
            &r,
            &v,
            Some((&real_rt, &dev_rt)),
        );
    }
    // A public client: rotation on every use, the old token still good within the grace.
    let mut rts = Vec::new();
    for side in [&pair.real, &pair.dev] {
        let browser = Browser::new().unwrap();
        let req = side.auth_request(&side.spa_id, "openid offline_access profile", &[], &[]);
        let callback = side.sign_in(&browser, n, &req).await;
        let code = query(&callback, "code").unwrap();
        let first = side
            .public_token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &req.redirect_uri),
                ("code_verifier", &req.verifier),
            ])
            .await;
        assert_eq!(first.status, 200, "{:?}: {}", side.kind, first.body);
        rts.push(refresh_token_of(&first));
    }
    let rotated = (
        pair.real
            .public_token(&[("grant_type", "refresh_token"), ("refresh_token", &rts[0])])
            .await,
        pair.dev
            .public_token(&[("grant_type", "refresh_token"), ("refresh_token", &rts[1])])
            .await,
    );
    compare_token_response(
        &mut d,
        "public client, refresh",
        &pair,
        &rotated.0,
        &rotated.1,
        Some((&rts[0], &rts[1])),
    );
    let reused = (
        pair.real
            .public_token(&[("grant_type", "refresh_token"), ("refresh_token", &rts[0])])
            .await,
        pair.dev
            .public_token(&[("grant_type", "refresh_token"), ("refresh_token", &rts[1])])
            .await,
    );
    compare_token_response(
        &mut d,
        "public client, the rotated token reused at once",
        &pair,
        &reused.0,
        &reused.1,
        Some((&rts[0], &rts[1])),
    );
    pair.finish().await;
    d.assert_none("refresh-token policy");
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn updated_at_changes_at_every_sign_in_on_both() {
    let pair = Pair::start().await;
    let n = &pair.names;
    let mut d = Differences::default();
    let updated_at = |a: &Answer| {
        jwt_parts(a.body["id_token"].as_str().unwrap()).unwrap().1["updated_at"]
            .as_i64()
            .unwrap()
    };
    let mut moved = Vec::new();
    for side in [&pair.real, &pair.dev] {
        let first = side.login(n, &[], &[]).await;
        let second = side.login(n, &[], &[]).await;
        moved.push(json!(updated_at(&second) > updated_at(&first)));
    }
    d.same(
        "updated_at moved at the second sign-in",
        &moved[0],
        &moved[1],
    );
    pair.finish().await;
    d.assert_none("updated_at");
}

/// The inputs of the first form-like page: its action and every named hidden input (real
/// Logto's end-session page puts `logout=yes` outside the form, tied to it by `form=`).
fn page_form(html: &str) -> (Option<String>, Vec<(String, String)>) {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let needle = format!("{name}=\"");
        let start = tag.find(&needle)? + needle.len();
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].replace("&amp;", "&"))
    };
    let action = html
        .find("<form")
        .and_then(|i| html[i..].find('>').map(|e| &html[i..i + e]))
        .and_then(|tag| attr(tag, "action"));
    let mut inputs = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input") {
        let tag_end = rest[i..].find('>').map_or(rest.len(), |e| i + e);
        let tag = &rest[i..tag_end];
        if let Some(name) = attr(tag, "name") {
            inputs.push((name, attr(tag, "value").unwrap_or_default()));
        }
        rest = &rest[tag_end..];
    }
    (action, inputs)
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn end_session_and_backchannel_logout_agree() {
    let pair = Pair::start().await;
    let n = &pair.names;
    let mut d = Differences::default();
    let mut seen = Vec::new();
    for (side, tag) in [(&pair.real, "real"), (&pair.dev, "dev")] {
        let browser = Browser::new().unwrap();
        let req = side.auth_request(&side.client_id, &n.all_scopes(), &[], &[]);
        let callback = side.sign_in(&browser, n, &req).await;
        let tokens = side.exchange(&req, &callback, &[]).await;
        let id_token = tokens.body["id_token"].as_str().unwrap().to_owned();
        let mut end = side.endpoint.join("oidc/session/end").unwrap();
        end.query_pairs_mut()
            .append_pair("client_id", &side.client_id)
            .append_pair("id_token_hint", &id_token)
            .append_pair("post_logout_redirect_uri", &side.post_logout_uri)
            .append_pair("state", "bye");
        let page = browser.client().get(end).send().await.unwrap();
        let page_status = page.status().as_u16();
        let location_of = |resp: &reqwest::Response| {
            resp.headers().get("location").map(|v| {
                v.to_str()
                    .unwrap()
                    .replace(&side.post_logout_uri, "{post_logout_uri}")
            })
        };
        let page_location = location_of(&page);
        let html = page.text().await.unwrap();
        let (action, inputs) = page_form(&html);
        let names: Vec<&str> = inputs.iter().map(|(k, _)| k.as_str()).collect();
        let mut observed = json!({
            "end-session status": page_status,
            "end-session redirect": side.normalize(&json!(page_location)),
            "submits itself": html.contains(".submit()"),
            "form action": side.normalize(&json!(action)),
            "form fields": names,
            "logout": inputs.iter().find(|(k, _)| k == "logout").map(|(_, v)| v.clone()),
            "confirm status": null,
            "confirm location": null,
        });
        if let Some(action) = action {
            let confirm = browser
                .client()
                .post(action)
                .form(&inputs)
                .send()
                .await
                .unwrap();
            observed["confirm status"] = json!(confirm.status().as_u16());
            observed["confirm location"] = side.normalize(&json!(location_of(&confirm)));
        }
        // The back-channel logout token reaches the relying party (poll with a deadline).
        let deadline = Instant::now() + Duration::from_secs(10);
        while pair.rp.tokens_for(tag).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let logout_tokens = pair.rp.tokens_for(tag);
        observed["logout tokens"] = json!(logout_tokens.len());
        let logout = logout_tokens.first().and_then(|t| jwt_parts(t));
        // The session is gone; the offline grant survives.
        let again = side.auth_request(&side.client_id, "openid", &[], &[("prompt", "none")]);
        let r = browser.client().get(again.url).send().await.unwrap();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        observed["prompt=none afterwards"] =
            json!(loc.and_then(|l| { url::Url::parse(&l).ok().and_then(|u| query(&u, "error")) }));
        let refreshed = side.refresh(&refresh_token_of(&tokens), &[]).await;
        observed["refresh afterwards"] = json!(refreshed.status);
        seen.push((observed, logout, decode_sid(&id_token)));
    }
    let (real, dev) = (&seen[0], &seen[1]);
    for (key, value) in real.0.as_object().unwrap() {
        d.same(&format!("end session: {key}"), value, &dev.0[key]);
    }
    match (&real.1, &dev.1) {
        (Some((rh, rp)), Some((dh, dp))) => {
            d.shape("logout token header", rh, dh);
            d.same("logout token typ", &rh["typ"], &dh["typ"]);
            compare_claims(&mut d, "logout token", &pair, rp, dp);
            d.same(
                "logout token sid is the ID token's",
                &json!(rp["sid"] == real.2),
                &json!(dp["sid"] == dev.2),
            );
        }
        _ => d.note("a logout token is missing on one side (see `logout tokens` above)"),
    }
    pair.finish().await;
    d.assert_none("end session and back-channel logout");
}

fn decode_sid(id_token: &str) -> Value {
    jwt_parts(id_token).map_or(Value::Null, |(_, p)| p["sid"].clone())
}
