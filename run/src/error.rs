//! How a command ends: a [`Verdict`] when it ran, a [`Failure`] when it could not. The binary
//! maps each to its documented exit code; nothing here knows the numbers.

use std::fmt;

/// A command that ran: whether its gates passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Every gate passed (or there were none).
    Passed,
    /// At least one gate failed.
    GatesFailed,
    /// The run was stopped before its schedule ended; its report says what was sent.
    Interrupted,
}

impl Verdict {
    /// `Passed` when `passed`.
    pub fn from_passed(passed: bool) -> Verdict {
        if passed {
            Verdict::Passed
        } else {
            Verdict::GatesFailed
        }
    }
}

/// What kind of failure, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The command line or the profile is wrong.
    Usage,
    /// The target or a read-back service does not answer.
    Unreachable,
    /// Something here failed (the run folder could not be written, a task died).
    Internal,
}

/// A command that could not finish: its kind and the error chain.
#[derive(Debug)]
pub struct Failure {
    kind: FailureKind,
    error: anyhow::Error,
}

impl Failure {
    /// The command line or the profile is wrong.
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            kind: FailureKind::Usage,
            error: error.into(),
        }
    }

    /// The target or a service does not answer.
    pub fn unreachable(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            kind: FailureKind::Unreachable,
            error: error.into(),
        }
    }

    /// Something here failed.
    pub fn internal(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            kind: FailureKind::Internal,
            error: error.into(),
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The error chain on one line.
    pub fn message(&self) -> String {
        format!("{:#}", self.error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

/// Maps any error to an internal failure, for `?` on I/O.
pub trait OrInternal<T> {
    /// Wraps the error as [`Failure::internal`] with what was being done.
    fn internal(self, what: &str) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> OrInternal<T> for Result<T, E> {
    fn internal(self, what: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure::internal(e.into().context(what.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_verdict_is_the_largest() {
        let worst = [Verdict::Passed, Verdict::GatesFailed, Verdict::Passed]
            .into_iter()
            .max();
        assert_eq!(worst, Some(Verdict::GatesFailed));
        assert_eq!(Verdict::from_passed(true), Verdict::Passed);
    }

    #[test]
    fn internal_keeps_what_was_being_done() {
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("disk full"));
        let f = r.internal("writing the report").unwrap_err();
        assert_eq!(f.kind(), FailureKind::Internal);
        assert_eq!(f.message(), "writing the report: disk full");
    }
}
