//! The live directory: users and organization memberships (starting as the seed's), plus
//! organization invitations and one-time tokens. The Management API changes it; tokens and
//! claims read it, so a change shows from the next token request on.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::seed::{Member, Seed, User};

/// Logto's invitation statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum InvitationStatus {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

/// An organization invitation (`organization_invitations`).
#[derive(Debug, Clone)]
pub(crate) struct Invitation {
    pub(crate) id: String,
    pub(crate) inviter_id: Option<String>,
    pub(crate) invitee: String,
    pub(crate) accepted_user_id: Option<String>,
    pub(crate) organization_id: String,
    /// The stored status: a pending invitation past `expires_at` still says `Pending` here,
    /// and is shown as `Expired` (as Logto computes it when reading).
    pub(crate) status: InvitationStatus,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) expires_at: i64,
    /// Organization role names granted on acceptance.
    pub(crate) roles: Vec<String>,
}

impl Invitation {
    /// The status as Logto reports it: `Expired` once a pending invitation is past its time.
    pub(crate) fn status_at(&self, now_ms: i64) -> InvitationStatus {
        if self.status == InvitationStatus::Pending && self.expires_at <= now_ms {
            InvitationStatus::Expired
        } else {
            self.status
        }
    }
}

/// Logto's one-time token statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OneTimeTokenStatus {
    Active,
    Consumed,
    Revoked,
    Expired,
}

/// A one-time token (`one_time_tokens`): signs the holder of `email` in (or up) once.
#[derive(Debug, Clone)]
pub(crate) struct OneTimeToken {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) token: String,
    /// Organizations the user joins on sign-in (`context.jitOrganizationIds`).
    pub(crate) jit_organization_ids: Vec<String>,
    pub(crate) status: OneTimeTokenStatus,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

/// An invitation email logto-dev "sent" (recorded instead of delivered).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvitationMessage {
    /// The invitation's id.
    pub invitation_id: String,
    /// The invitee's email address.
    pub invitee: String,
    /// The organization's id.
    pub organization_id: String,
    /// The `messagePayload` given when the invitation was created (e.g. `{"link": "…"}`).
    pub payload: serde_json::Value,
}

/// Why a one-time token cannot sign anyone in: Logto's error codes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OneTimeTokenError {
    #[error("Token not found.")]
    NotFound,
    #[error("Email mismatch with given token.")]
    EmailMismatch,
    #[error("The token is expired.")]
    Expired,
    #[error("The token has been consumed.")]
    Consumed,
    #[error("The token has been revoked.")]
    Revoked,
}

#[derive(Debug)]
pub(crate) struct Directory {
    /// Users and memberships live here; the rest of this seed is the start-up one.
    pub(crate) seed: Seed,
    pub(crate) invitations: Vec<Invitation>,
    pub(crate) one_time_tokens: Vec<OneTimeToken>,
    pub(crate) messages: Vec<InvitationMessage>,
}

impl Directory {
    pub(crate) fn new(seed: Seed) -> Self {
        Directory {
            seed,
            invitations: Vec::new(),
            one_time_tokens: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// The user whose primary email is `email` (case-insensitive, as Logto compares).
    pub(crate) fn user_by_email(&self, email: &str) -> Option<&User> {
        self.seed.users.iter().find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    }

    /// The member entry of `user_id` in `org_id`.
    pub(crate) fn member_mut(&mut self, org_id: &str, user_id: &str) -> Option<&mut Member> {
        self.seed
            .organizations
            .iter_mut()
            .find(|o| o.id == org_id)?
            .members
            .iter_mut()
            .find(|m| m.user_id == user_id)
    }

    /// Adds `user_id` to `org_id` without roles, unless already a member (Logto's
    /// `ON CONFLICT DO NOTHING`). Returns false when there is no such organization.
    pub(crate) fn add_member(&mut self, org_id: &str, user_id: &str) -> bool {
        let Some(org) = self.seed.organizations.iter_mut().find(|o| o.id == org_id) else {
            return false;
        };
        if !org.members.iter().any(|m| m.user_id == user_id) {
            org.members.push(Member {
                user_id: user_id.to_owned(),
                roles: Vec::new(),
            });
        }
        true
    }

    /// Checks a one-time token for `email` as Logto's `checkOneTimeToken` does (exact email,
    /// then expiry, consumption, revocation) and consumes it.
    pub(crate) fn consume_one_time_token(
        &mut self,
        token: &str,
        email: &str,
        now_ms: i64,
    ) -> Result<OneTimeToken, OneTimeTokenError> {
        let ott = self
            .one_time_tokens
            .iter_mut()
            .find(|t| t.token == token)
            .ok_or(OneTimeTokenError::NotFound)?;
        if ott.email != email {
            return Err(OneTimeTokenError::EmailMismatch);
        }
        if ott.expires_at <= now_ms || ott.status == OneTimeTokenStatus::Expired {
            ott.status = OneTimeTokenStatus::Expired;
            return Err(OneTimeTokenError::Expired);
        }
        match ott.status {
            OneTimeTokenStatus::Consumed => return Err(OneTimeTokenError::Consumed),
            OneTimeTokenStatus::Revoked => return Err(OneTimeTokenError::Revoked),
            _ => {}
        }
        ott.status = OneTimeTokenStatus::Consumed;
        Ok(ott.clone())
    }

    /// Signs up a user with only a verified primary email (no username, no password), as
    /// Logto registers someone through a one-time token; returns the new id.
    pub(crate) fn register_by_email(&mut self, email: &str, now_ms: i64) -> String {
        let mut id = random_id(12);
        while self.seed.user(&id).is_some() {
            id = random_id(12);
        }
        self.seed.users.push(User {
            id: id.clone(),
            // Empty means "none": served as `null`, and no password sign-in can match it.
            username: String::new(),
            password: String::new(),
            name: None,
            email: Some(email.to_owned()),
            phone: None,
            picture: None,
            custom_data: serde_json::json!({}),
            identities: serde_json::json!({}),
            roles: Vec::new(),
            created_at: now_ms,
            updated_at: now_ms,
        });
        id
    }
}

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A random id of `len` characters of `[0-9a-z]`, the shape of Logto's ids.
pub(crate) fn random_id(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// A stable 21-character `[0-9a-z]` id for a named object of the organization template
/// (`kind` is `organization-role` or `organization-scope`): real Logto assigns random ids,
/// logto-dev derives them so that they survive restarts.
pub(crate) fn derived_id(kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("logto-dev:{kind}:{name}").as_bytes());
    digest
        .iter()
        .take(21)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> Directory {
        Directory::new(Seed::demo())
    }

    fn token(d: &mut Directory, status: OneTimeTokenStatus, expires_at: i64) {
        d.one_time_tokens.push(OneTimeToken {
            id: "t".into(),
            email: "new@acme.test".into(),
            token: "secret".into(),
            jit_organization_ids: Vec::new(),
            status,
            created_at: 0,
            expires_at,
        });
    }

    #[test]
    fn a_one_time_token_is_checked_like_logto_and_used_once() {
        let mut d = directory();
        token(&mut d, OneTimeTokenStatus::Active, 2_000);
        assert_eq!(
            d.consume_one_time_token("nope", "new@acme.test", 1_000)
                .unwrap_err(),
            OneTimeTokenError::NotFound
        );
        assert_eq!(
            d.consume_one_time_token("secret", "NEW@acme.test", 1_000)
                .unwrap_err(),
            OneTimeTokenError::EmailMismatch
        );
        assert!(
            d.consume_one_time_token("secret", "new@acme.test", 1_000)
                .is_ok()
        );
        assert_eq!(
            d.consume_one_time_token("secret", "new@acme.test", 1_000)
                .unwrap_err(),
            OneTimeTokenError::Consumed
        );
    }

    #[test]
    fn expired_and_revoked_one_time_tokens_are_refused() {
        let mut d = directory();
        token(&mut d, OneTimeTokenStatus::Active, 1_000);
        assert_eq!(
            d.consume_one_time_token("secret", "new@acme.test", 1_000)
                .unwrap_err(),
            OneTimeTokenError::Expired
        );
        let mut d = directory();
        token(&mut d, OneTimeTokenStatus::Revoked, 2_000);
        assert_eq!(
            d.consume_one_time_token("secret", "new@acme.test", 1_000)
                .unwrap_err(),
            OneTimeTokenError::Revoked
        );
    }

    #[test]
    fn invitations_past_their_time_read_as_expired() {
        let inv = Invitation {
            id: "i".into(),
            inviter_id: None,
            invitee: "x@y.test".into(),
            accepted_user_id: None,
            organization_id: "org-acme".into(),
            status: InvitationStatus::Pending,
            created_at: 0,
            updated_at: 0,
            expires_at: 10,
            roles: Vec::new(),
        };
        assert_eq!(inv.status_at(9), InvitationStatus::Pending);
        assert_eq!(inv.status_at(10), InvitationStatus::Expired);
    }

    #[test]
    fn derived_ids_are_stable_and_logto_shaped() {
        let id = derived_id("organization-role", "admin");
        assert_eq!(id, derived_id("organization-role", "admin"));
        assert_ne!(id, derived_id("organization-scope", "admin"));
        assert_eq!(id.len(), 21);
        assert!(id.bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn users_registered_by_email_are_found_case_insensitively() {
        let mut d = directory();
        let id = d.register_by_email("New@Acme.test", 5);
        assert_eq!(d.user_by_email("new@acme.test").map(|u| &u.id), Some(&id));
        assert!(d.add_member("org-acme", &id));
        assert!(!d.add_member("org-nope", &id));
        assert!(d.member_mut("org-acme", &id).is_some());
    }
}
