//! The signed-in pages: home, claims, user info, API resource, organizations.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use logto_client::OrganizationId;

use crate::state::AppState;
use crate::storage::tenants;
use crate::web::auth::{Authenticated, AuthenticatedWithUserInfo, MaybeAuthenticated};
use crate::web::error::AppError;
use crate::web::views::{insert_claims_table, render_page};

/// An organization the user belongs to, with their roles there.
#[derive(Serialize)]
pub(crate) struct OrgView {
    id: OrganizationId,
    name: Option<String>,
    roles: Vec<String>,
    tenant_slug: Option<String>,
}

/// The user's organizations and organization roles: from the ID token when
/// the Logto tenant puts them there, else from userinfo.
pub(crate) async fn organizations_of(
    state: &AppState,
    auth: &Authenticated,
) -> Result<
    (
        Vec<OrganizationId>,
        Vec<String>,
        Vec<(OrganizationId, String)>,
    ),
    AppError,
> {
    let c = auth.claims();
    if let (Some(orgs), Some(roles)) = (&c.organizations, &c.organization_roles) {
        return Ok((orgs.clone(), roles.clone(), Vec::new()));
    }
    let info = state.client.fetch_user_info(auth.storage()).await?;
    let names = info
        .organization_data
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| d.name.map(|n| (d.id, n)))
        .collect();
    Ok((
        info.organizations.unwrap_or_default(),
        info.organization_roles.unwrap_or_default(),
        names,
    ))
}

pub(crate) async fn org_views(
    state: &AppState,
    auth: &Authenticated,
) -> Result<Vec<OrgView>, AppError> {
    let (orgs, roles, names) = organizations_of(state, auth).await?;
    let tenants = tenants::list(&state.pool).await?;
    Ok(orgs
        .into_iter()
        .map(|id| OrgView {
            roles: roles
                .iter()
                .filter_map(|r| r.strip_prefix(&format!("{id}:")).map(str::to_owned))
                .collect(),
            name: names
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, n)| n.clone())
                .or_else(|| {
                    tenants
                        .iter()
                        .find(|t| t.organization_id == id)
                        .map(|t| t.display_name.clone())
                }),
            tenant_slug: tenants
                .iter()
                .find(|t| t.organization_id == id)
                .map(|t| t.slug.clone()),
            id,
        })
        .collect())
}

/// `GET /`.
pub async fn home(
    state: web::Data<AppState>,
    auth: MaybeAuthenticated,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    let all_tenants = tenants::list(&state.pool).await?;
    if let Some(auth) = &auth.0 {
        let orgs = org_views(&state, auth).await?;
        let member_of: Vec<&str> = orgs.iter().map(|o| o.id.as_str()).collect();
        let tenant_rows: Vec<serde_json::Value> = all_tenants
            .iter()
            .map(|t| {
                serde_json::json!({
                    "slug": t.slug,
                    "display_name": t.display_name,
                    "member": member_of.contains(&t.organization_id.as_str()),
                })
            })
            .collect();
        ctx.insert("organizations", &orgs);
        ctx.insert("tenants", &tenant_rows);
        ctx.insert("email", &auth.claims().email);
    } else {
        let tenant_rows: Vec<serde_json::Value> = all_tenants
            .iter()
            .map(|t| serde_json::json!({"slug": t.slug, "display_name": t.display_name, "member": false}))
            .collect();
        ctx.insert("tenants", &tenant_rows);
    }
    Ok(render_page(
        &state,
        "index.html",
        ctx,
        auth.0.as_ref().map(|a| a.nav()).as_ref(),
    )?)
}

/// `GET /protected`: the ID token's claims.
pub async fn protected(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    insert_claims_table(&state, &mut ctx, auth.claims())?;
    ctx.insert("signed_in_since", &auth.login().created_at.to_string());
    Ok(render_page(
        &state,
        "protected.html",
        ctx,
        Some(&auth.nav()),
    )?)
}

/// `GET /protected/userinfo`: fresh user info from Logto.
pub async fn userinfo(
    state: web::Data<AppState>,
    auth: AuthenticatedWithUserInfo,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    insert_claims_table(&state, &mut ctx, &auth.user_info)?;
    Ok(render_page(
        &state,
        "userinfo.html",
        ctx,
        Some(&auth.auth.nav()),
    )?)
}

/// `GET /protected/resource`: claims of the access token for `PORTAL_API_RESOURCE`.
pub async fn resource(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, AppError> {
    let Some(resource) = state.settings.api_resource.clone() else {
        return Err(AppError::NotFound(
            "no API resource is configured (PORTAL_API_RESOURCE)".into(),
        ));
    };
    let claims = state
        .client
        .get_access_token_claims(auth.storage(), &resource)
        .await?;
    let mut ctx = tera::Context::new();
    ctx.insert("resource", &resource);
    ctx.insert(
        "scopes",
        &claims.scope.split_whitespace().collect::<Vec<_>>(),
    );
    insert_claims_table(&state, &mut ctx, &claims)?;
    Ok(render_page(
        &state,
        "resource.html",
        ctx,
        Some(&auth.nav()),
    )?)
}

/// `GET /organizations`.
pub async fn organizations(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("organizations", &org_views(&state, &auth).await?);
    Ok(render_page(
        &state,
        "organizations.html",
        ctx,
        Some(&auth.nav()),
    )?)
}
