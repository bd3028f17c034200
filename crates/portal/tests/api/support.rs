//! Fault-injection kit for the reliability tests: a TCP proxy that can be cut
//! (a PostgreSQL restart or an IdP outage, as the portal sees it) or can hold
//! a response back, the real `portal` binary as a child process (a second
//! instance that can be SIGKILLed), and helpers around them.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logto_dev::{DevIdp, Seed, Settings as IdpSettings};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use url::Url;

use crate::helpers::{API_RESOURCE, SESSION_KEY_B64, TOKEN_KEY_B64};

/// `cargo xtask test --long` sets `XTASK_LONG=1`: the heavier variants run.
pub fn long() -> bool {
    std::env::var("XTASK_LONG").is_ok_and(|v| v == "1")
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ------------------------------------------------------------------ proxy

/// A loopback TCP proxy. [`Proxy::cut`] closes its port and drops every
/// connection (what a client sees when PostgreSQL restarts or a host goes
/// away); [`Proxy::restore`] listens again on the same port.
/// [`Proxy::hold_after`] lets a request through but never delivers its
/// response.
pub struct Proxy {
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    addr: SocketAddr,
    target: Mutex<Option<SocketAddr>>,
    listener: Mutex<Option<JoinHandle<()>>>,
    connections: Mutex<Vec<JoinHandle<()>>>,
    /// Armed hold: the byte pattern and who to tell when it passed.
    hold: Mutex<Option<(Vec<u8>, tokio::sync::oneshot::Sender<()>)>>,
    /// Client data is swallowed: the server never hears of the request.
    blackhole: AtomicBool,
}

fn bind(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(1024).unwrap()
}

impl Proxy {
    /// A proxy on a free loopback port, forwarding to `target` (or, until
    /// [`Proxy::set_target`], refusing to forward).
    pub fn start(target: Option<SocketAddr>) -> Self {
        let listener = bind("127.0.0.1:0".parse().unwrap());
        let addr = listener.local_addr().unwrap();
        let proxy = Self {
            inner: Arc::new(ProxyInner {
                addr,
                target: Mutex::new(target),
                listener: Mutex::new(None),
                connections: Mutex::new(Vec::new()),
                hold: Mutex::new(None),
                blackhole: AtomicBool::new(false),
            }),
        };
        proxy.serve(listener);
        proxy
    }

    pub fn port(&self) -> u16 {
        self.inner.addr.port()
    }

    pub fn set_target(&self, target: SocketAddr) {
        *self.inner.target.lock().unwrap() = Some(target);
    }

    fn serve(&self, listener: TcpListener) {
        let inner = Arc::clone(&self.inner);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let target = *inner.target.lock().unwrap();
                let Some(target) = target else { continue };
                let conn = tokio::spawn(forward(Arc::clone(&inner), client, target));
                let mut conns = inner.connections.lock().unwrap();
                conns.retain(|c| !c.is_finished());
                conns.push(conn);
            }
        });
        *self.inner.listener.lock().unwrap() = Some(task);
    }

    /// Closes the port (new connections are refused) and drops every open
    /// connection.
    pub fn cut(&self) {
        if let Some(l) = self.inner.listener.lock().unwrap().take() {
            l.abort();
        }
        for c in self.inner.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&self) {
        // The aborted accept loop drops its listener once it is polled again.
        let listener = eventually("the proxy port to be free", Duration::from_secs(5), || {
            let addr = self.inner.addr;
            async move {
                let socket = TcpSocket::new_v4().ok()?;
                socket.set_reuseaddr(true).ok()?;
                socket.bind(addr).ok()?;
                socket.listen(1024).ok()
            }
        })
        .await;
        self.serve(listener);
    }

    /// While on, whatever clients send (on new and open connections) is
    /// swallowed: requests are never answered.
    pub fn blackhole(&self, on: bool) {
        self.inner.blackhole.store(on, Ordering::SeqCst);
    }

    /// The next client data containing `pattern` is forwarded, but the
    /// response on that connection is never delivered. The receiver fires
    /// when the pattern passed (before the server has it).
    pub fn hold_after(&self, pattern: &[u8]) -> tokio::sync::oneshot::Receiver<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        *self.inner.hold.lock().unwrap() = Some((pattern.to_vec(), tx));
        rx
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

async fn forward(inner: Arc<ProxyInner>, client: TcpStream, target: SocketAddr) {
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let held = Arc::new(AtomicBool::new(false));
    let inner_down = Arc::clone(&inner);
    let up = {
        let held = Arc::clone(&held);
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            let mut window: Vec<u8> = Vec::new();
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let chunk = &buf[..n];
                if inner.blackhole.load(Ordering::SeqCst) {
                    continue;
                }
                {
                    let mut hold = inner.hold.lock().unwrap();
                    if let Some((pattern, _)) = hold.as_ref() {
                        window.extend_from_slice(chunk);
                        if window
                            .windows(pattern.len())
                            .any(|w| w == pattern.as_slice())
                        {
                            held.store(true, Ordering::SeqCst);
                            if let Some((_, tx)) = hold.take() {
                                let _ = tx.send(());
                            }
                        }
                        let keep = window.len().saturating_sub(4096);
                        window.drain(..keep);
                    }
                }
                if server_write.write_all(chunk).await.is_err() {
                    break;
                }
            }
            let _ = server_write.shutdown().await;
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let read = server_read.read(&mut buf).await;
            if held.load(Ordering::SeqCst) || inner_down.blackhole.load(Ordering::SeqCst) {
                // Swallowed, the server closing included: the client hears
                // nothing more on this connection.
                std::future::pending::<()>().await;
            }
            let n = match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}

// ------------------------------------------------------------ environment

/// The URL of the test's own database (`#[sqlx::test]` made it on the
/// server of `DATABASE_URL`), optionally through a proxy on `via_port`.
pub fn database_url_of(pool: &PgPool, via_port: Option<u16>) -> String {
    let mut url = Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    let db = pool.connect_options().get_database().unwrap().to_owned();
    url.set_path(&format!("/{db}"));
    if let Some(port) = via_port {
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(port)).unwrap();
    }
    url.to_string()
}

/// A proxy in front of the test's PostgreSQL server.
pub async fn postgres_proxy(pool: &PgPool) -> Proxy {
    let opts = pool.connect_options();
    let host = if opts.get_host() == "localhost" {
        "127.0.0.1"
    } else {
        opts.get_host()
    };
    let target = tokio::net::lookup_host((host, opts.get_port()))
        .await
        .unwrap()
        .find(SocketAddr::is_ipv4)
        .unwrap();
    Proxy::start(Some(target))
}

/// logto-dev behind a proxy: the proxy's URL is the IdP's endpoint (and its
/// issuer), so every portal reaches it only through the proxy.
pub async fn idp_behind_proxy(settings: IdpSettings) -> (DevIdp, Proxy) {
    let proxy = Proxy::start(None);
    let endpoint = Url::parse(&format!("http://127.0.0.1:{}", proxy.port())).unwrap();
    let idp = logto_dev::serve(
        Seed::demo(),
        IdpSettings {
            endpoint: Some(endpoint),
            ..settings
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    proxy.set_target(idp.local_addr());
    (idp, proxy)
}

/// The environment of a portal instance on `base_url` (what
/// `helpers::spawn_portal` configures, as variables for the binary).
pub fn portal_env(idp: &DevIdp, base_url: &str, database_url: &str) -> Vec<(String, String)> {
    let app = idp
        .seed()
        .applications
        .iter()
        .find(|a| a.id == "portal-demo")
        .unwrap();
    let m2m = idp
        .seed()
        .applications
        .iter()
        .find(|a| a.id == "portal-m2m")
        .unwrap();
    let tenants_file = crate::helpers::tenants_file();
    [
        ("DATABASE_URL", database_url.to_owned()),
        ("LOGTO_M2M_APP_ID", m2m.id.clone()),
        ("LOGTO_M2M_APP_SECRET", m2m.secret.clone().unwrap_or_default()),
        ("LOGTO_ENDPOINT", idp.endpoint().to_string()),
        ("LOGTO_APP_ID", app.id.clone()),
        ("LOGTO_APP_SECRET", app.secret.clone().unwrap_or_default()),
        (
            "LOGTO_SCOPES",
            "email custom_data identities roles read:members invite:members manage:members manage:billing read:reports write:reports"
                .to_owned(),
        ),
        ("PORTAL_BASE_URL", base_url.to_owned()),
        ("PORTAL_SESSION_KEY", SESSION_KEY_B64.to_owned()),
        ("PORTAL_TOKEN_KEY", TOKEN_KEY_B64.to_owned()),
        ("PORTAL_API_RESOURCE", API_RESOURCE.to_owned()),
        (
            "PORTAL_TENANTS_FILE",
            tenants_file.to_string_lossy().into_owned(),
        ),
        ("PORTAL_SIGN_IN_RATE", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The portal's settings from such an environment.
pub fn settings_of(env: &[(String, String)]) -> portal::config::Settings {
    portal::config::Settings::from_lookup(|name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .unwrap()
}

/// An in-process instance whose pool connects through `database_url` (a
/// proxy, say) with the production pool settings.
pub async fn spawn_portal_via(
    idp: &DevIdp,
    database_url: &str,
    extra: &[(&str, &str)],
) -> (String, actix_web::web::Data<portal::state::AppState>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mut env = portal_env(idp, &base, database_url);
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    let settings = settings_of(&env);
    let pool = portal::startup::pool(&settings).unwrap();
    let app = portal::startup::Application::build_with(settings, pool, listener)
        .await
        .unwrap();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    (base, state)
}

// ---------------------------------------------------------- child process

/// The `portal` binary serving as its own process: a separate instance
/// with its own memory (no shared in-process locks or caches).
pub struct ChildPortal {
    child: tokio::process::Child,
    pub address: String,
    env: Vec<(String, String)>,
    log: std::path::PathBuf,
}

impl ChildPortal {
    /// Starts `portal serve` against `idp` and `database_url`; returns once
    /// it answers `/readyz`.
    pub async fn start(idp: &DevIdp, database_url: &str) -> Self {
        Self::start_with(idp, database_url, &[]).await
    }

    /// [`ChildPortal::start`] with more (or overriding) variables.
    pub async fn start_with(idp: &DevIdp, database_url: &str, extra: &[(&str, &str)]) -> Self {
        let port = test_support::free_port().unwrap();
        let address = format!("http://127.0.0.1:{port}");
        let mut env = portal_env(idp, &address, database_url);
        env.push(("PORTAL_BIND".into(), format!("127.0.0.1:{port}")));
        env.push(("RUST_LOG".into(), "warn".into()));
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        Self::spawn(address, env).await
    }

    async fn spawn(address: String, env: Vec<(String, String)>) -> Self {
        let log = std::env::temp_dir().join(format!("portal-child-{}.log", uuid::Uuid::new_v4()));
        let out = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_portal"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // No `.env` of the checkout is picked up.
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            // The log lines (stdout) and anything else it says.
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut me = Self {
            child,
            address,
            env,
            log,
        };
        me.wait_ready().await;
        me
    }

    /// How many change notifications this portal has heard (`/metrics`).
    pub async fn notifications_heard(&self) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.address))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("portal_change_notifications_total "))
            .and_then(|n| n.trim().parse().ok())
            .expect("portal_change_notifications_total in /metrics")
    }

    /// Waits until this portal has heard more than `before` notifications:
    /// a change made elsewhere has reached its copy.
    pub async fn wait_heard_more_than(&self, before: u64) {
        eventually(
            "the other portal to hear the change",
            Duration::from_secs(30),
            || async { (self.notifications_heard().await > before).then_some(()) },
        )
        .await;
    }

    async fn wait_ready(&mut self) {
        let url = format!("{}/readyz", self.address);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the portal exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(res) = client.get(&url).send().await
                && res.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the portal did not become ready: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no clean-up, connections dropped by the kernel.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// The same configuration, a new process (after [`ChildPortal::kill`]).
    pub async fn restart(&mut self) {
        self.kill().await;
        let fresh = Self::spawn(self.address.clone(), self.env.clone()).await;
        let old = std::mem::replace(self, fresh);
        drop(old);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChildPortal {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

// ----------------------------------------------------------------- tokens

/// Pretends every cached access token of the database has expired (the
/// ciphertext is re-sealed with `expires_at` in the past, as the portal
/// itself would have written it).
pub async fn expire_cached_access_tokens(pool: &PgPool) {
    let cipher = logto_actix::postgres::TokenCipher::from_base64(TOKEN_KEY_B64).unwrap();
    let rows: Vec<(uuid::Uuid, String, Vec<u8>)> =
        sqlx::query_as("SELECT login_id, audience, token FROM access_tokens")
            .fetch_all(pool)
            .await
            .unwrap();
    assert!(!rows.is_empty(), "no cached access token to expire");
    let past = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 10;
    for (login, audience, sealed) in rows {
        let aad = format!("access_tokens:{login}:{audience}");
        let mut json: serde_json::Value =
            serde_json::from_slice(&cipher.decrypt(&sealed, aad.as_bytes()).unwrap()).unwrap();
        json["expires_at"] = serde_json::json!(past);
        let resealed = cipher.encrypt(&serde_json::to_vec(&json).unwrap(), aad.as_bytes());
        sqlx::query(
            "UPDATE access_tokens SET token = $3, expires_at = to_timestamp($4) \
             WHERE login_id = $1 AND audience = $2",
        )
        .bind(login)
        .bind(&audience)
        .bind(resealed)
        .bind(past as f64)
        .execute(pool)
        .await
        .unwrap();
    }
}

/// The refresh token stored for each login, decrypted.
pub async fn stored_refresh_tokens(pool: &PgPool) -> Vec<String> {
    let cipher = logto_actix::postgres::TokenCipher::from_base64(TOKEN_KEY_B64).unwrap();
    let rows: Vec<(uuid::Uuid, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT id, refresh_token FROM logins ORDER BY created_at")
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter()
        .filter_map(|(id, rt)| {
            let plain = cipher
                .decrypt(&rt?, format!("logins:{id}:refresh_token").as_bytes())
                .unwrap();
            Some(String::from_utf8(plain).unwrap())
        })
        .collect()
}

/// The claims of the ID token stored for each login (oldest login first),
/// decoded without verification.
pub async fn stored_id_token_claims(pool: &PgPool) -> Vec<serde_json::Value> {
    use base64::Engine as _;
    let cipher = logto_actix::postgres::TokenCipher::from_base64(TOKEN_KEY_B64).unwrap();
    let rows: Vec<(uuid::Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT id, id_token FROM logins ORDER BY created_at")
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(id, sealed)| {
            let plain = cipher
                .decrypt(&sealed, format!("logins:{id}:id_token").as_bytes())
                .unwrap();
            let jwt = String::from_utf8(plain).unwrap();
            let payload = jwt.split('.').nth(1).unwrap();
            let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap();
            serde_json::from_slice(&json).unwrap()
        })
        .collect()
}

/// Pretends every login's grant was last checked with the identity provider
/// `seconds` ago (what `PORTAL_SESSION_REVALIDATE` compares with).
pub async fn backdate_checks(pool: &PgPool, seconds: u32) {
    sqlx::query("UPDATE logins SET checked_at = now() - make_interval(secs => $1)")
        .bind(f64::from(seconds))
        .execute(pool)
        .await
        .unwrap();
}

/// A PostgreSQL cluster of the test's own, which it may stop and start
/// (`cargo xtask test` passes `XTASK_PG_BIN`, and `XTASK_PG_RUN_AS` when it
/// runs as root: PostgreSQL refuses to). Stopped and deleted when dropped.
pub struct PgCluster {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    run_as: Option<(u32, u32)>,
    port: u16,
}

impl PgCluster {
    /// A fresh cluster (initdb), not started yet.
    pub fn create() -> Self {
        use std::os::unix::process::CommandExt;
        let bin = std::env::var("XTASK_PG_BIN")
            .expect("XTASK_PG_BIN: run the tests through `cargo xtask test`")
            .into();
        let run_as = std::env::var("XTASK_PG_RUN_AS").ok().map(|v| {
            let (u, g) = v.split_once(':').expect("XTASK_PG_RUN_AS is uid:gid");
            (u.parse().unwrap(), g.parse().unwrap())
        });
        let dir = std::env::temp_dir().join(format!("portal-test-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        if let Some((u, g)) = run_as {
            std::os::unix::fs::chown(&dir, Some(u), Some(g)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            bin,
            dir,
            run_as,
            port,
        };
        let mut initdb = cluster.command("initdb");
        initdb.arg("-D").arg(cluster.dir.join("data")).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        ]);
        if let Some((u, g)) = run_as {
            initdb.uid(u).gid(g);
        }
        let out = initdb.output().unwrap();
        assert!(out.status.success(), "initdb: {out:?}");
        cluster
    }

    fn command(&self, program: &str) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(self.bin.join(program));
        cmd.env("HOME", "/tmp")
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null());
        if let Some((u, g)) = self.run_as {
            cmd.uid(u).gid(g);
        }
        cmd
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        self.command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Starts the server (always on the same port), waiting until it accepts.
    pub fn start(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
            self.port
        );
        let out = self.pg_ctl(&["-w", "-t", "60", "-o", &opts, "start"]);
        assert!(out.status.success(), "pg_ctl start: {out:?}");
    }

    /// Stops the server (fast shutdown: open connections are ended).
    pub fn stop(&self) {
        let out = self.pg_ctl(&["-m", "fast", "-w", "-t", "60", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {out:?}");
    }

    /// The URL of the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
