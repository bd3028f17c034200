//! Scope and resource constants of Logto.

use std::fmt;

/// The scopes a Logto application asks for to receive user claims.
///
/// `openid`, `offline_access` and `profile` are added by default (see
/// [`ReservedScope`] and [`crate::LogtoConfig::include_reserved_scopes`]).
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

/// Scopes of the protocol itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservedScope {
    /// `openid`: always sent.
    OpenId,
    /// `offline_access`: asks for a refresh token (Logto issues one only with `prompt=consent`).
    OfflineAccess,
}

impl ReservedScope {
    /// The scope string sent on the wire.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservedResource {
    /// `urn:logto:resource:organizations`: added to the authorization request with the
    /// organizations scope, so organization tokens can be minted later.
    Organization,
}

impl ReservedResource {
    /// The resource indicator sent on the wire.
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

/// The scopes every Logto SDK adds: `openid`, `offline_access`, `profile`.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "offline_access", "profile"];

/// The prefix of an organization token's audience: `urn:logto:organization:`.
pub const ORGANIZATION_URN_PREFIX: &str = "urn:logto:organization:";

/// `urn:logto:organization:{organization_id}`: the audience of an organization token.
pub fn build_organization_urn(organization_id: &str) -> String {
    format!("{ORGANIZATION_URN_PREFIX}{organization_id}")
}

/// The organization id of an organization URN, or `None` if `urn` is not one.
pub fn organization_id_from_urn(urn: &str) -> Option<&str> {
    urn.strip_prefix(ORGANIZATION_URN_PREFIX)
        .filter(|id| !id.is_empty())
}
