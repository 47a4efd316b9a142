//! `gate <run>`: a finished run's report checked against gates — its own profile's (the
//! `profile.toml` copied into the run folder) or another profile's — and a baseline run for
//! the relative gates.

use crate::error::{Failure, Verdict};
use crate::folder;
use crate::output;
use crate::profile;
use sentry_load_reports::{evaluate_gates, not_comparable_because};
use std::path::PathBuf;

/// What the command line asks of `gate`.
#[derive(Debug, Clone)]
pub struct GateRequest {
    /// The run folder (or its report.json).
    pub run: PathBuf,
    /// Check these gates instead of the run's own profile's (name or path).
    pub profile: Option<String>,
    /// A previous run for the baseline gates.
    pub baseline: Option<PathBuf>,
}

/// Prints one line per gate; `GatesFailed` names each failed one.
pub fn gate(request: GateRequest) -> Result<Verdict, Failure> {
    let (report, file) = folder::read_report(&request.run)?;
    let profile = match &request.profile {
        Some(name) => profile::load(name)?.profile,
        None => folder::profile_beside(&file, " (or pass --profile)")?,
    };
    let baseline = request
        .baseline
        .as_deref()
        .map(folder::read_report)
        .transpose()?;
    let mut results = evaluate_gates(&report, &profile.gates, baseline.as_ref().map(|(r, _)| r));
    // An abort gate was judged while the run sent, on what no report keeps: the run it cut
    // short keeps failing it, whatever gates it is checked against now.
    if let Some(name) = &report.run.aborted_by
        && let Some(aborted) = report.gates.iter().find(|g| &g.gate == name)
    {
        results.insert(0, aborted.clone());
    }
    output::line(format_args!("run {} ({})", report.run.id, file.display()));
    if let Some((b, path)) = &baseline {
        output::line(format_args!("baseline {} ({})", b.run.id, path.display()));
        let differs = not_comparable_because(b, &report);
        if !differs.is_empty() {
            eprintln!(
                "warning: the baseline is not comparable with this run: {}",
                differs.join("; ")
            );
        }
    }
    if results.is_empty() {
        output::line("no gates configured");
    }
    for g in &results {
        output::line(format_args!(
            "{} {}: {} (threshold {})",
            if g.passed { "pass" } else { "FAIL" },
            g.gate,
            g.measured,
            g.threshold
        ));
    }
    let failed = results.iter().filter(|g| !g.passed).count();
    if failed > 0 {
        eprintln!("{failed} of {} gates failed", results.len());
    }
    Ok(Verdict::from_passed(failed == 0))
}
