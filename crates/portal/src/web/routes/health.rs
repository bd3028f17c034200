//! Liveness, readiness and metrics.

use std::time::Duration;

use actix_web::{HttpResponse, web};

use crate::state::AppState;
use crate::storage;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: PostgreSQL answers, and Logto's discovery document is
/// usable — above all, its `issuer` is the configured one byte for byte (a
/// mismatch makes every sign-in fail before any redirect). Logto merely
/// being unreachable does not make the portal unready: signed-in sessions
/// keep working without it; it is reported as `"unreachable"`.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = match storage::ping(&state.pool).await {
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unavailable");
            Some("unreachable")
        }
    };
    let discovery = tokio::time::timeout(Duration::from_secs(2), state.client.discover()).await;
    let identity_provider = match discovery {
        Ok(Ok(())) => Ok("ok"),
        Ok(Err(logto_client::Error::Config(e))) => {
            tracing::error!(error = %e, "readiness check: Logto's discovery document is unusable");
            Err(e.to_string())
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: Logto unreachable");
            Ok("unreachable")
        }
        Err(_) => Ok("unreachable"),
    };
    match (database, identity_provider) {
        (None, Ok(idp)) => HttpResponse::Ok()
            .json(serde_json::json!({"status": "ready", "identity_provider": idp})),
        (database, idp) => HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "status": "unavailable",
                "database": database.unwrap_or("ok"),
                "identity_provider": idp.map_or_else(|e| e, str::to_owned),
            })),
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let alive = storage::logins::count_alive(&state.pool)
        .await
        .unwrap_or(-1);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(
            alive,
            state.client.stats(),
            state.local_cache.notifications_heard(),
        ))
}
