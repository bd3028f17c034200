//! Configuration, read once at start-up from the environment (optionally a
//! `.env` file) into typed values. A missing or malformed value stops
//! start-up with one line naming the variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use logto_actix::postgres::{CryptoError, TokenCipher};
use logto_client::{ResourceIndicator, SigningAlgorithm};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::management::M2mCredentials;

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {name}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

fn problem(name: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        problem: problem.into(),
    }
}

/// The portal's settings. `Debug` never shows a secret.
#[derive(Clone)]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: SecretString,
    /// `LOGTO_ENDPOINT`: Logto's public base URL (the issuer is `{endpoint}/oidc`).
    pub logto_endpoint: Url,
    /// `LOGTO_APP_ID`.
    pub app_id: String,
    /// `LOGTO_APP_SECRET`.
    pub app_secret: SecretString,
    /// `LOGTO_SCOPES`: extra scopes on top of the defaults.
    pub scopes: Vec<String>,
    /// `LOGTO_RESOURCES`: API resource indicators requested at sign-in.
    pub resources: Vec<ResourceIndicator>,
    /// `PORTAL_BASE_URL`: the public URL, without a trailing slash.
    pub base_url: Url,
    /// `PORTAL_BIND`, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `PORTAL_SESSION_KEY`: at least 64 bytes, base64; signs and encrypts the cookie.
    pub session_key: SecretBytes,
    /// `PORTAL_TOKEN_KEY`: 32 bytes, base64, decoded once into the cipher
    /// that encrypts tokens at rest (its `Debug` is redacted).
    pub token_key: TokenCipher,
    /// `PORTAL_API_RESOURCE`: the indicator of the portal's own API.
    pub api_resource: Option<ResourceIndicator>,
    /// `PORTAL_TENANTS_FILE`: TOML seed of tenants, upserted at start-up.
    pub tenants_file: Option<PathBuf>,
    /// `PORTAL_IDLE_TIMEOUT` (seconds, default 1800): sign-out after inactivity.
    pub idle_timeout: Duration,
    /// `PORTAL_ABSOLUTE_TIMEOUT` (seconds, default 43200): sign-out after this long, however active.
    pub absolute_timeout: Duration,
    /// `PORTAL_TEMPLATES_DIR`: where the Tera templates and `static/` live.
    pub templates_dir: PathBuf,
    /// `PORTAL_SIGN_IN_RATE` (requests per minute per client IP on `/sign-in`
    /// and `/callback`, default 60; 0 disables the limit).
    pub sign_in_rate_per_minute: u32,
    /// `PORTAL_CLOCK_SKEW` (seconds, default 60): tolerance on `exp`/`iat`.
    pub clock_skew: Duration,
    /// `PORTAL_DATABASE_CONNECTIONS`: the most PostgreSQL connections this
    /// instance opens (default [`default_database_connections`]), shared
    /// by its workers ([`crate::startup::worker_connections`]).
    pub database_connections: u32,
    /// `LOGTO_HTTP_TIMEOUT` (seconds, default 30): the longest one request to
    /// Logto (discovery, JWKS, token, userinfo, revocation) may take.
    pub idp_timeout: Duration,
    /// `PORTAL_BACKCHANNEL_RATE` (refused requests per minute per client IP
    /// on `/backchannel-logout` before every request from that IP is refused,
    /// default 600; 0 disables the limit). Valid deliveries never count: Logto
    /// sends one logout token per session, all from its own address.
    pub backchannel_rate_per_minute: u32,
    /// `LOGTO_SIGNING_ALGORITHMS` (space- or comma-separated, default every
    /// algorithm Logto signs with: `RS256 PS256 ES256 ES384 ES512`): the JWT
    /// algorithms accepted for ID, access and logout tokens. Narrow it to your
    /// tenant's key type (`ES384` for Logto's default EC key). `none` and
    /// HMAC algorithms cannot be enabled.
    pub signing_algorithms: Vec<SigningAlgorithm>,
    /// `PORTAL_SESSION_REVALIDATE` (seconds, default
    /// [`DEFAULT_SESSION_REVALIDATE`]; `0` disables: `None`): a login not
    /// checked with the identity provider for this long is checked on its
    /// next request (a refresh grant), so a grant revoked at the identity
    /// provider without a back-channel logout ends the login within about
    /// this long.
    pub session_revalidate: Option<Duration>,
    /// `LOGTO_M2M_APP_ID` and `LOGTO_M2M_APP_SECRET` (both or neither): the
    /// machine-to-machine application organization self-service calls
    /// Logto's Management API as. Without it the members pages answer 503.
    pub m2m: Option<M2mCredentials>,
    /// `PORTAL_INVITATION_EMAILS` (`true`/`false`, default `false`): Logto's
    /// email connector sends invitations; otherwise the portal shows the
    /// invitation link to the admin who invited.
    pub invitation_emails: bool,
    /// `PORTAL_INVITATION_TTL` (seconds, default 7 days): how long an
    /// invitation can be accepted.
    pub invitation_ttl: Duration,
}

/// The default of `PORTAL_SESSION_REVALIDATE`: 5 minutes. A check costs one
/// refresh grant per active login per interval; a revoked grant is noticed
/// within about this long.
pub const DEFAULT_SESSION_REVALIDATE: Duration = Duration::from_secs(5 * 60);

/// Secret bytes with a redacted `Debug`.
#[derive(Clone)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &"[redacted]")
            .field("logto_endpoint", &self.logto_endpoint.as_str())
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("resources", &self.resources)
            .field("base_url", &self.base_url.as_str())
            .field("bind", &self.bind)
            .field("session_key", &"[redacted]")
            .field("token_key", &"[redacted]")
            .field("api_resource", &self.api_resource)
            .field("tenants_file", &self.tenants_file)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("templates_dir", &self.templates_dir)
            .field("sign_in_rate_per_minute", &self.sign_in_rate_per_minute)
            .field("clock_skew", &self.clock_skew)
            .field("idp_timeout", &self.idp_timeout)
            .field(
                "backchannel_rate_per_minute",
                &self.backchannel_rate_per_minute,
            )
            .field("signing_algorithms", &self.signing_algorithms)
            .field("session_revalidate", &self.session_revalidate)
            .field("m2m", &self.m2m)
            .field("invitation_emails", &self.invitation_emails)
            .field("invitation_ttl", &self.invitation_ttl)
            .finish()
    }
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let v = value.trim();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines.iter().find_map(|e| e.decode(v).ok())
}

/// The configuration's source: the process environment (after `.env`), then
/// the `.env`-format files named by `PORTAL_ENV_FILE` (paths separated by
/// `:`; the first file naming a variable wins). A container reads secrets
/// generated into a volume this way (docker-compose.yml). A file that cannot
/// be read or parsed is a [`ConfigError`] naming `PORTAL_ENV_FILE`.
pub fn env_lookup() -> Result<impl Fn(&str) -> Option<String>, ConfigError> {
    let _ = dotenvy::dotenv();
    let files = read_env_files(std::env::var("PORTAL_ENV_FILE").ok().as_deref())?;
    Ok(layered(|name| std::env::var(name).ok(), files))
}

/// The variables of the files of a `PORTAL_ENV_FILE` value.
fn read_env_files(list: Option<&str>) -> Result<HashMap<String, String>, ConfigError> {
    let mut values = HashMap::new();
    for path in list
        .unwrap_or_default()
        .split(':')
        .filter(|p| !p.is_empty())
    {
        let unreadable = |e: dotenvy::Error| problem("PORTAL_ENV_FILE", format!("{path}: {e}"));
        for item in dotenvy::from_path_iter(path).map_err(unreadable)? {
            let (name, value) = item.map_err(unreadable)?;
            values.entry(name).or_insert(value);
        }
    }
    Ok(values)
}

/// `env` where it has a non-empty value, else `files`.
fn layered(
    env: impl Fn(&str) -> Option<String>,
    files: HashMap<String, String>,
) -> impl Fn(&str) -> Option<String> {
    move |name| {
        env(name)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| files.get(name).cloned())
    }
}

impl Settings {
    /// Reads the settings from the process environment (and `.env`, and the
    /// files of `PORTAL_ENV_FILE`: [`env_lookup`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup()?)
    }

    /// Reads the settings through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or_else(|| problem(name, "is not set"));
        let url = |name: &'static str| -> Result<Url, ConfigError> {
            let raw = required(name)?;
            let parsed = Url::parse(raw.trim_end_matches('/'))
                .map_err(|e| problem(name, format!("is not a URL ({e})")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                return Err(problem(name, "must be an http(s) URL with a host"));
            }
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return Err(problem(name, "must not carry a query or fragment"));
            }
            Ok(parsed)
        };
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s > 0)
                    .map(Duration::from_secs)
                    .ok_or_else(|| problem(name, "must be a positive number of seconds")),
            }
        };
        let words = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };

        let resource = |name: &'static str, value: &str| {
            ResourceIndicator::parse(value).map_err(|e| problem(name, e.to_string()))
        };
        let resources = words("LOGTO_RESOURCES")
            .iter()
            .map(|r| resource("LOGTO_RESOURCES", r))
            .collect::<Result<Vec<_>, _>>()?;
        let api_resource = get("PORTAL_API_RESOURCE")
            .map(|v| resource("PORTAL_API_RESOURCE", v.trim()))
            .transpose()?;

        let bind = match get("PORTAL_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.trim().parse().map_err(|e| {
                problem(
                    "PORTAL_BIND",
                    format!("{v:?} is not a socket address ({e})"),
                )
            })?,
        };
        let session_key = decode_base64(&required("PORTAL_SESSION_KEY")?)
            .ok_or_else(|| problem("PORTAL_SESSION_KEY", "is not base64"))?;
        if session_key.len() < 64 {
            return Err(problem(
                "PORTAL_SESSION_KEY",
                format!(
                    "must decode to at least 64 bytes (got {}); try `openssl rand -base64 64`",
                    session_key.len()
                ),
            ));
        }
        let token_key =
            TokenCipher::from_base64(&required("PORTAL_TOKEN_KEY")?).map_err(|e| match e {
                CryptoError::KeyLength(n) => problem(
                    "PORTAL_TOKEN_KEY",
                    format!(
                        "must decode to exactly 32 bytes (got {n}); try `openssl rand -base64 32`"
                    ),
                ),
                _ => problem("PORTAL_TOKEN_KEY", "is not base64"),
            })?;
        let idle_timeout = seconds("PORTAL_IDLE_TIMEOUT", 30 * 60)?;
        let absolute_timeout = seconds("PORTAL_ABSOLUTE_TIMEOUT", 12 * 60 * 60)?;
        let rate = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| problem(name, "must be a whole number")),
            }
        };
        let sign_in_rate_per_minute = rate("PORTAL_SIGN_IN_RATE", 60)?;
        let backchannel_rate_per_minute = rate("PORTAL_BACKCHANNEL_RATE", 600)?;
        let clock_skew = seconds("PORTAL_CLOCK_SKEW", 60)?;
        let database_connections = match get("PORTAL_DATABASE_CONNECTIONS") {
            None => default_database_connections(),
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_DATABASE_CONNECTIONS).contains(&n) => n,
                _ => {
                    return Err(problem(
                        "PORTAL_DATABASE_CONNECTIONS",
                        format!("must be a whole number from 1 to {MAX_DATABASE_CONNECTIONS}"),
                    ));
                }
            },
        };
        let idp_timeout = seconds("LOGTO_HTTP_TIMEOUT", 30)?;
        let session_revalidate = match get("PORTAL_SESSION_REVALIDATE") {
            None => Some(DEFAULT_SESSION_REVALIDATE),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(s) => Some(Duration::from_secs(s)),
                Err(_) => {
                    return Err(problem(
                        "PORTAL_SESSION_REVALIDATE",
                        "must be a whole number of seconds (0 disables)",
                    ));
                }
            },
        };
        let signing_algorithms = match get("LOGTO_SIGNING_ALGORITHMS") {
            None => SigningAlgorithm::ALL.to_vec(),
            Some(v) => {
                let mut algs = Vec::new();
                for name in v.split(|c: char| c == ',' || c.is_whitespace()) {
                    if name.is_empty() {
                        continue;
                    }
                    let alg = SigningAlgorithm::from_alg(name).ok_or_else(|| {
                        problem(
                            "LOGTO_SIGNING_ALGORITHMS",
                            format!(
                                "{name:?} is not one of RS256, PS256, ES256, ES384, ES512 (none and HMAC are never accepted)"
                            ),
                        )
                    })?;
                    if !algs.contains(&alg) {
                        algs.push(alg);
                    }
                }
                if algs.is_empty() {
                    return Err(problem("LOGTO_SIGNING_ALGORITHMS", "lists no algorithm"));
                }
                algs
            }
        };
        let m2m = match (get("LOGTO_M2M_APP_ID"), get("LOGTO_M2M_APP_SECRET")) {
            (Some(id), Some(secret)) => Some(M2mCredentials::new(id.trim(), secret)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(problem(
                    "LOGTO_M2M_APP_SECRET",
                    "is not set (LOGTO_M2M_APP_ID is)",
                ));
            }
            (None, Some(_)) => {
                return Err(problem(
                    "LOGTO_M2M_APP_ID",
                    "is not set (LOGTO_M2M_APP_SECRET is)",
                ));
            }
        };
        let invitation_emails = match get("PORTAL_INVITATION_EMAILS").as_deref().map(str::trim) {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => return Err(problem("PORTAL_INVITATION_EMAILS", "must be true or false")),
        };
        let invitation_ttl = seconds("PORTAL_INVITATION_TTL", 7 * 24 * 60 * 60)?;
        let templates_dir = get("PORTAL_TEMPLATES_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(default_templates_dir);
        if !templates_dir.join("layout.html").is_file() {
            return Err(problem(
                "PORTAL_TEMPLATES_DIR",
                format!("{} holds no layout.html", templates_dir.display()),
            ));
        }
        Ok(Self {
            database_url: SecretString::from(required("DATABASE_URL")?),
            logto_endpoint: url("LOGTO_ENDPOINT")?,
            app_id: required("LOGTO_APP_ID")?,
            app_secret: SecretString::from(required("LOGTO_APP_SECRET")?),
            scopes: words("LOGTO_SCOPES"),
            resources,
            base_url: url("PORTAL_BASE_URL")?,
            bind,
            session_key: SecretBytes(session_key),
            token_key,
            api_resource,
            tenants_file: get("PORTAL_TENANTS_FILE").map(PathBuf::from),
            idle_timeout,
            absolute_timeout,
            templates_dir,
            sign_in_rate_per_minute,
            clock_skew,
            database_connections,
            idp_timeout,
            backchannel_rate_per_minute,
            signing_algorithms,
            session_revalidate,
            m2m,
            invitation_emails,
            invitation_ttl,
        })
    }

    /// The URL Logto redirects back to: `{PORTAL_BASE_URL}/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.base_origin_and_path())
    }

    /// Where Logto sends the browser after sign-out: `{PORTAL_BASE_URL}/`.
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}/", self.base_origin_and_path())
    }

    /// `PORTAL_BASE_URL` without a trailing slash.
    pub fn base_origin_and_path(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }

    /// The origin (`scheme://host[:port]`) of the portal, for `Origin` checks.
    pub fn origin(&self) -> String {
        self.base_url.origin().ascii_serialization()
    }

    /// Served over https: cookies get `Secure` and the `__Host-` prefix.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// The database URL (a secret: it may carry a password).
    pub fn database_url(&self) -> &str {
        self.database_url.expose_secret()
    }
}

/// The CPUs this process may use (at least one): the portal runs one actix
/// worker per CPU, and its default connection budget is counted per CPU.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The highest `PORTAL_DATABASE_CONNECTIONS` accepted.
pub const MAX_DATABASE_CONNECTIONS: u32 = 1000;

/// PostgreSQL connections per CPU of this instance, by default.
const DATABASE_CONNECTIONS_PER_CPU: u32 = 8;

/// The default of `PORTAL_DATABASE_CONNECTIONS`: 8 per CPU of this instance
/// (16 on two CPUs).
///
/// A signed-in page holds a connection only for its one query, so a few
/// connections per CPU keep every worker busy. More only add PostgreSQL
/// backends that compete for the CPUs (measurements: docs/performance.md).
pub fn default_database_connections() -> u32 {
    u32::try_from(cpus())
        .unwrap_or(u32::MAX)
        .saturating_mul(DATABASE_CONNECTIONS_PER_CPU)
        .min(MAX_DATABASE_CONNECTIONS)
}

/// The workspace's `templates/` when run from a checkout, else `./templates`.
fn default_templates_dir() -> PathBuf {
    let in_workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates"));
    if in_workspace.join("layout.html").is_file() {
        in_workspace
    } else {
        PathBuf::from("templates")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::HashMap;

    use base64::Engine;

    use super::*;

    fn base_env() -> HashMap<&'static str, String> {
        let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
        HashMap::from([
            ("DATABASE_URL", "postgres://db.internal/portal".to_owned()),
            ("LOGTO_ENDPOINT", "https://auth.example.com".to_owned()),
            ("LOGTO_APP_ID", "app".to_owned()),
            ("LOGTO_APP_SECRET", "app-secret-value".to_owned()),
            ("PORTAL_BASE_URL", "https://portal.example.com".to_owned()),
            ("PORTAL_SESSION_KEY", b64(64)),
            ("PORTAL_TOKEN_KEY", b64(32)),
        ])
    }

    fn load(changes: &[(&'static str, Option<&str>)]) -> Result<Settings, ConfigError> {
        let mut env = base_env();
        for (name, value) in changes {
            match value {
                Some(v) => env.insert(name, (*v).to_owned()),
                None => env.remove(name),
            };
        }
        Settings::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn the_defaults_are_sane() {
        let s = load(&[]).unwrap();
        assert_eq!(s.idle_timeout, Duration::from_secs(1800));
        assert_eq!(s.absolute_timeout, Duration::from_secs(12 * 3600));
        assert_eq!(s.signing_algorithms, SigningAlgorithm::ALL.to_vec());
        assert_eq!(s.sign_in_rate_per_minute, 60);
        assert_eq!(s.idp_timeout, Duration::from_secs(30));
        assert_eq!(s.database_connections, default_database_connections());
        assert!(s.database_connections >= DATABASE_CONNECTIONS_PER_CPU);
        assert_eq!(
            usize::try_from(s.database_connections).unwrap(),
            (cpus() * 8).min(1000),
            "8 per CPU"
        );
        let s = load(&[("LOGTO_HTTP_TIMEOUT", Some("5"))]).unwrap();
        assert_eq!(s.idp_timeout, Duration::from_secs(5));
        let s = load(&[("PORTAL_DATABASE_CONNECTIONS", Some(" 12 "))]).unwrap();
        assert_eq!(s.database_connections, 12);
    }

    #[test]
    fn resources_are_parsed_as_indicators_and_kept_as_given() {
        let s = load(&[
            (
                "LOGTO_RESOURCES",
                Some(" https://api.example.com  urn:example:api "),
            ),
            ("PORTAL_API_RESOURCE", Some(" https://api.example.com ")),
        ])
        .unwrap();
        assert_eq!(s.resources, ["https://api.example.com", "urn:example:api"]);
        assert_eq!(
            s.api_resource.as_ref().map(|r| r.as_str()),
            Some("https://api.example.com")
        );
        // A bad one names itself.
        let e = load(&[("PORTAL_API_RESOURCE", Some("api.example.com"))]).unwrap_err();
        assert!(e.to_string().contains("\"api.example.com\""), "{e}");
    }

    #[test]
    fn session_revalidation_is_on_by_default_and_zero_disables_it() {
        let s = load(&[]).unwrap();
        assert_eq!(s.session_revalidate, Some(Duration::from_secs(300)));
        let s = load(&[("PORTAL_SESSION_REVALIDATE", Some(" 90 "))]).unwrap();
        assert_eq!(s.session_revalidate, Some(Duration::from_secs(90)));
        let s = load(&[("PORTAL_SESSION_REVALIDATE", Some("0"))]).unwrap();
        assert_eq!(s.session_revalidate, None);
    }

    #[test]
    fn every_problem_names_its_variable() {
        let cases: &[(&'static str, Option<&str>)] = &[
            ("LOGTO_APP_ID", None),
            ("DATABASE_URL", None),
            ("LOGTO_ENDPOINT", Some("not a url")),
            ("PORTAL_SESSION_KEY", Some("%%%")),
            ("PORTAL_TOKEN_KEY", Some("c2hvcnQ=")),
            ("PORTAL_IDLE_TIMEOUT", Some("soon")),
            ("PORTAL_SIGN_IN_RATE", Some("-1")),
            ("PORTAL_DATABASE_CONNECTIONS", Some("0")),
            ("PORTAL_DATABASE_CONNECTIONS", Some("1001")),
            ("PORTAL_DATABASE_CONNECTIONS", Some("many")),
            ("LOGTO_HTTP_TIMEOUT", Some("0")),
            ("PORTAL_SESSION_REVALIDATE", Some("soon")),
            ("PORTAL_SESSION_REVALIDATE", Some("-1")),
            ("PORTAL_SESSION_REVALIDATE", Some("1.5")),
            ("LOGTO_SIGNING_ALGORITHMS", Some("HS256")),
            ("LOGTO_SIGNING_ALGORITHMS", Some("none")),
            ("LOGTO_SIGNING_ALGORITHMS", Some("ES384, es256")),
            ("LOGTO_SIGNING_ALGORITHMS", Some(" , ")),
            (
                "LOGTO_RESOURCES",
                Some("https://api.example.com api.example.com"),
            ),
            ("LOGTO_RESOURCES", Some("https://api.example.com#reports")),
            ("PORTAL_API_RESOURCE", Some("/api")),
        ];
        for (name, value) in cases {
            let e = load(&[(name, *value)])
                .err()
                .unwrap_or_else(|| panic!("{name}={value:?} accepted"));
            assert_eq!(e.name, *name, "{e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("configuration: {name}: ")),
                "{e}"
            );
        }
    }

    #[tokio::test]
    async fn the_database_connections_are_the_budget_of_the_pool() {
        for (value, expected) in [(None, default_database_connections()), (Some("3"), 3)] {
            let s = load(&[("PORTAL_DATABASE_CONNECTIONS", value)]).unwrap();
            let pool = crate::startup::pool(&s).unwrap();
            assert_eq!(pool.options().get_max_connections(), expected);
        }
    }

    #[test]
    fn signing_algorithms_can_be_narrowed() {
        let s = load(&[("LOGTO_SIGNING_ALGORITHMS", Some("ES384,RS256 ES384"))]).unwrap();
        assert_eq!(
            s.signing_algorithms,
            vec![SigningAlgorithm::ES384, SigningAlgorithm::RS256]
        );
    }

    /// Writes `text` to a new file under the temporary directory.
    fn temp_file(text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("portal-env-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn env_files_fill_in_what_the_environment_leaves_unset() {
        let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![9u8; n]);
        // The format docker-compose.yml's secrets service writes.
        let generated = temp_file(&format!(
            "DATABASE_URL='postgres://portal:pw@postgres:5432/portal'\n\
             PORTAL_SESSION_KEY='{}'\nPORTAL_TOKEN_KEY='{}'\nLOGTO_APP_ID=from-the-first-file\n",
            b64(64),
            b64(32)
        ));
        let provisioned =
            temp_file("LOGTO_APP_ID=from-the-second-file\nLOGTO_APP_SECRET=provisioned-secret\n");
        let list = format!("{}:{}", generated.display(), provisioned.display());
        let files = read_env_files(Some(&list)).unwrap();
        let env = HashMap::from([
            ("LOGTO_ENDPOINT", "https://auth.example.com"),
            ("PORTAL_BASE_URL", "https://portal.example.com"),
            ("LOGTO_APP_ID", "from-the-environment"),
            ("DATABASE_URL", " "),
        ]);
        let lookup = layered(|name| env.get(name).map(|v| (*v).to_owned()), files);
        let s = Settings::from_lookup(&lookup).unwrap();
        assert_eq!(s.app_id, "from-the-environment", "the environment wins");
        assert_eq!(
            s.database_url(),
            "postgres://portal:pw@postgres:5432/portal",
            "an empty variable counts as unset"
        );
        assert_eq!(s.app_secret.expose_secret(), "provisioned-secret");
        assert_eq!(s.session_key.expose(), vec![9u8; 64].as_slice());
        let env = HashMap::<&str, &str>::new();
        let lookup = layered(
            |name| env.get(name).map(|v| (*v).to_owned()),
            read_env_files(Some(&list)).unwrap(),
        );
        assert_eq!(
            lookup("LOGTO_APP_ID").as_deref(),
            Some("from-the-first-file"),
            "the first file wins"
        );
        assert_eq!(read_env_files(None).unwrap(), HashMap::new());
        for path in [generated, provisioned] {
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn an_unreadable_env_file_names_portal_env_file() {
        let missing = std::env::temp_dir().join(format!("portal-env-{}", uuid::Uuid::new_v4()));
        let malformed = temp_file("DATABASE_URL='unterminated\n");
        for path in [&missing, &malformed] {
            let e = read_env_files(Some(&path.display().to_string())).unwrap_err();
            assert_eq!(e.name, "PORTAL_ENV_FILE", "{e}");
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        std::fs::remove_file(malformed).unwrap();
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let s = load(&[]).unwrap();
        let shown = format!("{s:?}");
        for secret in [
            "app-secret-value",
            "db.internal",
            &base_env()["PORTAL_TOKEN_KEY"],
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("signing_algorithms"));
    }
}
