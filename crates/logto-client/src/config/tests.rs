#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn an_endpoint_ending_in_oidc_is_refused_with_the_base_url_to_use() {
    for (given, suggested) in [
        ("https://tenant.logto.app/oidc", "https://tenant.logto.app"),
        ("https://tenant.logto.app/oidc/", "https://tenant.logto.app"),
        ("http://127.0.0.1:3001/oidc", "http://127.0.0.1:3001"),
        ("https://example.com/auth/oidc", "https://example.com/auth"),
    ] {
        let err = LogtoConfig::new(given, "app", None).unwrap_err();
        match &err {
            ConfigError::EndpointIsIssuer {
                endpoint,
                suggested: s,
            } => {
                assert_eq!(endpoint, given);
                assert_eq!(s, suggested);
            }
            other => panic!("{given}: {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains(suggested), "{message}");
        assert!(message.contains("issuer"), "{message}");
    }
    // Only a whole last segment counts.
    for fine in [
        "https://tenant.logto.app",
        "https://tenant.logto.app/myoidc",
        "https://oidc.example.com",
        "http://oidc",
        "https://example.com/oidc/base",
    ] {
        assert!(LogtoConfig::new(fine, "app", None).is_ok(), "{fine}");
    }
}

#[test]
fn user_scopes_and_permissions_mix_in_one_with_scopes_call() {
    let config = || LogtoConfig::new("https://auth.example.com", "app", None).unwrap();
    let expected = ["email", "urn:logto:scope:organizations", "read:reports"];
    let mixed = config().with_scopes([
        Scope::from(UserScope::Email),
        UserScope::Organizations.into(),
        "read:reports".into(),
    ]);
    assert_eq!(mixed.scopes(), expected);
    let as_str = config().with_scopes([
        UserScope::Email.into(),
        UserScope::Organizations.into(),
        "read:reports",
    ]);
    assert_eq!(as_str.scopes(), expected);
    let added = config()
        .with_scopes([UserScope::Email, UserScope::Organizations])
        .add_scopes(["read:reports".to_owned()]);
    assert_eq!(added.scopes(), expected);
    // with_scopes replaces, add_scopes extends.
    assert_eq!(added.clone().with_scopes(["x"]).scopes(), ["x"]);
    // The organizations scope counts however it was given.
    assert!(mixed.has_organizations_scope());
    assert!(
        mixed
            .effective_resources()
            .contains(&ReservedResource::Organization.into())
    );
    // Every form the workspace passes still works.
    let owned: Vec<String> = vec!["a".into(), "b".into()];
    assert_eq!(config().with_scopes(owned.clone()).scopes(), ["a", "b"]);
    assert_eq!(config().with_scopes(&owned).scopes(), ["a", "b"]);
    assert_eq!(config().with_scopes(vec!["a", "b"]).scopes(), ["a", "b"]);
    assert_eq!(
        config()
            .with_scopes([crate::ReservedScope::OfflineAccess])
            .scopes(),
        ["offline_access"]
    );
}

#[test]
fn relative_or_fragmented_resources_are_refused_by_the_builder_by_name() {
    let config = LogtoConfig::new("https://auth.example.com", "app", None).unwrap();
    for bad in [
        "api.example.com",
        "/api",
        "https://api.example.com#reports",
        "https://api.example.com#",
        "",
    ] {
        let err = config
            .clone()
            .with_resources(["https://fine.example.com", bad])
            .unwrap_err();
        match &err {
            ConfigError::InvalidResourceIndicator { resource, .. } => assert_eq!(resource, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
    // Good ones are kept as given, in order, and replace the earlier ones.
    let config = config
        .with_resources(["https://a.example.com"])
        .unwrap()
        .with_resources(["https://api.example.com", "urn:example:api"])
        .unwrap();
    assert_eq!(
        config.resources(),
        ["https://api.example.com", "urn:example:api"]
    );
}

#[test]
fn every_setter_changes_what_its_getter_reads_and_nothing_else() {
    let base = LogtoConfig::new(
        "https://auth.example.com/",
        "app",
        Some(AppSecret::new("s")),
    )
    .unwrap();
    // The defaults.
    assert_eq!(base.endpoint(), "https://auth.example.com");
    assert_eq!(base.app_id(), "app");
    assert_eq!(base.app_secret().map(AppSecret::secret), Some("s"));
    assert!(base.scopes().is_empty() && base.resources().is_empty());
    assert_eq!(base.prompt(), [Prompt::Consent]);
    assert!(base.include_reserved_scopes());
    assert_eq!(base.allowed_algorithms(), SigningAlgorithm::ALL);
    assert_eq!(base.clock_skew(), Duration::from_secs(60));
    assert_eq!(base.max_id_token_age(), Duration::from_secs(600));
    assert!(base.trusted_audiences().is_empty());
    assert_eq!(base.access_token_expiry_margin(), Duration::from_secs(60));
    assert_eq!(base.jwks_refetch_cooldown(), Duration::from_secs(30));
    assert_eq!(base.sign_in_session_ttl(), Duration::from_secs(3600));
    assert_eq!(base.http_timeout(), Duration::from_secs(30));
    let s = Duration::from_secs;
    let set = base
        .clone()
        .with_prompt([Prompt::Login])
        .with_include_reserved_scopes(false)
        .with_allowed_algorithms([SigningAlgorithm::ES384])
        .with_clock_skew(s(1))
        .with_max_id_token_age(s(2))
        .with_trusted_audiences(["other-app"])
        .with_access_token_expiry_margin(s(3))
        .with_jwks_refetch_cooldown(s(4))
        .with_sign_in_session_ttl(s(5))
        .with_http_timeout(s(6))
        .with_clock(Arc::new(FixedClock::new(42)));
    assert_eq!(set.prompt(), [Prompt::Login]);
    assert!(!set.include_reserved_scopes());
    assert_eq!(set.allowed_algorithms(), [SigningAlgorithm::ES384]);
    assert_eq!(set.clock_skew(), s(1));
    assert_eq!(set.skew_secs(), 1);
    assert_eq!(set.max_id_token_age(), s(2));
    assert_eq!(set.trusted_audiences(), ["other-app"]);
    assert_eq!(set.access_token_expiry_margin(), s(3));
    assert_eq!(set.expiry_margin_secs(3600), 3);
    assert_eq!(set.jwks_refetch_cooldown(), s(4));
    assert_eq!(set.sign_in_session_ttl(), s(5));
    assert_eq!(set.http_timeout(), s(6));
    assert_eq!(set.clock().now(), 42);
    assert_eq!(set.now(), 42);
    assert_eq!(set.effective_scopes(), ["openid"]);
    // What was not set stays.
    assert_eq!(set.endpoint(), base.endpoint());
    assert_eq!(set.app_id(), base.app_id());
    // The secret stays out of Debug.
    assert!(!format!("{set:?}").contains("\"s\""));
}
