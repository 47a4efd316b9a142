//! Finding, parsing and checking a profile.

use crate::error::ProfileError;
use crate::schema::{Profile, TargetKind};
use crate::shipped::{SHIPPED_PROFILES, shipped_profile};
use sentry_load_common::fnv1a;
use std::path::{Path, PathBuf};

/// A profile ready to run, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    /// The profile's name (file stem, or the shipped name).
    pub name: String,
    /// Where it was read: a path, or `shipped:<name>`.
    pub source: String,
    /// FNV-1a of the file's bytes, 16 hex digits: tells whether two runs used the same profile.
    pub hash: String,
    /// The TOML text as read (`${VAR}` references unresolved, so it holds no secret).
    pub text: String,
    /// The parsed, checked profile.
    pub profile: Profile,
}

/// Loads a profile by name or path.
///
/// A value containing `/` or ending in `.toml` is a path. A bare name is looked up as
/// `profiles/<name>.toml` under `dir`, then among the profiles shipped inside the binary.
pub fn load_profile(name_or_path: &str, dir: &Path) -> Result<LoadedProfile, ProfileError> {
    let is_path = name_or_path.contains('/')
        || name_or_path.contains('\\')
        || name_or_path.ends_with(".toml");
    let local = if is_path {
        PathBuf::from(name_or_path)
    } else {
        dir.join("profiles").join(format!("{name_or_path}.toml"))
    };
    if is_path || local.exists() {
        let text = std::fs::read_to_string(&local).map_err(|source| ProfileError::Read {
            path: local.clone(),
            source,
        })?;
        let name = local.file_stem().map_or_else(
            || name_or_path.to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        return finish(name, local.display().to_string(), text);
    }
    if let Some(text) = shipped_profile(name_or_path) {
        return finish(
            name_or_path.to_owned(),
            format!("shipped:{name_or_path}"),
            text.to_owned(),
        );
    }
    let shipped: Vec<&str> = SHIPPED_PROFILES.iter().map(|(n, _)| *n).collect();
    Err(ProfileError::NotFound {
        name: name_or_path.to_owned(),
        searched: format!("{} and the shipped profiles", local.display()),
        available: shipped.join(", "),
    })
}

fn finish(name: String, source: String, text: String) -> Result<LoadedProfile, ProfileError> {
    let profile = parse_profile(&source, &text)?;
    Ok(LoadedProfile {
        name,
        hash: format!("{:016x}", fnv1a(text.as_bytes())),
        source,
        text,
        profile,
    })
}

/// Parses and checks profile text; `file` names it in errors.
pub fn parse_profile(file: &str, text: &str) -> Result<Profile, ProfileError> {
    let de = toml::de::Deserializer::parse(text).map_err(|e| {
        ProfileError::at(file, text, e.span(), String::new(), e.message().to_owned())
    })?;
    let profile: Profile = serde_path_to_error::deserialize(de).map_err(|e| {
        let mut segments: Vec<String> = e
            .path()
            .iter()
            .map(|s| s.to_string())
            .filter(|s| s != "." && !s.starts_with("$__"))
            .collect();
        let inner = e.into_inner();
        let message = inner.message().to_owned();
        if let Some(field) = unknown_field(&message)
            && segments.last().map(String::as_str) != Some(field)
        {
            segments.push(field.to_owned());
        }
        ProfileError::at(file, text, inner.span(), segments.join("."), message)
    })?;
    check(&profile, file, text)?;
    Ok(profile)
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Rules that span several keys.
fn check(p: &Profile, file: &str, text: &str) -> Result<(), ProfileError> {
    let err = |span, key: &str, message: String| {
        Err(ProfileError::at(
            file,
            text,
            Some(span),
            key.to_owned(),
            message,
        ))
    };
    let kind_span = p.target.kind.span();
    let sources = p.verify.clickhouse.is_some() || p.verify.sentry_api.is_some();
    match (p.target.kind.get_ref(), &p.target.dsn) {
        (TargetKind::Relay, None) => {
            return err(
                kind_span,
                "target.dsn",
                "kind = \"relay\" needs `dsn` (for example dsn = \"${SENTRY_DSN}\")".into(),
            );
        }
        (TargetKind::Embedded, Some(dsn)) => {
            return err(
                dsn.span(),
                "target.dsn",
                "kind = \"embedded\" sends to the built-in sim and takes no `dsn`; \
                 use kind = \"relay\" to send to a DSN"
                    .into(),
            );
        }
        (TargetKind::Relay, Some(_)) if !sources => {
            return err(
                kind_span,
                "verify",
                "kind = \"relay\" needs a place to read events back: add \
                 [verify.clickhouse] or [verify.sentry_api]"
                    .into(),
            );
        }
        (TargetKind::Embedded, None) if sources || p.verify.postgres.is_some() => {
            return err(
                kind_span,
                "verify",
                "kind = \"embedded\" reads events back from the built-in sim; remove the \
                 [verify.clickhouse], [verify.postgres] and [verify.sentry_api] tables"
                    .into(),
            );
        }
        _ => {}
    }
    if let Some(pg) = &p.verify.postgres
        && p.verify.clickhouse.is_none()
    {
        return err(
            pg.span(),
            "verify.postgres",
            "the Postgres check looks up the issues of events found in ClickHouse, \
             so it needs [verify.clickhouse] too"
                .into(),
        );
    }
    let mix = p.traffic.mix.get_ref();
    let others = [
        ("transaction", mix.transaction),
        ("native", mix.native),
        ("javascript", mix.javascript),
    ];
    if let Some((name, w)) = others.iter().find(|(_, w)| w.value() > 0.0) {
        return err(
            p.traffic.mix.span(),
            &format!("traffic.mix.{name}"),
            format!(
                "weight {} for `{name}`, but this build generates `error` events only; \
                 allowed: error > 0, the other kinds 0",
                w.value()
            ),
        );
    }
    if mix.error.value() <= 0.0 {
        return err(
            p.traffic.mix.span(),
            "traffic.mix",
            "every weight is 0: give at least one kind a weight above 0".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
