//! `${VAR}` and `${VAR:-default}` in profile strings, resolved from the environment.
//!
//! Interpolation happens on the parsed string value, never on the file's text, so error
//! snippets show `${SENTRY_DSN}` and never the secret it stands for.

/// Replaces every `${NAME}` / `${NAME:-default}` in `raw` by the environment's value.
/// `$` not followed by `{` stays as it is.
///
/// Errors name the variable that is unset (or the malformed reference), never a value.
pub fn interpolate(raw: &str) -> Result<String, String> {
    interpolate_with(raw, |name| std::env::var(name).ok())
}

pub(crate) fn interpolate_with(
    raw: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "`${` without a closing `}`".to_string())?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let valid = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(format!(
                "`${{{name}}}` is not a variable reference (names are letters, digits and `_`)"
            ));
        }
        match (lookup(name), default) {
            (Some(v), _) if !v.is_empty() => out.push_str(&v),
            (_, Some(d)) => out.push_str(d),
            (_, None) => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
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
    }

    #[test]
    fn errors_name_the_variable_not_a_value() {
        let e = interpolate_with("${MISSING}", env).unwrap_err();
        assert_eq!(e, "environment variable MISSING is not set");
        assert!(interpolate_with("${DSN", env).is_err());
        assert!(interpolate_with("${1X}", env).is_err());
    }
}
