//! The part of Logto's Management API (`/api/*`) that organization self-service uses:
//! organizations' members and roles, the organization template, invitations, one-time
//! tokens and users. Every call needs a Management API token (`client_credentials` with
//! `resource=https://default.logto.app/api` and `scope=all`); errors are Logto's
//! `{"code", "message"}` bodies, lists are paginated with `page`/`page_size` and a
//! `Total-Number` header, as in Logto 1.42.

mod invitations;
mod one_time_tokens;
mod organizations;
mod users;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, ResponseError, web};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::seed::{Organization, OrganizationRole, User};
use crate::state::AppState;
use crate::token::MANAGEMENT_API_SCOPE;

/// Logto OSS's one tenant.
const TENANT_ID: &str = "default";

/// A Management API error: Logto's `RequestError` body.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    data: Option<Value>,
    details: Option<String>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message: message.into(),
            data: None,
            details: None,
        }
    }

    /// `entity.not_found` (404): what a lookup or deletion of nothing answers.
    fn not_found() -> Self {
        Self::new(404, "entity.not_found", "The resource does not exist.")
    }

    /// `request.invalid_input` with Logto's details in the message.
    fn invalid_input(status: u16, details: &str) -> Self {
        Self::new(
            status,
            "request.invalid_input",
            format!("Input is invalid. {details}"),
        )
    }

    /// `entity.relation_foreign_key_not_found` (422): an unknown organization, user or role.
    fn foreign_key() -> Self {
        Self::new(
            422,
            "entity.relation_foreign_key_not_found",
            "Cannot find one or more foreign keys. Please check the input and ensure that all \
             referenced entities exist.",
        )
    }

    /// `guard.invalid_input` (400): a body or query that does not have the expected shape.
    fn guard(kind: &str, details: String) -> Self {
        let mut e = Self::new(
            400,
            "guard.invalid_input",
            format!("The request {kind} is invalid."),
        );
        e.details = Some(details);
        e
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = serde_json::Map::new();
        body.insert("code".into(), json!(self.code));
        if let Some(data) = &self.data {
            body.insert("data".into(), data.clone());
        }
        if let Some(details) = &self.details {
            body.insert("details".into(), json!(details));
        }
        body.insert("message".into(), json!(self.message));
        HttpResponse::build(self.status)
            .content_type("application/json; charset=utf-8")
            .body(Value::Object(body).to_string())
    }
}

/// The `/api` scope, behind the Management API token check.
pub(crate) fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/api")
        .wrap(from_fn(require_management_token))
        .configure(organizations::routes)
        .configure(invitations::routes)
        .configure(one_time_tokens::routes)
        .configure(users::routes)
}

/// The auth gate of `/api/*`: a bearer token this instance issued for the Management API,
/// not expired, with the scope `all` (Logto's `koaAuth`).
async fn require_management_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<Arc<AppState>>>().cloned() else {
        return Err(ApiError::new(500, "unknown", "no state").into());
    };
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(header) = header else {
        return Err(ApiError::new(
            401,
            "auth.authorization_header_missing",
            "Authorization header is missing.",
        )
        .into());
    };
    let Some(token) = header.strip_prefix("Bearer ") else {
        let mut e = ApiError::new(
            401,
            "auth.authorization_token_type_not_supported",
            "Authorization type is not supported.",
        );
        e.data = Some(json!({ "supportedTypes": ["Bearer"] }));
        return Err(e.into());
    };
    let known = state.store().management_tokens.get(token).cloned();
    let Some(known) = known.filter(|t| t.expires > Instant::now()) else {
        return Err(ApiError::new(
            401,
            "auth.unauthorized",
            "Unauthorized. Please check credentials and its scope.",
        )
        .into());
    };
    if !known.scopes.iter().any(|s| s == MANAGEMENT_API_SCOPE) {
        return Err(ApiError::new(
            403,
            "auth.forbidden",
            "Forbidden. Please check your user roles and permissions.",
        )
        .into());
    }
    tracing::debug!(client_id = %known.client_id, path = %req.path(), "Management API call");
    state.count(|c| c.management_api_calls += 1);
    next.call(req).await
}

/// Parses a JSON body, answering Logto's `guard.invalid_input` when it does not fit.
fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::guard("body", e.to_string()))
}

/// `page` and `page_size` (Logto's `koaPagination`: page size 20 by default, at most 100).
/// `None` when pagination is optional and neither is given.
#[derive(Debug, Clone, Copy)]
struct Page {
    offset: usize,
    limit: usize,
}

fn pagination(query: &[(String, String)], optional: bool) -> Result<Option<Page>, ApiError> {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let (page, size) = (get("page"), get("page_size"));
    if optional && page.is_none() && size.is_none() {
        return Ok(None);
    }
    let invalid = || {
        ApiError::new(
            400,
            "guard.invalid_pagination",
            "The request pagination value is invalid.",
        )
    };
    let number = |v: Option<&str>, default: usize| -> Result<usize, ApiError> {
        match v {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(invalid),
        }
    };
    let page = number(page, 1)?;
    let limit = number(size, 20)?;
    if limit > 100 {
        return Err(invalid());
    }
    Ok(Some(Page {
        offset: (page - 1).saturating_mul(limit),
        limit,
    }))
}

/// A JSON list, one page of it with `Total-Number` when paginated.
fn list(items: Vec<Value>, page: Option<Page>) -> HttpResponse {
    let Some(page) = page else {
        return HttpResponse::Ok().json(items);
    };
    let total = items.len();
    let items: Vec<Value> = items
        .into_iter()
        .skip(page.offset)
        .take(page.limit)
        .collect();
    HttpResponse::Ok()
        .insert_header(("Total-Number", total.to_string()))
        .json(items)
}

fn null_if_empty(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

/// Logto stores phone numbers as digits only.
fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// A user as the Management API shows it (Logto's `userInfoSelectFields`).
fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": null_if_empty(&user.username),
        "primaryEmail": user.email,
        "primaryPhone": user.phone.as_deref().map(phone_digits),
        "name": user.name,
        "avatar": user.picture,
        "customData": user.custom_data,
        "identities": user.identities,
        "lastSignInAt": null,
        "createdAt": user.created_at,
        "updatedAt": user.updated_at,
        "profile": {},
        "applicationId": null,
        "isSuspended": false,
        "hasPassword": !user.password.is_empty(),
    })
}

fn organization_role_id(name: &str) -> String {
    crate::directory::derived_id("organization-role", name)
}

fn organization_scope_id(name: &str) -> String {
    crate::directory::derived_id("organization-scope", name)
}

/// `{id, name}` of an organization role.
fn role_ref(name: &str) -> Value {
    json!({ "id": organization_role_id(name), "name": name })
}

/// An organization permission (`organization_scopes`).
fn organization_scope_json(name: &str) -> Value {
    json!({
        "tenantId": TENANT_ID,
        "id": organization_scope_id(name),
        "name": name,
        "description": null,
    })
}

/// An organization as `GET /api/organizations/{id}` shows it.
fn organization_json(org: &Organization) -> Value {
    json!({
        "tenantId": TENANT_ID,
        "id": org.id,
        "name": org.name,
        "description": org.description,
        "customData": {},
        "isMfaRequired": false,
        "color": {},
        "branding": {},
        "customCss": null,
        "createdAt": 0,
    })
}

/// An organization role with its permissions, as `GET /api/organization-roles` lists it.
fn organization_role_json(state: &AppState, role: &OrganizationRole) -> Value {
    let scopes: Vec<Value> = role
        .permissions
        .iter()
        .map(|p| json!({ "id": organization_scope_id(p), "name": p }))
        .collect();
    let resource_scopes: Vec<Value> = role
        .resource_scopes
        .iter()
        .flat_map(|(indicator, scopes)| {
            let resource_name = state
                .seed
                .resource(indicator)
                .map_or(indicator.as_str(), |r| r.name.as_str());
            scopes.iter().map(move |s| {
                json!({
                    "id": crate::directory::derived_id("scope", &format!("{indicator} {s}")),
                    "name": s,
                    "resource": {
                        "id": crate::directory::derived_id("resource", indicator),
                        "name": resource_name,
                    },
                })
            })
        })
        .collect();
    json!({
        "tenantId": TENANT_ID,
        "id": organization_role_id(&role.name),
        "name": role.name,
        "description": null,
        "type": "User",
        "scopes": scopes,
        "resourceScopes": resource_scopes,
    })
}

/// The name of the organization role with this id.
fn role_name_by_id<'a>(state: &'a AppState, id: &str) -> Option<&'a str> {
    state
        .seed
        .organization_roles
        .iter()
        .find(|r| organization_role_id(&r.name) == id)
        .map(|r| r.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pagination_follows_logto() {
        assert!(pagination(&q(&[]), true).unwrap().is_none());
        let p = pagination(&q(&[]), false).unwrap().unwrap();
        assert_eq!((p.offset, p.limit), (0, 20));
        let p = pagination(&q(&[("page", "3"), ("page_size", "5")]), true)
            .unwrap()
            .unwrap();
        assert_eq!((p.offset, p.limit), (10, 5));
        for bad in [("page", "0"), ("page_size", "101"), ("page", "x")] {
            let e = pagination(&q(&[bad]), false).unwrap_err();
            assert_eq!(e.code, "guard.invalid_pagination", "{bad:?}");
        }
    }

    #[test]
    fn lists_carry_total_number_only_when_paginated() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let resp = list(
            items.clone(),
            Some(Page {
                offset: 2,
                limit: 2,
            }),
        );
        assert_eq!(resp.headers().get("Total-Number").unwrap(), "5");
        assert!(list(items, None).headers().get("Total-Number").is_none());
    }

    #[test]
    fn error_bodies_are_logtos() {
        let body = ApiError::not_found().error_response();
        assert_eq!(body.status(), 404);
        let e =
            ApiError::invalid_input(422, "The invitee is already a member of the organization.");
        assert_eq!(
            e.message,
            "Input is invalid. The invitee is already a member of the organization."
        );
    }
}
