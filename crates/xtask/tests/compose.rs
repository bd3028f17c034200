//! Structure checks of the Docker Compose deployment demo (`docker-compose.yml`,
//! `crates/portal/Dockerfile`, `.dockerignore`, `crates/portal/deploy/`). Docker does not run where the
//! tests run, so this parses the files and checks what `docker compose up
//! --scale portal=3` relies on.
//!
//! Every check is a function returning the problems it found; the `*_fails_*`
//! tests feed each one a broken input to prove it can fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

/// The portal's image recipe, built with the repository root as context.
const DOCKERFILE: &str = "crates/portal/Dockerfile";

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

/// Portal settings that are secrets: they must come from `.env` through a
/// required interpolation (`${VAR:?…}`), never a literal in the compose file.
const PORTAL_SECRETS: &[&str] = &[
    "DATABASE_URL",
    "LOGTO_APP_SECRET",
    "PORTAL_SESSION_KEY",
    "PORTAL_TOKEN_KEY",
];

type Problems = Vec<String>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_repo_file(rel: &str) -> Option<String> {
    std::fs::read_to_string(repo_root().join(rel.trim_start_matches("./"))).ok()
}

fn read(rel: &str) -> String {
    read_repo_file(rel).unwrap_or_else(|| panic!("{rel} is missing from the repository"))
}

fn compose_text() -> String {
    read("docker-compose.yml")
}

fn parse(text: &str) -> Value {
    serde_norway::from_str(text).expect("docker-compose.yml is not valid YAML")
}

fn compose() -> Value {
    parse(&compose_text())
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

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
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

/// `(published, target)` of each `ports` entry: short (`"3001:3001"`,
/// `"127.0.0.1:3001:3001/tcp"`, `"3001"`) or long (`{target, published}`) form.
fn ports(svc: &Value) -> Vec<(Option<String>, String)> {
    let Some(Value::Sequence(items)) = svc.get("ports") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Mapping(_) => Some((
                item.get("published").and_then(string),
                item.get("target").and_then(string)?,
            )),
            other => {
                let spec = string(other)?;
                let spec = spec.split('/').next().unwrap_or_default().to_owned();
                let parts: Vec<&str> = spec.split(':').collect();
                let target = (*parts.last()?).to_owned();
                let published = (parts.len() >= 2).then(|| parts[parts.len() - 2].to_owned());
                Some((published, target))
            }
        })
        .collect()
}

/// Host-side sources of a service's short-form bind mounts.
fn bind_sources(svc: &Value) -> Vec<String> {
    let Some(Value::Sequence(items)) = svc.get("volumes") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Mapping(_) => item.get("source").and_then(string),
            other => string(other)?.split(':').next().map(str::to_owned),
        })
        .filter(|src| src.starts_with('.') || src.starts_with('/'))
        .collect()
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

fn check_services(compose: &Value) -> Problems {
    ["postgres", "logto", "portal", "proxy"]
        .into_iter()
        .filter(|name| service(compose, name).is_none())
        .map(|name| format!("service {name} is missing"))
        .collect()
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
    let named_volume = pg
        .get("volumes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(string)
        .any(|v| v.ends_with(":/var/lib/postgresql/data") && !v.starts_with('.'));
    if !named_volume {
        problems.push("postgres: no named volume on /var/lib/postgresql/data".into());
    }
    if pg.get("healthcheck").and_then(|h| h.get("test")).is_none() {
        problems.push("postgres: no healthcheck".into());
    }
    let init_scripts: Vec<String> = pg
        .get("volumes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(string)
        .filter(|v| v.contains("/docker-entrypoint-initdb.d/"))
        .filter_map(|v| v.split(':').next().map(str::to_owned))
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
    if image.split(':').next() != Some("svhd/logto") {
        problems.push(format!(
            "logto: image {image:?} is not the official svhd/logto"
        ));
    }
    let published = ports(logto);
    for port in ["3001", "3002"] {
        if !published
            .iter()
            .any(|(host, target)| host.as_deref() == Some(port) && target == port)
        {
            problems.push(format!(
                "logto: port {port} is not published as {port}:{port}"
            ));
        }
    }
    let env: BTreeSet<String> = environment(logto).into_iter().map(|(k, _)| k).collect();
    for name in ["DB_URL", "ENDPOINT", "ADMIN_ENDPOINT"] {
        if !env.contains(name) {
            problems.push(format!("logto: environment lacks {name}"));
        }
    }
    let entrypoint: String = match logto.get("entrypoint") {
        Some(Value::Sequence(parts)) => parts
            .iter()
            .filter_map(string)
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => string(other).unwrap_or_default(),
        None => String::new(),
    };
    if !(entrypoint.contains("db seed -- --swe") && entrypoint.contains("npm start")) {
        problems.push(format!(
            "logto: entrypoint {entrypoint:?} does not seed with --swe and then start"
        ));
    }
    problems
}

fn check_portal(compose: &Value, read_file: &dyn Fn(&str) -> Option<String>) -> Problems {
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
    let expected: BTreeSet<&str> = DESIGN_CONFIG_NAMES.iter().copied().collect();
    for missing in expected.difference(&names) {
        problems.push(format!("portal: environment lacks {missing}"));
    }
    for extra in names.difference(&expected) {
        problems.push(format!(
            "portal: environment has {extra}, not a design.md name"
        ));
    }
    if env.len() != names.len() {
        problems.push("portal: environment repeats a name".into());
    }
    for (name, value) in &env {
        if name == "PORTAL_BIND" && value != "0.0.0.0:8080" {
            problems.push(format!(
                "portal: PORTAL_BIND is {value:?}, not 0.0.0.0:8080"
            ));
        }
        if PORTAL_SECRETS.contains(&name.as_str()) && !value.contains(":?") {
            problems.push(format!(
                "portal: {name} must come from .env through ${{VAR:?message}}, not a literal"
            ));
        }
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
    if !ports(proxy)
        .iter()
        .any(|(host, _)| host.as_deref() == Some("8080"))
    {
        problems.push("proxy: does not publish port 8080".into());
    }
    let configs: Vec<(String, String)> = bind_sources(proxy)
        .into_iter()
        .filter_map(|src| read_file(&src).map(|text| (src, text)))
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

fn check_env_documented(compose: &Value, env_example: &str) -> Problems {
    let (documented, mut problems) = documented_variables(env_example);
    let mut strings = Vec::new();
    all_strings(compose, &mut strings);
    for var in interpolated_variables(&strings.join("\n")) {
        if !documented.contains(&var) {
            problems.push(format!(
                "${{{var}}} is used but not documented in crates/portal/deploy/.env.example"
            ));
        }
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

// ---- the repository's files pass ---------------------------------------------

#[test]
fn compose_has_the_four_services() {
    assert_ok(check_services(&compose()));
}

#[test]
fn postgres_has_a_volume_a_healthcheck_and_two_databases() {
    assert_ok(check_postgres(&compose(), &read_repo_file));
}

#[test]
fn logto_uses_the_official_image_and_publishes_3001_and_3002() {
    assert_ok(check_logto(&compose()));
}

#[test]
fn portal_is_built_here_scalable_and_configured_by_the_design_names() {
    assert_ok(check_portal(&compose(), &read_repo_file));
}

#[test]
fn proxy_config_exists_names_the_portal_and_forwards_headers() {
    assert_ok(check_proxy(&compose(), &read_repo_file));
}

#[test]
fn every_interpolated_variable_is_documented_in_env_example() {
    assert_ok(check_env_documented(
        &compose(),
        &read("crates/portal/deploy/.env.example"),
    ));
}

#[test]
fn dockerfile_is_multi_stage_and_non_root() {
    assert_ok(check_dockerfile(&read(DOCKERFILE)));
}

#[test]
fn dockerignore_keeps_target_git_and_secrets_out() {
    assert_ok(check_dockerignore(&read(".dockerignore")));
}

#[test]
fn tenants_example_has_the_design_format() {
    let text = read("crates/portal/deploy/tenants.example.toml");
    let mut blocks = 0;
    for block in text.split("[[tenant]]").skip(1) {
        blocks += 1;
        for key in ["slug", "display_name", "organization_id"] {
            assert!(
                block
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{key} ="))),
                "a [[tenant]] lacks {key}"
            );
        }
    }
    assert!(
        blocks >= 1,
        "crates/portal/deploy/tenants.example.toml has no [[tenant]]"
    );
}

// ---- each check can fail ---------------------------------------------------------

#[test]
fn check_services_fails_without_the_proxy() {
    let mut c = compose();
    c.get_mut("services")
        .unwrap()
        .as_mapping_mut()
        .unwrap()
        .remove("proxy");
    assert_fails(check_services(&c), "service proxy is missing");
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
}

#[test]
fn check_logto_fails_on_another_image_a_missing_port_or_no_seed() {
    let mut c = compose();
    service_mut(&mut c, "logto").insert("image".into(), "ghcr.io/someone/logto:1".into());
    assert_fails(check_logto(&c), "not the official svhd/logto");

    let mut c = compose();
    service_mut(&mut c, "logto").insert("ports".into(), parse(r#"["3001:3001"]"#));
    assert_fails(check_logto(&c), "port 3002");

    let mut c = compose();
    service_mut(&mut c, "logto").insert("entrypoint".into(), parse(r#"["npm", "start"]"#));
    assert_fails(check_logto(&c), "--swe");
}

#[test]
fn check_portal_fails_on_container_name_host_port_or_wrong_build() {
    let mut c = compose();
    service_mut(&mut c, "portal").insert("container_name".into(), "portal".into());
    assert_fails(check_portal(&c, &read_repo_file), "container_name");

    let mut c = compose();
    service_mut(&mut c, "portal").insert("ports".into(), parse(r#"["8081:8080"]"#));
    assert_fails(check_portal(&c, &read_repo_file), "host port");

    let mut c = compose();
    service_mut(&mut c, "portal").insert("build".into(), "./elsewhere".into());
    assert_fails(check_portal(&c, &read_repo_file), "build is not");

    let mut c = compose();
    service_mut(&mut c, "portal").remove("build");
    assert_fails(check_portal(&c, &read_repo_file), "build is not");
}

#[test]
fn check_portal_fails_on_a_missing_an_extra_or_a_literal_secret_name() {
    fn env(c: &mut Value) -> &mut Mapping {
        service_mut(c, "portal")
            .get_mut("environment")
            .and_then(Value::as_mapping_mut)
            .unwrap()
    }
    let mut c = compose();
    env(&mut c).remove("PORTAL_TOKEN_KEY");
    assert_fails(check_portal(&c, &read_repo_file), "lacks PORTAL_TOKEN_KEY");

    let mut c = compose();
    env(&mut c).insert("PORTAL_SECRET".into(), "x".into());
    assert_fails(check_portal(&c, &read_repo_file), "has PORTAL_SECRET");

    let mut c = compose();
    env(&mut c).insert("PORTAL_SESSION_KEY".into(), "c2VjcmV0".into());
    assert_fails(
        check_portal(&c, &read_repo_file),
        "PORTAL_SESSION_KEY must come from .env",
    );

    let mut c = compose();
    env(&mut c).insert("PORTAL_BIND".into(), "127.0.0.1:8080".into());
    assert_fails(check_portal(&c, &read_repo_file), "PORTAL_BIND");
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

    let mut c = compose();
    service_mut(&mut c, "proxy").insert("ports".into(), parse(r#"["9090:8080"]"#));
    assert_fails(check_proxy(&c, &read_repo_file), "8080");
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
    let problems = check_env_documented(&c, &env_example);
    assert_fails(problems.clone(), "${SURPRISE_VAR}");
    assert_fails(problems.clone(), "${OTHER_VAR}");
    assert!(
        !problems.iter().any(|p| p.contains("ESCAPED")),
        "$$ is an escape: {problems:?}"
    );

    let uncommented = format!("{env_example}\n\nNEW_VAR=1\n");
    assert_fails(
        check_env_documented(&compose(), &uncommented),
        "NEW_VAR has no comment",
    );
}

#[test]
fn interpolated_variables_sees_every_form() {
    let vars = interpolated_variables("a ${A} ${B:-x} ${C:?msg} $D $${E} $$F ${G-y}");
    let expected: BTreeSet<String> = ["A", "B", "C", "D", "G"].map(String::from).into();
    assert_eq!(vars, expected);
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
