//! `${VAR}` and `${VAR:-default}` in profile strings, resolved from the environment.
//!
//! Interpolation happens on the parsed string value, never on the file's text, so error
//! snippets show `${SENTRY_DSN}` and never the secret it stands for.

/// Replaces every `${NAME}` / `${NAME:-default}` in `raw` by the environment's value.
/// `$` not followed by `{` stays as it is.
///
/// Errors name the variable that is unset (or the malformed reference), never a value.
pub fn interpolate(raw: &str) -> Result<String, String> {
    resolve(raw).map_err(|e| e.to_string())
}

/// Why a string could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unresolved {
    /// A variable without a default is unset (or empty).
    Unset(String),
    /// The reference is not well formed.
    Malformed(String),
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolved::Unset(name) => write!(f, "environment variable {name} is not set"),
            Unresolved::Malformed(why) => f.write_str(why),
        }
    }
}

/// [`interpolate`] from the process environment, with the reason typed.
pub(crate) fn resolve(raw: &str) -> Result<String, Unresolved> {
    interpolate_with(raw, |name| std::env::var(name).ok())
}

/// One `${NAME}` or `${NAME:-default}` in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// The variable.
    pub name: String,
    /// What stands in when it is unset.
    pub default: Option<String>,
    /// Where it is written in the string, `${` to `}`.
    pub span: std::ops::Range<usize>,
}

/// The references in `raw`, in order; text between them is left aside.
pub(crate) fn references(raw: &str) -> Result<Vec<Reference>, Unresolved> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        let offset = raw.len() - rest.len() + start;
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| Unresolved::Malformed("`${` without a closing `}`".into()))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d.to_owned())),
            None => (inner, None),
        };
        let valid = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(Unresolved::Malformed(format!(
                "`${{{name}}}` is not a variable reference (names are letters, digits and `_`)"
            )));
        }
        out.push(Reference {
            name: name.to_owned(),
            default,
            span: offset..offset + 2 + end + 1,
        });
        rest = &after[end + 1..];
    }
    Ok(out)
}

pub(crate) fn interpolate_with(
    raw: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Unresolved> {
    let refs = references(raw)?;
    let mut out = String::with_capacity(raw.len());
    let mut at = 0;
    for r in refs {
        out.push_str(&raw[at..r.span.start]);
        match (lookup(&r.name), r.default) {
            (Some(v), _) if !v.is_empty() => out.push_str(&v),
            (_, Some(d)) => out.push_str(&d),
            (_, None) => return Err(Unresolved::Unset(r.name)),
        }
        at = r.span.end;
    }
    out.push_str(&raw[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DSN" => Some("https://k@h/1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn resolves_references_and_defaults() {
        assert_eq!(interpolate_with("${DSN}", env).unwrap(), "https://k@h/1");
        assert_eq!(interpolate_with("a ${NOPE:-b} c", env).unwrap(), "a b c");
        assert_eq!(interpolate_with("${EMPTY:-x}", env).unwrap(), "x");
        assert_eq!(interpolate_with("cost: $5", env).unwrap(), "cost: $5");
        let spans: Vec<_> = references("a${X}b${Y:-z}")
            .unwrap()
            .into_iter()
            .map(|r| r.span)
            .collect();
        assert_eq!(spans, [1..5, 6..13]);
    }

    #[test]
    fn errors_name_the_variable_not_a_value() {
        let e = interpolate_with("${MISSING}", env).unwrap_err();
        assert_eq!(e.to_string(), "environment variable MISSING is not set");
        assert_eq!(e, Unresolved::Unset("MISSING".into()));
        assert!(interpolate_with("${DSN", env).is_err());
        assert!(interpolate_with("${1X}", env).is_err());
    }
}
