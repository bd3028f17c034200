//! Organization invitations (`/api/organization-invitations`), with the checks of Logto's
//! `OrganizationInvitationLibrary`.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, TENANT_ID, json_body, role_name_by_id, role_ref};
use crate::directory::{Invitation, InvitationMessage, InvitationStatus, random_id};
use crate::state::{AppState, now_millis};

type Data = web::Data<Arc<AppState>>;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/organization-invitations", web::get().to(list_invitations))
        .route("/organization-invitations", web::post().to(create))
        .route("/organization-invitations/{id}", web::get().to(get_one))
        .route("/organization-invitations/{id}", web::delete().to(delete))
        .route(
            "/organization-invitations/{id}/status",
            web::put().to(set_status),
        )
        .route(
            "/organization-invitations/{id}/message",
            web::post().to(send_message),
        );
}

/// `POST /api/organization-invitations/{id}/message` (a message payload, e.g.
/// `{"link": …}`): recorded like a payload given at creation (real Logto sends it
/// through its email connector, or answers 501 `connector.not_found` without one);
/// 204; 404 when unknown.
async fn send_message(
    state: Data,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let payload: Value = json_body(&body)?;
    let mut directory = state.directory_mut();
    let inv = directory
        .invitations
        .iter()
        .find(|i| i.id == *path)
        .ok_or_else(ApiError::not_found)?;
    let message = InvitationMessage {
        invitation_id: inv.id.clone(),
        invitee: inv.invitee.clone(),
        organization_id: inv.organization_id.clone(),
        payload,
    };
    tracing::info!(invitee = %message.invitee, "invitation email recorded (not sent)");
    directory.messages.push(message);
    Ok(HttpResponse::NoContent().finish())
}

/// An invitation as Logto shows it: the status computed (`Expired` once past
/// `expiresAt`), `organizationRoles` as `{id, name}` by name.
fn invitation_json(inv: &Invitation, now_ms: i64) -> Value {
    let mut roles = inv.roles.clone();
    roles.sort();
    json!({
        "tenantId": TENANT_ID,
        "id": inv.id,
        "inviterId": inv.inviter_id,
        "invitee": inv.invitee,
        "acceptedUserId": inv.accepted_user_id,
        "organizationId": inv.organization_id,
        "status": inv.status_at(now_ms),
        "createdAt": inv.created_at,
        "updatedAt": inv.updated_at,
        "expiresAt": inv.expires_at,
        "organizationRoles": roles.iter().map(|r| role_ref(r)).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    organization_id: Option<String>,
    inviter_id: Option<String>,
    invitee: Option<String>,
}

/// `GET /api/organization-invitations?organizationId=&inviterId=&invitee=` (not paginated).
async fn list_invitations(
    state: Data,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = now_millis();
    let directory = state.directory();
    let items: Vec<Value> = directory
        .invitations
        .iter()
        .filter(|i| {
            query
                .organization_id
                .as_ref()
                .is_none_or(|o| &i.organization_id == o)
                && query
                    .inviter_id
                    .as_ref()
                    .is_none_or(|id| i.inviter_id.as_ref() == Some(id))
                && query
                    .invitee
                    .as_ref()
                    .is_none_or(|e| i.invitee.eq_ignore_ascii_case(e))
        })
        .map(|i| invitation_json(i, now))
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewInvitation {
    #[serde(default)]
    inviter_id: Option<String>,
    invitee: String,
    organization_id: String,
    expires_at: i64,
    #[serde(default)]
    organization_role_ids: Vec<String>,
    /// An object (the email's payload) or `false` (no email), Logto's default.
    #[serde(default)]
    message_payload: Option<Value>,
}

/// Logto's `z.string().email()`, roughly: one `@`, something on both sides, a dot after it.
pub(super) fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// `POST /api/organization-invitations`: 201 with the invitation (`Pending`). Instead of
/// sending an email, a `messagePayload` object is recorded
/// ([`crate::DevIdp::invitation_messages`]); real Logto sends it through its email
/// connector (and answers 501 `connector.not_found` without one).
async fn create(state: Data, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let body: NewInvitation = json_body(&body)?;
    if !looks_like_email(&body.invitee) {
        return Err(ApiError::guard(
            "body",
            "Error in key path \"invitee\": (invalid_string) Invalid email".to_owned(),
        ));
    }
    let payload = match body.message_payload {
        None | Some(Value::Bool(false)) => None,
        Some(p @ Value::Object(_)) => Some(p),
        Some(_) => {
            return Err(ApiError::guard(
                "body",
                "Error in key path \"messagePayload\": an object or false".to_owned(),
            ));
        }
    };
    let now = now_millis();
    if body.expires_at <= now {
        return Err(ApiError::invalid_input(
            400,
            "The value of `expiresAt` must be in the future.",
        ));
    }
    let mut directory = state.directory_mut();
    let already_member = directory.user_by_email(&body.invitee).is_some_and(|u| {
        directory
            .seed
            .organization(&body.organization_id)
            .is_some_and(|o| o.members.iter().any(|m| m.user_id == u.id))
    });
    if already_member {
        return Err(ApiError::invalid_input(
            422,
            "The invitee is already a member of the organization.",
        ));
    }
    // Pending invitations past their time become `Expired` for good first.
    for inv in directory.invitations.iter_mut().filter(|i| {
        i.organization_id == body.organization_id && i.invitee.eq_ignore_ascii_case(&body.invitee)
    }) {
        if inv.status_at(now) == InvitationStatus::Expired {
            inv.status = InvitationStatus::Expired;
        }
    }
    let inviter_known = body
        .inviter_id
        .as_ref()
        .is_none_or(|id| directory.seed.user(id).is_some());
    if directory.seed.organization(&body.organization_id).is_none() || !inviter_known {
        return Err(ApiError::foreign_key());
    }
    // One pending invitation per invitee and organization (Logto's unique index).
    if directory.invitations.iter().any(|i| {
        i.status == InvitationStatus::Pending
            && i.invitee == body.invitee
            && i.organization_id == body.organization_id
    }) {
        return Err(ApiError::new(
            422,
            "entity.unique_integrity_violation",
            "The entity already exists. Please check the input and try again.",
        ));
    }
    let mut roles = Vec::new();
    for id in &body.organization_role_ids {
        let name = role_name_by_id(&state, id).ok_or_else(ApiError::foreign_key)?;
        if !roles.iter().any(|r: &String| r == name) {
            roles.push(name.to_owned());
        }
    }
    let invitation = Invitation {
        id: random_id(21),
        inviter_id: body.inviter_id,
        invitee: body.invitee,
        accepted_user_id: None,
        organization_id: body.organization_id,
        status: InvitationStatus::Pending,
        created_at: now,
        updated_at: now,
        expires_at: body.expires_at,
        roles,
    };
    if let Some(payload) = payload {
        tracing::info!(invitee = %invitation.invitee, "invitation email recorded (not sent)");
        directory.messages.push(InvitationMessage {
            invitation_id: invitation.id.clone(),
            invitee: invitation.invitee.clone(),
            organization_id: invitation.organization_id.clone(),
            payload,
        });
    }
    let json = invitation_json(&invitation, now);
    directory.invitations.push(invitation);
    Ok(HttpResponse::Created().json(json))
}

/// `GET /api/organization-invitations/{id}`: 404 `entity.not_found` when unknown.
async fn get_one(state: Data, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let directory = state.directory();
    let inv = directory
        .invitations
        .iter()
        .find(|i| i.id == *path)
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(invitation_json(inv, now_millis())))
}

/// `DELETE /api/organization-invitations/{id}`: 204; 404 when unknown.
async fn delete(state: Data, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let mut directory = state.directory_mut();
    let before = directory.invitations.len();
    directory.invitations.retain(|i| i.id != *path);
    if directory.invitations.len() == before {
        return Err(ApiError::not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusChange {
    status: String,
    #[serde(default)]
    accepted_user_id: Option<String>,
}

/// `PUT /api/organization-invitations/{id}/status` `{status, acceptedUserId}`: `Revoked`,
/// or `Accepted` by a user whose primary email is the invitee's (case-insensitive), who
/// then joins the organization with the invitation's roles. An invitation already
/// accepted, revoked or expired cannot change: 422.
async fn set_status(
    state: Data,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: StatusChange = json_body(&body)?;
    let accept = match body.status.as_str() {
        "Accepted" => true,
        "Revoked" => false,
        other => {
            return Err(ApiError::guard(
                "body",
                format!(
                    "Error in key path \"status\": (invalid_enum_value) Invalid enum value. \
                     Expected 'Accepted' | 'Revoked', received '{other}'"
                ),
            ));
        }
    };
    if accept && body.accepted_user_id.is_none() {
        return Err(ApiError::invalid_input(
            422,
            "The `acceptedUserId` is required when accepting an invitation.",
        ));
    }
    let now = now_millis();
    let mut directory = state.directory_mut();
    let index = directory
        .invitations
        .iter()
        .position(|i| i.id == *path)
        .ok_or_else(ApiError::not_found)?;
    let Some(invitation) = directory.invitations.get(index).cloned() else {
        return Err(ApiError::not_found());
    };
    if invitation.status_at(now) != InvitationStatus::Pending {
        return Err(ApiError::invalid_input(
            422,
            "The status of the invitation cannot be changed anymore.",
        ));
    }
    let accepted_user_id = if accept {
        let user_id = body.accepted_user_id.unwrap_or_default();
        let user = directory
            .seed
            .user(&user_id)
            .ok_or_else(ApiError::not_found)?;
        let same_email = user
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&invitation.invitee));
        if !same_email {
            return Err(ApiError::invalid_input(
                422,
                "The accepted user must have the same email as the invitee.",
            ));
        }
        directory.add_member(&invitation.organization_id, &user_id);
        if let Some(member) = directory.member_mut(&invitation.organization_id, &user_id) {
            for role in &invitation.roles {
                if !member.roles.contains(role) {
                    member.roles.push(role.clone());
                }
            }
        }
        Some(user_id)
    } else {
        None
    };
    let Some(stored) = directory.invitations.get_mut(index) else {
        return Err(ApiError::not_found());
    };
    stored.status = if accept {
        InvitationStatus::Accepted
    } else {
        InvitationStatus::Revoked
    };
    if accepted_user_id.is_some() {
        stored.accepted_user_id = accepted_user_id;
    }
    stored.updated_at = now;
    Ok(HttpResponse::Ok().json(invitation_json(stored, now)))
}

#[cfg(test)]
mod tests {
    use super::looks_like_email;

    #[test]
    fn invitees_must_look_like_emails() {
        assert!(looks_like_email("new@acme.test"));
        for bad in ["", "new", "@acme.test", "new@", "new@acme", "a b@acme.test"] {
            assert!(!looks_like_email(bad), "{bad:?}");
        }
    }
}
