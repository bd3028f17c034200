//! Tenant routes: `/t/{slug}/` and `/t/{slug}/sign-in`.

use actix_web::{HttpRequest, HttpResponse, web};
use logto_client::{DirectSignIn, SignInOptions};

use super::pages::organizations_of;
use super::redirect;
use crate::state::AppState;
use crate::storage::tenants;
use crate::tenant::Tenant;
use crate::web::auth::{MaybeAuthenticated, PortalAuth};
use crate::web::error::AppError;
use crate::web::views::{TenantRef, render_page};

pub(crate) async fn tenant_or_404(state: &AppState, slug: &str) -> Result<Tenant, AppError> {
    let found = match state.local_cache.tenant(slug) {
        Some(found) => found,
        None => tenants::find(&state.pool, slug).await?,
    };
    found.ok_or_else(|| AppError::NotFound(format!("there is no tenant called {slug:?}")))
}

fn refused(t: &Tenant, message: String) -> AppError {
    AppError::Forbidden {
        message,
        tenant: Some(TenantRef {
            slug: t.slug.clone(),
            display_name: t.display_name.clone(),
        }),
    }
}

/// `GET /t/{slug}/`: membership checked, organization token fetched, roles
/// and permissions shown.
pub async fn home(
    state: web::Data<AppState>,
    slug: web::Path<String>,
    auth: MaybeAuthenticated,
) -> Result<HttpResponse, AppError> {
    let tenant = tenant_or_404(&state, &slug).await?;
    let Some(auth) = auth.0 else {
        return Ok(redirect(&format!("/t/{}/sign-in", tenant.slug)));
    };
    let (orgs, roles, _) = organizations_of(&state, &auth).await?;
    if !orgs.iter().any(|o| *o == tenant.organization_id) {
        return Err(refused(
            &tenant,
            format!("You are not a member of {}", tenant.display_name),
        ));
    }
    let token = match state
        .client
        .get_organization_token(auth.storage(), &tenant.organization_id)
        .await
    {
        Ok(t) => t,
        Err(logto_client::Error::Oidc(o)) if o.is_access_denied() => {
            return Err(refused(
                &tenant,
                format!("Logto says you are not a member of {}", tenant.display_name),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let prefix = format!("{}:", tenant.organization_id);
    let my_roles: Vec<&str> = roles
        .iter()
        .filter_map(|r| r.strip_prefix(&prefix))
        .collect();
    // Decoded and rendered once per token.
    let token = state
        .claims_tables
        .organization_token(&state.templates, &token)?;
    let mut ctx = tera::Context::new();
    ctx.insert("tenant", &tenant);
    ctx.insert("roles", &my_roles);
    ctx.insert("permissions", &token.permissions);
    ctx.insert("claims_table", &*token.claims_table);
    Ok(render_page(&state, "tenant.html", ctx, Some(&auth.nav()))?)
}

/// `GET /t/{slug}/sign-in`: the tenant's sign-in experience (rate limited
/// with the other sign-in routes, in `startup`).
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: PortalAuth,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let tenant = tenant_or_404(&state, &slug).await?;
    let mut options = SignInOptions::new(auth.redirect_uri())
        .organization_id(tenant.organization_id.clone())
        .app_state(serde_json::json!({
            "return_to": format!("/t/{}/", tenant.slug),
            "tenant": tenant.slug,
        }));
    if let Some(connector) = &tenant.sso_connector_id {
        options = options.direct_sign_in(DirectSignIn::Sso(connector.clone()));
    }
    if let Some(hint) = &tenant.login_hint {
        options = options.login_hint(hint.clone());
    }
    Ok(auth.start_sign_in(&req, options).await?)
}
