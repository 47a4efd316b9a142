//! Profile errors that point at the exact place: file, line, column, key path, value, and what
//! is allowed.

use crate::literal_secrets::{Redacted, redact};
use std::fmt;
use std::path::PathBuf;

/// A profile could not be found, read, or accepted.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No file and no shipped profile has that name.
    #[error("no profile named `{name}` (looked for {searched}); available: {available}")]
    NotFound {
        /// What was asked for.
        name: String,
        /// Where it was looked for.
        searched: String,
        /// Profiles that exist.
        available: String,
    },
    /// The file exists but could not be read.
    #[error("cannot read profile {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is not a valid profile.
    #[error("{0}")]
    Invalid(Box<InvalidProfile>),
}

/// Where and why a profile is invalid.
#[derive(Debug, Clone)]
pub struct InvalidProfile {
    /// The file (or `shipped:<name>`).
    pub file: String,
    /// 1-based line, 0 when the place is unknown.
    pub line: usize,
    /// 1-based column in characters, 0 when the place is unknown.
    pub column: usize,
    /// The key path, e.g. `traffic.rate`; empty for the document itself.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
    /// The offending line and a caret under the bad value.
    pub snippet: String,
}

impl ProfileError {
    /// Builds an `Invalid` error from a byte span in `text`.
    pub(crate) fn at(
        file: &str,
        text: &str,
        span: Option<std::ops::Range<usize>>,
        key: String,
        message: String,
    ) -> ProfileError {
        ProfileError::at_shown(file, &redact(text), span, key, message)
    }

    /// [`ProfileError::at`] with the text's redaction already made: the snippet is cut from
    /// the redacted text, so it never shows a literal secret.
    pub(crate) fn at_shown(
        file: &str,
        shown: &Redacted,
        span: Option<std::ops::Range<usize>>,
        key: String,
        message: String,
    ) -> ProfileError {
        let (line, column, snippet) = match span {
            Some(span) => locate(&shown.text, shown.span(span)),
            None => (0, 0, String::new()),
        };
        ProfileError::Invalid(Box::new(InvalidProfile {
            file: file.to_owned(),
            line,
            column,
            key,
            message,
            snippet,
        }))
    }

    /// The details, when the profile was read but is invalid.
    pub fn invalid(&self) -> Option<&InvalidProfile> {
        match self {
            ProfileError::Invalid(i) => Some(i),
            _ => None,
        }
    }
}

fn locate(text: &str, span: std::ops::Range<usize>) -> (usize, usize, String) {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_no = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let src = text[line_start..line_end].trim_end_matches('\r');
    let width = text[start..span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    let gutter = line_no.to_string().len();
    let snippet = format!(
        "{:gutter$} |\n{line_no} | {src}\n{:gutter$} | {}{}",
        "",
        "",
        " ".repeat(column - 1),
        "^".repeat(width)
    );
    (line_no, column, snippet)
}

impl fmt::Display for InvalidProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, ": `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.snippet.is_empty() {
            write!(f, "\n{}", self.snippet)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_the_value() {
        let text = "seed = 1\n[traffic]\nrate = -5\n";
        let start = text.find("-5").unwrap();
        let e = ProfileError::at(
            "p.toml",
            text,
            Some(start..start + 2),
            "traffic.rate".into(),
            "bad".into(),
        );
        let shown = e.to_string();
        assert!(
            shown.starts_with("p.toml:3:8: `traffic.rate`: bad"),
            "{shown}"
        );
        assert!(shown.contains("3 | rate = -5"), "{shown}");
        assert!(shown.ends_with("|        ^^"), "{shown}");
    }
}
