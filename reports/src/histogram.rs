//! HDR histograms of latencies, their percentiles, and their serialized form
//! (HdrHistogram V2, base64) for `report.json`.

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

/// Percentiles of one distribution, in the histogram's unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest value.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// A histogram of values from 1 to one hour in the chosen unit, 3 significant digits.
pub struct Recorder {
    h: Histogram<u64>,
}

impl Recorder {
    /// A recorder for values up to `highest`.
    pub fn new(highest: u64) -> Recorder {
        // 3 significant figures and highest ≥ 2 are always valid bounds.
        let h = Histogram::new_with_bounds(1, highest.max(2), 3)
            .unwrap_or_else(|_| Histogram::new(3).expect("3 significant figures are valid"));
        Recorder { h }
    }

    /// Records a value, saturating at the histogram's highest trackable value.
    pub fn record(&mut self, v: u64) {
        self.h.saturating_record(v);
    }

    /// The percentiles, or `None` when nothing was recorded.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.h.is_empty() {
            return None;
        }
        Some(Percentiles {
            count: self.h.len(),
            p50: self.h.value_at_quantile(0.50),
            p90: self.h.value_at_quantile(0.90),
            p95: self.h.value_at_quantile(0.95),
            p99: self.h.value_at_quantile(0.99),
            max: self.h.max(),
            mean: self.h.mean(),
        })
    }

    /// HdrHistogram V2 bytes, base64: load with any HdrHistogram implementation.
    pub fn encoded(&self) -> String {
        let mut buf = Vec::new();
        match V2Serializer::new().serialize(&self.h, &mut buf) {
            Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
            Err(_) => String::new(),
        }
    }
}

/// The percentile curve of an encoded histogram: `(x, value)` points with x on the
/// [`percentile_x`](crate::charts::percentile_x) scale, from p0 to p99.99.
pub fn percentile_curve(encoded: &str) -> Option<Vec<(f64, f64)>> {
    use hdrhistogram::serialization::Deserializer;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let h: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).ok()?;
    if h.is_empty() {
        return None;
    }
    let mut qs: Vec<f64> = (0..90).step_by(5).map(|p| f64::from(p) / 100.0).collect();
    qs.extend([0.9, 0.95, 0.97, 0.99, 0.995, 0.999, 0.9995, 0.9999]);
    Some(
        qs.into_iter()
            .map(|q| {
                (
                    crate::charts::percentile_x(q),
                    h.value_at_quantile(q) as f64,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::Deserializer;

    #[test]
    fn percentiles_and_round_trip() {
        let mut r = Recorder::new(3_600_000);
        for v in 1..=1000 {
            r.record(v);
        }
        let p = r.percentiles().unwrap();
        assert_eq!(p.count, 1000);
        assert!((499..=501).contains(&p.p50), "{p:?}");
        assert!((989..=991).contains(&p.p99), "{p:?}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(r.encoded())
            .unwrap();
        let back: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back.len(), 1000);
        assert!(Recorder::new(10).percentiles().is_none());
    }
}
