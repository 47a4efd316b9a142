//! The `${VAR}` references of a profile, found where they are written: the key that holds
//! each, whether the environment sets it, and its place in the file. A profile parses without
//! its environment (an unset reference leaves a placeholder that is never used); each command
//! then requires only the keys it reads ([`crate::Profile::require`]), so `dsn` runs without
//! the DSN it is meant to find and `gate` without any secret.

use crate::error::{InvalidProfile, ProfileError};
use crate::interpolate::{Reference, references};
use crate::literal_secrets::{REDACTED_PREFIX, redact};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One `${VAR}` reference in a profile.
#[derive(Debug, Clone)]
pub struct VariableUse {
    /// The key that holds it (`target.dsn`, `target.projects[1].dsn`).
    pub key: String,
    /// The variable's name.
    pub variable: String,
    /// Whether a default (`${VAR:-default}`) stands in when it is unset.
    pub has_default: bool,
    /// Whether the environment sets it (to a non-empty value).
    pub set: bool,
    /// Where it is written, for the error when a command needs it and it is unset.
    pub(crate) place: Box<InvalidProfile>,
}

impl VariableUse {
    /// Unset and without a default: a command that reads its key cannot run.
    pub fn missing(&self) -> bool {
        !self.set && !self.has_default
    }

    /// The 1-based line it is written on.
    pub fn place_line(&self) -> usize {
        self.place.line
    }

    /// The error a command reading this key gives.
    pub(crate) fn error(&self) -> ProfileError {
        ProfileError::Invalid(self.place.clone())
    }
}

/// Every reference in `text`, in file order, with `lookup` telling which variables are set.
pub(crate) fn find(
    file: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<VariableUse> {
    let Ok(root) = DeTable::parse(text) else {
        // The parser reports a malformed document on its own.
        return Vec::new();
    };
    // Redacted once, and only for a profile that has references to place.
    let shown = std::cell::OnceCell::new();
    let mut out = Vec::new();
    walk_table(
        root.get_ref(),
        "",
        &mut |key, value: &Spanned<DeValue<'_>>| {
            let DeValue::String(raw) = value.get_ref() else {
                return;
            };
            // A malformed reference is reported when the value itself is parsed.
            let Ok(refs) = references(raw) else {
                return;
            };
            for Reference { name, default, .. } in refs {
                let set = lookup(&name).is_some_and(|v| !v.is_empty());
                let message = unset_message(&name);
                let ProfileError::Invalid(place) = ProfileError::at_shown(
                    file,
                    shown.get_or_init(|| redact(text)),
                    Some(value.span()),
                    key.to_owned(),
                    message,
                ) else {
                    continue;
                };
                out.push(VariableUse {
                    key: key.to_owned(),
                    variable: name,
                    has_default: default.is_some(),
                    set,
                    place,
                });
            }
        },
    );
    out.sort_by_key(|u| (u.place.line, u.place.column));
    out
}

/// Why a command cannot read a key: its variable is unset (a redacted secret says so).
fn unset_message(name: &str) -> String {
    if name.starts_with(REDACTED_PREFIX) {
        format!(
            "environment variable {name} is not set: the profile wrote this secret literally, \
             and a run folder keeps no secret; set {name} to it (or write `${{VAR}}` in the profile)"
        )
    } else {
        format!("environment variable {name} is not set")
    }
}

/// Visits every value of `table` that is not a table or array, with its key path.
pub(crate) fn walk_table(
    table: &DeTable<'_>,
    prefix: &str,
    visit: &mut dyn FnMut(&str, &Spanned<DeValue<'_>>),
) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        walk_value(value, &path, visit);
    }
}

fn walk_value(
    value: &Spanned<DeValue<'_>>,
    path: &str,
    visit: &mut dyn FnMut(&str, &Spanned<DeValue<'_>>),
) {
    match value.get_ref() {
        DeValue::Table(t) => walk_table(t, path, visit),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_value(item, &format!("{path}[{i}]"), visit);
            }
        }
        _ => visit(path, value),
    }
}

/// Whether `key` is `scope` or inside it (`verify.postgres.url` is inside `verify`;
/// `target.projects[0].dsn` inside `target.projects`). The empty scope holds every key.
pub(crate) fn within(key: &str, scope: &str) -> bool {
    scope.is_empty()
        || key == scope
        || key
            .strip_prefix(scope)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "seed = 1\n[target]\ndsn = \"${DSN}\"\n[[target.projects]]\n\
                        dsn = \"http://${HOST:-h}/1\"\n[verify.postgres]\nurl = \"${PG}\"\n";

    fn env(name: &str) -> Option<String> {
        (name == "PG").then(|| "postgres://x".to_owned())
    }

    #[test]
    fn every_reference_is_found_with_its_key_and_place() {
        let uses = find("p.toml", TEXT, &env);
        let found: Vec<_> = uses
            .iter()
            .map(|u| (u.key.as_str(), u.variable.as_str(), u.set, u.missing()))
            .collect();
        assert_eq!(
            found,
            [
                ("target.dsn", "DSN", false, true),
                ("target.projects[0].dsn", "HOST", false, false),
                ("verify.postgres.url", "PG", true, false),
            ]
        );
        assert_eq!(
            (uses[0].place.line, uses[0].place.key.as_str()),
            (3, "target.dsn")
        );
        assert!(uses[0].error().to_string().contains("DSN is not set"));
    }

    #[test]
    fn a_scope_holds_its_keys_and_no_sibling() {
        assert!(within("verify.postgres.url", "verify"));
        assert!(within("verify.postgres.url", "verify.postgres"));
        assert!(within("target.projects[0].dsn", "target.projects"));
        assert!(!within("verify_extra", "verify"));
        assert!(!within("target.dsn", "verify"));
        assert!(within("target.dsn", ""));
    }
}
