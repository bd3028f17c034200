//! Tenants: a tenant is a Logto organization with a URL slug, kept in the
//! `tenants` table and seeded from `PORTAL_TENANTS_FILE`.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// One tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// `[a-z0-9-]`, unique; the URL is `/t/{slug}/`.
    pub slug: String,
    /// Shown on pages.
    pub display_name: String,
    /// The Logto organization id.
    pub organization_id: String,
    /// Enterprise SSO connector: sign-in goes straight to it.
    #[serde(default)]
    pub sso_connector_id: Option<String>,
    /// Prefilled identifier on the sign-in page.
    #[serde(default)]
    pub login_hint: Option<String>,
}

/// A tenants file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("tenants file: {0}")]
pub struct TenantsFileError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantsFile {
    #[serde(default)]
    tenant: Vec<Tenant>,
}

/// Whether `slug` is a valid tenant slug (`[a-z0-9][a-z0-9-]{0,62}`).
pub fn valid_slug(slug: &str) -> bool {
    let mut chars = slug.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The slug of a tenant route's path (`/t/{slug}` or `/t/{slug}/…`), if it
/// is a valid slug.
pub fn slug_in_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/t/")?;
    let slug = rest.split('/').next()?;
    valid_slug(slug).then_some(slug)
}

/// Parses and validates a tenants file (the format of the README).
pub fn parse(text: &str) -> Result<Vec<Tenant>, TenantsFileError> {
    let file: TenantsFile = toml::from_str(text).map_err(|e| TenantsFileError(e.to_string()))?;
    let mut seen = std::collections::HashSet::new();
    for (i, t) in file.tenant.iter().enumerate() {
        if !valid_slug(&t.slug) {
            return Err(TenantsFileError(format!(
                "tenant[{i}].slug: {:?} must match [a-z0-9][a-z0-9-]*",
                t.slug
            )));
        }
        if !seen.insert(t.slug.clone()) {
            return Err(TenantsFileError(format!(
                "tenant[{i}].slug: {:?} appears twice",
                t.slug
            )));
        }
        if t.organization_id.trim().is_empty() {
            return Err(TenantsFileError(format!(
                "tenant[{i}].organization_id: empty"
            )));
        }
        if t.display_name.trim().is_empty() {
            return Err(TenantsFileError(format!("tenant[{i}].display_name: empty")));
        }
    }
    Ok(file.tenant)
}

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
    let tenants = parse(&text).map_err(|e| anyhow::anyhow!("PORTAL_TENANTS_FILE: {e}"))?;
    for t in &tenants {
        upsert(pool, t).await?;
    }
    Ok(tenants.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(valid_slug("acme"));
        assert!(valid_slug("acme-2"));
        for bad in [
            "",
            "-acme",
            "Acme",
            "ac me",
            "a/b",
            "..",
            "acme_corp",
            &"a".repeat(64),
        ] {
            assert!(!valid_slug(bad), "{bad:?}");
        }
    }

    #[test]
    fn tenant_paths() {
        assert_eq!(slug_in_path("/t/acme/"), Some("acme"));
        assert_eq!(slug_in_path("/t/acme"), Some("acme"));
        assert_eq!(slug_in_path("/t/acme/sign-in"), Some("acme"));
        for other in [
            "/",
            "/t/",
            "/t//",
            "/t/Acme/",
            "/protected",
            "/tx/acme/",
            "/t/a%20b/",
        ] {
            assert_eq!(slug_in_path(other), None, "{other}");
        }
    }

    #[test]
    fn files_are_validated_naming_the_field() {
        let ok = parse(
            "[[tenant]]\nslug = \"acme\"\ndisplay_name = \"Acme\"\norganization_id = \"org-acme\"\n",
        )
        .unwrap();
        assert_eq!(ok.len(), 1);
        let err =
            parse("[[tenant]]\nslug = \"Bad\"\ndisplay_name = \"x\"\norganization_id = \"y\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("tenant[0].slug"), "{err}");
        let err = parse("[[tenant]]\nslug = \"a\"\ndisplay_name = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("organization_id"), "{err}");
    }
}
