//! `cargo xtask bench`: release builds of the portal, `logto-dev` and the
//! floor server (`crates/portal/examples/bench_floor.rs`), a private
//! PostgreSQL, and an in-process load generator (tokio + reqwest, one
//! keep-alive connection per simulated user) on loopback.
//!
//! Scenarios:
//! 1. `floor`: `GET /floor/{id}` on the floor server — one primary-key lookup
//!    and one small Tera template, the least any authenticated page costs.
//! 2. `protected`: `GET /protected` with 64 signed-in sessions.
//! 3. `tenant_warm`: `GET /t/acme/` with a warm organization token per session;
//!    `logto-dev`'s counters are read around every window: no IdP call expected.
//! 4. `api_whoami`: `GET /api/orgs/org-acme/whoami` with a bearer organization
//!    token (claims checked per request; the signature verified once, then
//!    remembered by the key set).
//! 5. `sign_in_flow`: whole sign-ins (`/sign-in` → `logto-dev`'s form →
//!    `/callback`), 8 at a time; rps = flows per second.
//! 6. The portal's peak resident memory (`VmHWM`) over the run.
//!
//! The machine is shared (2 cores here, with other builds running), so
//! scenarios 1 to 4 are measured in [`ROUNDS`] rounds: each round measures
//! each of them once for [`WINDOW`], in an order that rotates from round to
//! round. A scenario's ratio to the floor is computed per round (against the
//! floor of the same round, seconds apart) and the median over the rounds is
//! reported: load that comes and goes hits both sides of a ratio, and one
//! disturbed round does not move the median. The sign-in flows write to the
//! database, so their [`ROUNDS`] windows come last (their ratio is to the
//! floor's median). The benchmark's processes run at a raised priority
//! ([`Priority`]). Results go to stdout (a Markdown table) and to
//! `target/bench/latest.json`.

mod report;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use logto_client::{AppSecret, InMemoryStorage, LogtoClient, LogtoConfig, SignInOptions};
use test_support::{free_port, wait_listening};
use url::Url;

use self::report::{Machine, Method, Report, Scenario, Window};
use crate::pg::Postgres;
use crate::{INTERRUPTED, cargo, runtime, target_dir};

/// Rounds of measurement (every scenario once per round).
const ROUNDS: usize = 5;
/// The measured window of one scenario in one round.
const WINDOW: Duration = Duration::from_secs(2);
/// Untimed load before a scenario's first window: connections open, caches fill.
const WARM_UP: Duration = Duration::from_secs(1);
/// Untimed load before every later window (the machine switches workloads).
const SETTLE: Duration = Duration::from_millis(250);
/// Upper bound on the requests of one window.
const MAX_REQUESTS: u64 = 100_000;
/// Concurrent users (connections) in scenarios 1 to 4.
const CONCURRENCY: usize = 64;
/// Signed-in sessions for scenarios 2 and 3.
const SESSIONS: usize = 64;
/// Sign-in flows run at once (scenario 5, and signing the sessions in).
const FLOW_CONCURRENCY: usize = 8;
/// Upper bound on the flows of one window.
const MAX_FLOWS: u64 = 2_000;
/// A request that takes longer than this fails (and ends its window's worker).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A run whose windows failed more than this fraction of requests is an error.
const MAX_ERROR_RATE: f64 = 0.01;
/// The users the sessions cycle over (crates/logto-seed/demo.toml):
/// both are members of Acme.
const USERS: [(&str, &str); 2] = [("alice", "alice-password"), ("bob", "bob-password")];
/// Rows of the floor's table (see bench_floor.rs).
const FLOOR_ROWS: u64 = 10_000;
/// The tenant and organization of scenarios 3 and 4
/// (the tenants of crates/logto-seed/demo.toml).
const TENANT: &str = "acme";
const ORGANIZATION: &str = "org-acme";
/// The scheduling niceness of the benchmark's processes (see [`Priority`]).
const NICENESS: i32 = -10;
/// The portal's log level: its default, as deployed (`docker-compose.yml`
/// sets none).
const PORTAL_LOG: &str = "info";

/// Throw-away keys of the benchmark's portal (never use them anywhere else).
const BENCH_SESSION_KEY: &str = "YmVuY2gtc2Vzc2lvbi1rZXktZm9yLXRoZS1sb2NhbC1iZW5jaG1hcmstb25seS1uZXZlci11c2UtaW4tcHJvZHVjdGlvbi0xMg==";
const BENCH_TOKEN_KEY: &str = "YmVuY2gtdG9rZW4ta2V5LTMyLWJ5dGVzLWxvbmchISE=";

/// The scenarios, by the names `--only` takes (the floor always runs).
const SCENARIOS: [&str; 5] = [
    "floor",
    "protected",
    "tenant_warm",
    "api_whoami",
    "sign_in_flow",
];

/// Refuses a name `--only` does not know, naming the ones it does.
fn check_only(only: &[String]) -> Result<()> {
    match only.iter().find(|n| !SCENARIOS.contains(&n.as_str())) {
        Some(unknown) => bail!(
            "no scenario {unknown:?}: the scenarios are {}",
            SCENARIOS.join(", ")
        ),
        None => Ok(()),
    }
}

pub fn run(ws: &Path, only: &[String]) -> Result<()> {
    check_only(only)?;
    eprintln!("xtask: building the portal, the floor server and logto-dev (release)");
    let status = cargo()
        .current_dir(ws)
        .args([
            "build",
            "--quiet",
            "--release",
            "--locked",
            "-p",
            "portal",
            "--bin",
            "portal",
            "--example",
            "bench_floor",
            "-p",
            "logto-dev",
            "--bin",
            "logto-dev",
        ])
        .status()
        .context("running cargo build")?;
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    if !status.success() {
        bail!("the release build failed");
    }
    let mut pg = Postgres::start_or_env(ws, "bench")?;
    let result = bench(ws, &pg, only);
    pg.stop();
    result
}

// ---- processes -------------------------------------------------------------------------

/// Child processes, stopped (SIGTERM, then SIGKILL) when dropped — on
/// success, on error and after Ctrl-C alike.
struct Children(Vec<(String, Child)>);

impl Children {
    fn pid(&self, name: &str) -> Option<u32> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, c)| c.id())
    }

    fn check_alive(&mut self) -> Result<()> {
        for (name, child) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("{name} exited unexpectedly ({status})");
            }
        }
        Ok(())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
        }
        // Graceful shutdown within 10 s, else SIGKILL.
        let deadline = Instant::now() + Duration::from_secs(10);
        for (_, child) in &mut self.0 {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls until `port` accepts connections, a child dies, or 60 s pass.
fn wait_ready(port: u16, children: &mut Children) -> Result<()> {
    wait_listening(format!("127.0.0.1:{port}"), Duration::from_secs(60), || {
        children.check_alive()?;
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        Ok(())
    })
}

/// Each server's stdout and stderr go to `target/bench/<name>.log` (the
/// portal logs to stdout).
fn log_file(dir: &Path, name: &str) -> Result<(Stdio, Stdio)> {
    let path = dir.join(format!("{name}.log"));
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let copy = file
        .try_clone()
        .with_context(|| format!("opening {} twice", path.display()))?;
    Ok((file.into(), copy.into()))
}

/// A clean database for every run (when the cluster is ours), so that runs
/// do not see each other's sessions and logins.
fn fresh_database(pg: &Postgres) -> Result<String> {
    let borrowed = std::env::var("DATABASE_URL").is_ok_and(|u| !u.trim().is_empty());
    if !borrowed {
        runtime()?.block_on(async {
            use sqlx::Connection;
            let admin = pg.database_url("postgres").await?;
            let mut conn =
                crate::pg::connect_with_deadline(&admin, Duration::from_secs(30)).await?;
            sqlx::query("DROP DATABASE IF EXISTS portal_bench WITH (FORCE)")
                .execute(&mut conn)
                .await
                .context("dropping the previous run's database")?;
            conn.close().await?;
            anyhow::Ok(())
        })?;
    }
    crate::prepare_database(pg, "portal_bench")
}

struct Endpoints {
    portal: Url,
    idp: Url,
    floor: Url,
}

fn bench(ws: &Path, pg: &Postgres, only: &[String]) -> Result<()> {
    let database_url = fresh_database(pg)?;
    let out_dir = target_dir(ws).join("bench");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let bin = target_dir(ws).join("release");
    let (idp_port, portal_port, floor_port) = (free_port()?, free_port()?, free_port()?);
    let ep = Endpoints {
        portal: Url::parse(&format!("http://127.0.0.1:{portal_port}"))?,
        idp: Url::parse(&format!("http://127.0.0.1:{idp_port}"))?,
        floor: Url::parse(&format!("http://127.0.0.1:{floor_port}"))?,
    };
    let mut children = Children(Vec::new());

    let (out, err) = log_file(&out_dir, "logto-dev")?;
    let idp = own_session(bin.join("logto-dev"))
        .arg("--seed")
        .arg(ws.join("crates/logto-seed/demo.toml"))
        .args(["--bind", &format!("127.0.0.1:{idp_port}"), "--admin"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("starting logto-dev")?;
    children.0.push(("logto-dev".into(), idp));
    wait_ready(idp_port, &mut children)?;

    let (out, err) = log_file(&out_dir, "bench_floor")?;
    let floor = own_session(bin.join("examples").join("bench_floor"))
        .arg(format!("127.0.0.1:{floor_port}"))
        .env("DATABASE_URL", &database_url)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("starting the floor server")?;
    children.0.push(("bench_floor".into(), floor));

    let (out, err) = log_file(&out_dir, "portal")?;
    let portal = own_session(bin.join("portal"))
        .env("DATABASE_URL", &database_url)
        .env("LOGTO_ENDPOINT", ep.idp.as_str().trim_end_matches('/'))
        .env("LOGTO_APP_ID", "portal-demo")
        .env("LOGTO_APP_SECRET", "portal-demo-secret")
        .env("LOGTO_SCOPES", "read:members")
        .env("PORTAL_BASE_URL", ep.portal.as_str().trim_end_matches('/'))
        .env("PORTAL_BIND", format!("127.0.0.1:{portal_port}"))
        .env("PORTAL_SESSION_KEY", BENCH_SESSION_KEY)
        .env("PORTAL_TOKEN_KEY", BENCH_TOKEN_KEY)
        .env("PORTAL_API_RESOURCE", "https://api.portal.test")
        .env(
            "PORTAL_TENANTS_FILE",
            ws.join("crates/logto-seed/demo.toml"),
        )
        .env("PORTAL_TEMPLATES_DIR", ws.join("templates"))
        // Many sign-ins from one address: the per-IP limit would refuse them.
        .env("PORTAL_SIGN_IN_RATE", "0")
        .env("RUST_LOG", PORTAL_LOG)
        .env_remove("PORTAL_LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("starting the portal")?;
    children.0.push(("portal".into(), portal));
    wait_ready(floor_port, &mut children)?;
    wait_ready(portal_port, &mut children)?;
    let portal_pid = children
        .pid("portal")
        .ok_or_else(|| anyhow!("the portal is not running"))?;
    let servers = Servers {
        portal: portal_pid,
        floor: children
            .pid("bench_floor")
            .ok_or_else(|| anyhow!("the floor server is not running"))?,
    };

    let mut machine = probe_machine();
    eprintln!(
        "xtask: machine: {} CPUs ({}), load average {}",
        machine.cpus, machine.cpu_model, machine.load_average_start
    );
    let mut ours: Vec<u32> = children.0.iter().map(|(_, c)| c.id()).collect();
    ours.push(std::process::id());
    let cpu = CpuWatch {
        ours,
        postgres_port: database_port(&database_url),
    };
    let borrowed = std::env::var("DATABASE_URL").is_ok_and(|u| !u.trim().is_empty());
    // PostgreSQL's postmaster and backends, when the cluster is ours.
    let postgres = cpu
        .postgres_port
        .filter(|_| !borrowed)
        .map(postgres_processes)
        .unwrap_or_default();
    let priority = Priority::raise(&cpu.ours, &postgres);
    let measured = runtime()?.block_on(drive(&ep, servers, &cpu, &database_url, only));
    let measured = measured.with_context(|| {
        format!(
            "the servers' logs are in {} (portal.log, bench_floor.log, logto-dev.log)",
            out_dir.display()
        )
    })?;
    let peak_rss_mib = peak_rss_mib(portal_pid)?;
    children.check_alive()?;
    drop(children);

    machine.load_average_end = load_average();
    machine.foreign_cpu_percent = measured.foreign_cpu_percent;
    let report = Report::new(
        machine,
        measured.scenarios,
        peak_rss_mib,
        Method {
            rounds: ROUNDS,
            window_s: WINDOW.as_secs_f64(),
            concurrency: CONCURRENCY,
            flow_concurrency: FLOW_CONCURRENCY,
            portal_log_level: PORTAL_LOG,
            niceness: priority.niceness,
        },
    );
    print!("{}", report.table());
    // A partial run never replaces the full table's file.
    let path = out_dir.join(if only.is_empty() {
        "latest.json"
    } else {
        "partial.json"
    });
    std::fs::write(&path, report.to_json()?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    for s in &report.scenarios {
        let total = s.requests + s.errors;
        if total > 0 && s.errors as f64 / total as f64 > MAX_ERROR_RATE {
            bail!(
                "{}: {} of {total} requests failed (see the logs in {})",
                s.name,
                s.errors,
                out_dir.display()
            );
        }
    }
    Ok(())
}

/// `VmHWM` (the peak resident set) of `pid`, in MiB.
fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))?;
    Ok(kib / 1024.0)
}

// ---- the machine ----------------------------------------------------------------------

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

fn probe_machine() -> Machine {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Machine {
        cpus,
        cpu_model,
        memory_gib: report::round(mem_kib / 1024.0 / 1024.0, 1),
        date: report::utc_date(now),
        load_average_start: load_average(),
        load_average_end: 0.0,
        foreign_cpu_percent: None,
    }
}

/// The port of a `postgres://…:port/db` URL.
fn database_port(url: &str) -> Option<u16> {
    Url::parse(url).ok()?.port()
}

/// Which processes are the benchmark's own, to tell how much of the
/// machine's CPU time went elsewhere while measuring.
struct CpuWatch {
    /// The servers and this process.
    ours: Vec<u32>,
    /// The PostgreSQL whose postmaster (and backends) count as ours.
    postgres_port: Option<u16>,
}

/// CPU time in clock ticks: the machine's busy time, and the part of it
/// that went to the benchmark's processes.
#[derive(Clone, Copy, Default)]
struct CpuSample {
    busy: u64,
    ours: u64,
}

impl CpuWatch {
    /// The benchmark's processes now (PostgreSQL's backends come and go).
    fn all(&self) -> Vec<u32> {
        let mut pids = self.ours.clone();
        if let Some(port) = self.postgres_port {
            pids.extend(postgres_processes(port));
        }
        pids
    }

    fn sample(&self) -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let busy = busy_ticks(stat.lines().next()?)?;
        let ours = self
            .all()
            .iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
            .filter_map(|s| process_ticks(&s))
            .sum();
        Some(CpuSample { busy, ours })
    }
}

/// CPU ticks so far of the server under test, PostgreSQL and this process.
struct SplitTicks([u64; 3]);

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`: 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

impl SplitTicks {
    /// The CPU time from `self` to `later`, in microseconds.
    fn elapsed(&self, later: Self) -> report::CpuSplit {
        let us = |i: usize| {
            let (a, b) = (self.0.get(i).copied(), later.0.get(i).copied());
            b.unwrap_or(0).saturating_sub(a.unwrap_or(0)) as f64 * 1e6 / TICKS_PER_SECOND
        };
        report::CpuSplit {
            server: us(0),
            postgres: us(1),
            load_generator: us(2),
        }
    }
}

impl CpuWatch {
    fn split(&self, server: u32) -> SplitTicks {
        let ticks = |pids: &[u32]| -> u64 {
            pids.iter()
                .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
                .filter_map(|s| process_ticks(&s))
                .sum()
        };
        let postgres = self
            .postgres_port
            .map(postgres_processes)
            .unwrap_or_default();
        SplitTicks([
            ticks(&[server]),
            ticks(&postgres),
            ticks(&[std::process::id()]),
        ])
    }
}

/// Busy ticks of the `cpu` line of /proc/stat (everything but idle and iowait).
fn busy_ticks(cpu_line: &str) -> Option<u64> {
    let mut fields = cpu_line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let total: u64 = v.iter().take(8).sum();
    Some(total - v.get(3)? - v.get(4).copied().unwrap_or(0))
}

/// `utime + stime + cutime + cstime` of a `/proc/<pid>/stat` line (fields 14 to
/// 17, counted after the parenthesised command name, which may hold spaces).
fn process_ticks(stat: &str) -> Option<u64> {
    let after = stat.get(stat.rfind(')')? + 1..)?;
    // After the name: state (3), ppid (4), …, utime is field 14.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(tick(11)? + tick(12)? + tick(13)? + tick(14)?)
}

/// The `ppid` of a `/proc/<pid>/stat` line.
fn parent_pid(stat: &str) -> Option<u32> {
    let after = stat.get(stat.rfind(')')? + 1..)?;
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The postmaster listening on `port` and its children (backends and helpers).
fn postgres_processes(port: u16) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let procs: Vec<(u32, String)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            Some((
                pid,
                std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?,
            ))
        })
        .collect();
    let port = port.to_string();
    let postmaster = procs.iter().map(|(pid, _)| *pid).find(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
            args.first().is_some_and(|a| a.ends_with(b"postgres"))
                && args.windows(2).any(|w| {
                    w.first() == Some(&b"-p".as_slice()) && w.get(1) == Some(&port.as_bytes())
                })
        })
    });
    let Some(postmaster) = postmaster else {
        return Vec::new();
    };
    let mut out = vec![postmaster];
    out.extend(
        procs
            .iter()
            .filter(|(_, stat)| parent_pid(stat) == Some(postmaster))
            .map(|(pid, _)| *pid),
    );
    out
}

/// A command for `program` run in a session of its own (through util-linux
/// `setsid`, which keeps the pid since the child leads no process group),
/// so that it gets a scheduling autogroup of its own (see [`Priority`]).
fn own_session(program: PathBuf) -> Command {
    let setsid = ["/usr/bin/setsid", "/bin/setsid"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file());
    match setsid {
        Some(setsid) => {
            let mut cmd = Command::new(setsid);
            cmd.arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// The benchmark's processes run at [`NICENESS`] while it measures, so that
/// builds elsewhere on the machine disturb the measurement less: on a busy
/// machine short requests (the floor's) lose more to waiting for a CPU than
/// long ones, which skews the ratios upwards. With autogroup scheduling
/// (Linux's default for desktop and server kernels alike) a niceness only
/// counts within a session, so the autogroups are raised too: each server's
/// (they run in sessions of their own), PostgreSQL's postmaster's (it makes
/// its own session) and this process's (the invoking session: restored when
/// dropped). Best effort: raising needs root (or `CAP_SYS_NICE`).
struct Priority {
    /// The niceness in force (0 when it could not be raised).
    niceness: i32,
    /// Our own autogroup's niceness before, to restore.
    restore_own: Option<i32>,
}

impl Priority {
    fn raise(ours: &[u32], postgres: &[u32]) -> Self {
        let mut pids: Vec<u32> = ours.to_vec();
        pids.extend(postgres);
        let reniced = Command::new("renice")
            .args(["-n", &NICENESS.to_string(), "-p"])
            .args(pids.iter().map(u32::to_string))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let restore_own = std::fs::read_to_string("/proc/self/autogroup")
            .ok()
            .and_then(|s| autogroup_nice(&s));
        let own = std::process::id();
        for pid in &pids {
            let path = format!("/proc/{pid}/autogroup");
            let _ = std::fs::write(path, NICENESS.to_string());
        }
        let raised = std::fs::read_to_string(format!("/proc/{own}/autogroup"))
            .ok()
            .and_then(|s| autogroup_nice(&s));
        let niceness = if reniced && raised.is_none_or(|n| n == NICENESS) {
            NICENESS
        } else {
            eprintln!(
                "xtask: could not raise the benchmark's priority (needs root); \
                 measuring at normal priority"
            );
            0
        };
        Self {
            niceness,
            restore_own: restore_own.filter(|n| *n != NICENESS),
        }
    }
}

impl Drop for Priority {
    fn drop(&mut self) {
        if let Some(n) = self.restore_own {
            let _ = std::fs::write("/proc/self/autogroup", n.to_string());
        }
    }
}

/// The niceness of a `/proc/<pid>/autogroup` line (`/autogroup-42 nice 0`).
fn autogroup_nice(line: &str) -> Option<i32> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == "nice")?;
    words.next()?.parse().ok()
}

/// Share of `after - before` busy time that was not ours, in percent.
fn foreign_percent(before: CpuSample, after: CpuSample) -> Option<f64> {
    let busy = after.busy.checked_sub(before.busy)?;
    let ours = after.ours.saturating_sub(before.ours);
    (busy > 0).then(|| report::round(busy.saturating_sub(ours) as f64 / busy as f64 * 100.0, 1))
}

// ---- the load generator ----------------------------------------------------------------

/// Builds the request of worker `w`'s `n`-th iteration.
type MakeRequest = Arc<dyn Fn(usize, u64) -> reqwest::RequestBuilder + Send + Sync>;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn merge(mut a: Window, b: Window) -> Window {
    a.latencies_us.extend(b.latencies_us);
    a.errors += b.errors;
    a.first_error = a.first_error.or(b.first_error);
    a
}

/// `workers` tasks sending requests until `duration` passes or `cap`
/// requests were issued in all.
async fn phase(make: &MakeRequest, workers: usize, duration: Duration, cap: u64) -> Window {
    let started = Instant::now();
    let deadline = started + duration;
    let issued = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let make = make.clone();
        let issued = issued.clone();
        set.spawn(async move {
            let mut m = Window::default();
            let mut n = 0u64;
            while Instant::now() < deadline
                && !INTERRUPTED.load(Ordering::Relaxed)
                && issued.fetch_add(1, Ordering::Relaxed) < cap
            {
                let t0 = Instant::now();
                let outcome = match make(w, n).send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        match resp.bytes().await {
                            Ok(_) if status.is_success() => Ok(()),
                            Ok(body) => Err(format!(
                                "{status}: {}",
                                String::from_utf8_lossy(&body)
                                    .chars()
                                    .take(200)
                                    .collect::<String>()
                            )),
                            Err(e) => Err(format!("reading the body: {e}")),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(()) => m.latencies_us.push(micros(t0.elapsed())),
                    Err(e) => {
                        m.errors += 1;
                        m.first_error.get_or_insert(e);
                    }
                }
                n += 1;
            }
            m
        });
    }
    gather(set, started).await
}

/// The workers' windows merged into one, timed from `started`.
async fn gather(mut set: tokio::task::JoinSet<Window>, started: Instant) -> Window {
    let mut total = Window::default();
    while let Some(done) = set.join_next().await {
        if let Ok(m) = done {
            total = merge(total, m);
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// Sign-in flows with fresh browsers, `FLOW_CONCURRENCY` at a time, until
/// `duration` passes or `cap` flows were started.
async fn flow_phase(portal: &Url, duration: Duration, cap: u64) -> Window {
    let started = Instant::now();
    let deadline = started + duration;
    let issued = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..FLOW_CONCURRENCY {
        let (portal, issued) = (portal.clone(), issued.clone());
        set.spawn(async move {
            let mut m = Window::default();
            while Instant::now() < deadline && !INTERRUPTED.load(Ordering::Relaxed) {
                let i = issued.fetch_add(1, Ordering::Relaxed);
                if i >= cap {
                    break;
                }
                let (user, password) = user(i);
                let t0 = Instant::now();
                match sign_in(&portal, user, password).await {
                    Ok(_) => m.latencies_us.push(micros(t0.elapsed())),
                    Err(e) => {
                        m.errors += 1;
                        m.first_error.get_or_insert(format!("{e:#}"));
                    }
                }
            }
            m
        });
    }
    gather(set, started).await
}

/// What a scenario sends.
enum Load {
    Requests(MakeRequest),
    Flows(Url),
}

struct Plan {
    name: &'static str,
    what: &'static str,
    load: Load,
    /// The server under test (its CPU time is the scenario's `server` share).
    server: u32,
    windows: Vec<Window>,
}

impl Plan {
    fn new(name: &'static str, what: &'static str, server: u32, load: Load) -> Self {
        Self {
            name,
            what,
            load,
            server,
            windows: Vec::new(),
        }
    }

    /// Untimed load, then one measured window with `logto-dev`'s counters
    /// read around it.
    async fn measure(&mut self, warm_up: Duration, idp: &Idp, cpu: &CpuWatch) -> Result<()> {
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        let load = &self.load;
        let run = |d: Duration| async move {
            match load {
                Load::Requests(make) => phase(make, CONCURRENCY, d, MAX_REQUESTS).await,
                Load::Flows(portal) => flow_phase(portal, d, MAX_FLOWS).await,
            }
        };
        run(warm_up).await;
        let before = idp.calls().await?;
        let cpu_before = cpu.split(self.server);
        let mut w = run(WINDOW).await;
        w.cpu = cpu_before.elapsed(cpu.split(self.server));
        w.idp_calls = idp.calls().await?.saturating_sub(before);
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        if w.latencies_us.is_empty() {
            bail!(
                "{}: no request succeeded ({} errors; first: {})",
                self.name,
                w.errors,
                w.first_error.as_deref().unwrap_or("none")
            );
        }
        if let Some(e) = &w.first_error {
            eprintln!(
                "xtask: {}: {} failed requests; first: {e}",
                self.name, w.errors
            );
        }
        self.windows.push(w);
        Ok(())
    }
}

/// `logto-dev`'s admin counters.
struct Idp {
    http: reqwest::Client,
    counters: Url,
}

impl Idp {
    /// Requests the portal made to the identity provider: token grants
    /// (authorization code, refresh, refused), userinfo, JWKS, discovery and
    /// revocation.
    async fn calls(&self) -> Result<u64> {
        let c: serde_json::Value = self
            .http
            .get(self.counters.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("GET /__dev/counters on logto-dev")?
            .json()
            .await
            .context("reading logto-dev's counters")?;
        [
            "authorization_code_grants",
            "refresh_token_grants",
            "invalid_grants",
            "userinfo_hits",
            "jwks_hits",
            "discovery_hits",
            "revocations",
        ]
        .iter()
        .map(|k| {
            c.get(k)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| anyhow!("logto-dev's counters lack {k}"))
        })
        .sum()
    }
}

fn plain_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("building an HTTP client")
}

/// A browser of its own: cookie jar, no automatic redirects.
fn browser() -> Result<(reqwest::Client, Arc<reqwest::cookie::Jar>)> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .no_proxy()
        .cookie_provider(Arc::clone(&jar))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("building an HTTP client")?;
    Ok((client, jar))
}

/// A signed-in browser and the `Cookie` header it sends to the portal.
struct SignedIn {
    browser: reqwest::Client,
    cookie: reqwest::header::HeaderValue,
}

fn location(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// One complete sign-in through the portal with a fresh browser: `/sign-in`,
/// `logto-dev`'s form, `/callback`. Returns the signed-in browser.
async fn sign_in(portal: &Url, user: &str, password: &str) -> Result<SignedIn> {
    let (client, jar) = browser()?;
    let resp = client.get(portal.join("/sign-in")?).send().await?;
    let authorize = location(&resp)
        .filter(|_| resp.status().is_redirection())
        .ok_or_else(|| anyhow!("GET /sign-in answered {} without a redirect", resp.status()))?;
    let authorize = portal.join(&authorize)?;
    let callback = logto_dev::testing::complete_sign_in(&authorize, user, password)
        .await
        .with_context(|| format!("signing {user} in at logto-dev"))?;
    let resp = client.get(callback).send().await?;
    let status = resp.status();
    let next = location(&resp).unwrap_or_default();
    if !status.is_redirection() {
        let body = resp.text().await.unwrap_or_default();
        bail!(
            "GET /callback answered {status}: {}",
            body.chars().take(300).collect::<String>()
        );
    }
    if next.contains("/sign-in") || next.contains("error") {
        bail!("GET /callback sent the browser to {next}");
    }
    use reqwest::cookie::CookieStore as _;
    let cookie = jar
        .cookies(portal)
        .ok_or_else(|| anyhow!("no session cookie after signing {user} in"))?;
    Ok(SignedIn {
        browser: client,
        cookie,
    })
}

/// GET `url` with every browser once, `FLOW_CONCURRENCY` at a time,
/// requiring 200 (signs the sessions in for real and fills the portal's
/// caches: the first visit of a tenant fetches an organization token).
async fn visit_all(clients: &Arc<Vec<reqwest::Client>>, url: &Url) -> Result<()> {
    let (clients, url) = (clients.clone(), url.clone());
    run_jobs(clients.len() as u64, FLOW_CONCURRENCY, move |i| {
        let (clients, url) = (clients.clone(), url.clone());
        async move {
            let c = usize::try_from(i)
                .ok()
                .and_then(|i| clients.get(i))
                .ok_or_else(|| anyhow!("no session {i}"))?;
            let resp = c.get(url.clone()).send().await?;
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            if status != reqwest::StatusCode::OK {
                bail!(
                    "session {i}: GET {} answered {status}: {}",
                    url.path(),
                    body.chars().take(300).collect::<String>()
                );
            }
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// `total` jobs over `workers` tasks; returns each job's index and output.
/// The first failure fails the whole run.
async fn run_jobs<F, Fut, T>(total: u64, workers: usize, job: F) -> Result<Vec<(u64, T)>>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T>> + Send,
    T: Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(Mutex::new(Vec::new()));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (job, next, done) = (job.clone(), next.clone(), done.clone());
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || INTERRUPTED.load(Ordering::SeqCst) {
                    return anyhow::Ok(());
                }
                let out = job(i).await.with_context(|| format!("job {i}"))?;
                done.lock().map_err(|_| anyhow!("poisoned"))?.push((i, out));
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("a worker panicked")??;
    }
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    let done = std::mem::take(&mut *done.lock().map_err(|_| anyhow!("poisoned"))?);
    Ok(done)
}

/// An organization token for `ORGANIZATION`, obtained as a third-party
/// client would: `logto_client` against `logto-dev`, signed in as alice.
async fn organization_token(ep: &Endpoints) -> Result<String> {
    let config = LogtoConfig::new(
        ep.idp.as_str(),
        "portal-demo",
        Some(AppSecret::new("portal-demo-secret")),
    )?
    .with_scopes(["urn:logto:scope:organizations", "read:members"]);
    let client = LogtoClient::new(config)?;
    let storage = InMemoryStorage::new();
    let redirect = ep.portal.join("/callback")?;
    let authorize = client
        .sign_in(&storage, SignInOptions::new(redirect.as_str()))
        .await?;
    let (user, password) = USERS[0];
    let callback = logto_dev::testing::complete_sign_in(&authorize, user, password).await?;
    client
        .handle_sign_in_callback(&storage, callback.as_str())
        .await?;
    let token = client
        .get_organization_token(&storage, ORGANIZATION)
        .await?;
    Ok(token.secret().to_owned())
}

struct Measured {
    scenarios: Vec<Scenario>,
    foreign_cpu_percent: Option<f64>,
}

/// The servers' process ids.
#[derive(Clone, Copy)]
struct Servers {
    portal: u32,
    floor: u32,
}

async fn drive(
    ep: &Endpoints,
    servers: Servers,
    cpu: &CpuWatch,
    database_url: &str,
    only: &[String],
) -> Result<Measured> {
    let idp = Idp {
        http: plain_client()?,
        counters: ep.idp.join("/__dev/counters")?,
    };
    idp.calls()
        .await
        .context("logto-dev's admin routes (started with --admin)")?;

    eprintln!("xtask: signing {SESSIONS} sessions in, {FLOW_CONCURRENCY} at a time");
    let portal = ep.portal.clone();
    let mut signed_in = run_jobs(SESSIONS as u64, FLOW_CONCURRENCY, move |i| {
        let portal = portal.clone();
        async move {
            let (user, password) = user(i);
            sign_in(&portal, user, password).await
        }
    })
    .await?;
    signed_in.sort_by_key(|(i, _)| *i);
    // The load sends each session's cookie itself (see `signed_in_gets`).
    let loaded: Arc<Vec<(reqwest::Client, reqwest::header::HeaderValue)>> = Arc::new(
        signed_in
            .iter()
            .map(|(_, s)| Ok((plain_client()?, s.cookie.clone())))
            .collect::<Result<_>>()?,
    );
    let sessions: Arc<Vec<reqwest::Client>> =
        Arc::new(signed_in.into_iter().map(|(_, s)| s.browser).collect());
    let protected_url = ep.portal.join("/protected")?;
    visit_all(&sessions, &protected_url).await?;
    let tenant_url = ep.portal.join(&format!("/t/{TENANT}/"))?;
    eprintln!("xtask: warming an organization token per session ({tenant_url})");
    visit_all(&sessions, &tenant_url).await?;

    eprintln!("xtask: obtaining a bearer organization token for {ORGANIZATION}");
    let bearer = organization_token(ep).await?;
    let whoami_url = ep
        .portal
        .join(&format!("/api/orgs/{ORGANIZATION}/whoami"))?;
    let probe = plain_client()?
        .get(whoami_url.clone())
        .bearer_auth(&bearer)
        .send()
        .await?;
    if !probe.status().is_success() {
        let status = probe.status();
        bail!(
            "GET {} with the bearer answered {status}: {}",
            whoami_url.path(),
            probe.text().await.unwrap_or_default()
        );
    }

    // The set-up wrote sessions, logins and tokens: vacuum and analyze now,
    // so that autovacuum does not start in the middle of a window and the
    // planner knows the tables' real sizes.
    {
        use sqlx::Connection;
        let mut conn =
            crate::pg::connect_with_deadline(database_url, Duration::from_secs(30)).await?;
        sqlx::query("VACUUM (ANALYZE)")
            .execute(&mut conn)
            .await
            .context("vacuuming the benchmark's database")?;
        conn.close().await?;
    }

    let floor_clients = Arc::new(
        (0..CONCURRENCY)
            .map(|_| plain_client())
            .collect::<Result<Vec<_>>>()?,
    );
    let floor_base = ep.floor.clone();
    let api_clients = Arc::new(
        (0..CONCURRENCY)
            .map(|_| plain_client())
            .collect::<Result<Vec<_>>>()?,
    );
    let plans = [
        Plan::new(
            "floor",
            "1 floor: GET /floor/{id} (PK lookup + Tera)",
            servers.floor,
            Load::Requests(Arc::new(move |w, n| {
                let id = (w as u64 + n) % FLOOR_ROWS + 1;
                client(&floor_clients, w).get(format!("{}floor/{id}", floor_base.as_str()))
            })),
        ),
        Plan::new(
            "protected",
            "2 GET /protected (64 sessions)",
            servers.portal,
            signed_in_gets(loaded.clone(), protected_url),
        ),
        Plan::new(
            "tenant_warm",
            "3 GET /t/acme/ (warm organization token)",
            servers.portal,
            signed_in_gets(loaded, tenant_url),
        ),
        Plan::new(
            "api_whoami",
            "4 GET /api/orgs/{id}/whoami (bearer)",
            servers.portal,
            Load::Requests(Arc::new(move |w, _| {
                client(&api_clients, w)
                    .get(whoami_url.clone())
                    .bearer_auth(&bearer)
            })),
        ),
        Plan::new(
            "sign_in_flow",
            "5 sign-in flows/s (8 at once)",
            servers.portal,
            Load::Flows(ep.portal.clone()),
        ),
    ];

    let wanted =
        |p: &Plan| only.is_empty() || p.name == "floor" || only.iter().any(|n| n == p.name);
    let (mut reads, mut flows): (Vec<Plan>, Vec<Plan>) = plans
        .into_iter()
        .filter(wanted)
        .partition(|p| matches!(p.load, Load::Requests(_)));
    let before = cpu.sample();
    // Scenarios 1 to 4 only read (bar a `last_seen_at` now and then): they
    // are interleaved. The sign-in flows write (sessions, logins, tokens)
    // and leave autovacuum work behind, so they come after, in rounds of
    // their own.
    for round in 0..ROUNDS {
        eprintln!(
            "xtask: round {}/{ROUNDS}: {} scenarios × {WINDOW:?}",
            round + 1,
            reads.len()
        );
        let n = reads.len();
        for k in 0..n {
            let warm_up = if round == 0 { WARM_UP } else { SETTLE };
            if let Some(plan) = reads.get_mut((round + k) % n) {
                plan.measure(warm_up, &idp, cpu).await?;
            }
        }
    }
    for plan in &mut flows {
        eprintln!("xtask: {}: {ROUNDS} × {WINDOW:?}", plan.name);
        for round in 0..ROUNDS {
            let warm_up = if round == 0 { WARM_UP } else { SETTLE };
            plan.measure(warm_up, &idp, cpu).await?;
        }
    }
    let foreign_cpu_percent = match (before, cpu.sample()) {
        (Some(b), Some(a)) => foreign_percent(b, a),
        _ => None,
    };

    let floor: Vec<f64> = reads
        .first()
        .map(|p| p.windows.iter().map(Window::rps).collect())
        .ok_or_else(|| anyhow!("no floor"))?;
    let floor_median = vec![report::median(&floor); ROUNDS];
    let scenarios = reads
        .iter()
        .map(|p| Scenario::summarize(p.name, p.what, &p.windows, &floor))
        .chain(
            flows
                .iter()
                .map(|p| Scenario::summarize(p.name, p.what, &p.windows, &floor_median)),
        )
        .collect();
    Ok(Measured {
        scenarios,
        foreign_cpu_percent,
    })
}

fn user(i: u64) -> (&'static str, &'static str) {
    if i.is_multiple_of(2) {
        USERS[0]
    } else {
        USERS[1]
    }
}

/// Worker `w`'s client (or signed-in session): one connection per simulated
/// user.
fn client<T>(clients: &[T], w: usize) -> &T {
    // `clients` is never empty: CONCURRENCY and SESSIONS are both 64.
    &clients[w % clients.len()]
}

/// GETs of `url`, worker `w` as signed-in session `w`: its cookie goes as a
/// plain header (no cookie-jar matching per request: the load generator's
/// cost is not the portal's).
fn signed_in_gets(
    sessions: Arc<Vec<(reqwest::Client, reqwest::header::HeaderValue)>>,
    url: Url,
) -> Load {
    Load::Requests(Arc::new(move |w, _| {
        let (c, cookie) = client(&sessions, w);
        c.get(url.clone())
            .header(reqwest::header::COOKIE, cookie.clone())
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn proc_stat_parsing() {
        let cpu = "cpu  100 5 50 1000 20 3 2 7 0 0";
        // Everything but idle (1000) and iowait (20).
        assert_eq!(busy_ticks(cpu), Some(167));
        assert_eq!(busy_ticks("cpu0 1 2 3 4 5"), None);

        let stat = "1234 (tokio runtime) S 77 1234 1234 0 -1 4194560 1 0 0 0 \
                    11 22 33 44 20 0 4 0 100 0 0";
        assert_eq!(process_ticks(stat), Some(110));
        assert_eq!(parent_pid(stat), Some(77));
        assert_eq!(process_ticks("garbage"), None);
    }

    #[test]
    fn foreign_share() {
        let before = CpuSample {
            busy: 1000,
            ours: 500,
        };
        let after = CpuSample {
            busy: 2000,
            ours: 1250,
        };
        assert_eq!(foreign_percent(before, after), Some(25.0));
        assert_eq!(foreign_percent(after, after), None);
        assert_eq!(
            foreign_percent(
                before,
                CpuSample {
                    busy: 2000,
                    ours: 9999
                }
            ),
            Some(0.0)
        );
    }

    #[test]
    fn only_knows_the_scenarios() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(check_only(&[]).is_ok());
        assert!(check_only(&names(&["protected", "tenant_warm"])).is_ok());
        let e = check_only(&names(&["protected", "tenant"])).unwrap_err();
        assert!(e.to_string().contains("\"tenant\"") && e.to_string().contains("tenant_warm"));
    }

    #[test]
    fn cpu_ticks_become_microseconds_by_process() {
        let split = SplitTicks([10, 20, 30]).elapsed(SplitTicks([12, 25, 30]));
        assert_eq!(
            (split.server, split.postgres, split.load_generator),
            (20_000.0, 50_000.0, 0.0)
        );
        // A process gone meanwhile (fewer ticks) counts nothing, not a negative.
        assert_eq!(
            SplitTicks([10, 0, 0]).elapsed(SplitTicks([5, 0, 0])).server,
            0.0
        );
    }

    #[test]
    fn autogroup_lines() {
        assert_eq!(autogroup_nice("/autogroup-3090 nice 0\n"), Some(0));
        assert_eq!(autogroup_nice("/autogroup-7 nice -10"), Some(-10));
        assert_eq!(autogroup_nice("garbage"), None);
    }

    #[test]
    fn database_ports() {
        assert_eq!(
            database_port("postgres://postgres@127.0.0.1:5433/portal_bench"),
            Some(5433)
        );
        assert_eq!(database_port("not a url"), None);
    }
}
