//! `sentry-load gate <run>`: checks a finished run's report against gates — its own profile's
//! (the `profile.toml` copied into the run folder) or another profile's — and a baseline run
//! for the relative gates. Exits 0 when every gate passes, 1 naming each failed gate.

use super::load_profile;
use super::readback::{PROFILE_FILE, read_report};
use crate::cli::GateArgs;
use crate::exit::{Exit, GATE_FAILED, OK};
use anyhow::Context;
use sentry_load_reports::evaluate_gates;

pub fn gate(args: GateArgs) -> Result<u8, Exit> {
    let (report, file) = read_report(&args.run)?;
    let profile = match &args.profile {
        Some(name) => load_profile(name)?.profile,
        None => {
            let path = file.with_file_name(PROFILE_FILE);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {} (or pass --profile)", path.display()))
                .map_err(Exit::usage)?;
            sentry_load_config::parse_profile(&path.display().to_string(), &text)
                .map_err(|e| Exit::usage(e.into()))?
        }
    };
    let baseline = args.baseline.as_deref().map(read_report).transpose()?;
    let results = evaluate_gates(&report, &profile.gates, baseline.as_ref().map(|(r, _)| r));
    println!("run {} ({})", report.run.id, file.display());
    if let Some((b, path)) = &baseline {
        println!("baseline {} ({})", b.run.id, path.display());
    }
    if results.is_empty() {
        println!("no gates configured");
    }
    for g in &results {
        println!(
            "{} {}: {} (threshold {})",
            if g.passed { "pass" } else { "FAIL" },
            g.gate,
            g.measured,
            g.threshold
        );
    }
    let failed = results.iter().filter(|g| !g.passed).count();
    if failed > 0 {
        eprintln!("{failed} of {} gates failed", results.len());
        return Ok(GATE_FAILED);
    }
    Ok(OK)
}
