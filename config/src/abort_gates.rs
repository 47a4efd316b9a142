//! `[gates.abort]`: gates checked while the run sends, each over the last `window` of it, that
//! stop the run early when one is crossed (k6's `abortOnFail`), for a test against production
//! that must stop hurting it. The run then ends as an interrupted run does (no new sends, those
//! in flight finish, what was sent is read back briefly, the report is written) and the
//! report names the gate, its figure and when it was crossed; the run exits 1, a gate failed.
//!
//! ```toml
//! [gates.abort]
//! window = "30s"           # every rule looks at the last 30 s
//! after = "60s"            # and none is checked in the first 60 s (warm-up)
//! min_sends = 100          # nor over a window with fewer sends than this
//! max_failed_ratio = 0.05  # 5xx answers and transport errors, of the sends answered
//! max_refused_ratio = 0.5  # 429, 413, 403, 401, 400 answers, of the sends answered
//! max_unseen_ratio = 0.01  # accepted events still not visible `unseen_after` after being sent
//! unseen_after = "2m"
//! ```

use crate::values::Ratio;
use serde::Deserialize;
use std::time::Duration;

/// The longest window (and `unseen_after`): what the live counts keep, one slot a second.
pub const MAX_ABORT_WINDOW: Duration = Duration::from_secs(3600);

/// `[gates.abort]`, checked: at least one rule, windows from 1 s to an hour.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "AbortGatesTable")]
pub struct AbortGates {
    /// How far back every rule looks.
    pub window: Duration,
    /// No rule is checked before this much of the run has passed.
    pub after: Duration,
    /// A window with fewer sends (answered, or accepted for `max_unseen_ratio`) is not judged.
    pub min_sends: u64,
    /// Most 5xx answers and transport errors (timeouts, resets), of the sends answered in
    /// the window.
    pub max_failed_ratio: Option<Ratio>,
    /// Most refusals (429, 413, 403 and other 4xx, 401, 400), of the sends answered in the
    /// window.
    pub max_refused_ratio: Option<Ratio>,
    /// Most accepted events not yet visible `unseen_after` after their intended send, of
    /// those accepted in the window that ended `unseen_after` ago: the live sign of silent
    /// loss. Needs live read-back.
    pub max_unseen_ratio: Option<(Ratio, Duration)>,
}

/// `[gates.abort]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AbortGatesTable {
    #[serde(default, with = "humantime_serde")]
    window: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    after: Option<Duration>,
    min_sends: Option<u64>,
    max_failed_ratio: Option<Ratio>,
    max_refused_ratio: Option<Ratio>,
    max_unseen_ratio: Option<Ratio>,
    #[serde(default, with = "humantime_serde")]
    unseen_after: Option<Duration>,
}

/// The window when none is written.
const DEFAULT_WINDOW: Duration = Duration::from_secs(30);
/// The fewest sends a window is judged on when `min_sends` is not written.
const DEFAULT_MIN_SENDS: u64 = 100;

impl TryFrom<AbortGatesTable> for AbortGates {
    type Error = String;

    fn try_from(t: AbortGatesTable) -> Result<AbortGates, String> {
        let span = |key: &str, d: Duration| -> Result<Duration, String> {
            if d < Duration::from_secs(1) || d > MAX_ABORT_WINDOW {
                return Err(format!(
                    "`{key}` = {}: expected from 1s to {}",
                    humantime_serde::re::humantime::format_duration(d),
                    humantime_serde::re::humantime::format_duration(MAX_ABORT_WINDOW)
                ));
            }
            Ok(d)
        };
        let window = span("window", t.window.unwrap_or(DEFAULT_WINDOW))?;
        let min_sends = t.min_sends.unwrap_or(DEFAULT_MIN_SENDS);
        if min_sends == 0 {
            return Err(
                "`min_sends` = 0: expected at least 1, so that one failed send of one \
                        cannot stop a run"
                    .into(),
            );
        }
        let unseen = match (t.max_unseen_ratio, t.unseen_after) {
            (Some(r), Some(after)) => Some((r, span("unseen_after", after)?)),
            (Some(_), None) => {
                return Err(
                    "`max_unseen_ratio` needs `unseen_after`: how long after its send \
                            an accepted event counts as not seen (longer than the deployment's \
                            normal p99 visibility)"
                        .into(),
                );
            }
            (None, Some(_)) => {
                return Err("`unseen_after` is only read with `max_unseen_ratio`".into());
            }
            (None, None) => None,
        };
        if t.max_failed_ratio.is_none() && t.max_refused_ratio.is_none() && unseen.is_none() {
            return Err("[gates.abort] sets no rule: give `max_failed_ratio`, \
                        `max_refused_ratio` or `max_unseen_ratio`"
                .into());
        }
        Ok(AbortGates {
            window,
            after: t.after.unwrap_or(window),
            min_sends,
            max_failed_ratio: t.max_failed_ratio,
            max_refused_ratio: t.max_refused_ratio,
            max_unseen_ratio: unseen,
        })
    }
}

impl AbortGates {
    /// How many seconds of live counts the rules need.
    pub fn horizon(&self) -> Duration {
        self.window
            + self
                .max_unseen_ratio
                .map_or(Duration::ZERO, |(_, after)| after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AbortGates, String> {
        toml::from_str::<AbortGates>(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn defaults_fill_what_is_not_written() {
        let g = parse("max_failed_ratio = 0.05").unwrap();
        assert_eq!(g.window, Duration::from_secs(30));
        assert_eq!(g.after, Duration::from_secs(30));
        assert_eq!(g.min_sends, 100);
        assert_eq!(g.horizon(), Duration::from_secs(30));
        let g = parse("max_unseen_ratio = 0.01\nunseen_after = \"2m\"\nwindow = \"10s\"").unwrap();
        assert_eq!(g.horizon(), Duration::from_secs(130));
    }

    #[test]
    fn absurd_tables_are_refused_with_the_key() {
        for (text, says) in [
            ("window = \"30s\"", "sets no rule"),
            ("max_failed_ratio = 0.1\nwindow = \"0s\"", "`window` = 0s"),
            ("max_failed_ratio = 0.1\nwindow = \"2h\"", "`window` = 2h"),
            ("max_failed_ratio = 0.1\nmin_sends = 0", "`min_sends` = 0"),
            ("max_unseen_ratio = 0.1", "needs `unseen_after`"),
            (
                "max_failed_ratio = 0.1\nunseen_after = \"1m\"",
                "only read with",
            ),
            ("max_failed_ratio = 1.5", "invalid ratio 1.5"),
            (
                "max_failed_ratio = 0.1\nabort_on = 1",
                "unknown field `abort_on`",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
