//! The rules of organization self-service, apart from any I/O: who may do
//! what, the last admin, and roles an admin may grant.

use std::collections::BTreeSet;

use crate::management::{OrganizationMember, OrganizationRole};

/// Lists the members and their roles.
pub const READ_MEMBERS: &str = "read:members";
/// Invites people and withdraws invitations.
pub const INVITE_MEMBERS: &str = "invite:members";
/// Changes members' roles, removes members, reads the audit trail.
pub const MANAGE_MEMBERS: &str = "manage:members";

/// Why a rule said no.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The acting user's organization token lacks a permission.
    #[error("you need the `{0}` permission in this organization")]
    MissingPermission(&'static str),
    /// The change would leave the organization without anyone holding
    /// `manage:members`.
    #[error("the organization's last admin cannot be removed or lose the admin role")]
    LastAdmin,
    /// A role grants a permission the acting admin does not hold.
    #[error("you cannot grant the role `{role}`: it carries `{permission}`, which you do not hold")]
    Escalation {
        /// The role asked for.
        role: String,
        /// A permission of it the actor lacks.
        permission: String,
    },
    /// No role of the organization template has this name.
    #[error("there is no organization role `{0}`")]
    UnknownRole(String),
    /// The user is not a member of this organization.
    #[error("that user is not a member of this organization")]
    NotAMember,
    /// Not an email address.
    #[error("{0:?} is not an email address")]
    InvalidEmail(String),
    /// No such invitation (or one of another organization).
    #[error("there is no such invitation")]
    InvitationNotFound,
    /// The invitation can no longer be accepted.
    #[error("this invitation {0}")]
    InvitationClosed(&'static str),
    /// The invitation is for another email address than the signed-in user's.
    #[error("this invitation was sent to another email address than the one you signed in with")]
    InvitationForSomeoneElse,
}

/// Refuses unless `permissions` holds `needed`.
pub fn require(permissions: &BTreeSet<String>, needed: &'static str) -> Result<(), Refusal> {
    if permissions.contains(needed) {
        Ok(())
    } else {
        Err(Refusal::MissingPermission(needed))
    }
}

/// The roles named `names`, from the organization template; each must
/// exist, and grant nothing the actor (holding `permissions`) lacks.
pub fn grantable<'a>(
    template: &'a [OrganizationRole],
    names: &[String],
    permissions: &BTreeSet<String>,
) -> Result<Vec<&'a OrganizationRole>, Refusal> {
    let mut out = Vec::new();
    for name in names {
        let role = template
            .iter()
            .find(|r| &r.name == name)
            .ok_or_else(|| Refusal::UnknownRole(name.clone()))?;
        if let Some(missing) = role.scopes.iter().find(|s| !permissions.contains(&s.name)) {
            return Err(Refusal::Escalation {
                role: role.name.clone(),
                permission: missing.name.clone(),
            });
        }
        if !out.iter().any(|r: &&OrganizationRole| r.id == role.id) {
            out.push(role);
        }
    }
    Ok(out)
}

/// Whether roles named `roles` grant `manage:members`.
pub fn is_admin<'a>(
    template: &[OrganizationRole],
    roles: impl IntoIterator<Item = &'a str>,
) -> bool {
    roles.into_iter().any(|name| {
        template
            .iter()
            .any(|r| r.name == name && r.scopes.iter().any(|s| s.name == MANAGE_MEMBERS))
    })
}

/// Refuses a change that leaves `members` without an admin: `target`
/// would hold the roles `after` (`None`: removed).
pub fn keeps_an_admin(
    template: &[OrganizationRole],
    members: &[OrganizationMember],
    target: &str,
    after: Option<&[String]>,
) -> Result<(), Refusal> {
    let roles_of = |m: &OrganizationMember| -> Vec<String> {
        m.organization_roles
            .iter()
            .map(|r| r.name.clone())
            .collect()
    };
    let admins_before = members
        .iter()
        .filter(|m| is_admin(template, roles_of(m).iter().map(String::as_str)))
        .count();
    let admins_after = members
        .iter()
        .filter(|m| match (m.id == target, after) {
            (true, None) => false,
            (true, Some(roles)) => is_admin(template, roles.iter().map(String::as_str)),
            (false, _) => is_admin(template, roles_of(m).iter().map(String::as_str)),
        })
        .count();
    if admins_before > 0 && admins_after == 0 {
        Err(Refusal::LastAdmin)
    } else {
        Ok(())
    }
}

/// Whether `id` can be a Logto id (`[0-9A-Za-z_-]`, at most 64): anything
/// else names no invitation, without asking Logto.
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A plausible email address (one `@`, something on each side, a dot in
/// the domain, no spaces); Logto checks it again.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::management::IdName;

    fn role(name: &str, scopes: &[&str]) -> OrganizationRole {
        OrganizationRole {
            id: format!("id-{name}"),
            name: name.into(),
            description: None,
            scopes: scopes
                .iter()
                .map(|s| IdName {
                    id: format!("s-{s}"),
                    name: (*s).into(),
                })
                .collect(),
            resource_scopes: Vec::new(),
        }
    }

    fn template() -> Vec<OrganizationRole> {
        vec![
            role(
                "admin",
                &[
                    READ_MEMBERS,
                    INVITE_MEMBERS,
                    MANAGE_MEMBERS,
                    "manage:billing",
                ],
            ),
            role("member", &[READ_MEMBERS]),
        ]
    }

    fn member(id: &str, roles: &[&str]) -> OrganizationMember {
        OrganizationMember {
            id: id.into(),
            username: None,
            name: None,
            primary_email: None,
            organization_roles: roles
                .iter()
                .map(|r| IdName {
                    id: format!("id-{r}"),
                    name: (*r).into(),
                })
                .collect(),
        }
    }

    fn perms(p: &[&str]) -> BTreeSet<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn permissions_are_required() {
        assert_eq!(require(&perms(&[READ_MEMBERS]), READ_MEMBERS), Ok(()));
        assert_eq!(
            require(&perms(&[READ_MEMBERS]), MANAGE_MEMBERS),
            Err(Refusal::MissingPermission(MANAGE_MEMBERS))
        );
    }

    #[test]
    fn an_admin_cannot_grant_what_they_do_not_hold() {
        let t = template();
        let full = perms(&[
            READ_MEMBERS,
            INVITE_MEMBERS,
            MANAGE_MEMBERS,
            "manage:billing",
        ]);
        assert_eq!(grantable(&t, &["admin".into()], &full).unwrap().len(), 1);
        let partial = perms(&[READ_MEMBERS, INVITE_MEMBERS, MANAGE_MEMBERS]);
        assert_eq!(
            grantable(&t, &["admin".into()], &partial).unwrap_err(),
            Refusal::Escalation {
                role: "admin".into(),
                permission: "manage:billing".into()
            }
        );
        assert_eq!(
            grantable(&t, &["member".into()], &partial).unwrap().len(),
            1
        );
        assert_eq!(
            grantable(&t, &["owner".into()], &full).unwrap_err(),
            Refusal::UnknownRole("owner".into())
        );
        // The same role twice is granted once.
        let twice = grantable(&t, &["member".into(), "member".into()], &full).unwrap();
        assert_eq!(twice.len(), 1);
    }

    #[test]
    fn the_last_admin_stays() {
        let t = template();
        let one_admin = [member("alice", &["admin"]), member("bob", &["member"])];
        assert_eq!(
            keeps_an_admin(&t, &one_admin, "alice", None),
            Err(Refusal::LastAdmin)
        );
        assert_eq!(
            keeps_an_admin(&t, &one_admin, "alice", Some(&["member".into()])),
            Err(Refusal::LastAdmin)
        );
        assert_eq!(
            keeps_an_admin(
                &t,
                &one_admin,
                "alice",
                Some(&["admin".into(), "member".into()])
            ),
            Ok(())
        );
        assert_eq!(keeps_an_admin(&t, &one_admin, "bob", None), Ok(()));
        let two_admins = [member("alice", &["admin"]), member("carol", &["admin"])];
        assert_eq!(keeps_an_admin(&t, &two_admins, "alice", None), Ok(()));
        // An organization that has no admin is not this rule's business.
        let none = [member("bob", &["member"])];
        assert_eq!(keeps_an_admin(&t, &none, "bob", None), Ok(()));
    }

    #[test]
    fn ids() {
        assert!(plausible_id("c15ba1sacf69u6umbmmx2"));
        for bad in ["", "a/b", "..", "a%2F", "a b", &"x".repeat(65)] {
            assert!(!plausible_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn email_addresses() {
        for ok in ["erin@acme.test", "a.b+c@sub.example.org"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "erin",
            "@acme.test",
            "erin@",
            "erin@acme",
            "a@b@c.d",
            "e rin@acme.test",
            "erin@.test",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
