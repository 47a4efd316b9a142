//! Finding, parsing and checking a profile.

use crate::deserialize;
use crate::error::ProfileError;
use crate::schema::{Profile, ProjectTarget, TargetKind, TrafficConfig};
use crate::shipped::{SHIPPED_PROFILES, shipped_profile};
use sentry_load_common::{EventKind, fnv1a};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A profile ready to run, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    /// The profile's name (file stem, or the shipped name).
    pub name: String,
    /// Where it was read: a path, or `shipped:<name>`.
    pub source: String,
    /// FNV-1a of [`LoadedProfile::text`], 16 hex digits: tells whether two runs used the same
    /// profile.
    pub hash: String,
    /// The TOML text to keep and show: as read, `${VAR}` references unresolved and every
    /// secret written literally replaced by a `${SENTRY_LOAD_REDACTED_…}` reference.
    pub text: String,
    /// The keys whose literal secrets [`LoadedProfile::text`] replaced, in file order.
    pub redacted: Vec<String>,
    /// The parsed, checked profile.
    pub profile: Profile,
}

/// A profile's text as found, before it is parsed.
#[derive(Debug, Clone)]
pub struct ProfileText {
    /// The profile's name (file stem, or the shipped name).
    pub name: String,
    /// Where it was read: a path, or `shipped:<name>`.
    pub source: String,
    /// The file's text.
    pub text: String,
}

/// Finds a profile by name or path and reads its text.
///
/// A value containing `/` or ending in `.toml` is a path. A bare name is looked up as
/// `profiles/<name>.toml` under `dir`, then among the profiles shipped inside the binary.
pub fn read_profile(name_or_path: &str, dir: &Path) -> Result<ProfileText, ProfileError> {
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
        let source = local.display().to_string();
        return Ok(ProfileText { name, source, text });
    }
    if let Some(text) = shipped_profile(name_or_path) {
        return Ok(ProfileText {
            name: name_or_path.to_owned(),
            source: format!("shipped:{name_or_path}"),
            text: text.to_owned(),
        });
    }
    let shipped: Vec<&str> = SHIPPED_PROFILES.iter().map(|(n, _)| *n).collect();
    Err(ProfileError::NotFound {
        name: name_or_path.to_owned(),
        searched: format!("{} and the shipped profiles", local.display()),
        available: shipped.join(", "),
    })
}

/// Loads a profile by name or path (see [`read_profile`]).
pub fn load_profile(name_or_path: &str, dir: &Path) -> Result<LoadedProfile, ProfileError> {
    let ProfileText { name, source, text } = read_profile(name_or_path, dir)?;
    finish(name, source, text)
}

fn finish(name: String, source: String, text: String) -> Result<LoadedProfile, ProfileError> {
    let profile = parse_profile(&source, &text)?;
    let shown = crate::literal_secrets::redact(&text);
    Ok(LoadedProfile {
        name,
        hash: format!("{:016x}", fnv1a(shown.text.as_bytes())),
        source,
        text: shown.text,
        redacted: shown.keys,
        profile,
    })
}

/// Parses and checks profile text; `file` names it in errors.
pub fn parse_profile(file: &str, text: &str) -> Result<Profile, ProfileError> {
    let root = deserialize::document(file, text)?;
    let mut profile = deserialize::first_error(file, text, root)?;
    profile.variables = crate::variables::find(file, text, &|name| std::env::var(name).ok());
    check(&profile, file, text)?;
    settle_defaults(&mut profile);
    Ok(profile)
}

/// Every error of profile text, in file order: what `profiles check` reports. Empty when
/// [`parse_profile`] accepts it.
pub fn profile_errors(file: &str, text: &str) -> Vec<ProfileError> {
    deserialize::every_error(file, text, |profile| check(&profile, file, text))
}

/// Defaults that depend on other keys: a `store` deployment (Sentry 9) is looked up one
/// event id at a time through its web API, as its Discover needs Snuba.
fn settle_defaults(p: &mut Profile) {
    let settle = |protocol: crate::Protocol, verify: &mut crate::VerifyConfig| {
        if let Some(api) = &mut verify.sentry_api {
            let lookup = *api.lookup.get_or_insert(match protocol {
                crate::Protocol::Store => crate::ApiLookup::EventIds,
                crate::Protocol::Envelope => crate::ApiLookup::Discover,
            });
            api.discover_per_second.get_or_insert(match lookup {
                crate::ApiLookup::Discover => 25,
                crate::ApiLookup::EventIds => 0,
            });
        }
    };
    settle(*p.target.protocol.get_ref(), &mut p.verify);
    if let Some(m) = &mut p.mirror {
        let m = m.get_mut();
        settle(*m.protocol.get_ref(), &mut m.verify);
    }
}

/// At most [`crate::MAX_PROBES`] probes, each named once; a ClickHouse or Postgres probe
/// without `url` takes `[verify.clickhouse]`'s or `[verify.postgres]`'s, which must be there.
fn check_probes(p: &Profile, err: &ErrAt<'_>) -> Result<(), ProfileError> {
    if let Some(extra) = p.probes.get(crate::MAX_PROBES) {
        return err(
            extra.span(),
            &format!("probes[{}]", crate::MAX_PROBES),
            format!(
                "{} probes: a run samples at most {}",
                p.probes.len(),
                crate::MAX_PROBES
            ),
        );
    }
    for (i, probe) in p.probes.iter().enumerate() {
        let key = format!("probes[{i}]");
        let pr = probe.get_ref();
        if p.probes[..i].iter().any(|o| o.get_ref().name == pr.name) {
            return err(
                probe.span(),
                &format!("{key}.name"),
                format!(
                    "probe name {:?} is used twice: give each probe its own `name`",
                    pr.name
                ),
            );
        }
        let missing = match &pr.target {
            crate::ProbeTarget::ClickHouse { url: None, .. } if p.verify.clickhouse.is_none() => {
                Some("[verify.clickhouse]")
            }
            crate::ProbeTarget::Postgres { url: None } if p.verify.postgres.is_none() => {
                Some("[verify.postgres]")
            }
            _ => None,
        };
        if let Some(table) = missing {
            return err(
                probe.span(),
                &format!("{key}.url"),
                format!(
                    "a {} probe without `url` samples {table}'s server, and the profile has no \
                     {table}",
                    pr.target.kind()
                ),
            );
        }
    }
    Ok(())
}

/// The most targets one run sends to: a journal record's target index is a `u16`.
pub const MAX_TARGETS: usize = u16::MAX as usize + 1;

/// `dsn` or `[[target.projects]]`, not both; projects of one deployment, weights above 0.
fn check_projects(
    table: &str,
    dsn: Option<&toml::Spanned<crate::Dsn>>,
    projects: &[toml::Spanned<ProjectTarget>],
    err: &ErrAt<'_>,
) -> Result<(), ProfileError> {
    let Some(first) = projects.first() else {
        return Ok(());
    };
    // A journal record names its target by a 16-bit index.
    if projects.len() > MAX_TARGETS {
        return err(
            projects[MAX_TARGETS].span(),
            &format!("{table}.projects"),
            format!(
                "{} projects: a run sends to at most {MAX_TARGETS} (the journal's target index \
                 is 16 bits); split the projects over several runs",
                projects.len()
            ),
        );
    }
    if let Some(dsn) = dsn {
        return err(
            dsn.span(),
            &format!("{table}.dsn"),
            format!("give `dsn` or [[{table}.projects]], not both"),
        );
    }
    let host = |t: &ProjectTarget| {
        let d = t.dsn.sentry_dsn();
        (d.scheme().to_string(), d.host().to_owned(), d.port())
    };
    let deployment = host(first.get_ref());
    for (i, t) in projects.iter().enumerate() {
        if host(t.get_ref()) != deployment {
            return err(
                t.span(),
                &format!("{table}.projects[{i}].dsn"),
                format!(
                    "{} is not on the same deployment as {}: the projects of a run are read \
                     back from one place, so they must share scheme, host and port",
                    t.get_ref().dsn,
                    first.get_ref().dsn
                ),
            );
        }
    }
    if projects.iter().all(|t| t.get_ref().weight.value() <= 0.0) {
        return err(
            first.span(),
            &format!("{table}.projects"),
            "every weight is 0".into(),
        );
    }
    Ok(())
}

/// The Postgres check needs ClickHouse: it looks up the issues of the events found there.
fn check_verify(table: &str, v: &crate::VerifyConfig, err: &ErrAt<'_>) -> Result<(), ProfileError> {
    match &v.postgres {
        Some(pg) if v.clickhouse.is_none() => err(
            pg.span(),
            &format!("{table}.postgres"),
            format!(
                "the Postgres check looks up the issues of events found in ClickHouse, \
                 so it needs [{table}.clickhouse] too"
            ),
        ),
        _ => Ok(()),
    }
}

type ErrAt<'a> = dyn Fn(std::ops::Range<usize>, &str, String) -> Result<(), ProfileError> + 'a;

/// The constant-rate form or the staged form, not both; each stage one shape.
fn check_traffic(t: &toml::Spanned<TrafficConfig>, err: &ErrAt<'_>) -> Result<(), ProfileError> {
    let c = t.get_ref();
    if c.stages.is_empty() {
        let Some(rate) = &c.rate else {
            return err(
                t.span(),
                "traffic.rate",
                "give `rate` with `duration` or `count`, or a list of [[traffic.stages]]".into(),
            );
        };
        return match (c.duration, c.count) {
            (Some(_), Some(_)) => err(
                rate.span(),
                "traffic.count",
                "give `duration` or `count`, not both".into(),
            ),
            (None, None) => err(
                rate.span(),
                "traffic.duration",
                "a constant `rate` needs `duration` (e.g. \"60s\") or `count`".into(),
            ),
            (None, Some(n)) => {
                let secs = n.get() as f64 / rate.get_ref().per_second();
                if secs > crate::MAX_SCHEDULE.as_secs_f64() {
                    return err(
                        rate.span(),
                        "traffic.count",
                        format!(
                            "{n} events at {:?}/s take {secs:.3e} s, longer than the longest \
                             schedule a run takes ({}): raise the rate or lower the count",
                            rate.get_ref().per_second(),
                            humantime_serde::re::humantime::format_duration(crate::MAX_SCHEDULE)
                        ),
                    );
                }
                Ok(())
            }
            _ => Ok(()),
        };
    }
    if let Some(rate) = &c.rate {
        return err(
            rate.span(),
            "traffic.rate",
            "[[traffic.stages]] set the rate; remove `rate` (and `duration`/`count`)".into(),
        );
    }
    if c.duration.is_some() || c.count.is_some() {
        return err(
            c.stages[0].span(),
            "traffic.duration",
            "[[traffic.stages]] set the duration; remove `duration`/`count`".into(),
        );
    }
    let mut planned = 0.0;
    let mut previous = 0.0;
    let mut total = Duration::ZERO;
    for (i, stage) in c.stages.iter().enumerate() {
        let st = stage.get_ref();
        let key = format!("traffic.stages[{i}]");
        let shapes = [st.hold.is_some(), st.ramp_to.is_some(), st.spike.is_some()];
        if shapes.iter().filter(|s| **s).count() != 1 {
            return err(
                stage.span(),
                &key,
                "give exactly one of `hold`, `ramp_to` or `spike`".into(),
            );
        }
        if st.from.is_some() && st.ramp_to.is_none() {
            return err(
                stage.span(),
                &format!("{key}.from"),
                "`from` goes with `ramp_to`".into(),
            );
        }
        total = total.saturating_add(st.duration);
        if total > crate::MAX_SCHEDULE {
            return err(
                stage.span(),
                &format!("{key}.duration"),
                format!(
                    "the stages up to this one last {}, longer than the longest schedule a run \
                     takes ({})",
                    humantime_serde::re::humantime::format_duration(total),
                    humantime_serde::re::humantime::format_duration(crate::MAX_SCHEDULE)
                ),
            );
        }
        let secs = st.duration.as_secs_f64();
        if let Some(spike) = &st.spike {
            let at = spike
                .at
                .unwrap_or_else(|| st.duration.saturating_sub(spike.length) / 2);
            if at.saturating_add(spike.length) > st.duration {
                return err(
                    stage.span(),
                    &format!("{key}.spike"),
                    format!(
                        "the spike ({} at {}) does not fit in the stage's {}",
                        humantime_serde::re::humantime::format_duration(spike.length),
                        humantime_serde::re::humantime::format_duration(at),
                        humantime_serde::re::humantime::format_duration(st.duration)
                    ),
                );
            }
            let (b, p) = (spike.base.per_second(), spike.peak.per_second());
            planned += b * (secs - spike.length.as_secs_f64()) + p * spike.length.as_secs_f64();
            previous = b;
        } else if let Some(to) = st.ramp_to {
            let from = st.from.map_or(previous, |f| f.per_second());
            planned += (from + to.per_second()) / 2.0 * secs;
            previous = to.per_second();
        } else if let Some(h) = st.hold {
            planned += h.per_second() * secs;
            previous = h.per_second();
        }
    }
    if planned < 1.0 {
        return err(
            c.stages[0].span(),
            "traffic.stages",
            format!("the stages plan {planned:.2} events: give them a rate above 0"),
        );
    }
    Ok(())
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
    check_projects("target", p.target.dsn.as_ref(), &p.target.projects, &err)?;
    check_probes(p, &err)?;
    if let Some(mirror) = &p.mirror {
        let m = mirror.get_ref();
        check_projects("mirror", m.dsn.as_ref(), &m.projects, &err)?;
        if *p.target.kind.get_ref() == TargetKind::Embedded {
            return err(
                mirror.span(),
                "mirror",
                "a mirror sends beside a `relay` target; the embedded sim has none".into(),
            );
        }
        if m.dsn.is_none() && m.projects.is_empty() {
            return err(
                mirror.span(),
                "mirror.dsn",
                "[mirror] needs `dsn` or [[mirror.projects]]".into(),
            );
        }
        check_verify("mirror.verify", &m.verify, &err)?;
    }
    // Where the DSN (or the first project) is written, when there is one.
    let dsn_span = p
        .target
        .dsn
        .as_ref()
        .map(|d| d.span())
        .or_else(|| p.target.projects.first().map(|t| t.span()));
    match (p.target.kind.get_ref(), dsn_span) {
        (TargetKind::Relay, None) => {
            return err(
                kind_span,
                "target.dsn",
                "kind = \"relay\" needs `dsn` (for example dsn = \"${SENTRY_DSN}\") or \
                 [[target.projects]]"
                    .into(),
            );
        }
        (TargetKind::Embedded, Some(span)) => {
            return err(
                span,
                "target.dsn",
                "kind = \"embedded\" sends to the built-in sim and takes no `dsn`; \
                 use kind = \"relay\" to send to a DSN"
                    .into(),
            );
        }
        (TargetKind::Relay, Some(_)) if p.target.preset.is_some() => {
            return err(
                p.target.preset.as_ref().map_or(kind_span, |s| s.span()),
                "target.preset",
                "`preset` sets the topology the built-in sim models: it is read only with \
                 kind = \"embedded\" (a standalone sim takes it as `sentry-load sim --preset`)"
                    .into(),
            );
        }
        (TargetKind::Embedded, None)
            if sources || p.verify.postgres.is_some() || p.verify.relay_upstream.is_some() =>
        {
            return err(
                kind_span,
                "verify",
                "kind = \"embedded\" reads events back from the built-in sim; remove the \
                 [verify.clickhouse], [verify.postgres], [verify.sentry_api] and \
                 [verify.relay_upstream] tables"
                    .into(),
            );
        }
        _ => {}
    }
    check_verify("verify", &p.verify, &err)?;
    check_traffic(&p.traffic, &err)?;
    let traffic = p.traffic.get_ref();
    let mix = traffic.mix.get_ref();
    if mix.iter().all(|(_, w)| w.value() <= 0.0) {
        return err(
            traffic.mix.span(),
            "traffic.mix",
            "every weight is 0: give at least one kind a weight above 0".into(),
        );
    }
    if let Err((span, key, message)) = crate::realism::check(traffic) {
        return err(span, &key, message);
    }
    let relay = *p.target.kind.get_ref() == TargetKind::Relay;
    if *p.target.protocol.get_ref() == crate::Protocol::Store && mix.sends(EventKind::Transaction) {
        return err(
            p.target.protocol.span(),
            "target.protocol",
            format!(
                "protocol = \"store\" (Sentry 9) takes no transactions, but the mix gives \
                 `transaction` weight {}: set it to 0 (a [mirror] with protocol = \"store\" \
                 skips them instead)",
                mix.weight(EventKind::Transaction).value()
            ),
        );
    }
    if *p.target.protocol.get_ref() == crate::Protocol::Store && !relay {
        return err(
            p.target.protocol.span(),
            "target.protocol",
            "protocol = \"store\" needs kind = \"relay\" and a DSN; the embedded sim speaks \
             envelopes"
                .into(),
        );
    }
    if relay && mix.sends(EventKind::Javascript) && p.artifacts.is_none() {
        return err(
            traffic.mix.span(),
            "traffic.mix.javascript",
            format!(
                "weight {} for `javascript`, but Sentry can only resolve its minified frames \
                 with the sourcemaps: add [artifacts] with `url` and `token` (set \
                 `upload = false` there if the bundle is already uploaded)",
                mix.weight(EventKind::Javascript).value()
            ),
        );
    }
    if let Some(a) = &p.artifacts
        && *p.target.kind.get_ref() == TargetKind::Embedded
    {
        return err(
            a.span(),
            "artifacts",
            "kind = \"embedded\" uploads the bundle to the built-in sim itself; remove \
             [artifacts]"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
