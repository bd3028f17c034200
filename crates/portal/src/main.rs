//! The portal binary: `portal serve` (default), `portal migrate`.

use clap::{Parser, Subcommand};
use portal::config::Settings;
use portal::startup::Application;

#[derive(Parser)]
#[command(
    name = "portal",
    about = "The multi-tenant company portal with Logto sign-in"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve HTTP (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    portal::telemetry::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portal: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "portal listening");
            app.run_until_stopped().await?;
        }
        Cmd::Migrate => {
            let pool = sqlx::PgPool::connect(&settings.database_url).await?;
            portal::MIGRATOR.run(&pool).await?;
            println!("migrations applied");
        }
    }
    Ok(())
}
