//! `sentry-load`: parses the command line, builds the runtime, runs one command, and maps the
//! outcome to a documented exit code (see [`exit`]).

mod cli;
mod commands;
mod exit;

use clap::Parser;

/// Every send allocates its body and request; glibc's allocator was a fifth of the sender's
/// CPU time at full speed (see scripts/bench-sender.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return exit::report(exit::Exit::internal(e.into())),
    };
    // Spawned, not run by `block_on`: the command then runs on the worker threads with the
    // tasks it spawns, instead of waking them from another thread at every send.
    match runtime.block_on(runtime.spawn(commands::run(cli))) {
        Ok(Ok(code)) => code.into(),
        Ok(Err(e)) => exit::report(e),
        Err(e) => exit::report(exit::Exit::internal(e.into())),
    }
}
