//! `sentry-load`: parses the command line ([`cli`]), builds the runtime, hands the command to
//! the run library ([`dispatch`]), and maps how it ended to a documented exit code
//! ([`exit`]).

mod cli;
mod dispatch;
mod exit;
mod sim;

use clap::Parser;
use sentry_load_run::Failure;

/// Every send allocates its body and request; glibc's allocator was a fifth of the sender's
/// CPU time at full speed (see scripts/bench-sender.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // Commands that only read back and report run on one thread: their queries go one after
    // another, and one thread's allocator reuses each batch's memory for the next, which keeps
    // `verify` near the tracker's 48 bytes per event (see scripts/bench-verify.sh).
    let one_thread = matches!(
        cli.command,
        cli::Command::Verify(_) | cli::Command::Gate(_) | cli::Command::Compare(_)
    );
    let mut builder = if one_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return exit::of_failure(Failure::internal(e)),
    };
    // Spawned, not run by `block_on`: the command then runs on the worker threads with the
    // tasks it spawns, instead of waking them from another thread at every send.
    match runtime.block_on(runtime.spawn(dispatch::dispatch(cli.command))) {
        Ok(Ok(verdict)) => exit::of_verdict(verdict),
        Ok(Err(f)) => exit::of_failure(f),
        Err(e) => exit::of_failure(Failure::internal(e)),
    }
}
