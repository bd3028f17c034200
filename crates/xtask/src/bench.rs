//! `cargo xtask bench`: release builds of the portal, `logto-dev` and the
//! floor server (`crates/portal/examples/bench_floor.rs`), a private
//! PostgreSQL, and an in-process load generator (tokio + reqwest, one
//! connection per simulated user, keep-alive) on loopback.
//!
//! Scenarios, each at a fixed concurrency with a short warm-up and then a
//! fixed window (capped in requests too):
//! 1. `floor`: `GET /floor/{id}` on the floor server — one primary-key lookup
//!    and one small Tera template, the least any authenticated page costs.
//!    Measured before and after the portal's scenarios; the two windows are
//!    pooled, so a drift in machine load during the run hits both sides.
//! 2. `protected`: `GET /protected` with 64 signed-in sessions.
//! 3. `tenant_warm`: `GET /t/acme/` with a warm organization token per session;
//!    `logto-dev`'s counters are read around the window: no IdP call expected.
//! 4. `api_whoami`: `GET /api/orgs/org-acme/whoami` with a bearer organization
//!    token (signature and claims validation per request).
//! 5. `sign_in_flow`: whole sign-ins (`/sign-in` → `logto-dev`'s form →
//!    `/callback`), a fixed number of them, 8 at a time; rps = flows per second.
//! 6. The portal's peak resident memory (`VmHWM`) over the run.
//!
//! Every throughput is also given as a ratio to the floor's, which absorbs
//! most of the machine's noise. Results go to stdout (a table) and to
//! `target/bench/latest.json`.

use std::fmt::Write as _;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use logto_client::{AppSecret, InMemoryStorage, LogtoClient, LogtoConfig, SignInOptions};
use serde::Serialize;
use url::Url;

use crate::pg::Postgres;
use crate::{INTERRUPTED, cargo, runtime};

/// Concurrent users (connections) in scenarios 1 to 4.
const CONCURRENCY: usize = 64;
/// Untimed load before each window: connections open, caches fill.
const WARM_UP: Duration = Duration::from_secs(1);
/// The measured window of scenarios 1 to 4.
const WINDOW: Duration = Duration::from_secs(5);
/// Upper bound on the requests of one window.
const MAX_REQUESTS: u64 = 200_000;
/// Signed-in sessions for scenarios 2 and 3.
const SESSIONS: usize = 64;
/// Sign-in flows measured in scenario 5, and how many run at once.
const FLOWS: u64 = 200;
const FLOW_CONCURRENCY: usize = 8;
const FLOW_WARM_UP: u64 = 8;
/// The users the sessions cycle over (crates/logto-dev/seed/demo.toml):
/// both are members of Acme.
const USERS: [(&str, &str); 2] = [("alice", "alice-password"), ("bob", "bob-password")];
/// Rows of the floor's table (see bench_floor.rs).
const FLOOR_ROWS: u64 = 16;
/// The tenant and organization of scenarios 3 and 4
/// (crates/xtask/demo/tenants.toml).
const TENANT: &str = "acme";
const ORGANIZATION: &str = "org-acme";
/// Aims from the issue.
const AIM_RATIO: f64 = 0.6;

/// Throw-away keys of the benchmark's portal (never use them anywhere else).
const BENCH_SESSION_KEY: &str = "YmVuY2gtc2Vzc2lvbi1rZXktZm9yLXRoZS1sb2NhbC1iZW5jaG1hcmstb25seS1uZXZlci11c2UtaW4tcHJvZHVjdGlvbi0xMg==";
const BENCH_TOKEN_KEY: &str = "YmVuY2gtdG9rZW4ta2V5LTMyLWJ5dGVzLWxvbmchISE=";

pub fn run(ws: &Path) -> Result<()> {
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
    if !status.success() {
        bail!("the release build failed");
    }
    let mut pg = Postgres::start_or_env(ws, "bench")?;
    let result = bench(ws, &pg);
    pg.stop();
    result
}

// ---- processes -------------------------------------------------------------------------

/// Child processes, stopped (SIGTERM, then SIGKILL) when dropped.
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
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("probing for a free port")?;
    Ok(l.local_addr()?.port())
}

/// Polls until `port` accepts connections, a child dies, or 60 s pass.
fn wait_ready(port: u16, children: &mut Children) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        children.check_alive()?;
        if Instant::now() > deadline || INTERRUPTED.load(Ordering::SeqCst) {
            bail!("127.0.0.1:{port} did not start listening within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn target_dir(ws: &Path) -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| ws.join("target"))
}

/// Each server's stderr goes to `target/bench/<name>.log`.
fn log_file(dir: &Path, name: &str) -> Result<Stdio> {
    let path = dir.join(format!("{name}.log"));
    Ok(File::create(&path)
        .with_context(|| format!("creating {}", path.display()))?
        .into())
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

fn bench(ws: &Path, pg: &Postgres) -> Result<()> {
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

    let idp = Command::new(bin.join("logto-dev"))
        .arg("--seed")
        .arg(ws.join("crates/logto-dev/seed/demo.toml"))
        .args(["--bind", &format!("127.0.0.1:{idp_port}"), "--admin"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(&out_dir, "logto-dev")?)
        .spawn()
        .context("starting logto-dev")?;
    children.0.push(("logto-dev".into(), idp));
    wait_ready(idp_port, &mut children)?;

    let floor = Command::new(bin.join("examples").join("bench_floor"))
        .arg(format!("127.0.0.1:{floor_port}"))
        .env("DATABASE_URL", &database_url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(&out_dir, "bench_floor")?)
        .spawn()
        .context("starting the floor server")?;
    children.0.push(("bench_floor".into(), floor));

    let portal = Command::new(bin.join("portal"))
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
            ws.join("crates/xtask/demo/tenants.toml"),
        )
        .env("PORTAL_TEMPLATES_DIR", ws.join("templates"))
        // Many sign-ins from one address: the per-IP limit would refuse them.
        .env("PORTAL_SIGN_IN_RATE", "0")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(&out_dir, "portal")?)
        .spawn()
        .context("starting the portal")?;
    children.0.push(("portal".into(), portal));
    wait_ready(floor_port, &mut children)?;
    wait_ready(portal_port, &mut children)?;
    let portal_pid = children
        .pid("portal")
        .ok_or_else(|| anyhow!("the portal is not running"))?;

    let machine = Machine::probe();
    eprintln!("xtask: machine: {machine}");
    let results = runtime()?.block_on(drive(&ep));
    let results = results.with_context(|| {
        format!(
            "the servers' logs are in {} (portal.log, bench_floor.log, logto-dev.log)",
            out_dir.display()
        )
    })?;
    let peak_rss_mib = peak_rss_mib(portal_pid)?;
    children.check_alive()?;
    drop(children);

    let report = Report::new(machine, &results, peak_rss_mib);
    print!("{}", report.table());
    let json = serde_json::to_string_pretty(&report)?;
    let path = out_dir.join("latest.json");
    std::fs::write(&path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
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

// ---- the load generator ----------------------------------------------------------------

/// Builds the request of worker `w`'s `n`-th iteration.
type MakeRequest = Arc<dyn Fn(usize, u64) -> reqwest::RequestBuilder + Send + Sync>;

/// One scenario's outcome.
#[derive(Default)]
struct Measured {
    /// Latency of every successful request, in microseconds.
    latencies_us: Vec<u64>,
    elapsed: Duration,
    errors: u64,
    first_error: Option<String>,
    idp_calls: u64,
}

impl Measured {
    fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.latencies_us.len() as f64 / secs
        } else {
            0.0
        }
    }

    /// The nearest-rank percentile `q` (0..=1), in milliseconds.
    fn percentile_ms(&self, q: f64) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let rank = ((q * v.len() as f64).ceil() as usize).max(1);
        v.get(rank - 1).map_or(0.0, |us| *us as f64 / 1000.0)
    }

    /// Pools two windows of the same scenario.
    fn merge(mut self, other: Measured) -> Measured {
        self.latencies_us.extend(other.latencies_us);
        self.elapsed += other.elapsed;
        self.errors += other.errors;
        self.first_error = self.first_error.or(other.first_error);
        self.idp_calls += other.idp_calls;
        self
    }
}

/// `workers` tasks sending requests until `deadline` or `cap` requests in all.
async fn phase(make: &MakeRequest, workers: usize, duration: Duration, cap: u64) -> Measured {
    let started = Instant::now();
    let deadline = started + duration;
    let issued = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let make = make.clone();
        let issued = issued.clone();
        set.spawn(async move {
            let mut m = Measured::default();
            let mut n = 0u64;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < cap {
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
    let mut total = Measured::default();
    while let Some(done) = set.join_next().await {
        if let Ok(m) = done {
            total = total.merge(m);
        }
    }
    total.elapsed = started.elapsed();
    total
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Warm-up, then the measured window with `logto-dev`'s counters read
/// around it.
async fn measure(name: &str, make: MakeRequest, idp: &Idp) -> Result<Measured> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    eprintln!("xtask: {name}: {CONCURRENCY} users, {WARM_UP:?} warm-up, {WINDOW:?} window");
    phase(&make, CONCURRENCY, WARM_UP, MAX_REQUESTS).await;
    let before = idp.calls().await?;
    let mut m = phase(&make, CONCURRENCY, WINDOW, MAX_REQUESTS).await;
    m.idp_calls = idp.calls().await?.saturating_sub(before);
    if m.latencies_us.is_empty() {
        bail!(
            "{name}: no request succeeded ({} errors; first: {})",
            m.errors,
            m.first_error.as_deref().unwrap_or("none")
        );
    }
    Ok(m)
}

/// `logto-dev`'s admin counters.
struct Idp {
    http: reqwest::Client,
    counters: Url,
}

impl Idp {
    /// Calls that cost the IdP real work: token grants (authorization code
    /// and refresh), userinfo, JWKS and discovery.
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
        Ok([
            "authorization_code_grants",
            "refresh_token_grants",
            "userinfo_hits",
            "jwks_hits",
            "discovery_hits",
        ]
        .iter()
        .map(|k| c.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0))
        .sum())
    }
}

fn plain_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .context("building an HTTP client")
}

/// A browser of its own: cookie jar, no automatic redirects.
fn browser() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building an HTTP client")
}

fn location(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// One complete sign-in through the portal with a fresh browser: `/sign-in`,
/// `logto-dev`'s form, `/callback`. Returns the signed-in browser.
async fn sign_in(portal: &Url, user: &str, password: &str) -> Result<reqwest::Client> {
    let client = browser()?;
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
    Ok(client)
}

/// GET `path` with every browser once, requiring 200 (signs the sessions in
/// for real and fills the portal's caches).
async fn visit_all(clients: &[reqwest::Client], url: &Url) -> Result<()> {
    let mut set = tokio::task::JoinSet::new();
    for (i, c) in clients.iter().enumerate() {
        let (c, url) = (c.clone(), url.clone());
        set.spawn(async move {
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
            anyhow::Ok(())
        });
    }
    while let Some(done) = set.join_next().await {
        done.context("a warm-up task failed")??;
    }
    Ok(())
}

/// `total` jobs over `workers` tasks; returns each job's index, duration
/// and output. The first failure fails the whole run.
async fn run_jobs<F, Fut, T>(total: u64, workers: usize, job: F) -> Result<Vec<(u64, Duration, T)>>
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
                let t0 = Instant::now();
                let out = job(i).await.with_context(|| format!("job {i}"))?;
                let took = t0.elapsed();
                done.lock()
                    .map_err(|_| anyhow!("poisoned"))?
                    .push((i, took, out));
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

struct Results {
    floor: Measured,
    protected: Measured,
    tenant: Measured,
    whoami: Measured,
    flows: Measured,
}

async fn drive(ep: &Endpoints) -> Result<Results> {
    let idp = Idp {
        http: plain_client()?,
        counters: ep.idp.join("/__dev/counters")?,
    };
    idp.calls()
        .await
        .context("logto-dev's admin routes (started with --admin)")?;

    eprintln!("xtask: signing {SESSIONS} sessions in");
    let portal = ep.portal.clone();
    let mut signed_in = run_jobs(SESSIONS as u64, FLOW_CONCURRENCY, move |i| {
        let portal = portal.clone();
        async move {
            let (user, password) = user(i);
            sign_in(&portal, user, password).await
        }
    })
    .await?;
    signed_in.sort_by_key(|(i, _, _)| *i);
    let sessions: Vec<reqwest::Client> = signed_in.into_iter().map(|(_, _, c)| c).collect();
    let sessions = Arc::new(sessions);
    visit_all(&sessions, &ep.portal.join("/protected")?).await?;
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

    let floor_clients = Arc::new(
        (0..CONCURRENCY)
            .map(|_| plain_client())
            .collect::<Result<Vec<_>>>()?,
    );
    let floor_base = ep.floor.clone();
    let floor_make: MakeRequest = Arc::new(move |w, n| {
        let id = (w as u64 + n) % FLOOR_ROWS + 1;
        let url = format!("{}floor/{id}", floor_base.as_str());
        client(&floor_clients, w).get(url)
    });
    let floor_first = measure("1 floor (first half)", floor_make.clone(), &idp).await?;

    let s = sessions.clone();
    let url = ep.portal.join("/protected")?;
    let protected = measure(
        "2 /protected",
        Arc::new(move |w, _| client(&s, w).get(url.clone())),
        &idp,
    )
    .await?;

    let s = sessions.clone();
    let tenant = measure(
        "3 /t/acme/",
        Arc::new(move |w, _| client(&s, w).get(tenant_url.clone())),
        &idp,
    )
    .await?;

    let api_clients = Arc::new(
        (0..CONCURRENCY)
            .map(|_| plain_client())
            .collect::<Result<Vec<_>>>()?,
    );
    let whoami = measure(
        "4 /api/orgs/org-acme/whoami",
        Arc::new(move |w, _| {
            client(&api_clients, w)
                .get(whoami_url.clone())
                .bearer_auth(&bearer)
        }),
        &idp,
    )
    .await?;

    let floor_second = measure("1 floor (second half)", floor_make, &idp).await?;
    let floor = floor_first.merge(floor_second);

    eprintln!(
        "xtask: 5 sign-in flows: {FLOWS} flows, {FLOW_CONCURRENCY} at a time ({FLOW_WARM_UP} to warm up)"
    );
    let portal = ep.portal.clone();
    let flow = move |i: u64| {
        let portal = portal.clone();
        async move {
            let (user, password) = user(i);
            sign_in(&portal, user, password).await.map(|_| ())
        }
    };
    run_jobs(FLOW_WARM_UP, FLOW_CONCURRENCY, flow.clone()).await?;
    let before = idp.calls().await?;
    let started = Instant::now();
    let durations = run_jobs(FLOWS, FLOW_CONCURRENCY, flow).await?;
    let flows = Measured {
        latencies_us: durations.iter().map(|(_, d, ())| micros(*d)).collect(),
        elapsed: started.elapsed(),
        errors: 0,
        first_error: None,
        idp_calls: idp.calls().await?.saturating_sub(before),
    };

    Ok(Results {
        floor,
        protected,
        tenant,
        whoami,
        flows,
    })
}

fn user(i: u64) -> (&'static str, &'static str) {
    if i.is_multiple_of(2) {
        USERS[0]
    } else {
        USERS[1]
    }
}

/// Worker `w`'s client: one connection (and session) per simulated user.
fn client(clients: &[reqwest::Client], w: usize) -> &reqwest::Client {
    // `clients` is never empty: CONCURRENCY and SESSIONS are both 64.
    &clients[w % clients.len()]
}

// ---- the report ------------------------------------------------------------------------

#[derive(Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    memory_gib: f64,
    /// The 1-minute load average when the run started (other work on the
    /// machine skews absolute numbers; the ratios absorb most of it).
    load_average: f64,
}

impl Machine {
    fn probe() -> Self {
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
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0.0);
        Self {
            cpus,
            cpu_model,
            memory_gib: round(mem_kib / 1024.0 / 1024.0, 1),
            load_average,
        }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} CPUs ({}), {} GiB RAM, load average {} at start",
            self.cpus, self.cpu_model, self.memory_gib, self.load_average
        )
    }
}

#[derive(Serialize)]
struct Scenario {
    name: &'static str,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    ratio_to_floor: f64,
    idp_calls: u64,
    /// Requests that failed (non-2xx or transport errors) in the window.
    errors: u64,
    #[serde(skip)]
    what: &'static str,
}

#[derive(Serialize)]
struct Report {
    machine: Machine,
    scenarios: Vec<Scenario>,
    peak_rss_mib: f64,
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

impl Report {
    fn new(machine: Machine, r: &Results, peak_rss_mib: f64) -> Self {
        let floor_rps = r.floor.rps();
        let scenario = |name, what, m: &Measured| Scenario {
            name,
            rps: round(m.rps(), 1),
            p50_ms: round(m.percentile_ms(0.50), 2),
            p99_ms: round(m.percentile_ms(0.99), 2),
            ratio_to_floor: if floor_rps > 0.0 {
                round(m.rps() / floor_rps, 3)
            } else {
                0.0
            },
            idp_calls: m.idp_calls,
            errors: m.errors,
            what,
        };
        Self {
            machine,
            scenarios: vec![
                scenario(
                    "floor",
                    "1 floor: GET /floor/{id}, PK lookup + Tera",
                    &r.floor,
                ),
                scenario("protected", "2 GET /protected, 64 sessions", &r.protected),
                scenario("tenant_warm", "3 GET /t/acme/, warm org token", &r.tenant),
                scenario(
                    "api_whoami",
                    "4 GET /api/orgs/{id}/whoami, bearer",
                    &r.whoami,
                ),
                scenario("sign_in_flow", "5 sign-in flows (8 at once)", &r.flows),
            ],
            peak_rss_mib: round(peak_rss_mib, 1),
        }
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "machine: {}", self.machine);
        let _ = writeln!(
            out,
            "{:<42} {:>9} {:>8} {:>8} {:>8} {:>9}",
            "scenario", "rps", "p50 ms", "p99 ms", "× floor", "IdP calls"
        );
        for s in &self.scenarios {
            let _ = writeln!(
                out,
                "{:<42} {:>9.1} {:>8.2} {:>8.2} {:>8.3} {:>9}",
                s.what, s.rps, s.p50_ms, s.p99_ms, s.ratio_to_floor, s.idp_calls
            );
        }
        let _ = writeln!(
            out,
            "6 portal peak RSS (VmHWM): {:.1} MiB",
            self.peak_rss_mib
        );
        for s in &self.scenarios {
            if s.errors > 0 {
                let _ = writeln!(out, "warning: {}: {} failed requests", s.name, s.errors);
            }
        }
        let ratio_of = |name: &str| {
            self.scenarios
                .iter()
                .find(|s| s.name == name)
                .map_or(0.0, |s| s.ratio_to_floor)
        };
        let tenant_calls = self
            .scenarios
            .iter()
            .find(|s| s.name == "tenant_warm")
            .map_or(0, |s| s.idp_calls);
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let _ = writeln!(
            out,
            "aims: /protected ≥ {AIM_RATIO} × floor: {}; /t/acme/ ≥ {AIM_RATIO} × floor: {}; \
             no IdP call in 3: {}",
            verdict(ratio_of("protected") >= AIM_RATIO),
            verdict(ratio_of("tenant_warm") >= AIM_RATIO),
            verdict(tenant_calls == 0),
        );
        out
    }
}
