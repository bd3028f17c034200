//! `logto-dev` binary: a development-only identity provider speaking Logto's dialect.
//! Never run it as a production identity provider.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// A DEVELOPMENT AND TEST identity provider that speaks Logto's OIDC dialect.
/// Never use it as a production identity provider.
#[derive(Parser, Debug)]
#[command(name = "logto-dev", version)]
struct Args {
    /// Seed file (TOML). Without it, the bundled demo seed is used.
    #[arg(long, env = "LOGTO_DEV_SEED")]
    seed: Option<PathBuf>,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1:3001", env = "LOGTO_DEV_BIND")]
    bind: SocketAddr,
    /// Sign with an RSA key (RS256) instead of EC P-384 (ES384).
    #[arg(long)]
    rs256: bool,
    /// Serve the `/__dev/*` admin routes (counters, key rotation, fault injection).
    #[arg(long)]
    admin: bool,
    /// Public endpoint, if it differs from `http://{bind}`.
    #[arg(long)]
    endpoint: Option<url::Url>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,actix_server=warn".into()),
        )
        .init();
    let args = Args::parse();
    let seed = match &args.seed {
        Some(path) => logto_dev::Seed::load(path)?,
        None => logto_dev::Seed::demo(),
    };
    let settings = logto_dev::Settings {
        signing: if args.rs256 {
            logto_dev::SigningAlg::Rs256
        } else {
            logto_dev::SigningAlg::Es384
        },
        enable_admin_routes: args.admin,
        endpoint: args.endpoint.clone(),
        ..logto_dev::Settings::default()
    };
    let bar = "=".repeat(78);
    eprintln!("{bar}");
    eprintln!("  logto-dev — DEVELOPMENT AND TEST IDENTITY PROVIDER");
    eprintln!("  {}", logto_dev::DEVELOPMENT_ONLY_WARNING);
    eprintln!("{bar}");
    let idp = logto_dev::serve(seed, settings, args.bind).await?;
    println!(
        "LOGTO_ENDPOINT={}",
        idp.endpoint().as_str().trim_end_matches('/')
    );
    println!("issuer: {}", idp.issuer());
    for user in &idp.seed().users {
        println!(
            "user: {} / {} (sub {})",
            user.username, user.password, user.id
        );
    }
    if args.admin {
        println!("admin routes: {}__dev/counters", idp.endpoint());
    }
    tokio::signal::ctrl_c().await?;
    idp.stop().await;
    Ok(())
}
