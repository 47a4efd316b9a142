use super::*;

fn timeline(p99: impl Fn(u64) -> u64, refused_at: Option<u64>) -> TimelineSection {
    TimelineSection {
        bucket_secs: 1,
        points: (0..60)
            .map(|t| TimelinePoint {
                t,
                planned: 100,
                sent: 100,
                accepted: 100,
                refused: u64::from(refused_at == Some(t)) * 3,
                refused_by_status: match refused_at == Some(t) {
                    true => [("429".to_owned(), 3)].into(),
                    false => Default::default(),
                },
                latency_p99_ms: Some(p99(t)),
                ..TimelinePoint::default()
            })
            .collect(),
    }
}

fn track(name: &str, every: f64, series: Vec<ProbeSeries>) -> ProbeTrack {
    ProbeTrack {
        name: name.into(),
        kind: name.into(),
        target: "x".into(),
        every_secs: every,
        samples: 30,
        failures: 0,
        first_failure: None,
        last_failure: None,
        series,
    }
}

fn series(name: &str, unit: &str, every: f64, value: impl Fn(f64) -> f64) -> ProbeSeries {
    ProbeSeries {
        name: name.into(),
        unit: unit.into(),
        points: (0..30)
            .map(|i| i as f64 * every)
            .map(|t| (t, value(t)))
            .collect(),
    }
}

#[test]
fn the_series_that_moved_first_is_named_with_its_lead() {
    // p99 crosses 10 s at 40 s; the lag grows from 20 s on, the CPU from 36 s, the memory
    // never moves, the clients wobble within their range, the evictions burst and stop.
    let t = timeline(|t| if t >= 40 { 12_000 } else { 800 }, None);
    let tracks = [
        track(
            "kafka",
            2.0,
            vec![series("lag snuba-consumers", "messages", 2.0, |t| {
                if t < 20.0 {
                    0.0
                } else {
                    10_000.0 + (t - 20.0) * 1550.0
                }
            })],
        ),
        track(
            "docker",
            2.0,
            vec![
                series("cpu % worker", "% of one core", 2.0, |t| {
                    if t < 36.0 { 40.0 } else { 650.0 }
                }),
                series("memory worker", "MiB", 2.0, |_| 512.0),
                series("clients", "clients", 2.0, |t| 10.0 + (t as u64 % 2) as f64),
                // A burst that was over before the trouble.
                series("evicted keys", "per second", 2.0, |t| {
                    if (10.0..14.0).contains(&t) {
                        4000.0
                    } else {
                        0.0
                    }
                }),
            ],
        ),
    ];
    let s = probes_section(&tracks, &t, Some(10_000));
    let trigger = s.trigger.as_ref().unwrap();
    assert_eq!(
        (trigger.what.as_str(), trigger.at_secs),
        ("p99 crossed 10 s", 40.0)
    );
    let names: Vec<&str> = s.moves.iter().map(|m| m.series.as_str()).collect();
    assert_eq!(
        names,
        ["lag snuba-consumers", "cpu % worker"],
        "{:?}",
        s.moves
    );
    assert_eq!(
        s.moves[0].sentence,
        "kafka: lag snuba-consumers grew from 0 to 41k messages 20 s before p99 crossed 10 s"
    );
    assert_eq!(s.moves[1].lead_secs, 4.0);
}

#[test]
fn without_a_gate_the_knee_or_the_first_refusal_is_the_trouble() {
    let knee = timeline(|t| if t >= 30 { 5_000 } else { 400 }, None);
    let s = probes_section(&[], &knee, None);
    let trigger = s.trigger.unwrap();
    assert_eq!(trigger.at_secs, 30.0);
    assert_eq!(trigger.what, "p99 rose to 5 s (from 0.4 s)");
    let refusal = timeline(|t| if t >= 30 { 5_000 } else { 400 }, Some(12));
    let trigger = probes_section(&[], &refusal, None).trigger.unwrap();
    assert_eq!(
        (trigger.what.as_str(), trigger.at_secs),
        ("the target began refusing (429)", 12.0)
    );
}

#[test]
fn a_calm_run_has_no_trouble_and_no_moves() {
    let calm = timeline(|_| 900, None);
    let tracks = [track(
        "redis",
        1.0,
        vec![series("used memory", "MiB", 1.0, |t| t)],
    )];
    let s = probes_section(&tracks, &calm, Some(10_000));
    assert!(s.trigger.is_none() && s.moves.is_empty());
    assert_eq!(s.tracks, tracks);
}

#[test]
fn an_unreachable_probe_says_so() {
    let mut t = track("pg", 5.0, vec![]);
    t.failures = 30;
    t.first_failure = Some(ProbeFailure {
        at_secs: 0.1,
        error: "connection refused".into(),
    });
    assert_eq!(
        t.status(),
        "unreachable: every one of 30 samples failed (first at 0.1 s: connection refused)"
    );
}
