//! `sentry-load`: parses the command line, builds the runtime, runs one command, and maps the
//! outcome to a documented exit code (see [`exit`]).

mod cli;
mod commands;
mod exit;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return exit::report(exit::Exit::internal(e.into())),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code.into(),
        Err(e) => exit::report(e),
    }
}
