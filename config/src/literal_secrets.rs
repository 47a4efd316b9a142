//! Literal secrets in a profile's text, replaced before the text is kept or shown.
//!
//! A profile should take its secrets through `${VAR}`, but one written literally
//! (`token = "sntrys_…"`, `url = "postgres://u:hunter2@db/…"`, a DSN's secret key, a
//! `${VAR:-default}` whose default is a secret) must not reach the run folder's
//! `profile.toml`, `profiles show` or an error's snippet. [`redact`] finds them in the parsed
//! document and rewrites only those values, so the text keeps its lines and stays a profile:
//! - a token or password (any key whose name holds `token`, `password` or `secret`) becomes
//!   `${SENTRY_LOAD_REDACTED_<KEY>}`;
//! - a URL or DSN keeps everything but its password (the DSN's secret key) and its credential
//!   query values, each becoming such a reference.
//!
//! A command that reads a redacted key from a run folder (`verify <run-dir>`) then asks for
//! that variable by name, instead of sending a wrong secret. Text that does not parse is
//! redacted line by line, for the snippet of its syntax error.

use crate::interpolate::references;
use crate::variables::walk_table;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The prefix of the variables that stand for redacted secrets.
pub(crate) const REDACTED_PREFIX: &str = "SENTRY_LOAD_REDACTED_";

/// A key whose name holds one of these holds a secret as a whole.
const SECRET_KEY_WORDS: [&str; 3] = ["token", "password", "secret"];

/// Query keys whose values are credentials (as [`sentry_load_common::redact::url`] hides them).
const SECRET_QUERY_KEYS: [&str; 5] = [
    "password",
    "sentry_secret",
    "token",
    "access_token",
    "sentry_key",
];

/// A profile's text with its literal secrets replaced.
#[derive(Debug, Clone)]
pub struct Redacted {
    /// The text to keep and show.
    pub text: String,
    /// The keys whose values were rewritten, in file order.
    pub keys: Vec<String>,
    /// Byte ranges of the original text and the length of what replaced each, in order.
    edits: Vec<(Range<usize>, usize)>,
}

impl Redacted {
    /// Where a byte offset of the original text lies in the redacted one (an offset inside a
    /// rewritten value maps to that value's start).
    pub(crate) fn offset(&self, original: usize) -> usize {
        let mut shift: isize = 0;
        for (range, new_len) in &self.edits {
            if original < range.start {
                break;
            }
            if original < range.end {
                return range.start.saturating_add_signed(shift);
            }
            shift += *new_len as isize - range.len() as isize;
        }
        original.saturating_add_signed(shift)
    }

    /// [`Redacted::offset`] of both ends of a span.
    pub(crate) fn span(&self, original: Range<usize>) -> Range<usize> {
        let start = self.offset(original.start);
        start..self.offset(original.end).max(start)
    }
}

/// `text` with every literal secret replaced (see the module docs).
pub fn redact(text: &str) -> Redacted {
    match DeTable::parse(text) {
        Ok(root) => redact_document(text, root.get_ref()),
        Err(_) => redact_lines(text),
    }
}

fn redact_document(text: &str, root: &DeTable<'_>) -> Redacted {
    let mut found: Vec<(Range<usize>, String, String)> = Vec::new();
    walk_table(root, "", &mut |key, value: &Spanned<DeValue<'_>>| {
        let DeValue::String(raw) = value.get_ref() else {
            return;
        };
        let Some(clean) = clean_value(key, raw) else {
            return;
        };
        let span = value.span();
        let Some(token) = text.get(span.clone()) else {
            return;
        };
        found.push((
            span,
            string_token(&clean, token.matches('\n').count()),
            key.to_owned(),
        ));
    });
    found.sort_by_key(|(span, _, _)| span.start);
    let mut out = String::with_capacity(text.len());
    let mut edits = Vec::new();
    let mut keys = Vec::new();
    let mut at = 0;
    for (span, replacement, key) in found {
        if span.start < at {
            continue;
        }
        out.push_str(&text[at..span.start]);
        out.push_str(&replacement);
        edits.push((span.clone(), replacement.len()));
        keys.push(key);
        at = span.end;
    }
    out.push_str(&text[at..]);
    Redacted {
        text: out,
        keys,
        edits,
    }
}

/// What a key's value becomes, when it holds a literal secret.
fn clean_value(key: &str, raw: &str) -> Option<String> {
    let name = key.rsplit('.').next().unwrap_or(key);
    let name = name.split('[').next().unwrap_or(name).to_ascii_lowercase();
    if SECRET_KEY_WORDS.iter().any(|s| name.contains(s)) {
        return (!only_references(raw)).then(|| reference(key, ""));
    }
    if name.contains("url") || name.contains("dsn") {
        return match credential_spans(raw) {
            None => Some(reference(key, "")),
            Some(spans) if spans.is_empty() => None,
            Some(spans) => {
                let mut out = String::with_capacity(raw.len());
                let mut at = 0;
                for (range, part) in spans {
                    out.push_str(&raw[at..range.start]);
                    out.push_str(&reference(key, &part));
                    at = range.end;
                }
                out.push_str(&raw[at..]);
                Some(out)
            }
        };
    }
    None
}

/// `${SENTRY_LOAD_REDACTED_<KEY>[_<PART>]}`.
fn reference(key: &str, part: &str) -> String {
    let mut name = String::from(REDACTED_PREFIX);
    let mut last_sep = true;
    for c in key.chars().chain(std::iter::once('_')).chain(part.chars()) {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_uppercase());
            last_sep = false;
        } else if !last_sep {
            name.push('_');
            last_sep = true;
        }
    }
    while name.ends_with('_') {
        name.pop();
    }
    format!("${{{name}}}")
}

/// Whether `raw` is made only of `${VAR}` references without defaults.
fn only_references(raw: &str) -> bool {
    let Ok(refs) = references(raw) else {
        return false;
    };
    let mut at = 0;
    for r in &refs {
        if r.span.start != at || r.default.is_some() {
            return false;
        }
        at = r.span.end;
    }
    !refs.is_empty() && at == raw.len()
}

/// The byte ranges of `raw` (a URL or DSN) that hold literal credentials, each named by what
/// it is; `None` when that cannot be told apart (a malformed reference, or a default that
/// holds credentials), so the whole value is a secret.
fn credential_spans(raw: &str) -> Option<Vec<(Range<usize>, String)>> {
    let refs = references(raw).ok()?;
    for r in &refs {
        if let Some(default) = &r.default
            && credential_spans(default).is_none_or(|s| !s.is_empty())
        {
            return None;
        }
    }
    // Bytes inside a reference are opaque: they are never a delimiter or a literal.
    let mut opaque = vec![false; raw.len()];
    for r in &refs {
        opaque[r.span.clone()].fill(true);
    }
    let in_ref = |i: usize| opaque[i];
    let literal = |range: &Range<usize>| range.clone().any(|i| !in_ref(i));
    let find = |from: usize, to: usize, set: &[u8]| {
        (from..to).find(|&i| !in_ref(i) && set.contains(&raw.as_bytes()[i]))
    };
    let mut out = Vec::new();
    let authority_start = (0..raw.len().saturating_sub(2))
        .find(|&i| !in_ref(i) && raw[i..].starts_with("://"))
        .map(|i| i + 3);
    let mut query_from = 0;
    if let Some(start) = authority_start {
        let end = find(start, raw.len(), b"/?#").unwrap_or(raw.len());
        query_from = end;
        let at_sign = (start..end)
            .rev()
            .find(|&i| !in_ref(i) && raw.as_bytes()[i] == b'@');
        if let Some(at_sign) = at_sign
            && let Some(colon) = find(start, at_sign, b":")
        {
            let password = colon + 1..at_sign;
            if literal(&password) {
                out.push((password, "password".to_owned()));
            }
        }
    }
    if let Some(q) = find(query_from, raw.len(), b"?") {
        let end = find(q, raw.len(), b"#").unwrap_or(raw.len());
        let mut pair_start = q + 1;
        while pair_start <= end {
            let pair_end = find(pair_start, end, b"&").unwrap_or(end);
            if let Some(eq) = find(pair_start, pair_end, b"=") {
                let name = raw[pair_start..eq].to_ascii_lowercase();
                let value = eq + 1..pair_end;
                if SECRET_QUERY_KEYS.contains(&name.as_str()) && literal(&value) {
                    out.push((value, name));
                }
            }
            pair_start = pair_end + 1;
        }
    }
    Some(out)
}

/// A TOML basic string holding `value`, over as many lines as the token it replaces: each
/// line-ending backslash of a multi-line string joins the next line without adding to it.
fn string_token(value: &str, newlines: usize) -> String {
    let mut escaped = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            c if c.is_control() => escaped.push_str(&format!("\\u{:04X}", c as u32)),
            c => escaped.push(c),
        }
    }
    if newlines == 0 {
        format!("\"{escaped}\"")
    } else {
        format!("\"\"\"{}{escaped}\"\"\"", "\\\n".repeat(newlines))
    }
}

/// Text that does not parse, redacted line by line: a quoted value after a secret-looking
/// key, and a URL's password, become `***`.
fn redact_lines(text: &str) -> Redacted {
    let mut out = String::with_capacity(text.len());
    let mut edits = Vec::new();
    let mut keys = Vec::new();
    let mut line_start = 0;
    for (line_no, line) in (1..).zip(text.split_inclusive('\n')) {
        let mut masks = secret_assignments(line);
        masks.extend(url_passwords(line));
        masks.sort_by_key(|r| r.start);
        let mut at = 0;
        for m in masks {
            if m.start < at {
                continue;
            }
            out.push_str(&line[at..m.start]);
            out.push_str("***");
            edits.push((line_start + m.start..line_start + m.end, 3));
            at = m.end;
        }
        if at > 0 {
            keys.push(format!("line {line_no}"));
        }
        out.push_str(&line[at..]);
        line_start += line.len();
    }
    Redacted {
        text: out,
        keys,
        edits,
    }
}

/// The insides of quoted values assigned to secret-looking keys on one line.
fn secret_assignments(line: &str) -> Vec<Range<usize>> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    for (eq, _) in line.match_indices('=') {
        let key_end = line[..eq].trim_end().len();
        let key_start = line[..key_end]
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '"'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let key = line[key_start..key_end].to_ascii_lowercase();
        if !SECRET_KEY_WORDS.iter().any(|s| key.contains(s)) {
            continue;
        }
        let value_start = eq + 1 + (line[eq + 1..].len() - line[eq + 1..].trim_start().len());
        let Some(&quote) = bytes.get(value_start) else {
            continue;
        };
        if quote != b'"' && quote != b'\'' {
            continue;
        }
        let inner = value_start + 1;
        let end = line[inner..]
            .find(quote as char)
            .map_or(line.trim_end_matches(['\n', '\r']).len(), |i| inner + i);
        if end > inner {
            out.push(inner..end);
        }
    }
    out
}

/// The passwords of `scheme://user:password@` on one line.
fn url_passwords(line: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices("://") {
        let start = i + 3;
        let end = line[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '/' | '?' | '#'))
            .map_or(line.len(), |j| start + j);
        let Some(at_sign) = line[start..end].rfind('@').map(|j| start + j) else {
            continue;
        };
        if let Some(colon) = line[start..at_sign].find(':').map(|j| start + j)
            && colon + 1 < at_sign
        {
            out.push(colon + 1..at_sign);
        }
    }
    out
}

#[cfg(test)]
mod tests;
