//! `cargo xtask demo | test | bench | pg`: the project's automation.
//!
//! Every command that needs PostgreSQL gets it from [`pg::Postgres`]: the
//! `DATABASE_URL` of the environment when set, otherwise a private cluster
//! under `target/` that is stopped again on exit, also on failure or Ctrl-C.

mod apt;
mod audit;
mod bench;
mod browser;
mod demo;
mod logto;
mod pg;
mod process;
mod tiers;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::pg::Postgres;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Project automation for the Logto portal workspace"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the demo: private PostgreSQL, the dev identity provider and the
    /// portal; prints the URLs and demo logins; Ctrl-C stops everything.
    Demo {
        /// Run against real Logto (built from source once, cached outside the
        /// clone, provisioned with the demo seed) instead of logto-dev.
        #[arg(long)]
        real_logto: bool,
    },
    /// Run every check: rustfmt, the dependency audit, clippy and the whole
    /// test suite against a private PostgreSQL (or DATABASE_URL when set). The
    /// last line names every tier that could not run here, and why.
    Test {
        /// Also run the long tests (fuzz smoke runs, fault injection).
        #[arg(long)]
        long: bool,
        /// Extra arguments handed to the test runner (after `--`).
        #[arg(last = true)]
        runner_args: Vec<String>,
    },
    /// Run the benchmarks (release build) and print ratios against a baseline.
    Bench {
        /// Measure only these scenarios (comma-separated: protected,
        /// tenant_warm, api_whoami, sign_in_flow); the floor is always
        /// measured. For profiling one page; the README's table comes from
        /// a full run.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Start the private PostgreSQL, print its DATABASE_URL and wait for
    /// Ctrl-C: for running single tests by hand.
    Pg,
    /// Build (once, cached outside the clone) and start real Logto on
    /// loopback with its own database, print its URLs and a Management API
    /// credential, and wait for Ctrl-C: for working by hand.
    Logto,
}

/// Set by the Ctrl-C / SIGTERM handler.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Ctrl-C reaches the children too (same process group): we only note it
    // and let the current step end, so that cleanup always runs.
    if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)) {
        eprintln!("xtask: cannot install the Ctrl-C handler: {e}");
    }
    // `cargo xtask test`'s last line, once the tests ran: which tiers did.
    let mut summary = None;
    let result = match cli.command {
        Cmd::Demo { real_logto } => demo::run(&workspace_root(), real_logto),
        Cmd::Test { long, runner_args } => {
            test(&workspace_root(), long, &runner_args, &mut summary)
        }
        Cmd::Bench { only } => bench::run(&workspace_root(), &only),
        Cmd::Pg => pg_shell(&workspace_root()),
        Cmd::Logto => logto_shell(&workspace_root()),
    };
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    };
    if let Some(line) = summary {
        eprintln!("{line}");
    }
    code
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")
}

/// The migrations every database of the project carries.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Creates (if needed) and migrates database `db`; returns its URL.
pub(crate) fn prepare_database(pg: &Postgres, db: &str) -> Result<String> {
    runtime()?.block_on(async {
        let url = pg.database_url(db).await?;
        let mut conn = pg::connect_with_deadline(&url, std::time::Duration::from_secs(30)).await?;
        MIGRATOR
            .run(&mut conn)
            .await
            .context("applying migrations")?;
        Ok(url)
    })
}

/// The cargo target directory: `CARGO_TARGET_DIR`, else `target/`.
pub(crate) fn target_dir(ws: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| ws.join("target"), PathBuf::from)
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn step(name: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: == {name}");
    let status = cmd.status().with_context(|| format!("starting {name}"))?;
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted during {name}");
    }
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `cargo nextest`, installed into the tool cache where the machine lacks
/// it: the tiers rely on nextest's filtersets and its count of skipped tests,
/// which `cargo test` has no equivalent for.
fn nextest() -> Result<Command> {
    let mut cmd = if has_nextest() {
        cargo()
    } else {
        Command::new(tools::CARGO_NEXTEST.ensure()?)
    };
    cmd.arg("nextest");
    Ok(cmd)
}

/// `cargo xtask test`. `summary` gets the last line to print once the tiers
/// are known and the tests start.
fn test(ws: &Path, long: bool, runner_args: &[String], summary: &mut Option<String>) -> Result<()> {
    step(
        "cargo fmt --check",
        cargo()
            .current_dir(ws)
            .args(["fmt", "--all", "--", "--check"]),
    )?;
    // The audit before the build: a first run installs cargo-audit (minutes,
    // once per machine), and that compile then overlaps no timed test. A
    // failed audit fails the command after the tests have run.
    let (audit_tier, audit) = audit::prepare(ws)?;
    let mut tiers = vec![audit_tier];
    let audited = audit.map_or(Ok(()), |a| a.run(ws));
    if INTERRUPTED.load(Ordering::SeqCst) {
        return audited;
    }
    let runner = nextest()?;
    step(
        "cargo clippy",
        cargo().current_dir(ws).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    let mut pg = Postgres::start_or_env(ws, "test")?;
    let result = (|| {
        let url = prepare_database(&pg, "portal_test")?;
        // The optional test tiers: each says whether it runs here. A tier that
        // needs a service starts it here and keeps it until the tests end.
        tiers.push(browser::tier()?);
        let real_logto = match logto::unavailable(ws)? {
            Some(reason) => {
                tiers.push(tiers::Tier::tests("real_logto", "binary(real_logto)").skip(reason));
                None
            }
            None => {
                let running = logto::start_tier(ws, &pg, &url)?;
                let tier = running.env.iter().fold(
                    tiers::Tier::tests("real_logto", "binary(real_logto)"),
                    |tier, (key, value)| tier.with_env(*key, value.clone()),
                );
                tiers.push(tier);
                Some(running)
            }
        };
        let cluster_env = Postgres::cluster_env();
        let with_env = |cmd: &mut Command| {
            cmd.current_dir(ws).env("DATABASE_URL", &url);
            cmd.envs(cluster_env.iter().map(|(k, v)| (*k, v.as_str())));
            cmd.envs(tiers::runner_env(&tiers));
            if long {
                cmd.env("XTASK_LONG", "1");
            }
        };
        *summary = Some(tiers::summary(&tiers));
        let mut cmd = runner;
        with_env(&mut cmd);
        cmd.args(["run", "--workspace", "--locked", "--no-fail-fast"]);
        cmd.args(tiers::nextest_args(&tiers, runner_args));
        step("tests (cargo nextest)", &mut cmd)?;
        let mut doc = cargo();
        with_env(&mut doc);
        doc.args(["test", "--workspace", "--locked", "--doc"]);
        let docs = step("doc tests", &mut doc);
        drop(real_logto);
        docs
    })();
    pg.stop();
    match (result, audited) {
        (result, Ok(())) => result,
        (Ok(()), Err(audit)) => Err(audit.context("the dependency audit failed (see above)")),
        (Err(tests), Err(audit)) => bail!("{tests:#}; the dependency audit failed too: {audit:#}"),
    }
}

fn pg_shell(ws: &Path) -> Result<()> {
    // One cluster per invocation: two `cargo xtask pg` never clobber each other.
    let mut pg = Postgres::start_or_env(ws, &format!("dev-{}", std::process::id()))?;
    pg.remove_on_stop();
    let url = prepare_database(&pg, "portal_dev")?;
    println!("DATABASE_URL={url}");
    eprintln!("xtask: PostgreSQL is up; Ctrl-C stops it");
    while !INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    pg.stop();
    Ok(())
}

fn logto_shell(ws: &Path) -> Result<()> {
    let Some(source) = logto::Source::find(ws)? else {
        bail!(
            "no Logto source: set LOGTO_SOURCE to a logto-io/logto checkout or source tarball \
             (this workplace keeps one in ../shared/logto/)"
        );
    };
    let build = logto::ensure_built(&source)?;
    step(
        "cargo build -p portal --bin portal",
        cargo().current_dir(ws).args([
            "build", "--quiet", "--locked", "-p", "portal", "--bin", "portal",
        ]),
    )?;
    let mut pg = Postgres::start_or_env(ws, &format!("logto-{}", std::process::id()))?;
    pg.remove_on_stop();
    let dir = ws.join("target").join("xtask").join("logto");
    let result = (|| {
        let portal_db = prepare_database(&pg, "portal_logto")?;
        let mut logto = logto::Logto::start(&build, &pg, "logto", &dir)?;
        // The demo seed, with a machine-to-machine app bootstrapped in
        // Logto's database: its credential is what working by hand needs.
        let provisioned = logto::provision(
            &target_dir(ws).join("debug").join("portal"),
            &ws.join(logto::DEMO_SEED),
            &logto,
            &portal_db,
            &["http://127.0.0.1:8080".to_owned()],
            &dir,
            "logto",
        )?;
        println!("logto: {}", logto.endpoint);
        println!("logto-admin: {}", logto.admin_endpoint);
        println!("logto-database: {}", logto.database_url);
        println!("LOGTO_M2M_APP_ID={}", provisioned.var("LOGTO_M2M_APP_ID")?);
        println!(
            "LOGTO_M2M_APP_SECRET={}",
            provisioned.var("LOGTO_M2M_APP_SECRET")?
        );
        println!(
            "demo application (for a portal at http://127.0.0.1:8080): LOGTO_APP_ID={} LOGTO_APP_SECRET={}",
            provisioned.var("LOGTO_APP_ID")?,
            provisioned.var("LOGTO_APP_SECRET")?
        );
        println!("provisioned: {}", provisioned.json.display());
        println!("logto-log: {}", logto.log.display());
        eprintln!("xtask: real Logto is up; Ctrl-C stops it");
        while !INTERRUPTED.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        logto.stop();
        Ok(())
    })();
    pg.stop();
    result
}
