//! Happy paths and protocol behaviour against logto-dev.

use std::sync::Arc;

use logto_client::{AccessTokenKey, Error, InMemoryStorage, Storage};

use crate::helpers::*;

#[tokio::test]
async fn sign_in_verifies_stores_and_returns_app_state() {
    let env = spawn().await;
    let (storage, outcome) = env.sign_in("alice").await;
    assert_eq!(
        outcome.app_state,
        Some(serde_json::json!({"return_to": "/home"}))
    );
    assert_eq!(outcome.redirect_uri, REDIRECT);
    assert!(env.client.is_authenticated(&storage).await.unwrap());
    let claims = env.client.get_id_token_claims(&storage).await.unwrap();
    assert_eq!(claims.sub, outcome.claims.sub);
    assert_eq!(claims.username.as_deref(), Some("alice"));
    assert!(claims.organizations.unwrap().contains(&"org-acme".into()));
    assert!(
        claims
            .organization_roles
            .unwrap()
            .contains(&"org-acme:admin".to_owned())
    );
    let tokens = storage.load_tokens().await.unwrap().unwrap();
    assert!(
        tokens.refresh_token.is_some(),
        "prompt=consent + offline_access gives a refresh token"
    );
    assert_eq!(
        storage.pending_sign_ins(),
        0,
        "the sign-in session is consumed"
    );
    assert_eq!(env.idp.counters().authorization_code_grants, 1);
}

#[tokio::test]
async fn user_info_has_everything_and_fills_what_the_id_token_lacks() {
    let settings = logto_dev::Settings {
        claims_in_id_token: false,
        ..Default::default()
    };
    let env = spawn_with(settings, full_scopes()).await;
    let (storage, _) = env.sign_in("alice").await;
    let claims = env.client.get_id_token_claims(&storage).await.unwrap();
    assert_eq!(
        claims.organizations, None,
        "this tenant keeps organizations out of the ID token"
    );
    let info = env.client.fetch_user_info(&storage).await.unwrap();
    assert_eq!(info.sub, claims.sub);
    assert!(
        info.organizations
            .as_ref()
            .unwrap()
            .contains(&"org-acme".into())
    );
    assert!(
        info.organization_data
            .as_ref()
            .unwrap()
            .iter()
            .any(|o| o.id == "org-acme" && o.name.as_deref() == Some("Acme"))
    );
    assert_eq!(info.custom_data.as_ref().unwrap()["plan"], "enterprise");
    assert!(
        info.roles
            .as_ref()
            .unwrap()
            .contains(&"report-writer".to_owned())
    );
    assert_eq!(env.idp.counters().userinfo_hits, 1);
}

#[tokio::test]
async fn api_organization_and_organization_scoped_tokens() {
    let env = spawn_rotating().await;
    let (storage, outcome) = env.sign_in("alice").await;
    let c = &env.client;
    let before = env.idp.counters().refresh_token_grants;

    let rt_before = storage
        .load_tokens()
        .await
        .unwrap()
        .unwrap()
        .refresh_token
        .unwrap()
        .into_secret();
    let api = c
        .get_access_token_claims(&storage, &res(API))
        .await
        .unwrap();
    assert_eq!(api.aud, vec![API.to_owned()]);
    assert_eq!(api.sub, outcome.claims.sub);
    assert!(api.has_scope("write:reports"));
    let rt_after = storage
        .load_tokens()
        .await
        .unwrap()
        .unwrap()
        .refresh_token
        .unwrap()
        .into_secret();
    assert_ne!(rt_before, rt_after, "the rotated refresh token is stored");

    // Served from the cache: no new grant.
    let t1 = c.get_access_token(&storage, Some(&res(API))).await.unwrap();
    let t2 = c.get_access_token(&storage, Some(&res(API))).await.unwrap();
    assert_eq!(t1.secret(), t2.secret());
    assert_eq!(env.idp.counters().refresh_token_grants, before + 1);

    // The resource server side verifies it with the shared JWKS.
    let verified = c.verify_access_token(t1.secret(), &res(API)).await.unwrap();
    assert_eq!(verified.sub, outcome.claims.sub);
    assert!(matches!(
        c.verify_access_token(t1.secret(), &res("https://other.test"))
            .await,
        Err(Error::Validation(
            logto_client::ValidationError::AudienceMismatch
        ))
    ));

    let org = c
        .get_organization_token_claims(&storage, "org-acme")
        .await
        .unwrap();
    assert_eq!(org.organization_id, "org-acme");
    assert!(org.has_scope("invite:members"));
    let org_token = c
        .get_organization_token(&storage, "org-acme")
        .await
        .unwrap();
    assert_eq!(
        c.verify_organization_token(org_token.secret(), "org-acme")
            .await
            .unwrap()
            .organization_id,
        "org-acme"
    );

    let scoped = c
        .get_organization_scoped_access_token_claims(&storage, &res(API), "org-acme")
        .await
        .unwrap();
    assert_eq!(
        scoped.organization_id,
        Some(logto_client::OrganizationId::from("org-acme"))
    );
    assert_eq!(scoped.aud, vec![API.to_owned()]);

    // Not a member: a typed access_denied, and the session is intact.
    let r = c.get_organization_token(&storage, "org-globex").await;
    assert!(
        matches!(&r, Err(Error::Oidc(e)) if e.is_access_denied()),
        "{r:?}"
    );
    assert!(c.is_authenticated(&storage).await.unwrap());
    assert!(c.get_access_token(&storage, Some(&res(API))).await.is_ok());

    // Force refresh of one audience makes one more grant and a new token.
    let grants = env.idp.counters().refresh_token_grants;
    let fresh = c
        .refresh_access_token(&storage, &AccessTokenKey::resource(res(API)))
        .await
        .unwrap();
    assert_ne!(fresh.secret(), t1.secret());
    assert_eq!(env.idp.counters().refresh_token_grants, grants + 1);
    // Clearing access tokens keeps the user signed in.
    c.clear_access_tokens(&storage).await.unwrap();
    assert!(
        storage
            .get_access_token(&AccessTokenKey::resource(res(API)))
            .await
            .unwrap()
            .is_none()
    );
    assert!(c.is_authenticated(&storage).await.unwrap());
    assert_eq!(env.idp.counters().refresh_reuse_events, 0);
}

#[tokio::test]
async fn concurrent_refreshes_are_single_flight() {
    let env = spawn().await;
    let (storage, _) = env.sign_in("bob").await;
    let before = env.idp.counters().refresh_token_grants;
    let coalesced_before = env.client.stats().refreshes_coalesced;
    let client = Arc::new(env.client.clone());
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (client, storage) = (client.clone(), storage.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                client
                    .get_access_token(&storage, Some(&res(API)))
                    .await
                    .map(|t| t.into_secret())
            } else {
                client
                    .get_organization_token(&storage, "org-acme")
                    .await
                    .map(|t| t.into_secret())
            }
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap());
    }
    let c = env.idp.counters();
    assert_eq!(c.refresh_token_grants, before + 2, "one per audience");
    assert_eq!(c.refresh_reuse_events, 0);
    assert_eq!(c.invalid_grants, 0);
    assert_eq!(
        env.client.stats().refreshes_coalesced - coalesced_before,
        22,
        "every other call was served by one of the two refreshes"
    );
    results.sort();
    results.dedup();
    assert_eq!(results.len(), 2);
}

#[tokio::test]
async fn sign_out_revokes_clears_and_builds_the_end_session_url() {
    let env = spawn().await;
    let (storage, _) = env.sign_in("alice").await;
    let old = storage.load_tokens().await.unwrap().unwrap();
    let url = env
        .client
        .sign_out(&storage, Some("http://127.0.0.1:9/"))
        .await
        .unwrap();
    assert_eq!(url.path(), "/oidc/session/end");
    assert_eq!(query_param(&url, "client_id").as_deref(), Some(APP_ID));
    assert_eq!(
        query_param(&url, "id_token_hint").as_deref(),
        Some(old.id_token.secret())
    );
    assert_eq!(
        query_param(&url, "post_logout_redirect_uri").as_deref(),
        Some("http://127.0.0.1:9/")
    );
    assert!(!env.client.is_authenticated(&storage).await.unwrap());
    assert_eq!(env.idp.counters().revocations, 1);
    // The revoked refresh token is dead: a storage holding it gets invalid_grant,
    // which clears it.
    let stale = InMemoryStorage::new();
    stale.save_tokens(&old).await.unwrap();
    let r = env.client.get_access_token(&stale, Some(&res(API))).await;
    assert!(matches!(&r, Err(e) if e.requires_sign_in()), "{r:?}");
    assert!(!env.client.is_authenticated(&stale).await.unwrap());
}

#[tokio::test]
async fn revoked_grant_means_sign_in_again() {
    let env = spawn().await;
    let (storage, outcome) = env.sign_in("carol").await;
    env.idp.revoke_grants_of(&outcome.claims.sub);
    let r = env.client.get_access_token(&storage, Some(&res(API))).await;
    assert!(
        matches!(&r, Err(Error::Oidc(e)) if e.is_invalid_grant()),
        "{r:?}"
    );
    assert!(!env.client.is_authenticated(&storage).await.unwrap());
    // No storm: the next call does not reach the IdP.
    let grants = env.idp.counters().invalid_grants;
    assert!(matches!(
        env.client.get_access_token(&storage, Some(&res(API))).await,
        Err(Error::NotAuthenticated)
    ));
    assert_eq!(env.idp.counters().invalid_grants, grants);
}

#[tokio::test]
async fn key_rotation_refetches_the_jwks_once() {
    let env = spawn().await;
    let (storage, _) = env.sign_in("alice").await;
    assert_eq!(env.client.jwks_fetch_count(), 1);
    env.idp.rotate_keys();
    // The refresh answer carries an ID token signed by the new key.
    let token = env
        .client
        .get_access_token(&storage, Some(&res(API)))
        .await
        .unwrap();
    assert_eq!(env.client.jwks_fetch_count(), 2);
    env.client
        .verify_access_token(token.secret(), &res(API))
        .await
        .unwrap();
    assert_eq!(env.client.jwks_fetch_count(), 2);
}

#[tokio::test]
async fn a_jwks_outage_during_a_refresh_keeps_the_user_signed_in() {
    let env = spawn_rotating().await;
    let (storage, _) = env.sign_in("alice").await;
    let before = storage.load_tokens().await.unwrap().unwrap();
    // The refreshed ID token is signed by a new key, and the JWKS that would
    // show it is down for that one fetch.
    env.idp.rotate_keys();
    env.idp.fail_next(logto_dev::Endpoint::Jwks, 503);
    let token = env
        .client
        .get_access_token(&storage, Some(&res(API)))
        .await
        .unwrap();
    assert!(!token.secret().is_empty());
    let after = storage.load_tokens().await.unwrap().unwrap();
    assert_ne!(
        after.refresh_token.as_ref().map(|t| t.secret().to_owned()),
        before.refresh_token.as_ref().map(|t| t.secret().to_owned()),
        "the rotated refresh token is kept"
    );
    assert_eq!(
        after.id_token.secret(),
        before.id_token.secret(),
        "the unchecked ID token is not stored"
    );
    // Signed in, and the next refresh (with the rotated token) is no reuse.
    assert!(env.client.is_authenticated(&storage).await.unwrap());
    env.client
        .get_organization_token(&storage, "org-acme")
        .await
        .unwrap();
    assert_eq!(env.idp.counters().refresh_reuse_events, 0);
    assert_eq!(env.idp.counters().invalid_grants, 0);
}

#[tokio::test]
async fn rs256_tenants_work_too() {
    let settings = logto_dev::Settings {
        signing: logto_dev::SigningAlg::Rs256,
        ..Default::default()
    };
    let env = spawn_with(settings, full_scopes()).await;
    let (storage, _) = env.sign_in("alice").await;
    let t = env
        .client
        .get_access_token(&storage, Some(&res(API)))
        .await
        .unwrap();
    env.client
        .verify_access_token(t.secret(), &res(API))
        .await
        .unwrap();
}

#[tokio::test]
async fn two_tabs_complete_in_either_order() {
    let env = spawn().await;
    let storage = InMemoryStorage::new();
    let first = env.callback_url(&storage, "alice").await;
    let second = env.callback_url(&storage, "alice").await;
    env.client
        .handle_sign_in_callback(&storage, second.as_str())
        .await
        .unwrap();
    env.client
        .handle_sign_in_callback(&storage, first.as_str())
        .await
        .unwrap();
    assert!(env.client.is_authenticated(&storage).await.unwrap());
}

/// What a server framework hands a handler: the request target, path and query
/// (actix-web's `HttpRequest::uri()` for a server request).
fn path_and_query(url: &url::Url) -> String {
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

#[tokio::test]
async fn a_path_and_query_callback_signs_in_like_the_absolute_url() {
    let env = spawn().await;
    let storage = InMemoryStorage::new();
    let cb = env.callback_url(&storage, "alice").await;
    let relative = path_and_query(&cb);
    assert!(relative.starts_with("/callback?"), "{relative}");
    let outcome = env
        .client
        .handle_sign_in_callback(&storage, &relative)
        .await
        .unwrap();
    assert_eq!(outcome.redirect_uri, REDIRECT);
    assert_eq!(
        outcome.app_state,
        Some(serde_json::json!({"return_to": "/home"}))
    );
    assert!(env.client.is_authenticated(&storage).await.unwrap());
    // Taken once: the replay is refused, in either form.
    for replay in [relative.clone(), cb.to_string()] {
        let r = env.client.handle_sign_in_callback(&storage, &replay).await;
        assert!(
            matches!(
                &r,
                Err(Error::Callback(logto_client::CallbackError::UnknownState))
            ),
            "{r:?}"
        );
    }
}
