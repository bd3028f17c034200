//! JSON API: `/api/me` (session) and bearer-token routes for resource servers.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use logto_client::ValidationError;

use crate::auth::Authenticated;
use crate::error::AppError;
use crate::state::AppState;

/// The permission `GET /api/reports` requires on `PORTAL_API_RESOURCE`.
pub const REPORTS_SCOPE: &str = "read:reports";

/// `GET /api/me`: the ID token's claims; 401 JSON when signed out.
pub async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(auth.claims())
}

fn bearer(req: &HttpRequest) -> Result<&str, AppError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(AppError::Bearer {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_request",
            description: "a bearer token is required".into(),
        })?;
    let mut parts = value.splitn(2, ' ');
    match (parts.next(), parts.next()) {
        (Some(scheme), Some(token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(AppError::Bearer {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_request",
            description: "the Authorization header must be `Bearer <token>`".into(),
        }),
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
    req: HttpRequest,
    state: web::Data<AppState>,
    organization_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = bearer(&req)?;
    let claims = state
        .client
        .verify_organization_token(token, &organization_id)
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
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(resource) = state.settings.api_resource.as_deref() else {
        return Err(AppError::NotFound("no API resource is configured".into()));
    };
    let token = bearer(&req)?;
    let claims = state
        .client
        .verify_access_token(token, resource)
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
