//! `[[disruption]]`: an operator's command run at a moment of the run — restart Relay, kill a
//! taskworker, `kubectl delete pod` — whose window the report marks on every chart and splits
//! loss and latency by (the events meant for the `window` before it, during it, and the
//! `window` after).
//!
//! ```toml
//! [[disruption]]
//! name = "restart relay"                       # how the report names it
//! at = "30s"                                    # after time zero
//! command = "docker compose restart relay"      # run with `sh -c`, output not kept
//! timeout = "2m"                                # killed if it runs longer (default 60 s)
//! window = "10s"                                # the spans compared before and after it
//! ```
//!
//! The command's output is discarded (it may print anything, secrets included); redirect it
//! inside the command to keep it. Its exit status is reported. In a sharded run, shard 0 runs
//! the commands.

use serde::Deserialize;
use std::time::Duration;

/// The longest `timeout` and `window`.
pub const MAX_DISRUPTION_WAIT: Duration = Duration::from_secs(3600);
/// The longest name.
const MAX_NAME: usize = 80;

/// One `[[disruption]]`, checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "DisruptionTable")]
pub struct Disruption {
    /// How the report names it.
    pub name: String,
    /// When it starts, after time zero.
    pub at: Duration,
    /// The shell command (`sh -c`).
    pub command: String,
    /// How long the command may run before it is killed.
    pub timeout: Duration,
    /// The spans before and after it that the report compares with it.
    pub window: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisruptionTable {
    name: String,
    #[serde(with = "humantime_serde")]
    at: Duration,
    command: String,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    window: Option<Duration>,
}

impl TryFrom<DisruptionTable> for Disruption {
    type Error = String;

    fn try_from(t: DisruptionTable) -> Result<Disruption, String> {
        let name = t.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(format!(
                "`name` = {:?}: expected 1 to {MAX_NAME} printable characters",
                t.name
            ));
        }
        if t.command.trim().is_empty() {
            return Err(format!("`command` of {name:?} is empty"));
        }
        if t.at > crate::MAX_SCHEDULE {
            return Err(format!(
                "`at` of {name:?}: expected at most the longest schedule, {}",
                shown(crate::MAX_SCHEDULE)
            ));
        }
        let wait = |key: &str, d: Option<Duration>, default: Duration| {
            let d = d.unwrap_or(default);
            if d < Duration::from_secs(1) || d > MAX_DISRUPTION_WAIT {
                return Err(format!(
                    "`{key}` of {name:?} = {}: expected from 1s to {}",
                    shown(d),
                    shown(MAX_DISRUPTION_WAIT)
                ));
            }
            Ok(d)
        };
        Ok(Disruption {
            timeout: wait("timeout", t.timeout, Duration::from_secs(60))?,
            window: wait("window", t.window, Duration::from_secs(10))?,
            at: t.at,
            command: t.command,
            name,
        })
    }
}

use crate::values::shown_duration as shown;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Disruption, String> {
        toml::from_str::<Disruption>(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn a_disruption_is_read_with_its_defaults() {
        let d = parse("name = \"kill sim\"\nat = \"5s\"\ncommand = \"kill -9 1\"").unwrap();
        assert_eq!(d.at, Duration::from_secs(5));
        assert_eq!(d.timeout, Duration::from_secs(60));
        assert_eq!(d.window, Duration::from_secs(10));
    }

    #[test]
    fn absurd_disruptions_are_refused_with_their_key() {
        let base = "at = \"1s\"\ncommand = \"true\"\n";
        for (text, key) in [
            (format!("name = \"\"\n{base}"), "name"),
            (format!("name = \"a\\nb\"\n{base}"), "name"),
            (format!("name = \"{}\"\n{base}", "x".repeat(81)), "name"),
            (
                "name = \"a\"\nat = \"1s\"\ncommand = \"  \"".into(),
                "command",
            ),
            (
                "name = \"a\"\nat = \"100000d\"\ncommand = \"true\"".into(),
                "at",
            ),
            (format!("name = \"a\"\n{base}timeout = \"0s\""), "timeout"),
            (format!("name = \"a\"\n{base}window = \"2h\""), "window"),
            (format!("name = \"a\"\n{base}when = \"2h\""), "when"),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
