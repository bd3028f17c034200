//! HTTP handlers, one module per area.

pub mod api;
pub mod assets;
pub mod backchannel;
pub mod health;
pub mod pages;
pub mod tenant;

use actix_web::HttpResponse;
use actix_web::http::header;

use crate::state::AppState;
use crate::web::error::AppError;

/// A 302 that must not be cached.
pub(crate) fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Renders `template` as a page, with the navigation's sign-in state.
pub(crate) fn render_page(
    state: &AppState,
    template: &str,
    mut ctx: tera::Context,
    auth: Option<&crate::web::auth::Authenticated>,
) -> Result<HttpResponse, AppError> {
    ctx.insert("signed_in", &auth.is_some());
    if let Some(a) = auth {
        ctx.insert("user_name", &display_name(a.claims()));
        ctx.insert("csrf", a.csrf_token());
    }
    ctx.insert("has_api_resource", &state.settings.api_resource.is_some());
    let html = state
        .templates
        .render(template, &ctx)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("rendering {template}: {e:?}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

/// Puts the table of `claims` in `ctx` as `claims_table` (rendered HTML,
/// from [`crate::web::claims_table::ClaimsTables`]).
pub(crate) fn insert_claims_table<T: serde::Serialize>(
    state: &AppState,
    ctx: &mut tera::Context,
    claims: &T,
) -> Result<(), AppError> {
    let html = state
        .claims_tables
        .html(&state.templates, claims)
        .map_err(crate::web::claims_table::ViewError::Render)?;
    ctx.insert("claims_table", &*html);
    Ok(())
}

/// The best human name in the claims.
pub(crate) fn display_name(c: &logto_client::IdTokenClaims) -> String {
    c.name
        .clone()
        .or_else(|| c.username.clone())
        .or_else(|| c.email.clone())
        .unwrap_or_else(|| c.sub.clone())
}
