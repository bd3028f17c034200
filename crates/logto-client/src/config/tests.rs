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
