//! Exit codes, as documented in the README:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | ran, every gate passed |
//! | 1 | ran, a gate failed (or an abort gate stopped the run) |
//! | 2 | usage or profile error |
//! | 3 | the target or a read-back service is unreachable |
//! | 4 | internal error (e.g. the run folder could not be written) |
//! | 130 | interrupted (Ctrl-C or SIGTERM): the report of what was sent is written |

use sentry_load_run::{Failure, FailureKind, Verdict};
use std::process::ExitCode;

/// The code of a command that ran.
pub fn of_verdict(v: Verdict) -> ExitCode {
    ExitCode::from(match v {
        Verdict::Passed => 0,
        Verdict::GatesFailed => 1,
        Verdict::Interrupted => 130,
    })
}

/// Prints the error chain and returns its code.
pub fn of_failure(f: Failure) -> ExitCode {
    eprintln!("error: {f}");
    ExitCode::from(match f.kind() {
        FailureKind::Usage => 2,
        FailureKind::Unreachable => 3,
        FailureKind::Internal => 4,
    })
}
