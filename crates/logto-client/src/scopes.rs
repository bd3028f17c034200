//! Scope and resource constants of Logto.

use std::fmt;

use crate::types::{OrganizationId, ResourceIndicator};

/// The scopes a Logto application asks for to receive user claims.
///
/// `openid`, `offline_access` and `profile` are added by default (see
/// [`ReservedScope`] and [`crate::LogtoConfig::include_reserved_scopes`]).
///
/// ```
/// use logto_client::{LogtoConfig, UserScope};
///
/// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
///     .with_scopes([UserScope::Email, UserScope::Organizations]);
/// assert_eq!(config.scopes(), ["email", "urn:logto:scope:organizations"]);
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserScope {
    /// `profile`: `name`, `picture`, `username`, `created_at`, `updated_at`.
    Profile,
    /// `email`: `email`, `email_verified`.
    Email,
    /// `phone`: `phone_number`, `phone_number_verified`.
    Phone,
    /// `address`: `address`.
    Address,
    /// `custom_data` (userinfo).
    CustomData,
    /// `identities`: `identities`, `sso_identities` (userinfo).
    Identities,
    /// `roles`: `roles`.
    Roles,
    /// `urn:logto:scope:organizations`: `organizations`, `organization_data` (userinfo).
    Organizations,
    /// `urn:logto:scope:organization_roles`: `organization_roles`.
    OrganizationRoles,
    /// `urn:logto:scope:sessions` (Account API session management; no claims).
    Sessions,
}

impl UserScope {
    /// Every user scope.
    ///
    /// ```
    /// use logto_client::{LogtoConfig, UserScope};
    ///
    /// // Every claim Logto has (for a debugging page, say).
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
    ///     .with_scopes(UserScope::ALL);
    /// assert_eq!(config.scopes().len(), UserScope::ALL.len());
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    pub const ALL: [UserScope; 10] = [
        UserScope::Profile,
        UserScope::Email,
        UserScope::Phone,
        UserScope::Address,
        UserScope::CustomData,
        UserScope::Identities,
        UserScope::Roles,
        UserScope::Organizations,
        UserScope::OrganizationRoles,
        UserScope::Sessions,
    ];

    /// The scope string sent on the wire.
    ///
    /// ```
    /// use logto_client::UserScope;
    ///
    /// assert_eq!(UserScope::CustomData.as_str(), "custom_data");
    /// assert_eq!(UserScope::OrganizationRoles.as_str(), "urn:logto:scope:organization_roles");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            UserScope::Profile => "profile",
            UserScope::Email => "email",
            UserScope::Phone => "phone",
            UserScope::Address => "address",
            UserScope::CustomData => "custom_data",
            UserScope::Identities => "identities",
            UserScope::Roles => "roles",
            UserScope::Organizations => "urn:logto:scope:organizations",
            UserScope::OrganizationRoles => "urn:logto:scope:organization_roles",
            UserScope::Sessions => "urn:logto:scope:sessions",
        }
    }
}

impl fmt::Display for UserScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<UserScope> for String {
    fn from(s: UserScope) -> Self {
        s.as_str().to_owned()
    }
}

/// The wire string, so a user scope sits in an array of permission strings:
/// `[UserScope::Email.into(), "read:reports"]` is a `[&str; 2]`.
impl From<UserScope> for &'static str {
    fn from(s: UserScope) -> Self {
        s.as_str()
    }
}

/// A scope to request at sign-in: a [`UserScope`], a [`ReservedScope`], or an
/// API or organization permission such as `read:reports`.
///
/// Everything [`crate::LogtoConfig::with_scopes`] accepts converts into it, so
/// user scopes and permissions mix in one call:
///
/// ```
/// use logto_client::{LogtoConfig, Scope, UserScope};
///
/// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
///     .with_scopes([
///         Scope::from(UserScope::Email),
///         UserScope::Roles.into(),
///         "read:reports".into(),
///     ]);
/// assert_eq!(config.scopes(), ["email", "roles", "read:reports"]);
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    /// A scope from its wire string (e.g. an API permission `read:reports`).
    ///
    /// ```
    /// use logto_client::{Scope, UserScope};
    ///
    /// assert_eq!(Scope::new("read:reports").as_str(), "read:reports");
    /// assert_eq!(Scope::new("email"), Scope::from(UserScope::Email));
    /// ```
    pub fn new(scope: impl Into<String>) -> Self {
        Self(scope.into())
    }

    /// The scope string sent on the wire.
    ///
    /// ```
    /// use logto_client::{Scope, UserScope};
    ///
    /// assert_eq!(Scope::from(UserScope::Organizations).as_str(), "urn:logto:scope:organizations");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scope string, owned.
    ///
    /// ```
    /// use logto_client::Scope;
    ///
    /// assert_eq!(Scope::new("read:reports").into_string(), "read:reports".to_owned());
    /// ```
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<UserScope> for Scope {
    fn from(s: UserScope) -> Self {
        Self(s.as_str().to_owned())
    }
}

impl From<ReservedScope> for Scope {
    fn from(s: ReservedScope) -> Self {
        Self(s.as_str().to_owned())
    }
}

impl From<&str> for Scope {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for Scope {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&String> for Scope {
    fn from(s: &String) -> Self {
        Self(s.clone())
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> Self {
        s.0
    }
}

/// Scopes of the protocol itself.
///
/// ```
/// use logto_client::{LogtoConfig, ReservedScope};
///
/// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
/// let offline = ReservedScope::OfflineAccess.to_string();
/// assert!(config.effective_scopes().contains(&offline)); // added by default
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservedScope {
    /// `openid`: always sent.
    OpenId,
    /// `offline_access`: asks for a refresh token (Logto issues one only with `prompt=consent`).
    OfflineAccess,
}

impl ReservedScope {
    /// The scope string sent on the wire.
    ///
    /// ```
    /// use logto_client::ReservedScope;
    ///
    /// assert_eq!(ReservedScope::OpenId.as_str(), "openid");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ReservedScope::OpenId => "openid",
            ReservedScope::OfflineAccess => "offline_access",
        }
    }
}

impl fmt::Display for ReservedScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ReservedScope> for String {
    fn from(s: ReservedScope) -> Self {
        s.as_str().to_owned()
    }
}

/// Resource indicators reserved by Logto.
///
/// ```
/// use logto_client::{LogtoConfig, ReservedResource, UserScope};
///
/// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?
///     .with_scopes([UserScope::Organizations]);
/// assert_eq!(config.effective_resources(), [ReservedResource::Organization.as_str()]);
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservedResource {
    /// `urn:logto:resource:organizations`: added to the authorization request with the
    /// organizations scope, so organization tokens can be minted later.
    Organization,
}

impl ReservedResource {
    /// The resource indicator sent on the wire.
    ///
    /// ```
    /// use logto_client::ReservedResource;
    ///
    /// assert_eq!(ReservedResource::Organization.as_str(), "urn:logto:resource:organizations");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ReservedResource::Organization => "urn:logto:resource:organizations",
        }
    }
}

impl fmt::Display for ReservedResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ReservedResource> for String {
    fn from(s: ReservedResource) -> Self {
        s.as_str().to_owned()
    }
}

/// A reserved resource is a valid indicator (a URN), so this cannot fail.
///
/// ```
/// use logto_client::{ReservedResource, ResourceIndicator};
///
/// let org = ResourceIndicator::from(ReservedResource::Organization);
/// assert_eq!(org, "urn:logto:resource:organizations");
/// ```
impl From<ReservedResource> for ResourceIndicator {
    fn from(s: ReservedResource) -> Self {
        ResourceIndicator::reserved(s.as_str())
    }
}

/// The scopes every Logto SDK adds: `openid`, `offline_access`, `profile`.
///
/// ```
/// use logto_client::{DEFAULT_SCOPES, LogtoConfig};
///
/// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", None)?;
/// assert_eq!(config.effective_scopes(), DEFAULT_SCOPES);
/// # Ok::<(), logto_client::ConfigError>(())
/// ```
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "offline_access", "profile"];

/// The prefix of an organization token's audience: `urn:logto:organization:`.
///
/// ```
/// use logto_client::ORGANIZATION_URN_PREFIX;
///
/// let aud = "urn:logto:organization:org-acme";
/// assert_eq!(aud.strip_prefix(ORGANIZATION_URN_PREFIX), Some("org-acme"));
/// ```
pub const ORGANIZATION_URN_PREFIX: &str = "urn:logto:organization:";

/// `urn:logto:organization:{organization_id}`: the audience of an organization token.
///
/// ```
/// use logto_client::{OrganizationId, build_organization_urn};
///
/// let id = OrganizationId::from("org-acme");
/// assert_eq!(build_organization_urn(&id), "urn:logto:organization:org-acme");
/// ```
pub fn build_organization_urn(organization_id: &OrganizationId) -> String {
    format!("{ORGANIZATION_URN_PREFIX}{organization_id}")
}

/// The organization id of an organization URN, or `None` if `urn` is not one
/// (or names no organization).
///
/// ```
/// use logto_client::organization_id_from_urn;
///
/// let id = organization_id_from_urn("urn:logto:organization:org-acme");
/// assert_eq!(id.as_ref().map(|id| id.as_str()), Some("org-acme"));
/// assert!(organization_id_from_urn("urn:logto:organization:").is_none());
/// assert!(organization_id_from_urn("https://api.example.com").is_none());
/// ```
pub fn organization_id_from_urn(urn: &str) -> Option<OrganizationId> {
    urn.strip_prefix(ORGANIZATION_URN_PREFIX)
        .filter(|id| !id.is_empty())
        .map(OrganizationId::from)
}
