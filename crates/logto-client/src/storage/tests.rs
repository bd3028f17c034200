#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::*;

fn session(state: &str) -> SignInSession {
    SignInSession {
        state: state.into(),
        nonce: "n".into(),
        code_verifier: CodeVerifier::new("v"),
        redirect_uri: "http://127.0.0.1/callback".into(),
        created_at: 1,
        app_state: Some(serde_json::json!({"return_to": "/a"})),
    }
}

#[tokio::test]
async fn sign_in_sessions_are_keyed_by_state_and_single_use() {
    let s = InMemoryStorage::new();
    s.save_sign_in_session(&session("tab1")).await.unwrap();
    s.save_sign_in_session(&session("tab2")).await.unwrap();
    assert_eq!(
        s.take_sign_in_session("tab2").await.unwrap().unwrap().state,
        "tab2"
    );
    assert!(
        s.take_sign_in_session("tab2").await.unwrap().is_none(),
        "single use"
    );
    assert_eq!(
        s.take_sign_in_session("tab1")
            .await
            .unwrap()
            .unwrap()
            .app_state
            .unwrap()["return_to"],
        "/a"
    );
}

#[tokio::test]
async fn refresh_lock_is_exclusive_and_commit_is_atomic() {
    let s = InMemoryStorage::new();
    let clone = s.clone();
    let guard = s.lock_for_refresh().await.unwrap();
    // While held, nobody else gets it (bounded wait as the assertion, not as synchronisation).
    assert!(
        tokio::time::timeout(Duration::from_millis(50), clone.lock_for_refresh())
            .await
            .is_err()
    );
    let key = AccessTokenKey::organization("o1");
    let token = CachedAccessToken {
        token: AccessToken::new("at"),
        expires_at: 10,
        scope: "s".into(),
        obtained_at: 1,
    };
    let tokens = TokenSet {
        id_token: IdToken::new("id"),
        refresh_token: Some(RefreshToken::new("rt2")),
    };
    guard.commit(&tokens, &key, &token).await.unwrap();
    let mut g2 = clone.lock_for_refresh().await.unwrap();
    assert_eq!(
        g2.load_tokens()
            .await
            .unwrap()
            .unwrap()
            .refresh_token
            .unwrap()
            .secret(),
        "rt2"
    );
    assert_eq!(
        g2.get_access_token(&key)
            .await
            .unwrap()
            .unwrap()
            .token
            .secret(),
        "at"
    );
    g2.clear().await.unwrap();
    assert!(s.load_tokens().await.unwrap().is_none());
    assert!(s.get_access_token(&key).await.unwrap().is_none());
    // Dropping a guard is a rollback and releases the lock.
    drop(s.lock_for_refresh().await.unwrap());
    assert!(
        tokio::time::timeout(Duration::from_secs(5), s.lock_for_refresh())
            .await
            .is_ok()
    );
}

fn api() -> ResourceIndicator {
    ResourceIndicator::parse("https://api").unwrap()
}

#[test]
fn access_token_keys_have_stable_forms() {
    assert_eq!(AccessTokenKey::userinfo().cache_key(), "@");
    assert_eq!(AccessTokenKey::resource(api()).cache_key(), "@https://api");
    assert_eq!(AccessTokenKey::organization("o1").cache_key(), "@#o1");
    assert_eq!(
        AccessTokenKey::organization_resource(api(), "o1").cache_key(),
        "@https://api#o1"
    );
    assert_eq!(
        AccessTokenKey::organization("o1").audience().as_deref(),
        Some("urn:logto:organization:o1")
    );
    assert_eq!(
        AccessTokenKey::organization_resource(api(), "o1")
            .audience()
            .as_deref(),
        Some("https://api")
    );
    assert_eq!(
        AccessTokenKey::new(None, Some(OrganizationId::from(""))),
        AccessTokenKey::userinfo()
    );
}

#[test]
fn access_token_keys_serialize_as_plain_strings() {
    let key = AccessTokenKey::organization_resource(api(), "o1");
    let json = serde_json::to_value(&key).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "resource": "https://api", "organization_id": "o1" })
    );
    assert_eq!(serde_json::from_value::<AccessTokenKey>(json).unwrap(), key);
    let userinfo = serde_json::to_string(&AccessTokenKey::userinfo()).unwrap();
    assert_eq!(userinfo, "{}");
}

#[test]
fn everything_round_trips_as_json_and_debug_is_redacted() {
    let s = session("st");
    let json = serde_json::to_string(&s).unwrap();
    let back: SignInSession = serde_json::from_str(&json).unwrap();
    assert_eq!(back.code_verifier.secret(), "v");
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("\"st\"") && !dbg.contains("\"v\""), "{dbg}");
    let t = TokenSet {
        id_token: IdToken::new("id"),
        refresh_token: None,
    };
    let back: TokenSet = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back.id_token.secret(), "id");
}
