//! `cargo xtask demo`: PostgreSQL, the dev identity provider and the portal,
//! wired together on loopback. Runs until Ctrl-C or SIGTERM, then stops
//! everything it started.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::pg::Postgres;
use crate::{INTERRUPTED, cargo, prepare_database};

/// Children that are killed when dropped.
struct Children(Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (name, child) in &mut self.0 {
            terminate(child);
            let _ = child.wait();
            eprintln!("xtask: stopped {name}");
        }
    }
}

fn terminate(child: &mut Child) {
    // SIGTERM first so servers shut down gracefully; SIGKILL if they linger.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
}

pub fn run(ws: &Path) -> Result<()> {
    let status = cargo()
        .current_dir(ws)
        .args([
            "build", "--quiet", "--locked", "-p", "portal", "--bin", "portal",
        ])
        .status()
        .context("building the portal")?;
    if !status.success() {
        bail!("building the portal failed");
    }
    let mut pg = Postgres::start_or_env(ws, "demo")?;
    let result = serve(ws, &pg);
    pg.stop();
    result
}

fn serve(ws: &Path, pg: &Postgres) -> Result<()> {
    let database_url = prepare_database(pg, "portal_demo")?;
    let port = match std::env::var("DEMO_PORT") {
        Ok(p) => p
            .parse::<u16>()
            .with_context(|| format!("DEMO_PORT={p:?} is not a port number"))?,
        Err(_) => free_port()?,
    };
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| ws.join("target"));
    let portal = Command::new(target.join("debug").join("portal"))
        .env("DATABASE_URL", &database_url)
        .env("PORTAL_BIND", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .spawn()
        .context("starting the portal")?;
    let mut children = Children(vec![("portal".into(), portal)]);
    wait_ready(&format!("127.0.0.1:{port}"), &mut children)?;
    println!("portal: http://127.0.0.1:{port}");
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

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Polls until `addr` accepts connections, a child dies, or 60 s pass.
fn wait_ready(addr: &str, children: &mut Children) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        for (name, child) in &mut children.0 {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("{name} exited during start-up ({status})");
            }
        }
        if Instant::now() > deadline || INTERRUPTED.load(Ordering::SeqCst) {
            bail!("{addr} did not start listening within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
