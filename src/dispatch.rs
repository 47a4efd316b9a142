//! Each subcommand's arguments, handed to the run library as its request.

use crate::cli::{Command, ProfilesCommand};
use sentry_load_run::gate::GateRequest;
use sentry_load_run::generate::GenerateRequest;
use sentry_load_run::reverify::VerifyRequest;
use sentry_load_run::{Failure, RunRequest, Verdict};
use sentry_load_run::{compare, dsn, gate, generate, output, preflight, profile, reverify, upload};

/// Runs the chosen command.
pub async fn dispatch(command: Command) -> Result<Verdict, Failure> {
    match command {
        Command::Run(a) => {
            sentry_load_run::run(RunRequest {
                profile: a.profile,
                overrides: sentry_load_engine::Overrides {
                    rate: a.rate,
                    duration: a.duration,
                    instead_of_stages: false,
                },
                shard: a.shard.unwrap_or(sentry_load_engine::Shard::WHOLE),
                run_id: a.run_id,
                out: a.out,
                progress: a.progress.mode(),
                read_back: !a.no_verify,
                quiet: a.quiet,
                baseline: a.baseline,
                metrics_listen: a.metrics_listen,
            })
            .await
        }
        Command::Capacity(a) => {
            sentry_load_run::capacity::capacity(sentry_load_run::capacity::CapacityRequest {
                profile: a.profile,
                start_rate: a.start_rate,
                hold: a.hold,
                max_rate: a.max_rate,
                run_id: a.run_id,
                out: a.out,
                progress: if a.quiet {
                    sentry_load_engine::ProgressMode::Quiet
                } else {
                    a.progress.mode()
                },
                quiet: a.quiet,
                metrics_listen: a.metrics_listen,
            })
            .await
        }
        Command::Verify(a) => {
            reverify::verify(VerifyRequest {
                run_dirs: a.run_dirs,
                out: a.out,
                baseline: a.baseline,
            })
            .await
        }
        Command::Gate(a) => gate::gate(GateRequest {
            run: a.run,
            profile: a.profile,
            baseline: a.baseline,
        }),
        Command::Compare(a) => {
            let html = compare::compare(&a.runs, &a.out)?;
            output::line(format_args!("\ncompare  {}", html.display()));
            Ok(Verdict::Passed)
        }
        Command::Dsn(a) => {
            let lines = dsn::dsn(dsn::DsnRequest {
                profile: a.profile,
                host: a.host,
                scheme: a.scheme,
                project: a.project,
            })
            .await?;
            for line in lines {
                output::line(line);
            }
            Ok(Verdict::Passed)
        }
        Command::Profiles(ProfilesCommand::List) => {
            for line in profile::list() {
                output::line(line);
            }
            Ok(Verdict::Passed)
        }
        Command::Profiles(ProfilesCommand::Show { profile: name }) => {
            output::text(&profile::show(&name)?);
            Ok(Verdict::Passed)
        }
        Command::Profiles(ProfilesCommand::Check { profile: name }) => {
            output::line(profile::check(&name)?);
            Ok(Verdict::Passed)
        }
        Command::Sim(a) => crate::sim::sim(a).await,
        Command::Generate(a) => {
            generate::generate(GenerateRequest {
                profile: a.profile,
                kind: a.kind,
                count: a.count,
                out: a.out,
                run_id: a.run_id,
                start: a.start,
            })?;
            Ok(Verdict::Passed)
        }
        Command::UploadArtifacts(a) => {
            upload::upload_artifacts(&a.profile).await?;
            Ok(Verdict::Passed)
        }
        Command::Preflight(a) => {
            let loaded = profile::load_for(&a.profile, &[""])?;
            let p = preflight::check(&loaded.profile, true).await;
            p.print(false);
            match p.failure() {
                Some(e) => Err(e),
                None => Ok(Verdict::Passed),
            }
        }
    }
}
