//! Payload sizes: the profile's log-normal size distributions, and padding an event up to a
//! variant's size class with the kind of data that makes real events large — log lines an
//! integration attached as `extra`. Relay trims `extra` beyond 256 KiB of JSON (its "massive"
//! databag size), so padding stops short of that and nothing sent is trimmed on ingest.

use sentry::protocol::Event;
use sentry_load_config::SizeDist;
use serde_json::Value;

/// The strata of a size distribution, as quantile boundaries: a variant per stratum, sized at
/// the stratum's middle quantile, drawn with the stratum's probability. Narrower in the tail,
/// so the 99th percentile is honoured as well as the median.
pub const STRATA: &[f64] = &[
    0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
    0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.985, 0.99, 0.9925, 0.995, 0.9975, 0.999, 1.0,
];

/// How many strata there are.
pub fn strata() -> u64 {
    STRATA.len() as u64 - 1
}

/// The middle quantile of stratum `class`.
pub fn stratum_middle(class: u64) -> f64 {
    let c = class as usize;
    (STRATA[c] + STRATA[c + 1]) / 2.0
}

/// The stratum a uniform draw `u` in [0, 1) falls into.
pub fn stratum_of(u: f64) -> u64 {
    let i = STRATA.partition_point(|b| *b <= u);
    (i.clamp(1, STRATA.len() - 1) - 1) as u64
}

/// The `q`-quantile (0 < q < 1) of the log-normal distribution with the given p50 and p99.
pub fn quantile(d: &SizeDist, q: f64) -> f64 {
    sentry_load_common::lognormal::quantile(d.p50.as_u64() as f64, d.p99.as_u64() as f64, q)
}

/// Text per `extra` entry.
const LINE_CHARS: usize = 2000;

/// The most padding an event gets: under Relay's 256 KiB for `extra`.
const MAX_PADDING: usize = 250_000;

/// Adds `extra` log lines until the serialized event is about `target` bytes long. An event
/// already that large is left as it is.
pub fn pad_event(event: &mut Event<'static>, target: usize) {
    let size = |e: &Event<'static>| serde_json::to_vec(e).map_or(0, |v| v.len());
    let mut current = size(event);
    let target = target.min(current + MAX_PADDING);
    let mut n = 0usize;
    while current < target {
        let key = format!("log.{n:03}");
        // Key, quotes, colon and comma: the entry's overhead in the serialized event.
        let room = (target - current)
            .saturating_sub(key.len() + 6)
            .min(LINE_CHARS);
        if room == 0 {
            break;
        }
        event
            .extra
            .insert(key.clone(), Value::String(log_text(n, room)));
        current += key.len() + 6 + room;
        n += 1;
    }
}

/// Deterministic request-log text, `len` bytes.
fn log_text(n: usize, len: usize) -> String {
    let mut s = String::with_capacity(len + 120);
    let mut i = 0usize;
    while s.len() < len {
        let ms = (n * 37 + i * 11) % 900 + 3;
        s.push_str(&format!(
            "{:02}:{:02}:{:02}.{:03} INFO worker-{} handled GET /api/items/{} in {ms}ms; ",
            (n + i) % 24,
            (i * 7) % 60,
            (i * 13) % 60,
            (i * 97) % 1000,
            i % 16,
            1000 + n * 131 + i
        ));
        i += 1;
    }
    s.truncate(len);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytesize::ByteSize;

    #[test]
    fn quantiles_match_the_distributions_anchors() {
        let d = SizeDist {
            p50: ByteSize::kib(8),
            p99: ByteSize::kib(80),
        };
        assert!((quantile(&d, 0.5) - 8192.0).abs() < 1.0);
        assert!((quantile(&d, 0.99) - 81920.0).abs() < 10.0);
        assert!(quantile(&d, 0.1) < 8192.0);
    }

    #[test]
    fn strata_cover_the_unit_interval() {
        assert_eq!(stratum_of(0.0), 0);
        assert_eq!(stratum_of(0.5), 10);
        assert_eq!(stratum_of(0.9999), strata() - 1);
        assert!((stratum_middle(strata() - 1) - 0.9995).abs() < 1e-9);
    }

    #[test]
    fn padding_reaches_the_target_within_a_line() {
        let mut e = Event::default();
        pad_event(&mut e, 50_000);
        let len = serde_json::to_vec(&e).unwrap().len();
        assert!((49_000..=51_000).contains(&len), "{len}");
    }
}
