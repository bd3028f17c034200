//! The operator's command line: `portal serve | migrate | tenants … | sessions … | logto provision`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use url::Url;

use crate::config::Settings;
use crate::startup::Application;
use crate::storage::tenants;
use crate::tenant::{self, Tenant};

/// The multi-tenant company portal with Logto sign-in.
#[derive(Parser)]
#[command(name = "portal", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve HTTP (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage tenants (the same data as PORTAL_TENANTS_FILE).
    Tenants {
        #[command(subcommand)]
        command: TenantsCmd,
    },
    /// Manage signed-in sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCmd,
    },
    /// Configure a real Logto through its Management API.
    Logto {
        #[command(subcommand)]
        command: LogtoCmd,
    },
}

#[derive(Subcommand)]
enum LogtoCmd {
    /// Create or update, from a seed, the portal's application and its secret,
    /// API resources and permissions, user roles, the organization template,
    /// organizations, users and memberships in Logto, and the portal's tenants.
    /// Idempotent: a rerun changes nothing.
    ///
    /// Environment: LOGTO_ENDPOINT; LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET
    /// (an M2M app with the role "Logto Management API access"); DATABASE_URL
    /// (the portal's database, for tenants; without it tenants are skipped);
    /// LOGTO_DATABASE_URL (Logto's own database, for --bootstrap-m2m only).
    Provision(ProvisionArgs),
}

#[derive(clap::Args)]
struct ProvisionArgs {
    /// The seed (TOML), e.g. crates/logto-seed/demo.toml.
    #[arg(long)]
    seed: PathBuf,
    /// The portal's base URL; repeat for several. The application gets
    /// `{base}/callback` and `{base}/` for each, and `{first}/backchannel-logout`.
    #[arg(long = "base-url", required = true)]
    base_urls: Vec<Url>,
    /// Write `LOGTO_APP_ID`/`LOGTO_APP_SECRET` (and a bootstrapped
    /// `LOGTO_M2M_APP_ID`/`LOGTO_M2M_APP_SECRET`) to this .env file, mode 0600,
    /// instead of standard output.
    #[arg(long)]
    write_env: Option<PathBuf>,
    /// Write what was provisioned (ids, credentials, passwords) as JSON, mode 0600.
    #[arg(long)]
    write_json: Option<PathBuf>,
    /// When LOGTO_M2M_APP_ID/SECRET are not set: insert an M2M app with
    /// Management API access into a freshly seeded Logto's own database
    /// (LOGTO_DATABASE_URL), or reuse the one inserted before.
    #[arg(long)]
    bootstrap_m2m: bool,
}

#[derive(Subcommand)]
enum TenantsCmd {
    /// List tenants.
    List,
    /// Add or update a tenant.
    Add {
        /// URL slug, [a-z0-9-].
        slug: String,
        /// Logto organization id.
        #[arg(long)]
        organization_id: String,
        /// Display name.
        #[arg(long)]
        display_name: String,
        /// Enterprise SSO connector id (sign-in goes straight to it).
        #[arg(long)]
        sso_connector_id: Option<String>,
        /// Prefilled identifier on the sign-in page.
        #[arg(long)]
        login_hint: Option<String>,
    },
    /// Remove a tenant.
    Remove {
        /// URL slug.
        slug: String,
    },
}

#[derive(Subcommand)]
enum SessionsCmd {
    /// End every session of a user, on every instance.
    Revoke {
        /// The user's Logto id (`sub`).
        #[arg(long = "user")]
        user: String,
    },
}

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Only `DATABASE_URL` is needed for the database commands (also from the
/// files of `PORTAL_ENV_FILE`, as `serve` reads it).
fn database_url() -> anyhow::Result<String> {
    crate::config::env_lookup()?("DATABASE_URL")
        .ok_or_else(|| anyhow::anyhow!("configuration: DATABASE_URL: is not set"))
}

async fn connect() -> anyhow::Result<sqlx::PgPool> {
    let pool = sqlx::PgPool::connect(&database_url()?).await?;
    crate::MIGRATOR.run(&pool).await?;
    Ok(pool)
}

impl Cli {
    /// Whether the command's result goes to standard output (logs then go
    /// to standard error).
    pub fn output_on_stdout(&self) -> bool {
        matches!(self.command, Some(Cmd::Logto { .. }))
    }

    /// Runs the chosen command.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command.unwrap_or(Cmd::Serve) {
            Cmd::Serve => {
                let settings = Settings::from_env()?;
                let app = Application::build(settings).await?;
                tracing::info!(port = app.port(), "portal listening");
                app.run_until_stopped().await?;
            }
            Cmd::Migrate => {
                connect().await?;
                println!("migrations applied");
            }
            Cmd::Tenants { command } => {
                let pool = connect().await?;
                match command {
                    TenantsCmd::List => {
                        for t in tenants::list(&pool).await? {
                            println!(
                                "{}\t{}\t{}\t{}\t{}",
                                t.slug,
                                t.organization_id,
                                t.display_name,
                                t.sso_connector_id.unwrap_or_default(),
                                t.login_hint.unwrap_or_default()
                            );
                        }
                    }
                    TenantsCmd::Add {
                        slug,
                        organization_id,
                        display_name,
                        sso_connector_id,
                        login_hint,
                    } => {
                        if !tenant::valid_slug(&slug) {
                            anyhow::bail!("slug {slug:?} must match [a-z0-9][a-z0-9-]*");
                        }
                        let t = Tenant {
                            slug,
                            display_name,
                            organization_id,
                            sso_connector_id,
                            login_hint,
                        };
                        tenants::upsert(&pool, &t).await?;
                        println!("tenant {} saved", t.slug);
                    }
                    TenantsCmd::Remove { slug } => {
                        if !tenants::remove(&pool, &slug).await? {
                            anyhow::bail!("no tenant {slug:?}");
                        }
                        println!("tenant {slug} removed");
                    }
                }
            }
            Cmd::Sessions {
                command: SessionsCmd::Revoke { user },
            } => {
                let pool = connect().await?;
                let n = crate::storage::logins::delete_every_login_of(&pool, &user).await?;
                println!("ended {n} session(s) of {user}");
            }
            Cmd::Logto {
                command: LogtoCmd::Provision(args),
            } => provision(args).await?,
        }
        Ok(())
    }
}

/// `portal logto provision`: everything is checked (seed, base URLs,
/// variables) before Logto is called.
async fn provision(args: ProvisionArgs) -> anyhow::Result<()> {
    use crate::management::{M2mCredentials, ManagementClient};
    use crate::provision::{self, ProvisionError, bootstrap, output};

    let _ = dotenvy::dotenv();
    let path = args.seed.display().to_string();
    let seed_error = |e: logto_seed::SeedError| anyhow::anyhow!("seed {path}: {e}");
    let seed = logto_seed::Seed::load(&args.seed).map_err(seed_error)?;
    match provision::check_seed(&seed) {
        Err(ProvisionError::Seed(e)) => return Err(seed_error(e)),
        other => other?,
    }
    provision::check_base_urls(&args.base_urls)?;
    let endpoint_text = env("LOGTO_ENDPOINT")
        .ok_or_else(|| anyhow::anyhow!("configuration: LOGTO_ENDPOINT: is not set"))?;
    let endpoint: Url = endpoint_text
        .parse()
        .with_context(|| format!("configuration: LOGTO_ENDPOINT {endpoint_text:?}"))?;

    let (m2m, bootstrapped) = match (
        env("LOGTO_M2M_APP_ID"),
        env("LOGTO_M2M_APP_SECRET"),
        args.bootstrap_m2m,
    ) {
        (Some(id), Some(secret), _) => (M2mCredentials::new(id, secret), None),
        (None, None, true) => {
            let url = env("LOGTO_DATABASE_URL").ok_or_else(|| {
                anyhow::anyhow!(
                    "configuration: --bootstrap-m2m needs LOGTO_DATABASE_URL (Logto's own database)"
                )
            })?;
            let (m2m, how) = bootstrap::bootstrap_m2m(&url, bootstrap::BOOTSTRAP_APP_NAME).await?;
            eprintln!(
                "portal: M2M app {} {} in Logto's database",
                m2m.app_id,
                match how {
                    bootstrap::Bootstrapped::Created => "bootstrapped",
                    bootstrap::Bootstrapped::Reused => "reused",
                }
            );
            (m2m.clone(), Some(m2m))
        }
        (Some(_), None, _) | (None, Some(_), _) => anyhow::bail!(
            "configuration: LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET must be set together"
        ),
        (None, None, false) => anyhow::bail!(
            "configuration: LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET are not set (an M2M app \
             with the role \"Logto Management API access\"; or --bootstrap-m2m with \
             LOGTO_DATABASE_URL on a freshly seeded Logto)"
        ),
    };

    let pool = match env("DATABASE_URL") {
        Some(_) => Some(connect().await.context("portal database (DATABASE_URL)")?),
        None => None,
    };
    let client = ManagementClient::new(endpoint, m2m.clone())?;
    let provisioned = provision::provision(&client, &seed, &args.base_urls, pool.as_ref()).await?;
    eprintln!(
        "portal: provisioned {path} into {}: {} created, {} updated{}",
        endpoint_text.trim_end_matches('/'),
        provisioned.report.created.len(),
        provisioned.report.updated.len(),
        if pool.is_none() {
            " (DATABASE_URL is not set: the portal's tenants were not written)"
        } else {
            ""
        }
    );

    let env_lines = output::env_lines(&provisioned.app, bootstrapped.as_ref());
    match &args.write_env {
        Some(file) => {
            output::write_private(file, env_lines.as_bytes())?;
            eprintln!("portal: credentials written to {}", file.display());
        }
        None => print!("{env_lines}"),
    }
    if let Some(file) = &args.write_json {
        let doc = output::json_document(&endpoint_text, &m2m, &provisioned);
        let mut text = serde_json::to_vec_pretty(&doc)?;
        text.push(b'\n');
        output::write_private(file, &text)?;
        eprintln!("portal: provisioning written to {}", file.display());
    }
    Ok(())
}
