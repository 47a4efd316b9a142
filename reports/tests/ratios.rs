//! A ratio reads the same on every surface a person looks at: the terminal summary,
//! report.md and report.html (with their per-kind tables), `compare` and the gates
//! (threshold and measurement alike).

use sentry_load_config::{GatesConfig, Ratio};
use sentry_load_reports::{
    Report, compare_markdown, evaluate_gates, render_html, render_markdown, render_summary,
};

/// The fixture with 1 in 600 events lost, overall and for errors.
fn one_in_600_lost() -> Report {
    let mut r: Report = serde_json::from_str(include_str!("fixtures/report.json")).unwrap();
    r.loss.loss_ratio = 1.0 / 600.0;
    r.kinds.get_mut("error").unwrap().loss_ratio = 1.0 / 600.0;
    r.sending.achieved_rate_ratio = 0.9996;
    r
}

#[test]
fn a_loss_of_1_in_600_reads_0_167_percent_everywhere() {
    let r = one_in_600_lost();
    let gates = evaluate_gates(
        &r,
        &GatesConfig {
            max_loss_ratio: Some(Ratio::try_from(0.001).unwrap()),
            ..GatesConfig::default()
        },
        None,
    );
    let shown = [
        ("summary", render_summary(&r)),
        ("report.md", render_markdown(&r)),
        ("report.html", render_html(&r)),
        ("compare", compare_markdown(&[r.clone(), r.clone()])),
        (
            "gate",
            format!("{} {}", gates[0].threshold, gates[0].measured),
        ),
    ];
    for (surface, text) in &shown {
        assert!(text.contains("0.167 %"), "{surface}: {text}");
        for other in ["0.001667", "0.0017", "0.1667", "0.002"] {
            assert!(!text.contains(other), "{surface} shows {other}: {text}");
        }
    }
    assert_eq!(gates[0].threshold, "0.100 %");
    // A rate just short of the target is not rounded up to all of it.
    for (surface, text) in &shown[..3] {
        assert!(text.contains("99.96 %"), "{surface}: {text}");
        assert!(!text.contains("100.0 %)"), "{surface}: {text}");
    }
}
