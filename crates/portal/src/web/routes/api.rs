//! JSON API: `/api/me` (session) and bearer-token routes for resource servers.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use logto_client::ValidationError;

use crate::self_service::{Actor, SelfService};
use crate::state::AppState;
use crate::web::auth::Authenticated;
use crate::web::error::AppError;

/// The permission `GET /api/reports` requires on `PORTAL_API_RESOURCE`.
pub const REPORTS_SCOPE: &str = "read:reports";

/// `GET /api/me`: the ID token's claims; 401 JSON when signed out.
pub async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(auth.claims())
}

/// The token of an `Authorization: Bearer <token>` header, or the JSON 401
/// of RFC 6750 (through [`AppError::Bearer`]). Ours rather than
/// `actix-web-httpauth`'s `BearerAuth`: that one matches the scheme
/// case-sensitively (RFC 7235 says it is not) and brings a second `base64`.
pub struct BearerToken(String);

impl BearerToken {
    fn parse(req: &HttpRequest) -> Result<Self, AppError> {
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AppError::Bearer {
                status: StatusCode::UNAUTHORIZED,
                code: "invalid_request",
                description: "a bearer token is required".into(),
            })?;
        match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Ok(Self(token.trim().to_owned()))
            }
            _ => Err(AppError::Bearer {
                status: StatusCode::UNAUTHORIZED,
                code: "invalid_request",
                description: "the Authorization header must be `Bearer <token>`".into(),
            }),
        }
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromRequest for BearerToken {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::parse(req))
    }
}

/// Maps a token validation failure: another audience is 403 (the token is
/// genuine but not for this resource), anything else 401.
fn token_error(e: logto_client::Error) -> AppError {
    match e {
        logto_client::Error::Validation(ValidationError::AudienceMismatch) => AppError::Bearer {
            status: StatusCode::FORBIDDEN,
            code: "insufficient_scope",
            description: "the token is for another audience".into(),
        },
        logto_client::Error::Transport(t) => AppError::IdpUnavailable(anyhow::Error::new(t)),
        other => AppError::Bearer {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_token",
            description: match &other {
                logto_client::Error::Validation(v) => v.to_string(),
                _ => "the token is not valid".into(),
            },
        },
    }
}

/// `GET /api/orgs/{organization_id}/whoami`: requires an organization token
/// for exactly that organization.
pub async fn org_whoami(
    token: BearerToken,
    state: web::Data<AppState>,
    organization_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let claims = state
        .client
        .verify_organization_token(token.as_str(), organization_id.into_inner())
        .await
        .map_err(token_error)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "sub": claims.claims.sub,
            "organization_id": claims.organization_id,
            "scopes": claims.scopes().collect::<Vec<_>>(),
            "client_id": claims.claims.client_id,
            "exp": claims.claims.exp,
        })))
}

/// `GET /api/reports`: requires an access token for `PORTAL_API_RESOURCE`
/// carrying the `read:reports` permission.
pub async fn reports(
    // Taken as a `Result`: without a configured resource the route is a 404
    // whatever the header says.
    token: Result<BearerToken, AppError>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(resource) = state.settings.api_resource.as_ref() else {
        return Err(AppError::NotFound("no API resource is configured".into()));
    };
    let token = token?;
    let claims = state
        .client
        .verify_access_token(token.as_str(), resource)
        .await
        .map_err(token_error)?;
    if !claims.scope.split_whitespace().any(|s| s == REPORTS_SCOPE) {
        return Err(AppError::Bearer {
            status: StatusCode::FORBIDDEN,
            code: "insufficient_scope",
            description: format!("the `{REPORTS_SCOPE}` permission is required"),
        });
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "sub": claims.sub,
            "organization_id": claims.organization_id,
            "scopes": claims.scope.split_whitespace().collect::<Vec<_>>(),
            "reports": [],
        })))
}

// ---- organization self-service (`/api/orgs/{organization_id}/…`) ------------------

/// Self-service (503 when not configured) and the actor of a bearer
/// organization token for exactly `organization_id`, with the permissions
/// Logto still grants its holder.
async fn bearer_actor(
    state: &AppState,
    token: &BearerToken,
    organization_id: &str,
) -> Result<(Arc<SelfService>, Actor), AppError> {
    let service = super::members::service(state)?;
    let claims = state
        .client
        .verify_organization_token(token.as_str(), organization_id)
        .await
        .map_err(token_error)?;
    let actor = Actor {
        sub: claims.claims.sub.clone(),
        name: None,
        permissions: claims.scopes().map(str::to_owned).collect(),
    };
    let actor = service
        .confirmed(organization_id, actor)
        .await
        .map_err(api_error)?;
    Ok((service, actor))
}

/// A missing permission is the bearer's `insufficient_scope`; the rest as
/// on the pages.
fn api_error(e: crate::self_service::SelfServiceError) -> AppError {
    use crate::self_service::{Refusal, SelfServiceError};
    match e {
        SelfServiceError::Refused(Refusal::MissingPermission(p)) => AppError::Bearer {
            status: StatusCode::FORBIDDEN,
            code: "insufficient_scope",
            description: format!("the `{p}` permission is required"),
        },
        other => other.into(),
    }
}

fn json_no_store(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn invitation_json(
    service: &SelfService,
    i: &crate::management::OrganizationInvitation,
) -> serde_json::Value {
    serde_json::json!({
        "id": i.id,
        "invitee": i.invitee,
        "status": i.status,
        "roles": i.organization_roles.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "expires_at": i.expires_at / 1000,
        "link": service.invitation_link(&i.id),
    })
}

/// `GET /api/orgs/{organization_id}/members` (`read:members`).
pub async fn org_members(
    token: BearerToken,
    state: web::Data<AppState>,
    organization_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (service, actor) = bearer_actor(&state, &token, &organization_id).await?;
    let members = service
        .members(&organization_id, &actor)
        .await
        .map_err(api_error)?;
    let members: Vec<_> = members
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id,
                "name": m.name,
                "username": m.username,
                "email": m.primary_email,
                "roles": m.organization_roles.iter().map(|r| &r.name).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json_no_store(
        StatusCode::OK,
        serde_json::json!({ "members": members }),
    ))
}

/// `GET /api/orgs/{organization_id}/invitations` (`invite:members`): the pending ones.
pub async fn org_invitations(
    token: BearerToken,
    state: web::Data<AppState>,
    organization_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (service, actor) = bearer_actor(&state, &token, &organization_id).await?;
    let pending = service
        .invitations(&organization_id, &actor)
        .await
        .map_err(api_error)?;
    let pending: Vec<_> = pending
        .iter()
        .map(|i| invitation_json(&service, i))
        .collect();
    Ok(json_no_store(
        StatusCode::OK,
        serde_json::json!({ "invitations": pending }),
    ))
}

/// The body of `POST /api/orgs/{organization_id}/invitations`.
#[derive(serde::Deserialize)]
pub struct InviteBody {
    email: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// `POST /api/orgs/{organization_id}/invitations` (`invite:members`):
/// `{"email": …, "roles": […]}`; 201 with the invitation and its link.
pub async fn org_invite(
    token: BearerToken,
    state: web::Data<AppState>,
    organization_id: web::Path<String>,
    body: web::Json<InviteBody>,
) -> Result<HttpResponse, AppError> {
    let (service, actor) = bearer_actor(&state, &token, &organization_id).await?;
    let invited = service
        .invite(
            &state.pool,
            &organization_id,
            &actor,
            &body.email,
            &body.roles,
        )
        .await
        .map_err(api_error)?;
    Ok(json_no_store(
        StatusCode::CREATED,
        invitation_json(&service, &invited.invitation),
    ))
}

/// `DELETE /api/orgs/{organization_id}/invitations/{id}` (`invite:members`): revokes it.
pub async fn org_revoke_invitation(
    token: BearerToken,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (organization_id, id) = path.into_inner();
    let (service, actor) = bearer_actor(&state, &token, &organization_id).await?;
    service
        .revoke_invitation(&state.pool, &organization_id, &actor, &id)
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// The body of `PUT /api/orgs/{organization_id}/members/{user_id}/roles`.
#[derive(serde::Deserialize)]
pub struct RolesBody {
    roles: Vec<String>,
}

/// `PUT /api/orgs/{organization_id}/members/{user_id}/roles` (`manage:members`).
pub async fn org_set_roles(
    token: BearerToken,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<RolesBody>,
) -> Result<HttpResponse, AppError> {
    let (organization_id, user_id) = path.into_inner();
    let (service, actor) = bearer_actor(&state, &token, &organization_id).await?;
    service
        .set_roles(&state.pool, &organization_id, &actor, &user_id, &body.roles)
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/orgs/{organization_id}/members/{user_id}` (`manage:members`).
pub async fn org_remove_member(
    token: BearerToken,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (organization_id, user_id) = path.into_inner();
    let (service, actor) = bearer_actor(&state, &token, &organization_id).await?;
    service
        .remove(&state.pool, &organization_id, &actor, &user_id)
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `?before=` of the audit trail.
#[derive(serde::Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/orgs/{organization_id}/audit?before=&limit=` (`manage:members`):
/// newest first, at most 100 a page; `next_before` pages on.
pub async fn org_audit(
    token: BearerToken,
    state: web::Data<AppState>,
    organization_id: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let (service, actor) = bearer_actor(&state, &token, &organization_id).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let events = service
        .audit_page(&state.pool, &organization_id, &actor, query.before, limit)
        .await
        .map_err(api_error)?;
    let next = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(json_no_store(
        StatusCode::OK,
        serde_json::json!({ "events": events, "next_before": next }),
    ))
}
