//! Typed calls of the Management API: one method per endpoint the portal uses.

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{
    Application, ApplicationPatch, ApplicationSecret, InvitationStatus, ManagementClient,
    ManagementError, NewApplication, NewInvitation, NewOrganization, NewUser, Organization,
    OrganizationInvitation, OrganizationMember, OrganizationPatch, OrganizationRole,
    OrganizationScope, Resource, ResourcePatch, Role, RoleType, Scope, User, UserPatch,
    UserSession, types::UserSessions,
};

/// No request body.
const NO_BODY: Option<&()> = None;

/// An id as a path segment. Logto's ids are `[0-9a-z]`; anything that could
/// change the path (`/`, `..`, `?`) is refused before a request is made.
fn seg(id: &str) -> Result<&str, ManagementError> {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(id)
    } else {
        Err(ManagementError::Unexpected {
            what: "a path parameter".to_owned(),
            detail: format!("{id:?} is not an id"),
        })
    }
}

/// # Typed calls
impl ManagementClient {
    // ---- applications ----------------------------------------------------------------

    /// Every application (`GET /api/applications`).
    pub async fn list_applications(&self) -> Result<Vec<Application>, ManagementError> {
        self.list_all("api/applications", &[]).await
    }

    /// Creates an application (`POST /api/applications`). A confidential one
    /// gets a first secret from Logto ([`application_secrets`](Self::application_secrets)).
    pub async fn create_application(
        &self,
        new: &NewApplication,
    ) -> Result<Application, ManagementError> {
        self.call(Method::POST, "api/applications", Some(new)).await
    }

    /// Updates an application (`PATCH /api/applications/{id}`).
    pub async fn update_application(
        &self,
        id: &str,
        patch: &ApplicationPatch,
    ) -> Result<Application, ManagementError> {
        let path = format!("api/applications/{}", seg(id)?);
        self.call(Method::PATCH, &path, Some(patch)).await
    }

    /// Deletes an application (`DELETE /api/applications/{id}`).
    pub async fn delete_application(&self, id: &str) -> Result<(), ManagementError> {
        let path = format!("api/applications/{}", seg(id)?);
        self.call_no_content(Method::DELETE, &path, NO_BODY).await
    }

    /// The secrets of a confidential application (`GET /api/applications/{id}/secrets`).
    pub async fn application_secrets(
        &self,
        id: &str,
    ) -> Result<Vec<ApplicationSecret>, ManagementError> {
        let path = format!("api/applications/{}/secrets", seg(id)?);
        self.call(Method::GET, &path, NO_BODY).await
    }

    /// Adds a secret that never expires (`POST /api/applications/{id}/secrets`).
    pub async fn create_application_secret(
        &self,
        id: &str,
        name: &str,
    ) -> Result<ApplicationSecret, ManagementError> {
        let path = format!("api/applications/{}/secrets", seg(id)?);
        self.call(Method::POST, &path, Some(&json!({ "name": name })))
            .await
    }

    // ---- API resources -------------------------------------------------------------

    /// Every API resource with its permissions (`GET /api/resources?includeScopes=true`).
    pub async fn list_resources(&self) -> Result<Vec<Resource>, ManagementError> {
        self.list_all("api/resources", &[("includeScopes", "true")])
            .await
    }

    /// Creates an API resource (`POST /api/resources`).
    pub async fn create_resource(
        &self,
        name: &str,
        indicator: &str,
        access_token_ttl: Option<u64>,
    ) -> Result<Resource, ManagementError> {
        let mut body = json!({ "name": name, "indicator": indicator });
        if let Some(ttl) = access_token_ttl {
            body["accessTokenTtl"] = json!(ttl);
        }
        self.call(Method::POST, "api/resources", Some(&body)).await
    }

    /// Updates an API resource, e.g. its access token lifetime (`PATCH /api/resources/{id}`).
    pub async fn update_resource(
        &self,
        id: &str,
        patch: &ResourcePatch,
    ) -> Result<Resource, ManagementError> {
        let path = format!("api/resources/{}", seg(id)?);
        self.call(Method::PATCH, &path, Some(patch)).await
    }

    /// Deletes an API resource (`DELETE /api/resources/{id}`).
    pub async fn delete_resource(&self, id: &str) -> Result<(), ManagementError> {
        let path = format!("api/resources/{}", seg(id)?);
        self.call_no_content(Method::DELETE, &path, NO_BODY).await
    }

    /// Adds a permission to an API resource (`POST /api/resources/{id}/scopes`).
    pub async fn create_resource_scope(
        &self,
        resource_id: &str,
        name: &str,
    ) -> Result<Scope, ManagementError> {
        let path = format!("api/resources/{}/scopes", seg(resource_id)?);
        self.call(Method::POST, &path, Some(&json!({ "name": name })))
            .await
    }

    // ---- global roles ----------------------------------------------------------------

    /// Every role of a kind (`GET /api/roles?type=…`).
    pub async fn list_roles(&self, role_type: RoleType) -> Result<Vec<Role>, ManagementError> {
        let kind = match role_type {
            RoleType::User => "User",
            RoleType::MachineToMachine => "MachineToMachine",
        };
        self.list_all("api/roles", &[("type", kind)]).await
    }

    /// Creates a role with API resource permissions (`POST /api/roles`).
    pub async fn create_role(
        &self,
        name: &str,
        description: &str,
        role_type: RoleType,
        scope_ids: &[String],
    ) -> Result<Role, ManagementError> {
        let body = json!({
            "name": name,
            "description": description,
            "type": role_type,
            "scopeIds": scope_ids,
        });
        self.call(Method::POST, "api/roles", Some(&body)).await
    }

    /// The API resource permissions of a role (`GET /api/roles/{id}/scopes`).
    pub async fn role_scopes(&self, id: &str) -> Result<Vec<Scope>, ManagementError> {
        let path = format!("api/roles/{}/scopes", seg(id)?);
        self.list_all(&path, &[]).await
    }

    /// Grants permissions to a role (`POST /api/roles/{id}/scopes`).
    pub async fn add_role_scopes(
        &self,
        id: &str,
        scope_ids: &[String],
    ) -> Result<(), ManagementError> {
        let path = format!("api/roles/{}/scopes", seg(id)?);
        self.call_no_content(Method::POST, &path, Some(&json!({ "scopeIds": scope_ids })))
            .await
    }

    /// Takes a permission from a role (`DELETE /api/roles/{id}/scopes/{scopeId}`).
    pub async fn remove_role_scope(&self, id: &str, scope_id: &str) -> Result<(), ManagementError> {
        let path = format!("api/roles/{}/scopes/{}", seg(id)?, seg(scope_id)?);
        self.call_no_content(Method::DELETE, &path, NO_BODY).await
    }

    // ---- organization template -----------------------------------------------------

    /// Every organization permission (`GET /api/organization-scopes`).
    pub async fn list_organization_scopes(
        &self,
    ) -> Result<Vec<OrganizationScope>, ManagementError> {
        self.list_all("api/organization-scopes", &[]).await
    }

    /// Creates an organization permission (`POST /api/organization-scopes`).
    pub async fn create_organization_scope(
        &self,
        name: &str,
    ) -> Result<OrganizationScope, ManagementError> {
        self.call(
            Method::POST,
            "api/organization-scopes",
            Some(&json!({ "name": name })),
        )
        .await
    }

    /// Every organization role, with its permissions (`GET /api/organization-roles`).
    pub async fn list_organization_roles(&self) -> Result<Vec<OrganizationRole>, ManagementError> {
        self.list_all("api/organization-roles", &[]).await
    }

    /// Creates an organization role (`POST /api/organization-roles`).
    pub async fn create_organization_role(
        &self,
        name: &str,
        organization_scope_ids: &[String],
        resource_scope_ids: &[String],
    ) -> Result<OrganizationRole, ManagementError> {
        let body = json!({
            "name": name,
            "organizationScopeIds": organization_scope_ids,
            "resourceScopeIds": resource_scope_ids,
        });
        self.call(Method::POST, "api/organization-roles", Some(&body))
            .await
    }

    /// Replaces an organization role's organization permissions
    /// (`PUT /api/organization-roles/{id}/scopes`).
    pub async fn set_organization_role_scopes(
        &self,
        id: &str,
        organization_scope_ids: &[String],
    ) -> Result<(), ManagementError> {
        let path = format!("api/organization-roles/{}/scopes", seg(id)?);
        let body = json!({ "organizationScopeIds": organization_scope_ids });
        self.call_no_content(Method::PUT, &path, Some(&body)).await
    }

    /// Replaces an organization role's API resource permissions
    /// (`PUT /api/organization-roles/{id}/resource-scopes`).
    pub async fn set_organization_role_resource_scopes(
        &self,
        id: &str,
        scope_ids: &[String],
    ) -> Result<(), ManagementError> {
        let path = format!("api/organization-roles/{}/resource-scopes", seg(id)?);
        let body = json!({ "scopeIds": scope_ids });
        self.call_no_content(Method::PUT, &path, Some(&body)).await
    }

    // ---- organizations ---------------------------------------------------------------

    /// Every organization (`GET /api/organizations`).
    pub async fn list_organizations(&self) -> Result<Vec<Organization>, ManagementError> {
        self.list_all("api/organizations", &[]).await
    }

    /// One organization (`GET /api/organizations/{id}`).
    pub async fn organization(&self, id: &str) -> Result<Organization, ManagementError> {
        let path = format!("api/organizations/{}", seg(id)?);
        self.call(Method::GET, &path, NO_BODY).await
    }

    /// Creates an organization (`POST /api/organizations`).
    pub async fn create_organization(
        &self,
        new: &NewOrganization,
    ) -> Result<Organization, ManagementError> {
        self.call(Method::POST, "api/organizations", Some(new))
            .await
    }

    /// Updates an organization (`PATCH /api/organizations/{id}`).
    pub async fn update_organization(
        &self,
        id: &str,
        patch: &OrganizationPatch,
    ) -> Result<Organization, ManagementError> {
        let path = format!("api/organizations/{}", seg(id)?);
        self.call(Method::PATCH, &path, Some(patch)).await
    }

    /// Deletes an organization (`DELETE /api/organizations/{id}`).
    pub async fn delete_organization(&self, id: &str) -> Result<(), ManagementError> {
        let path = format!("api/organizations/{}", seg(id)?);
        self.call_no_content(Method::DELETE, &path, NO_BODY).await
    }

    /// The members of an organization with their roles (`GET /api/organizations/{id}/users`).
    pub async fn organization_members(
        &self,
        id: &str,
    ) -> Result<Vec<OrganizationMember>, ManagementError> {
        let path = format!("api/organizations/{}/users", seg(id)?);
        self.list_all(&path, &[]).await
    }

    /// Adds users to an organization (`POST /api/organizations/{id}/users`).
    pub async fn add_organization_members(
        &self,
        id: &str,
        user_ids: &[String],
    ) -> Result<(), ManagementError> {
        let path = format!("api/organizations/{}/users", seg(id)?);
        self.call_no_content(Method::POST, &path, Some(&json!({ "userIds": user_ids })))
            .await
    }

    /// Removes a user from an organization (`DELETE /api/organizations/{id}/users/{userId}`).
    pub async fn remove_organization_member(
        &self,
        id: &str,
        user_id: &str,
    ) -> Result<(), ManagementError> {
        let path = format!("api/organizations/{}/users/{}", seg(id)?, seg(user_id)?);
        self.call_no_content(Method::DELETE, &path, NO_BODY).await
    }

    /// Replaces a member's organization roles
    /// (`PUT /api/organizations/{id}/users/{userId}/roles`).
    pub async fn set_organization_member_roles(
        &self,
        id: &str,
        user_id: &str,
        organization_role_ids: &[String],
    ) -> Result<(), ManagementError> {
        let path = format!(
            "api/organizations/{}/users/{}/roles",
            seg(id)?,
            seg(user_id)?
        );
        let body = json!({ "organizationRoleIds": organization_role_ids });
        self.call_no_content(Method::PUT, &path, Some(&body)).await
    }

    /// A member's organization permissions, from all of their roles
    /// (`GET /api/organizations/{id}/users/{userId}/scopes`).
    pub async fn organization_member_scopes(
        &self,
        id: &str,
        user_id: &str,
    ) -> Result<Vec<OrganizationScope>, ManagementError> {
        let path = format!(
            "api/organizations/{}/users/{}/scopes",
            seg(id)?,
            seg(user_id)?
        );
        self.call(Method::GET, &path, NO_BODY).await
    }

    // ---- organization invitations --------------------------------------------------

    /// Creates an invitation (`POST /api/organization-invitations`); with a
    /// message payload, Logto's email connector sends it.
    pub async fn create_invitation(
        &self,
        invitation: &NewInvitation,
    ) -> Result<OrganizationInvitation, ManagementError> {
        self.call(
            Method::POST,
            "api/organization-invitations",
            Some(invitation),
        )
        .await
    }

    /// Has Logto's email connector send an invitation, with `link` as the
    /// email's link (`POST /api/organization-invitations/{id}/message`).
    pub async fn send_invitation_message(
        &self,
        id: &str,
        link: &str,
    ) -> Result<(), ManagementError> {
        let path = format!("api/organization-invitations/{}/message", seg(id)?);
        self.call_no_content(Method::POST, &path, Some(&json!({ "link": link })))
            .await
    }

    /// Deletes an invitation (`DELETE /api/organization-invitations/{id}`).
    pub async fn delete_invitation(&self, id: &str) -> Result<(), ManagementError> {
        let path = format!("api/organization-invitations/{}", seg(id)?);
        self.call_no_content(Method::DELETE, &path, NO_BODY).await
    }

    /// One invitation (`GET /api/organization-invitations/{id}`).
    pub async fn invitation(&self, id: &str) -> Result<OrganizationInvitation, ManagementError> {
        let path = format!("api/organization-invitations/{}", seg(id)?);
        self.call(Method::GET, &path, NO_BODY).await
    }

    /// An organization's invitations
    /// (`GET /api/organization-invitations?organizationId=…`).
    pub async fn organization_invitations(
        &self,
        organization_id: &str,
    ) -> Result<Vec<OrganizationInvitation>, ManagementError> {
        let path = format!(
            "api/organization-invitations?organizationId={}",
            seg(organization_id)?
        );
        self.call(Method::GET, &path, NO_BODY).await
    }

    /// Accepts (for `accepted_user_id`) or revokes an invitation
    /// (`PUT /api/organization-invitations/{id}/status`). Accepting makes the
    /// user a member with the invitation's roles.
    pub async fn set_invitation_status(
        &self,
        id: &str,
        status: InvitationStatus,
        accepted_user_id: Option<&str>,
    ) -> Result<OrganizationInvitation, ManagementError> {
        let path = format!("api/organization-invitations/{}/status", seg(id)?);
        let mut body = json!({ "status": status });
        if let Some(user) = accepted_user_id {
            body["acceptedUserId"] = json!(user);
        }
        self.call(Method::PUT, &path, Some(&body)).await
    }

    // ---- users -----------------------------------------------------------------------

    /// The user with exactly this username, if any (`GET /api/users`, exact search).
    pub async fn find_user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<User>, ManagementError> {
        let users: Vec<User> = self
            .list_all(
                "api/users",
                &[
                    ("search.username", username),
                    ("mode.username", "exact"),
                    ("isCaseSensitive", "true"),
                ],
            )
            .await?;
        Ok(users
            .into_iter()
            .find(|u| u.username.as_deref() == Some(username)))
    }

    /// The user whose primary email is `email` (compared without case), if any.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, ManagementError> {
        let users: Vec<User> = self
            .list_all(
                "api/users",
                &[
                    ("search.primaryEmail", email),
                    ("mode.primaryEmail", "exact"),
                    ("isCaseSensitive", "false"),
                ],
            )
            .await?;
        Ok(users.into_iter().find(|u| {
            u.primary_email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        }))
    }

    /// A one-time token that signs in (or signs up) the owner of `email`
    /// once, within `expires_in_secs` (`POST /api/one-time-tokens`); Logto's
    /// sign-in takes it as the `one_time_token` parameter.
    pub async fn create_one_time_token(
        &self,
        email: &str,
        expires_in_secs: u64,
    ) -> Result<SecretString, ManagementError> {
        #[derive(serde::Deserialize)]
        struct Created {
            token: String,
        }
        let body = json!({ "email": email, "expiresIn": expires_in_secs });
        let created: Created = self
            .call(Method::POST, "api/one-time-tokens", Some(&body))
            .await?;
        Ok(SecretString::from(created.token))
    }

    /// One user (`GET /api/users/{id}`).
    pub async fn user(&self, id: &str) -> Result<User, ManagementError> {
        let path = format!("api/users/{}", seg(id)?);
        self.call(Method::GET, &path, NO_BODY).await
    }

    /// Creates a user with a password (`POST /api/users`).
    pub async fn create_user(
        &self,
        new: &NewUser,
        password: &SecretString,
    ) -> Result<User, ManagementError> {
        let mut body = serde_json::to_value(new).map_err(|e| ManagementError::Unexpected {
            what: "POST api/users".to_owned(),
            detail: e.to_string(),
        })?;
        body["password"] = json!(password.expose_secret());
        self.call(Method::POST, "api/users", Some(&body)).await
    }

    /// Updates a user's profile (`PATCH /api/users/{id}`).
    pub async fn update_user(&self, id: &str, patch: &UserPatch) -> Result<User, ManagementError> {
        let path = format!("api/users/{}", seg(id)?);
        self.call(Method::PATCH, &path, Some(patch)).await
    }

    /// Deletes a user (`DELETE /api/users/{id}`).
    pub async fn delete_user(&self, id: &str) -> Result<(), ManagementError> {
        let path = format!("api/users/{}", seg(id)?);
        self.call_no_content(Method::DELETE, &path, NO_BODY).await
    }

    /// Whether `password` is the user's password (`POST /api/users/{id}/password/verify`:
    /// 204 when it is, 422 when not).
    pub async fn verify_user_password(
        &self,
        id: &str,
        password: &SecretString,
    ) -> Result<bool, ManagementError> {
        let path = format!("api/users/{}/password/verify", seg(id)?);
        let body = json!({ "password": password.expose_secret() });
        match self.call_no_content(Method::POST, &path, Some(&body)).await {
            Ok(()) => Ok(true),
            Err(e) if e.status() == Some(422) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sets a user's password (`PATCH /api/users/{id}/password`).
    pub async fn set_user_password(
        &self,
        id: &str,
        password: &SecretString,
    ) -> Result<(), ManagementError> {
        let path = format!("api/users/{}/password", seg(id)?);
        let body = json!({ "password": password.expose_secret() });
        self.call_no_content(Method::PATCH, &path, Some(&body))
            .await
    }

    /// A user's global roles (`GET /api/users/{id}/roles`).
    pub async fn user_roles(&self, id: &str) -> Result<Vec<Role>, ManagementError> {
        let path = format!("api/users/{}/roles", seg(id)?);
        self.list_all(&path, &[]).await
    }

    /// Assigns global roles to a user (`POST /api/users/{id}/roles`).
    pub async fn add_user_roles(
        &self,
        id: &str,
        role_ids: &[String],
    ) -> Result<(), ManagementError> {
        let path = format!("api/users/{}/roles", seg(id)?);
        self.call_no_content(Method::POST, &path, Some(&json!({ "roleIds": role_ids })))
            .await
    }

    /// Takes a global role from a user (`DELETE /api/users/{id}/roles/{roleId}`).
    pub async fn remove_user_role(&self, id: &str, role_id: &str) -> Result<(), ManagementError> {
        let path = format!("api/users/{}/roles/{}", seg(id)?, seg(role_id)?);
        self.call_no_content(Method::DELETE, &path, NO_BODY).await
    }

    /// A user's active sessions (`GET /api/users/{id}/sessions`).
    pub async fn user_sessions(&self, id: &str) -> Result<Vec<UserSession>, ManagementError> {
        let path = format!("api/users/{}/sessions", seg(id)?);
        let answer: UserSessions = self.call(Method::GET, &path, NO_BODY).await?;
        Ok(answer.sessions)
    }

    /// Ends one of a user's sessions (`DELETE /api/users/{id}/sessions/{uid}`).
    /// Logto sends no back-channel logout for it. With `revoke_grants`
    /// (`revokeGrantsTarget=all`) every grant the session gave ends too, so
    /// applications' next refresh fails; without it, grants with
    /// `offline_access` survive and refreshes keep working.
    pub async fn delete_user_session(
        &self,
        id: &str,
        session_uid: &str,
        revoke_grants: bool,
    ) -> Result<(), ManagementError> {
        let path = format!("api/users/{}/sessions/{}", seg(id)?, seg(session_uid)?);
        let query = [("revokeGrantsTarget", "all".to_owned())];
        let query: &[(&str, String)] = if revoke_grants { &query } else { &[] };
        self.send(Method::DELETE, &path, query, None).await?;
        Ok(())
    }

    /// The organizations a user is a member of (`GET /api/users/{id}/organizations`).
    pub async fn user_organizations(&self, id: &str) -> Result<Vec<Organization>, ManagementError> {
        let path = format!("api/users/{}/organizations", seg(id)?);
        self.call(Method::GET, &path, NO_BODY).await
    }
}

#[cfg(test)]
mod tests {
    use super::seg;

    #[test]
    fn path_ids_cannot_change_the_path() {
        assert!(seg("c15ba1sacf69u6umbmmx2").is_ok());
        for bad in ["", "a/b", "..", "a?b", "a b", "a%2F"] {
            assert!(seg(bad).is_err(), "{bad:?}");
        }
    }
}
