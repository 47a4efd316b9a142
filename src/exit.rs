//! Exit codes, as documented in the README:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | ran, every gate passed |
//! | 1 | ran, a gate failed |
//! | 2 | usage or profile error |
//! | 3 | the target or a read-back service is unreachable |
//! | 4 | internal error (e.g. the run folder could not be written) |

use std::process::ExitCode;

/// Every gate passed.
pub const OK: u8 = 0;
/// A gate failed.
pub const GATE_FAILED: u8 = 1;
const USAGE: u8 = 2;
/// The target or a service is unreachable.
pub const UNREACHABLE: u8 = 3;
const INTERNAL: u8 = 4;

/// A command's failure, with the exit code it maps to.
#[derive(Debug)]
pub struct Exit {
    code: u8,
    error: anyhow::Error,
}

impl Exit {
    /// Usage or profile error (2).
    pub fn usage(error: anyhow::Error) -> Exit {
        Exit { code: USAGE, error }
    }

    /// Target or service unreachable (3).
    pub fn unreachable(error: anyhow::Error) -> Exit {
        Exit {
            code: UNREACHABLE,
            error,
        }
    }

    /// Internal error (4).
    pub fn internal(error: anyhow::Error) -> Exit {
        Exit {
            code: INTERNAL,
            error,
        }
    }

    /// The exit code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The error chain on one line.
    pub fn message(&self) -> String {
        format!("{:#}", self.error)
    }
}

/// Prints the error chain and returns its exit code.
pub fn report(e: Exit) -> ExitCode {
    eprintln!("error: {:#}", e.error);
    ExitCode::from(e.code)
}

/// Maps any error to an internal failure, for `?` on I/O.
pub trait OrInternal<T> {
    /// Wraps the error as [`Exit::internal`] with context.
    fn internal(self, what: &str) -> Result<T, Exit>;
}

impl<T, E: Into<anyhow::Error>> OrInternal<T> for Result<T, E> {
    fn internal(self, what: &str) -> Result<T, Exit> {
        self.map_err(|e| Exit::internal(e.into().context(what.to_owned())))
    }
}
