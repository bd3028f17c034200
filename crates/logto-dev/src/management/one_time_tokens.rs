//! One-time tokens (`POST /api/one-time-tokens`): a token that signs the holder of an email
//! in, or signs them up, once, through `/oidc/auth?one_time_token=…&login_hint=<email>`.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, TENANT_ID, json_body};
use crate::directory::{OneTimeToken, OneTimeTokenStatus, random_id};
use crate::keys::random_token;
use crate::state::{AppState, now_millis};

type Data = web::Data<Arc<AppState>>;

/// Logto's default lifetime: 10 minutes.
const DEFAULT_EXPIRES_IN_SECS: i64 = 600;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/one-time-tokens", web::post().to(create))
        .route("/one-time-tokens/{id}/status", web::put().to(set_status));
}

fn token_json(ott: &OneTimeToken) -> serde_json::Value {
    let context = if ott.jit_organization_ids.is_empty() {
        json!({})
    } else {
        json!({ "jitOrganizationIds": ott.jit_organization_ids })
    };
    json!({
        "tenantId": TENANT_ID,
        "id": ott.id,
        "email": ott.email,
        "token": ott.token,
        "context": context,
        "status": ott.status,
        "createdAt": ott.created_at,
        "expiresAt": ott.expires_at,
    })
}

#[derive(Deserialize)]
struct StatusChange {
    status: OneTimeTokenStatus,
}

/// `PUT /api/one-time-tokens/{id}/status` `{status}`: `consumed`, `revoked` or `expired`;
/// back to `active`: 400 `one_time_token.cannot_reactivate_token`; unknown id: 404.
async fn set_status(
    state: Data,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: StatusChange = json_body(&body)?;
    let mut directory = state.directory_mut();
    let ott = directory
        .one_time_tokens
        .iter_mut()
        .find(|t| t.id == *path)
        .ok_or_else(ApiError::not_found)?;
    if body.status == OneTimeTokenStatus::Active {
        return Err(ApiError::new(
            400,
            "one_time_token.cannot_reactivate_token",
            "Cannot reactivate the token.",
        ));
    }
    ott.status = body.status;
    Ok(HttpResponse::Ok().json(token_json(ott)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Context {
    #[serde(default)]
    jit_organization_ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewToken {
    email: String,
    #[serde(default)]
    context: Option<Context>,
    expires_in: Option<i64>,
}

/// `POST /api/one-time-tokens` `{email, context?: {jitOrganizationIds}, expiresIn?}`:
/// 201 with `{id, email, token, context, status: "active", createdAt, expiresAt}`.
async fn create(state: Data, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let body: NewToken = json_body(&body)?;
    if !super::invitations::looks_like_email(&body.email) {
        return Err(ApiError::guard(
            "body",
            "Error in key path \"email\": (invalid_string) Invalid".to_owned(),
        ));
    }
    let expires_in = body.expires_in.unwrap_or(DEFAULT_EXPIRES_IN_SECS);
    if expires_in < 1 {
        return Err(ApiError::guard(
            "body",
            "Error in key path \"expiresIn\": (too_small) Number must be greater than or equal to 1"
                .to_owned(),
        ));
    }
    let now = now_millis();
    let context = body.context.unwrap_or_default();
    let ott = OneTimeToken {
        id: random_id(21),
        email: body.email,
        token: random_token(),
        jit_organization_ids: context.jit_organization_ids,
        status: OneTimeTokenStatus::Active,
        created_at: now,
        expires_at: now.saturating_add(expires_in.saturating_mul(1000)),
    };
    let json = token_json(&ott);
    state.directory_mut().one_time_tokens.push(ott);
    Ok(HttpResponse::Created().json(json))
}
