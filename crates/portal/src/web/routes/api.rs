//! JSON API: `/api/me` (session) and bearer-token routes for resource servers.

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use logto_client::ValidationError;

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
