//! Security checklist items at the client level (A1.3, A1.5, A1.6, A1.8, A1.9,
//! A2.9, A4.5, A6.4): what the client refuses, what it stores (nothing), and
//! which requests it does not make. Against the fake IdP (forged answers) and
//! logto-dev (its JWKS counter and its PKCE check).

use std::time::{Duration, Instant};

use logto_client::{
    AccessTokenKey, AppSecret, CallbackError, Error, IdToken, InMemoryStorage, LogtoClient,
    LogtoConfig, RefreshToken, SignInOptions, SignInOutcome, Storage, TokenSet, ValidationError,
};
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::*;

const FAKE_APP: &str = "fake-app";
const FAKE_SECRET: &str = "fake-secret";
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

use test_support::{b64, hmac_sha256};

/// A compact JWS with `header` and `claims`, MACed with HS256 under `key`.
fn hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mac = hmac_sha256(key, input.as_bytes());
    format!("{input}.{}", b64(&mac))
}

/// An ES384 JWS with any header, signed by the fake's key.
fn sign_with_header(fake: &FakeIdp, header: &Value, claims: &Value) -> String {
    use p384::ecdsa::signature::Signer;
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig: p384::ecdsa::Signature = fake.key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

async fn seed_previous_tokens(storage: &InMemoryStorage) {
    storage
        .save_tokens(&TokenSet {
            id_token: IdToken::new("previous-id"),
            refresh_token: Some(RefreshToken::new("previous-rt")),
        })
        .await
        .unwrap();
}

async fn assert_previous_tokens(storage: &InMemoryStorage, what: &str) {
    let t = storage.load_tokens().await.unwrap().unwrap();
    assert_eq!(t.id_token.secret(), "previous-id", "{what}");
    assert_eq!(
        t.refresh_token.unwrap().secret(),
        "previous-rt",
        "{what}: nothing stored"
    );
}

/// Starts a sign-in on the fake, queues `answer(nonce)` at its token endpoint and
/// handles a callback carrying the right `state` and `iss`.
async fn callback_with(
    fake: &FakeIdp,
    client: &LogtoClient,
    storage: &InMemoryStorage,
    answer: impl FnOnce(&str) -> Canned,
) -> (Result<SignInOutcome, Error>, String) {
    let url = client
        .sign_in(storage, SignInOptions::new(REDIRECT))
        .await
        .unwrap();
    let state = query_param(&url, "state").unwrap();
    let nonce = query_param(&url, "nonce").unwrap();
    fake.push_token(answer(&nonce));
    let iss: String = url::form_urlencoded::byte_serialize(fake.issuer().as_bytes()).collect();
    let r = client
        .handle_sign_in_callback(
            storage,
            &format!("{REDIRECT}?code=c&state={state}&iss={iss}"),
        )
        .await;
    (r, nonce)
}

/// A1.3: a flood of callbacks (a thousand under `XTASK_LONG`, a few hundred
/// otherwise), each answered with an ID token whose `kid` is random, costs one
/// initial JWKS fetch and one re-fetch (the cool-down absorbs the rest); none
/// signs anybody in.
#[tokio::test]
async fn a_flood_of_callbacks_with_unknown_kids_fetches_the_jwks_twice_and_signs_nobody_in() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    assert!(client.config().jwks_refetch_cooldown() <= Duration::from_secs(60));
    let storage = InMemoryStorage::new();
    seed_previous_tokens(&storage).await;
    let flood = if std::env::var("XTASK_LONG").as_deref() == Ok("1") {
        1_000
    } else {
        250
    };
    for i in 0..flood {
        let kid = format!("unknown-{i}-{:016x}", rand::random::<u64>());
        let (r, _) = callback_with(&fake, &client, &storage, |nonce| {
            fake.token_response(&fake.sign(&kid, &fake.id_claims(nonce)))
        })
        .await;
        assert!(
            matches!(
                &r,
                Err(Error::Validation(ValidationError::UnknownKeyId(Some(k)))) if *k == kid
            ),
            "#{i}: {r:?}"
        );
    }
    assert_previous_tokens(&storage, "after the flood").await;
    assert_eq!(fake.hits("/oidc/token"), flood);
    assert_eq!(fake.hits("/oidc/jwks"), 2, "initial fetch + one re-fetch");
    assert_eq!(client.jwks_fetch_count(), 2);
    assert_eq!(
        fake.hits("/oidc/me"),
        0,
        "no userinfo after a refused ID token"
    );
}

/// A1.3 over time, against logto-dev's JWKS counter: with a 250 ms cool-down, a
/// second of unknown kids re-fetches at most once per cool-down; a genuine key
/// rotation is still picked up.
#[tokio::test]
async fn the_cooldown_bounds_jwks_fetches_over_time_and_rotation_still_works() {
    let idp = logto_dev::serve_demo().await.unwrap();
    let cooldown = Duration::from_millis(250);
    let config = LogtoConfig::new(
        idp.endpoint().as_str(),
        APP_ID,
        Some(AppSecret::new(APP_SECRET)),
    )
    .unwrap()
    .with_jwks_refetch_cooldown(cooldown);
    let client = LogtoClient::new(config).unwrap();
    let claims = || {
        let t = now();
        json!({"iss": idp.issuer(), "sub": "u", "aud": APP_ID, "exp": t + 600, "iat": t})
    };
    let started = Instant::now();
    let mut tokens = 0;
    while started.elapsed() < Duration::from_secs(1) || tokens < 200 {
        let kid = format!("random-{:016x}", rand::random::<u64>());
        let t = idp.sign_jwt(&json!({ "kid": kid }), &claims()).unwrap();
        let r = client.verify_id_token(&t, None).await;
        assert!(
            matches!(r, Err(Error::Validation(ValidationError::UnknownKeyId(_)))),
            "{r:?}"
        );
        tokens += 1;
    }
    let elapsed = started.elapsed();
    let hits = idp.counters().jwks_hits;
    let windows = u64::try_from(elapsed.as_millis() / cooldown.as_millis()).unwrap();
    // One initial fetch, then at most one re-fetch per started cool-down window.
    assert!(
        hits <= 2 + windows,
        "{hits} JWKS fetches for {tokens} tokens in {elapsed:?}"
    );
    assert!(hits >= 3, "re-fetches resume after the cool-down: {hits}");
    assert_eq!(client.jwks_fetch_count(), hits);

    // A real rotation: the new key's tokens verify once the cool-down allows a fetch.
    idp.rotate_keys();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let t = idp.sign_jwt(&json!({}), &claims()).unwrap();
        match client.verify_id_token(&t, None).await {
            Ok(c) => {
                assert_eq!(c.sub, "u");
                break;
            }
            Err(Error::Validation(ValidationError::UnknownKeyId(_))) => {}
            Err(e) => panic!("{e:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "the rotated key was never fetched"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    idp.stop().await;
}

/// A1.5: the fake's discovery lists `HS256` and `none`; an ID token MACed with
/// the client secret (a valid HS256 MAC) and an unsigned one are refused, and the
/// allowed list stays what the configuration says.
#[tokio::test]
async fn hmac_and_none_id_tokens_are_refused_although_discovery_lists_them() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let storage = InMemoryStorage::new();
    seed_previous_tokens(&storage).await;
    type Forge<'a> = Box<dyn Fn(&str) -> String + 'a>;
    let cases: Vec<(&str, Forge<'_>)> = vec![
        (
            "HS256 keyed by the client secret",
            Box::new(|nonce: &str| {
                hs256(
                    &json!({"alg": "HS256", "typ": "JWT"}),
                    &fake.id_claims(nonce),
                    FAKE_SECRET.as_bytes(),
                )
            }),
        ),
        (
            "HS256 with the JWKS kid",
            Box::new(|nonce: &str| {
                hs256(
                    &json!({"alg": "HS256", "kid": fake.kid}),
                    &fake.id_claims(nonce),
                    FAKE_SECRET.as_bytes(),
                )
            }),
        ),
        (
            "HS384",
            Box::new(|nonce: &str| {
                hs256(
                    &json!({"alg": "HS384"}),
                    &fake.id_claims(nonce),
                    FAKE_SECRET.as_bytes(),
                )
            }),
        ),
        (
            "none",
            Box::new(|nonce: &str| {
                format!(
                    "{}.{}.",
                    b64(json!({"alg": "none"}).to_string().as_bytes()),
                    b64(fake.id_claims(nonce).to_string().as_bytes())
                )
            }),
        ),
        (
            "None",
            Box::new(|nonce: &str| {
                format!(
                    "{}.{}.",
                    b64(json!({"alg": "None"}).to_string().as_bytes()),
                    b64(fake.id_claims(nonce).to_string().as_bytes())
                )
            }),
        ),
    ];
    for (name, forge) in &cases {
        let (r, _) = callback_with(&fake, &client, &storage, |nonce| {
            fake.token_response(&forge(nonce))
        })
        .await;
        assert!(
            matches!(
                &r,
                Err(Error::Validation(ValidationError::AlgorithmNotAllowed(_)))
            ),
            "{name}: {r:?}"
        );
        assert_previous_tokens(&storage, name).await;
    }
    // Discovery did not widen the configured list.
    assert_eq!(
        client.config().allowed_algorithms(),
        logto_client::SigningAlgorithm::ALL
    );
    assert_eq!(fake.hits("/oidc/me"), 0);

    // Pinned narrower in the configuration, an algorithm the key could verify is
    // refused too: the configuration decides, nothing else.
    let config = LogtoConfig::new(&fake.endpoint, FAKE_APP, Some(AppSecret::new(FAKE_SECRET)))
        .unwrap()
        .with_allowed_algorithms([logto_client::SigningAlgorithm::RS256]);
    let pinned = LogtoClient::new(config).unwrap();
    let (r, _) = callback_with(&fake, &pinned, &storage, |nonce| {
        fake.token_response(&fake.sign(&fake.kid, &fake.id_claims(nonce)))
    })
    .await;
    assert!(
        matches!(&r, Err(Error::Validation(ValidationError::AlgorithmNotAllowed(a))) if a == "ES384"),
        "{r:?}"
    );
    assert_previous_tokens(&storage, "ES384 pinned out").await;
}

/// A1.8: `exp`, `nbf` or `iat` typed as a string (CVE-2026-25537's shape) is refused
/// at the callback, whatever the number inside.
#[tokio::test]
async fn time_claims_typed_as_strings_are_refused_at_the_callback() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let storage = InMemoryStorage::new();
    seed_previous_tokens(&storage).await;
    let t = now();
    for (claim, value) in [
        ("exp", json!((t + 3600).to_string())),
        ("exp", json!(format!("{}.0", t + 3600))),
        ("nbf", json!((t - 10).to_string())),
        ("iat", json!(t.to_string())),
        ("iat", json!("")),
        ("exp", json!(null)),
        ("exp", json!([t + 3600])),
        ("exp", json!({"n": t + 3600})),
        ("exp", json!(true)),
    ] {
        let (r, _) = callback_with(&fake, &client, &storage, |nonce| {
            let mut c = fake.id_claims(nonce);
            c[claim] = value.clone();
            fake.token_response(&fake.sign(&fake.kid, &c))
        })
        .await;
        assert!(
            matches!(
                &r,
                Err(Error::Validation(
                    ValidationError::InvalidClaim { claim: c, .. }
                )) if *c == claim
            ),
            "{claim} = {value}: {r:?}"
        );
        assert_previous_tokens(&storage, claim).await;
    }
    assert_eq!(fake.hits("/oidc/me"), 0);
}

/// A1.9 / A2.1–A2.4 at the client: a refused authorization response never
/// reaches the token endpoint (the fake counts every request to it).
#[tokio::test]
async fn refused_authorization_responses_make_no_token_request() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let storage = InMemoryStorage::new();
    seed_previous_tokens(&storage).await;
    let issuer = fake.issuer();
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let start = async || -> String {
        let url = client
            .sign_in(&storage, SignInOptions::new(REDIRECT))
            .await
            .unwrap();
        query_param(&url, "state").unwrap()
    };
    let mut cases: Vec<(String, String)> = Vec::new();
    let state = start().await;
    cases.push((
        "unknown state".into(),
        format!("{REDIRECT}?code=c&state=forged&iss={}", enc(&issuer)),
    ));
    cases.push((
        "no state".into(),
        format!("{REDIRECT}?code=c&iss={}", enc(&issuer)),
    ));
    cases.push((
        "iss + 1".into(),
        format!(
            "{REDIRECT}?code=c&state={state}&iss={}",
            enc(&format!("{issuer}1"))
        ),
    ));
    let state = start().await;
    cases.push((
        "iss with a trailing slash".into(),
        format!(
            "{REDIRECT}?code=c&state={state}&iss={}",
            enc(&format!("{issuer}/"))
        ),
    ));
    let state = start().await;
    cases.push((
        "no iss although discovery promises it".into(),
        format!("{REDIRECT}?code=c&state={state}"),
    ));
    let state = start().await;
    cases.push((
        "error=access_denied".into(),
        format!(
            "{REDIRECT}?error=access_denied&state={state}&iss={}",
            enc(&issuer)
        ),
    ));
    let state = start().await;
    cases.push((
        "duplicated code".into(),
        format!(
            "{REDIRECT}?code=c&code=d&state={state}&iss={}",
            enc(&issuer)
        ),
    ));
    let state = start().await;
    cases.push((
        "another redirect URI".into(),
        format!(
            "http://127.0.0.1:9/elsewhere?code=c&state={state}&iss={}",
            enc(&issuer)
        ),
    ));
    for (name, callback) in &cases {
        let r = client.handle_sign_in_callback(&storage, callback).await;
        assert!(
            matches!(r, Err(Error::Callback(_) | Error::Oidc(_))),
            "{name}: {r:?}"
        );
        assert_previous_tokens(&storage, name).await;
    }
    assert_eq!(fake.hits("/oidc/token"), 0, "no token request at all");
    // The refused ones consumed their state: replays find nothing either.
    let r = client.handle_sign_in_callback(&storage, &cases[2].1).await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::UnknownState))),
        "{r:?}"
    );
    assert_eq!(fake.hits("/oidc/token"), 0);
}

/// A1.6: a refreshed ID token that changes `iss`, `sub`, `aud` or `azp` is refused;
/// nothing of that refresh is stored, the user's tokens are cleared (sign in again),
/// and no further request reaches the IdP. The original nonce (or none) is fine.
#[tokio::test]
async fn refreshed_id_tokens_that_change_iss_sub_aud_or_azp_are_refused() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    type Tweak = fn(&mut Value);
    let cases: Vec<(&str, Tweak, ValidationError)> = vec![
        (
            "sub",
            |c| c["sub"] = json!("user-2"),
            ValidationError::RefreshedIdTokenMismatch("sub"),
        ),
        (
            "iss",
            |c| c["iss"] = json!("http://127.0.0.1:1/oidc"),
            ValidationError::RefreshedIdTokenInvalid(Box::new(ValidationError::IssuerMismatch)),
        ),
        (
            "aud replaced",
            |c| c["aud"] = json!("another-app"),
            ValidationError::RefreshedIdTokenInvalid(Box::new(ValidationError::AudienceMismatch)),
        ),
        (
            "aud widened (azp = us)",
            |c| {
                c["aud"] = json!([FAKE_APP, "another-app"]);
                c["azp"] = json!(FAKE_APP);
            },
            ValidationError::RefreshedIdTokenMismatch("aud"),
        ),
        (
            "azp of another client",
            |c| c["azp"] = json!("another-app"),
            ValidationError::RefreshedIdTokenInvalid(Box::new(ValidationError::AudienceMismatch)),
        ),
        (
            "azp added",
            |c| c["azp"] = json!(FAKE_APP),
            ValidationError::RefreshedIdTokenMismatch("azp"),
        ),
        (
            "expired",
            |c| {
                c["exp"] = json!(now() - 3600);
                c["iat"] = json!(now() - 7200);
            },
            ValidationError::RefreshedIdTokenInvalid(Box::new(ValidationError::Expired)),
        ),
    ];
    let key = AccessTokenKey::resource(res(FAKE_API));
    for (name, tweak, expected) in cases {
        let storage = InMemoryStorage::new();
        let (r, nonce) = callback_with(&fake, &client, &storage, |nonce| {
            fake.token_response(&fake.sign(&fake.kid, &fake.id_claims(nonce)))
        })
        .await;
        r.unwrap();
        let mut claims = fake.id_claims(&nonce);
        tweak(&mut claims);
        fake.push_token(Canned::json(
            200,
            &json!({"access_token": "refreshed-at", "expires_in": 3600,
                "id_token": fake.sign(&fake.kid, &claims), "refresh_token": "rotated-rt",
                "scope": "openid", "token_type": "Bearer"}),
        ));
        let token_calls = fake.hits("/oidc/token");
        let r = client
            .get_access_token(&storage, Some(&res(FAKE_API)))
            .await;
        match &r {
            Err(e @ Error::Validation(v)) => {
                assert_eq!(*v, expected, "{name}");
                assert!(e.requires_sign_in(), "{name}: the user signs in again");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            !client.is_authenticated(&storage).await.unwrap(),
            "{name}: tokens cleared"
        );
        assert!(
            storage.get_access_token(&key).await.unwrap().is_none(),
            "{name}: the refreshed access token is not stored"
        );
        // No retry, no further refresh: the next call ends locally.
        let r = client
            .get_access_token(&storage, Some(&res(FAKE_API)))
            .await;
        assert!(matches!(r, Err(Error::NotAuthenticated)), "{name}: {r:?}");
        assert_eq!(fake.hits("/oidc/token"), token_calls + 1, "{name}");
    }

    // Controls: the original nonce, or none at all, keeps the session and stores
    // the rotated refresh token.
    for keep_nonce in [true, false] {
        let storage = InMemoryStorage::new();
        let (r, nonce) = callback_with(&fake, &client, &storage, |nonce| {
            fake.token_response(&fake.sign(&fake.kid, &fake.id_claims(nonce)))
        })
        .await;
        r.unwrap();
        let mut claims = fake.id_claims(&nonce);
        if !keep_nonce {
            claims.as_object_mut().unwrap().remove("nonce");
        }
        fake.push_token(Canned::json(
            200,
            &json!({"access_token": "refreshed-at", "expires_in": 3600,
                "id_token": fake.sign(&fake.kid, &claims), "refresh_token": "rotated-rt",
                "scope": "openid", "token_type": "Bearer"}),
        ));
        let t = client
            .get_access_token(&storage, Some(&res(FAKE_API)))
            .await
            .unwrap();
        assert_eq!(t.secret(), "refreshed-at");
        let stored = storage.load_tokens().await.unwrap().unwrap();
        assert_eq!(stored.refresh_token.unwrap().secret(), "rotated-rt");
    }
}

/// A4.5: a logout token (it carries `events`; Logto's has `typ: logout+jwt`) is
/// never an ID token, even signed by the right key with the right nonce.
#[tokio::test]
async fn a_logout_token_is_never_accepted_as_an_id_token() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let storage = InMemoryStorage::new();
    seed_previous_tokens(&storage).await;
    let logout = |nonce: Option<&str>| {
        let t = now();
        let mut c = json!({"iss": fake.issuer(), "aud": FAKE_APP, "iat": t, "exp": t + 120,
            "jti": "j", "sub": "user-1", "sid": "s",
            "events": {LOGOUT_EVENT: {}}});
        if let Some(n) = nonce {
            c["nonce"] = json!(n);
        }
        c
    };
    for (name, typ, with_nonce) in [
        ("as Logto sends it", Some("logout+jwt"), false),
        ("with our nonce", Some("logout+jwt"), true),
        ("without typ, with our nonce", None, true),
        ("typ JWT, with our nonce", Some("JWT"), true),
    ] {
        let (r, _) = callback_with(&fake, &client, &storage, |nonce| {
            let mut header = json!({"alg": "ES384", "kid": fake.kid});
            if let Some(typ) = typ {
                header["typ"] = json!(typ);
            }
            let claims = logout(with_nonce.then_some(nonce));
            fake.token_response(&sign_with_header(&fake, &header, &claims))
        })
        .await;
        assert!(
            matches!(
                &r,
                Err(Error::Validation(
                    ValidationError::WrongType { .. }
                        | ValidationError::InvalidClaim {
                            claim: "events",
                            ..
                        }
                        | ValidationError::NonceMismatch
                ))
            ),
            "{name}: {r:?}"
        );
        assert_previous_tokens(&storage, name).await;
    }
    // ... and an ID token is never a logout token.
    let id = fake.sign(&fake.kid, &fake.id_claims("n"));
    assert!(client.verify_logout_token(&id).await.is_err());
}

/// A2.9: the PKCE verifier is 43–128 unreserved characters, the challenge is
/// BASE64URL(SHA256(verifier)) with method S256, and logto-dev refuses a code
/// redeemed with another verifier.
#[tokio::test]
async fn pkce_verifier_and_challenge_and_the_dev_idp_checks_them() {
    let env = spawn().await;
    let storage = InMemoryStorage::new();
    for _ in 0..20 {
        let url = env
            .client
            .sign_in(&storage, SignInOptions::new(REDIRECT))
            .await
            .unwrap();
        assert_eq!(
            query_param(&url, "code_challenge_method").as_deref(),
            Some("S256")
        );
        assert!(!url.as_str().contains("plain"));
        let state = query_param(&url, "state").unwrap();
        let session = storage.take_sign_in_session(&state).await.unwrap().unwrap();
        let v = session.code_verifier.secret();
        assert!((43..=128).contains(&v.len()), "{}", v.len());
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
            "unreserved characters only"
        );
        let challenge = b64(&sha2::Sha256::digest(v.as_bytes()));
        assert_eq!(query_param(&url, "code_challenge").unwrap(), challenge);
    }

    // A verifier that does not match the challenge: the dev IdP refuses the code.
    let url = env
        .client
        .sign_in(&storage, SignInOptions::new(REDIRECT))
        .await
        .unwrap();
    let state = query_param(&url, "state").unwrap();
    let mut session = storage.take_sign_in_session(&state).await.unwrap().unwrap();
    session.code_verifier = logto_client::CodeVerifier::new("a".repeat(43));
    storage.save_sign_in_session(&session).await.unwrap();
    let cb = logto_dev::testing::complete_sign_in(&url, "alice", "alice-password")
        .await
        .unwrap();
    let r = env
        .client
        .handle_sign_in_callback(&storage, cb.as_str())
        .await;
    assert!(
        matches!(&r, Err(Error::Oidc(e)) if e.is_invalid_grant()),
        "{r:?}"
    );
    let c = env.idp.counters();
    assert_eq!(c.authorization_code_grants, 0);
    assert_eq!(c.invalid_grants, 1);
    assert!(!env.client.is_authenticated(&storage).await.unwrap());
    // The genuine verifier works.
    env.sign_in("alice").await;
    assert_eq!(env.idp.counters().authorization_code_grants, 1);
}

/// A6.4: `Debug` of the configuration, the client, the storage, the token
/// types, a pending sign-in and the cached tokens never shows a secret.
#[tokio::test]
async fn debug_output_never_shows_a_secret() {
    let env = spawn().await;
    let (storage, outcome) = env.sign_in("alice").await;
    let api = env
        .client
        .get_access_token(&storage, Some(&res(API)))
        .await
        .unwrap();
    let tokens = storage.load_tokens().await.unwrap().unwrap();
    let cached = storage
        .get_access_token(&AccessTokenKey::resource(res(API)))
        .await
        .unwrap()
        .unwrap();
    let url = env
        .client
        .sign_in(&storage, SignInOptions::new(REDIRECT))
        .await
        .unwrap();
    let state = query_param(&url, "state").unwrap();
    let nonce = query_param(&url, "nonce").unwrap();
    let pending = storage.take_sign_in_session(&state).await.unwrap().unwrap();
    let secrets = [
        ("app secret", APP_SECRET.to_owned()),
        ("ID token", tokens.id_token.secret().to_owned()),
        (
            "refresh token",
            tokens.refresh_token.as_ref().unwrap().secret().to_owned(),
        ),
        ("access token", api.secret().to_owned()),
        ("code verifier", pending.code_verifier.secret().to_owned()),
        ("state", state.clone()),
        ("nonce", nonce.clone()),
    ];
    let outputs = [
        ("config", format!("{:?}", env.client.config())),
        ("client", format!("{:?}", env.client)),
        ("storage", format!("{storage:?}")),
        ("token set", format!("{tokens:?}")),
        ("access token", format!("{api:?}")),
        ("cached access token", format!("{cached:?}")),
        ("pending sign-in", format!("{pending:?}")),
        ("outcome", format!("{outcome:?}")),
        (
            "secret types",
            format!(
                "{:?} {:?} {:?}",
                AppSecret::new(APP_SECRET),
                IdToken::new(tokens.id_token.secret()),
                pending.code_verifier
            ),
        ),
    ];
    for (what, out) in &outputs {
        for (name, secret) in &secrets {
            assert!(secret.len() >= 16, "{name} is a real value");
            assert!(
                !out.contains(secret.as_str()),
                "the {name} in Debug of {what}: {out}"
            );
        }
        assert!(!out.contains("eyJ"), "a JWT in Debug of {what}");
    }
    for (what, out) in &outputs[..7] {
        if *what != "storage" && *what != "client" {
            assert!(out.contains("[redacted]"), "{what}: {out}");
        }
    }
}
