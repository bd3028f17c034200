//! The tenant domain: a tenant is a Logto organization with a URL slug.
//! Its rules (what a slug is, what a tenants file holds, a tenant from the
//! Logto seed) live here; its rows are kept by [`crate::storage::tenants`],
//! seeded from `PORTAL_TENANTS_FILE` (a tenants file, or the demo seed read
//! by logto-dev) or by `portal logto provision`.

use serde::{Deserialize, Serialize};

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

/// Whether `slug` is a valid tenant slug (`[a-z0-9][a-z0-9-]{0,62}`), the
/// rule the seed applies too.
pub fn valid_slug(slug: &str) -> bool {
    logto_seed::valid_slug(slug)
}

/// The tenant of a seeded organization, stored with `organization_id`
/// (the seed id under logto-dev, the id Logto assigned under real Logto).
/// `with_sso` keeps the seed's simulated SSO connector (logto-dev only).
pub fn from_seed(
    org: &logto_seed::Organization,
    organization_id: &str,
    with_sso: bool,
) -> Option<Tenant> {
    let spec = org.tenant.as_ref()?;
    Some(Tenant {
        slug: spec.slug.clone(),
        display_name: spec.display_name.clone(),
        organization_id: organization_id.to_owned(),
        sso_connector_id: spec.sso_connector.clone().filter(|_| with_sso),
        login_hint: spec.login_hint.clone(),
    })
}

/// Parses and validates a tenants file: the format of the README
/// (`[[tenant]]` tables), or the demo seed that logto-dev serves
/// (`[[organizations]]` with a `tenant`), whose organization ids are logto-dev's.
pub fn parse(text: &str) -> Result<Vec<Tenant>, TenantsFileError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| TenantsFileError(e.to_string()))?;
    if table.contains_key("organizations") && !table.contains_key("tenant") {
        let seed =
            logto_seed::Seed::from_toml_str(text).map_err(|e| TenantsFileError(e.to_string()))?;
        return Ok(seed
            .organizations
            .iter()
            .filter_map(|o| from_seed(o, &o.id, true))
            .collect());
    }
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

    #[test]
    fn the_demo_seed_is_a_tenants_file_with_logto_devs_ids() {
        let tenants = parse(logto_seed::DEMO_SEED).unwrap();
        let acme = tenants.iter().find(|t| t.slug == "acme").unwrap();
        assert_eq!(acme.organization_id, "org-acme");
        assert_eq!(acme.display_name, "Acme Corp");
        assert_eq!(acme.login_hint.as_deref(), Some("alice@acme.test"));
        let globex = tenants.iter().find(|t| t.slug == "globex").unwrap();
        assert_eq!(globex.sso_connector_id.as_deref(), Some("globex-okta"));
        assert_eq!(tenants.len(), 2);
    }

    #[test]
    fn an_invalid_seed_as_tenants_file_names_the_field() {
        let err =
            parse("[[organizations]]\nid = \"o\"\nname = \"O\"\ntenant = { slug = \"Bad\" }\n")
                .unwrap_err();
        assert!(
            err.to_string().contains("organizations[0].tenant.slug"),
            "{err}"
        );
    }
}
