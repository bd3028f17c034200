//! Organizations, their members and members' roles; the organization template
//! (`/api/organization-roles`, `/api/organization-scopes`).

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiError, json_body, list, organization_json, organization_role_json, organization_scope_id,
    organization_scope_json, pagination, role_name_by_id, role_ref, user_json,
};
use crate::state::AppState;

type Query = web::Query<Vec<(String, String)>>;
type Data = web::Data<Arc<AppState>>;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations/{id}", web::get().to(get_organization))
        .route("/organizations/{id}/users", web::get().to(list_members))
        .route("/organizations/{id}/users", web::post().to(add_members))
        .route(
            "/organizations/{id}/users/{user_id}",
            web::delete().to(remove_member),
        )
        .route(
            "/organizations/{id}/users/{user_id}/roles",
            web::get().to(member_roles),
        )
        .route(
            "/organizations/{id}/users/{user_id}/roles",
            web::put().to(set_member_roles),
        )
        .route(
            "/organizations/{id}/users/{user_id}/scopes",
            web::get().to(member_scopes),
        )
        .route("/organization-roles", web::get().to(list_roles))
        .route("/organization-scopes", web::get().to(list_scopes));
}

/// `GET /api/organizations/{id}`: 404 `entity.not_found` for an unknown id.
async fn get_organization(state: Data, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let directory = state.directory();
    let org = directory
        .seed
        .organization(&path)
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(organization_json(org)))
}

/// Whether `user` matches Logto's `q` search (a substring of id, email, phone, username or
/// name, case-insensitive).
fn matches_q(user: &crate::seed::User, q: &str) -> bool {
    let q = q.to_lowercase();
    [
        Some(user.id.as_str()),
        user.email.as_deref(),
        user.phone.as_deref(),
        Some(user.username.as_str()),
        user.name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|v| v.to_lowercase().contains(&q))
}

/// `GET /api/organizations/{id}/users`: members by user id, each with `organizationRoles`
/// (`{id, name}` by name). An unknown organization has no members: `200 []`, as in Logto.
async fn list_members(
    state: Data,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let page = pagination(&query, false)?;
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let q = get("q");
    let role_filter = get("organizationRoleId");
    let directory = state.directory();
    let mut members: Vec<(String, Value)> = Vec::new();
    if let Some(org) = directory.seed.organization(&path) {
        for member in &org.members {
            let Some(user) = directory.seed.user(&member.user_id) else {
                continue;
            };
            if q.as_deref().is_some_and(|q| !matches_q(user, q)) {
                continue;
            }
            let mut roles: Vec<&String> = member.roles.iter().collect();
            roles.sort();
            if role_filter.as_deref().is_some_and(|id| {
                !roles
                    .iter()
                    .any(|r| super::organization_role_id(r.as_str()) == id)
            }) {
                continue;
            }
            let mut json = user_json(user);
            json["organizationRoles"] = Value::Array(roles.iter().map(|r| role_ref(r)).collect());
            members.push((user.id.clone(), json));
        }
    }
    members.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(list(members.into_iter().map(|(_, v)| v).collect(), page))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIds {
    user_ids: Vec<String>,
}

/// `POST /api/organizations/{id}/users` `{userIds}`: adds members (existing ones stay as
/// they are); 201 echoing the body. An unknown organization or user: 422.
async fn add_members(
    state: Data,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: UserIds = json_body(&body)?;
    if body.user_ids.is_empty() || body.user_ids.iter().any(String::is_empty) {
        return Err(ApiError::guard(
            "body",
            "`userIds` must be a non-empty array of ids".to_owned(),
        ));
    }
    let mut directory = state.directory_mut();
    if directory.seed.organization(&path).is_none()
        || body
            .user_ids
            .iter()
            .any(|id| directory.seed.user(id).is_none())
    {
        return Err(ApiError::foreign_key());
    }
    for id in &body.user_ids {
        directory.add_member(&path, id);
    }
    Ok(HttpResponse::Created().json(json!({ "userIds": body.user_ids })))
}

/// `DELETE /api/organizations/{id}/users/{userId}`: 204; 404 when not a member.
async fn remove_member(
    state: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = path.into_inner();
    let mut directory = state.directory_mut();
    let org = directory
        .seed
        .organizations
        .iter_mut()
        .find(|o| o.id == org_id)
        .ok_or_else(ApiError::not_found)?;
    let before = org.members.len();
    org.members.retain(|m| m.user_id != user_id);
    if org.members.len() == before {
        return Err(ApiError::not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `organization.require_membership` (422), Logto's guard on `/users/{userId}/roles`.
fn require_membership() -> ApiError {
    ApiError::new(
        422,
        "organization.require_membership",
        "The user must be a member of the organization to proceed.",
    )
}

/// `GET /api/organizations/{id}/users/{userId}/roles`: the member's roles with their
/// permissions (pagination optional).
async fn member_roles(
    state: Data,
    path: web::Path<(String, String)>,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let page = pagination(&query, true)?;
    let (org_id, user_id) = path.into_inner();
    let mut roles: Vec<String> = {
        let directory = state.directory();
        let org = directory.seed.organization(&org_id);
        let member = org
            .and_then(|o| o.members.iter().find(|m| m.user_id == user_id))
            .ok_or_else(require_membership)?;
        member.roles.clone()
    };
    roles.sort();
    let items = roles
        .iter()
        .filter_map(|name| state.seed.organization_role(name))
        .map(|role| {
            let mut json = organization_role_json(&state, role);
            // The plain role, without the lists `organization-roles` adds.
            if let Some(obj) = json.as_object_mut() {
                obj.remove("scopes");
                obj.remove("resourceScopes");
            }
            json
        })
        .collect();
    Ok(list(items, page))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleIds {
    #[serde(default)]
    organization_role_ids: Vec<String>,
    #[serde(default)]
    organization_role_names: Vec<String>,
}

/// `PUT /api/organizations/{id}/users/{userId}/roles` `{organizationRoleIds}` (or
/// `organizationRoleNames`): replaces the member's roles; 204. Not a member: 422
/// `organization.require_membership`; an unknown role id: 422; an unknown name: 422
/// `organization.role_names_not_found`.
async fn set_member_roles(
    state: Data,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = path.into_inner();
    let body: RoleIds = json_body(&body)?;
    let mut directory = state.directory_mut();
    let Some(member) = directory.member_mut(&org_id, &user_id) else {
        return Err(require_membership());
    };
    let missing: Vec<&str> = body
        .organization_role_names
        .iter()
        .filter(|n| state.seed.organization_role(n).is_none())
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::new(
            422,
            "organization.role_names_not_found",
            format!(
                "Invalid role names detected: {}. Please create these roles first before proceeding.",
                missing.join(", ")
            ),
        ));
    }
    let mut names: Vec<String> = Vec::new();
    for id in &body.organization_role_ids {
        let name = role_name_by_id(&state, id).ok_or_else(ApiError::foreign_key)?;
        names.push(name.to_owned());
    }
    names.extend(body.organization_role_names.iter().cloned());
    let mut unique: Vec<String> = Vec::new();
    for n in names {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    member.roles = unique;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/organizations/{id}/users/{userId}/scopes`: the organization permissions the
/// member holds through their roles (`[]` for a non-member, as Logto answers).
async fn member_scopes(
    state: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = path.into_inner();
    let permissions = state
        .directory()
        .seed
        .organization_permissions(&user_id, &org_id)
        .unwrap_or_default();
    let mut scopes: Vec<(String, Value)> = permissions
        .iter()
        .map(|p| (organization_scope_id(p), organization_scope_json(p)))
        .collect();
    scopes.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(HttpResponse::Ok().json(scopes.into_iter().map(|(_, v)| v).collect::<Vec<_>>()))
}

/// `GET /api/organization-roles`: the template's roles with `scopes` and `resourceScopes`.
async fn list_roles(state: Data, query: Query) -> Result<HttpResponse, ApiError> {
    let page = pagination(&query, false)?;
    let items = state
        .seed
        .organization_roles
        .iter()
        .map(|r| organization_role_json(&state, r))
        .collect();
    Ok(list(items, page))
}

/// `GET /api/organization-scopes`: every organization permission of the template.
async fn list_scopes(state: Data, query: Query) -> Result<HttpResponse, ApiError> {
    let page = pagination(&query, true)?;
    let mut names: Vec<&String> = Vec::new();
    for p in state
        .seed
        .organization_roles
        .iter()
        .flat_map(|r| r.permissions.iter())
    {
        if !names.contains(&p) {
            names.push(p);
        }
    }
    let items = names.iter().map(|n| organization_scope_json(n)).collect();
    Ok(list(items, page))
}
