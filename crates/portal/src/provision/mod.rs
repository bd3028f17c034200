//! Provisioning a real Logto from the demo seed, through the Management API
//! (`portal logto provision`).
//!
//! Every step is create-or-update, found by a natural key: the application by
//! name, an API resource by indicator, a role or organization role or
//! organization permission by name, a user by username, an organization by
//! the seed id kept in its custom data (`seedId`, or by name the first time).
//! What differs is updated; relations named by the seed (a role's permissions,
//! a user's roles, a member's organization roles) are made equal to the seed.
//! Nothing is deleted: objects and members the seed does not name are left
//! alone. So a rerun changes nothing, and a run that stopped half-way (Logto
//! went away, a bad value) is completed by the next one.
//!
//! The seed is checked in full ([`check_seed`]) before the first call.
//! Parts of the seed only logto-dev understands (user and application ids,
//! `:*` redirect URIs, simulated SSO connectors) are ignored: the
//! application's URIs come from the base URLs given.

pub mod bootstrap;
pub mod output;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use logto_seed::{Seed, SeedError};
use secrecy::SecretString;
use sqlx::PgPool;
use url::Url;

use crate::management::{
    Application, ApplicationPatch, ApplicationType, ManagementClient, ManagementError,
    NewApplication, NewOrganization, NewUser, OidcClientMetadata, Organization, OrganizationPatch,
    ResourcePatch, RoleType, User, UserPatch,
};
use crate::storage::tenants;

/// Key of an organization's custom data holding its seed id.
pub const SEED_ID_KEY: &str = "seedId";

/// Name of the secret provisioning adds when an application has none left.
const SECRET_NAME: &str = "portal";

/// Everything provisioning can fail with. `Display` is one line naming the problem.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The seed is invalid, or uses something real Logto cannot take.
    #[error("seed: {0}")]
    Seed(#[from] SeedError),
    /// A base URL the application cannot use.
    #[error("--base-url {0:?}: must be an absolute http(s) URL without query or fragment")]
    BaseUrl(String),
    /// A Management API call failed.
    #[error(transparent)]
    Logto(#[from] ManagementError),
    /// The portal's database (tenants).
    #[error("portal database: {0}")]
    Database(#[from] sqlx::Error),
    /// Bootstrapping the machine-to-machine application failed.
    #[error("bootstrap of the M2M app: {0}")]
    Bootstrap(String),
    /// Logto's own database (bootstrap only).
    #[error("Logto's database (LOGTO_DATABASE_URL): {0}")]
    LogtoDatabase(#[source] sqlx::Error),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// An application's client id and secret. `Debug` hides the secret.
#[derive(Clone)]
pub struct AppCredentials {
    /// Client id (`LOGTO_APP_ID`).
    pub id: String,
    /// Client secret (`LOGTO_APP_SECRET`).
    pub secret: SecretString,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// What a run changed, one line per object or relation ("created user alice").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Objects created.
    pub created: Vec<String>,
    /// Objects or relations updated.
    pub updated: Vec<String>,
}

impl Report {
    fn created(&mut self, what: String) {
        tracing::info!("created {what}");
        self.created.push(what);
    }

    fn updated(&mut self, what: String) {
        tracing::info!("updated {what}");
        self.updated.push(what);
    }

    /// How many changes were made (0 on a rerun).
    pub fn changes(&self) -> usize {
        self.created.len() + self.updated.len()
    }
}

/// A provisioned organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedOrganization {
    /// The id Logto assigned.
    pub id: String,
    /// Name.
    pub name: String,
    /// The portal tenant's slug, if the organization has a tenant.
    pub slug: Option<String>,
}

/// A provisioned user. `Debug` hides the password.
#[derive(Clone)]
pub struct ProvisionedUser {
    /// The id Logto assigned (`sub`).
    pub id: String,
    /// The seed's password.
    pub password: SecretString,
}

impl std::fmt::Debug for ProvisionedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionedUser")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The result of [`provision`].
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The Traditional web application.
    pub app: AppCredentials,
    /// Organizations by seed id.
    pub organizations: BTreeMap<String, ProvisionedOrganization>,
    /// Users by username.
    pub users: BTreeMap<String, ProvisionedUser>,
    /// Indicators of the seed's API resources.
    pub resources: Vec<String>,
    /// The portal's API resource (`PORTAL_API_RESOURCE`): the seed's first.
    pub api_resource: Option<String>,
    /// What changed.
    pub report: Report,
}

// ---- checks before any call ------------------------------------------------------------

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ProvisionError {
    ProvisionError::Seed(SeedError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

/// Logto's username rule (`^[A-Z_a-z]\w*$`).
fn logto_username(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A phone number as Logto stores it: digits only (`+1 555-0100` → `15550100`);
/// `None` when it has anything but digits, spaces, dashes and a leading `+`.
pub fn logto_phone(phone: &str) -> Option<String> {
    let rest = phone.trim().strip_prefix('+').unwrap_or(phone.trim());
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

/// Checks what real Logto needs beyond the seed's own validation: one
/// Traditional application, Logto-shaped usernames, emails, phones and avatar
/// URLs, role names of Logto's length. Runs before any call.
pub fn check_seed(seed: &Seed) -> Result<(), ProvisionError> {
    traditional_app(seed)?;
    for (i, user) in seed.users.iter().enumerate() {
        let f = |name: &str| format!("users[{i}].{name}");
        if !logto_username(&user.username) || user.username.len() > 128 {
            return Err(invalid(
                f("username"),
                format!(
                    "{:?} is not a Logto username ([A-Za-z_][A-Za-z0-9_]*, at most 128)",
                    user.username
                ),
            ));
        }
        if let Some(email) = &user.email {
            let ok = email
                .split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.ends_with('.'))
                && !email.chars().any(char::is_whitespace);
            if !ok {
                return Err(invalid(f("email"), format!("{email:?} is not an email")));
            }
        }
        if let Some(phone) = &user.phone
            && logto_phone(phone).is_none()
        {
            return Err(invalid(
                f("phone"),
                format!("{phone:?} is not a phone number (+ and digits)"),
            ));
        }
        if let Some(picture) = &user.picture
            && Url::parse(picture).is_err()
        {
            return Err(invalid(f("picture"), format!("{picture:?} is not a URL")));
        }
        if !user.custom_data.is_object() {
            return Err(invalid(f("custom_data"), "must be a table"));
        }
    }
    check_references(seed)?;
    for (i, role) in seed.roles.iter().enumerate() {
        if role.name.len() > 128 {
            return Err(invalid(format!("roles[{i}].name"), "longer than 128"));
        }
    }
    for (i, role) in seed.organization_roles.iter().enumerate() {
        if role.name.len() > 128 {
            return Err(invalid(
                format!("organization_roles[{i}].name"),
                "longer than 128",
            ));
        }
    }
    for (i, org) in seed.organizations.iter().enumerate() {
        if org.name.len() > 128 {
            return Err(invalid(
                format!("organizations[{i}].name"),
                "longer than 128",
            ));
        }
    }
    Ok(())
}

/// Every name the seed refers to exists in it (parsing checks this too; a
/// seed built in code is checked here, so that nothing is skipped silently).
fn check_references(seed: &Seed) -> Result<(), ProvisionError> {
    for (i, user) in seed.users.iter().enumerate() {
        for (j, role) in user.roles.iter().enumerate() {
            if !seed.roles.iter().any(|r| &r.name == role) {
                return Err(invalid(
                    format!("users[{i}].roles[{j}]"),
                    format!("unknown role {role:?}"),
                ));
            }
        }
    }
    for (i, org) in seed.organizations.iter().enumerate() {
        for (j, member) in org.members.iter().enumerate() {
            let f = format!("organizations[{i}].members[{j}]");
            if seed.user(&member.user_id).is_none() {
                return Err(invalid(
                    format!("{f}.user"),
                    format!("unknown user {:?}", member.user_id),
                ));
            }
            for (k, role) in member.roles.iter().enumerate() {
                if seed.organization_role(role).is_none() {
                    return Err(invalid(
                        format!("{f}.roles[{k}]"),
                        format!("unknown organization role {role:?}"),
                    ));
                }
            }
        }
    }
    let known = |map: &BTreeMap<String, Vec<String>>| {
        map.iter().all(|(indicator, names)| {
            seed.resource(indicator)
                .is_some_and(|r| names.iter().all(|n| r.scopes.contains(n)))
        })
    };
    for (i, role) in seed.roles.iter().enumerate() {
        if !known(&role.scopes) {
            return Err(invalid(
                format!("roles[{i}].scopes"),
                "unknown API resource or permission",
            ));
        }
    }
    for (i, role) in seed.organization_roles.iter().enumerate() {
        if !known(&role.resource_scopes) {
            return Err(invalid(
                format!("organization_roles[{i}].resource_scopes"),
                "unknown API resource or permission",
            ));
        }
    }
    Ok(())
}

/// The seed's one Traditional web application.
fn traditional_app(seed: &Seed) -> Result<&logto_seed::Application, ProvisionError> {
    let mut apps = seed
        .applications
        .iter()
        .filter(|a| a.app_type == logto_seed::AppType::Traditional);
    match (apps.next(), apps.next()) {
        (Some(app), None) => Ok(app),
        (None, _) => Err(invalid(
            "applications",
            "no application of type \"traditional\" (the portal's)",
        )),
        (Some(_), Some(_)) => Err(invalid(
            "applications",
            "more than one application of type \"traditional\"; provisioning creates one",
        )),
    }
}

/// Checks the base URLs: at least one, each absolute http(s) without query or fragment.
pub fn check_base_urls(base_urls: &[Url]) -> Result<(), ProvisionError> {
    if base_urls.is_empty() {
        return Err(ProvisionError::BaseUrl(String::new()));
    }
    for url in base_urls {
        if !matches!(url.scheme(), "http" | "https")
            || url.cannot_be_a_base()
            || url.host_str().is_none()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(ProvisionError::BaseUrl(url.to_string()));
        }
    }
    Ok(())
}

// ---- pure diffs (unit-tested) ---------------------------------------------------------

/// The OIDC settings of the portal's application for these base URLs:
/// `{base}/callback`, `{base}/`, and the back-channel logout URI of the first.
pub fn web_app_metadata(base_urls: &[Url], session_required: bool) -> OidcClientMetadata {
    let bases: Vec<String> = base_urls
        .iter()
        .map(|u| u.as_str().trim_end_matches('/').to_owned())
        .collect();
    OidcClientMetadata {
        redirect_uris: bases.iter().map(|b| format!("{b}/callback")).collect(),
        post_logout_redirect_uris: bases.iter().map(|b| format!("{b}/")).collect(),
        backchannel_logout_uri: bases.first().map(|b| format!("{b}/backchannel-logout")),
        backchannel_logout_session_required: Some(session_required),
    }
}

/// The update an application needs to have `wanted` as its OIDC settings.
pub fn app_patch(existing: &Application, wanted: &OidcClientMetadata) -> Option<ApplicationPatch> {
    (existing.oidc_client_metadata != *wanted).then(|| ApplicationPatch {
        name: None,
        oidc_client_metadata: Some(wanted.clone()),
    })
}

/// The profile the seed gives a user, as Logto stores it.
fn seed_profile(user: &logto_seed::User) -> NewUser {
    NewUser {
        username: user.username.clone(),
        name: user.name.clone(),
        primary_email: user.email.clone(),
        primary_phone: user.phone.as_deref().and_then(logto_phone),
        avatar: user.picture.clone(),
        custom_data: Some(user.custom_data.clone()),
    }
}

/// The update a user's profile needs to match the seed. Fields the seed
/// leaves out are left alone; custom data is the seed's as a whole.
pub fn user_patch(existing: &User, user: &logto_seed::User) -> Option<UserPatch> {
    let wanted = seed_profile(user);
    fn differs(wanted: &Option<String>, current: &Option<String>) -> Option<String> {
        wanted.clone().filter(|w| Some(w) != current.as_ref())
    }
    let patch = UserPatch {
        name: differs(&wanted.name, &existing.name),
        primary_email: differs(&wanted.primary_email, &existing.primary_email),
        primary_phone: differs(&wanted.primary_phone, &existing.primary_phone),
        avatar: differs(&wanted.avatar, &existing.avatar),
        custom_data: wanted.custom_data.filter(|w| *w != existing.custom_data),
    };
    (patch != UserPatch::default()).then_some(patch)
}

/// The seed id an organization carries in its custom data.
fn seed_id_of(org: &Organization) -> Option<&str> {
    org.custom_data.get(SEED_ID_KEY).and_then(|v| v.as_str())
}

/// The Logto organization that is the seed's organization `seed_org`: the one
/// carrying its seed id, else one of the same name that carries none.
pub fn find_organization<'a>(
    existing: &'a [Organization],
    seed_org: &logto_seed::Organization,
) -> Option<&'a Organization> {
    existing
        .iter()
        .find(|o| seed_id_of(o) == Some(seed_org.id.as_str()))
        .or_else(|| {
            existing
                .iter()
                .find(|o| o.name == seed_org.name && seed_id_of(o).is_none())
        })
}

/// The update an organization needs to match the seed (name, description
/// when the seed gives one, and its seed id in the custom data, other keys kept).
pub fn organization_patch(
    existing: &Organization,
    seed_org: &logto_seed::Organization,
) -> Option<OrganizationPatch> {
    let custom_data = (seed_id_of(existing) != Some(seed_org.id.as_str())).then(|| {
        let mut data = match &existing.custom_data {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        data.insert(SEED_ID_KEY.to_owned(), seed_org.id.clone().into());
        serde_json::Value::Object(data)
    });
    let patch = OrganizationPatch {
        name: (existing.name != seed_org.name).then(|| seed_org.name.clone()),
        description: seed_org
            .description
            .clone()
            .filter(|d| Some(d) != existing.description.as_ref()),
        custom_data,
    };
    (patch != OrganizationPatch::default()).then_some(patch)
}

/// What to add to and remove from `current` to make it `wanted`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetDiff {
    /// In `wanted`, not in `current`.
    pub add: Vec<String>,
    /// In `current`, not in `wanted`.
    pub remove: Vec<String>,
}

impl SetDiff {
    /// The difference between two sets of ids.
    pub fn between<'a>(
        current: impl IntoIterator<Item = &'a str>,
        wanted: impl IntoIterator<Item = &'a str>,
    ) -> SetDiff {
        let current: BTreeSet<&str> = current.into_iter().collect();
        let wanted: BTreeSet<&str> = wanted.into_iter().collect();
        SetDiff {
            add: wanted
                .difference(&current)
                .map(|s| (*s).to_owned())
                .collect(),
            remove: current
                .difference(&wanted)
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }

    /// Whether the sets are equal.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

// ---- calls -----------------------------------------------------------------------------

/// Ensures a Traditional web application named `name` whose URIs are those of
/// `base_urls` (see [`web_app_metadata`]) and returns its credentials: found
/// by name and updated if its URIs differ, or created. Its secret is one it
/// already has (Logto gives a new application one), else a new one.
///
/// Tests of the real-Logto tier create one application per test portal with it.
pub async fn ensure_web_app(
    client: &ManagementClient,
    name: &str,
    base_urls: &[Url],
    session_required: bool,
) -> Result<AppCredentials, ProvisionError> {
    check_base_urls(base_urls)?;
    ensure_web_app_reporting(
        client,
        name,
        base_urls,
        session_required,
        &mut Report::default(),
    )
    .await
}

async fn ensure_web_app_reporting(
    client: &ManagementClient,
    name: &str,
    base_urls: &[Url],
    session_required: bool,
    report: &mut Report,
) -> Result<AppCredentials, ProvisionError> {
    let wanted = web_app_metadata(base_urls, session_required);
    let existing = client
        .list_applications()
        .await?
        .into_iter()
        .find(|a| a.app_type == ApplicationType::Traditional && a.name == name);
    let app = match existing {
        None => {
            let app = client
                .create_application(&NewApplication {
                    name: name.to_owned(),
                    app_type: ApplicationType::Traditional,
                    description: None,
                    oidc_client_metadata: wanted,
                })
                .await?;
            report.created(format!("application {name:?} ({})", app.id));
            app
        }
        Some(app) => match app_patch(&app, &wanted) {
            None => app,
            Some(patch) => {
                let app = client.update_application(&app.id, &patch).await?;
                report.updated(format!("application {name:?}: redirect URIs"));
                app
            }
        },
    };
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let usable = client
        .application_secrets(&app.id)
        .await?
        .into_iter()
        .find(|s| s.expires_at.is_none_or(|at| at > now_ms));
    let secret = match usable {
        Some(secret) => secret,
        None => {
            let secret = client
                .create_application_secret(&app.id, SECRET_NAME)
                .await?;
            report.created(format!("secret {:?} of application {name:?}", secret.name));
            secret
        }
    };
    Ok(AppCredentials {
        id: app.id,
        secret: secret.value,
    })
}

/// Creates or updates everything the seed names in the Logto behind `client`,
/// and, with `pool`, the portal's tenants (with the organization ids Logto
/// assigned). Checks the seed and the base URLs before the first call.
pub async fn provision(
    client: &ManagementClient,
    seed: &Seed,
    base_urls: &[Url],
    pool: Option<&PgPool>,
) -> Result<Provisioned, ProvisionError> {
    check_seed(seed)?;
    check_base_urls(base_urls)?;
    let mut report = Report::default();
    let seed_app = traditional_app(seed)?;
    let app = ensure_web_app_reporting(
        client,
        &seed_app.name,
        base_urls,
        seed_app.backchannel_logout_session_required,
        &mut report,
    )
    .await?;

    let scope_ids = resources(client, seed, &mut report).await?;
    let role_ids = roles(client, seed, &scope_ids, &mut report).await?;
    let org_role_ids = organization_template(client, seed, &scope_ids, &mut report).await?;
    let users = users(client, seed, &role_ids, &mut report).await?;
    let organizations = organizations(client, seed, &users, &org_role_ids, &mut report).await?;

    if let Some(pool) = pool {
        for org in &seed.organizations {
            let Some(real) = organizations.get(&org.id) else {
                continue;
            };
            let Some(tenant) = crate::tenant::from_seed(org, &real.id, false) else {
                continue;
            };
            match tenants::find(pool, &tenant.slug).await? {
                Some(current) if current == tenant => {}
                current => {
                    tenants::upsert(pool, &tenant).await?;
                    let what = format!("tenant {} (organization {})", tenant.slug, real.id);
                    if current.is_some() {
                        report.updated(what);
                    } else {
                        report.created(what);
                    }
                }
            }
        }
    }

    let users = seed
        .users
        .iter()
        .filter_map(|u| {
            users.get(&u.id).map(|id| {
                (
                    u.username.clone(),
                    ProvisionedUser {
                        id: id.clone(),
                        password: SecretString::from(u.password.clone()),
                    },
                )
            })
        })
        .collect();
    let resources: Vec<String> = seed
        .api_resources
        .iter()
        .map(|r| r.indicator.clone())
        .collect();
    Ok(Provisioned {
        app,
        organizations,
        users,
        api_resource: resources.first().cloned(),
        resources,
        report,
    })
}

/// API resources and their permissions; returns scope ids by (indicator, name).
async fn resources(
    client: &ManagementClient,
    seed: &Seed,
    report: &mut Report,
) -> Result<HashMap<(String, String), String>, ProvisionError> {
    let existing = client.list_resources().await?;
    let mut scope_ids = HashMap::new();
    for res in &seed.api_resources {
        let current = existing.iter().find(|r| r.indicator == res.indicator);
        let (id, scopes) = match current {
            None => {
                let created = client
                    .create_resource(&res.name, &res.indicator, res.access_token_ttl)
                    .await?;
                report.created(format!("API resource {}", res.indicator));
                (created.id, Vec::new())
            }
            Some(current) => {
                let patch = ResourcePatch {
                    name: (current.name != res.name).then(|| res.name.clone()),
                    access_token_ttl: res
                        .access_token_ttl
                        .filter(|ttl| *ttl != current.access_token_ttl),
                };
                if patch != ResourcePatch::default() {
                    client.update_resource(&current.id, &patch).await?;
                    report.updated(format!("API resource {}", res.indicator));
                }
                (current.id.clone(), current.scopes.clone())
            }
        };
        for name in &res.scopes {
            let scope_id = match scopes.iter().find(|s| &s.name == name) {
                Some(s) => s.id.clone(),
                None => {
                    let s = client.create_resource_scope(&id, name).await?;
                    report.created(format!("permission {name} of {}", res.indicator));
                    s.id
                }
            };
            scope_ids.insert((res.indicator.clone(), name.clone()), scope_id);
        }
    }
    Ok(scope_ids)
}

/// Scope ids of a seed's `{indicator: [scope]}` map (all known: the seed is validated).
fn wanted_scope_ids(
    map: &BTreeMap<String, Vec<String>>,
    scope_ids: &HashMap<(String, String), String>,
) -> Vec<String> {
    map.iter()
        .flat_map(|(indicator, names)| {
            names
                .iter()
                .filter_map(|n| scope_ids.get(&(indicator.clone(), n.clone())).cloned())
        })
        .collect()
}

/// Global user roles and their permissions; returns role ids by name.
async fn roles(
    client: &ManagementClient,
    seed: &Seed,
    scope_ids: &HashMap<(String, String), String>,
    report: &mut Report,
) -> Result<HashMap<String, String>, ProvisionError> {
    let existing = client.list_roles(RoleType::User).await?;
    let mut ids = HashMap::new();
    for role in &seed.roles {
        let wanted = wanted_scope_ids(&role.scopes, scope_ids);
        let id = match existing.iter().find(|r| r.name == role.name) {
            None => {
                let created = client
                    .create_role(&role.name, &role.name, RoleType::User, &wanted)
                    .await?;
                report.created(format!("role {}", role.name));
                created.id
            }
            Some(current) => {
                let now = client.role_scopes(&current.id).await?;
                let diff = SetDiff::between(
                    now.iter().map(|s| s.id.as_str()),
                    wanted.iter().map(String::as_str),
                );
                if !diff.add.is_empty() {
                    client.add_role_scopes(&current.id, &diff.add).await?;
                }
                for scope in &diff.remove {
                    client.remove_role_scope(&current.id, scope).await?;
                }
                if !diff.is_empty() {
                    report.updated(format!("permissions of role {}", role.name));
                }
                current.id.clone()
            }
        };
        ids.insert(role.name.clone(), id);
    }
    Ok(ids)
}

/// The organization template: permissions and roles; returns role ids by name.
async fn organization_template(
    client: &ManagementClient,
    seed: &Seed,
    scope_ids: &HashMap<(String, String), String>,
    report: &mut Report,
) -> Result<HashMap<String, String>, ProvisionError> {
    let existing_scopes = client.list_organization_scopes().await?;
    let mut permission_ids: HashMap<String, String> = HashMap::new();
    for name in seed
        .organization_roles
        .iter()
        .flat_map(|r| r.permissions.iter())
    {
        if permission_ids.contains_key(name) {
            continue;
        }
        let id = match existing_scopes.iter().find(|s| &s.name == name) {
            Some(s) => s.id.clone(),
            None => {
                let s = client.create_organization_scope(name).await?;
                report.created(format!("organization permission {name}"));
                s.id
            }
        };
        permission_ids.insert(name.clone(), id);
    }

    let existing_roles = client.list_organization_roles().await?;
    let mut ids = HashMap::new();
    for role in &seed.organization_roles {
        let permissions: Vec<String> = role
            .permissions
            .iter()
            .filter_map(|p| permission_ids.get(p).cloned())
            .collect();
        let resource_scopes = wanted_scope_ids(&role.resource_scopes, scope_ids);
        let id = match existing_roles.iter().find(|r| r.name == role.name) {
            None => {
                let created = client
                    .create_organization_role(&role.name, &permissions, &resource_scopes)
                    .await?;
                report.created(format!("organization role {}", role.name));
                created.id
            }
            Some(current) => {
                let now = current.scopes.iter().map(|s| s.id.as_str());
                if !SetDiff::between(now, permissions.iter().map(String::as_str)).is_empty() {
                    client
                        .set_organization_role_scopes(&current.id, &permissions)
                        .await?;
                    report.updated(format!("permissions of organization role {}", role.name));
                }
                let now = current.resource_scopes.iter().map(|s| s.id.as_str());
                if !SetDiff::between(now, resource_scopes.iter().map(String::as_str)).is_empty() {
                    client
                        .set_organization_role_resource_scopes(&current.id, &resource_scopes)
                        .await?;
                    report.updated(format!(
                        "API permissions of organization role {}",
                        role.name
                    ));
                }
                current.id.clone()
            }
        };
        ids.insert(role.name.clone(), id);
    }
    Ok(ids)
}

/// Users, their profiles, passwords and global roles; returns Logto ids by seed user id.
async fn users(
    client: &ManagementClient,
    seed: &Seed,
    role_ids: &HashMap<String, String>,
    report: &mut Report,
) -> Result<HashMap<String, String>, ProvisionError> {
    let mut ids = HashMap::new();
    for user in &seed.users {
        let password = SecretString::from(user.password.clone());
        let name = &user.username;
        let id = match client.find_user_by_username(name).await? {
            None => {
                let created = client.create_user(&seed_profile(user), &password).await?;
                report.created(format!("user {name} ({})", created.id));
                created.id
            }
            Some(current) => {
                if let Some(patch) = user_patch(&current, user) {
                    client.update_user(&current.id, &patch).await?;
                    report.updated(format!("profile of user {name}"));
                }
                if !client.verify_user_password(&current.id, &password).await? {
                    client.set_user_password(&current.id, &password).await?;
                    report.updated(format!("password of user {name}"));
                }
                current.id
            }
        };
        let now = client.user_roles(&id).await?;
        let wanted: Vec<&str> = user
            .roles
            .iter()
            .filter_map(|r| role_ids.get(r).map(String::as_str))
            .collect();
        let diff = SetDiff::between(now.iter().map(|r| r.id.as_str()), wanted);
        if !diff.add.is_empty() {
            client.add_user_roles(&id, &diff.add).await?;
        }
        for role in &diff.remove {
            client.remove_user_role(&id, role).await?;
        }
        if !diff.is_empty() {
            report.updated(format!("roles of user {name}"));
        }
        ids.insert(user.id.clone(), id);
    }
    Ok(ids)
}

/// Organizations, memberships and members' roles; returns them by seed id.
async fn organizations(
    client: &ManagementClient,
    seed: &Seed,
    user_ids: &HashMap<String, String>,
    org_role_ids: &HashMap<String, String>,
    report: &mut Report,
) -> Result<BTreeMap<String, ProvisionedOrganization>, ProvisionError> {
    let existing = client.list_organizations().await?;
    let mut out = BTreeMap::new();
    for org in &seed.organizations {
        let id = match find_organization(&existing, org) {
            None => {
                let created = client
                    .create_organization(&NewOrganization {
                        name: org.name.clone(),
                        description: org.description.clone(),
                        custom_data: serde_json::json!({ SEED_ID_KEY: org.id }),
                    })
                    .await?;
                report.created(format!("organization {} ({})", org.name, created.id));
                created.id
            }
            Some(current) => {
                if let Some(patch) = organization_patch(current, org) {
                    client.update_organization(&current.id, &patch).await?;
                    report.updated(format!("organization {}", org.name));
                }
                current.id.clone()
            }
        };
        let members = client.organization_members(&id).await?;
        let mut missing = Vec::new();
        for member in &org.members {
            if let Some(uid) = user_ids.get(&member.user_id)
                && !members.iter().any(|m| &m.id == uid)
            {
                missing.push(uid.clone());
            }
        }
        if !missing.is_empty() {
            client.add_organization_members(&id, &missing).await?;
            report.updated(format!("members of organization {}", org.name));
        }
        for member in &org.members {
            let Some(uid) = user_ids.get(&member.user_id) else {
                continue;
            };
            let now = members
                .iter()
                .find(|m| &m.id == uid)
                .map(|m| m.organization_roles.iter().map(|r| r.id.as_str()).collect())
                .unwrap_or_else(Vec::new);
            let wanted: Vec<String> = member
                .roles
                .iter()
                .filter_map(|r| org_role_ids.get(r).cloned())
                .collect();
            if !SetDiff::between(now, wanted.iter().map(String::as_str)).is_empty() {
                client
                    .set_organization_member_roles(&id, uid, &wanted)
                    .await?;
                let who = seed
                    .user(&member.user_id)
                    .map_or(member.user_id.as_str(), |u| u.username.as_str());
                report.updated(format!("roles of {who} in organization {}", org.name));
            }
        }
        out.insert(
            org.id.clone(),
            ProvisionedOrganization {
                id,
                name: org.name.clone(),
                slug: org.tenant.as_ref().map(|t| t.slug.clone()),
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
