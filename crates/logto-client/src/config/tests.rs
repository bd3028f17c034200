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
    assert_eq!(mixed.scopes, expected);
    let as_str = config().with_scopes([
        UserScope::Email.into(),
        UserScope::Organizations.into(),
        "read:reports",
    ]);
    assert_eq!(as_str.scopes, expected);
    let added = config()
        .with_scopes([UserScope::Email, UserScope::Organizations])
        .add_scopes(["read:reports".to_owned()]);
    assert_eq!(added.scopes, expected);
    // with_scopes replaces, add_scopes extends.
    assert_eq!(added.clone().with_scopes(["x"]).scopes, ["x"]);
    // The organizations scope counts however it was given.
    assert!(mixed.has_organizations_scope());
    assert!(
        mixed
            .effective_resources()
            .contains(&ReservedResource::Organization.as_str().to_owned())
    );
    // Every form the workspace passes still works.
    let owned: Vec<String> = vec!["a".into(), "b".into()];
    assert_eq!(config().with_scopes(owned.clone()).scopes, ["a", "b"]);
    assert_eq!(config().with_scopes(&owned).scopes, ["a", "b"]);
    assert_eq!(config().with_scopes(vec!["a", "b"]).scopes, ["a", "b"]);
    assert_eq!(
        config()
            .with_scopes([crate::ReservedScope::OfflineAccess])
            .scopes,
        ["offline_access"]
    );
}
