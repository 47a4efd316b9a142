//! The commands' standard output, written in one place. A reader that stops early
//! (`sentry-load compare A B | head -1`) closes the pipe: what is left is not written, and the
//! command ends as it would have — with its own exit code, never a panic (Rust's `print!`
//! panics on a closed pipe).

use std::io::{ErrorKind, Write};

/// Writes `text` to standard output as it is.
pub fn text(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != ErrorKind::BrokenPipe
    {
        eprintln!("warning: cannot write to standard output: {e}");
    }
}

/// Writes `line` and a newline to standard output.
pub fn line(line: impl std::fmt::Display) {
    text(&format!("{line}\n"));
}
