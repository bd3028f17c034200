//! The `tenants` table: every statement on it. What a tenant is, and the
//! tenants file, are the tenant domain's ([`crate::tenant`]).

use sqlx::PgPool;

use crate::tenant::{self, Tenant, valid_slug};

/// Inserts or updates a tenant.
pub async fn upsert(pool: &PgPool, t: &Tenant) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tenants (slug, display_name, organization_id, sso_connector_id, login_hint)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (slug) DO UPDATE SET display_name = EXCLUDED.display_name,
           organization_id = EXCLUDED.organization_id,
           sso_connector_id = EXCLUDED.sso_connector_id, login_hint = EXCLUDED.login_hint",
    )
    .bind(&t.slug)
    .bind(&t.display_name)
    .bind(&t.organization_id)
    .bind(&t.sso_connector_id)
    .bind(&t.login_hint)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes a tenant; whether it existed.
pub async fn remove(pool: &PgPool, slug: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM tenants WHERE slug = $1")
        .bind(slug)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Every tenant, by slug.
pub async fn list(pool: &PgPool) -> Result<Vec<Tenant>, sqlx::Error> {
    sqlx::query_as(
        "SELECT slug, display_name, organization_id, sso_connector_id, login_hint
         FROM tenants ORDER BY slug",
    )
    .fetch_all(pool)
    .await
}

/// The tenant with this slug. An invalid slug is simply not found (no query).
pub async fn find(pool: &PgPool, slug: &str) -> Result<Option<Tenant>, sqlx::Error> {
    if !valid_slug(slug) {
        return Ok(None);
    }
    sqlx::query_as(
        "SELECT slug, display_name, organization_id, sso_connector_id, login_hint
         FROM tenants WHERE slug = $1",
    )
    .bind(slug)
    .fetch_optional(pool)
    .await
}

/// Loads a tenants file and upserts every tenant in it.
pub async fn seed_from_file(pool: &PgPool, path: &std::path::Path) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("PORTAL_TENANTS_FILE: cannot read {}: {e}", path.display()))?;
    let tenants = tenant::parse(&text).map_err(|e| anyhow::anyhow!("PORTAL_TENANTS_FILE: {e}"))?;
    for t in &tenants {
        upsert(pool, t).await?;
    }
    Ok(tenants.len())
}

/// The tenant of a Logto organization, if the portal has one.
pub async fn find_by_organization(
    pool: &PgPool,
    organization_id: &str,
) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query_as(
        "SELECT slug, display_name, organization_id, sso_connector_id, login_hint
         FROM tenants WHERE organization_id = $1 ORDER BY slug LIMIT 1",
    )
    .bind(organization_id)
    .fetch_optional(pool)
    .await
}
