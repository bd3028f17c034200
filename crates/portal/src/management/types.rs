//! The Management API's objects, as far as the portal reads or writes them
//! (field names as in Logto's OpenAPI description, `/api/swagger.json`).
//! Unknown fields of answers are ignored.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Kind of application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationType {
    /// Native app (public client).
    Native,
    /// Single-page app (public client).
    #[serde(rename = "SPA")]
    Spa,
    /// Traditional web app (confidential client).
    Traditional,
    /// Machine-to-machine app.
    MachineToMachine,
    /// Protected app.
    Protected,
    /// SAML app.
    #[serde(rename = "SAML")]
    Saml,
    /// A kind this client does not know.
    #[serde(other)]
    Other,
}

/// OIDC settings of an application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcClientMetadata {
    /// Redirect URIs (exact).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Post sign-out redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-channel logout URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether logout tokens carry `sid` ("session required").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
}

/// An application.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Client id.
    pub id: String,
    /// Name (the portal finds its application by name).
    pub name: String,
    /// Kind.
    #[serde(rename = "type")]
    pub app_type: ApplicationType,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// OIDC settings.
    #[serde(default)]
    pub oidc_client_metadata: OidcClientMetadata,
}

/// A new application (`POST /api/applications`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewApplication {
    /// Name.
    pub name: String,
    /// Kind.
    #[serde(rename = "type")]
    pub app_type: ApplicationType,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// OIDC settings.
    pub oidc_client_metadata: OidcClientMetadata,
}

/// Changes to an application (`PATCH /api/applications/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPatch {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New OIDC settings (replaced as a whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_client_metadata: Option<OidcClientMetadata>,
}

/// A secret of a confidential application. `Debug` hides the value.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSecret {
    /// Name, unique within the application.
    pub name: String,
    /// The secret.
    pub value: SecretString,
    /// Expiry, epoch milliseconds; `None` for never.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// An API resource.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Indicator (the `resource` parameter and `aud` of its tokens).
    pub indicator: String,
    /// Access token lifetime, seconds.
    pub access_token_ttl: u64,
    /// Its permissions, when listed with `includeScopes=true`.
    #[serde(default)]
    pub scopes: Vec<Scope>,
}

/// Changes to an API resource (`PATCH /api/resources/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePatch {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New access token lifetime, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u64>,
}

/// A permission (scope) of an API resource.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// Id.
    pub id: String,
    /// The resource's id.
    pub resource_id: String,
    /// Name (`read:reports`).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// Kind of role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleType {
    /// Assigned to users.
    User,
    /// Assigned to machine-to-machine applications.
    MachineToMachine,
}

/// A global role.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// Id.
    pub id: String,
    /// Name (appears in the `roles` claim).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Kind.
    #[serde(rename = "type")]
    pub role_type: RoleType,
}

/// A permission of the organization template.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationScope {
    /// Id.
    pub id: String,
    /// Name (`read:members`).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// An id and a name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdName {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// An API resource permission granted by an organization role.
#[derive(Debug, Clone, Deserialize)]
pub struct OrganizationRoleResourceScope {
    /// The scope's id.
    pub id: String,
    /// The scope's name.
    pub name: String,
    /// Its resource.
    pub resource: IdName,
}

/// A role of the organization template, with its permissions.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationRole {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Organization permissions (when listed).
    #[serde(default)]
    pub scopes: Vec<IdName>,
    /// API resource permissions (when listed).
    #[serde(default)]
    pub resource_scopes: Vec<OrganizationRoleResourceScope>,
}

/// An organization.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// Id (the `organization_id` of the portal's tenants).
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Custom data (a JSON object).
    #[serde(default)]
    pub custom_data: serde_json::Value,
}

/// A new organization (`POST /api/organizations`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrganization {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Custom data (a JSON object).
    pub custom_data: serde_json::Value,
}

/// Changes to an organization (`PATCH /api/organizations/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationPatch {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New custom data (replaced as a whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<serde_json::Value>,
}

/// A user.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Id (`sub`).
    pub id: String,
    /// Username.
    #[serde(default)]
    pub username: Option<String>,
    /// Primary email.
    #[serde(default)]
    pub primary_email: Option<String>,
    /// Primary phone (digits only).
    #[serde(default)]
    pub primary_phone: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Custom data (a JSON object).
    #[serde(default)]
    pub custom_data: serde_json::Value,
}

/// A new user's profile (`POST /api/users`; the password is given apart).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    /// Username.
    pub username: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Primary email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_email: Option<String>,
    /// Primary phone (digits only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_phone: Option<String>,
    /// Avatar URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Custom data (a JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<serde_json::Value>,
}

/// Changes to a user's profile (`PATCH /api/users/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPatch {
    /// New display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New primary email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_email: Option<String>,
    /// New primary phone (digits only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_phone: Option<String>,
    /// New avatar URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// New custom data (replaced as a whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<serde_json::Value>,
}

/// A member of an organization, with its organization roles.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationMember {
    /// The user's id.
    pub id: String,
    /// The user's username.
    #[serde(default)]
    pub username: Option<String>,
    /// The user's display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The user's primary email.
    #[serde(default)]
    pub primary_email: Option<String>,
    /// Organization roles in this organization.
    #[serde(default)]
    pub organization_roles: Vec<IdName>,
}

/// A user's session at Logto (`GET /api/users/{id}/sessions`).
#[derive(Debug, Clone, Deserialize)]
pub struct UserSession {
    /// The session itself.
    pub payload: UserSessionPayload,
    /// The application the session was started from, if any.
    #[serde(rename = "clientId", default)]
    pub client_id: Option<String>,
}

/// The part of a session's payload the portal reads.
#[derive(Debug, Clone, Deserialize)]
pub struct UserSessionPayload {
    /// The session's id: what the Management API's session paths take (the
    /// ID token's `sid` is another id).
    pub uid: String,
}

/// `GET /api/users/{id}/sessions` answers `{"sessions": [...]}`.
#[derive(Debug, Deserialize)]
pub(super) struct UserSessions {
    pub(super) sessions: Vec<UserSession>,
}

/// Where an organization invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationStatus {
    /// Sent, not yet answered.
    Pending,
    /// The invitee joined.
    Accepted,
    /// Its time ran out.
    Expired,
    /// An admin withdrew it.
    Revoked,
}

/// An organization invitation (`/api/organization-invitations`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationInvitation {
    /// Id (random; the portal's invitation link carries it).
    pub id: String,
    /// The user who invited, if known.
    #[serde(default)]
    pub inviter_id: Option<String>,
    /// The invitee's email address.
    pub invitee: String,
    /// The user who accepted it.
    #[serde(default)]
    pub accepted_user_id: Option<String>,
    /// The organization.
    pub organization_id: String,
    /// Where it stands.
    pub status: InvitationStatus,
    /// Created, in milliseconds since the epoch.
    pub created_at: i64,
    /// Expires, in milliseconds since the epoch.
    pub expires_at: i64,
    /// The organization roles the invitee gets.
    #[serde(default)]
    pub organization_roles: Vec<IdName>,
}

/// A new organization invitation (`POST /api/organization-invitations`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewInvitation {
    /// The user inviting.
    pub inviter_id: String,
    /// The invitee's email address.
    pub invitee: String,
    /// The organization.
    pub organization_id: String,
    /// Expiry, in milliseconds since the epoch.
    pub expires_at: i64,
    /// The organization roles the invitee gets.
    pub organization_role_ids: Vec<String>,
    /// What Logto's email connector sends (`{"link": …}`), or `false`: Logto
    /// sends nothing and the portal shows the link.
    pub message_payload: serde_json::Value,
}
