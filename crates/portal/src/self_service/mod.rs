//! Organization self-service: an organization's own admins list members,
//! invite people, change roles and remove members, through Logto's
//! Management API, with the acting user's verified organization token as
//! the authority ([`Actor`]). Every admin action is recorded
//! ([`crate::storage::audit`]); a change to someone's membership drops
//! their stored tokens for the organization and makes their logins due for
//! a check, so every instance serves them the new roles on their next page.
//!
//! The pages and the JSON API (`web::routes::members`) are thin: the rules
//! are in [`rules`], the calls and their order here.

pub mod rules;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::management::{
    InvitationStatus, ManagementClient, ManagementError, NewInvitation, OrganizationInvitation,
    OrganizationMember, OrganizationRole,
};
use crate::storage::audit::{self, NewEvent};
use crate::storage::local_cache::LocalCache;
use crate::storage::logins;
pub use rules::{INVITE_MEMBERS, MANAGE_MEMBERS, READ_MEMBERS, Refusal};

/// How long the organization template (roles and their permissions) is
/// reused before it is read again.
const TEMPLATE_TTL: Duration = Duration::from_secs(60);

/// How long the one-time token of an invitation's sign-in lives: made when
/// the invitee clicks, used at once.
const ONE_TIME_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);

/// What a self-service action can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SelfServiceError {
    /// A rule said no.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Logto's Management API failed or refused.
    #[error(transparent)]
    Management(#[from] ManagementError),
    /// PostgreSQL failed (audit trail, lock, tokens).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The acting user: their `sub` and name, and the organization
/// permissions of their verified organization token.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user's `sub`.
    pub sub: String,
    /// Their name, for the audit trail.
    pub name: Option<String>,
    /// Organization permissions (the token's `scope`).
    pub permissions: BTreeSet<String>,
}

impl Actor {
    /// Refuses unless the actor holds `permission`.
    pub fn require(&self, permission: &'static str) -> Result<(), Refusal> {
        rules::require(&self.permissions, permission)
    }
}

/// An invitation just created, and the link to hand over when Logto sends
/// no email.
#[derive(Debug, Clone)]
pub struct Invited {
    /// The invitation.
    pub invitation: OrganizationInvitation,
    /// The link the invitee opens.
    pub link: String,
}

/// Organization self-service for one portal process.
pub struct SelfService {
    management: ManagementClient,
    /// The issuer the portal's logins were signed in at.
    issuer: String,
    /// `{base URL}/invitations/`.
    invitation_base: String,
    invitation_ttl: Duration,
    send_emails: bool,
    cache: Arc<LocalCache>,
    template: Mutex<Option<(Instant, Arc<Vec<OrganizationRole>>)>>,
}

impl std::fmt::Debug for SelfService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfService")
            .field("management", &self.management)
            .finish_non_exhaustive()
    }
}

impl SelfService {
    /// Self-service through `management`, for logins of `issuer` (kept in
    /// `cache` too); invitation links under `base_url` (the portal's),
    /// valid for `invitation_ttl`, emailed by Logto when `send_emails`.
    pub fn new(
        management: ManagementClient,
        issuer: String,
        cache: Arc<LocalCache>,
        base_url: &str,
        invitation_ttl: Duration,
        send_emails: bool,
    ) -> Self {
        Self {
            management,
            cache,
            issuer,
            invitation_base: format!("{}/invitations/", base_url.trim_end_matches('/')),
            invitation_ttl,
            send_emails,
            template: Mutex::new(None),
        }
    }

    /// Whether Logto emails the invitations.
    pub fn sends_emails(&self) -> bool {
        self.send_emails
    }

    /// The invitation link of invitation `id`.
    pub fn invitation_link(&self, id: &str) -> String {
        format!("{}{id}", self.invitation_base)
    }

    /// The organization template's roles with their permissions, read at
    /// most once a minute.
    pub async fn roles(&self) -> Result<Arc<Vec<OrganizationRole>>, SelfServiceError> {
        if let Ok(kept) = self.template.lock()
            && let Some((at, roles)) = kept.as_ref()
            && at.elapsed() < TEMPLATE_TTL
        {
            return Ok(Arc::clone(roles));
        }
        let mut roles = self.management.list_organization_roles().await?;
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        let roles = Arc::new(roles);
        if let Ok(mut kept) = self.template.lock() {
            *kept = Some((Instant::now(), Arc::clone(&roles)));
        }
        Ok(roles)
    }

    /// `actor` with only the permissions Logto grants them now. A bearer
    /// token keeps its permissions for its lifetime (an hour) after its
    /// holder lost a role or left; the API asks Logto (one call) before
    /// acting on one. Pages need not: their stored token is dropped at
    /// every change.
    pub async fn confirmed(
        &self,
        organization_id: &str,
        mut actor: Actor,
    ) -> Result<Actor, SelfServiceError> {
        let now: BTreeSet<String> = self
            .management
            .organization_member_scopes(organization_id, &actor.sub)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        actor.permissions.retain(|p| now.contains(p));
        Ok(actor)
    }

    /// The organization's members with their roles (`read:members`): one
    /// Management API call once the template is known.
    pub async fn members(
        &self,
        organization_id: &str,
        actor: &Actor,
    ) -> Result<Vec<OrganizationMember>, SelfServiceError> {
        actor.require(READ_MEMBERS)?;
        let mut members = self
            .management
            .organization_members(organization_id)
            .await?;
        members.sort_by_key(label);
        Ok(members)
    }

    /// The organization's pending invitations (`invite:members`).
    pub async fn invitations(
        &self,
        organization_id: &str,
        actor: &Actor,
    ) -> Result<Vec<OrganizationInvitation>, SelfServiceError> {
        actor.require(INVITE_MEMBERS)?;
        let mut all = self
            .management
            .organization_invitations(organization_id)
            .await?;
        all.retain(|i| i.organization_id == organization_id && is_open(i));
        all.sort_by_key(|i| std::cmp::Reverse(i.created_at));
        Ok(all)
    }

    /// Invites `email` with the roles `role_names` (`invite:members`; the
    /// roles must grant nothing the actor lacks).
    pub async fn invite(
        &self,
        pool: &PgPool,
        organization_id: &str,
        actor: &Actor,
        email: &str,
        role_names: &[String],
    ) -> Result<Invited, SelfServiceError> {
        let email = email.trim().to_lowercase();
        let detail = serde_json::json!({ "roles": role_names });
        let run = async {
            actor.require(INVITE_MEMBERS)?;
            if !rules::valid_email(&email) {
                return Err(Refusal::InvalidEmail(email.clone()).into());
            }
            let template = self.roles().await?;
            let roles = rules::grantable(&template, role_names, &actor.permissions)?;
            let expires_at = now_millis() + millis(self.invitation_ttl);
            let invitation = self
                .management
                .create_invitation(&NewInvitation {
                    inviter_id: actor.sub.clone(),
                    invitee: email.clone(),
                    organization_id: organization_id.to_owned(),
                    expires_at,
                    organization_role_ids: roles.iter().map(|r| r.id.clone()).collect(),
                    // Logto assigns the id the link carries: the email is
                    // asked for once it exists.
                    message_payload: serde_json::Value::Bool(false),
                })
                .await?;
            let link = self.invitation_link(&invitation.id);
            if self.send_emails
                && let Err(e) = self
                    .management
                    .send_invitation_message(&invitation.id, &link)
                    .await
            {
                // Nothing half-way: an invitation nobody was told of goes.
                if let Err(undo) = self.management.delete_invitation(&invitation.id).await {
                    tracing::error!(invitation = %invitation.id, error = %undo, "an unsent invitation could not be deleted");
                }
                return Err(e.into());
            }
            Ok(Invited { invitation, link })
        };
        let result = run.await;
        self.audit(
            pool,
            organization_id,
            actor,
            "invite",
            &email,
            detail,
            &result,
        )
        .await;
        result
    }

    /// Withdraws a pending invitation of this organization (`invite:members`).
    pub async fn revoke_invitation(
        &self,
        pool: &PgPool,
        organization_id: &str,
        actor: &Actor,
        invitation_id: &str,
    ) -> Result<(), SelfServiceError> {
        let mut target = invitation_id.to_owned();
        let run = async {
            actor.require(INVITE_MEMBERS)?;
            let invitation = self.invitation_of(organization_id, invitation_id).await?;
            target = invitation.invitee.clone();
            if invitation.status != InvitationStatus::Pending {
                return Err(Refusal::InvitationClosed(closed_reason(&invitation)).into());
            }
            self.management
                .set_invitation_status(invitation_id, InvitationStatus::Revoked, None)
                .await?;
            Ok(())
        };
        let result = run.await;
        let detail = serde_json::json!({ "invitation": invitation_id });
        self.audit(
            pool,
            organization_id,
            actor,
            "revoke_invitation",
            &target,
            detail,
            &result,
        )
        .await;
        result
    }

    /// Replaces `user_id`'s roles with `role_names` (`manage:members`): the
    /// roles must grant nothing the actor lacks, and the organization keeps
    /// an admin. The user's next page shows the new roles.
    pub async fn set_roles(
        &self,
        pool: &PgPool,
        organization_id: &str,
        actor: &Actor,
        user_id: &str,
        role_names: &[String],
    ) -> Result<(), SelfServiceError> {
        let mut member = None;
        let run = async {
            actor.require(MANAGE_MEMBERS)?;
            let template = self.roles().await?;
            let roles = rules::grantable(&template, role_names, &actor.permissions)?;
            let lock = audit::lock_organization(pool, organization_id).await?;
            let members = self
                .management
                .organization_members(organization_id)
                .await?;
            member = members.iter().find(|m| m.id == user_id).map(label);
            if member.is_none() {
                return Err(Refusal::NotAMember.into());
            }
            let names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
            rules::keeps_an_admin(&template, &members, user_id, Some(&names))?;
            let ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
            self.management
                .set_organization_member_roles(organization_id, user_id, &ids)
                .await?;
            lock.release().await?;
            self.changed(pool, organization_id, user_id).await?;
            Ok(())
        };
        let result = run.await;
        let detail = serde_json::json!({ "roles": role_names, "member": member });
        self.audit(
            pool,
            organization_id,
            actor,
            "set_roles",
            user_id,
            detail,
            &result,
        )
        .await;
        result
    }

    /// Removes `user_id` from the organization (`manage:members`), unless
    /// they are its last admin; refused on every instance at once.
    pub async fn remove(
        &self,
        pool: &PgPool,
        organization_id: &str,
        actor: &Actor,
        user_id: &str,
    ) -> Result<(), SelfServiceError> {
        let mut member = None;
        let run = async {
            actor.require(MANAGE_MEMBERS)?;
            let template = self.roles().await?;
            let lock = audit::lock_organization(pool, organization_id).await?;
            let members = self
                .management
                .organization_members(organization_id)
                .await?;
            member = members.iter().find(|m| m.id == user_id).map(label);
            if member.is_none() {
                return Err(Refusal::NotAMember.into());
            }
            rules::keeps_an_admin(&template, &members, user_id, None)?;
            self.management
                .remove_organization_member(organization_id, user_id)
                .await?;
            lock.release().await?;
            self.changed(pool, organization_id, user_id).await?;
            Ok(())
        };
        let result = run.await;
        let detail = serde_json::json!({ "member": member });
        self.audit(
            pool,
            organization_id,
            actor,
            "remove_member",
            user_id,
            detail,
            &result,
        )
        .await;
        result
    }

    /// A pending invitation, for its page: gone, expired, revoked or used
    /// ones are refused with the reason.
    pub async fn open_invitation(
        &self,
        id: &str,
    ) -> Result<OrganizationInvitation, SelfServiceError> {
        if !rules::plausible_id(id) {
            return Err(Refusal::InvitationNotFound.into());
        }
        let invitation = match self.management.invitation(id).await {
            Ok(i) => i,
            Err(e) if e.is_not_found() => return Err(Refusal::InvitationNotFound.into()),
            Err(e) => return Err(e.into()),
        };
        if !is_open(&invitation) {
            return Err(Refusal::InvitationClosed(closed_reason(&invitation)).into());
        }
        Ok(invitation)
    }

    /// How the invitee of `invitation` signs in: a one-time token when
    /// nobody has their address yet (Logto signs them up with it, no
    /// password), else `None` and they sign in as usual. A link that reaches
    /// someone else cannot sign in to an existing account this way.
    pub async fn sign_in_token(
        &self,
        invitation: &OrganizationInvitation,
    ) -> Result<Option<secrecy::SecretString>, SelfServiceError> {
        if self
            .management
            .find_user_by_email(&invitation.invitee)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let token = self
            .management
            .create_one_time_token(&invitation.invitee, ONE_TIME_TOKEN_TTL.as_secs())
            .await?;
        Ok(Some(token))
    }

    /// Accepts invitation `id` for the signed-in user `sub`, whose primary
    /// email Logto must know as the invitee: Logto makes them a member with
    /// the invited roles.
    pub async fn accept(
        &self,
        pool: &PgPool,
        id: &str,
        sub: &str,
        name: Option<&str>,
    ) -> Result<OrganizationInvitation, SelfServiceError> {
        let invitation = self.open_invitation(id).await?;
        let actor = Actor {
            sub: sub.to_owned(),
            name: name.map(str::to_owned),
            permissions: BTreeSet::new(),
        };
        let run = async {
            let user = self.management.user(sub).await?;
            let matches = user
                .primary_email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&invitation.invitee));
            if !matches {
                return Err(Refusal::InvitationForSomeoneElse.into());
            }
            let accepted = self
                .management
                .set_invitation_status(id, InvitationStatus::Accepted, Some(sub))
                .await?;
            self.changed(pool, &invitation.organization_id, sub).await?;
            Ok(accepted)
        };
        let result = run.await;
        let detail = serde_json::json!({ "invitation": id });
        self.audit(
            pool,
            &invitation.organization_id,
            &actor,
            "accept_invitation",
            &invitation.invitee,
            detail,
            &result,
        )
        .await;
        result
    }

    /// The audit trail page (`manage:members`).
    pub async fn audit_page(
        &self,
        pool: &PgPool,
        organization_id: &str,
        actor: &Actor,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<audit::Event>, SelfServiceError> {
        actor.require(MANAGE_MEMBERS)?;
        Ok(audit::page(pool, organization_id, before, limit).await?)
    }

    /// An invitation of this organization; another organization's is "not found".
    async fn invitation_of(
        &self,
        organization_id: &str,
        id: &str,
    ) -> Result<OrganizationInvitation, SelfServiceError> {
        if !rules::plausible_id(id) {
            return Err(Refusal::InvitationNotFound.into());
        }
        match self.management.invitation(id).await {
            Ok(i) if i.organization_id == organization_id => Ok(i),
            Ok(_) => Err(Refusal::InvitationNotFound.into()),
            Err(e) if e.is_not_found() => Err(Refusal::InvitationNotFound.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// `user_id`'s membership changed: their tokens for the organization
    /// go, on every instance, and their logins are checked with Logto on
    /// the next request (a refresh brings the ID token's new claims).
    async fn changed(
        &self,
        pool: &PgPool,
        organization_id: &str,
        user_id: &str,
    ) -> Result<(), sqlx::Error> {
        logins::drop_organization_tokens(pool, &self.issuer, user_id, organization_id).await?;
        // Other instances hear of both changes; this one forgets at once.
        for id in logins::recheck_by_sub(pool, &self.issuer, user_id).await? {
            self.cache.tokens_changed(Some(id));
            self.cache.forget_login(id);
        }
        Ok(())
    }

    /// Records an action and how it ended. A failure to record is logged,
    /// not shown: the action itself has happened (or not) already.
    #[allow(clippy::too_many_arguments)]
    async fn audit<T>(
        &self,
        pool: &PgPool,
        organization_id: &str,
        actor: &Actor,
        action: &str,
        target: &str,
        detail: serde_json::Value,
        result: &Result<T, SelfServiceError>,
    ) {
        let (outcome, reason) = match result {
            Ok(_) => ("ok", None),
            Err(SelfServiceError::Refused(r)) => ("refused", Some(r.to_string())),
            Err(e) => ("failed", Some(e.to_string())),
        };
        let event = NewEvent {
            organization_id,
            actor_sub: &actor.sub,
            actor_name: actor.name.as_deref(),
            action,
            target,
            detail,
            outcome,
            reason: reason.as_deref(),
        };
        match audit::record(pool, &event).await {
            Ok(()) => {
                tracing::info!(organization_id, actor = %actor.sub, action, target, outcome, "organization change")
            }
            Err(e) => {
                tracing::error!(organization_id, action, error = %e, "the audit trail could not be written")
            }
        }
    }
}

/// How a member is named on pages and sorted.
pub fn label(m: &OrganizationMember) -> String {
    m.name
        .clone()
        .or_else(|| m.username.clone())
        .or_else(|| m.primary_email.clone())
        .unwrap_or_else(|| m.id.clone())
}

fn is_open(i: &OrganizationInvitation) -> bool {
    i.status == InvitationStatus::Pending && i.expires_at > now_millis()
}

fn closed_reason(i: &OrganizationInvitation) -> &'static str {
    match i.status {
        InvitationStatus::Accepted => "has already been used",
        InvitationStatus::Revoked => "was withdrawn",
        InvitationStatus::Expired | InvitationStatus::Pending => "has expired",
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn now_millis() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    millis(since)
}
