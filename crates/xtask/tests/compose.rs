//! Structure checks of the Docker Compose deployment (`docker-compose.yml`,
//! `crates/portal/deploy/compose.production.yml`, `crates/portal/Dockerfile`,
//! `.dockerignore`, `crates/portal/deploy/`). Docker does not run where the
//! tests run, so this parses the files and checks what `docker compose up
//! --scale portal=3` relies on: the services, the order they start in, the
//! volumes that carry the generated secrets and credentials from the one-shot
//! services to the portal replicas, and that nothing secret is committed. The
//! one-shot services' shell scripts are run here for real, against temporary
//! directories standing in for the volumes (the provisioning command itself
//! is replaced by a stub: its code path is the one the real-Logto tier tests).
//!
//! Every check is a function returning the problems it found; the `*_fails_*`
//! tests feed each one a broken input to prove it can fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use serde_norway::{Mapping, Value};

/// The portal's image recipe, built with the repository root as context.
const DOCKERFILE: &str = "crates/portal/Dockerfile";

/// The real-deployment override, on top of `docker-compose.yml`.
const PRODUCTION: &str = "crates/portal/deploy/compose.production.yml";

/// The Logto release the real-Logto test tier runs: the compose file pins it.
const LOGTO_RELEASE: &str = "1.42";

/// Every service of the deployment.
const SERVICES: &[&str] = &[
    "secrets",
    "postgres",
    "logto",
    "provision",
    "portal",
    "proxy",
    "welcome",
];

/// The one-shot services: they run to completion at every `up`.
const ONE_SHOTS: &[&str] = &["secrets", "provision", "welcome"];

/// The start order: (service, what it waits for, the condition).
const ORDER: &[(&str, &str, &str)] = &[
    ("postgres", "secrets", "service_completed_successfully"),
    ("logto", "secrets", "service_completed_successfully"),
    ("logto", "postgres", "service_healthy"),
    ("provision", "secrets", "service_completed_successfully"),
    ("provision", "postgres", "service_healthy"),
    ("provision", "logto", "service_healthy"),
    ("portal", "postgres", "service_healthy"),
    ("portal", "provision", "service_completed_successfully"),
    ("proxy", "portal", "service_healthy"),
    ("welcome", "proxy", "service_healthy"),
];

/// The named volume holding every generated secret, mounted at `/secrets`.
const SECRETS: (&str, &str) = ("secrets", "/secrets");
/// The named volume the portal replicas read, mounted at `/portal-env`.
const PORTAL_ENV: (&str, &str) = ("portal-env", "/portal-env");

/// Which service mounts which of the two volumes, and how (`true`: read-only).
/// A service not listed for a volume must not mount it.
const VOLUME_USERS: &[(&str, &str, bool)] = &[
    ("secrets", "secrets", false),
    ("secrets", "portal-env", false),
    ("postgres", "secrets", true),
    ("logto", "secrets", true),
    ("provision", "secrets", false),
    ("provision", "portal-env", false),
    ("portal", "portal-env", true),
];

/// The portal's configuration names: the table "Configuration (fixed names)"
/// of the shared design document (design.md). Kept here, not parsed from that
/// document, so the test is self-contained.
const DESIGN_CONFIG_NAMES: &[&str] = &[
    "DATABASE_URL",
    "LOGTO_ENDPOINT",
    "LOGTO_APP_ID",
    "LOGTO_APP_SECRET",
    "LOGTO_SCOPES",
    "LOGTO_RESOURCES",
    "PORTAL_BASE_URL",
    "PORTAL_BIND",
    "PORTAL_SESSION_KEY",
    "PORTAL_TOKEN_KEY",
    "PORTAL_API_RESOURCE",
    "PORTAL_TENANTS_FILE",
];

/// Design names the compose deployment may leave unset: the provisioning
/// writes the tenants into the portal's database.
const OPTIONAL_CONFIG_NAMES: &[&str] = &["PORTAL_TENANTS_FILE"];

/// The portal replicas' files of generated values (PORTAL_ENV_FILE).
const PORTAL_ENV_FILE: &str =
    "/portal-env/portal.env:/portal-env/logto-app.env:/portal-env/logto-m2m.env";

type Problems = Vec<String>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn repo_path(rel: &str) -> PathBuf {
    repo_root().join(rel.trim_start_matches("./"))
}

fn read_repo_file(rel: &str) -> Option<String> {
    std::fs::read_to_string(repo_path(rel)).ok()
}

fn read(rel: &str) -> String {
    read_repo_file(rel).unwrap_or_else(|| panic!("{rel} is missing from the repository"))
}

fn parse(text: &str) -> Value {
    serde_norway::from_str(text).expect("not valid YAML")
}

fn compose() -> Value {
    parse(&read("docker-compose.yml"))
}

fn production() -> Value {
    parse(&read(PRODUCTION))
}

fn service<'a>(compose: &'a Value, name: &str) -> Option<&'a Value> {
    compose.get("services")?.get(name)
}

fn service_mut<'a>(compose: &'a mut Value, name: &str) -> &'a mut Mapping {
    compose
        .get_mut("services")
        .and_then(|s| s.get_mut(name))
        .and_then(Value::as_mapping_mut)
        .unwrap()
}

fn env_mut<'a>(compose: &'a mut Value, name: &str) -> &'a mut Mapping {
    service_mut(compose, name)
        .get_mut("environment")
        .and_then(Value::as_mapping_mut)
        .unwrap()
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list (`["a", "b"]`) or a string (`"a b"`, split on whitespace) of words.
fn words(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(items)) => items.iter().filter_map(string).collect(),
        Some(other) => string(other)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    }
}

/// A service's `environment`, in either the mapping or the `KEY=VALUE` list form.
fn environment(svc: &Value) -> Vec<(String, String)> {
    match svc.get("environment") {
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| (string(k).unwrap_or_default(), string(v).unwrap_or_default()))
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(string)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (item, String::new()),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn env_value(svc: &Value, name: &str) -> Option<String> {
    environment(svc)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Replaces Compose's interpolations (`${V}`, `${V:-d}`, `${V-d}`,
/// `${V:?msg}`, `${V?msg}`, `$V`; `$$` is a dollar) with values from `env`.
/// A required variable that is missing is an error, as in Compose.
fn interpolate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(inner) = rest.strip_prefix('{') {
            let end = inner.find('}').ok_or("unclosed ${")?;
            let body = &inner[..end];
            rest = &inner[end + 1..];
            let name_len = body
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(body.len());
            let (name, op) = body.split_at(name_len);
            let value = env(name);
            let set = value.as_deref().is_some_and(|v| !v.is_empty());
            let resolved = match op {
                "" => value.unwrap_or_default(),
                _ if op.starts_with(":-") => {
                    if set {
                        value.unwrap_or_default()
                    } else {
                        op[2..].to_owned()
                    }
                }
                _ if op.starts_with('-') => value.unwrap_or_else(|| op[1..].to_owned()),
                _ if op.starts_with(":?") || op.starts_with('?') => {
                    if set || (op.starts_with('?') && value.is_some()) {
                        value.unwrap_or_default()
                    } else {
                        return Err(format!(
                            "{name} is required: {}",
                            op.trim_start_matches([':', '?'])
                        ));
                    }
                }
                _ => return Err(format!("unknown interpolation ${{{body}}}")),
            };
            out.push_str(&resolved);
        } else {
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push_str(&env(&rest[..name_len]).unwrap_or_default());
            rest = &rest[name_len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The value Compose gives `text` when no variable is set (the defaults).
fn with_defaults(text: &str) -> String {
    interpolate(text, &|_| None).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// One published port: `[host_ip:]published:target[/proto]` or the long form.
#[derive(Debug)]
struct Port {
    host_ip: Option<String>,
    published: Option<String>,
    target: String,
}

fn ports(svc: &Value) -> Vec<Port> {
    let Some(Value::Sequence(items)) = svc.get("ports") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Mapping(_) => Some(Port {
                host_ip: item.get("host_ip").and_then(string),
                published: item.get("published").and_then(string),
                target: item.get("target").and_then(string)?,
            }),
            other => {
                let spec = string(other)?;
                let spec = spec.split('/').next().unwrap_or_default().to_owned();
                let mut parts: Vec<&str> = spec.split(':').collect();
                let target = parts.pop()?.to_owned();
                let published = parts.pop().map(str::to_owned);
                let host_ip = parts.pop().map(str::to_owned);
                Some(Port {
                    host_ip,
                    published,
                    target,
                })
            }
        })
        .collect()
}

/// One entry of a service's `volumes`.
#[derive(Debug, Clone)]
struct Mount {
    source: String,
    target: String,
    read_only: bool,
}

impl Mount {
    /// A file or directory of the host (the repository), not a named volume.
    fn is_bind(&self) -> bool {
        self.source.starts_with('.') || self.source.starts_with('/') || self.source.starts_with('$')
    }
}

/// A service's mounts, short (`source:target[:mode]`; the source may hold an
/// interpolation with colons, so it is split from the right) or long form.
fn mounts(svc: &Value) -> Vec<Mount> {
    let Some(Value::Sequence(items)) = svc.get("volumes") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Mapping(_) => Some(Mount {
                source: item.get("source").and_then(string).unwrap_or_default(),
                target: item.get("target").and_then(string)?,
                read_only: item.get("read_only").and_then(Value::as_bool) == Some(true),
            }),
            other => {
                let spec = string(other)?;
                let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
                let (mode, target, source) = match parts.as_slice() {
                    [last, target, source] if !last.starts_with('/') => {
                        (*last, *target, (*source).to_owned())
                    }
                    [target, rest @ ..] => (
                        "rw",
                        *target,
                        rest.iter().rev().copied().collect::<Vec<_>>().join(":"),
                    ),
                    [] => return None,
                };
                Some(Mount {
                    source,
                    target: target.to_owned(),
                    read_only: mode.split(',').any(|m| m == "ro"),
                })
            }
        })
        .collect()
}

/// The host file mounted at `target` in `svc`, if it is a bind mount.
fn bind_source_of(svc: &Value, target: &str) -> Option<String> {
    mounts(svc)
        .into_iter()
        .find(|m| m.target == target && m.is_bind())
        .map(|m| m.source)
}

/// `entrypoint` or `command` as one string.
fn joined(svc: &Value, key: &str) -> String {
    words(svc.get(key)).join(" ")
}

/// Every variable the compose file interpolates (`${VAR}`, `${VAR:-d}`,
/// `${VAR:?msg}`, `$VAR`); `$$` is an escaped dollar.
fn interpolated_variables(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let start = if bytes.get(i + 1) == Some(&b'{') {
            i + 2
        } else {
            i + 1
        };
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
        if end > start && !bytes[start].is_ascii_digit() {
            names.insert(text[start..end].to_owned());
        }
        i = end.max(i + 1);
    }
    names
}

/// `NAME` of every `NAME=value` line of an env file whose previous line is a
/// comment; undocumented (uncommented) assignments are reported as problems.
fn documented_variables(env_example: &str) -> (BTreeSet<String>, Problems) {
    let mut names = BTreeSet::new();
    let mut problems = Vec::new();
    let mut previous_is_comment = false;
    for line in env_example.lines() {
        let trimmed = line.trim();
        if let Some((name, _)) = trimmed.split_once('=')
            && !trimmed.starts_with('#')
        {
            let name = name.trim().to_owned();
            if !previous_is_comment {
                problems.push(format!(
                    "crates/portal/deploy/.env.example: {name} has no comment above it"
                ));
            }
            names.insert(name);
        }
        previous_is_comment = trimmed.starts_with('#');
    }
    (names, problems)
}

/// Every string (keys and values) of a YAML document: what Compose
/// interpolates. Comments are not interpolated and are not visited.
fn all_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|i| all_strings(i, out)),
        Value::Mapping(m) => m.iter().for_each(|(k, v)| {
            all_strings(k, out);
            all_strings(v, out);
        }),
        Value::Tagged(t) => all_strings(&t.value, out),
        _ => {}
    }
}

// ---- the checks -------------------------------------------------------------------

fn check_services(compose: &Value) -> Problems {
    SERVICES
        .iter()
        .filter(|name| service(compose, name).is_none())
        .map(|name| format!("service {name} is missing"))
        .collect()
}

/// The start order, the one-shots, and the welcome coming last.
fn check_order(compose: &Value, dockerfile: &str) -> Problems {
    let mut problems = Vec::new();
    let depends = |name: &str| -> BTreeMap<String, String> {
        match service(compose, name).and_then(|s| s.get("depends_on")) {
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| {
                    let condition = v.get("condition").and_then(string);
                    (
                        string(k).unwrap_or_default(),
                        condition.unwrap_or_else(|| "service_started".into()),
                    )
                })
                .collect(),
            Some(other) => words(Some(other))
                .into_iter()
                .map(|k| (k, "service_started".into()))
                .collect(),
            None => BTreeMap::new(),
        }
    };
    for (name, dependency, condition) in ORDER {
        match depends(name).get(*dependency) {
            Some(c) if c == condition => {}
            Some(c) => problems.push(format!(
                "{name}: waits for {dependency} with {c}, not {condition}"
            )),
            None => problems.push(format!(
                "{name}: does not wait for {dependency} ({condition})"
            )),
        }
    }
    // Every dependency's condition must be one the dependency can meet.
    let image_healthcheck = dockerfile.contains("HEALTHCHECK");
    for name in SERVICES {
        for (dependency, condition) in depends(name) {
            let Some(dep) = service(compose, &dependency) else {
                problems.push(format!("{name}: depends on a missing service {dependency}"));
                continue;
            };
            let one_shot = ONE_SHOTS.contains(&dependency.as_str());
            match condition.as_str() {
                "service_completed_successfully" if !one_shot => problems.push(format!(
                    "{name}: waits for {dependency} to complete, but it is a server"
                )),
                "service_healthy" => {
                    let own = dep.get("healthcheck");
                    let disabled =
                        own.and_then(|h| h.get("disable")).and_then(Value::as_bool) == Some(true);
                    let has = own.and_then(|h| h.get("test")).is_some()
                        || (!disabled && dep.get("build").is_some() && image_healthcheck);
                    if !has {
                        problems.push(format!(
                            "{name}: waits for {dependency} to be healthy, but it has no healthcheck"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    for name in ONE_SHOTS {
        let restart = service(compose, name)
            .and_then(|s| s.get("restart"))
            .and_then(string);
        if !matches!(restart.as_deref(), None | Some("no")) {
            problems.push(format!(
                "{name}: a one-shot with restart {restart:?} never completes"
            ));
        }
    }
    // The welcome starts after everything else, so its lines end the output.
    let mut reached = BTreeSet::new();
    let mut todo = vec!["welcome".to_owned()];
    while let Some(name) = todo.pop() {
        for (dependency, _) in depends(&name) {
            if reached.insert(dependency.clone()) {
                todo.push(dependency);
            }
        }
    }
    for name in SERVICES.iter().filter(|n| **n != "welcome") {
        if !reached.contains(*name) {
            problems.push(format!("welcome: may start before {name}"));
        }
    }
    for name in ["postgres", "logto"] {
        let attached = service(compose, name)
            .and_then(|s| s.get("attach"))
            .and_then(Value::as_bool);
        if attached != Some(false) {
            problems.push(format!(
                "{name}: attached, so its request and checkpoint lines follow the welcome"
            ));
        }
    }
    problems
}

/// Who mounts the secrets and portal-env volumes, where and how; the files
/// each service reads sit in those mounts.
fn check_volumes(compose: &Value, read_file: &dyn Fn(&str) -> Option<String>) -> Problems {
    let mut problems = Vec::new();
    let declared: BTreeSet<String> = compose
        .get("volumes")
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(string).collect())
        .unwrap_or_default();
    for (volume, target) in [SECRETS, PORTAL_ENV] {
        if !declared.contains(volume) {
            problems.push(format!("volume {volume} is not declared"));
        }
        for name in SERVICES {
            let Some(svc) = service(compose, name) else {
                continue;
            };
            let mount = mounts(svc).into_iter().find(|m| m.source == volume);
            let expected = VOLUME_USERS
                .iter()
                .find(|(s, v, _)| s == name && *v == volume)
                .map(|(_, _, ro)| *ro);
            match (mount, expected) {
                (None, None) => {}
                (Some(_), None) => {
                    problems.push(format!(
                        "{name}: mounts the {volume} volume, which it must not see"
                    ));
                }
                (None, Some(_)) => {
                    problems.push(format!("{name}: does not mount the {volume} volume"))
                }
                (Some(m), Some(read_only)) => {
                    if m.target != target {
                        problems.push(format!(
                            "{name}: mounts {volume} at {}, not {target}",
                            m.target
                        ));
                    }
                    if m.read_only != read_only {
                        let how = if read_only { "read-only" } else { "writable" };
                        problems.push(format!("{name}: the {volume} volume is not {how}"));
                    }
                }
            }
        }
    }
    // The files read from the volumes.
    let reads = [
        ("postgres", "/secrets/postgres.env"),
        ("logto", "/secrets/logto.env"),
    ];
    for (name, file) in reads {
        let entrypoint = service(compose, name)
            .map(|s| joined(s, "entrypoint"))
            .unwrap_or_default();
        if !entrypoint.contains(&format!(". {file}")) {
            problems.push(format!("{name}: its entrypoint does not read {file}"));
        }
    }
    let env_file = service(compose, "portal").and_then(|s| env_value(s, "PORTAL_ENV_FILE"));
    if env_file.as_deref() != Some(PORTAL_ENV_FILE) {
        problems.push(format!(
            "portal: PORTAL_ENV_FILE is {env_file:?}, not {PORTAL_ENV_FILE:?}"
        ));
    }
    // The scripts write where the volumes are mounted (their default directories).
    for (script, variable, target) in [
        ("secrets.sh", "SECRETS_DIR", SECRETS.1),
        ("secrets.sh", "PORTAL_ENV_DIR", PORTAL_ENV.1),
        ("provision.sh", "PORTAL_ENV_DIR", PORTAL_ENV.1),
        ("provision.sh", "SECRETS_DIR", SECRETS.1),
    ] {
        let path = format!("crates/portal/deploy/{script}");
        let text = read_file(&path).unwrap_or_default();
        if !text.contains(&format!("${{{variable}:-{target}}}")) {
            problems.push(format!("{path}: {variable} does not default to {target}"));
        }
    }
    problems
}

/// A one-shot running a script from crates/portal/deploy/ that exists.
fn check_script(
    compose: &Value,
    name: &str,
    read_file: &dyn Fn(&str) -> Option<String>,
) -> Problems {
    let Some(svc) = service(compose, name) else {
        return vec![format!("service {name} is missing")];
    };
    let script = format!("/deploy/{name}.sh");
    let mut problems = Vec::new();
    if words(svc.get("entrypoint")) != ["sh", script.as_str()] {
        problems.push(format!("{name}: the entrypoint is not `sh {script}`"));
    }
    match bind_source_of(svc, &script) {
        Some(src) if src == format!("./crates/portal/deploy/{name}.sh") => {
            if read_file(&src).is_none() {
                problems.push(format!("{name}: {src} is missing"));
            }
        }
        other => problems.push(format!(
            "{name}: {script} is mounted from {other:?}, not ./crates/portal/deploy/{name}.sh"
        )),
    }
    problems
}

fn check_postgres(compose: &Value, read_file: &dyn Fn(&str) -> Option<String>) -> Problems {
    let mut problems = Vec::new();
    let Some(pg) = service(compose, "postgres") else {
        return vec!["service postgres is missing".into()];
    };
    let image = pg.get("image").and_then(string).unwrap_or_default();
    let official = ["postgres:15", "postgres:16", "postgres:17"];
    if !official.iter().any(|p| image.starts_with(p)) {
        problems.push(format!(
            "postgres: image {image:?} is not the official postgres:15+"
        ));
    }
    let all = mounts(pg);
    if !all
        .iter()
        .any(|m| m.target == "/var/lib/postgresql/data" && !m.is_bind())
    {
        problems.push("postgres: no named volume on /var/lib/postgresql/data".into());
    }
    if pg.get("healthcheck").and_then(|h| h.get("test")).is_none() {
        problems.push("postgres: no healthcheck".into());
    }
    let entrypoint = joined(pg, "entrypoint");
    if !entrypoint.contains("exec docker-entrypoint.sh postgres") {
        problems.push(format!(
            "postgres: entrypoint {entrypoint:?} does not hand over to the image's docker-entrypoint.sh"
        ));
    }
    let init_scripts: Vec<String> = all
        .iter()
        .filter(|m| m.target.starts_with("/docker-entrypoint-initdb.d/"))
        .map(|m| m.source.clone())
        .collect();
    let creates = init_scripts
        .iter()
        .filter_map(|src| read_file(src))
        .map(|text| text.to_ascii_uppercase().matches("CREATE DATABASE").count())
        .sum::<usize>();
    if creates < 2 {
        problems.push(format!(
            "postgres: the init scripts {init_scripts:?} create {creates} databases, not two (Logto's and the portal's)"
        ));
    }
    problems
}

fn check_logto(compose: &Value) -> Problems {
    let mut problems = Vec::new();
    let Some(logto) = service(compose, "logto") else {
        return vec!["service logto is missing".into()];
    };
    let image = logto.get("image").and_then(string).unwrap_or_default();
    match image.split_once(':') {
        Some(("svhd/logto", tag)) => {
            let pinned = tag.split('.').count() == 3
                && tag
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if !pinned || !tag.starts_with(&format!("{LOGTO_RELEASE}.")) {
                problems.push(format!(
                    "logto: image tag {tag:?} is not pinned to a {LOGTO_RELEASE}.x release"
                ));
            }
        }
        _ => problems.push(format!(
            "logto: image {image:?} is not the official svhd/logto with a tag"
        )),
    }
    let env: BTreeSet<String> = environment(logto).into_iter().map(|(k, _)| k).collect();
    for name in ["ENDPOINT", "ADMIN_ENDPOINT"] {
        if !env.contains(name) {
            problems.push(format!("logto: environment lacks {name}"));
        }
    }
    let entrypoint = joined(logto, "entrypoint");
    if !(entrypoint.contains("db seed -- --swe") && entrypoint.contains("npm start")) {
        problems.push(format!(
            "logto: entrypoint {entrypoint:?} does not seed with --swe and then start"
        ));
    }
    problems
}

/// Only Logto (3001, 3002) and the proxy (8080) publish ports, on 127.0.0.1.
fn check_published_ports(compose: &Value) -> Problems {
    let mut problems = Vec::new();
    let expected: &[(&str, &[&str])] = &[("logto", &["3001", "3002"]), ("proxy", &["8080"])];
    for name in SERVICES {
        let Some(svc) = service(compose, name) else {
            continue;
        };
        let wanted = expected
            .iter()
            .find(|(s, _)| s == name)
            .map(|(_, p)| *p)
            .unwrap_or_default();
        let published = ports(svc);
        for port in &published {
            if port.host_ip.as_deref() != Some("127.0.0.1") {
                problems.push(format!(
                    "{name}: port {} is published on every interface, not 127.0.0.1",
                    port.target
                ));
            }
            if !wanted.contains(&port.target.as_str()) {
                problems.push(format!("{name}: publishes port {}", port.target));
            }
        }
        for port in wanted {
            if !published
                .iter()
                .any(|p| p.published.as_deref() == Some(*port) && p.target == *port)
            {
                problems.push(format!(
                    "{name}: port {port} is not published as {port}:{port}"
                ));
            }
        }
    }
    problems
}

/// The browser, the portal, the provisioning and Logto agree on Logto's URL
/// (the issuer) and the portal's, and inside the network those URLs reach the
/// same containers as on the host.
fn check_urls(compose: &Value) -> Problems {
    let mut problems = Vec::new();
    let value = |svc: &str, name: &str| -> Option<String> {
        service(compose, svc).and_then(|s| env_value(s, name))
    };
    let endpoint = value("logto", "ENDPOINT");
    for (svc, name) in [
        ("portal", "LOGTO_ENDPOINT"),
        ("provision", "LOGTO_ENDPOINT"),
    ] {
        if value(svc, name) != endpoint {
            problems.push(format!(
                "{svc}: {name} {:?} is not Logto's ENDPOINT {endpoint:?} (the issuer)",
                value(svc, name)
            ));
        }
    }
    let base_url = value("portal", "PORTAL_BASE_URL");
    let command = service(compose, "provision")
        .map(|s| words(s.get("command")))
        .unwrap_or_default();
    let registered = command
        .iter()
        .position(|w| w == "--base-url")
        .and_then(|i| command.get(i + 1))
        .cloned();
    if registered != base_url {
        problems.push(format!(
            "provision: --base-url {registered:?} is not the portal's PORTAL_BASE_URL {base_url:?}"
        ));
    }
    if value("welcome", "PORTAL_BASE_URL") != base_url {
        problems.push("welcome: prints another PORTAL_BASE_URL than the portal's".into());
    }
    for (url, svc, port) in [(&endpoint, "logto", "3001"), (&base_url, "proxy", "8080")] {
        let Some(url) = url.as_deref().map(with_defaults) else {
            continue;
        };
        let Ok(parsed) = url::Url::parse(&url) else {
            problems.push(format!("{url:?} is not a URL"));
            continue;
        };
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let aliases = service(compose, svc)
            .and_then(|s| s.get("networks"))
            .and_then(|n| n.get("default"))
            .map(|d| words(d.get("aliases")))
            .unwrap_or_default();
        if !aliases.contains(&host) {
            problems.push(format!(
                "{svc}: {host} (of {url}) is not a network alias, so the containers cannot reach it"
            ));
        }
        if !host.ends_with(".localhost") {
            problems.push(format!(
                "{url}: browsers do not resolve {host} to 127.0.0.1"
            ));
        }
        if parsed.port().map(|p| p.to_string()).as_deref() != Some(port) {
            problems.push(format!("{url}: not on port {port}, where {svc} listens"));
        }
    }
    problems
}

fn check_provision(compose: &Value, read_file: &dyn Fn(&str) -> Option<String>) -> Problems {
    let mut problems = check_script(compose, "provision", read_file);
    let (Some(provision), Some(portal)) =
        (service(compose, "provision"), service(compose, "portal"))
    else {
        return vec!["service provision or portal is missing".into()];
    };
    if provision.get("build") != portal.get("build")
        || provision.get("image") != portal.get("image")
    {
        problems.push("provision: does not run the portal's image".into());
    }
    let command = words(provision.get("command"));
    if command.get(..3) != Some(&["portal".to_owned(), "logto".into(), "provision".into()]) {
        problems.push(format!(
            "provision: command {command:?} is not `portal logto provision …`"
        ));
    }
    let seed = command
        .iter()
        .position(|w| w == "--seed")
        .and_then(|i| command.get(i + 1));
    match seed.and_then(|target| bind_source_of(provision, target)) {
        Some(src) if read_file(&src).is_some() => {}
        other => problems.push(format!(
            "provision: the --seed file {seed:?} is not mounted from the repository ({other:?})"
        )),
    }
    if !command.iter().any(|w| w == "--bootstrap-m2m") {
        problems.push("provision: the demo does not bootstrap its machine-to-machine app".into());
    }
    if provision
        .get("healthcheck")
        .and_then(|h| h.get("disable"))
        .and_then(Value::as_bool)
        != Some(true)
    {
        problems.push("provision: inherits the server's HEALTHCHECK".into());
    }
    problems
}

/// `names` the portal gets from the files of PORTAL_ENV_FILE (found by
/// running the scripts that write them).
fn check_portal(
    compose: &Value,
    from_files: &BTreeSet<String>,
    read_file: &dyn Fn(&str) -> Option<String>,
) -> Problems {
    let mut problems = Vec::new();
    let Some(portal) = service(compose, "portal") else {
        return vec!["service portal is missing".into()];
    };
    let (context, dockerfile) = match portal.get("build") {
        Some(build @ Value::Mapping(_)) => (
            build.get("context").and_then(string),
            build
                .get("dockerfile")
                .and_then(string)
                .unwrap_or("Dockerfile".into()),
        ),
        Some(other) => (string(other), "Dockerfile".into()),
        None => (None, String::new()),
    };
    match context.as_deref() {
        Some("." | "./") if dockerfile.trim_start_matches("./") == DOCKERFILE => {
            if read_file(DOCKERFILE).is_none() {
                problems.push("portal: the repository has no Dockerfile".into());
            }
        }
        _ => problems.push(format!(
            "portal: build is not the repository's Dockerfile (context {context:?}, dockerfile {dockerfile:?})"
        )),
    }
    if portal.get("container_name").is_some() {
        problems.push("portal: container_name prevents --scale".into());
    }
    if !ports(portal).is_empty() {
        problems.push("portal: publishes a host port (only the proxy may)".into());
    }
    let env = environment(portal);
    let names: BTreeSet<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for name in DESIGN_CONFIG_NAMES {
        let given = names.contains(name) || from_files.contains(*name);
        if !given && !OPTIONAL_CONFIG_NAMES.contains(name) {
            problems.push(format!(
                "portal: {name} is neither in the environment nor in PORTAL_ENV_FILE's files"
            ));
        }
        if names.contains(name) && from_files.contains(*name) {
            problems.push(format!(
                "portal: {name} is both in the environment and in a file"
            ));
        }
    }
    for extra in names
        .iter()
        .filter(|n| !DESIGN_CONFIG_NAMES.contains(n) && **n != "PORTAL_ENV_FILE")
    {
        problems.push(format!(
            "portal: environment has {extra}, not a design.md name"
        ));
    }
    if env.len() != names.len() {
        problems.push("portal: environment repeats a name".into());
    }
    if env_value(portal, "PORTAL_BIND").as_deref() != Some("0.0.0.0:8080") {
        problems.push("portal: PORTAL_BIND is not 0.0.0.0:8080".into());
    }
    problems
}

fn check_proxy(compose: &Value, read_file: &dyn Fn(&str) -> Option<String>) -> Problems {
    let mut problems = Vec::new();
    let Some(proxy) = service(compose, "proxy") else {
        return vec!["service proxy is missing".into()];
    };
    let image = proxy.get("image").and_then(string).unwrap_or_default();
    let name = image.split(':').next().unwrap_or_default();
    if !matches!(name, "nginx" | "caddy" | "library/nginx" | "library/caddy") {
        problems.push(format!(
            "proxy: image {image:?} is not the official nginx or caddy"
        ));
    }
    let configs: Vec<(String, String)> = mounts(proxy)
        .into_iter()
        .filter(Mount::is_bind)
        .filter_map(|m| read_file(&m.source).map(|text| (m.source, text)))
        .collect();
    if configs.is_empty() {
        problems.push("proxy: no configuration file from the repository is mounted".into());
    }
    for (src, text) in &configs {
        if !text.contains("portal:8080") {
            problems.push(format!(
                "proxy: {src} does not name the portal service (portal:8080)"
            ));
        }
        let lower = text.to_ascii_lowercase();
        let is_caddy = name.ends_with("caddy");
        // Caddy's reverse_proxy sets X-Forwarded-* and keeps Host by itself.
        if !is_caddy {
            for header in ["x-forwarded-for", "x-forwarded-proto", "host $"] {
                if !lower.contains(&format!("proxy_set_header {header}")) {
                    problems.push(format!("proxy: {src} does not forward {header}"));
                }
            }
        }
    }
    problems
}

/// Names whose values are secrets wherever they appear.
fn is_secret_name(name: &str) -> bool {
    ["PASSWORD", "SECRET", "_KEY", "DATABASE_URL", "DB_URL"]
        .iter()
        .any(|part| name.contains(part))
}

/// `${NAME}`, `${NAME:?…}`, `${NAME?…}`, `${NAME:-}` or `${NAME-}`: the
/// value of `.env`, with no default that could hold a secret.
fn from_dotenv_only(value: &str) -> bool {
    let Some(body) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
        return false;
    };
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let op = &body[name_len..];
    name_len > 0
        && !body.contains('$')
        && (matches!(op, "" | ":-" | "-") || op.starts_with(":?") || op.starts_with('?'))
}

/// Nothing secret in a compose file: every secret-named variable of every
/// service is absent (a file of a volume provides it) or comes from `.env`
/// without a default, and no string looks like a key.
fn check_no_committed_secrets(file: &str, compose: &Value) -> Problems {
    let mut problems = Vec::new();
    let services = compose
        .get("services")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    for (name, svc) in &services {
        let name = string(name).unwrap_or_default();
        for (var, value) in environment(svc) {
            if is_secret_name(&var) && !from_dotenv_only(&value) {
                problems.push(format!(
                    "{file}: {name}: {var} is {value:?}, not `${{{var}:?…}}` from .env"
                ));
            }
        }
    }
    let mut strings = Vec::new();
    all_strings(compose, &mut strings);
    for s in strings {
        for token in s.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c))) {
            let mixed = token.bytes().any(|b| b.is_ascii_digit())
                && token.bytes().any(|b| b.is_ascii_uppercase())
                && token.bytes().any(|b| b.is_ascii_lowercase());
            if token.len() >= 20 && mixed {
                problems.push(format!("{file}: {token:?} looks like a committed key"));
            }
        }
    }
    problems
}

fn check_env_documented(files: &[&Value], env_example: &str) -> Problems {
    let (documented, mut problems) = documented_variables(env_example);
    let mut strings = Vec::new();
    for compose in files {
        all_strings(compose, &mut strings);
    }
    for var in interpolated_variables(&strings.join("\n")) {
        if !documented.contains(&var) {
            problems.push(format!(
                "${{{var}}} is used but not documented in crates/portal/deploy/.env.example"
            ));
        }
    }
    problems
}

/// The production override: own secrets, own machine-to-machine app, own
/// seed, no bootstrap, no demo logins printed.
fn check_production(base: &Value, prod: &Value) -> Problems {
    let mut problems = Vec::new();
    let Some(secrets) = service(prod, "secrets") else {
        return vec!["production: does not give the secrets service your secrets".into()];
    };
    for name in [
        "POSTGRES_PASSWORD",
        "PORTAL_DB_PASSWORD",
        "PORTAL_SESSION_KEY",
        "PORTAL_TOKEN_KEY",
    ] {
        let value = env_value(secrets, name).unwrap_or_default();
        if !value.starts_with(&format!("${{{name}:?")) {
            problems.push(format!("production: {name} is not required from .env"));
        }
    }
    let Some(provision) = service(prod, "provision") else {
        return vec!["production: does not change the provisioning".into()];
    };
    let command = words(provision.get("command"));
    if command.iter().any(|w| w == "--bootstrap-m2m") {
        problems.push("production: bootstraps a machine-to-machine app".into());
    }
    // The demo's command without --bootstrap-m2m; only the URL may differ.
    let base_command: Vec<String> = service(base, "provision")
        .map(|s| words(s.get("command")))
        .unwrap_or_default()
        .into_iter()
        .filter(|w| w != "--bootstrap-m2m")
        .collect();
    let same = command.len() == base_command.len()
        && command
            .iter()
            .zip(&base_command)
            .enumerate()
            .all(|(i, (a, b))| a == b || (i > 0 && command[i - 1] == "--base-url"));
    if !same {
        problems.push(format!(
            "production: the command {command:?} is not the demo's {base_command:?} without --bootstrap-m2m"
        ));
    }
    for name in ["LOGTO_M2M_APP_ID", "LOGTO_M2M_APP_SECRET"] {
        if env_value(provision, name) != Some(format!("${{{name}:-}}")) {
            problems.push(format!(
                "production: the provisioning does not get {name} from .env"
            ));
        }
    }
    let seed_target = command
        .iter()
        .position(|w| w == "--seed")
        .and_then(|i| command.get(i + 1))
        .cloned()
        .unwrap_or_default();
    match bind_source_of(provision, &seed_target) {
        Some(src) if src.starts_with("${PORTAL_SEED_HOST_FILE:?") => {}
        other => problems.push(format!(
            "production: the seed at {seed_target} comes from {other:?}, not your PORTAL_SEED_HOST_FILE"
        )),
    }
    if service(prod, "welcome")
        .and_then(|s| env_value(s, "DEMO_SEED"))
        .as_deref()
        != Some("")
    {
        problems.push("production: the welcome prints the seed's passwords".into());
    }
    problems
}

fn check_dockerfile(text: &str) -> Problems {
    let mut problems = Vec::new();
    let instructions: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (kw, rest) = l.split_once(char::is_whitespace)?;
            Some((kw.to_ascii_uppercase(), rest.trim().to_owned()))
        })
        .collect();
    let froms = instructions.iter().filter(|(kw, _)| kw == "FROM").count();
    if froms < 2 {
        problems.push(format!(
            "Dockerfile: {froms} FROM stage(s); a multi-stage build needs 2+"
        ));
    }
    let last_from = instructions
        .iter()
        .rposition(|(kw, _)| kw == "FROM")
        .unwrap_or(0);
    let final_user = instructions[last_from..]
        .iter()
        .filter(|(kw, _)| kw == "USER")
        .map(|(_, user)| user.split(':').next().unwrap_or_default().to_owned())
        .next_back();
    match final_user.as_deref() {
        None => problems.push("Dockerfile: the final stage has no USER (runs as root)".into()),
        Some("root" | "0") => problems.push("Dockerfile: the final stage's USER is root".into()),
        Some(_) => {}
    }
    if !text.contains("cargo build --release --locked -p portal") {
        problems.push("Dockerfile: does not run `cargo build --release --locked -p portal`".into());
    }
    if !text.contains("PORTAL_TEMPLATES_DIR") {
        problems.push("Dockerfile: does not set PORTAL_TEMPLATES_DIR".into());
    }
    if !instructions
        .iter()
        .any(|(kw, rest)| kw == "EXPOSE" && rest.contains("8080"))
    {
        problems.push("Dockerfile: does not EXPOSE 8080".into());
    }
    problems
}

fn check_dockerignore(text: &str) -> Problems {
    let entries: BTreeSet<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    let mut problems = Vec::new();
    if !["target", "**/target", "/target"]
        .iter()
        .any(|e| entries.contains(e))
    {
        problems.push(".dockerignore: target/ is not excluded".into());
    }
    if !entries.contains(".git") {
        problems.push(".dockerignore: .git is not excluded".into());
    }
    if !entries.contains(".env") {
        problems.push(".dockerignore: .env (secrets) is not excluded".into());
    }
    problems
}

fn assert_ok(problems: Problems) {
    assert!(
        problems.is_empty(),
        "problems:\n  {}",
        problems.join("\n  ")
    );
}

fn assert_fails(problems: Problems, needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got {problems:?}"
    );
}

// ---- running the one-shot scripts ------------------------------------------------------

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "xtask-compose-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The two volumes of one deployment, as directories, and a stub standing in
/// for the `portal` binary of the image.
struct Volumes {
    dir: TempDir,
}

/// Stands in for `portal logto provision`: records its arguments and the
/// variables it was given, then writes --write-env as the real command does
/// (the machine-to-machine credentials only when it bootstrapped them).
const PORTAL_STUB: &str = r#"#!/bin/sh
all=" $* "
printf '%s\n' "$@" > "$STUB_LOG/args"
for name in DATABASE_URL LOGTO_DATABASE_URL LOGTO_ENDPOINT LOGTO_M2M_APP_ID LOGTO_M2M_APP_SECRET; do
    eval "printf '%s=%s\n' $name \"\${$name-<unset>}\""
done > "$STUB_LOG/env"
[ -z "${STUB_FAIL:-}" ] || exit 3
while [ $# -gt 0 ]; do
    [ "$1" = --write-env ] && out=$2
    shift
done
{
    echo "LOGTO_APP_ID=provisioned-app"
    echo "LOGTO_APP_SECRET=provisioned-secret"
    case $all in *" --bootstrap-m2m "*)
        echo "LOGTO_M2M_APP_ID=bootstrapped-m2m"
        echo "LOGTO_M2M_APP_SECRET=bootstrapped-m2m-secret" ;;
    esac
} > "$out"
chmod 600 "$out"
"#;

impl Volumes {
    fn new() -> Self {
        let dir = TempDir::new();
        for sub in ["secrets", "portal-env", "bin", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let stub = dir.join("bin/portal");
        std::fs::write(&stub, PORTAL_STUB).unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn secrets(&self) -> PathBuf {
        self.dir.join("secrets")
    }

    fn portal_env(&self) -> PathBuf {
        self.dir.join("portal-env")
    }

    /// Runs crates/portal/deploy/`script` with `args` and `env` on these volumes.
    fn run(&self, script: &str, args: &[String], env: &[(&str, &str)]) -> Output {
        let id = |flag: &str| {
            let out = Command::new("id").arg(flag).output().unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        let path = format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("sh");
        cmd.arg(repo_path(&format!("crates/portal/deploy/{script}")))
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("SECRETS_DIR", self.secrets())
            .env("PORTAL_ENV_DIR", self.portal_env())
            .env("SECRETS_OWNER", format!("{}:{}", id("-u"), id("-g")))
            .env("STUB_LOG", self.dir.join("log"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn run_ok(&self, script: &str, args: &[String], env: &[(&str, &str)]) -> String {
        let out = self.run(script, args, env);
        assert!(
            out.status.success(),
            "{script} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A file of the volumes, parsed as the portal parses it (dotenvy).
    fn env_file(&self, rel: &str) -> BTreeMap<String, String> {
        let path = self.dir.join(rel);
        dotenvy::from_path_iter(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .map(Result::unwrap)
            .collect()
    }

    /// What the stub was called with: its arguments, and its variables.
    fn stub_call(&self) -> (Vec<String>, BTreeMap<String, String>) {
        let args = std::fs::read_to_string(self.dir.join("log/args")).unwrap();
        let env = std::fs::read_to_string(self.dir.join("log/env")).unwrap();
        let env = env
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(_, v)| *v != "<unset>")
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (args.lines().map(str::to_owned).collect(), env)
    }

    fn mode(&self, rel: &str) -> u32 {
        std::fs::metadata(self.dir.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }
}

/// The provision service's command with its defaults (the demo's, or the
/// production override's with `env` as `.env`).
fn provision_command(compose: &Value, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    words(service(compose, "provision").unwrap().get("command"))
        .iter()
        .map(|w| interpolate(w, env).unwrap())
        .collect()
}

/// The variables the portal replicas get from PORTAL_ENV_FILE's files on a
/// fresh demo deployment (the scripts run for real).
fn names_from_files() -> BTreeSet<String> {
    let volumes = Volumes::new();
    volumes.run_ok("secrets.sh", &[], &[]);
    volumes.run_ok(
        "provision.sh",
        &provision_command(&compose(), &|_| None),
        &[],
    );
    PORTAL_ENV_FILE
        .split(':')
        .flat_map(|file| {
            let rel = file.trim_start_matches('/');
            volumes.env_file(rel).into_keys()
        })
        .collect()
}

fn decoded_len(b64: &str) -> usize {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_else(|e| panic!("{b64:?} is not base64: {e}"))
        .len()
}

// ---- the repository's files pass ---------------------------------------------------

#[test]
fn compose_has_every_service() {
    assert_ok(check_services(&compose()));
}

#[test]
fn services_start_in_order_and_the_welcome_comes_last() {
    assert_ok(check_order(&compose(), &read(DOCKERFILE)));
}

#[test]
fn the_volumes_carry_the_secrets_and_credentials_to_the_right_services() {
    assert_ok(check_volumes(&compose(), &read_repo_file));
}

#[test]
fn the_one_shots_run_their_scripts_from_the_repository() {
    for name in ONE_SHOTS {
        assert_ok(check_script(&compose(), name, &read_repo_file));
    }
}

#[test]
fn postgres_has_a_volume_a_healthcheck_and_two_databases() {
    assert_ok(check_postgres(&compose(), &read_repo_file));
}

#[test]
fn logto_is_the_official_image_pinned_to_the_tested_release() {
    assert_ok(check_logto(&compose()));
}

#[test]
fn only_logto_and_the_proxy_publish_ports_on_loopback() {
    assert_ok(check_published_ports(&compose()));
}

#[test]
fn browser_portal_provisioning_and_logto_agree_on_the_urls() {
    assert_ok(check_urls(&compose()));
}

#[test]
fn provision_runs_the_portal_image_with_the_demo_seed_and_bootstraps() {
    assert_ok(check_provision(&compose(), &read_repo_file));
}

#[test]
fn the_demo_seed_is_named_in_one_place() {
    let text = read("docker-compose.yml");
    let seed = bind_source_of(
        service(&compose(), "provision").unwrap(),
        "/etc/portal/seed.toml",
    )
    .unwrap();
    let path = seed.trim_start_matches("./");
    assert_eq!(
        text.matches(path).count(),
        1,
        "{path} in docker-compose.yml"
    );
    assert!(read_repo_file(&seed).is_some(), "{seed} is missing");
}

#[test]
fn portal_is_built_here_scalable_and_configured_by_the_design_names() {
    assert_ok(check_portal(
        &compose(),
        &names_from_files(),
        &read_repo_file,
    ));
}

#[test]
fn proxy_config_exists_names_the_portal_and_forwards_headers() {
    assert_ok(check_proxy(&compose(), &read_repo_file));
}

#[test]
fn no_secret_is_committed_in_either_compose_file() {
    assert_ok(check_no_committed_secrets("docker-compose.yml", &compose()));
    assert_ok(check_no_committed_secrets(PRODUCTION, &production()));
}

#[test]
fn every_interpolated_variable_is_documented_in_env_example() {
    assert_ok(check_env_documented(
        &[&compose(), &production()],
        &read("crates/portal/deploy/.env.example"),
    ));
}

#[test]
fn the_production_override_takes_your_secrets_app_and_seed() {
    assert_ok(check_production(&compose(), &production()));
}

#[test]
fn dockerfile_is_multi_stage_and_non_root() {
    assert_ok(check_dockerfile(&read(DOCKERFILE)));
}

#[test]
fn dockerignore_keeps_target_git_and_secrets_out() {
    assert_ok(check_dockerignore(&read(".dockerignore")));
}

// ---- the scripts, run --------------------------------------------------------------------

#[test]
fn secrets_are_generated_once_then_kept_and_given_ones_win() {
    let volumes = Volumes::new();
    let first = volumes.run_ok("secrets.sh", &[], &[]);
    assert!(first.contains("PORTAL_TOKEN_KEY generated"), "{first}");
    let portal = volumes.env_file("portal-env/portal.env");
    let postgres = volumes.env_file("secrets/postgres.env");
    let logto = volumes.env_file("secrets/logto.env");
    assert!(decoded_len(&portal["PORTAL_SESSION_KEY"]) >= 64);
    assert_eq!(decoded_len(&portal["PORTAL_TOKEN_KEY"]), 32);
    let pg = &postgres["POSTGRES_PASSWORD"];
    let portal_pw = &postgres["PORTAL_DB_PASSWORD"];
    assert!(pg.len() >= 32 && portal_pw.len() >= 32 && pg != portal_pw);
    assert_eq!(
        portal["DATABASE_URL"],
        format!("postgres://portal:{portal_pw}@postgres:5432/portal")
    );
    assert_eq!(
        logto["DB_URL"],
        format!("postgres://postgres:{pg}@postgres:5432/logto")
    );
    for url in [&portal["DATABASE_URL"], &logto["DB_URL"]] {
        url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    for rel in ["secrets", "portal-env"] {
        assert_eq!(volumes.mode(rel), 0o700, "{rel}");
    }
    for rel in [
        "secrets/postgres.env",
        "secrets/logto.env",
        "portal-env/portal.env",
    ] {
        assert_eq!(volumes.mode(rel), 0o600, "{rel}");
    }

    let again = volumes.run_ok("secrets.sh", &[], &[]);
    assert!(again.contains("PORTAL_TOKEN_KEY kept"), "{again}");
    assert_eq!(volumes.env_file("portal-env/portal.env"), portal, "reused");

    let own_key = base64::engine::general_purpose::STANDARD.encode([5u8; 32]);
    volumes.run_ok(
        "secrets.sh",
        &[],
        &[
            ("PORTAL_TOKEN_KEY", &own_key),
            ("PORTAL_DB_PASSWORD", "own-password"),
        ],
    );
    let given = volumes.env_file("portal-env/portal.env");
    assert_eq!(given["PORTAL_TOKEN_KEY"], own_key);
    assert!(given["DATABASE_URL"].contains(":own-password@"));
    assert_eq!(given["PORTAL_SESSION_KEY"], portal["PORTAL_SESSION_KEY"]);
}

#[test]
fn secrets_refuse_a_password_that_breaks_the_database_url() {
    let volumes = Volumes::new();
    let out = volumes.run("secrets.sh", &[], &[("POSTGRES_PASSWORD", "p@ss/word")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("POSTGRES_PASSWORD must be URL-safe"), "{err}");
    assert!(!volumes.secrets().join("logto.env").exists());
}

#[test]
fn provision_bootstraps_once_then_reuses_its_app() {
    let volumes = Volumes::new();
    volumes.run_ok("secrets.sh", &[], &[]);
    let command = provision_command(&compose(), &|_| None);
    let endpoint = with_defaults(
        &env_value(service(&compose(), "provision").unwrap(), "LOGTO_ENDPOINT").unwrap(),
    );

    let out = volumes.run_ok("provision.sh", &command, &[("LOGTO_ENDPOINT", &endpoint)]);
    assert!(out.contains("bootstrapping"), "{out}");
    let (args, env) = volumes.stub_call();
    assert_eq!(args[..3], ["logto", "provision", "--seed"]);
    assert!(args.contains(&"--bootstrap-m2m".to_owned()), "{args:?}");
    assert!(args.contains(&"--write-env".to_owned()), "{args:?}");
    assert_eq!(
        env["LOGTO_DATABASE_URL"],
        volumes.env_file("secrets/logto.env")["DB_URL"]
    );
    assert_eq!(
        env["DATABASE_URL"],
        volumes.env_file("portal-env/portal.env")["DATABASE_URL"]
    );
    assert_eq!(env["LOGTO_ENDPOINT"], endpoint);
    assert!(!env.contains_key("LOGTO_M2M_APP_ID"));
    let app = volumes.env_file("portal-env/logto-app.env");
    assert_eq!(
        app.keys().collect::<Vec<_>>(),
        ["LOGTO_APP_ID", "LOGTO_APP_SECRET"],
        "the application's file holds the application only"
    );
    assert_eq!(app["LOGTO_APP_SECRET"], "provisioned-secret");
    // The replicas get the machine-to-machine app for organization
    // self-service, in a file of its own.
    let m2m = volumes.env_file("portal-env/logto-m2m.env");
    assert_eq!(m2m["LOGTO_M2M_APP_ID"], "bootstrapped-m2m");
    assert_eq!(m2m["LOGTO_M2M_APP_SECRET"], "bootstrapped-m2m-secret");
    assert_eq!(volumes.mode("portal-env/logto-m2m.env"), 0o600);
    assert_eq!(
        volumes.env_file("secrets/logto-m2m.env")["LOGTO_M2M_APP_ID"],
        "bootstrapped-m2m"
    );
    assert_eq!(volumes.mode("portal-env/logto-app.env"), 0o600);
    assert_eq!(volumes.mode("secrets/logto-m2m.env"), 0o600);
    assert!(!volumes.secrets().join("provision-output.env").exists());

    // The next `up`: the same app, no bootstrap on a Logto that is no longer fresh.
    let out = volumes.run_ok("provision.sh", &command, &[]);
    assert!(out.contains("bootstrapped by an earlier run"), "{out}");
    let (args, env) = volumes.stub_call();
    assert!(!args.contains(&"--bootstrap-m2m".to_owned()), "{args:?}");
    assert_eq!(env["LOGTO_M2M_APP_ID"], "bootstrapped-m2m");
    assert_eq!(env["LOGTO_M2M_APP_SECRET"], "bootstrapped-m2m-secret");
    assert!(!env.contains_key("LOGTO_DATABASE_URL"));
    assert_eq!(
        volumes.env_file("secrets/logto-m2m.env")["LOGTO_M2M_APP_ID"],
        "bootstrapped-m2m",
        "kept for the run after"
    );
}

#[test]
fn provision_in_production_uses_your_app_and_stops_without_one() {
    let dotenv = |name: &str| match name {
        "PORTAL_BASE_URL" => Some("https://portal.example.com".to_owned()),
        _ => None,
    };
    let command = provision_command(&production(), &dotenv);
    assert!(command.contains(&"https://portal.example.com".to_owned()));

    let volumes = Volumes::new();
    volumes.run_ok("secrets.sh", &[], &[]);
    let out = volumes.run("provision.sh", &command, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("set LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET"),
        "{err}"
    );
    assert!(!volumes.dir.join("log/args").exists(), "the command ran");

    // A bootstrapped app kept from a demo run does not replace yours.
    std::fs::write(
        volumes.secrets().join("logto-m2m.env"),
        "LOGTO_M2M_APP_ID=bootstrapped-m2m\nLOGTO_M2M_APP_SECRET=x\n",
    )
    .unwrap();
    volumes.run_ok(
        "provision.sh",
        &command,
        &[
            ("LOGTO_M2M_APP_ID", "yours"),
            ("LOGTO_M2M_APP_SECRET", "your-secret"),
        ],
    );
    let (args, env) = volumes.stub_call();
    assert!(!args.contains(&"--bootstrap-m2m".to_owned()));
    assert_eq!(env["LOGTO_M2M_APP_ID"], "yours");
    assert!(!env.contains_key("LOGTO_DATABASE_URL"));
    assert_eq!(
        volumes.env_file("portal-env/logto-app.env")["LOGTO_APP_ID"],
        "provisioned-app"
    );
    let m2m = volumes.env_file("portal-env/logto-m2m.env");
    assert_eq!(m2m["LOGTO_M2M_APP_ID"], "yours");
    assert_eq!(m2m["LOGTO_M2M_APP_SECRET"], "your-secret");
}

#[test]
fn a_failed_provisioning_stops_the_deployment_and_keeps_the_old_credentials() {
    let volumes = Volumes::new();
    volumes.run_ok("secrets.sh", &[], &[]);
    let command = provision_command(&compose(), &|_| None);
    let out = volumes.run("provision.sh", &command, &[("STUB_FAIL", "1")]);
    assert!(!out.status.success());
    assert!(!volumes.portal_env().join("logto-app.env").exists());
    assert!(!volumes.portal_env().join("logto-m2m.env").exists());

    volumes.run_ok("provision.sh", &command, &[]);
    let before = volumes.env_file("portal-env/logto-app.env");
    let out = volumes.run("provision.sh", &command, &[("STUB_FAIL", "1")]);
    assert!(!out.status.success());
    assert_eq!(volumes.env_file("portal-env/logto-app.env"), before);
}

#[test]
fn the_welcome_prints_the_url_and_every_demo_login() {
    let c = compose();
    let welcome = service(&c, "welcome").unwrap();
    let env: Vec<(String, String)> = environment(welcome)
        .into_iter()
        .map(|(k, v)| (k, with_defaults(&v)))
        .collect();
    let get = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    // The seed as mounted into the container, read from the repository.
    let seed = repo_path(&bind_source_of(welcome, &get("DEMO_SEED")).expect("the seed is mounted"));
    let seed_path = seed.display().to_string();
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.retain(|(k, _)| *k != "DEMO_SEED");
    vars.push(("DEMO_SEED", &seed_path));
    let volumes = Volumes::new();
    let out = volumes.run_ok("welcome.sh", &[], &vars);
    assert!(
        out.contains(&format!("The portal is up:     {}", get("PORTAL_BASE_URL"))),
        "{out}"
    );

    // Every user of the seed, read by a TOML parser, is listed with the password.
    let parsed: toml::Table = toml::from_str(&std::fs::read_to_string(&seed).unwrap()).unwrap();
    let users = parsed["users"].as_array().unwrap();
    assert!(!users.is_empty());
    for user in users {
        let line = format!(
            "  {:<10} {}",
            user["username"].as_str().unwrap(),
            user["password"].as_str().unwrap()
        );
        assert!(
            out.lines().any(|l| l == line),
            "{line:?} missing from\n{out}"
        );
    }
    assert!(out.trim_end().ends_with("=========="), "{out}");

    // Without a seed (production): the URLs, no passwords.
    vars.retain(|(k, _)| *k != "DEMO_SEED");
    vars.push(("DEMO_SEED", ""));
    let out = volumes.run_ok("welcome.sh", &[], &vars);
    assert!(out.contains("The portal is up"));
    for user in users {
        assert!(!out.contains(user["password"].as_str().unwrap()), "{out}");
    }
}

// ---- each check can fail -------------------------------------------------------------

#[test]
fn check_services_fails_without_the_provisioning() {
    let mut c = compose();
    c.get_mut("services")
        .unwrap()
        .as_mapping_mut()
        .unwrap()
        .remove("provision");
    assert_fails(check_services(&c), "service provision is missing");
}

#[test]
fn check_order_fails_when_the_portal_does_not_wait_or_a_one_shot_restarts() {
    let dockerfile = read(DOCKERFILE);
    let mut c = compose();
    service_mut(&mut c, "portal")
        .get_mut("depends_on")
        .and_then(Value::as_mapping_mut)
        .unwrap()
        .remove("provision");
    let problems = check_order(&c, &dockerfile);
    assert_fails(problems.clone(), "portal: does not wait for provision");

    let mut c = compose();
    service_mut(&mut c, "portal").insert(
        "depends_on".into(),
        parse("{provision: {condition: service_started}, postgres: {condition: service_healthy}}"),
    );
    assert_fails(
        check_order(&c, &dockerfile),
        "with service_started, not service_completed_successfully",
    );

    let mut c = compose();
    service_mut(&mut c, "provision").insert("restart".into(), "unless-stopped".into());
    assert_fails(check_order(&c, &dockerfile), "never completes");

    let mut c = compose();
    service_mut(&mut c, "welcome").insert(
        "depends_on".into(),
        parse("{logto: {condition: service_healthy}}"),
    );
    assert_fails(
        check_order(&c, &dockerfile),
        "welcome: may start before proxy",
    );

    let mut c = compose();
    service_mut(&mut c, "logto").remove("attach");
    assert_fails(check_order(&c, &dockerfile), "logto: attached");

    let mut c = compose();
    service_mut(&mut c, "logto").remove("healthcheck");
    assert_fails(
        check_order(&c, &dockerfile),
        "to be healthy, but it has no healthcheck",
    );
    // The portal's healthcheck is the image's.
    assert_fails(
        check_order(&compose(), "FROM x\n"),
        "waits for portal to be healthy",
    );
}

#[test]
fn check_volumes_fails_when_the_portal_sees_the_secrets_or_a_file_moves() {
    let mut c = compose();
    let volumes = service_mut(&mut c, "portal")
        .get_mut("volumes")
        .and_then(Value::as_sequence_mut)
        .unwrap();
    volumes.push("secrets:/secrets:ro".into());
    assert_fails(
        check_volumes(&c, &read_repo_file),
        "portal: mounts the secrets volume",
    );

    let mut c = compose();
    service_mut(&mut c, "portal").insert("volumes".into(), parse(r#"["portal-env:/portal-env"]"#));
    assert_fails(
        check_volumes(&c, &read_repo_file),
        "portal: the portal-env volume is not read-only",
    );

    let mut c = compose();
    service_mut(&mut c, "provision").insert("volumes".into(), parse(r#"["secrets:/secrets"]"#));
    assert_fails(
        check_volumes(&c, &read_repo_file),
        "provision: does not mount the portal-env volume",
    );

    let mut c = compose();
    service_mut(&mut c, "logto").insert("volumes".into(), parse(r#"["secrets:/run/secrets:ro"]"#));
    assert_fails(check_volumes(&c, &read_repo_file), "not /secrets");

    let mut c = compose();
    env_mut(&mut c, "portal").insert("PORTAL_ENV_FILE".into(), "/portal-env/portal.env".into());
    assert_fails(check_volumes(&c, &read_repo_file), "PORTAL_ENV_FILE");

    let mut c = compose();
    service_mut(&mut c, "postgres").insert(
        "entrypoint".into(),
        parse(r#"["docker-entrypoint.sh", "postgres"]"#),
    );
    assert_fails(
        check_volumes(&c, &read_repo_file),
        "does not read /secrets/postgres.env",
    );

    let elsewhere = |path: &str| {
        read_repo_file(path)
            .map(|t| t.replace("${SECRETS_DIR:-/secrets}", "${SECRETS_DIR:-/run/s}"))
    };
    assert_fails(
        check_volumes(&compose(), &elsewhere),
        "SECRETS_DIR does not default to /secrets",
    );
}

#[test]
fn check_script_fails_on_another_entrypoint_or_a_missing_script() {
    let mut c = compose();
    service_mut(&mut c, "secrets").insert("entrypoint".into(), parse(r#"["sh", "-c", "true"]"#));
    assert_fails(
        check_script(&c, "secrets", &read_repo_file),
        "entrypoint is not",
    );
    let nowhere = |_: &str| None;
    assert_fails(check_script(&compose(), "welcome", &nowhere), "is missing");
}

#[test]
fn check_postgres_fails_with_one_database_or_no_healthcheck() {
    let one_db = |_: &str| Some("CREATE DATABASE portal;".to_owned());
    assert_fails(check_postgres(&compose(), &one_db), "not two");
    let mut c = compose();
    service_mut(&mut c, "postgres").remove("healthcheck");
    assert_fails(check_postgres(&c, &read_repo_file), "no healthcheck");
    let mut c = compose();
    service_mut(&mut c, "postgres").insert("image".into(), "mysql:8".into());
    assert_fails(
        check_postgres(&c, &read_repo_file),
        "not the official postgres",
    );
    let mut c = compose();
    service_mut(&mut c, "postgres")
        .insert("entrypoint".into(), parse(r#"["sh", "-c", "postgres"]"#));
    assert_fails(check_postgres(&c, &read_repo_file), "docker-entrypoint.sh");
}

#[test]
fn check_logto_fails_on_another_image_an_unpinned_tag_or_no_seed() {
    for image in ["ghcr.io/someone/logto:1.42.0", "svhd/logto"] {
        let mut c = compose();
        service_mut(&mut c, "logto").insert("image".into(), image.into());
        assert_fails(check_logto(&c), "not the official svhd/logto");
    }
    for tag in ["latest", "1.42", "1.41.0", "${LOGTO_TAG:-latest}", "edge"] {
        let mut c = compose();
        service_mut(&mut c, "logto").insert("image".into(), format!("svhd/logto:{tag}").into());
        assert_fails(check_logto(&c), "not pinned to a 1.42.x release");
    }
    let mut c = compose();
    service_mut(&mut c, "logto").insert("entrypoint".into(), parse(r#"["npm", "start"]"#));
    assert_fails(check_logto(&c), "--swe");
}

#[test]
fn check_published_ports_fails_on_every_interface_or_an_extra_port() {
    let mut c = compose();
    service_mut(&mut c, "logto").insert(
        "ports".into(),
        parse(r#"["3001:3001", "127.0.0.1:3002:3002"]"#),
    );
    assert_fails(check_published_ports(&c), "published on every interface");

    let mut c = compose();
    service_mut(&mut c, "postgres").insert("ports".into(), parse(r#"["127.0.0.1:5432:5432"]"#));
    assert_fails(check_published_ports(&c), "postgres: publishes port 5432");

    let mut c = compose();
    service_mut(&mut c, "proxy").insert("ports".into(), parse(r#"["127.0.0.1:9090:8080"]"#));
    assert_fails(check_published_ports(&c), "port 8080 is not published");
}

#[test]
fn check_urls_fails_when_the_issuer_or_the_alias_differs() {
    let mut c = compose();
    env_mut(&mut c, "portal").insert("LOGTO_ENDPOINT".into(), "http://logto:3001".into());
    assert_fails(check_urls(&c), "portal: LOGTO_ENDPOINT");

    let mut c = compose();
    service_mut(&mut c, "logto").remove("networks");
    assert_fails(check_urls(&c), "is not a network alias");

    let mut c = compose();
    let command = service_mut(&mut c, "provision")
        .get_mut("command")
        .and_then(Value::as_sequence_mut)
        .unwrap();
    let at = command
        .iter()
        .position(|w| w.as_str() == Some("--base-url"))
        .unwrap();
    command[at + 1] = "http://localhost:8080".into();
    assert_fails(check_urls(&c), "provision: --base-url");
}

#[test]
fn check_provision_fails_on_another_image_no_seed_or_no_bootstrap() {
    let mut c = compose();
    service_mut(&mut c, "provision").insert("image".into(), "elsewhere:1".into());
    assert_fails(check_provision(&c, &read_repo_file), "portal's image");

    let mut c = compose();
    service_mut(&mut c, "provision").insert(
        "command".into(),
        parse(r#"["portal", "logto", "provision", "--seed", "/nowhere.toml", "--base-url", "x"]"#),
    );
    let problems = check_provision(&c, &read_repo_file);
    assert_fails(problems.clone(), "--seed file");
    assert_fails(problems, "does not bootstrap");

    let mut c = compose();
    service_mut(&mut c, "provision").remove("healthcheck");
    assert_fails(check_provision(&c, &read_repo_file), "HEALTHCHECK");
}

#[test]
fn check_portal_fails_on_container_name_host_port_or_wrong_build() {
    let files = BTreeSet::from(
        [
            "DATABASE_URL",
            "PORTAL_SESSION_KEY",
            "PORTAL_TOKEN_KEY",
            "LOGTO_APP_ID",
            "LOGTO_APP_SECRET",
        ]
        .map(String::from),
    );
    let mut c = compose();
    service_mut(&mut c, "portal").insert("container_name".into(), "portal".into());
    assert_fails(check_portal(&c, &files, &read_repo_file), "container_name");

    let mut c = compose();
    service_mut(&mut c, "portal").insert("ports".into(), parse(r#"["8081:8080"]"#));
    assert_fails(check_portal(&c, &files, &read_repo_file), "host port");

    let mut c = compose();
    service_mut(&mut c, "portal").insert("build".into(), "./elsewhere".into());
    assert_fails(check_portal(&c, &files, &read_repo_file), "build is not");
}

#[test]
fn check_portal_fails_on_a_missing_an_extra_or_a_doubly_given_name() {
    let files = BTreeSet::from(
        [
            "DATABASE_URL",
            "PORTAL_SESSION_KEY",
            "PORTAL_TOKEN_KEY",
            "LOGTO_APP_ID",
            "LOGTO_APP_SECRET",
        ]
        .map(String::from),
    );
    let mut without_token_key = files.clone();
    without_token_key.remove("PORTAL_TOKEN_KEY");
    assert_fails(
        check_portal(&compose(), &without_token_key, &read_repo_file),
        "PORTAL_TOKEN_KEY is neither",
    );

    let mut c = compose();
    env_mut(&mut c, "portal").insert("PORTAL_SECRET".into(), "x".into());
    assert_fails(
        check_portal(&c, &files, &read_repo_file),
        "has PORTAL_SECRET",
    );

    let mut c = compose();
    env_mut(&mut c, "portal").insert("LOGTO_APP_ID".into(), "x".into());
    assert_fails(
        check_portal(&c, &files, &read_repo_file),
        "LOGTO_APP_ID is both",
    );

    let mut c = compose();
    env_mut(&mut c, "portal").insert("PORTAL_BIND".into(), "127.0.0.1:8080".into());
    assert_fails(check_portal(&c, &files, &read_repo_file), "PORTAL_BIND");
}

#[test]
fn check_proxy_fails_without_config_or_when_it_names_no_portal() {
    let nowhere = |_: &str| None;
    assert_fails(check_proxy(&compose(), &nowhere), "no configuration file");

    let elsewhere = |_: &str| {
        Some("upstream app { server app:3000; }\nproxy_set_header Host $http_host;".to_owned())
    };
    let problems = check_proxy(&compose(), &elsewhere);
    assert_fails(problems.clone(), "does not name the portal service");
    assert_fails(problems, "x-forwarded-for");
}

#[test]
fn check_no_committed_secrets_fails_on_a_literal_key_or_password() {
    let mut c = compose();
    env_mut(&mut c, "portal").insert("PORTAL_SESSION_KEY".into(), "c2VjcmV0".into());
    assert_fails(check_no_committed_secrets("x", &c), "PORTAL_SESSION_KEY is");

    let mut c = compose();
    env_mut(&mut c, "logto").insert(
        "DB_URL".into(),
        "postgres://postgres:p0stgr3s@postgres:5432/logto".into(),
    );
    assert_fails(check_no_committed_secrets("x", &c), "DB_URL is");

    let mut c = compose();
    env_mut(&mut c, "portal").insert(
        "LOGTO_APP_SECRET".into(),
        "${LOGTO_APP_SECRET:-demo}".into(),
    );
    assert_fails(check_no_committed_secrets("x", &c), "LOGTO_APP_SECRET is");

    let key = "ZGVtby10b2tlbi1rZXktMzItYnl0ZXMtbG9uZyEhISE=";
    let mut c = compose();
    service_mut(&mut c, "secrets").insert("command".into(), parse(&format!("[\"{key}\"]")));
    assert_fails(
        check_no_committed_secrets("x", &c),
        "looks like a committed key",
    );
}

#[test]
fn check_env_documented_fails_on_an_undocumented_or_uncommented_variable() {
    let env_example = read("crates/portal/deploy/.env.example");
    let mut c = compose();
    let portal = service_mut(&mut c, "portal");
    portal.insert("image".into(), "portal:${SURPRISE_VAR:-local}".into());
    portal.insert(
        "labels".into(),
        parse(r#"["a=$OTHER_VAR", "b=$${ESCAPED}"]"#),
    );
    let problems = check_env_documented(&[&c], &env_example);
    assert_fails(problems.clone(), "${SURPRISE_VAR}");
    assert_fails(problems.clone(), "${OTHER_VAR}");
    assert!(
        !problems.iter().any(|p| p.contains("ESCAPED")),
        "$$ is an escape: {problems:?}"
    );
    let mut p = production();
    env_mut(&mut p, "portal").insert("X".into(), "${PRODUCTION_ONLY}".into());
    assert_fails(
        check_env_documented(&[&compose(), &p], &env_example),
        "${PRODUCTION_ONLY}",
    );

    let uncommented = format!("{env_example}\n\nNEW_VAR=1\n");
    assert_fails(
        check_env_documented(&[&compose()], &uncommented),
        "NEW_VAR has no comment",
    );
}

#[test]
fn check_production_fails_when_it_bootstraps_generates_or_prints_passwords() {
    let mut p = production();
    let command = service_mut(&mut p, "provision")
        .get_mut("command")
        .and_then(Value::as_sequence_mut)
        .unwrap();
    command.push("--bootstrap-m2m".into());
    assert_fails(check_production(&compose(), &p), "bootstraps");

    let mut p = production();
    env_mut(&mut p, "secrets").remove("PORTAL_TOKEN_KEY");
    assert_fails(
        check_production(&compose(), &p),
        "PORTAL_TOKEN_KEY is not required",
    );

    let mut p = production();
    service_mut(&mut p, "provision").remove("volumes");
    assert_fails(
        check_production(&compose(), &p),
        "not your PORTAL_SEED_HOST_FILE",
    );

    let mut p = production();
    env_mut(&mut p, "welcome").remove("DEMO_SEED");
    assert_fails(check_production(&compose(), &p), "passwords");
}

#[test]
fn interpolated_variables_sees_every_form() {
    let vars = interpolated_variables("a ${A} ${B:-x} ${C:?msg} $D $${E} $$F ${G-y}");
    let expected: BTreeSet<String> = ["A", "B", "C", "D", "G"].map(String::from).into();
    assert_eq!(vars, expected);
}

#[test]
fn interpolate_resolves_like_compose() {
    let env = |name: &str| match name {
        "SET" => Some("v".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let cases = [
        ("${SET}", "v"),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${SET:?m}", "v"),
        ("a$$b", "a$b"),
        ("$SET/x", "v/x"),
        ("${UNSET:-http://h:1}", "http://h:1"),
    ];
    for (text, expected) in cases {
        assert_eq!(interpolate(text, &env).unwrap(), expected, "{text}");
    }
    assert!(
        interpolate("${UNSET:?say so}", &env)
            .unwrap_err()
            .contains("say so")
    );
    assert!(interpolate("${EMPTY:?say so}", &env).is_err());
}

#[test]
fn mounts_reads_every_form() {
    let svc = parse(
        r#"volumes:
  - ./a.conf:/etc/a.conf:ro
  - data:/var/lib/data
  - "${SEED:?set it (see: x)}:/etc/seed.toml:ro"
  - {type: volume, source: v, target: /v, read_only: true}"#,
    );
    let m = mounts(&svc);
    assert_eq!(m.len(), 4);
    assert_eq!(
        (m[0].source.as_str(), m[0].target.as_str(), m[0].read_only),
        ("./a.conf", "/etc/a.conf", true)
    );
    assert_eq!(
        (m[1].source.as_str(), m[1].target.as_str(), m[1].read_only),
        ("data", "/var/lib/data", false)
    );
    assert!(!m[1].is_bind());
    assert_eq!(m[2].source, "${SEED:?set it (see: x)}");
    assert_eq!(
        (m[2].target.as_str(), m[2].read_only),
        ("/etc/seed.toml", true)
    );
    assert_eq!((m[3].source.as_str(), m[3].read_only), ("v", true));
}

#[test]
fn check_dockerfile_fails_single_stage_or_root() {
    let single = "FROM debian:bookworm-slim\nRUN cargo build --release --locked -p portal\n\
                  ENV PORTAL_TEMPLATES_DIR=/t\nUSER 10001\nEXPOSE 8080\n";
    assert_fails(check_dockerfile(single), "multi-stage");

    let dockerfile = read(DOCKERFILE);
    let as_root = format!("{dockerfile}\nUSER root\n");
    assert_fails(check_dockerfile(&as_root), "USER is root");

    let no_user: String = dockerfile
        .lines()
        .filter(|l| !l.trim_start().starts_with("USER"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_fails(check_dockerfile(&no_user), "no USER");

    // A USER in the builder stage does not count for the runtime stage.
    let builder_only = "FROM rust:1 AS b\nUSER 1000\nFROM debian:bookworm-slim\n";
    assert_fails(check_dockerfile(builder_only), "no USER");
}

#[test]
fn check_dockerignore_fails_when_target_or_git_is_sent() {
    assert_fails(check_dockerignore(".git\n.env\n"), "target/");
    assert_fails(check_dockerignore("target/\n.env\n"), ".git");
    assert_fails(check_dockerignore("target/\n.git\n"), ".env");
}
