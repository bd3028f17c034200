//! `POST /backchannel-logout`: OIDC Back-Channel Logout 1.0 receiver.
//!
//! No session, no cookie, no CSRF token: the logout token itself is the
//! credential. Valid → every login of that `sid` (or, without `sid`, of that
//! `sub`) is deleted, on every instance (logins live in PostgreSQL), and 200.
//! A replayed token (same `jti`) is answered 200 without side effects.
//! Anything invalid → 400, nothing deleted.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::state::AppState;
use crate::storage::logins;
use crate::web::error::AppError;
use crate::web::rate_limit::client_ip;

/// The form field.
#[derive(Deserialize)]
pub struct LogoutForm {
    logout_token: String,
}

/// The handler. Refused deliveries (a malformed request, an invalid token)
/// are limited per client IP: over the limit, requests are refused before
/// anything is parsed or verified. Valid deliveries never count, so an
/// identity provider ending many sessions at once is never turned away.
/// The body is limited to 64 KiB (the app's `FormConfig`).
pub async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    // The spec fixes the encoding (a form field): anything else is a 400
    // like any other bad logout request, not actix's default 415.
    form: Result<web::Form<LogoutForm>, actix_web::Error>,
) -> Result<HttpResponse, AppError> {
    let ip = client_ip(&req);
    let limiter = &state.backchannel_limiter;
    if limiter.exhausted(ip) {
        return Err(AppError::RateLimited);
    }
    let refused = |e: AppError| {
        limiter.allow(ip);
        e
    };
    let form = form.map_err(|e| {
        refused(AppError::BadRequest(format!(
            "a logout token is sent as a form field: {e}"
        )))
    })?;
    let claims = state
        .client
        .verify_logout_token(&form.logout_token)
        .await
        .map_err(|e| refused(AppError::BadRequest(format!("invalid logout token: {e}"))))?;
    let expires = time::OffsetDateTime::from_unix_timestamp(claims.exp)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc() + time::Duration::hours(1));
    let first_time = logins::remember_logout_jti(&state.pool, &claims.jti, expires).await?;
    let ended = if !first_time {
        tracing::info!("back-channel logout token replayed; nothing to do");
        0
    } else if let Some(sid) = &claims.sid {
        let n = logins::delete_by_sid(&state.pool, &claims.iss, sid).await?;
        state.local_cache.forget_logins_where(|l| {
            l.issuer == claims.iss && l.logto_sid.as_deref() == Some(sid.as_str())
        });
        n
    } else if let Some(sub) = &claims.sub {
        let n = logins::delete_by_sub(&state.pool, &claims.iss, sub).await?;
        state
            .local_cache
            .forget_logins_where(|l| l.issuer == claims.iss && &l.user_sub == sub);
        n
    } else {
        0
    };
    if first_time {
        state
            .metrics
            .backchannel_logouts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(ended, "back-channel logout");
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
