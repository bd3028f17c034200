//! The private PostgreSQL harness.
//!
//! `DATABASE_URL`, when set, wins: nothing is started and that database is
//! used as is. Otherwise a throw-away cluster is created under
//! `target/xtask/pg/<name>` (one per purpose, so `demo` and `test` can run side
//! by side), started on a free loopback port with TCP only (no Unix socket, so
//! no stale socket files), and stopped again when the [`Postgres`] value is
//! dropped. PostgreSQL refuses to run as root: when we are root, an
//! unprivileged system user is created (once) and the cluster runs as it.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use test_support::free_port;

/// The unprivileged account the cluster runs as when we are root.
const PG_USER: &str = "xtask-pg";

/// A running (or borrowed) PostgreSQL server.
pub struct Postgres {
    /// Connection string of the server's `postgres` maintenance database.
    admin_url: String,
    managed: Option<Managed>,
}

struct Managed {
    bin: PathBuf,
    data: PathBuf,
    run_as: Option<RunAs>,
    remove_on_stop: bool,
}

#[derive(Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl Postgres {
    /// Uses `DATABASE_URL` when set; otherwise starts the private cluster `name`.
    pub fn start_or_env(workspace: &Path, name: &str) -> Result<Self> {
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.trim().is_empty()
        {
            eprintln!("xtask: using DATABASE_URL from the environment");
            return Ok(Self {
                admin_url: url,
                managed: None,
            });
        }
        let bin = find_bin_dir()?;
        let run_as = if running_as_root()? {
            Some(ensure_pg_user()?)
        } else {
            None
        };
        let base = cluster_base(workspace, name, run_as.is_some())?;
        let data = base.join("data");
        let managed = Managed {
            bin,
            data,
            run_as,
            remove_on_stop: false,
        };
        managed.init(&base)?;
        managed.stop_stale();
        let port = managed.start(&base)?;
        let admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        Ok(Self {
            admin_url,
            managed: Some(managed),
        })
    }

    /// The URL of database `db` on this server (created if missing), or
    /// `DATABASE_URL` itself when the server is borrowed.
    pub async fn database_url(&self, db: &str) -> Result<String> {
        if self.managed.is_none() {
            return Ok(self.admin_url.clone());
        }
        use sqlx::Connection;
        let mut conn = connect_with_deadline(&self.admin_url, Duration::from_secs(30)).await?;
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(db)
                .fetch_optional(&mut conn)
                .await?;
        if exists.is_none() {
            // `db` is one of our own constant names, never user input.
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        let server = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(server, _db)| server);
        Ok(format!("{server}/{db}"))
    }

    /// A connection to the server's maintenance database (or to the
    /// borrowed `DATABASE_URL`).
    pub async fn admin_connection(&self) -> Result<sqlx::PgConnection> {
        connect_with_deadline(&self.admin_url, Duration::from_secs(30)).await
    }

    /// A fresh database `db` (dropped first when it exists) on this server,
    /// or, with a borrowed `DATABASE_URL`, on that database's server (which
    /// must then let its user create databases).
    pub async fn fresh_database_url(&self, db: &str) -> Result<String> {
        use sqlx::Connection;
        let mut conn = connect_with_deadline(&self.admin_url, Duration::from_secs(30)).await?;
        // `db` is one of our own constant names, never user input.
        for statement in [
            format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{db}\""),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .with_context(|| format!("creating the database {db} (the user needs CREATEDB)"))?;
        }
        conn.close().await?;
        let mut url = url::Url::parse(&self.admin_url).context("parsing the database URL")?;
        url.set_path(&format!("/{db}"));
        Ok(url.into())
    }

    /// What a test needs to run PostgreSQL clusters of its own (to stop and
    /// restart one under load): `XTASK_PG_BIN`, the server binaries'
    /// directory, and, when we are root, `XTASK_PG_RUN_AS` (`uid:gid` of
    /// the unprivileged user the servers run as). Empty when the binaries
    /// cannot be found (a borrowed `DATABASE_URL` on a machine without them).
    pub fn cluster_env() -> Vec<(&'static str, String)> {
        let Ok(bin) = find_bin_dir() else {
            return Vec::new();
        };
        let mut env = vec![("XTASK_PG_BIN", bin.display().to_string())];
        match running_as_root() {
            Ok(false) => {}
            Ok(true) => match ensure_pg_user() {
                Ok(r) => env.push(("XTASK_PG_RUN_AS", format!("{}:{}", r.uid, r.gid))),
                Err(_) => return Vec::new(),
            },
            Err(_) => return Vec::new(),
        }
        env
    }

    /// Deletes the cluster's files after stopping it (throw-away clusters).
    pub fn remove_on_stop(&mut self) {
        if let Some(m) = &mut self.managed {
            m.remove_on_stop = true;
        }
    }

    /// Stops the server if we started it. Idempotent.
    pub fn stop(&mut self) {
        if let Some(m) = self.managed.take() {
            m.stop();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connects, retrying until `deadline` passes (the server may still be
/// finishing its start-up).
pub async fn connect_with_deadline(url: &str, within: Duration) -> Result<sqlx::PgConnection> {
    use sqlx::Connection;
    let deadline = Instant::now() + within;
    loop {
        match sqlx::PgConnection::connect(url).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e).context("connecting to PostgreSQL"),
        }
    }
}

impl Managed {
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        if let Some(r) = self.run_as {
            cmd.uid(r.uid).gid(r.gid);
            // Locale and home of the invoking user mean nothing to the server.
            cmd.env("HOME", "/tmp").env("LC_ALL", "C.UTF-8");
        }
        cmd
    }

    fn init(&self, base: &Path) -> Result<()> {
        if self.data.join("PG_VERSION").exists() {
            return Ok(());
        }
        if self.data.exists() {
            // A half-made cluster from an interrupted run.
            std::fs::remove_dir_all(&self.data)
                .with_context(|| format!("removing {}", self.data.display()))?;
        }
        std::fs::create_dir_all(base)?;
        self.chown(base)?;
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn chown(&self, path: &Path) -> Result<()> {
        if let Some(r) = self.run_as {
            std::os::unix::fs::chown(path, Some(r.uid), Some(r.gid))
                .with_context(|| format!("chown {}", path.display()))?;
        }
        Ok(())
    }

    /// A server left behind by a killed run of ours holds the data directory:
    /// stop it. A stale pid file alone is handled by PostgreSQL itself.
    fn stop_stale(&self) {
        if !self.data.join("postmaster.pid").exists() {
            return;
        }
        let running = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if running {
            eprintln!("xtask: stopping a PostgreSQL left running by an earlier run");
            let _ = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    fn start(&self, base: &Path) -> Result<u16> {
        let log = base.join("postgres.log");
        let mut last_err = anyhow!("PostgreSQL did not start");
        for _ in 0..5 {
            let port = free_port()?;
            let opts = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' \
                 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                 -c max_connections=400 -c shared_buffers=64MB"
            );
            let out = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &opts, "start"])
                .stdin(Stdio::null())
                .output()
                .context("running pg_ctl start")?;
            if out.status.success() {
                return Ok(port);
            }
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            last_err = anyhow!(
                "pg_ctl start failed: {} {}",
                String::from_utf8_lossy(&out.stderr).trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
            // Most likely the port was taken between our probe and the bind: retry.
            self.stop_stale();
        }
        Err(last_err)
    }

    fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "30", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if self.remove_on_stop
            && let Some(base) = self.data.parent()
        {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

fn running_as_root() -> Result<bool> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .context("running id -u")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn id_of(flag: &str) -> Result<u32> {
    let out = Command::new("id").args([flag, PG_USER]).output()?;
    if !out.status.success() {
        bail!("no user {PG_USER}");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

fn ensure_pg_user() -> Result<RunAs> {
    if id_of("-u").is_err() {
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_USER,
            ])
            .status()
            .context("running useradd (PostgreSQL refuses to run as root, so the harness runs it as an unprivileged user)")?;
        if !status.success() && id_of("-u").is_err() {
            bail!("could not create the unprivileged user {PG_USER} that PostgreSQL runs as");
        }
    }
    Ok(RunAs {
        uid: id_of("-u")?,
        gid: id_of("-g")?,
    })
}

/// `target/xtask/pg/<name>`; when the cluster runs as another user who cannot
/// reach that directory (a checkout under `/root`, say), a directory under the
/// system temporary directory named after the checkout instead.
fn cluster_base(workspace: &Path, name: &str, other_user: bool) -> Result<PathBuf> {
    let preferred = workspace.join("target").join("xtask").join("pg").join(name);
    if !other_user || ancestors_traversable(&preferred) {
        return Ok(preferred);
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    workspace.hash(&mut h);
    Ok(std::env::temp_dir().join(format!("xtask-pg-{:016x}-{name}", h.finish())))
}

fn ancestors_traversable(path: &Path) -> bool {
    path.ancestors()
        .skip(1)
        .all(|dir| match std::fs::metadata(dir) {
            Ok(m) => m.permissions().mode() & 0o001 != 0,
            // Not created yet: we create it, with default (traversable) modes.
            Err(_) => true,
        })
}

/// Where the server binaries live: `PG_BIN_DIR`, `pg_config --bindir`, the
/// Debian and Homebrew locations, then `PATH`.
fn find_bin_dir() -> Result<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        candidates.push(dir.into());
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(String::from_utf8_lossy(&out.stdout).trim().into());
    }
    for root in ["/usr/lib/postgresql", "/opt/homebrew/opt", "/usr/local/opt"] {
        if let Ok(entries) = std::fs::read_dir(root) {
            let mut versions: Vec<(u32, PathBuf)> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let num = name
                        .trim_start_matches("postgresql@")
                        .trim_start_matches("postgresql");
                    let v = num
                        .split('.')
                        .next()
                        .unwrap_or("")
                        .parse::<u32>()
                        .unwrap_or(0);
                    (name.chars().next().is_some_and(|c| c.is_ascii_digit())
                        || name.starts_with("postgresql"))
                    .then(|| (v, e.path().join("bin")))
                })
                .collect();
            versions.sort_by_key(|v| std::cmp::Reverse(v.0));
            candidates.extend(versions.into_iter().map(|(_, p)| p));
        }
    }
    candidates.push("/usr/local/pgsql/bin".into());
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|d| has_server(d))
        .ok_or_else(|| {
            anyhow!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found: install them \
             (Debian: `apt-get install postgresql`; macOS: `brew install postgresql@15`), \
             set PG_BIN_DIR to their directory, or set DATABASE_URL to an existing database"
            )
        })
}
