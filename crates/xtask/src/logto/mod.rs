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
        let database_url = crate::runtime()?.block_on(pg.fresh_database_url(db))?;
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
        let started = Instant::now();
        let status_url = format!("{}/api/status", self.endpoint);
        let rt = crate::runtime()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        loop {
            let answer = rt.block_on(http.get(&status_url).send());
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
            std::thread::sleep(Duration::from_millis(100));
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

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("probing for a free port")?;
    Ok(l.local_addr()?.port())
}

/// The last `lines` lines of a text file (for error messages).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all.get(all.len().saturating_sub(lines)..)
        .unwrap_or_default()
        .join("\n")
}
