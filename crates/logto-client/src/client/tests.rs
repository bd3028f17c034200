#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

use openidconnect::OAuth2TokenResponse;
use url::Url;

use super::*;
use crate::config::FixedClock;
use crate::config::Prompt;
use crate::error::CallbackError;
use crate::options::SignInOptions;
use crate::scopes::UserScope;
use crate::secret::AppSecret;
use crate::secret::{AccessToken, IdToken, RefreshToken};
use crate::storage::InMemoryStorage;
use crate::storage::{AccessTokenKey, CachedAccessToken, Storage, TokenSet};
use crate::test_support::*;
use crate::types::ResourceIndicator;

fn res(resource: &str) -> ResourceIndicator {
    ResourceIndicator::parse(resource).unwrap()
}

fn sample_config(now: i64) -> LogtoConfig {
    LogtoConfig::new(
        "http://127.0.0.1:3001/",
        SAMPLE_APP_ID,
        Some(AppSecret::new("secret")),
    )
    .unwrap()
    .with_clock(Arc::new(FixedClock::new(now)))
}

/// A client on the captured discovery and JWKS. Its endpoints are on port 0,
/// where nothing listens, so any request the client made would fail with a
/// transport error (see [`unreachable_discovery`]).
fn sample_client(config: LogtoConfig) -> LogtoClient {
    LogtoClient::with_discovery_document(
        config,
        unreachable_discovery().as_bytes(),
        Some(SAMPLE_JWKS.as_bytes()),
    )
    .unwrap()
}

fn query(url: &Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[tokio::test]
async fn the_client_verifies_the_real_tokens_at_their_iat() {
    let client = sample_client(sample_config(SAMPLE_IAT));
    let id = sample_str("code_exchange", "id_token");
    let claims = client
        .verify_id_token(&id, Some(SAMPLE_NONCE))
        .await
        .unwrap();
    assert_eq!(claims.sub, "99ei67sxvjuo");
    assert!(matches!(
        client.verify_id_token(&id, Some("other")).await,
        Err(Error::Validation(ValidationError::NonceMismatch))
    ));
    let at = sample_str("code_exchange", "access_token");
    let c = client
        .verify_access_token(&at, &res("https://api.demo.test"))
        .await
        .unwrap();
    assert_eq!(c.scope, "read:things");
    let org = sample_str("refresh_org", "access_token");
    let c = client
        .verify_organization_token(&org, "7la3n15yewuv")
        .await
        .unwrap();
    assert_eq!(c.organization_id, "7la3n15yewuv");
    assert!(matches!(
        client.verify_organization_token(&org, "another-org").await,
        Err(Error::Validation(ValidationError::AudienceMismatch))
    ));
    assert_eq!(client.jwks_fetch_count(), 0, "the preset JWKS was used");

    let logout_client = sample_client(sample_config(SAMPLE_LOGOUT_IAT));
    let c = logout_client
        .verify_logout_token(SAMPLE_LOGOUT_TOKEN.trim())
        .await
        .unwrap();
    assert_eq!(c.sub.as_deref(), Some("99ei67sxvjuo"));
    assert!(!c.jti.is_empty());
    // An ID token is never a logout token.
    assert!(logout_client.verify_logout_token(&id).await.is_err());

    // Expired now.
    let later = sample_client(sample_config(SAMPLE_IAT + 3600 + 61));
    assert!(matches!(
        later.verify_id_token(&id, None).await,
        Err(Error::Validation(ValidationError::Expired))
    ));
}

#[test]
fn discovery_issuer_must_match_byte_for_byte() {
    // Trailing slashes of the configured endpoint are trimmed.
    assert!(
        LogtoClient::with_discovery_document(sample_config(0), SAMPLE_DISCOVERY.as_bytes(), None)
            .is_ok()
    );
    let other = LogtoConfig::new("http://localhost:3001", SAMPLE_APP_ID, None).unwrap();
    assert!(matches!(
        LogtoClient::with_discovery_document(other, SAMPLE_DISCOVERY.as_bytes(), None),
        Err(Error::Config(ConfigError::IssuerMismatch { .. }))
    ));
    let mut doc: Value = serde_json::from_str(SAMPLE_DISCOVERY).unwrap();
    doc["issuer"] = json!(format!("{SAMPLE_ISSUER}/"));
    assert!(matches!(
        LogtoClient::with_discovery_document(sample_config(0), doc.to_string().as_bytes(), None),
        Err(Error::Config(ConfigError::IssuerMismatch { .. }))
    ));
    assert!(matches!(
        LogtoClient::with_discovery_document(sample_config(0), b"not json", None),
        Err(Error::Config(ConfigError::Discovery(_)))
    ));
}

#[tokio::test]
async fn sign_in_url_carries_everything() {
    let config = sample_config(SAMPLE_IAT)
        .with_scopes([
            UserScope::Email.as_str(),
            "profile",
            UserScope::Organizations.as_str(),
        ])
        .with_resources(["https://api.demo.test"])
        .unwrap();
    let client = sample_client(config);
    let storage = InMemoryStorage::new();
    let options = SignInOptions::new("http://127.0.0.1:8765/callback")
        .first_screen(crate::FirstScreen::IdentifierSignIn)
        .identifiers([
            crate::IdentifierType::Email,
            crate::IdentifierType::Username,
        ])
        .login_hint("alice@example.test")
        .direct_sign_in(crate::DirectSignIn::Sso("conn1".into()))
        .organization_id("org1")
        .extra_param("theme", "dark")
        .app_state(json!({"return_to": "/x"}));
    let url = client.sign_in(&storage, options).await.unwrap();
    assert!(url.as_str().starts_with("http://127.0.0.1:0/oidc/auth?"));
    let q = query(&url);
    assert_eq!(param(&q, "response_type"), ["code"]);
    assert_eq!(param(&q, "client_id"), [SAMPLE_APP_ID]);
    assert_eq!(
        param(&q, "redirect_uri"),
        ["http://127.0.0.1:8765/callback"]
    );
    assert_eq!(
        param(&q, "scope"),
        ["openid offline_access profile email urn:logto:scope:organizations"]
    );
    assert_eq!(
        param(&q, "resource"),
        ["https://api.demo.test", "urn:logto:resource:organizations"]
    );
    assert_eq!(param(&q, "prompt"), ["consent"]);
    assert_eq!(param(&q, "code_challenge_method"), ["S256"]);
    assert_eq!(param(&q, "first_screen"), ["identifier:sign_in"]);
    assert_eq!(param(&q, "identifier"), ["email username"]);
    assert_eq!(param(&q, "login_hint"), ["alice@example.test"]);
    assert_eq!(param(&q, "direct_sign_in"), ["sso:conn1"]);
    assert_eq!(param(&q, "organization_id"), ["org1"]);
    assert_eq!(param(&q, "theme"), ["dark"]);
    let state = param(&q, "state")[0];
    let nonce = param(&q, "nonce")[0];
    assert!(
        state.len() >= 43 && nonce.len() >= 43,
        "≥ 256 bits base64url"
    );
    // The session is stored under the state, with a verifier matching the challenge.
    let session = storage.take_sign_in_session(state).await.unwrap().unwrap();
    assert_eq!(session.nonce, nonce);
    let v = session.code_verifier.secret();
    assert!((43..=128).contains(&v.len()));
    assert!(
        v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    );
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(v.as_bytes()));
    assert_eq!(param(&q, "code_challenge"), [challenge.as_str()]);
    assert_eq!(session.app_state, Some(json!({"return_to": "/x"})));
    assert_eq!(session.created_at, SAMPLE_IAT);

    // Two sign-ins never share a state.
    let a = client
        .sign_in(&storage, SignInOptions::new("http://127.0.0.1:1/callback"))
        .await
        .unwrap();
    let b = client
        .sign_in(&storage, SignInOptions::new("http://127.0.0.1:1/callback"))
        .await
        .unwrap();
    assert_ne!(param(&query(&a), "state"), param(&query(&b), "state"));
    assert_eq!(storage.pending_sign_ins(), 2);

    // Protocol parameters cannot be overridden; bad redirect URIs are refused.
    let bad = SignInOptions::new("http://127.0.0.1:1/callback").extra_param("state", "x");
    assert!(matches!(
        client.sign_in(&storage, bad).await,
        Err(Error::Config(ConfigError::InvalidOption(_)))
    ));
    let bad = SignInOptions::new("/callback");
    assert!(matches!(
        client.sign_in(&storage, bad).await,
        Err(Error::Config(ConfigError::InvalidRedirectUri { .. }))
    ));
}

/// Starts a sign-in and returns (storage with a previous user's tokens, state).
async fn pending(client: &LogtoClient) -> (InMemoryStorage, String) {
    let storage = InMemoryStorage::new();
    storage
        .save_tokens(&TokenSet {
            id_token: IdToken::new("previous"),
            refresh_token: Some(RefreshToken::new("rt")),
        })
        .await
        .unwrap();
    let url = client
        .sign_in(
            &storage,
            SignInOptions::new("http://127.0.0.1:8765/callback"),
        )
        .await
        .unwrap();
    let state = param(&query(&url), "state")[0].to_owned();
    (storage, state)
}

async fn tokens_untouched(storage: &InMemoryStorage) {
    let t = storage.load_tokens().await.unwrap().unwrap();
    assert_eq!(t.id_token.secret(), "previous");
    assert_eq!(t.refresh_token.unwrap().secret(), "rt");
}

#[tokio::test]
async fn rejected_callbacks_make_no_token_request_and_keep_tokens() {
    let client = sample_client(sample_config(SAMPLE_IAT));
    let cb = "http://127.0.0.1:8765/callback";
    let iss = "iss=http%3A%2F%2F127.0.0.1%3A3001%2Foidc";

    // Unknown state (login CSRF).
    let (storage, _state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(&storage, &format!("{cb}?code=c&state=forged&{iss}"))
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::UnknownState))),
        "{r:?}"
    );
    tokens_untouched(&storage).await;

    // Missing state.
    let r = client
        .handle_sign_in_callback(&storage, &format!("{cb}?code=c&{iss}"))
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::MissingState))),
        "{r:?}"
    );

    // Error callback: typed OAuth error, the session is consumed.
    let (storage, state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(
            &storage,
            &format!(
                "{cb}?error=access_denied&error_description=user%20cancelled&state={state}&{iss}"
            ),
        )
        .await;
    match r {
        Err(Error::Oidc(e)) => {
            assert!(e.is_access_denied());
            assert_eq!(e.endpoint, Endpoint::Authorization);
            assert_eq!(e.error_description.as_deref(), Some("user cancelled"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(storage.pending_sign_ins(), 0);
    tokens_untouched(&storage).await;

    // Wrong iss (RFC 9207), then the replay of the same state finds nothing.
    let (storage, state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(
            &storage,
            &format!("{cb}?code=c&state={state}&iss=https%3A%2F%2Fevil.example%2Foidc"),
        )
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::IssuerMismatch))),
        "{r:?}"
    );
    let r = client
        .handle_sign_in_callback(&storage, &format!("{cb}?code=c&state={state}&{iss}"))
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::UnknownState))),
        "{r:?}"
    );
    tokens_untouched(&storage).await;

    // Missing iss while discovery promises it.
    let (storage, state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(&storage, &format!("{cb}?code=c&state={state}"))
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::MissingIssuer))),
        "{r:?}"
    );

    // Another redirect URI.
    let (storage, state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(
            &storage,
            &format!("http://127.0.0.1:8765/other?code=c&state={state}&{iss}"),
        )
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::RedirectUriMismatch))),
        "{r:?}"
    );

    // Missing code.
    let (storage, state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(&storage, &format!("{cb}?state={state}&{iss}"))
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::MissingCode))),
        "{r:?}"
    );

    // Garbage URL.
    let r = client
        .handle_sign_in_callback(&storage, "::not a url")
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::InvalidUrl(_)))),
        "{r:?}"
    );
}

#[tokio::test]
async fn an_expired_sign_in_session_is_refused() {
    let clock = Arc::new(FixedClock::new(SAMPLE_IAT));
    let client = sample_client(sample_config(0).with_clock(clock.clone()));
    let (storage, state) = pending(&client).await;
    clock.advance(3601);
    let r = client
        .handle_sign_in_callback(
            &storage,
            &format!("http://127.0.0.1:8765/callback?code=c&state={state}&iss=http%3A%2F%2F127.0.0.1%3A3001%2Foidc"),
        )
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::SessionExpired))),
        "{r:?}"
    );
}

#[test]
fn real_error_bodies_map_to_typed_errors() {
    let errors: Value = serde_json::from_str(SAMPLE_ERRORS).unwrap();
    let expected = [
        ("org_token_non_member", "access_denied"),
        ("refresh_token_garbage", "invalid_grant"),
        ("bad_client_secret", "invalid_client"),
        ("unknown_client", "invalid_client"),
        ("unknown_resource", "invalid_target"),
        ("code_garbage", "invalid_grant"),
        ("userinfo_with_jwt_access_token", "invalid_token"),
    ];
    for (name, code) in expected {
        let sample = &errors[name];
        let status = u16::try_from(sample["status"].as_u64().unwrap()).unwrap();
        // Through the token endpoint's error type (what openidconnect hands us)...
        let body: LogtoErrorBody = serde_json::from_value(sample["body"].clone()).unwrap();
        let e = body.into_oidc_error(Endpoint::Token, None).unwrap();
        assert_eq!(e.error, code, "{name}");
        assert!(e.error_description.is_some(), "{name}");
        assert_eq!(
            e.logto_code.as_deref(),
            Some(format!("oidc.{code}").as_str()),
            "{name}"
        );
        // ... and through the userinfo/revocation path with the status.
        let err = error_from_body(
            Endpoint::UserInfo,
            status,
            sample["body"].to_string().as_bytes(),
        );
        let Error::Oidc(e) = err else {
            panic!("{name}: {err:?}")
        };
        assert_eq!((e.error.as_str(), e.status), (code, Some(status)));
    }
    let e = |name: &str| {
        let body: LogtoErrorBody = serde_json::from_value(errors[name]["body"].clone()).unwrap();
        Error::from(body.into_oidc_error(Endpoint::Token, None).unwrap())
    };
    assert!(e("org_token_non_member").oidc().unwrap().is_access_denied());
    assert!(
        !e("org_token_non_member").requires_sign_in(),
        "no access is not a sign-out"
    );
    assert!(e("refresh_token_garbage").requires_sign_in());
    assert!(e("bad_client_secret").oidc().unwrap().is_invalid_client());
    assert!(e("unknown_resource").oidc().unwrap().is_invalid_target());
    // Logto's own shape without OAuth fields.
    let only_logto: LogtoErrorBody = serde_json::from_value(
        json!({"code": "oidc.insufficient_scope", "message": "m", "data": {"error_description": "d"}}),
    )
    .unwrap();
    let e = only_logto.into_oidc_error(Endpoint::Token, None).unwrap();
    assert!(e.is_insufficient_scope());
    assert_eq!(e.error_description.as_deref(), Some("d"));
    // Garbage is a transport error, not an OAuth one.
    assert!(matches!(
        error_from_body(Endpoint::UserInfo, 500, b"<html>oops</html>"),
        Error::Transport(TransportError::UnexpectedResponse {
            status: Some(500),
            ..
        })
    ));
    assert!(matches!(
        error_from_body(Endpoint::UserInfo, 500, b"{}"),
        Error::Transport(_)
    ));
}

#[test]
fn real_token_responses_parse_and_expiry_comes_from_exp() {
    let client = sample_client(sample_config(SAMPLE_IAT + 100));
    let tokens = sample_tokens();
    for name in [
        "code_exchange",
        "refresh_plain",
        "refresh_resource",
        "refresh_org",
        "refresh_org_resource",
    ] {
        let response: LogtoTokenResponse = serde_json::from_value(tokens[name].clone()).unwrap();
        assert!(response.0.extra_fields().id_token.is_some(), "{name}");
        assert!(response.refresh_token().is_some(), "{name}");
        let cached = client.cached_token(&response);
        // JWT: exp (iat + 3600); opaque: now + expires_in.
        let expected = if name == "refresh_plain" {
            SAMPLE_IAT + 100 + 3600
        } else {
            SAMPLE_IAT + 3600
        };
        assert_eq!(cached.expires_at, expected, "{name}");
        assert_eq!(cached.obtained_at, SAMPLE_IAT + 100);
    }
    let response: LogtoTokenResponse =
        serde_json::from_value(tokens["code_exchange"].clone()).unwrap();
    let (key, cached) = client.cache_entry_for_exchange(&response);
    assert_eq!(
        key,
        Some(AccessTokenKey::resource(res("https://api.demo.test")))
    );
    assert_eq!(cached.scope, "read:things");
    let response: LogtoTokenResponse =
        serde_json::from_value(tokens["refresh_plain"].clone()).unwrap();
    assert_eq!(
        client.cache_entry_for_exchange(&response).0,
        Some(AccessTokenKey::userinfo())
    );
    // An organization audience is cached as the organization's token; an
    // audience that is no resource indicator is not cached at all (never
    // under the userinfo key, which it is not).
    let part = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for (aud, expected) in [
        (
            "urn:logto:organization:org-1",
            Some(AccessTokenKey::organization("org-1")),
        ),
        ("not a resource", None),
    ] {
        let mut answer = tokens["refresh_plain"].clone();
        answer["access_token"] = json!(format!(
            "{}.{}.sig",
            part(json!({"alg": "ES384", "typ": "at+jwt"})),
            part(
                json!({"iss": "i", "sub": "s", "aud": aud, "exp": SAMPLE_IAT + 3600, "iat": SAMPLE_IAT})
            )
        ));
        let response: LogtoTokenResponse = serde_json::from_value(answer).unwrap();
        assert_eq!(
            client.cache_entry_for_exchange(&response).0,
            expected,
            "{aud}"
        );
    }
}

#[tokio::test]
async fn cached_tokens_are_served_until_the_margin_and_org_tokens_need_the_scope() {
    let clock = Arc::new(FixedClock::new(SAMPLE_IAT));
    let config = sample_config(0)
        .with_clock(clock.clone())
        .with_resources(["https://a", "https://api.demo.test"])
        .unwrap();
    let client = sample_client(config);
    let storage = InMemoryStorage::new();
    // Not signed in.
    assert!(matches!(
        client
            .get_access_token(&storage, Some(&res("https://a")))
            .await,
        Err(Error::NotAuthenticated)
    ));
    assert!(!client.is_authenticated(&storage).await.unwrap());
    assert!(matches!(
        client.get_id_token_claims(&storage).await,
        Err(Error::NotAuthenticated)
    ));
    // Organization tokens without the scope: refused before anything else.
    assert!(matches!(
        client.get_organization_token(&storage, "o").await,
        Err(Error::Config(ConfigError::MissingOrganizationsScope))
    ));
    storage
        .save_tokens(&TokenSet {
            id_token: IdToken::new(sample_str("code_exchange", "id_token")),
            refresh_token: None,
        })
        .await
        .unwrap();
    assert!(client.is_authenticated(&storage).await.unwrap());
    assert_eq!(
        client
            .get_id_token_claims(&storage)
            .await
            .unwrap()
            .email
            .as_deref(),
        Some("alice@example.test")
    );
    let key = AccessTokenKey::resource(res("https://api.demo.test"));
    let cached = CachedAccessToken {
        token: AccessToken::new(sample_str("code_exchange", "access_token")),
        expires_at: SAMPLE_IAT + 3600,
        scope: "read:things".into(),
        obtained_at: SAMPLE_IAT,
    };
    storage.set_access_token(&key, &cached).await.unwrap();
    let claims = client
        .get_access_token_claims(&storage, &res("https://api.demo.test"))
        .await
        .unwrap();
    assert_eq!(claims.scope, "read:things");
    // Within the 60 s margin before exp, the cache is stale: a refresh is needed,
    // and there is no refresh token.
    clock.set(SAMPLE_IAT + 3600 - 60);
    assert!(matches!(
        client
            .get_access_token(&storage, Some(&res("https://api.demo.test")))
            .await,
        Err(Error::NotAuthenticated)
    ));
    // Invalidate/clear.
    client
        .invalidate_access_token(&storage, &key)
        .await
        .unwrap();
    assert!(storage.get_access_token(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn sign_out_without_refresh_token_builds_the_end_session_url_and_clears() {
    let client = sample_client(sample_config(SAMPLE_IAT));
    let storage = InMemoryStorage::new();
    let id = sample_str("code_exchange", "id_token");
    storage
        .save_tokens(&TokenSet {
            id_token: IdToken::new(id.clone()),
            refresh_token: None,
        })
        .await
        .unwrap();
    let url = client
        .sign_out(&storage, Some("http://127.0.0.1:8765/"))
        .await
        .unwrap();
    assert!(
        url.as_str()
            .starts_with("http://127.0.0.1:0/oidc/session/end?")
    );
    let q = query(&url);
    assert_eq!(param(&q, "client_id"), [SAMPLE_APP_ID]);
    assert_eq!(param(&q, "id_token_hint"), [id.as_str()]);
    assert_eq!(
        param(&q, "post_logout_redirect_uri"),
        ["http://127.0.0.1:8765/"]
    );
    assert!(!client.is_authenticated(&storage).await.unwrap());
}

#[test]
fn secrets_are_redacted_in_debug() {
    let config = sample_config(0);
    let dbg = format!("{config:?}");
    assert!(
        !dbg.contains("secret\"") && dbg.contains("[redacted]"),
        "{dbg}"
    );
    let t = TokenSet {
        id_token: IdToken::new("ID-SECRET"),
        refresh_token: Some(RefreshToken::new("RT-SECRET")),
    };
    let dbg = format!(
        "{t:?} {:?} {:?}",
        AccessToken::new("AT-SECRET"),
        AppSecret::new("APP-SECRET")
    );
    for s in ["ID-SECRET", "RT-SECRET", "AT-SECRET", "APP-SECRET"] {
        assert!(!dbg.contains(s), "{dbg}");
    }
}

/// RFC 6749 §5.1 and §7.1: `token_type` is compared case-insensitively, and a
/// client that only knows bearer tokens refuses any other type.
#[test]
fn only_bearer_tokens_are_used_whatever_the_case() {
    let response = |token_type: &str| -> LogtoTokenResponse {
        serde_json::from_value(json!({"access_token": "at", "token_type": token_type,
            "expires_in": 3600}))
        .unwrap()
    };
    for accepted in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        assert!(check_token_type(&response(accepted)).is_ok(), "{accepted}");
    }
    for refused in ["mac", "MAC", "DPoP", "N_A", "", "Bearer "] {
        let r = check_token_type(&response(refused));
        assert!(
            matches!(
                &r,
                Err(Error::Validation(ValidationError::UnsupportedTokenType(t)))
                    if *t == refused.to_ascii_lowercase()
            ),
            "{refused:?}: {r:?}"
        );
    }
    // A response without one is not a token response at all.
    assert!(serde_json::from_value::<LogtoTokenResponse>(json!({"access_token": "at"})).is_err());
}

/// A cached token whose lifetime is at most twice the expiry margin is used
/// for half of it: a 30 s token for 15 s, not refreshed on every request.
#[tokio::test]
async fn short_lived_tokens_are_used_for_half_their_lifetime() {
    let clock = Arc::new(FixedClock::new(SAMPLE_IAT));
    let config = sample_config(0)
        .with_clock(clock.clone())
        .with_resources(["https://api.demo.test"])
        .unwrap();
    let client = sample_client(config);
    let storage = InMemoryStorage::new();
    // No refresh token: a token the client finds stale ends in NotAuthenticated.
    storage
        .save_tokens(&TokenSet {
            id_token: IdToken::new(sample_str("code_exchange", "id_token")),
            refresh_token: None,
        })
        .await
        .unwrap();
    let resource = &res("https://api.demo.test");
    let key = AccessTokenKey::resource(resource.clone());
    // (lifetime, last second the cached token is used): the margin is 60 s,
    // at most half the lifetime.
    for (lifetime, used_until) in [
        (30, 14),
        (1, 0),
        (2, 0),
        (3, 1),
        (100, 49),
        (120, 59),
        (121, 60),
        (3600, 3539),
    ] {
        let cached = CachedAccessToken {
            token: AccessToken::new(format!("token-{lifetime}")),
            expires_at: SAMPLE_IAT + lifetime,
            scope: String::new(),
            obtained_at: SAMPLE_IAT,
        };
        storage.set_access_token(&key, &cached).await.unwrap();
        clock.set(SAMPLE_IAT + used_until);
        let t = client.get_access_token(&storage, Some(resource)).await;
        assert_eq!(
            t.unwrap().secret(),
            cached.token.secret(),
            "a {lifetime} s token at {used_until} s"
        );
        clock.set(SAMPLE_IAT + used_until + 1);
        let t = client.get_access_token(&storage, Some(resource)).await;
        assert!(
            matches!(t, Err(Error::NotAuthenticated)),
            "a {lifetime} s token at {} s: {t:?}",
            used_until + 1
        );
    }
    // A smaller configured margin stays as it is.
    let config = sample_config(0)
        .with_clock(clock.clone())
        .with_resources([resource])
        .unwrap()
        .with_access_token_expiry_margin(std::time::Duration::from_secs(5));
    let client = sample_client(config);
    let cached = CachedAccessToken {
        token: AccessToken::new("token-30"),
        expires_at: SAMPLE_IAT + 30,
        scope: String::new(),
        obtained_at: SAMPLE_IAT,
    };
    storage.set_access_token(&key, &cached).await.unwrap();
    clock.set(SAMPLE_IAT + 24);
    assert!(
        client
            .get_access_token(&storage, Some(resource))
            .await
            .is_ok()
    );
    clock.set(SAMPLE_IAT + 25);
    assert!(
        client
            .get_access_token(&storage, Some(resource))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn sign_in_options_without_a_test_so_far() {
    let client = sample_client(sample_config(SAMPLE_IAT));
    let storage = InMemoryStorage::new();
    let redirect = "http://127.0.0.1:8765/callback";
    let url = client
        .sign_in(
            &storage,
            SignInOptions {
                ui_locales: Some("fr-CA en".into()),
                one_time_token: Some("ott-123".into()),
                interaction_mode: Some(crate::InteractionMode::SignUp),
                ..SignInOptions::new(redirect)
            },
        )
        .await
        .unwrap();
    let q = query(&url);
    assert_eq!(param(&q, "ui_locales"), ["fr-CA en"]);
    assert_eq!(param(&q, "one_time_token"), ["ott-123"]);
    assert_eq!(param(&q, "interaction_mode"), ["signUp"]);
    assert!(param(&q, "first_screen").is_empty());

    // interaction_mode is the deprecated form: first_screen wins.
    let url = client
        .sign_in(
            &storage,
            SignInOptions {
                interaction_mode: Some(crate::InteractionMode::SignIn),
                ..SignInOptions::new(redirect).first_screen(crate::FirstScreen::Register)
            },
        )
        .await
        .unwrap();
    let q = query(&url);
    assert_eq!(param(&q, "first_screen"), ["register"]);
    assert!(param(&q, "interaction_mode").is_empty());
    let url = client
        .sign_in(
            &storage,
            SignInOptions {
                interaction_mode: Some(crate::InteractionMode::SignIn),
                ..SignInOptions::new(redirect)
            },
        )
        .await
        .unwrap();
    assert_eq!(param(&query(&url), "interaction_mode"), ["signIn"]);

    // A per-call prompt replaces the configured one (consent), in order.
    let url = client
        .sign_in(
            &storage,
            SignInOptions::new(redirect).prompt([Prompt::Login, Prompt::Consent]),
        )
        .await
        .unwrap();
    assert_eq!(param(&query(&url), "prompt"), ["login consent"]);
    let url = client
        .sign_in(
            &storage,
            SignInOptions::new(redirect).prompt([Prompt::None]),
        )
        .await
        .unwrap();
    assert_eq!(param(&query(&url), "prompt"), ["none"]);
    // None of them is sent unless asked for.
    let url = client
        .sign_in(&storage, SignInOptions::new(redirect))
        .await
        .unwrap();
    let q = query(&url);
    for name in ["ui_locales", "one_time_token", "interaction_mode"] {
        assert!(param(&q, name).is_empty(), "{name}");
    }
    assert_eq!(param(&q, "prompt"), ["consent"]);

    // Without the reserved scopes: `openid` (always) and the configured ones only.
    let config = sample_config(SAMPLE_IAT)
        .with_scopes([UserScope::Email.as_str()])
        .with_include_reserved_scopes(false);
    let bare = sample_client(config);
    let url = bare
        .sign_in(&storage, SignInOptions::new(redirect))
        .await
        .unwrap();
    assert_eq!(param(&query(&url), "scope"), ["openid email"]);
    // With them (the default): openid offline_access profile, then the rest.
    let full = sample_client(sample_config(SAMPLE_IAT).with_scopes([UserScope::Email.as_str()]));
    let url = full
        .sign_in(&storage, SignInOptions::new(redirect))
        .await
        .unwrap();
    assert_eq!(
        param(&query(&url), "scope"),
        ["openid offline_access profile email"]
    );
}

/// Sign-out revokes the refresh token at the revocation endpoint; when that
/// fails (here: nothing listens there), the storage is cleared all the same
/// and the end-session URL still comes back.
#[tokio::test]
async fn sign_out_clears_the_storage_when_revocation_fails() {
    let client = sample_client(sample_config(SAMPLE_IAT));
    let storage = InMemoryStorage::new();
    let refresh = RefreshToken::new("rt-to-revoke");
    assert!(matches!(
        client.revoke_refresh_token(&refresh).await,
        Err(Error::Transport(TransportError::Request {
            endpoint: Endpoint::Revocation,
            ..
        }))
    ));
    let id = sample_str("code_exchange", "id_token");
    storage
        .save_tokens(&TokenSet {
            id_token: IdToken::new(id.clone()),
            refresh_token: Some(refresh),
        })
        .await
        .unwrap();
    let key = AccessTokenKey::resource(res("https://api.demo.test"));
    let cached = CachedAccessToken {
        token: AccessToken::new("at"),
        expires_at: SAMPLE_IAT + 3600,
        scope: String::new(),
        obtained_at: SAMPLE_IAT,
    };
    storage.set_access_token(&key, &cached).await.unwrap();
    let url = client.sign_out(&storage, None).await.unwrap();
    assert_eq!(param(&query(&url), "id_token_hint"), [id.as_str()]);
    assert!(param(&query(&url), "post_logout_redirect_uri").is_empty());
    assert!(storage.load_tokens().await.unwrap().is_none());
    assert!(storage.get_access_token(&key).await.unwrap().is_none());
    assert!(!client.is_authenticated(&storage).await.unwrap());
}

#[tokio::test]
async fn clear_all_tokens_drops_every_token_and_keeps_pending_sign_ins() {
    let client = sample_client(sample_config(SAMPLE_IAT));
    let storage = InMemoryStorage::new();
    storage
        .save_tokens(&TokenSet {
            id_token: IdToken::new(sample_str("code_exchange", "id_token")),
            refresh_token: Some(RefreshToken::new("rt")),
        })
        .await
        .unwrap();
    let keys = [
        AccessTokenKey::userinfo(),
        AccessTokenKey::resource(res("https://api.demo.test")),
        AccessTokenKey::organization("org-1"),
    ];
    for key in &keys {
        let cached = CachedAccessToken {
            token: AccessToken::new("at"),
            expires_at: SAMPLE_IAT + 3600,
            scope: String::new(),
            obtained_at: SAMPLE_IAT,
        };
        storage.set_access_token(key, &cached).await.unwrap();
    }
    let url = client
        .sign_in(
            &storage,
            SignInOptions::new("http://127.0.0.1:8765/callback"),
        )
        .await
        .unwrap();
    client.clear_all_tokens(&storage).await.unwrap();
    assert!(!client.is_authenticated(&storage).await.unwrap());
    assert!(storage.load_tokens().await.unwrap().is_none());
    for key in &keys {
        assert!(
            storage.get_access_token(key).await.unwrap().is_none(),
            "{key:?}"
        );
    }
    assert!(matches!(
        client.get_access_token(&storage, None).await,
        Err(Error::NotAuthenticated)
    ));
    // A sign-in under way is not a token: it can still complete.
    assert_eq!(storage.pending_sign_ins(), 1);
    let state = param(&query(&url), "state")[0].to_owned();
    assert!(
        storage
            .take_sign_in_session(&state)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_resource_not_configured_is_refused_before_any_network_call() {
    let config = sample_config(SAMPLE_IAT)
        .with_scopes([UserScope::Organizations])
        .with_resources(["https://api.demo.test"])
        .unwrap();
    let client = sample_client(config);
    // Signed in with a refresh token: a refresh would be attempted (and fail
    // with a transport error, the token endpoint being unreachable).
    let (storage, _) = pending(&client).await;
    let refused = |r: Result<AccessToken, Error>| match r {
        Err(Error::Config(ConfigError::ResourceNotConfigured { resource })) => {
            assert_eq!(resource, "https://other.demo.test");
            let message = ConfigError::ResourceNotConfigured { resource }.to_string();
            assert!(message.contains("with_resources"), "{message}");
            assert!(message.contains("https://other.demo.test"), "{message}");
        }
        other => panic!("{other:?}"),
    };
    refused(
        client
            .get_access_token(&storage, Some(&res("https://other.demo.test")))
            .await,
    );
    refused(
        client
            .get_organization_scoped_access_token(
                &storage,
                &res("https://other.demo.test"),
                "org-1",
            )
            .await,
    );
    refused(
        client
            .refresh_access_token(
                &storage,
                &AccessTokenKey::resource(res("https://other.demo.test")),
            )
            .await,
    );
    assert!(matches!(
        client
            .get_access_token_claims(&storage, &res("https://other.demo.test"))
            .await,
        Err(Error::Config(ConfigError::ResourceNotConfigured { .. }))
    ));
    // An empty organization id is refused too, never taken for "no
    // organization" (which would answer the userinfo token).
    for r in [
        client.get_organization_token(&storage, "").await,
        client
            .get_organization_scoped_access_token(&storage, &res("https://api.demo.test"), "")
            .await,
        client
            .refresh_access_token(&storage, &AccessTokenKey::organization(""))
            .await,
    ] {
        assert!(
            matches!(r, Err(Error::Config(ConfigError::EmptyOrganizationId))),
            "{r:?}"
        );
    }
    // Even a cached token for it is not served: the configuration is wrong.
    let key = AccessTokenKey::resource(res("https://other.demo.test"));
    let cached = CachedAccessToken {
        token: AccessToken::new("cached"),
        expires_at: SAMPLE_IAT + 3600,
        scope: String::new(),
        obtained_at: SAMPLE_IAT,
    };
    storage.set_access_token(&key, &cached).await.unwrap();
    refused(
        client
            .get_access_token(&storage, Some(&res("https://other.demo.test")))
            .await,
    );
    assert_eq!(
        client.stats(),
        ClientStats::default(),
        "no request was made"
    );

    // A configured resource goes on to the refresh (unreachable here), as does
    // the userinfo token and an organization token (the scope is configured).
    for r in [
        client
            .get_access_token(&storage, Some(&res("https://api.demo.test")))
            .await,
        client.get_access_token(&storage, None).await,
        client.get_organization_token(&storage, "org-1").await,
        client
            .get_organization_scoped_access_token(&storage, &res("https://api.demo.test"), "org-1")
            .await,
    ] {
        assert!(matches!(r, Err(Error::Transport(_))), "{r:?}");
    }
    assert_eq!(client.stats().refreshes_failed, 4);
}

#[test]
fn error_answers_is_access_denied_and_is_invalid_grant_as_its_oauth_error_does() {
    let errors: Value = serde_json::from_str(SAMPLE_ERRORS).unwrap();
    let e = |name: &str| {
        let body: LogtoErrorBody = serde_json::from_value(errors[name]["body"].clone()).unwrap();
        Error::from(body.into_oidc_error(Endpoint::Token, None).unwrap())
    };
    let denied = e("org_token_non_member");
    assert!(denied.is_access_denied());
    assert!(!denied.is_invalid_grant());
    let dead = e("refresh_token_garbage");
    assert!(dead.is_invalid_grant());
    assert!(!dead.is_access_denied());
    assert!(!e("bad_client_secret").is_access_denied());
    assert!(!e("bad_client_secret").is_invalid_grant());
    // Not an OAuth error: neither.
    for other in [
        Error::NotAuthenticated,
        Error::Callback(CallbackError::UnknownState),
        Error::Config(ConfigError::MissingOrganizationsScope),
    ] {
        assert!(!other.is_access_denied(), "{other:?}");
        assert!(!other.is_invalid_grant(), "{other:?}");
    }
}

#[tokio::test]
async fn a_path_and_query_callback_is_resolved_against_the_redirect_uri() {
    let client = sample_client(sample_config(SAMPLE_IAT));
    let iss = "iss=http%3A%2F%2F127.0.0.1%3A3001%2Foidc";

    // The redirect URI's path: accepted, and the code exchange is attempted
    // (the token endpoint is unreachable here, so a transport error).
    let (storage, state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(&storage, &format!("/callback?code=c&state={state}&{iss}"))
        .await;
    assert!(
        matches!(
            &r,
            Err(Error::Transport(TransportError::Request {
                endpoint: Endpoint::Token,
                ..
            }))
        ),
        "{r:?}"
    );

    // Another path is refused as an absolute URL on another path is.
    for other in ["/other", "/callback/", "/Callback", "/prefix/callback"] {
        let (storage, state) = pending(&client).await;
        let r = client
            .handle_sign_in_callback(&storage, &format!("{other}?code=c&state={state}&{iss}"))
            .await;
        assert!(
            matches!(r, Err(Error::Callback(CallbackError::RedirectUriMismatch))),
            "{other}: {r:?}"
        );
        tokens_untouched(&storage).await;
        let (storage, state) = pending(&client).await;
        let r = client
            .handle_sign_in_callback(
                &storage,
                &format!("http://127.0.0.1:8765{other}?code=c&state={state}&{iss}"),
            )
            .await;
        assert!(
            matches!(r, Err(Error::Callback(CallbackError::RedirectUriMismatch))),
            "{other}: {r:?}"
        );
    }

    // A scheme-relative reference names another host: refused.
    let (storage, state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(
            &storage,
            &format!("//evil.example/callback?code=c&state={state}&{iss}"),
        )
        .await;
    assert!(matches!(r, Err(Error::Callback(_))), "{r:?}");
    tokens_untouched(&storage).await;

    // A relative reference without a leading slash is not a request target.
    let (storage, state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(&storage, &format!("callback?code=c&state={state}&{iss}"))
        .await;
    assert!(
        matches!(r, Err(Error::Callback(CallbackError::InvalidUrl(_)))),
        "{r:?}"
    );

    // An error callback as a path-and-query is the typed OAuth error.
    let (storage, state) = pending(&client).await;
    let r = client
        .handle_sign_in_callback(
            &storage,
            &format!("/callback?error=access_denied&state={state}&{iss}"),
        )
        .await;
    assert!(r.unwrap_err().is_access_denied());
    assert_eq!(storage.pending_sign_ins(), 0);
}
