//! Bad input: each returns the matching error and leaves stored tokens as they were.

use logto_client::{
    CallbackError, ConfigError, Error, IdToken, InMemoryStorage, LogtoClient, LogtoConfig,
    RefreshToken, SignInOptions, SignInOutcome, Storage, TokenSet, TransportError, ValidationError,
};
use serde_json::{Value, json};

use crate::helpers::*;

fn with_param(url: &url::Url, name: &str, value: Option<&str>) -> String {
    let mut out = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = out.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    out.to_string()
}

#[tokio::test]
async fn wrong_or_missing_state_and_bad_iss_make_no_token_request() {
    let env = spawn().await;
    let storage = InMemoryStorage::new();
    let cb = env.callback_url(&storage, "alice").await;
    let c = &env.client;
    let r = c
        .handle_sign_in_callback(&storage, &with_param(&cb, "state", Some("forged-state")))
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::UnknownState))),
        "{r:?}"
    );
    let r = c
        .handle_sign_in_callback(&storage, &with_param(&cb, "state", None))
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::MissingState))),
        "{r:?}"
    );
    assert_eq!(env.idp.counters().authorization_code_grants, 0);
    // The genuine callback still works: the forged ones consumed nothing.
    c.handle_sign_in_callback(&storage, cb.as_str())
        .await
        .unwrap();
    // Replay: refused without a token request.
    let r = c.handle_sign_in_callback(&storage, cb.as_str()).await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::UnknownState))),
        "{r:?}"
    );
    assert_eq!(env.idp.counters().authorization_code_grants, 1);

    // iss mismatch and missing iss.
    let before = storage.load_tokens().await.unwrap().unwrap();
    let cb = env.callback_url(&storage, "alice").await;
    let r = c
        .handle_sign_in_callback(
            &storage,
            &with_param(&cb, "iss", Some("http://127.0.0.1:1/oidc")),
        )
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::IssuerMismatch))),
        "{r:?}"
    );
    let cb = env.callback_url(&storage, "alice").await;
    let r = c
        .handle_sign_in_callback(&storage, &with_param(&cb, "iss", None))
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::MissingIssuer))),
        "{r:?}"
    );
    assert_eq!(env.idp.counters().authorization_code_grants, 1);
    let after = storage.load_tokens().await.unwrap().unwrap();
    assert_eq!(before.id_token.secret(), after.id_token.secret());
}

#[tokio::test]
async fn error_callback_is_a_typed_oidc_error() {
    let env = spawn().await;
    let storage = InMemoryStorage::new();
    let url = env
        .client
        .sign_in(&storage, SignInOptions::new(REDIRECT))
        .await
        .unwrap();
    let state = query_param(&url, "state").unwrap();
    let cb = format!("{REDIRECT}?error=access_denied&error_description=denied&state={state}");
    let r = env.client.handle_sign_in_callback(&storage, &cb).await;
    assert!(
        matches!(&r, Err(Error::Oidc(e)) if e.is_access_denied() && e.error_description.as_deref() == Some("denied")),
        "{r:?}"
    );
    assert_eq!(env.idp.counters().authorization_code_grants, 0);
    assert!(!env.client.is_authenticated(&storage).await.unwrap());
}

#[tokio::test]
async fn discovery_issuer_mismatch_fails_before_any_redirect() {
    let env = spawn().await;
    let endpoint = env
        .idp
        .endpoint()
        .as_str()
        .replace("127.0.0.1", "localhost");
    let config = LogtoConfig::new(&endpoint, APP_ID, None).unwrap();
    let client = LogtoClient::new(config).unwrap();
    let r = client
        .sign_in(&InMemoryStorage::new(), SignInOptions::new(REDIRECT))
        .await;
    assert!(
        matches!(r, Err(Error::Config(ConfigError::IssuerMismatch { .. }))),
        "{r:?}"
    );
}

#[tokio::test]
async fn token_endpoint_failure_on_refresh_keeps_tokens() {
    let env = spawn().await;
    let (storage, _) = env.sign_in("alice").await;
    let before = storage.load_tokens().await.unwrap().unwrap();
    env.idp.fail_next(logto_dev::Endpoint::Token, 500);
    let r = env.client.get_access_token(&storage, Some(&res(API))).await;
    assert!(
        matches!(&r, Err(Error::Oidc(e)) if e.error == "server_error")
            || matches!(r, Err(Error::Transport(_))),
        "{r:?}"
    );
    let after = storage.load_tokens().await.unwrap().unwrap();
    assert_eq!(
        before.refresh_token.unwrap().secret(),
        after.refresh_token.unwrap().secret()
    );
    // After recovery the next call works without signing in again.
    env.client
        .get_access_token(&storage, Some(&res(API)))
        .await
        .unwrap();
}

type Answer<'a> = Box<dyn Fn(&str) -> Canned + 'a>;

// ----- against the fake IdP ---------------------------------------------------------

fn signed_in_storage() -> InMemoryStorage {
    InMemoryStorage::new()
}

async fn seed_tokens(storage: &InMemoryStorage) {
    storage
        .save_tokens(&TokenSet {
            id_token: IdToken::new("previous-id"),
            refresh_token: Some(RefreshToken::new("previous-rt")),
        })
        .await
        .unwrap();
}

async fn assert_untouched(storage: &InMemoryStorage) {
    let t = storage.load_tokens().await.unwrap().unwrap();
    assert_eq!(t.id_token.secret(), "previous-id");
    assert_eq!(t.refresh_token.unwrap().secret(), "previous-rt");
}

/// Starts a sign-in on the fake, queues `answer(nonce)` at the token endpoint, handles the callback.
async fn fake_callback(
    fake: &FakeIdp,
    client: &LogtoClient,
    storage: &InMemoryStorage,
    answer: impl Fn(&str) -> Canned,
) -> Result<SignInOutcome, Error> {
    let url = client
        .sign_in(storage, SignInOptions::new(REDIRECT))
        .await
        .unwrap();
    let state = query_param(&url, "state").unwrap();
    let nonce = query_param(&url, "nonce").unwrap();
    fake.push_token(answer(&nonce));
    let iss: String = url::form_urlencoded::byte_serialize(fake.issuer().as_bytes()).collect();
    client
        .handle_sign_in_callback(
            storage,
            &format!("{REDIRECT}?code=c&state={state}&iss={iss}"),
        )
        .await
}

#[tokio::test]
async fn token_endpoint_500_or_garbage_is_a_transport_error() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let storage = signed_in_storage();
    seed_tokens(&storage).await;
    let cases = [
        Canned::raw(500, "text/html", "<html>Internal Server Error</html>"),
        Canned::raw(500, "text/plain", ""),
        Canned::raw(200, "application/json", "{not json"),
        Canned::raw(200, "text/html", "<html>hello</html>"),
        Canned::json(200, &json!({"unexpected": true})),
    ];
    for case in cases {
        let status = case.status;
        let cell = std::sync::Mutex::new(Some(case));
        let r = fake_callback(&fake, &client, &storage, |_| {
            cell.lock().unwrap().take().unwrap()
        })
        .await;
        assert!(
            matches!(
                r,
                Err(Error::Transport(TransportError::UnexpectedResponse { .. }))
            ),
            "{status}: {r:?}"
        );
        assert_untouched(&storage).await;
    }
    // An OAuth error body is an OIDC error.
    let r = fake_callback(&fake, &client, &storage, |_| {
        Canned::json(400, &json!({"code": "oidc.invalid_grant", "message": "Grant request is invalid.",
                                   "error": "invalid_grant", "error_description": "grant request is invalid"}))
    })
    .await;
    assert!(
        matches!(&r, Err(Error::Oidc(e)) if e.is_invalid_grant()),
        "{r:?}"
    );
    assert_untouched(&storage).await;
}

#[tokio::test]
async fn forged_or_stale_id_tokens_are_refused() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let storage = signed_in_storage();
    seed_tokens(&storage).await;
    let tweak = |f: fn(&mut Value)| {
        let fake = &fake;
        move |nonce: &str| {
            let mut c = fake.id_claims(nonce);
            f(&mut c);
            fake.token_response(&fake.sign(&fake.kid, &c))
        }
    };
    let cases: Vec<(&str, Answer<'_>, ValidationError)> = vec![
        (
            "wrong iss",
            Box::new(tweak(|c| c["iss"] = json!("http://127.0.0.1:1/oidc"))),
            ValidationError::IssuerMismatch,
        ),
        (
            "wrong aud",
            Box::new(tweak(|c| c["aud"] = json!("another-app"))),
            ValidationError::AudienceMismatch,
        ),
        (
            "wrong nonce",
            Box::new(tweak(|c| c["nonce"] = json!("replayed-nonce"))),
            ValidationError::NonceMismatch,
        ),
        (
            "expired",
            Box::new(tweak(|c| {
                let now = now();
                c["exp"] = json!(now - 3600);
                c["iat"] = json!(now - 7200);
            })),
            ValidationError::Expired,
        ),
        (
            "exp as string",
            Box::new(tweak(|c| c["exp"] = json!((now() + 3600).to_string()))),
            ValidationError::InvalidClaim {
                claim: "exp",
                reason: "not a number".into(),
            },
        ),
        (
            "bad signature",
            Box::new(|nonce: &str| {
                let other = p384::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
                fake.token_response(&sign_es384(&other, &fake.kid, &fake.id_claims(nonce)))
            }),
            ValidationError::InvalidSignature,
        ),
        (
            "alg none",
            Box::new(|nonce: &str| {
                let b = |v: &Value| {
                    use base64::Engine;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
                };
                fake.token_response(&format!(
                    "{}.{}.",
                    b(&json!({"alg": "none"})),
                    b(&fake.id_claims(nonce))
                ))
            }),
            ValidationError::AlgorithmNotAllowed("none".into()),
        ),
    ];
    for (name, answer, expected) in cases {
        let r = fake_callback(&fake, &client, &storage, answer).await;
        match r {
            Err(Error::Validation(e)) => assert_eq!(e, expected, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        assert_untouched(&storage).await;
    }
    // The userinfo endpoint never saw a request.
    assert_eq!(fake.hits("/oidc/me"), 0);
}

#[tokio::test]
async fn unknown_kid_stays_unknown_after_one_jwks_refetch() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let storage = signed_in_storage();
    seed_tokens(&storage).await;
    for i in 0..5 {
        let r = fake_callback(&fake, &client, &storage, |nonce| {
            fake.token_response(&fake.sign(&format!("random-kid-{i}"), &fake.id_claims(nonce)))
        })
        .await;
        assert!(
            matches!(
                r,
                Err(Error::Validation(ValidationError::UnknownKeyId(Some(_))))
            ),
            "{r:?}"
        );
        assert_untouched(&storage).await;
    }
    // One initial fetch plus one re-fetch: the cool-down (30 s) absorbs the rest.
    assert_eq!(fake.hits("/oidc/jwks"), 2);
    // A flood of access tokens with random kids costs nothing more.
    for i in 0..50 {
        let t = fake.sign(
            &format!("flood-{i}"),
            &json!({"iss": fake.issuer(), "aud": "https://x.test", "exp": now() + 60, "iat": now(), "sub": "s"}),
        );
        assert!(
            client
                .verify_access_token(&t, &res("https://x.test"))
                .await
                .is_err()
        );
    }
    assert_eq!(fake.hits("/oidc/jwks"), 2);
    // A good token still signs in.
    let ok = fake_callback(&fake, &client, &storage, |nonce| {
        fake.token_response(&fake.sign(&fake.kid, &fake.id_claims(nonce)))
    })
    .await;
    assert_eq!(ok.unwrap().claims.sub, "user-1");
}

#[tokio::test]
async fn userinfo_sub_mismatch_is_refused() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let storage = signed_in_storage();
    fake_callback(&fake, &client, &storage, |nonce| {
        fake.token_response(&fake.sign(&fake.kid, &fake.id_claims(nonce)))
    })
    .await
    .unwrap();
    fake.set_userinfo(Canned::json(
        200,
        &json!({"sub": "someone-else", "name": "Mallory"}),
    ));
    let r = client.fetch_user_info(&storage).await;
    assert!(
        matches!(
            r,
            Err(Error::Validation(ValidationError::UserInfoSubjectMismatch))
        ),
        "{r:?}"
    );
    fake.set_userinfo(Canned::json(
        200,
        &json!({"sub": "user-1", "name": "User One", "custom_data": {"a": 1}}),
    ));
    assert_eq!(
        client
            .fetch_user_info(&storage)
            .await
            .unwrap()
            .custom_data
            .unwrap()["a"],
        1
    );
    // A userinfo error body is a typed OIDC error with its status.
    fake.set_userinfo(Canned::json(
        401,
        &json!({"error": "invalid_token", "error_description": "invalid token provided"}),
    ));
    let r = client.fetch_user_info(&storage).await;
    assert!(
        matches!(&r, Err(Error::Oidc(e)) if e.error == "invalid_token" && e.status == Some(401)),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_refreshed_id_token_for_another_user_is_not_stored() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let storage = signed_in_storage();
    let outcome = fake_callback(&fake, &client, &storage, |nonce| {
        fake.token_response(&fake.sign(&fake.kid, &fake.id_claims(nonce)))
    })
    .await
    .unwrap();
    assert_eq!(outcome.claims.sub, "user-1");
    // Refresh answer: a valid signature, but another sub.
    let mut other = fake.id_claims("n");
    other["sub"] = json!("user-2");
    fake.push_token(fake.token_response(&fake.sign(&fake.kid, &other)));
    let r = client
        .get_access_token(&storage, Some(&res("https://api.fake.test")))
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Validation(
                ValidationError::RefreshedIdTokenMismatch("sub")
            ))
        ),
        "{r:?}"
    );
    assert!(
        !client.is_authenticated(&storage).await.unwrap(),
        "the user must sign in again"
    );
    // Same sub (with the original nonce) is accepted.
    let storage = signed_in_storage();
    let outcome = fake_callback(&fake, &client, &storage, |nonce| {
        fake.token_response(&fake.sign(&fake.kid, &fake.id_claims(nonce)))
    })
    .await
    .unwrap();
    let original_nonce = outcome.claims.nonce.unwrap();
    fake.push_token(fake.token_response(&fake.sign(&fake.kid, &fake.id_claims(&original_nonce))));
    client
        .get_access_token(&storage, Some(&res("https://api.fake.test")))
        .await
        .unwrap();
    let stored = storage.load_tokens().await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "rt-1");
}

#[tokio::test]
async fn discovery_errors_name_the_url_fetched() {
    let env = spawn().await;
    let base = env.idp.endpoint().as_str().trim_end_matches('/').to_owned();
    let discover = |endpoint: String| async move {
        let config = LogtoConfig::new(&endpoint, APP_ID, None).unwrap();
        let url = config.discovery_url();
        let err = LogtoClient::new(config)
            .unwrap()
            .discover()
            .await
            .unwrap_err();
        (url, err)
    };

    // A 404 (the endpoint has a path where Logto is not).
    let (url, err) = discover(format!("{base}/not-logto")).await;
    assert!(
        matches!(
            &err,
            Error::Transport(TransportError::UnexpectedResponse { url: Some(u), status: Some(404), .. })
                if *u == url
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");

    // Nothing listens (port 0): the request fails, naming the URL once.
    let (url, err) = discover("http://127.0.0.1:0".to_owned()).await;
    assert!(
        matches!(
            &err,
            Error::Transport(TransportError::Request { url: Some(u), .. }) if *u == url
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string().matches(&url).count(), 1, "{err}");

    // The document is Logto's, for another issuer (another host name for it).
    let other_host = base.replace("127.0.0.1", "localhost");
    let (url, err) = discover(other_host).await;
    assert!(
        matches!(
            &err,
            Error::Config(ConfigError::IssuerMismatch { discovery_url: Some(u), .. }) if *u == url
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
}
