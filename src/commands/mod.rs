//! One module per subcommand; [`readback`] holds what `run` and `verify` share.

mod compare;
mod dsn;
mod fidelity;
mod gate;
mod generate;
mod leg;
mod preflight;
mod profiles;
mod readback;
mod run;
mod sim;
mod upload;
mod verify;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

/// Runs the chosen command; `Ok` carries the exit code (0, or 1 when a gate failed).
pub async fn run(cli: Cli) -> Result<u8, Exit> {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Verify(args) => verify::verify(args).await,
        Command::Gate(args) => gate::gate(args),
        Command::Compare(args) => compare::compare(args),
        Command::Dsn(args) => dsn::dsn(args).await,
        Command::Profiles(cmd) => profiles::profiles(cmd),
        Command::Sim(args) => sim::sim(args).await,
        Command::Generate(args) => generate::generate(args),
        Command::UploadArtifacts(args) => upload::upload_artifacts(&args.profile).await,
        Command::Preflight(args) => {
            let loaded = load_profile(&args.profile)?;
            let p = preflight::check(&loaded.profile, true).await;
            p.print(false);
            match p.failure() {
                Some(e) => Err(e),
                None => Ok(crate::exit::OK),
            }
        }
    }
}

/// Loads a profile by name or path from the current directory.
fn load_profile(name: &str) -> Result<sentry_load_config::LoadedProfile, Exit> {
    let cwd = std::env::current_dir().map_err(|e| Exit::internal(e.into()))?;
    sentry_load_config::load_profile(name, &cwd).map_err(|e| Exit::usage(e.into()))
}
