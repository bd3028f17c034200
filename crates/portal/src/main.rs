//! The portal binary: see `portal --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    portal::telemetry::init();
    match portal::cli::Cli::parse().run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portal: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
