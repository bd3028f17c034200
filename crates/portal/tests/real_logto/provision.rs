//! `portal logto provision` and its library against real Logto: the demo
//! seed twice (the second run changes nothing), a run stopped half-way and
//! completed by the next, bad input (wrong M2M secret, unreachable Logto, an
//! unknown role, a malformed seed), the M2M bootstrap, and the command's
//! output files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use portal::management::{M2mCredentials, ManagementClient, ManagementError, NewUser};
use portal::provision::{self, ProvisionError, Report, bootstrap};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use url::Url;

use crate::support::{self, client, unique, unique_demo_seed};

fn base() -> Url {
    "http://127.0.0.1:9/".parse().unwrap()
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn the_demo_seed_provisions_and_a_rerun_changes_nothing(pool: PgPool) {
    let suffix = unique();
    let seed = unique_demo_seed(&suffix);
    let client = client();
    let first = provision::provision(&client, &seed, &[base()], Some(&pool))
        .await
        .unwrap();
    assert!(
        first
            .report
            .created
            .iter()
            .any(|c| c.starts_with(&format!("user alice_{suffix} "))),
        "{:?}",
        first.report
    );
    let ours = |orgs: &[portal::management::Organization]| {
        orgs.iter().filter(|o| o.name.ends_with(&suffix)).count()
    };
    assert_eq!(ours(&client.list_organizations().await.unwrap()), 2);

    let second = provision::provision(&client, &seed, &[base()], Some(&pool))
        .await
        .unwrap();
    assert_eq!(
        second.report,
        Report::default(),
        "the rerun changed something"
    );
    assert_eq!(second.app.id, first.app.id);
    assert_eq!(
        second.app.secret.expose_secret(),
        first.app.secret.expose_secret()
    );
    assert_eq!(second.organizations, first.organizations);
    // Still one of each: nothing was created twice.
    assert_eq!(ours(&client.list_organizations().await.unwrap()), 2);
    let apps = client.list_applications().await.unwrap();
    assert_eq!(
        apps.iter()
            .filter(|a| a.name == seed.applications[0].name)
            .count(),
        1
    );

    // What the seed says, as Logto has it.
    let acme = &first.organizations[&format!("org-acme-{suffix}")];
    assert_eq!(
        acme.slug.as_deref(),
        Some(format!("acme-{suffix}").as_str())
    );
    let members = client.organization_members(&acme.id).await.unwrap();
    let roles_of = |username: &str| -> Vec<String> {
        let id = &first.users[&format!("{username}_{suffix}")].id;
        let member = members.iter().find(|m| &m.id == id).unwrap();
        member
            .organization_roles
            .iter()
            .map(|r| r.name.clone())
            .collect()
    };
    assert_eq!(roles_of("alice"), ["admin"]);
    assert_eq!(roles_of("bob"), ["member"]);
    assert_eq!(members.len(), 2);
    let alice = &first.users[&format!("alice_{suffix}")];
    assert!(
        client
            .verify_user_password(&alice.id, &alice.password)
            .await
            .unwrap()
    );
    let profile = client.user(&alice.id).await.unwrap();
    assert_eq!(profile.name.as_deref(), Some("Alice Example"));
    assert_eq!(profile.custom_data["plan"], "enterprise");
    let roles = client.user_roles(&alice.id).await.unwrap();
    assert_eq!(
        roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["report-writer"]
    );

    // The portal's tenants carry the ids Logto assigned; no simulated SSO.
    let tenants = portal::storage::tenants::list(&pool).await.unwrap();
    assert_eq!(tenants.len(), 2);
    let acme_tenant = tenants
        .iter()
        .find(|t| t.slug == format!("acme-{suffix}"))
        .unwrap();
    assert_eq!(acme_tenant.organization_id, acme.id);
    assert_eq!(acme_tenant.display_name, "Acme Corp");
    assert!(tenants.iter().all(|t| t.sso_connector_id.is_none()));

    support::clean_up(&client, &first).await;
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn a_run_stopped_half_way_is_completed_by_the_next(pool: PgPool) {
    let suffix = unique();
    let mut seed = unique_demo_seed(&suffix);
    let client = client();
    // Someone else already has the email the seed gives bob (the 2nd user).
    let bob_email = seed.users[1].email.clone().unwrap();
    let blocker = client
        .create_user(
            &NewUser {
                username: format!("blocker_{suffix}"),
                primary_email: Some(bob_email),
                ..NewUser::default()
            },
            &"blocker-password".to_owned().into(),
        )
        .await
        .unwrap();
    let err = provision::provision(&client, &seed, &[base()], Some(&pool))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ProvisionError::Logto(ManagementError::Api { status: 422, path, .. }) if path == "api/users"
        ),
        "{err:?}"
    );
    assert!(
        client
            .find_user_by_username(&format!("alice_{suffix}"))
            .await
            .unwrap()
            .is_some(),
        "the first run got as far as alice"
    );

    // The seed fixed, the rerun completes the job, and the next has nothing to do.
    seed.users[1].email = Some(format!("bob-{suffix}@acme.test"));
    let done = provision::provision(&client, &seed, &[base()], Some(&pool))
        .await
        .unwrap();
    assert!(
        done.report
            .created
            .iter()
            .any(|c| c.starts_with(&format!("user bob_{suffix} "))),
        "{:?}",
        done.report
    );
    assert!(
        !done
            .report
            .created
            .iter()
            .any(|c| c.starts_with(&format!("user alice_{suffix} "))),
        "alice was found again, not created twice"
    );
    assert_eq!(
        portal::storage::tenants::list(&pool).await.unwrap().len(),
        2
    );
    let again = provision::provision(&client, &seed, &[base()], Some(&pool))
        .await
        .unwrap();
    assert_eq!(again.report, Report::default());

    support::clean_up(&client, &done).await;
    let _ = client.delete_user(&blocker.id).await;
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn a_wrong_m2m_secret_is_refused() {
    let wrong = ManagementClient::new(
        support::endpoint(),
        M2mCredentials::new(support::m2m().app_id, "not-the-secret"),
    )
    .unwrap();
    let err = provision::provision(&wrong, &unique_demo_seed(&unique()), &[base()], None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProvisionError::Logto(ManagementError::BadCredentials { .. })
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("not-the-secret"));
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn an_unreachable_logto_is_an_error() {
    let nowhere = ManagementClient::new(support::closed_endpoint(), support::m2m()).unwrap();
    let err = provision::provision(&nowhere, &unique_demo_seed(&unique()), &[base()], None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProvisionError::Logto(ManagementError::Unreachable { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn an_unknown_role_fails_before_any_call() {
    let mut seed = unique_demo_seed(&unique());
    seed.users[0].roles.push("no-such-role".to_owned());
    // Any call would fail on the credentials: the seed's error shows none was made.
    let wrong = ManagementClient::new(
        support::endpoint(),
        M2mCredentials::new(support::m2m().app_id, "not-the-secret"),
    )
    .unwrap();
    let err = provision::provision(&wrong, &seed, &[base()], None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "seed: users[0].roles[1]: unknown role \"no-such-role\""
    );
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn bootstrap_makes_an_m2m_app_once_and_reuses_it() {
    let name = format!("Bootstrap test {}", unique());
    let url = support::logto_database_url();
    let (made, how) = bootstrap::bootstrap_m2m(&url, &name).await.unwrap();
    assert_eq!(how, bootstrap::Bootstrapped::Created);
    // It has Management API access at once.
    let as_bootstrapped = ManagementClient::new(support::endpoint(), made.clone()).unwrap();
    let apps = as_bootstrapped.list_applications().await.unwrap();
    assert!(apps.iter().any(|a| a.id == made.app_id && a.name == name));

    let (again, how) = bootstrap::bootstrap_m2m(&url, &name).await.unwrap();
    assert_eq!(how, bootstrap::Bootstrapped::Reused);
    assert_eq!(again.app_id, made.app_id);
    assert_eq!(
        again.app_secret.expose_secret(),
        made.app_secret.expose_secret()
    );
    client().delete_application(&made.app_id).await.unwrap();
}

// ---- the command ---------------------------------------------------------------------

/// A directory of its own, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("portal-provision-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small seed of its own: one application, one user, one organization with a tenant.
fn small_seed(dir: &Path, suffix: &str) -> PathBuf {
    let path = dir.join("seed.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[[applications]]
id = "cli"
name = "CLI test {suffix}"
type = "traditional"
secret = "ignored-by-provisioning"
redirect_uris = ["http://127.0.0.1:*/callback"]

[[users]]
username = "cli_{suffix}"
password = "password-{suffix}"
name = "CLI Example"

[[organizations]]
id = "org-{suffix}"
name = "CLI {suffix}"
members = [{{ user = "cli_{suffix}" }}]
tenant = {{ slug = "cli-{suffix}" }}
"#
        ),
    )
    .unwrap();
    path
}

/// Runs `portal logto provision` with only the variables given (no
/// inherited LOGTO_*/DATABASE_URL, no `.env` from the working directory).
fn run(dir: &Path, args: &[&str], vars: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
    command
        .current_dir(dir)
        .args(["logto", "provision"])
        .args(args);
    for name in [
        "LOGTO_ENDPOINT",
        "LOGTO_M2M_APP_ID",
        "LOGTO_M2M_APP_SECRET",
        "LOGTO_DATABASE_URL",
        "DATABASE_URL",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command.envs(vars.iter().map(|(k, v)| (*k, v.as_str())));
    command.output().unwrap()
}

fn tier_vars() -> Vec<(&'static str, String)> {
    let m2m = support::m2m();
    vec![
        ("LOGTO_ENDPOINT", support::endpoint().to_string()),
        ("LOGTO_M2M_APP_ID", m2m.app_id.clone()),
        (
            "LOGTO_M2M_APP_SECRET",
            m2m.app_secret.expose_secret().to_owned(),
        ),
    ]
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn env_file(path: &Path) -> std::collections::HashMap<String, String> {
    dotenvy::from_path_iter(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn the_command_writes_private_files_and_a_rerun_changes_nothing() {
    let dir = TempDir::new();
    let suffix = unique();
    let seed = small_seed(&dir.0, &suffix);
    let env_path = dir.0.join("logto.env");
    let json_path = dir.0.join("provisioned.json");
    let args = [
        "--seed",
        seed.to_str().unwrap(),
        "--base-url",
        "http://127.0.0.1:9",
        "--base-url",
        "http://localhost:9",
        "--write-env",
        env_path.to_str().unwrap(),
        "--write-json",
        json_path.to_str().unwrap(),
    ];
    let first = run(&dir.0, &args, &tier_vars());
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(first.stdout.is_empty(), "credentials went to the file");

    let env = env_file(&env_path);
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    #[cfg(unix)]
    {
        assert_eq!(mode(&env_path), 0o600);
        assert_eq!(mode(&json_path), 0o600);
    }
    assert_eq!(env["LOGTO_APP_ID"], doc["app"]["id"].as_str().unwrap());
    assert_eq!(
        env["LOGTO_APP_SECRET"],
        doc["app"]["secret"].as_str().unwrap()
    );
    assert!(!env.contains_key("LOGTO_M2M_APP_ID"), "not bootstrapped");
    assert_eq!(
        doc["endpoint"],
        support::endpoint().as_str().trim_end_matches('/')
    );
    assert_eq!(doc["m2m"]["id"], support::m2m().app_id.as_str());
    let org = &doc["organizations"][format!("org-{suffix}")];
    assert_eq!(org["name"], format!("CLI {suffix}"));
    assert_eq!(org["slug"], format!("cli-{suffix}"));
    let user = &doc["users"][format!("cli_{suffix}")];
    assert_eq!(user["password"], format!("password-{suffix}"));
    assert_eq!(doc["resources"], serde_json::json!([]));
    assert_eq!(doc["api_resource"], serde_json::Value::Null);

    // Logto has them, as the document says.
    let client = client();
    let member = client
        .organization_members(org["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(member.len(), 1);
    assert_eq!(member[0].id, user["id"].as_str().unwrap());
    let app = client
        .list_applications()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == env["LOGTO_APP_ID"])
        .unwrap();
    assert_eq!(
        app.oidc_client_metadata.redirect_uris,
        ["http://127.0.0.1:9/callback", "http://localhost:9/callback"]
    );
    assert_eq!(
        app.oidc_client_metadata.backchannel_logout_uri.as_deref(),
        Some("http://127.0.0.1:9/backchannel-logout")
    );
    assert_eq!(
        app.oidc_client_metadata.backchannel_logout_session_required,
        Some(true)
    );

    // Rerun: nothing changes; without --write-env the credentials go to stdout.
    let second = run(&dir.0, &args[..6], &tier_vars());
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(": 0 created, 0 updated"),
        "{}",
        stderr(&second)
    );
    let stdout = String::from_utf8(second.stdout.clone()).unwrap();
    assert!(
        stdout.contains(&format!("LOGTO_APP_ID={}\n", env["LOGTO_APP_ID"])),
        "{stdout}"
    );

    // No secret in the logs.
    for output in [&first, &second] {
        let log = stderr(output);
        for secret in [
            env["LOGTO_APP_SECRET"].as_str(),
            user["password"].as_str().unwrap(),
        ] {
            assert!(!log.contains(secret), "a secret in the logs: {log}");
        }
    }

    let _ = client.delete_user(user["id"].as_str().unwrap()).await;
    let _ = client
        .delete_organization(org["id"].as_str().unwrap())
        .await;
    let _ = client.delete_application(&env["LOGTO_APP_ID"]).await;
}

/// One line on stderr, naming the problem, and a failure exit status.
fn assert_one_line(output: &Output, expected: &str) {
    let log = stderr(output);
    assert!(!output.status.success(), "succeeded: {log}");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].starts_with("portal: "), "{log}");
    assert!(lines[0].contains(expected), "{expected:?} not in {log}");
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn the_command_names_bad_input_on_one_line_and_a_fixed_rerun_completes() {
    let dir = TempDir::new();
    let suffix = unique();
    let seed = small_seed(&dir.0, &suffix);
    let args = [
        "--seed",
        seed.to_str().unwrap(),
        "--base-url",
        "http://127.0.0.1:9",
    ];
    let mut wrong_secret = tier_vars();
    wrong_secret[2].1 = "not-the-secret".to_owned();
    let out = run(&dir.0, &args, &wrong_secret);
    assert_one_line(&out, "LOGTO_M2M_APP_SECRET");
    assert!(!stderr(&out).contains("not-the-secret"));

    let mut unreachable = tier_vars();
    unreachable[0].1 = support::closed_endpoint().to_string();
    assert_one_line(&run(&dir.0, &args, &unreachable), "is unreachable");

    assert_one_line(
        &run(&dir.0, &args, &tier_vars()[..1]),
        "LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET are not set",
    );

    // An unknown role, and a malformed file: named before any call (the
    // wrong secret would otherwise be the error).
    let text = std::fs::read_to_string(&seed).unwrap();
    std::fs::write(
        &seed,
        text.replace(
            "name = \"CLI Example\"",
            "name = \"CLI Example\"\nroles = [\"boss\"]",
        ),
    )
    .unwrap();
    assert_one_line(
        &run(&dir.0, &args, &wrong_secret),
        "users[0].roles[0]: unknown role \"boss\"",
    );
    std::fs::write(&seed, "[[users]\nusername = ").unwrap();
    assert_one_line(&run(&dir.0, &args, &wrong_secret), "seed.toml");

    // Fixed: the rerun completes the job.
    std::fs::write(&seed, &text).unwrap();
    let json = dir.0.join("out.json");
    let mut fixed = args.to_vec();
    fixed.extend(["--write-json", json.to_str().unwrap()]);
    let out = run(&dir.0, &fixed, &tier_vars());
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let client = client();
    let _ = client
        .delete_user(
            doc["users"][format!("cli_{suffix}")]["id"]
                .as_str()
                .unwrap(),
        )
        .await;
    let _ = client
        .delete_organization(
            doc["organizations"][format!("org-{suffix}")]["id"]
                .as_str()
                .unwrap(),
        )
        .await;
    let _ = client
        .delete_application(doc["app"]["id"].as_str().unwrap())
        .await;
}

#[tokio::test]
#[ignore = "needs real Logto: run through cargo xtask test"]
async fn the_command_bootstraps_its_m2m_app_and_a_rerun_reuses_it() {
    let dir = TempDir::new();
    let suffix = unique();
    let seed = small_seed(&dir.0, &suffix);
    let env_path = dir.0.join("logto.env");
    let args = [
        "--seed",
        seed.to_str().unwrap(),
        "--base-url",
        "http://127.0.0.1:9",
        "--write-env",
        env_path.to_str().unwrap(),
        "--bootstrap-m2m",
    ];
    let vars = [
        ("LOGTO_ENDPOINT", support::endpoint().to_string()),
        ("LOGTO_DATABASE_URL", support::logto_database_url()),
    ];
    let first = run(&dir.0, &args, &vars);
    assert!(first.status.success(), "{}", stderr(&first));
    let env = env_file(&env_path);
    let m2m_id = env["LOGTO_M2M_APP_ID"].clone();
    assert!(!env["LOGTO_M2M_APP_SECRET"].is_empty());

    let second = run(&dir.0, &args, &vars);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!("M2M app {m2m_id} reused")),
        "{}",
        stderr(&second)
    );
    let again = env_file(&env_path);
    assert_eq!(again["LOGTO_M2M_APP_ID"], m2m_id);
    assert_eq!(again["LOGTO_M2M_APP_SECRET"], env["LOGTO_M2M_APP_SECRET"]);
    assert_eq!(again["LOGTO_APP_ID"], env["LOGTO_APP_ID"]);

    // Without --bootstrap-m2m, and without credentials, nothing is inserted.
    assert_one_line(
        &run(&dir.0, &args[..6], &vars),
        "LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET are not set",
    );

    let client = client();
    let user = client
        .find_user_by_username(&format!("cli_{suffix}"))
        .await
        .unwrap()
        .unwrap();
    let _ = client.delete_user(&user.id).await;
    let _ = client.delete_application(&env["LOGTO_APP_ID"]).await;
    for org in client.list_organizations().await.unwrap() {
        if org.name == format!("CLI {suffix}") {
            let _ = client.delete_organization(&org.id).await;
        }
    }
}
