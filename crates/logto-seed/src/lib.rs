//! The demo seed: applications, users, API resources, roles, the organization template,
//! organizations and the portal's tenants, read from one TOML file.
//!
//! Two programs read the same file: `logto-dev` (the development identity provider) serves
//! it, and `portal logto provision` creates it in a real Logto through the Management API.
//! This crate only parses and validates; it has no server and no network code.
//!
//! ```
//! let seed = logto_seed::Seed::from_toml_str(
//!     r#"
//!     [[users]]
//!     username = "alice"
//!     password = "alice-password"
//!
//!     [[organizations]]
//!     id = "org-acme"
//!     name = "Acme"
//!     members = [{ user = "alice" }]
//!     tenant = { slug = "acme" }
//!     "#,
//! )
//! .unwrap();
//! assert_eq!(seed.organizations[0].tenant.as_ref().unwrap().display_name, "Acme");
//! ```
#![warn(missing_docs)]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The demo seed shipped with the crate (`crates/logto-seed/demo.toml`), used by
/// `cargo xtask demo`, the tests and `portal logto provision`.
pub const DEMO_SEED: &str = include_str!("../demo.toml");

/// A seed file that could not be read or is invalid.
///
/// `Display` names the offending field, e.g. `users[2].password: missing`.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("cannot read seed file {path}: {source}")]
    Io {
        /// The path that was read.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or a field has the wrong type.
    #[error("{field}: {message}")]
    Syntax {
        /// Path of the field (`users[2].password`), or `(document)` when unknown.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A field is missing or has an invalid value.
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the field (`users[2].password`).
        field: String,
        /// What is wrong (`missing`, `unknown role "x"`, ...).
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> SeedError {
    SeedError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Kind of application, as in Logto's console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppType {
    /// Traditional web app: confidential client (`client_secret_basic`/`client_secret_post`).
    Traditional,
    /// Single-page app: public client (`none`).
    Spa,
    /// Native app: public client (`none`).
    Native,
    /// Machine-to-machine app: confidential, `client_credentials` only, no redirect URIs.
    /// logto-dev lets it call the Management API (`/api/*`), as real Logto does once the app
    /// has the role "Logto Management API access". `portal logto provision` skips it.
    #[serde(alias = "machine-to-machine")]
    MachineToMachine,
}

impl AppType {
    /// Whether clients of this type authenticate with a secret.
    pub fn is_confidential(self) -> bool {
        matches!(self, AppType::Traditional | AppType::MachineToMachine)
    }
}

/// A registered application (OIDC client).
#[derive(Debug, Clone)]
pub struct Application {
    /// Client id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Application type.
    pub app_type: AppType,
    /// Client secret (confidential apps only).
    pub secret: Option<String>,
    /// Redirect URIs. logto-dev (unlike real Logto, which needs exact URIs) accepts a
    /// `:*` port wildcard, e.g. `http://127.0.0.1:*/callback`.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs (same wildcard rule).
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-channel logout URI; a `:*` port is resolved at logout time from the port of the
    /// redirect URI the session used.
    pub backchannel_logout_uri: Option<String>,
    /// Whether logout tokens and ID tokens carry `sid` (Logto's "session required").
    pub backchannel_logout_session_required: bool,
}

/// A user.
#[derive(Debug, Clone)]
pub struct User {
    /// Subject (`sub`): 12 characters of `[0-9a-z]`, derived from the username when not given.
    pub id: String,
    /// Username (sign-in identifier).
    pub username: String,
    /// Password (plain text: this is a development tool).
    pub password: String,
    /// Display name.
    pub name: Option<String>,
    /// Primary email.
    pub email: Option<String>,
    /// Primary phone.
    pub phone: Option<String>,
    /// Avatar URL.
    pub picture: Option<String>,
    /// Custom data (a JSON object).
    pub custom_data: serde_json::Value,
    /// Social identities (`identities` claim), keyed by connector target.
    pub identities: serde_json::Value,
    /// Global user roles (names).
    pub roles: Vec<String>,
    /// Creation time, epoch milliseconds.
    pub created_at: i64,
    /// Update time, epoch milliseconds.
    pub updated_at: i64,
}

/// An API resource.
#[derive(Debug, Clone)]
pub struct ApiResource {
    /// Resource indicator (an absolute URI).
    pub indicator: String,
    /// Display name.
    pub name: String,
    /// Permissions (scopes) defined on the resource.
    pub scopes: Vec<String>,
    /// Access token lifetime in seconds, if it differs from the settings.
    pub access_token_ttl: Option<u64>,
}

/// A global user role.
#[derive(Debug, Clone)]
pub struct UserRole {
    /// Role name (appears in the `roles` claim).
    pub name: String,
    /// Scopes granted per resource indicator.
    pub scopes: BTreeMap<String, Vec<String>>,
}

/// An organization role (from the organization template).
#[derive(Debug, Clone)]
pub struct OrganizationRole {
    /// Role name (appears in `organization_roles` as `{orgId}:{name}`).
    pub name: String,
    /// Organization permissions (scopes of organization tokens).
    pub permissions: Vec<String>,
    /// API-resource scopes granted through this role, per resource indicator.
    pub resource_scopes: BTreeMap<String, Vec<String>>,
}

/// A member of an organization.
#[derive(Debug, Clone)]
pub struct Member {
    /// The user's id (`sub`).
    pub user_id: String,
    /// Organization role names.
    pub roles: Vec<String>,
}

/// An enterprise SSO connector, attached to an organization.
#[derive(Debug, Clone)]
pub struct SsoConnector {
    /// Connector id, used as `direct_sign_in=sso:{id}`.
    pub id: String,
    /// Display name (e.g. "Globex Okta").
    pub name: String,
    /// Issuer reported in `sso_identities`.
    pub issuer: String,
    /// The seeded user signed in through this connector.
    pub user_id: String,
}

/// An organization.
#[derive(Debug, Clone)]
pub struct Organization {
    /// Organization id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description (`null` in `organization_data` when unset).
    pub description: Option<String>,
    /// Members and their roles.
    pub members: Vec<Member>,
    /// Enterprise SSO connectors of the organization.
    pub sso_connectors: Vec<SsoConnector>,
    /// The portal's tenant for this organization, if it has one.
    pub tenant: Option<TenantSpec>,
}

/// The portal's tenant (URL space `/t/{slug}/`) of a seeded organization.
///
/// The portal stores tenants with the organization's id; under logto-dev that is the
/// seed id, under real Logto the id Logto assigned (written by `portal logto provision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSpec {
    /// URL slug, `[a-z0-9][a-z0-9-]{0,62}`.
    pub slug: String,
    /// Shown on pages; the organization's name when not given.
    pub display_name: String,
    /// Identifier prefilled on the sign-in page.
    pub login_hint: Option<String>,
    /// One of the organization's simulated SSO connectors (logto-dev only: real Logto has
    /// no such connector, so provisioning leaves the tenant without one).
    pub sso_connector: Option<String>,
}

/// Whether `slug` is a valid tenant slug (`[a-z0-9][a-z0-9-]{0,62}`), the portal's rule.
pub fn valid_slug(slug: &str) -> bool {
    let mut chars = slug.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A parsed and validated seed.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Applications.
    pub applications: Vec<Application>,
    /// Users.
    pub users: Vec<User>,
    /// API resources.
    pub api_resources: Vec<ApiResource>,
    /// Global user roles.
    pub roles: Vec<UserRole>,
    /// Organization roles.
    pub organization_roles: Vec<OrganizationRole>,
    /// Organizations.
    pub organizations: Vec<Organization>,
}

// ---- raw TOML shapes -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeed {
    #[serde(default)]
    applications: Vec<RawApp>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    api_resources: Vec<RawResource>,
    #[serde(default)]
    roles: Vec<RawRole>,
    #[serde(default)]
    organization_roles: Vec<RawOrgRole>,
    #[serde(default)]
    organizations: Vec<RawOrg>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    id: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    app_type: Option<AppType>,
    secret: Option<String>,
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: Option<String>,
    username: Option<String>,
    password: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    picture: Option<String>,
    custom_data: Option<toml::Table>,
    identities: Option<toml::Table>,
    #[serde(default)]
    roles: Vec<String>,
    created_at: Option<i64>,
    updated_at: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    indicator: Option<String>,
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    access_token_ttl: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: Option<String>,
    #[serde(default)]
    scopes: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrgRole {
    name: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    resource_scopes: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    members: Vec<RawMember>,
    #[serde(default)]
    sso_connectors: Vec<RawConnector>,
    tenant: Option<RawTenant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    slug: Option<String>,
    display_name: Option<String>,
    login_hint: Option<String>,
    sso_connector: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    user: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnector {
    id: Option<String>,
    name: Option<String>,
    issuer: Option<String>,
    user: Option<String>,
}

fn required<T>(value: Option<T>, field: impl FnOnce() -> String) -> Result<T, SeedError> {
    value.ok_or_else(|| invalid(field(), "missing"))
}

fn non_empty(value: Option<String>, field: impl Fn() -> String) -> Result<String, SeedError> {
    match value {
        None => Err(invalid(field(), "missing")),
        Some(v) if v.trim().is_empty() => Err(invalid(field(), "must not be empty")),
        Some(v) => Ok(v),
    }
}

/// Derives a stable 12-character `[0-9a-z]` user id from a username (logto-dev's `sub`
/// for users whose seed gives no `id`; real Logto assigns its own ids).
pub fn derive_user_id(username: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::digest(format!("logto-dev:user:{username}").as_bytes());
    digest
        .iter()
        .take(12)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

fn check_uri(value: &str, field: &str) -> Result<(), SeedError> {
    let probe = value.replacen(":*", ":1", 1);
    url::Url::parse(&probe)
        .map(|_| ())
        .map_err(|e| invalid(field, format!("not an absolute URI ({e})")))
}

fn toml_to_json(table: toml::Table, field: &str) -> Result<serde_json::Value, SeedError> {
    serde_json::to_value(table).map_err(|e| invalid(field, e.to_string()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

impl Seed {
    /// Parses and validates a seed from TOML text.
    pub fn from_toml_str(s: &str) -> Result<Seed, SeedError> {
        let raw: RawSeed = toml::from_str(s).map_err(|e| SeedError::Syntax {
            field: "(document)".to_owned(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        Self::validate(raw)
    }

    /// Reads and validates a seed file.
    pub fn load(path: &Path) -> Result<Seed, SeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// The demo seed shipped in the repository (`crates/logto-seed/demo.toml`).
    pub fn demo() -> Seed {
        match Self::from_toml_str(DEMO_SEED) {
            Ok(seed) => seed,
            // The demo seed is validated by a test; an empty seed is a safe fallback.
            Err(e) => {
                tracing::error!(error = %e, "the bundled demo seed is invalid");
                Seed {
                    applications: Vec::new(),
                    users: Vec::new(),
                    api_resources: Vec::new(),
                    roles: Vec::new(),
                    organization_roles: Vec::new(),
                    organizations: Vec::new(),
                }
            }
        }
    }

    fn validate(raw: RawSeed) -> Result<Seed, SeedError> {
        let started = now_ms();
        let mut applications = Vec::new();
        let mut seen = HashSet::new();
        for (i, app) in raw.applications.into_iter().enumerate() {
            let f = |name: &str| format!("applications[{i}].{name}");
            let id = non_empty(app.id, || f("id"))?;
            if !seen.insert(id.clone()) {
                return Err(invalid(f("id"), format!("duplicate application id {id:?}")));
            }
            let app_type = app.app_type.unwrap_or(AppType::Traditional);
            let secret = if app_type.is_confidential() {
                Some(non_empty(app.secret, || f("secret"))?)
            } else {
                app.secret
            };
            // A machine-to-machine app never redirects a browser: it has no redirect URIs.
            let redirect_uris = if app_type == AppType::MachineToMachine {
                match app.redirect_uris {
                    Some(uris) if !uris.is_empty() => {
                        return Err(invalid(
                            f("redirect_uris"),
                            "a machine-to-machine application has none",
                        ));
                    }
                    _ => Vec::new(),
                }
            } else {
                let uris = required(app.redirect_uris, || f("redirect_uris"))?;
                if uris.is_empty() {
                    return Err(invalid(f("redirect_uris"), "must not be empty"));
                }
                uris
            };
            for (j, uri) in redirect_uris.iter().enumerate() {
                check_uri(uri, &f(&format!("redirect_uris[{j}]")))?;
            }
            for (j, uri) in app.post_logout_redirect_uris.iter().enumerate() {
                check_uri(uri, &f(&format!("post_logout_redirect_uris[{j}]")))?;
            }
            if let Some(uri) = &app.backchannel_logout_uri {
                check_uri(uri, &f("backchannel_logout_uri"))?;
            }
            applications.push(Application {
                name: app.name.unwrap_or_else(|| id.clone()),
                id,
                app_type,
                secret,
                redirect_uris,
                post_logout_redirect_uris: app.post_logout_redirect_uris,
                backchannel_logout_uri: app.backchannel_logout_uri,
                backchannel_logout_session_required: app
                    .backchannel_logout_session_required
                    .unwrap_or(true),
            });
        }

        let mut api_resources = Vec::new();
        for (i, res) in raw.api_resources.into_iter().enumerate() {
            let f = |name: &str| format!("api_resources[{i}].{name}");
            let indicator = non_empty(res.indicator, || f("indicator"))?;
            check_uri(&indicator, &f("indicator"))?;
            if api_resources
                .iter()
                .any(|r: &ApiResource| r.indicator == indicator)
            {
                return Err(invalid(f("indicator"), "duplicate resource indicator"));
            }
            api_resources.push(ApiResource {
                name: res.name.unwrap_or_else(|| indicator.clone()),
                indicator,
                scopes: res.scopes,
                access_token_ttl: res.access_token_ttl,
            });
        }
        let check_resource_scopes =
            |map: &BTreeMap<String, Vec<String>>, field: &str| -> Result<(), SeedError> {
                for (indicator, scopes) in map {
                    let Some(res) = api_resources.iter().find(|r| &r.indicator == indicator) else {
                        return Err(invalid(
                            format!("{field}.\"{indicator}\""),
                            "unknown API resource",
                        ));
                    };
                    for scope in scopes {
                        if !res.scopes.contains(scope) {
                            return Err(invalid(
                                format!("{field}.\"{indicator}\""),
                                format!("unknown scope {scope:?}"),
                            ));
                        }
                    }
                }
                Ok(())
            };

        let mut roles = Vec::new();
        for (i, role) in raw.roles.into_iter().enumerate() {
            let name = non_empty(role.name, || format!("roles[{i}].name"))?;
            check_resource_scopes(&role.scopes, &format!("roles[{i}].scopes"))?;
            roles.push(UserRole {
                name,
                scopes: role.scopes,
            });
        }

        let mut organization_roles = Vec::new();
        for (i, role) in raw.organization_roles.into_iter().enumerate() {
            let name = non_empty(role.name, || format!("organization_roles[{i}].name"))?;
            check_resource_scopes(
                &role.resource_scopes,
                &format!("organization_roles[{i}].resource_scopes"),
            )?;
            organization_roles.push(OrganizationRole {
                name,
                permissions: role.permissions,
                resource_scopes: role.resource_scopes,
            });
        }

        let mut users: Vec<User> = Vec::new();
        for (i, user) in raw.users.into_iter().enumerate() {
            let f = |name: &str| format!("users[{i}].{name}");
            let username = non_empty(user.username, || f("username"))?;
            let password = non_empty(user.password, || f("password"))?;
            if users.iter().any(|u| u.username == username) {
                return Err(invalid(
                    f("username"),
                    format!("duplicate username {username:?}"),
                ));
            }
            let id = match user.id {
                Some(id) if id.trim().is_empty() => {
                    return Err(invalid(f("id"), "must not be empty"));
                }
                Some(id) => id,
                None => derive_user_id(&username),
            };
            if users.iter().any(|u| u.id == id) {
                return Err(invalid(f("id"), format!("duplicate user id {id:?}")));
            }
            for (j, role) in user.roles.iter().enumerate() {
                if !roles.iter().any(|r| &r.name == role) {
                    return Err(invalid(
                        f(&format!("roles[{j}]")),
                        format!("unknown role {role:?}"),
                    ));
                }
            }
            let custom_data = match user.custom_data {
                Some(t) => toml_to_json(t, &f("custom_data"))?,
                None => serde_json::json!({}),
            };
            let identities = match user.identities {
                Some(t) => toml_to_json(t, &f("identities"))?,
                None => serde_json::json!({}),
            };
            let created_at = user.created_at.unwrap_or(started);
            users.push(User {
                id,
                username,
                password,
                name: user.name,
                email: user.email,
                phone: user.phone,
                picture: user.picture,
                custom_data,
                identities,
                roles: user.roles,
                created_at,
                updated_at: user.updated_at.unwrap_or(created_at),
            });
        }
        let find_user = |reference: &str| {
            users
                .iter()
                .find(|u| u.username == reference || u.id == reference)
                .map(|u| u.id.clone())
        };

        let mut organizations: Vec<Organization> = Vec::new();
        let mut connector_ids = HashSet::new();
        let mut slugs = HashSet::new();
        for (i, org) in raw.organizations.into_iter().enumerate() {
            let f = |name: &str| format!("organizations[{i}].{name}");
            let id = non_empty(org.id, || f("id"))?;
            if organizations.iter().any(|o| o.id == id) {
                return Err(invalid(
                    f("id"),
                    format!("duplicate organization id {id:?}"),
                ));
            }
            let name = non_empty(org.name, || f("name"))?;
            let mut members = Vec::new();
            for (j, member) in org.members.into_iter().enumerate() {
                let mf = |name: &str| f(&format!("members[{j}].{name}"));
                let user = non_empty(member.user, || mf("user"))?;
                let user_id = find_user(&user)
                    .ok_or_else(|| invalid(mf("user"), format!("unknown user {user:?}")))?;
                for (k, role) in member.roles.iter().enumerate() {
                    if !organization_roles.iter().any(|r| &r.name == role) {
                        return Err(invalid(
                            mf(&format!("roles[{k}]")),
                            format!("unknown organization role {role:?}"),
                        ));
                    }
                }
                members.push(Member {
                    user_id,
                    roles: member.roles,
                });
            }
            let mut sso_connectors = Vec::new();
            for (j, c) in org.sso_connectors.into_iter().enumerate() {
                let cf = |name: &str| f(&format!("sso_connectors[{j}].{name}"));
                let cid = non_empty(c.id, || cf("id"))?;
                if !connector_ids.insert(cid.clone()) {
                    return Err(invalid(cf("id"), format!("duplicate connector id {cid:?}")));
                }
                let user = non_empty(c.user, || cf("user"))?;
                let user_id = find_user(&user)
                    .ok_or_else(|| invalid(cf("user"), format!("unknown user {user:?}")))?;
                sso_connectors.push(SsoConnector {
                    name: c.name.unwrap_or_else(|| cid.clone()),
                    issuer: c
                        .issuer
                        .unwrap_or_else(|| format!("https://sso.invalid/{cid}")),
                    id: cid,
                    user_id,
                });
            }
            let tenant = match org.tenant {
                None => None,
                Some(t) => {
                    let tf = |name: &str| f(&format!("tenant.{name}"));
                    let slug = non_empty(t.slug, || tf("slug"))?;
                    if !valid_slug(&slug) {
                        return Err(invalid(
                            tf("slug"),
                            format!("{slug:?} must match [a-z0-9][a-z0-9-]*"),
                        ));
                    }
                    if !slugs.insert(slug.clone()) {
                        return Err(invalid(tf("slug"), format!("duplicate slug {slug:?}")));
                    }
                    if let Some(c) = &t.sso_connector
                        && !sso_connectors.iter().any(|s: &SsoConnector| &s.id == c)
                    {
                        return Err(invalid(
                            tf("sso_connector"),
                            format!("unknown SSO connector {c:?} of this organization"),
                        ));
                    }
                    let display_name = match t.display_name {
                        Some(d) if d.trim().is_empty() => {
                            return Err(invalid(tf("display_name"), "must not be empty"));
                        }
                        Some(d) => d,
                        None => name.clone(),
                    };
                    Some(TenantSpec {
                        slug,
                        display_name,
                        login_hint: t.login_hint,
                        sso_connector: t.sso_connector,
                    })
                }
            };
            organizations.push(Organization {
                id,
                name,
                description: org.description,
                members,
                sso_connectors,
                tenant,
            });
        }

        Ok(Seed {
            applications,
            users,
            api_resources,
            roles,
            organization_roles,
            organizations,
        })
    }

    /// Finds a user by username.
    pub fn user_by_username(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }

    /// Finds a user by id (`sub` in logto-dev).
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Finds an application by client id.
    pub fn application(&self, id: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.id == id)
    }

    /// Finds an API resource by indicator.
    pub fn resource(&self, indicator: &str) -> Option<&ApiResource> {
        self.api_resources.iter().find(|r| r.indicator == indicator)
    }

    /// Finds an organization by its seed id.
    pub fn organization(&self, id: &str) -> Option<&Organization> {
        self.organizations.iter().find(|o| o.id == id)
    }

    /// Finds a simulated SSO connector (logto-dev only) and its organization.
    pub fn connector(&self, id: &str) -> Option<(&Organization, &SsoConnector)> {
        self.organizations
            .iter()
            .find_map(|o| o.sso_connectors.iter().find(|c| c.id == id).map(|c| (o, c)))
    }

    /// Organizations the user is a member of, with the user's role names there.
    pub fn memberships(&self, user_id: &str) -> Vec<(&Organization, &[String])> {
        self.organizations
            .iter()
            .filter_map(|o| {
                o.members
                    .iter()
                    .find(|m| m.user_id == user_id)
                    .map(|m| (o, m.roles.as_slice()))
            })
            .collect()
    }

    /// Finds an organization role (of the organization template) by name.
    pub fn organization_role(&self, name: &str) -> Option<&OrganizationRole> {
        self.organization_roles.iter().find(|r| r.name == name)
    }

    /// Organization permissions of a user in one organization; `None` when not a member.
    pub fn organization_permissions(&self, user_id: &str, org_id: &str) -> Option<Vec<String>> {
        let org = self.organization(org_id)?;
        let member = org.members.iter().find(|m| m.user_id == user_id)?;
        let mut out: Vec<String> = Vec::new();
        for role in member
            .roles
            .iter()
            .filter_map(|r| self.organization_role(r))
        {
            for p in &role.permissions {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
        Some(out)
    }

    /// API-resource scopes a user holds through organization roles in one organization.
    pub fn organization_resource_scopes(
        &self,
        user_id: &str,
        org_id: &str,
        indicator: &str,
    ) -> Option<Vec<String>> {
        let org = self.organization(org_id)?;
        let member = org.members.iter().find(|m| m.user_id == user_id)?;
        let mut out: Vec<String> = Vec::new();
        for role in member
            .roles
            .iter()
            .filter_map(|r| self.organization_role(r))
        {
            for s in role.resource_scopes.get(indicator).into_iter().flatten() {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
        }
        Some(out)
    }

    /// API-resource scopes a user holds: global roles plus every organization role.
    pub fn resource_scopes(&self, user_id: &str, indicator: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(user) = self.user(user_id) {
            for role in user
                .roles
                .iter()
                .filter_map(|r| self.roles.iter().find(|x| &x.name == r))
            {
                for s in role.scopes.get(indicator).into_iter().flatten() {
                    if !out.contains(s) {
                        out.push(s.clone());
                    }
                }
            }
        }
        for (org, _) in self.memberships(user_id) {
            for s in self
                .organization_resource_scopes(user_id, &org.id, indicator)
                .unwrap_or_default()
            {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_is_valid() {
        let seed = Seed::from_toml_str(DEMO_SEED).unwrap();
        assert!(seed.application("portal-demo").is_some());
        assert!(seed.organization("org-acme").is_some());
        assert!(seed.organization("org-globex").is_some());
    }

    #[test]
    fn the_demo_seed_has_a_machine_to_machine_app() {
        let seed = Seed::demo();
        let app = seed.application("portal-m2m").unwrap();
        assert_eq!(app.app_type, AppType::MachineToMachine);
        assert!(app.secret.is_some() && app.redirect_uris.is_empty());
        // Provisioning names the portal's application by the first one.
        assert_eq!(seed.applications[0].app_type, AppType::Traditional);
    }

    #[test]
    fn machine_to_machine_apps_need_a_secret_and_no_redirect_uris() {
        let app = |extra: &str| {
            Seed::from_toml_str(&format!(
                "[[applications]]\nid = \"m\"\ntype = \"machine_to_machine\"\n{extra}"
            ))
        };
        assert!(app("secret = \"s\"\n").is_ok());
        assert_eq!(
            app("").unwrap_err().to_string(),
            "applications[0].secret: missing"
        );
        assert_eq!(
            app("secret = \"s\"\nredirect_uris = [\"http://127.0.0.1:1/cb\"]\n")
                .unwrap_err()
                .to_string(),
            "applications[0].redirect_uris: a machine-to-machine application has none"
        );
    }

    #[test]
    fn missing_password_names_the_field() {
        let err = Seed::from_toml_str(
            r#"
            [[users]]
            username = "a"
            password = "x"
            [[users]]
            username = "b"
            password = "y"
            [[users]]
            username = "c"
            "#,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "users[2].password: missing");
    }

    #[test]
    fn unknown_org_role_names_the_field() {
        let err = Seed::from_toml_str(
            r#"
            [[users]]
            username = "a"
            password = "x"
            [[organizations]]
            id = "o"
            name = "O"
            members = [{ user = "a", roles = ["boss"] }]
            "#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "organizations[0].members[0].roles[0]: unknown organization role \"boss\""
        );
    }

    #[test]
    fn tenants_are_validated_naming_the_field() {
        let org = |tenant: &str| {
            Seed::from_toml_str(&format!(
                "[[organizations]]\nid = \"o\"\nname = \"O\"\ntenant = {tenant}\n\
                 [[organizations]]\nid = \"p\"\nname = \"P\"\ntenant = {{ slug = \"p\" }}\n"
            ))
        };
        let seed = org("{ slug = \"o\", login_hint = \"a@o.test\" }").unwrap();
        let tenant = seed.organizations[0].tenant.as_ref().unwrap();
        assert_eq!(
            (tenant.slug.as_str(), tenant.display_name.as_str()),
            ("o", "O")
        );
        for (tenant, expected) in [
            (
                "{ slug = \"Bad\" }",
                "organizations[0].tenant.slug: \"Bad\" must match",
            ),
            (
                "{ slug = \"p\" }",
                "organizations[1].tenant.slug: duplicate slug \"p\"",
            ),
            (
                "{ display_name = \"x\" }",
                "organizations[0].tenant.slug: missing",
            ),
            (
                "{ slug = \"o\", sso_connector = \"nope\" }",
                "organizations[0].tenant.sso_connector: unknown SSO connector \"nope\"",
            ),
            ("{ slug = \"o\", extra = 1 }", "extra"),
        ] {
            let err = org(tenant).unwrap_err().to_string();
            assert!(err.contains(expected), "{tenant}: {err}");
        }
    }

    #[test]
    fn the_demo_seed_has_the_portals_tenants() {
        let seed = Seed::demo();
        let slugs: Vec<&str> = seed
            .organizations
            .iter()
            .filter_map(|o| o.tenant.as_ref().map(|t| t.slug.as_str()))
            .collect();
        assert_eq!(slugs, ["acme", "globex"]);
    }

    #[test]
    fn wrong_type_is_reported() {
        let err = Seed::from_toml_str("[[users]]\nusername = 3\n").unwrap_err();
        assert!(err.to_string().contains("username"), "{err}");
    }

    #[test]
    fn user_ids_are_stable_and_logto_shaped() {
        let id = derive_user_id("alice");
        assert_eq!(id, derive_user_id("alice"));
        assert_eq!(id.len(), 12);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        );
    }
}
