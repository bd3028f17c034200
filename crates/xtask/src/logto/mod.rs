//! The real-Logto harness, like the PostgreSQL one: real Logto built from
//! source (`../shared/logto/` beside the clone, or `LOGTO_SOURCE`) into a
//! cache outside the clone, started on free loopback ports with a fresh
//! database of its own in the private PostgreSQL, and stopped again when the
//! [`Logto`] value is dropped (on exit, failure or Ctrl-C).
//!
//! Logto listens on 127.0.0.1 only and connects to nothing but loopback: a
//! `node --require` preload (`loopback.cjs`) binds every listening socket to
//! 127.0.0.1 and refuses any other outbound connection.

mod build;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use test_support::free_port;

pub(crate) use self::build::{Build, Source, ensure_built};
use crate::pg::Postgres;

const PRELOAD: &str = include_str!("loopback.cjs");
/// How long Logto may take to answer `/api/status` (about 4 s here).
const READY_WITHIN: Duration = Duration::from_secs(120);

/// A running real Logto.
pub(crate) struct Logto {
    child: Option<Child>,
    /// The endpoint (issuer = endpoint + `/oidc`).
    pub endpoint: String,
    /// The admin endpoint (the console is not built; the port answers).
    pub admin_endpoint: String,
    /// Logto's own database.
    pub database_url: String,
    /// Where Logto's output goes.
    pub log: PathBuf,
}

impl Logto {
    /// Seeds a fresh database `db` on `pg` and starts Logto on it; logs go to
    /// `dir/<db>.log`.
    pub(crate) fn start(build: &Build, pg: &Postgres, db: &str, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let database_url = crate::runtime()?.block_on(async {
            let url = pg.fresh_database_url(db).await?;
            drop_tenant_roles(pg, db).await?;
            Ok::<_, anyhow::Error>(url)
        })?;
        let log = dir.join(format!("{db}.log"));
        let seed_log = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        eprintln!("xtask: == seeding Logto's database {db}");
        let status = Command::new(build.bin.join("pnpm"))
            .current_dir(&build.root)
            .env("PATH", build.path_env())
            .env("DB_URL", &database_url)
            .args(["cli", "db", "seed", "--swe"])
            .stdin(Stdio::null())
            .stdout(seed_log.try_clone()?)
            .stderr(seed_log)
            .status()
            .context("running Logto's database seed")?;
        if !status.success() {
            bail!(
                "seeding Logto's database failed ({status}):\n{}",
                tail(&log, 20)
            );
        }
        let preload = dir.join("loopback.cjs");
        std::fs::write(&preload, PRELOAD)?;
        let mut last = anyhow!("Logto did not start");
        // A port probed free may be taken before Logto binds it: try again.
        for _ in 0..3 {
            match Self::spawn(build, &database_url, &preload, &log) {
                Ok(logto) => return Ok(logto),
                Err(e) => last = e,
            }
            if crate::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
        }
        Err(last)
    }

    fn spawn(build: &Build, database_url: &str, preload: &Path, log: &Path) -> Result<Self> {
        let port = free_port()?;
        let admin_port = free_port()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let admin_endpoint = format!("http://127.0.0.1:{admin_port}");
        let out = File::options().append(true).open(log)?;
        let child = Command::new(build.node())
            .current_dir(build.root.join("packages").join("core"))
            .env("PATH", build.path_env())
            .env("NODE_ENV", "production")
            .env("DB_URL", database_url)
            .env("PORT", port.to_string())
            .env("ADMIN_PORT", admin_port.to_string())
            .env("ENDPOINT", &endpoint)
            .env("ADMIN_ENDPOINT", &admin_endpoint)
            // Lets Logto post back-channel logout tokens to a loopback URI.
            .env("OIDC_PROVIDER_SSRF_PROTECTION_DISABLED", "1")
            .arg("--require")
            .arg(preload)
            .arg(".")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting Logto (node)")?;
        let mut logto = Self {
            child: Some(child),
            endpoint,
            admin_endpoint,
            database_url: database_url.to_owned(),
            log: log.to_owned(),
        };
        logto.wait_ready()?;
        Ok(logto)
    }

    fn wait_ready(&mut self) -> Result<()> {
        crate::runtime()?.block_on(self.poll_ready())
    }

    async fn poll_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        let status_url = format!("{}/api/status", self.endpoint);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        loop {
            let answer = http.get(&status_url).send().await;
            if answer.is_ok_and(|r| r.status() == reqwest::StatusCode::NO_CONTENT) {
                eprintln!(
                    "xtask: real Logto is up at {} ({} ms)",
                    self.endpoint,
                    started.elapsed().as_millis()
                );
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                bail!(
                    "Logto exited during start-up ({status}); the last lines of {}:\n{}",
                    self.log.display(),
                    tail(&self.log, 20)
                );
            }
            if started.elapsed() > READY_WITHIN
                || crate::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
            {
                bail!(
                    "Logto did not answer {status_url} within {} s; see {}",
                    READY_WITHIN.as_secs(),
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops Logto if it runs. Idempotent.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::process::terminate(&mut child);
        }
    }
}

impl Drop for Logto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Logto's seed creates cluster-wide roles for its database
/// (`logto_tenant_<db>`, and one per tenant below it) that outlive a dropped
/// database: without dropping them a second seed of `db` fails.
async fn drop_tenant_roles(pg: &Postgres, db: &str) -> Result<()> {
    use sqlx::Connection;
    let mut conn = pg.admin_connection().await?;
    let parent = format!("logto_tenant_{db}");
    let mut roles: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE rolname = $1 OR starts_with(rolname, $1 || '_')",
    )
    .bind(&parent)
    .fetch_all(&mut conn)
    .await?;
    // Members before the role they are in.
    roles.sort_by_key(|r| std::cmp::Reverse(r.len()));
    for role in roles {
        let quoted = role.replace('"', "\"\"");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP ROLE IF EXISTS \"{quoted}\""
        )))
        .execute(&mut conn)
        .await
        .with_context(|| format!("dropping Logto's role {role}"))?;
    }
    conn.close().await?;
    Ok(())
}

/// The last `lines` lines of a text file (for error messages).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all.get(all.len().saturating_sub(lines)..)
        .unwrap_or_default()
        .join("\n")
}

/// What `portal logto provision` made on a real Logto.
pub(crate) struct Provisioned {
    /// The `.env` lines it wrote (the application's and the bootstrapped
    /// machine-to-machine app's credentials).
    pub env: Vec<(String, String)>,
    /// The JSON description it wrote (ids Logto assigned), for the tests.
    pub json: PathBuf,
}

impl Provisioned {
    pub(crate) fn var(&self, name: &str) -> Result<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| anyhow!("the provisioning command wrote no {name}"))
    }
}

/// Runs the product's own provisioning command (`portal logto provision`,
/// built at `portal`) with the demo seed against `logto`, bootstrapping its
/// machine-to-machine app in Logto's database; the portal's tenants go to
/// `portal_database_url`. Its output files go to `dir/<name>.env|json`.
pub(crate) fn provision(
    portal: &Path,
    seed: &Path,
    logto: &Logto,
    portal_database_url: &str,
    base_urls: &[String],
    dir: &Path,
    name: &str,
) -> Result<Provisioned> {
    let env_file = dir.join(format!("{name}.env"));
    let json = dir.join(format!("{name}.json"));
    let _ = std::fs::remove_file(&env_file);
    let mut cmd = Command::new(portal);
    cmd.args(["logto", "provision", "--bootstrap-m2m", "--seed"])
        .arg(seed)
        .arg("--write-env")
        .arg(&env_file)
        .arg("--write-json")
        .arg(&json);
    for url in base_urls {
        cmd.args(["--base-url", url]);
    }
    cmd.env("LOGTO_ENDPOINT", &logto.endpoint)
        .env("LOGTO_DATABASE_URL", &logto.database_url)
        .env("DATABASE_URL", portal_database_url)
        .env_remove("LOGTO_M2M_APP_ID")
        .env_remove("LOGTO_M2M_APP_SECRET")
        .env("RUST_LOG", "warn");
    crate::step("portal logto provision (the demo seed)", &mut cmd)?;
    let text = std::fs::read_to_string(&env_file)
        .with_context(|| format!("reading {}", env_file.display()))?;
    let env = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect();
    Ok(Provisioned { env, json })
}

/// The demo's seed, read by logto-dev and by the provisioning command.
pub(crate) const DEMO_SEED: &str = "crates/logto-seed/demo.toml";

/// The real-Logto test tier's service: Logto running and provisioned with the demo
/// seed, and what its tests need to know (the `LOGTO_TIER_*` variables).
pub(crate) struct Running {
    /// Kept until the tests end: dropping it stops Logto.
    _logto: Logto,
    pub env: Vec<(&'static str, String)>,
}

/// Why the real-Logto tier cannot run here, or `None` when it can.
pub(crate) fn unavailable(ws: &Path) -> Result<Option<String>> {
    Ok(Source::find(ws)?.is_none().then(|| {
        "no Logto source (neither LOGTO_SOURCE nor ../shared/logto/logto-1fbc554.tar.gz)".into()
    }))
}

/// Builds (or reuses) real Logto, starts it with a fresh database on `pg`
/// and provisions it with the demo seed through the portal's own command
/// (the portal's tenants go to `portal_database_url`).
pub(crate) fn start_tier(ws: &Path, pg: &Postgres, portal_database_url: &str) -> Result<Running> {
    let source = Source::find(ws)?.ok_or_else(|| anyhow!("no Logto source"))?;
    let build = ensure_built(&source)?;
    crate::step(
        "cargo build -p portal --bin portal",
        crate::cargo().current_dir(ws).args([
            "build", "--quiet", "--locked", "-p", "portal", "--bin", "portal",
        ]),
    )?;
    let dir = ws.join("target").join("xtask").join("logto");
    let logto = Logto::start(&build, pg, "logto_test", &dir)?;
    // The seeded application's URIs lead nowhere: each test that signs in
    // makes an application of its own for its own portal's port.
    let provisioned = provision(
        &crate::target_dir(ws).join("debug").join("portal"),
        &ws.join(DEMO_SEED),
        &logto,
        portal_database_url,
        &["http://127.0.0.1:9".to_owned()],
        &dir,
        "test",
    )?;
    let env = vec![
        ("LOGTO_TIER_ENDPOINT", logto.endpoint.clone()),
        ("LOGTO_TIER_DATABASE_URL", logto.database_url.clone()),
        (
            "LOGTO_TIER_M2M_APP_ID",
            provisioned.var("LOGTO_M2M_APP_ID")?.to_owned(),
        ),
        (
            "LOGTO_TIER_M2M_APP_SECRET",
            provisioned.var("LOGTO_M2M_APP_SECRET")?.to_owned(),
        ),
        (
            "LOGTO_TIER_PROVISIONED",
            provisioned.json.display().to_string(),
        ),
    ];
    Ok(Running { _logto: logto, env })
}
