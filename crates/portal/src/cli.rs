//! The operator's command line: `portal serve | migrate | tenants … | sessions …`.

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::startup::Application;
use crate::tenants::{self, Tenant};

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
                        if !tenants::valid_slug(&slug) {
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
                let n = sqlx::query("DELETE FROM logins WHERE user_sub = $1")
                    .bind(&user)
                    .execute(&pool)
                    .await?
                    .rows_affected();
                println!("ended {n} session(s) of {user}");
            }
        }
        Ok(())
    }
}
