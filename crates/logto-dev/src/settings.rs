//! Run-time settings of a logto-dev instance.

use std::time::Duration;

/// Algorithm of the signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SigningAlg {
    /// EC P-384 / ES384: Logto's default.
    Es384,
    /// RSA / RS256 (a Logto tenant with an RSA key; the JWK carries no `alg`).
    Rs256,
}

/// Refresh-token rotation policy.
///
/// Real Logto (oidc-provider's default, checked against Logto 1.42) hands a confidential
/// client (a Traditional web app) the **same** refresh token back on every refresh until
/// 70 % of its lifetime has passed, and rotates a public client's (SPA, native) token on
/// every use. A rotated token stays usable for [`Settings::reuse_grace`] after each use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RefreshPolicy {
    /// Rotate every client's token on every use, confidential ones too. Real Logto never
    /// does this for a Traditional web app; it exists for tests that want every refresh to
    /// change the token, to make races between refreshes visible.
    RotateEveryUse,
    /// Logto's policy (the default): confidential clients get the same token back until
    /// 70 % of its lifetime has passed; public clients rotate on every use.
    ConfidentialSeventyPercent,
}

/// Settings of a logto-dev instance.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Algorithm of the signing key (ES384 by default).
    pub signing: SigningAlg,
    /// Refresh-token rotation policy.
    pub refresh_policy: RefreshPolicy,
    /// Lifetime of opaque access tokens and of API-resource tokens whose resource sets no
    /// lifetime of its own. Default 3600 s. Real Logto allows 0 s.
    pub access_token_ttl: Duration,
    /// Lifetime of organization tokens. Real Logto fixes it at 3600 s whatever the resource
    /// settings; a shorter one exists only for tests that need an organization token to
    /// expire quickly.
    pub organization_token_ttl: Duration,
    /// Lifetime of ID tokens. Default 3600 s.
    pub id_token_ttl: Duration,
    /// Lifetime of refresh tokens. Default 14 days.
    pub refresh_token_ttl: Duration,
    /// Lifetime of authorization codes. Default 60 s.
    pub code_ttl: Duration,
    /// How long a rotated refresh token is still accepted after its last use (Logto: 3 s;
    /// each use within the window restarts it).
    pub reuse_grace: Duration,
    /// Serves the `/__dev/*` admin routes (off by default).
    pub enable_admin_routes: bool,
    /// Puts `roles`, `organizations` and `organization_roles` into the ID token (Logto's
    /// default tenant configuration). Userinfo always carries them.
    pub claims_in_id_token: bool,
    /// Public endpoint (`LOGTO_ENDPOINT`); by default `http://{bound address}`.
    pub endpoint: Option<url::Url>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            signing: SigningAlg::Es384,
            refresh_policy: RefreshPolicy::ConfidentialSeventyPercent,
            access_token_ttl: Duration::from_secs(3600),
            organization_token_ttl: Duration::from_secs(3600),
            id_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(14 * 24 * 3600),
            code_ttl: Duration::from_secs(60),
            reuse_grace: Duration::from_secs(3),
            enable_admin_routes: false,
            claims_in_id_token: true,
            endpoint: None,
        }
    }
}
