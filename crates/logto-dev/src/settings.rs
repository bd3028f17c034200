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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RefreshPolicy {
    /// Rotate on every use (Logto's policy for public clients). Makes client races visible.
    RotateEveryUse,
    /// Logto's policy for confidential clients: rotate once 70 % of the refresh token's
    /// lifetime has passed (public clients still rotate on every use).
    ConfidentialSeventyPercent,
}

/// Settings of a logto-dev instance.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Algorithm of the signing key (ES384 by default).
    pub signing: SigningAlg,
    /// Refresh-token rotation policy.
    pub refresh_policy: RefreshPolicy,
    /// Lifetime of access tokens (opaque and JWT). Default 3600 s.
    pub access_token_ttl: Duration,
    /// Lifetime of ID tokens. Default 3600 s.
    pub id_token_ttl: Duration,
    /// Lifetime of refresh tokens. Default 14 days.
    pub refresh_token_ttl: Duration,
    /// Lifetime of authorization codes. Default 60 s.
    pub code_ttl: Duration,
    /// How long a rotated refresh token is still accepted (Logto: 3 s).
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
            refresh_policy: RefreshPolicy::RotateEveryUse,
            access_token_ttl: Duration::from_secs(3600),
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
