//! Profiles as the commands find them: by shipped name, `profiles/<name>.toml` in the current
//! folder, or a path — and `profiles list|show|check`.

use crate::error::Failure;
use crate::leg::LegRole;
use sentry_load_config::{LoadedProfile, SHIPPED_PROFILES, parse_profile};

/// Loads a profile by name or path from the current folder, without requiring any of its
/// `${VAR}`s: a command then requires the keys it reads ([`load_for`]).
pub fn load(name: &str) -> Result<LoadedProfile, Failure> {
    let cwd = std::env::current_dir().map_err(Failure::internal)?;
    let loaded = sentry_load_config::load_profile(name, &cwd).map_err(Failure::usage)?;
    // The variants are built before time zero: a traffic whose variants would not fit in
    // memory is refused here, not after minutes of building them.
    sentry_load_engine::Generator::check_template_budget(loaded.profile.traffic.get_ref())
        .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", loaded.source)))?;
    Ok(loaded)
}

/// Loads a profile whose keys inside `scopes` must have their `${VAR}`s set.
pub fn load_for(name: &str, scopes: &[&str]) -> Result<LoadedProfile, Failure> {
    let loaded = load(name)?;
    loaded.profile.require(scopes).map_err(Failure::usage)?;
    Ok(loaded)
}

/// The profile's `${VAR}` references, a line each: variable, key, and whether it is set.
pub fn variables(profile: &sentry_load_config::Profile) -> Vec<String> {
    profile
        .variables
        .iter()
        .map(|u| {
            let state = match (u.set, u.has_default) {
                (true, _) => "set",
                (false, true) => "unset, its default stands in",
                (false, false) => "NOT SET",
            };
            format!(
                "${{{}}} in {} (line {}): {state}",
                u.variable,
                u.key,
                u.place_line()
            )
        })
        .collect()
}

/// `profiles list`: the shipped profiles, then those in `./profiles/`.
pub fn list() -> Vec<String> {
    let mut lines = Vec::new();
    for (name, text) in SHIPPED_PROFILES {
        let description = parse_profile(name, text)
            .map(|p| p.description)
            .unwrap_or_else(|e| {
                let e = e.to_string();
                format!("(invalid: {})", e.lines().next().unwrap_or_default())
            });
        lines.push(format!("{name:<14} shipped   {description}"));
    }
    if let Ok(entries) = std::fs::read_dir("profiles") {
        let mut local: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let p = e.path();
                if p.extension()? != "toml" {
                    return None;
                }
                Some(p.file_stem()?.to_string_lossy().into_owned())
            })
            .collect();
        local.sort();
        for name in local {
            lines.push(format!("{name:<14} ./profiles/{name}.toml"));
        }
    }
    lines
}

/// `profiles show`: where the profile was found, its text, and the variables it needs.
pub fn show(name: &str) -> Result<String, Failure> {
    let p = load(name)?;
    let mut out = format!("# {}\n{}", p.source, p.text);
    if !p.text.ends_with('\n') {
        out.push('\n');
    }
    if !p.redacted.is_empty() {
        out.push_str(&format!(
            "\n# secrets written literally, shown (and kept in run folders) as \
             ${{SENTRY_LOAD_REDACTED_…}}: {}\n# write them as ${{VAR}} and set VAR in the environment\n",
            p.redacted.join(", ")
        ));
    }
    let vars = variables(&p.profile);
    if !vars.is_empty() {
        out.push_str("\n# environment variables this profile reads:\n");
        for v in vars {
            out.push_str(&format!("#   {v}\n"));
        }
    }
    Ok(out)
}

/// `profiles check`: every error of the profile in file order, then what `run` would
/// refuse (a schedule that plans nothing or too much, a target with nowhere to read events
/// back), else what it plans.
pub fn check(name: &str) -> Result<String, Failure> {
    let cwd = std::env::current_dir().map_err(Failure::internal)?;
    let found = sentry_load_config::read_profile(name, &cwd).map_err(Failure::usage)?;
    let errors: Vec<String> = sentry_load_config::profile_errors(&found.source, &found.text)
        .iter()
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(refused(&found.source, errors));
    }
    let p = load(name)?;
    let mut refusals = Vec::new();
    let plan = sentry_load_engine::Plan::from_traffic(
        p.profile.traffic.get_ref(),
        p.profile.seed,
        Default::default(),
    );
    let plan = match plan {
        Ok(plan) if plan.total() > 0 => Some(plan),
        Ok(_) => {
            refusals.push(format!("{}: the schedule plans no events", p.source));
            None
        }
        Err(e) => {
            refusals.push(format!("{}: {e}", p.source));
            None
        }
    };
    if *p.profile.target.kind.get_ref() != sentry_load_config::TargetKind::Embedded {
        let legs = [LegRole::Main, LegRole::Mirror];
        for role in legs
            .into_iter()
            .take(1 + usize::from(p.profile.mirror.is_some()))
        {
            if let Err(e) = crate::sources::source_for(role.verify(&p.profile)) {
                let leg = role
                    .name()
                    .map(|n| format!(" (leg {n})"))
                    .unwrap_or_default();
                refusals.push(format!("{}{leg}: {e}", p.source));
            }
        }
    }
    let (Some(plan), true) = (plan, refusals.is_empty()) else {
        return Err(refused(&p.source, refusals));
    };
    let mut out = format!(
        "{}: ok ({} events planned over {}, {:.1}/s on average)",
        p.source,
        plan.total(),
        humantime::format_duration(plan.duration()),
        plan.mean_rate()
    );
    for u in p.profile.variables.iter().filter(|u| u.missing()) {
        out.push_str(&format!(
            "\nnote: ${{{}}} ({}) is not set: commands that read {} need it",
            u.variable, u.key, u.key
        ));
    }
    Ok(out)
}

/// The usage failure that lists every error of a profile.
fn refused(source: &str, errors: Vec<String>) -> Failure {
    let count = match errors.len() {
        1 => "1 error".to_owned(),
        n => format!("{n} errors"),
    };
    Failure::usage(anyhow::anyhow!("{}\n{source}: {count}", errors.join("\n")))
}
