//! The portal binary: see `portal --help`.

/// mimalloc instead of the system allocator: a signed-in page makes about
/// two hundred allocations, and glibc's malloc and free took about a tenth of
/// the portal's CPU under load (`perf`); with mimalloc, `cargo xtask bench`
/// measured about 3 µs less CPU per tenant page.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = portal::cli::Cli::parse();
    if cli.output_on_stdout() {
        portal::infra::telemetry::init_stderr();
    } else {
        portal::infra::telemetry::init();
    }
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portal: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
