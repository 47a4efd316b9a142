//! Wall-clock helpers: every time the harness records is microseconds since the Unix epoch.
//!
//! The sender measures with a monotonic clock and converts to wall time once, from the run's
//! start, so records stay comparable with the times the stores keep (ClickHouse `DateTime`,
//! Postgres `timestamptz`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, now.
pub fn now_unix_micros() -> u64 {
    to_unix_micros(SystemTime::now())
}

/// Microseconds since the Unix epoch for a `SystemTime` (0 before the epoch).
pub fn to_unix_micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The `SystemTime` of a count of microseconds since the Unix epoch.
pub fn from_unix_micros(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros)
}

/// RFC 3339 with milliseconds, UTC (`2026-11-22T14:55:39.123Z`).
pub fn rfc3339_millis(micros: u64) -> String {
    humantime::format_rfc3339_millis(from_unix_micros(micros)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-22T14:55:39.250Z
        assert_eq!(
            rfc3339_millis(1_795_359_339_250_000),
            "2026-11-22T14:55:39.250Z"
        );
        assert_eq!(
            rfc3339_millis(951_782_400_000_000),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
