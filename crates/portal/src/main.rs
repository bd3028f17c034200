//! The portal binary: see `portal --help`.

/// mimalloc instead of the system allocator: a signed-in page makes a few
/// hundred small allocations, which glibc's malloc serves more slowly
/// (measurements: docs/performance.md).
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
