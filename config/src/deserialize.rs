//! From a profile's text to its schema types: the first error, located, for the commands
//! that load a profile, or every error in file order for `profiles check`.
//!
//! Every error is found on the parsed document: after each one, the entry it names is taken
//! out and the document deserialized again, so one error does not hide the next. An error
//! that only follows from an entry taken out (a required key now missing) is not reported.
//! Unknown keys and variants name the closest allowed one ("did you mean").

use crate::error::ProfileError;
use crate::literal_secrets::{Redacted, redact};
use crate::schema::Profile;
use serde_path_to_error::Segment;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The most errors one check reports; a file with more is not worth reading further.
pub(crate) const MAX_ERRORS: usize = 50;

/// One step of the path to a value: a key of a table, or an index of an array.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A failed deserialization: the located error and the path of the entry it names.
struct Failed {
    error: ProfileError,
    key: String,
    path: Vec<Step>,
    /// The key a "missing field" error names (`verify.sentry_api.token`).
    missing_key: Option<String>,
}

/// The parsed document, or its first syntax error.
pub(crate) fn document<'t>(
    file: &str,
    text: &'t str,
) -> Result<Spanned<DeTable<'t>>, ProfileError> {
    DeTable::parse(text)
        .map_err(|e| ProfileError::at(file, text, e.span(), String::new(), e.message().to_owned()))
}

/// The profile the document describes, or its first error.
pub(crate) fn first_error(
    file: &str,
    text: &str,
    root: Spanned<DeTable<'_>>,
) -> Result<Profile, ProfileError> {
    // Only an error needs the redacted text, for its snippet.
    deserialize(file, text, None, root).map_err(|f| f.error)
}

/// Every error of `text` in file order (at most [`MAX_ERRORS`]); `check` runs on the profile
/// once the document deserializes, for the rules that span several keys.
pub(crate) fn every_error(
    file: &str,
    text: &str,
    check: impl Fn(Profile) -> Result<(), ProfileError>,
) -> Vec<ProfileError> {
    let (mut root, syntax) = DeTable::parse_recoverable(text);
    let shown = redact(text);
    if !syntax.is_empty() {
        // A document that does not parse is not read further: what follows a syntax error
        // is the parser's guess.
        let mut errors: Vec<ProfileError> = syntax
            .iter()
            .take(MAX_ERRORS)
            .map(|e| {
                ProfileError::at_shown(file, &shown, e.span(), String::new(), e.message().into())
            })
            .collect();
        errors.sort_by_key(|e| e.invalid().map(|i| (i.line, i.column)));
        return errors;
    }
    let mut errors = Vec::new();
    let mut taken_out: Vec<String> = Vec::new();
    // Each round takes an entry out, so the rounds end; the bound keeps a hostile file cheap.
    for _ in 0..MAX_ERRORS * 4 {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        let failed = match deserialize(file, text, Some(&shown), root.clone()) {
            Ok(profile) => {
                if let Err(e) = check(profile)
                    && !e
                        .invalid()
                        .is_some_and(|i| taken_out.iter().any(|t| within(t, &i.key)))
                {
                    errors.push(e);
                }
                break;
            }
            Err(failed) => failed,
        };
        // An error about what was taken out, or about a table it was taken from, follows
        // from taking it out and is not the file's.
        let consequence = taken_out
            .iter()
            .any(|t| failed.missing_key.as_ref() == Some(t) || within(t, &failed.key));
        if failed.missing_key.is_some() && consequence {
            break;
        }
        if !consequence {
            errors.push(failed.error);
        }
        if failed.missing_key.is_some() {
            break;
        }
        // Take out the entry named, or the nearest table still holding it.
        let mut path = failed.path.clone();
        loop {
            if path.is_empty() {
                break;
            }
            if take_out(root.get_mut(), &path) {
                taken_out.push(failed.key.clone());
                taken_out.push(path_key(&path));
                break;
            }
            path.pop();
        }
        if path.is_empty() {
            break;
        }
    }
    errors.sort_by_key(|e| e.invalid().map(|i| (i.line, i.column)));
    errors.truncate(MAX_ERRORS);
    errors
}

/// A path as the key the errors name (`traffic.stages.0`).
fn path_key(path: &[Step]) -> String {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `key` is `scope` or inside it, in the errors' own key form (`a.b.0.c`).
fn within(key: &str, scope: &str) -> bool {
    !scope.is_empty()
        && (key == scope
            || key
                .strip_prefix(scope)
                .is_some_and(|rest| rest.starts_with('.')))
}

/// `shown` is `text` redacted, when it was already made; an error makes it otherwise.
fn deserialize(
    file: &str,
    text: &str,
    shown: Option<&Redacted>,
    root: Spanned<DeTable<'_>>,
) -> Result<Profile, Box<Failed>> {
    let de = toml::de::Deserializer::from(root);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut names = Vec::new();
        let mut path = Vec::new();
        for segment in e.path().iter() {
            match segment {
                Segment::Map { key } if key.starts_with("$__") => {}
                Segment::Map { key } => {
                    names.push(key.clone());
                    path.push(Step::Key(key.clone()));
                }
                Segment::Seq { index } => {
                    names.push(index.to_string());
                    path.push(Step::Index(*index));
                }
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        let inner = e.into_inner();
        let mut message = inner.message().to_owned();
        let missing = named_in(&message, "missing field `");
        let unknown = named_in(&message, "unknown field `");
        if let Some(field) = unknown
            && names.last().map(String::as_str) != Some(field)
        {
            names.push(field.to_owned());
            path.push(Step::Key(field.to_owned()));
        }
        let key = names.join(".");
        let missing_key = missing.map(|field| {
            let mut k = names.clone();
            k.push(field.to_owned());
            k.join(".")
        });
        if let Some(hint) = did_you_mean(&message) {
            message.push_str(&hint);
        }
        let made;
        let shown = match shown {
            Some(shown) => shown,
            None => {
                made = redact(text);
                &made
            }
        };
        Box::new(Failed {
            error: ProfileError::at_shown(file, shown, inner.span(), key.clone(), message),
            key,
            path,
            missing_key,
        })
    })
}

/// The name in backticks right after `prefix` at the start of `message`.
fn named_in<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// "; did you mean `token`?" for an unknown key or variant close to an allowed one.
fn did_you_mean(message: &str) -> Option<String> {
    let given = named_in(message, "unknown field `").or(named_in(message, "unknown variant `"))?;
    let (_, allowed) = message.split_once("expected ")?;
    let best = allowed
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|candidate| (strsim::damerau_levenshtein(given, candidate), candidate))
        .min_by_key(|(distance, _)| *distance)?;
    let near = best.0 <= (given.chars().count() / 3).max(1)
        || best.1.eq_ignore_ascii_case(given)
        || (best.1.contains(given) && given.len() >= 3);
    near.then(|| format!("; did you mean `{}`?", best.1))
}

/// Takes the entry at `path` out of the document; `false` when there is none to take out.
fn take_out(table: &mut DeTable<'_>, path: &[Step]) -> bool {
    let Some((Step::Key(first), rest)) = path.split_first() else {
        return false;
    };
    if rest.is_empty() {
        let before = table.len();
        let mut kept = DeTable::new();
        for (k, v) in std::mem::take(table) {
            if k.get_ref().as_ref() != first.as_str() {
                kept.insert(k, v);
            }
        }
        *table = kept;
        return table.len() < before;
    }
    let Some((_, value)) = table
        .iter_mut()
        .find(|(k, _)| k.get_ref().as_ref() == first.as_str())
    else {
        return false;
    };
    take_out_of_value(value.get_mut(), rest)
}

fn take_out_of_value(value: &mut DeValue<'_>, path: &[Step]) -> bool {
    match (value, path.split_first()) {
        (DeValue::Table(t), Some((Step::Key(_), _))) => take_out(t, path),
        (DeValue::Array(items), Some((Step::Index(i), rest))) => {
            if *i >= items.len() {
                return false;
            }
            if rest.is_empty() {
                let mut kept = toml::de::DeArray::new();
                for (j, item) in items.iter().enumerate() {
                    if j != *i {
                        kept.push(item.clone());
                    }
                }
                *items = kept;
                true
            } else {
                take_out_of_value((**items)[*i].get_mut(), rest)
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
