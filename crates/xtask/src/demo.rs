//! `cargo xtask demo`: PostgreSQL, the dev identity provider and the portal,
//! wired together on loopback. Runs until Ctrl-C or SIGTERM, then stops
//! everything it started.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use test_support::{free_port, wait_listening};

use crate::pg::Postgres;
use crate::{INTERRUPTED, cargo, prepare_database};

/// Children that are killed when dropped.
struct Children(Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (name, child) in &mut self.0 {
            crate::process::terminate(child);
            eprintln!("xtask: stopped {name}");
        }
    }
}

/// The demo users and what each can see (the seed is crates/logto-seed/demo.toml).
const LOGINS: [(&str, &str, &str); 4] = [
    (
        "alice",
        "alice-password",
        "admin of Acme: opens /t/acme/ with every permission, manages its members at /t/acme/members; refused at /t/globex/",
    ),
    (
        "bob",
        "bob-password",
        "member of Acme and Globex: opens both spaces with read-only permissions",
    ),
    (
        "carol",
        "carol-password",
        "in no organization: sees her profile, refused at every space",
    ),
    (
        "dave",
        "dave-password",
        "member of Globex, signs in through Globex's (simulated) SSO at /t/globex/sign-in",
    ),
];

/// The development-only keys of the demo (never use them anywhere else).
const DEMO_SESSION_KEY: &str = "ZGVtby1zZXNzaW9uLWtleS1mb3ItdGhlLWxvY2FsLWRlbW8tb25seS1uZXZlci11c2UtaW4tcHJvZHVjdGlvbi0xMjM0NTY3ODkw";
const DEMO_TOKEN_KEY: &str = "ZGVtby10b2tlbi1rZXktMzItYnl0ZXMtbG9uZyEhISE=";

/// `real_logto`: against real Logto (built from source, provisioned with
/// the demo seed) instead of logto-dev.
pub fn run(ws: &Path, real_logto: bool) -> Result<()> {
    eprintln!("xtask: building the portal and logto-dev (first time: a few minutes)");
    let status = cargo()
        .current_dir(ws)
        .args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            "portal",
            "--bin",
            "portal",
            "-p",
            "logto-dev",
            "--bin",
            "logto-dev",
        ])
        .status()
        .context("building the portal")?;
    if !status.success() {
        bail!("building the portal and logto-dev failed");
    }
    // Built before PostgreSQL starts: the first build takes minutes.
    let logto_build = if real_logto {
        let source = crate::logto::Source::find(ws)?.ok_or_else(|| {
            anyhow::anyhow!(
                "--real-logto needs Logto's source: set LOGTO_SOURCE to a logto-io/logto \
                 checkout or source tarball"
            )
        })?;
        Some(crate::logto::ensure_built(&source)?)
    } else {
        None
    };
    let mut pg = Postgres::start_or_env(ws, "demo")?;
    let result = serve(ws, &pg, logto_build.as_ref());
    pg.stop();
    result
}

fn serve(ws: &Path, pg: &Postgres, real_logto: Option<&crate::logto::Build>) -> Result<()> {
    let database_url = prepare_database(pg, "portal_demo")?;
    let port = match std::env::var("DEMO_PORT") {
        Ok(p) => p
            .parse::<u16>()
            .with_context(|| format!("DEMO_PORT={p:?} is not a port number"))?,
        Err(_) => free_port()?,
    };
    let base_url = format!("http://127.0.0.1:{port}");
    let target = crate::target_dir(ws).join("debug");
    let seed = ws.join(crate::logto::DEMO_SEED);
    let mut children = Children(Vec::new());
    // The identity provider: its endpoint, the application's credentials,
    // the machine-to-machine app's (organization self-service), and
    // (logto-dev) the tenants file; `_logto` keeps real Logto running.
    let (idp_name, endpoint, app_id, app_secret, m2m, tenants_file, _logto) = match real_logto {
        Some(build) => {
            let dir = ws.join("target").join("xtask").join("logto");
            let logto = crate::logto::Logto::start(build, pg, "logto_demo", &dir)?;
            // The provisioning writes the demo's tenants (with the ids this
            // Logto assigned) into the portal's database itself.
            let provisioned = crate::logto::provision(
                &target.join("portal"),
                &seed,
                &logto,
                &database_url,
                std::slice::from_ref(&base_url),
                &dir,
                "demo",
            )?;
            (
                "logto",
                logto.endpoint.clone(),
                provisioned.var("LOGTO_APP_ID")?.to_owned(),
                provisioned.var("LOGTO_APP_SECRET")?.to_owned(),
                (
                    provisioned.var("LOGTO_M2M_APP_ID")?.to_owned(),
                    provisioned.var("LOGTO_M2M_APP_SECRET")?.to_owned(),
                ),
                None,
                Some(logto),
            )
        }
        None => {
            let idp_port = free_port()?;
            let idp = Command::new(target.join("logto-dev"))
                .arg("--seed")
                .arg(&seed)
                .args(["--bind", &format!("127.0.0.1:{idp_port}")])
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .context("starting logto-dev")?;
            children.0.push(("logto-dev".into(), idp));
            wait_ready(&format!("127.0.0.1:{idp_port}"), &mut children)?;
            (
                "logto-dev",
                format!("http://127.0.0.1:{idp_port}"),
                "portal-demo".to_owned(),
                "portal-demo-secret".to_owned(),
                ("portal-m2m".to_owned(), "portal-m2m-secret".to_owned()),
                Some(seed.clone()),
                None,
            )
        }
    };
    let mut portal = Command::new(target.join("portal"));
    portal
        .env("DATABASE_URL", &database_url)
        .env("LOGTO_ENDPOINT", &endpoint)
        .env("LOGTO_APP_ID", &app_id)
        .env("LOGTO_APP_SECRET", &app_secret)
        .env("LOGTO_M2M_APP_ID", &m2m.0)
        .env("LOGTO_M2M_APP_SECRET", &m2m.1)
        .env(
            "LOGTO_SCOPES",
            "email phone custom_data identities roles read:members invite:members manage:members manage:billing read:reports write:reports",
        )
        .env("PORTAL_BASE_URL", &base_url)
        .env("PORTAL_BIND", format!("127.0.0.1:{port}"))
        .env("PORTAL_SESSION_KEY", DEMO_SESSION_KEY)
        .env("PORTAL_TOKEN_KEY", DEMO_TOKEN_KEY)
        .env("PORTAL_API_RESOURCE", "https://api.portal.test")
        .env("PORTAL_TEMPLATES_DIR", ws.join("templates"))
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,portal=info".into()),
        )
        .stdin(Stdio::null());
    if let Some(file) = tenants_file {
        portal.env("PORTAL_TENANTS_FILE", file);
    }
    let portal = portal.spawn().context("starting the portal")?;
    children.0.push(("portal".into(), portal));
    wait_ready(&format!("127.0.0.1:{port}"), &mut children)?;
    println!("portal: http://127.0.0.1:{port}");
    println!("{idp_name}: {endpoint}");
    for (user, password, what) in LOGINS {
        // Real Logto has no simulated SSO connector: Dave signs in with his password.
        let what = if real_logto.is_some() && user == "dave" {
            "member of Globex: opens /t/globex/ with read-only permissions"
        } else {
            what
        };
        println!("login: {user} {password} — {what}");
    }
    if real_logto.is_none() {
        eprintln!("xtask: logto-dev is a development identity provider, never a production one");
    }
    eprintln!("xtask: press Ctrl-C to stop");
    while !INTERRUPTED.load(Ordering::SeqCst) {
        for (name, child) in &mut children.0 {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("{name} exited unexpectedly ({status})");
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(children);
    Ok(())
}

/// Polls until `addr` accepts connections, a child dies, or 60 s pass.
fn wait_ready(addr: &str, children: &mut Children) -> Result<()> {
    wait_listening(addr, Duration::from_secs(60), || {
        for (name, child) in &mut children.0 {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("{name} exited during start-up ({status})");
            }
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        Ok(())
    })
}
