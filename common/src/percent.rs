//! How every ratio is shown to a person — in the terminal summary, report.md, report.html,
//! `compare` and the gates' thresholds and measurements — so that a loss ratio of 1 in 600
//! reads `0.167 %` everywhere, never `0.001667` in one place and `0.1667 %` in another.
//!
//! One form: a percentage. From 1 % up, one decimal (`23.7 %`); below 1 %, three significant
//! digits (`0.167 %`, `0.000100 %`), so a small loss is never rounded to `0.0 %`; exactly 0 is
//! `0 %`. A ratio just short of 1 is never rounded up to `100.0 %`. Differences of two ratios
//! are percentage points ([`Percent::points`]); relative changes are signed percentages
//! ([`Percent::change`]).

use std::fmt;

/// The most decimals a percentage is shown with (a ratio of 1e-12 is `0.0000000001 %`).
const MAX_DECIMALS: usize = 10;

/// A ratio (1.0 = 100 %), shown as a percentage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent {
    ratio: f64,
    signed: bool,
    unit: &'static str,
}

impl Percent {
    /// `ratio` (0.5 = 50 %), shown as `50.0 %`.
    pub fn of(ratio: f64) -> Percent {
        Percent {
            ratio,
            signed: false,
            unit: "%",
        }
    }

    /// `part` of `whole` (0 of 0 is 0 %).
    pub fn part(part: u64, whole: u64) -> Percent {
        Percent::of(if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        })
    }

    /// A relative change (0.1 = 10 % more), shown with its sign: `+10.0 %`, `-3.2 %`.
    pub fn change(ratio: f64) -> Percent {
        Percent {
            signed: true,
            ..Percent::of(ratio)
        }
    }

    /// The difference of two ratios, in percentage points: `+0.100 pp`.
    pub fn points(difference: f64) -> Percent {
        Percent {
            ratio: difference,
            signed: true,
            unit: "pp",
        }
    }

    /// The number shown, without the unit (`0.167` for 1 in 600).
    pub fn number(&self) -> String {
        let p = self.ratio * 100.0;
        if !p.is_finite() {
            return "n/a".into();
        }
        let sign = if self.signed && p > 0.0 { "+" } else { "" };
        if p == 0.0 {
            return format!("{sign}0");
        }
        let magnitude = p.abs();
        let mut decimals = if magnitude >= 1.0 {
            1
        } else {
            // Three significant digits: 0.167 → 3 decimals, 0.0167 → 4.
            ((2.0 - magnitude.log10().floor()) as usize).min(MAX_DECIMALS)
        };
        let mut shown = format!("{p:.decimals$}");
        // 0.03 - 0.02 is 0.00999…: what rounds to 1 % or more is shown as from 1 % up.
        if decimals > 1
            && shown
                .trim_start_matches('-')
                .parse::<f64>()
                .is_ok_and(|v| v >= 1.0)
        {
            decimals = 1;
            shown = format!("{p:.decimals$}");
        }
        // Never round a ratio short of 1 up to 100: show as many decimals as it takes.
        while magnitude < 100.0 && shown.trim_start_matches('-') == format!("{:.decimals$}", 100.0)
        {
            decimals += 1;
            shown = format!("{p:.decimals$}");
        }
        // A value too small for MAX_DECIMALS is not shown as zero.
        if shown
            .trim_start_matches('-')
            .trim_matches(['0', '.'])
            .is_empty()
        {
            let floor = format!("0.{}1", "0".repeat(MAX_DECIMALS - 1));
            return format!("{}< {floor}", if p < 0.0 { "-" } else { "" });
        }
        format!("{sign}{shown}")
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.number();
        if n == "n/a" {
            return f.write_str(&n);
        }
        write!(f, "{n} {}", self.unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_form_for_every_size() {
        let cases = [
            (0.0, "0 %"),
            (1.0, "100.0 %"),
            (0.237, "23.7 %"),
            (0.05, "5.0 %"),
            (0.01, "1.0 %"),
            (1.0 / 600.0, "0.167 %"),
            (0.001, "0.100 %"),
            (0.000_167, "0.0167 %"),
            (1e-6, "0.000100 %"),
            (2.5, "250.0 %"),
        ];
        for (ratio, shown) in cases {
            assert_eq!(Percent::of(ratio).to_string(), shown, "{ratio}");
        }
    }

    #[test]
    fn nearly_all_is_not_all_and_nearly_none_is_not_none() {
        assert_eq!(Percent::of(0.9996).to_string(), "99.96 %");
        assert_eq!(Percent::of(599_999.0 / 600_000.0).to_string(), "99.9998 %");
        assert_eq!(Percent::of(1e-15).to_string(), "< 0.0000000001 %");
    }

    #[test]
    fn parts_changes_and_points() {
        assert_eq!(Percent::part(1, 600).to_string(), "0.167 %");
        assert_eq!(Percent::part(0, 0).to_string(), "0 %");
        assert_eq!(Percent::change(0.1).to_string(), "+10.0 %");
        assert_eq!(Percent::change(-0.032).to_string(), "-3.2 %");
        assert_eq!(Percent::change(0.0).to_string(), "+0 %".replace('+', ""));
        assert_eq!(Percent::points(0.001).to_string(), "+0.100 pp");
        assert_eq!(Percent::points(-0.0001).to_string(), "-0.0100 pp");
        assert_eq!(Percent::points(0.03 - 0.02).to_string(), "+1.0 pp");
        assert_eq!(Percent::of(f64::NAN).to_string(), "n/a");
    }

    proptest::proptest! {
        /// Whatever the ratio: the number parses back within rounding, a ratio above 0 is
        /// never shown as 0, and one short of 1 never as 100.
        #[test]
        fn every_ratio_reads_back_close_and_never_rounds_to_none_or_all(
            ratio in proptest::prop_oneof![0.0..=1.0f64, 0.0..1e-6f64, 0.999..1.0f64, -1.0..10.0f64]
        ) {
            let shown = Percent::of(ratio).number();
            if shown.starts_with("< ") || shown.starts_with("-< ") {
                proptest::prop_assert!(ratio.abs() * 100.0 < 1e-9);
                return Ok(());
            }
            let back: f64 = shown.parse().unwrap();
            let p = ratio * 100.0;
            // One decimal from 1 % up, three significant digits below.
            let tolerance = if p.abs() >= 0.995 { 0.05 } else { p.abs() * 0.005 + 1e-12 };
            proptest::prop_assert!((back - p).abs() <= tolerance, "{ratio} shown {shown}");
            if ratio != 0.0 {
                proptest::prop_assert!(back != 0.0, "{ratio} shown {shown}");
            }
            if ratio < 1.0 && ratio > 0.0 {
                proptest::prop_assert!(back < 100.0, "{ratio} shown {shown}");
            }
        }
    }
}
