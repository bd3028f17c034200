//! Typed claims: ID token, userinfo, access and organization tokens, logout token.
//!
//! Every struct keeps the claims it does not model in `extra`. Logto's
//! `created_at`/`updated_at` are **milliseconds** since the epoch.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::scopes::organization_id_from_urn;
use crate::types::OrganizationId;

#[cfg(test)]
mod tests;

/// `aud`: a string or an array of strings, kept as a list.
fn de_audience<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(s) => vec![s],
        Aud::Many(v) => v,
    })
}

/// A NumericDate claim (`exp`, `iat`, `auth_time`): any JSON number, a
/// fraction allowed (RFC 7519 §2), kept as whole seconds rounded down.
fn de_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    crate::jwt::numeric_date(&n)
        .ok_or_else(|| serde::de::Error::custom(format!("NumericDate {n} is out of range")))
}

/// An optional NumericDate claim (see [`de_numeric_date`]).
fn de_opt_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<serde_json::Number>::deserialize(d)?
        .map(|n| {
            crate::jwt::numeric_date(&n)
                .ok_or_else(|| serde::de::Error::custom(format!("NumericDate {n} is out of range")))
        })
        .transpose()
}

/// The OIDC address claim.
///
/// ```
/// use logto_client::Address;
///
/// let address: Address = serde_json::from_value(serde_json::json!({
///     "locality": "Springfield",
///     "country": "US",
///     "care_of": "Front desk",
/// }))?;
/// assert_eq!(address.locality.as_deref(), Some("Springfield"));
/// assert!(address.street_address.is_none());
/// assert_eq!(address.extra["care_of"], "Front desk"); // not modelled: kept
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Address {
    /// Full mailing address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// Street.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// State or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The claims of a Logto ID token.
///
/// ```
/// use logto_client::IdTokenClaims;
///
/// let claims: IdTokenClaims = serde_json::from_value(serde_json::json!({
///     "iss": "https://auth.example.com/oidc",
///     "sub": "user-1",
///     "aud": "my-app-id",
///     "exp": 1_800_003_600,
///     "iat": 1_800_000_000.5,
///     "email": "alice@example.com",
///     "created_at": 1_700_000_000_000_i64,
/// }))?;
/// assert_eq!(claims.aud, ["my-app-id"]); // a single audience becomes a list
/// assert_eq!(claims.iat, 1_800_000_000); // fractions are rounded down
/// assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
/// assert_eq!(claims.created_at.map(|ms| ms / 1000), Some(1_700_000_000)); // milliseconds
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer (`{endpoint}/oidc`).
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// Audience (the app id).
    #[serde(deserialize_with = "de_audience")]
    pub aud: Vec<String>,
    /// Expiry (Unix seconds; a fractional NumericDate is rounded down).
    #[serde(deserialize_with = "de_numeric_date")]
    pub exp: i64,
    /// Issued at (Unix seconds; a fractional NumericDate is rounded down).
    #[serde(deserialize_with = "de_numeric_date")]
    pub iat: i64,
    /// The nonce of the sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Logto session id (apps with back-channel logout "session required").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Access-token hash (older Logto).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Authorized party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Time of authentication (Unix seconds; a fraction is rounded down).
    #[serde(
        default,
        deserialize_with = "de_opt_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_time: Option<i64>,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Logto username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Preferred username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Whether the phone number is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Role names (scope `roles`; a tenant may keep it out of the ID token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Organization ids (scope `urn:logto:scope:organizations`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<OrganizationId>>,
    /// `"{organization_id}:{role}"` (scope `urn:logto:scope:organization_roles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_roles: Option<Vec<String>>,
    /// Custom data (if the tenant puts it into the ID token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<Value>,
    /// Account creation time, **milliseconds**.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Last profile update, **milliseconds**.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl IdTokenClaims {
    /// `organization_roles` split into `(organization_id, role_name)` pairs.
    ///
    /// ```
    /// use logto_client::IdTokenClaims;
    ///
    /// let claims: IdTokenClaims = serde_json::from_value(serde_json::json!({
    ///     "iss": "https://auth.example.com/oidc", "sub": "user-1", "aud": "my-app-id",
    ///     "exp": 1_800_003_600, "iat": 1_800_000_000,
    ///     "organization_roles": ["org-acme:admin", "org-globex:member"],
    /// }))?;
    /// assert_eq!(
    ///     claims.organization_role_pairs(),
    ///     [("org-acme", "admin"), ("org-globex", "member")]
    /// );
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn organization_role_pairs(&self) -> Vec<(&str, &str)> {
        split_org_roles(self.organization_roles.as_deref())
    }
}

fn split_org_roles(roles: Option<&[String]>) -> Vec<(&str, &str)> {
    roles
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.split_once(':'))
        .collect()
}

/// A social identity (`identities` in userinfo), keyed by connector target.
///
/// ```
/// use logto_client::UserInfo;
///
/// let info: UserInfo = serde_json::from_value(serde_json::json!({
///     "sub": "user-1",
///     "identities": { "github": { "userId": "12345", "details": { "login": "alice" } } },
/// }))?;
/// let github = info.identities.as_ref().map(|ids| &ids["github"]);
/// assert_eq!(github.map(|id| id.user_id.as_str()), Some("12345"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The user id at the provider.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// Provider details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An enterprise SSO identity (`sso_identities` in userinfo).
///
/// ```
/// use logto_client::UserInfo;
///
/// let info: UserInfo = serde_json::from_value(serde_json::json!({
///     "sub": "user-1",
///     "sso_identities": [{ "issuer": "https://idp.acme.test", "identityId": "alice@acme" }],
/// }))?;
/// let sso = info.sso_identities.unwrap_or_default();
/// assert_eq!(sso[0].identity_id.as_deref(), Some("alice@acme"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SsoIdentity {
    /// The SSO issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The user id at the SSO provider.
    #[serde(
        default,
        rename = "identityId",
        skip_serializing_if = "Option::is_none"
    )]
    pub identity_id: Option<String>,
    /// Provider details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `organization_data` (userinfo).
///
/// ```
/// use logto_client::UserInfo;
///
/// let info: UserInfo = serde_json::from_value(serde_json::json!({
///     "sub": "user-1",
///     "organization_data": [{ "id": "org-acme", "name": "Acme", "description": null }],
/// }))?;
/// let orgs = info.organization_data.unwrap_or_default();
/// assert_eq!(orgs[0].id, "org-acme");
/// assert_eq!(orgs[0].name.as_deref(), Some("Acme"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationData {
    /// Organization id.
    pub id: OrganizationId,
    /// Organization name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The userinfo response (`/oidc/me`). It always carries the claims a tenant may
/// keep out of the ID token (roles, organizations, custom data, identities).
///
/// ```
/// use logto_client::UserInfo;
///
/// // What `LogtoClient::fetch_user_info` returns, decoded from `/oidc/me`.
/// let info: UserInfo = serde_json::from_value(serde_json::json!({
///     "sub": "user-1",
///     "roles": ["admin"],
///     "organizations": ["org-acme"],
///     "custom_data": { "plan": "enterprise" },
/// }))?;
/// let plan = info.custom_data.as_ref().and_then(|data| data["plan"].as_str());
/// assert_eq!(plan, Some("enterprise"));
/// assert_eq!(info.roles.unwrap_or_default(), ["admin"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The user id (checked against the ID token's).
    pub sub: String,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Logto username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Preferred username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Whether the phone number is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Custom data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<Value>,
    /// Social identities keyed by connector target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<BTreeMap<String, Identity>>,
    /// Enterprise SSO identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_identities: Option<Vec<SsoIdentity>>,
    /// Role names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Organization ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<OrganizationId>>,
    /// Organization details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_data: Option<Vec<OrganizationData>>,
    /// `"{organization_id}:{role}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_roles: Option<Vec<String>>,
    /// Account creation time, **milliseconds**.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Last profile update, **milliseconds**.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl UserInfo {
    /// `organization_roles` split into `(organization_id, role_name)` pairs.
    ///
    /// ```
    /// use logto_client::UserInfo;
    ///
    /// let info: UserInfo = serde_json::from_value(serde_json::json!({
    ///     "sub": "user-1",
    ///     "organization_roles": ["org-acme:admin"],
    /// }))?;
    /// assert_eq!(info.organization_role_pairs(), [("org-acme", "admin")]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn organization_role_pairs(&self) -> Vec<(&str, &str)> {
        split_org_roles(self.organization_roles.as_deref())
    }
}

/// The claims of a JWT access token (`typ: at+jwt`) for an API resource, including an
/// organization-scoped one (with `organization_id`).
///
/// ```
/// use logto_client::AccessTokenClaims;
///
/// let claims: AccessTokenClaims = serde_json::from_value(serde_json::json!({
///     "iss": "https://auth.example.com/oidc", "sub": "user-1",
///     "aud": "https://api.example.com", "exp": 1_800_003_600, "iat": 1_800_000_000,
///     "scope": "read:reports write:reports",
/// }))?;
/// assert_eq!(claims.aud, ["https://api.example.com"]);
/// assert!(claims.organization_id.is_none()); // not organization-scoped
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The user id (or the app id for machine-to-machine tokens).
    pub sub: String,
    /// Audience: the resource indicator (or `urn:logto:organization:{id}`).
    #[serde(deserialize_with = "de_audience")]
    pub aud: Vec<String>,
    /// Expiry (Unix seconds; a fractional NumericDate is rounded down).
    #[serde(deserialize_with = "de_numeric_date")]
    pub exp: i64,
    /// Issued at (Unix seconds; a fractional NumericDate is rounded down).
    #[serde(deserialize_with = "de_numeric_date")]
    pub iat: i64,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Granted permissions, space separated (possibly empty).
    #[serde(default)]
    pub scope: String,
    /// The app the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The organization of an organization-scoped API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<OrganizationId>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AccessTokenClaims {
    /// The granted permissions.
    ///
    /// ```
    /// use logto_client::AccessTokenClaims;
    ///
    /// let claims: AccessTokenClaims = serde_json::from_value(serde_json::json!({
    ///     "iss": "https://auth.example.com/oidc", "sub": "user-1",
    ///     "aud": "https://api.example.com", "exp": 1_800_003_600, "iat": 1_800_000_000,
    ///     "scope": "read:reports write:reports",
    /// }))?;
    /// assert_eq!(claims.scopes().collect::<Vec<_>>(), ["read:reports", "write:reports"]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }
    /// Whether `permission` was granted.
    ///
    /// ```
    /// use logto_client::AccessTokenClaims;
    ///
    /// let claims: AccessTokenClaims = serde_json::from_value(serde_json::json!({
    ///     "iss": "https://auth.example.com/oidc", "sub": "user-1",
    ///     "aud": "https://api.example.com", "exp": 1_800_003_600, "iat": 1_800_000_000,
    ///     "scope": "read:reports write:reports",
    /// }))?;
    /// assert!(claims.has_scope("write:reports"));
    /// assert!(!claims.has_scope("write")); // whole permissions only
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn has_scope(&self, permission: &str) -> bool {
        self.scopes().any(|s| s == permission)
    }
}

/// The claims of an organization token (`aud = urn:logto:organization:{id}`).
///
/// ```
/// use logto_client::{AccessTokenClaims, OrganizationTokenClaims};
///
/// let claims: AccessTokenClaims = serde_json::from_value(serde_json::json!({
///     "iss": "https://auth.example.com/oidc", "sub": "user-1",
///     "aud": "urn:logto:organization:org-acme", "exp": 1_800_003_600, "iat": 1_800_000_000,
///     "scope": "read:members invite:members",
/// }))?;
/// let org = OrganizationTokenClaims::from_access_token_claims(claims).ok_or("not an organization token")?;
/// assert_eq!(org.organization_id, "org-acme");
/// assert_eq!(org.claims.sub, "user-1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrganizationTokenClaims {
    /// The organization, taken from `aud`.
    pub organization_id: OrganizationId,
    /// All claims.
    #[serde(flatten)]
    pub claims: AccessTokenClaims,
}

impl OrganizationTokenClaims {
    /// Builds them from access-token claims whose `aud` is an organization URN.
    ///
    /// ```
    /// use logto_client::{AccessTokenClaims, OrganizationTokenClaims};
    ///
    /// let api: AccessTokenClaims = serde_json::from_value(serde_json::json!({
    ///     "iss": "https://auth.example.com/oidc", "sub": "user-1",
    ///     "aud": "https://api.example.com", "exp": 1_800_003_600, "iat": 1_800_000_000,
    /// }))?;
    /// // An API resource token names no organization.
    /// assert!(OrganizationTokenClaims::from_access_token_claims(api).is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_access_token_claims(claims: AccessTokenClaims) -> Option<Self> {
        let organization_id = claims
            .aud
            .iter()
            .find_map(|a| organization_id_from_urn(a))?;
        Some(Self {
            organization_id,
            claims,
        })
    }
    /// Decodes an organization token's claims, without verifying its
    /// signature: for a token straight from the token endpoint, as
    /// [`crate::LogtoClient::get_organization_token`] returns it (a bearer
    /// token presented to an API is checked with
    /// [`crate::LogtoClient::verify_organization_token`] instead).
    ///
    /// Fails with [`crate::ValidationError::Malformed`] when it is not a JWT
    /// with a JSON object as payload, and with
    /// [`crate::ValidationError::AudienceMismatch`] when its `aud` names no
    /// organization.
    ///
    /// ```
    /// use base64::Engine as _;
    /// use logto_client::{AccessToken, OrganizationTokenClaims};
    ///
    /// let part = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    /// let payload = r#"{"iss":"https://auth.example.com/oidc","sub":"user-1",
    ///     "aud":"urn:logto:organization:org-acme","exp":1900000000,"iat":1800000000,
    ///     "scope":"read:members invite:members"}"#;
    /// let token = AccessToken::new(format!(
    ///     "{}.{}.signature",
    ///     part(r#"{"alg":"ES384","typ":"at+jwt"}"#),
    ///     part(payload)
    /// ));
    ///
    /// let claims = OrganizationTokenClaims::decode(&token)?;
    /// assert_eq!(claims.organization_id, "org-acme");
    /// assert!(claims.has_scope("invite:members"));
    /// # Ok::<(), logto_client::Error>(())
    /// ```
    pub fn decode(token: &crate::AccessToken) -> Result<Self, crate::Error> {
        let claims: AccessTokenClaims = crate::jwt::decode_claims(token.secret())?;
        Self::from_access_token_claims(claims)
            .ok_or_else(|| crate::ValidationError::AudienceMismatch.into())
    }
    /// The granted organization permissions.
    ///
    /// ```
    /// use logto_client::{AccessTokenClaims, OrganizationTokenClaims};
    ///
    /// let claims: AccessTokenClaims = serde_json::from_value(serde_json::json!({
    ///     "iss": "https://auth.example.com/oidc", "sub": "user-1",
    ///     "aud": "urn:logto:organization:org-acme", "exp": 1_800_003_600, "iat": 1_800_000_000,
    ///     "scope": "read:members invite:members",
    /// }))?;
    /// let org = OrganizationTokenClaims::from_access_token_claims(claims).ok_or("not an organization token")?;
    /// assert_eq!(org.scopes().collect::<Vec<_>>(), ["read:members", "invite:members"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.claims.scopes()
    }
    /// Whether `permission` was granted.
    ///
    /// ```
    /// use logto_client::{AccessTokenClaims, OrganizationTokenClaims};
    ///
    /// let claims: AccessTokenClaims = serde_json::from_value(serde_json::json!({
    ///     "iss": "https://auth.example.com/oidc", "sub": "user-1",
    ///     "aud": "urn:logto:organization:org-acme", "exp": 1_800_003_600, "iat": 1_800_000_000,
    ///     "scope": "read:members invite:members",
    /// }))?;
    /// let org = OrganizationTokenClaims::from_access_token_claims(claims).ok_or("not an organization token")?;
    /// assert!(org.has_scope("invite:members"));
    /// assert!(!org.has_scope("remove:members"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_scope(&self, permission: &str) -> bool {
        self.claims.has_scope(permission)
    }
}

/// The claims of a back-channel logout token (OIDC Back-Channel Logout 1.0).
///
/// ```
/// use logto_client::{BACKCHANNEL_LOGOUT_EVENT, LogoutTokenClaims};
///
/// // What `LogtoClient::verify_logout_token` returns.
/// let claims: LogoutTokenClaims = serde_json::from_value(serde_json::json!({
///     "iss": "https://auth.example.com/oidc", "aud": "my-app-id",
///     "iat": 1_800_000_000, "exp": 1_800_000_120, "jti": "jti-1",
///     "sid": "logto-session-1",
///     "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
/// }))?;
/// // End only that Logto session's logins; remember `jti` until `exp`.
/// assert_eq!(claims.sid.as_deref(), Some("logto-session-1"));
/// assert!(claims.sub.is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Audience (the app id).
    #[serde(deserialize_with = "de_audience")]
    pub aud: Vec<String>,
    /// Issued at (Unix seconds; a fraction is rounded down).
    #[serde(deserialize_with = "de_numeric_date")]
    pub iat: i64,
    /// Expiry (Unix seconds; a fraction is rounded down).
    #[serde(deserialize_with = "de_numeric_date")]
    pub exp: i64,
    /// Token id: keep it until `exp` to refuse replays.
    pub jti: String,
    /// The user, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The Logto session, if given (end only that session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The events object.
    pub events: Map<String, Value>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
