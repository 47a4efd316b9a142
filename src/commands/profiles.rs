//! `sentry-load profiles list|show|check`.

use super::load_profile;
use crate::cli::ProfilesCommand;
use crate::exit::{Exit, OK};
use sentry_load_config::{SHIPPED_PROFILES, parse_profile};

pub fn profiles(cmd: ProfilesCommand) -> Result<u8, Exit> {
    match cmd {
        ProfilesCommand::List => {
            for (name, text) in SHIPPED_PROFILES {
                let description = parse_profile(name, text)
                    .map(|p| p.description)
                    .unwrap_or_else(|_| "(needs its environment variables to parse)".into());
                println!("{name:<14} shipped   {description}");
            }
            if let Ok(entries) = std::fs::read_dir("profiles") {
                let mut local: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let p = e.path();
                        if p.extension()? != "toml" {
                            return None;
                        }
                        Some(p.file_stem()?.to_string_lossy().into_owned())
                    })
                    .collect();
                local.sort();
                for name in local {
                    println!("{name:<14} ./profiles/{name}.toml");
                }
            }
            Ok(OK)
        }
        ProfilesCommand::Show { profile } => {
            let p = load_profile(&profile)?;
            println!("# {}", p.source);
            print!("{}", p.text);
            Ok(OK)
        }
        ProfilesCommand::Check { profile } => {
            let p = load_profile(&profile)?;
            let plan = sentry_load_engine::Plan::from_traffic(
                p.profile.traffic.get_ref(),
                p.profile.seed,
                Default::default(),
            )
            .map_err(|e| Exit::usage(anyhow::anyhow!(e)))?;
            println!(
                "{}: ok ({} events planned over {}, {:.1}/s on average)",
                p.source,
                plan.total(),
                humantime::format_duration(plan.duration()),
                plan.mean_rate()
            );
            Ok(OK)
        }
    }
}
