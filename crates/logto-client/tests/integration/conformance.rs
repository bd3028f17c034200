//! What the standards allow a provider to answer is accepted, what they do not
//! is refused (issue 16): RFC 6749 §5.1/§7.1 (`token_type`), RFC 7519 §2
//! (non-integer NumericDates), OIDC Core §3.1.3.7 item 9 (`iat` too old) and
//! §12.2 (what a refreshed ID token keeps), and items 3–5 (audiences);
//! short-lived access tokens; a refresh never switching the user, sign-out
//! and `clear_all_tokens` against logto-dev.

use std::sync::Arc;
use std::time::Duration;

use logto_client::{
    AccessTokenKey, AppSecret, Error, FixedClock, InMemoryStorage, LogtoClient, LogtoConfig,
    OrganizationTokenClaims, SignInOptions, SignInOutcome, Storage, TokenSet, ValidationError,
};
use serde_json::{Value, json};

use crate::helpers::*;

/// Starts a sign-in on the fake, queues `answer(nonce)` at its token endpoint
/// and handles a callback carrying the right `state` and `iss`.
async fn callback_with(
    fake: &FakeIdp,
    client: &LogtoClient,
    storage: &InMemoryStorage,
    answer: impl FnOnce(&str) -> Canned,
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

/// Signs in on the fake with `claims` tweaked from the usual ones.
async fn signed_in(
    fake: &FakeIdp,
    client: &LogtoClient,
    tweak: impl FnOnce(&mut Value),
) -> (InMemoryStorage, SignInOutcome) {
    let storage = InMemoryStorage::new();
    let outcome = callback_with(fake, client, &storage, |nonce| {
        let mut claims = fake.id_claims(nonce);
        tweak(&mut claims);
        fake.token_response(&fake.sign(&fake.kid, &claims))
    })
    .await
    .unwrap();
    (storage, outcome)
}

/// A token response of the fake with any `token_type` and access token.
fn token_answer(id_token: &str, access_token: &str, token_type: &str) -> Canned {
    Canned::json(
        200,
        &json!({"access_token": access_token, "expires_in": 3600, "id_token": id_token,
                "refresh_token": "rotated-rt", "scope": "openid", "token_type": token_type}),
    )
}

async fn assert_tokens(storage: &InMemoryStorage, id_token: &str, refresh_token: &str) {
    let t = storage.load_tokens().await.unwrap().unwrap();
    assert_eq!(t.id_token.secret(), id_token);
    assert_eq!(t.refresh_token.unwrap().secret(), refresh_token);
}

/// RFC 6749 §5.1: `token_type` is case-insensitive; §7.1: a client must not use
/// a token whose type it does not understand. At sign-in nothing is stored; at a
/// refresh nothing of the answer is.
#[tokio::test]
async fn token_answers_of_another_type_than_bearer_are_refused() {
    let fake = FakeIdp::start().await;
    let client = fake.client();

    for token_type in ["mac", "DPoP", "N_A"] {
        let storage = InMemoryStorage::new();
        let r = callback_with(&fake, &client, &storage, |nonce| {
            let id = fake.sign(&fake.kid, &fake.id_claims(nonce));
            token_answer(&id, "opaque-at", token_type)
        })
        .await;
        assert!(
            matches!(&r, Err(Error::Validation(ValidationError::UnsupportedTokenType(t)))
                if *t == token_type.to_ascii_lowercase()),
            "{token_type}: {r:?}"
        );
        assert!(!client.is_authenticated(&storage).await.unwrap());
    }
    assert_eq!(fake.hits("/oidc/me"), 0);

    // Bearer in any case signs in.
    for token_type in ["bearer", "BEARER", "Bearer"] {
        let storage = InMemoryStorage::new();
        callback_with(&fake, &client, &storage, |nonce| {
            let id = fake.sign(&fake.kid, &fake.id_claims(nonce));
            token_answer(&id, "opaque-at", token_type)
        })
        .await
        .unwrap();
        assert!(client.is_authenticated(&storage).await.unwrap());
    }

    // At a refresh: refused, the answer's tokens not stored, the session kept.
    let (storage, outcome) = signed_in(&fake, &client, |_| {}).await;
    let before = storage.load_tokens().await.unwrap().unwrap();
    let nonce = outcome.claims.nonce.unwrap();
    fake.push_token(token_answer(
        &fake.sign(&fake.kid, &fake.id_claims(&nonce)),
        "mac-token",
        "mac",
    ));
    let r = client
        .get_access_token(&storage, Some(&res(FAKE_API)))
        .await;
    assert!(
        matches!(&r, Err(Error::Validation(ValidationError::UnsupportedTokenType(t))) if t == "mac"),
        "{r:?}"
    );
    assert!(!r.unwrap_err().requires_sign_in());
    assert_tokens(
        &storage,
        before.id_token.secret(),
        before.refresh_token.unwrap().secret(),
    )
    .await;
    let key = AccessTokenKey::resource(res(FAKE_API));
    assert!(storage.get_access_token(&key).await.unwrap().is_none());
    assert_eq!(client.stats().refreshes_failed, 1);
    // A bearer answer next time works.
    fake.push_token(token_answer(
        &fake.sign(&fake.kid, &fake.id_claims(&nonce)),
        "bearer-token",
        "BEARER",
    ));
    let t = client
        .get_access_token(&storage, Some(&res(FAKE_API)))
        .await
        .unwrap();
    assert_eq!(t.secret(), "bearer-token");
}

/// RFC 7519 §2: a NumericDate may have a fraction. ID tokens (at sign-in, in
/// storage, at a refresh), access and organization tokens, and logout tokens
/// with fractional `exp`, `iat`, `nbf` and `auth_time` are accepted, their
/// times rounded down to whole seconds.
#[tokio::test]
async fn fractional_numeric_dates_are_accepted_everywhere() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let t = now();
    let (exp, iat, auth_time) = (t + 3600, t - 1, t - 30);
    let fractional = move |c: &mut Value| {
        c["exp"] = json!(exp as f64 + 0.5);
        c["iat"] = json!(iat as f64 + 0.25);
        c["nbf"] = json!(iat as f64 + 0.75);
        c["auth_time"] = json!(auth_time as f64 + 0.999);
    };
    let (storage, outcome) = signed_in(&fake, &client, fractional).await;
    let claims = &outcome.claims;
    assert_eq!(
        (claims.exp, claims.iat, claims.auth_time),
        (exp, iat, Some(auth_time))
    );
    let stored = client.get_id_token_claims(&storage).await.unwrap();
    assert_eq!((stored.exp, stored.iat), (exp, iat));

    // A refresh answering a JWT access token and an ID token, both fractional.
    let at_claims = json!({"iss": fake.issuer(), "sub": "user-1", "aud": FAKE_API,
        "exp": exp as f64 + 0.5, "iat": iat as f64 + 0.25, "nbf": iat as f64 + 0.5,
        "jti": "j1", "scope": "read:things", "client_id": "fake-app"});
    let access = sign_es384_with(
        &fake.key,
        &json!({"alg": "ES384", "kid": fake.kid, "typ": "at+jwt"}),
        &at_claims,
    );
    let mut id_claims = fake.id_claims(claims.nonce.as_deref().unwrap());
    fractional(&mut id_claims);
    let refreshed_id = fake.sign(&fake.kid, &id_claims);
    fake.push_token(token_answer(&refreshed_id, &access, "Bearer"));
    let token = client
        .get_access_token(&storage, Some(&res(FAKE_API)))
        .await
        .unwrap();
    assert_eq!(token.secret(), access);
    let cached = storage
        .get_access_token(&AccessTokenKey::resource(res(FAKE_API)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cached.expires_at, exp, "the JWT's exp, rounded down");
    let c = client
        .get_access_token_claims(&storage, &res(FAKE_API))
        .await
        .unwrap();
    assert_eq!((c.exp, c.iat), (exp, iat));
    assert_tokens(&storage, &refreshed_id, "rotated-rt").await;
    let c = client
        .verify_access_token(&access, &res(FAKE_API))
        .await
        .unwrap();
    assert_eq!((c.exp, c.iat), (exp, iat));

    // An organization token.
    let org_claims = json!({"iss": fake.issuer(), "sub": "user-1",
        "aud": "urn:logto:organization:org-1", "exp": exp as f64 + 0.5,
        "iat": iat as f64 + 0.25, "jti": "j2", "scope": "read:members"});
    let org = sign_es384_with(
        &fake.key,
        &json!({"alg": "ES384", "kid": fake.kid, "typ": "at+jwt"}),
        &org_claims,
    );
    let c = client
        .verify_organization_token(&org, "org-1")
        .await
        .unwrap();
    assert_eq!((c.claims.exp, c.organization_id.as_str()), (exp, "org-1"));
    let c = OrganizationTokenClaims::decode(&logto_client::AccessToken::new(org)).unwrap();
    assert_eq!(c.claims.iat, iat);

    // A logout token.
    let logout = sign_es384_with(
        &fake.key,
        &json!({"alg": "ES384", "kid": fake.kid, "typ": "logout+jwt"}),
        &json!({"iss": fake.issuer(), "aud": "fake-app", "iat": iat as f64 + 0.25,
            "exp": (t + 120) as f64 + 0.5, "jti": "j3", "sub": "user-1",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
    );
    let c = client.verify_logout_token(&logout).await.unwrap();
    assert_eq!((c.iat, c.exp), (iat, t + 120));

    // Still refused: a fraction past the expiry, and time claims that are not numbers.
    let mut late = fake.id_claims("n");
    late["exp"] = json!(t as f64 - 120.5);
    let r = client
        .verify_id_token(&fake.sign(&fake.kid, &late), None)
        .await;
    assert!(
        matches!(r, Err(Error::Validation(ValidationError::Expired))),
        "{r:?}"
    );
}

/// OIDC Core §3.1.3.7 item 9: an ID token whose `iat` is older than
/// `max_id_token_age` (10 minutes by default) plus the clock skew is refused,
/// at sign-in and at a refresh, even while its `exp` is still ahead.
#[tokio::test]
async fn id_tokens_issued_too_long_ago_are_refused() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    assert_eq!(client.config().max_id_token_age(), Duration::from_secs(600));
    let week = 7 * 24 * 3600;
    for (age, accepted) in [(week, false), (700, false), (540, true), (0, true)] {
        let storage = InMemoryStorage::new();
        let r = callback_with(&fake, &client, &storage, |nonce| {
            let mut c = fake.id_claims(nonce);
            c["iat"] = json!(now() - age);
            fake.token_response(&fake.sign(&fake.kid, &c))
        })
        .await;
        if accepted {
            r.unwrap();
        } else {
            assert!(
                matches!(r, Err(Error::Validation(ValidationError::IssuedTooLongAgo))),
                "{age} s: {r:?}"
            );
            assert!(!client.is_authenticated(&storage).await.unwrap());
        }
    }

    // Configurable: with an hour, 30 minutes pass and a week still does not.
    let config = LogtoConfig::new(
        &fake.endpoint,
        "fake-app",
        Some(AppSecret::new("fake-secret")),
    )
    .unwrap()
    .with_max_id_token_age(Duration::from_secs(3600));
    let lenient = LogtoClient::new(config).unwrap();
    for (age, accepted) in [(1800, true), (week, false)] {
        let storage = InMemoryStorage::new();
        let r = callback_with(&fake, &lenient, &storage, |nonce| {
            let mut c = fake.id_claims(nonce);
            c["iat"] = json!(now() - age);
            fake.token_response(&fake.sign(&fake.kid, &c))
        })
        .await;
        assert_eq!(r.is_ok(), accepted, "{age} s: {r:?}");
    }

    // At a refresh (§12.2: its iat is the time it was issued): refused, and
    // the user signs in again like for any refused refreshed ID token.
    let (storage, outcome) = signed_in(&fake, &client, |_| {}).await;
    let mut old = fake.id_claims(outcome.claims.nonce.as_deref().unwrap());
    old["iat"] = json!(now() - week);
    fake.push_token(fake.token_response(&fake.sign(&fake.kid, &old)));
    let r = client
        .get_access_token(&storage, Some(&res(FAKE_API)))
        .await;
    match r {
        Err(e @ Error::Validation(ValidationError::RefreshedIdTokenInvalid(_))) => {
            assert!(e.requires_sign_in());
            let Error::Validation(ValidationError::RefreshedIdTokenInvalid(inner)) = e else {
                unreachable!()
            };
            assert_eq!(*inner, ValidationError::IssuedTooLongAgo);
        }
        other => panic!("{other:?}"),
    }
    assert!(!client.is_authenticated(&storage).await.unwrap());
}

/// OIDC Core §12.2: a refreshed ID token needs no `nonce`, but one present is
/// the original's; an `auth_time` present is the original authentication's.
#[tokio::test]
async fn refreshed_id_tokens_keep_the_original_nonce_and_auth_time() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let auth_time = now() - 5;
    type Tweak = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tweak, Option<&str>)> = vec![
        (
            "another nonce",
            Box::new(|c| c["nonce"] = json!("another-nonce")),
            Some("nonce"),
        ),
        (
            "another auth_time",
            Box::new(move |c| c["auth_time"] = json!(auth_time + 60)),
            Some("auth_time"),
        ),
        ("the same nonce and auth_time", Box::new(|_| {}), None),
        (
            "no nonce, no auth_time",
            Box::new(|c| {
                let c = c.as_object_mut().unwrap();
                c.remove("nonce");
                c.remove("auth_time");
            }),
            None,
        ),
    ];
    for (name, tweak, refused) in cases {
        let (storage, outcome) =
            signed_in(&fake, &client, |c| c["auth_time"] = json!(auth_time)).await;
        let mut claims = fake.id_claims(outcome.claims.nonce.as_deref().unwrap());
        claims["auth_time"] = json!(auth_time);
        tweak(&mut claims);
        let refreshed_id = fake.sign(&fake.kid, &claims);
        fake.push_token(fake.token_response(&refreshed_id));
        let r = client
            .get_access_token(&storage, Some(&res(FAKE_API)))
            .await;
        match refused {
            Some(claim) => {
                assert!(
                    matches!(&r, Err(e @ Error::Validation(ValidationError::RefreshedIdTokenMismatch(c)))
                        if *c == claim && e.requires_sign_in()),
                    "{name}: {r:?}"
                );
                assert!(!client.is_authenticated(&storage).await.unwrap(), "{name}");
            }
            None => {
                r.unwrap();
                assert_tokens(&storage, &refreshed_id, "rt-1").await;
            }
        }
    }
}

/// A refresh whose (genuinely signed) ID token names another user never
/// switches the user: the refresh is refused, the tokens cleared, and the
/// user signs in again as who they are. Against logto-dev.
#[tokio::test]
async fn a_refresh_never_switches_the_user() {
    let env = spawn().await;
    let (storage, outcome) = env.sign_in("alice").await;
    let alice = outcome.claims.sub.clone();
    let bob = env.idp.seed().user_by_username("bob").unwrap().id.clone();
    assert_ne!(alice, bob);
    let idp = env.idp.clone();
    env.idp.forge_next_id_token(move |mut claims| {
        claims["sub"] = json!(bob);
        idp.sign_jwt(&json!({}), &claims).unwrap()
    });
    let refreshes = env.idp.counters().refresh_token_grants;
    let r = env
        .client
        .refresh_access_token(&storage, &AccessTokenKey::resource(res(API)))
        .await;
    assert!(
        matches!(
            &r,
            Err(e @ Error::Validation(ValidationError::RefreshedIdTokenMismatch("sub")))
                if e.requires_sign_in()
        ),
        "{r:?}"
    );
    assert_eq!(env.idp.counters().refresh_token_grants, refreshes + 1);
    assert!(matches!(
        env.client.get_id_token_claims(&storage).await,
        Err(Error::NotAuthenticated)
    ));
    assert!(
        storage
            .get_access_token(&AccessTokenKey::resource(res(API)))
            .await
            .unwrap()
            .is_none()
    );
    // Signing in again is alice again, and so is her next refresh.
    let (storage, outcome) = env.sign_in("alice").await;
    assert_eq!(outcome.claims.sub, alice);
    env.client
        .refresh_access_token(&storage, &AccessTokenKey::resource(res(API)))
        .await
        .unwrap();
    assert_eq!(
        env.client.get_id_token_claims(&storage).await.unwrap().sub,
        alice
    );
}

/// Logto lets an operator give access tokens 60 s or less. With logto-dev
/// issuing 30 s tokens, a token is used for the first half of its life, then
/// refreshed once, not on every request. The client's clock is fixed (at the
/// IdP's time when the test starts) and moved by hand.
#[tokio::test]
async fn short_lived_access_tokens_are_reused_for_half_their_lifetime() {
    let settings = logto_dev::Settings {
        access_token_ttl: Duration::from_secs(30),
        ..logto_dev::Settings::default()
    };
    let idp = logto_dev::serve(
        logto_dev::Seed::demo(),
        settings,
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let start = now();
    let clock = Arc::new(FixedClock::new(start));
    let config = LogtoConfig::new(
        idp.endpoint().as_str(),
        APP_ID,
        Some(AppSecret::new(APP_SECRET)),
    )
    .unwrap()
    .with_scopes(full_scopes())
    .with_resources([API])
    .unwrap()
    .with_clock(clock.clone());
    let client = LogtoClient::new(config).unwrap();
    let storage = InMemoryStorage::new();
    let url = client
        .sign_in(&storage, SignInOptions::new(REDIRECT))
        .await
        .unwrap();
    let cb = logto_dev::testing::complete_sign_in(&url, "alice", "alice-password")
        .await
        .unwrap();
    client
        .handle_sign_in_callback(&storage, cb.as_str())
        .await
        .unwrap();

    let grants = || idp.counters().refresh_token_grants;
    let first = client
        .get_access_token(&storage, Some(&res(API)))
        .await
        .unwrap();
    let cached = storage
        .get_access_token(&AccessTokenKey::resource(res(API)))
        .await
        .unwrap()
        .unwrap();
    let lifetime = cached.expires_at - cached.obtained_at;
    assert!((29..=31).contains(&lifetime), "{lifetime}");
    let refreshed_at_start = grants();
    // Well inside the first half: the cached token, no refresh.
    for offset in [0, 5, 10] {
        clock.set(start + offset);
        let t = client
            .get_access_token(&storage, Some(&res(API)))
            .await
            .unwrap();
        assert_eq!(t.secret(), first.secret(), "at +{offset} s");
    }
    assert_eq!(grants(), refreshed_at_start, "no refresh before half-life");
    // Past half of it: one refresh, and its token is then used in turn.
    clock.set(start + 20);
    let second = client
        .get_access_token(&storage, Some(&res(API)))
        .await
        .unwrap();
    assert_ne!(second.secret(), first.secret());
    assert_eq!(grants(), refreshed_at_start + 1);
    for _ in 0..5 {
        let t = client
            .get_access_token(&storage, Some(&res(API)))
            .await
            .unwrap();
        assert_eq!(t.secret(), second.secret());
    }
    assert_eq!(
        grants(),
        refreshed_at_start + 1,
        "one refresh per half-life"
    );
    idp.stop().await;
}

/// Sign-out when logto-dev's revocation endpoint fails: the storage is cleared
/// all the same, and the end-session URL comes back.
#[tokio::test]
async fn sign_out_clears_the_storage_when_the_revocation_fails() {
    let env = spawn().await;
    let (storage, _) = env.sign_in("alice").await;
    env.client
        .get_access_token(&storage, Some(&res(API)))
        .await
        .unwrap();
    env.idp.fail_next(logto_dev::Endpoint::Revocation, 500);
    let url = env
        .client
        .sign_out(&storage, Some("http://127.0.0.1:9/"))
        .await
        .unwrap();
    assert!(url.path().ends_with("/oidc/session/end"), "{url}");
    assert_eq!(env.idp.counters().revocations, 0, "the revocation failed");
    assert!(!env.client.is_authenticated(&storage).await.unwrap());
    assert!(
        storage
            .get_access_token(&AccessTokenKey::resource(res(API)))
            .await
            .unwrap()
            .is_none()
    );
}

/// `clear_all_tokens` forgets the user locally and revokes nothing: the refresh
/// token it dropped still works at the identity provider.
#[tokio::test]
async fn clear_all_tokens_forgets_locally_and_revokes_nothing() {
    let env = spawn().await;
    let (storage, _) = env.sign_in("alice").await;
    env.client
        .get_access_token(&storage, Some(&res(API)))
        .await
        .unwrap();
    let tokens = storage.load_tokens().await.unwrap().unwrap();
    env.client.clear_all_tokens(&storage).await.unwrap();
    assert!(!env.client.is_authenticated(&storage).await.unwrap());
    assert!(matches!(
        env.client.get_access_token(&storage, Some(&res(API))).await,
        Err(Error::NotAuthenticated)
    ));
    assert_eq!(env.idp.counters().revocations, 0);
    // The dropped tokens, put in another storage, still refresh.
    let elsewhere = InMemoryStorage::new();
    elsewhere
        .save_tokens(&TokenSet {
            id_token: tokens.id_token,
            refresh_token: tokens.refresh_token,
        })
        .await
        .unwrap();
    env.client
        .refresh_access_token(&elsewhere, &AccessTokenKey::resource(res(API)))
        .await
        .unwrap();
}

/// OIDC Core §3.1.3.7 item 3: an ID token naming an audience this client does
/// not trust is refused, even with `azp` naming this client; one listed in
/// `trusted_audiences` is accepted (with or without `azp`), and its refresh,
/// which keeps the same audiences (§12.2), too.
#[tokio::test]
async fn id_tokens_for_untrusted_audiences_are_refused() {
    let fake = FakeIdp::start().await;
    let client = fake.client();
    let widened = |azp: bool| {
        move |c: &mut Value| {
            c["aud"] = json!(["fake-app", "another-app"]);
            if azp {
                c["azp"] = json!("fake-app");
            }
        }
    };
    for azp in [true, false] {
        let storage = InMemoryStorage::new();
        let r = callback_with(&fake, &client, &storage, |nonce| {
            let mut c = fake.id_claims(nonce);
            widened(azp)(&mut c);
            fake.token_response(&fake.sign(&fake.kid, &c))
        })
        .await;
        assert!(
            matches!(r, Err(Error::Validation(ValidationError::AudienceMismatch))),
            "azp {azp}: {r:?}"
        );
        assert!(!client.is_authenticated(&storage).await.unwrap());
    }

    let config = LogtoConfig::new(
        &fake.endpoint,
        "fake-app",
        Some(AppSecret::new("fake-secret")),
    )
    .unwrap()
    .with_resources([FAKE_API])
    .unwrap()
    .with_trusted_audiences(["another-app"]);
    let trusting = LogtoClient::new(config).unwrap();
    for azp in [true, false] {
        let (storage, outcome) = signed_in(&fake, &trusting, widened(azp)).await;
        assert_eq!(outcome.claims.aud, ["fake-app", "another-app"]);
        let mut c = fake.id_claims(outcome.claims.nonce.as_deref().unwrap());
        widened(azp)(&mut c);
        fake.push_token(fake.token_response(&fake.sign(&fake.kid, &c)));
        trusting
            .get_access_token(&storage, Some(&res(FAKE_API)))
            .await
            .unwrap();
    }
}
