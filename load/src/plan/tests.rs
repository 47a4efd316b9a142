use super::*;
use sentry_load_config::parse_profile;

fn traffic(body: &str) -> TrafficConfig {
    let text = format!("seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\n{body}\n");
    parse_profile("t.toml", &text).unwrap().traffic.into_inner()
}

fn plan(body: &str) -> Plan {
    Plan::from_traffic(&traffic(body), 9, Overrides::default()).unwrap()
}

/// Arrivals per whole second of the schedule.
fn per_second(p: &Plan) -> Vec<u64> {
    let mut out = vec![0u64; p.duration().as_secs() as usize + 1];
    for a in p.arrivals() {
        out[a.offset.as_secs() as usize] += 1;
    }
    out
}

#[test]
fn constant_rate_has_no_drift_over_a_day() {
    let p = plan("rate = 1000\nduration = \"24h\"");
    assert_eq!(p.total(), 86_400_000);
    let mut last = None;
    let mut n = 0u64;
    for a in p.arrivals() {
        n += 1;
        last = Some(a);
    }
    let last = last.unwrap();
    assert_eq!(n, 86_400_000);
    assert_eq!(last.seq, 86_399_999);
    // Absolute offsets: the last one is exactly (n-1)/rate, not a sum of rounded intervals.
    let expected = Duration::from_secs_f64(86_399_999.0 / 1000.0);
    let off = last.offset.abs_diff(expected);
    assert!(off < Duration::from_micros(1), "drift {off:?}");
}

#[test]
fn a_ramp_rises_linearly() {
    let p = plan("[[traffic.stages]]\nramp_to = 100\nduration = \"10s\"");
    assert_eq!(p.total(), 500);
    let secs = per_second(&p);
    for (i, n) in secs.iter().take(10).enumerate() {
        let expected = 10.0 * (i as f64 + 0.5);
        assert!(
            (*n as f64 - expected).abs() <= 1.0,
            "second {i}: {n} vs {expected}"
        );
    }
    assert!((p.rate_at(Duration::from_secs(5)) - 50.0).abs() < 1e-9);
}

#[test]
fn holds_step_and_spikes_have_their_shapes() {
    let p = plan(
        "[[traffic.stages]]\nhold = 10\nduration = \"2s\"\n\
         [[traffic.stages]]\nhold = 50\nduration = \"2s\"\n\
         [[traffic.stages]]\nspike = { base = 10, peak = 100, for = \"2s\" }\nduration = \"10s\"\n\
         [[traffic.stages]]\nramp_to = 0\nduration = \"2s\"",
    );
    let secs = per_second(&p);
    assert_eq!(&secs[0..4], &[10, 10, 50, 50], "step");
    assert_eq!(&secs[4..8], &[10, 10, 10, 10], "base before the spike");
    assert_eq!(&secs[8..10], &[100, 100], "spike, centred");
    assert_eq!(&secs[10..14], &[10, 10, 10, 10], "base after the spike");
    // Ramp down from 10 to 0 over 2 s: 7.5 then 2.5 expected.
    assert_eq!(secs[14] + secs[15], 10);
    assert_eq!(p.total(), 20 + 100 + 80 + 200 + 10);
}

#[test]
fn poisson_arrivals_have_the_planned_mean_and_exponential_gaps() {
    let p = plan("rate = 1000\nduration = \"100s\"\narrivals = \"poisson\"");
    let offsets: Vec<f64> = p.arrivals().map(|a| a.offset.as_secs_f64()).collect();
    let n = offsets.len() as f64;
    // Count: mean 100,000, standard deviation √100,000 ≈ 316; allow 5σ.
    assert!((n - 100_000.0).abs() < 1_600.0, "count {n}");
    let gaps: Vec<f64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    assert!((mean - 0.001).abs() < 0.00002, "mean gap {mean}");
    // Exponential gaps: standard deviation equals the mean.
    assert!(
        (var.sqrt() / mean - 1.0).abs() < 0.02,
        "cv {}",
        var.sqrt() / mean
    );
    // Reproducible from the seed.
    let again: Vec<f64> = p
        .arrivals()
        .map(|a| a.offset.as_secs_f64())
        .take(100)
        .collect();
    assert_eq!(&offsets[..100], &again[..]);
}

#[test]
fn count_form_sends_exactly_the_count() {
    let p = plan("rate = 100\ncount = 1234");
    assert_eq!(p.arrivals().count(), 1234);
    assert_eq!(p.total(), 1234);
    let p = plan("rate = 100\ncount = 1234\narrivals = \"poisson\"");
    assert_eq!(p.arrivals().count(), 1234);
}

#[test]
fn overrides_apply_to_constant_rate_profiles_only() {
    let t = traffic("rate = 10\nduration = \"10s\"");
    let mut o = Overrides {
        rate: Some(20.0),
        duration: Some(Duration::from_secs(3)),
        instead_of_stages: false,
    };
    assert_eq!(Plan::from_traffic(&t, 1, o).unwrap().total(), 60);
    let staged = traffic("[[traffic.stages]]\nhold = 5\nduration = \"1s\"");
    let e = Plan::from_traffic(&staged, 1, o).unwrap_err();
    assert_eq!(e, crate::PlanError::OverridesStages);
    assert!(e.to_string().contains("stages"), "{e}");
    // A capacity step holds its own rate in place of the stages.
    o.instead_of_stages = true;
    let step = Plan::from_traffic(&staged, 1, o).unwrap();
    assert_eq!((step.total(), step.phases().len()), (60, 1));
}

#[test]
fn sequence_numbers_are_dense_and_offsets_ordered() {
    let p = plan("rate = 333\nduration = \"3s\"\narrivals = \"poisson\"");
    let all: Vec<Arrival> = p.arrivals().collect();
    assert!(
        all.windows(2)
            .all(|w| w[1].seq == w[0].seq + 1 && w[1].offset >= w[0].offset)
    );
}

#[test]
fn shards_split_the_sequence_space_exactly() {
    let whole = plan("rate = 100\nduration = \"10s\"\narrivals = \"poisson\"");
    let all: Vec<Arrival> = whole.arrivals().collect();
    let mut merged: Vec<Arrival> = (0..3)
        .flat_map(|i| {
            let shard = whole.clone().with_shard(Shard { index: i, count: 3 });
            let mine: Vec<Arrival> = shard.arrivals().collect();
            assert!(mine.iter().all(|a| a.seq % 3 == i));
            mine
        })
        .collect();
    merged.sort_by_key(|a| a.seq);
    assert_eq!(
        merged, all,
        "the shards together are the whole run, offsets included"
    );
    let uniform = plan("rate = 100\nduration = \"10s\"");
    let shard = uniform.clone().with_shard(Shard::parse("2/3").unwrap());
    assert_eq!(shard.total(), shard.arrivals().count() as u64);
    assert_eq!(shard.total(), 333);
    assert!(
        Shard::parse("3/3").is_err() && Shard::parse("1/0").is_err() && Shard::parse("x").is_err()
    );
}

#[test]
fn overrides_beyond_what_a_profile_may_say_are_refused() {
    let t = traffic("rate = 10\nduration = \"10s\"");
    let o = |rate, duration| Overrides {
        rate,
        duration,
        instead_of_stages: false,
    };
    for rate in [1e12, 0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = Plan::from_traffic(&t, 1, o(Some(rate), None)).unwrap_err();
        assert!(matches!(e, crate::PlanError::Rate(_)), "{rate}: {e}");
        assert!(e.to_string().contains("at most 10000000"), "{e}");
    }
    let years = Duration::from_secs(500 * 365 * 24 * 3600);
    let e = Plan::from_traffic(&t, 1, o(None, Some(years))).unwrap_err();
    assert!(e.to_string().contains("longest schedule"), "{e}");
    // The count form at a rate so low that the count takes longer than any schedule.
    let count = traffic("rate = 1\ncount = 1000");
    let e = Plan::from_traffic(&count, 1, o(Some(1e-6), None)).unwrap_err();
    assert!(matches!(e, crate::PlanError::TooLong(_)), "{e}");
}

#[test]
fn the_exact_total_counts_poisson_arrivals() {
    let p = plan("rate = 333\nduration = \"3s\"\narrivals = \"poisson\"");
    assert_eq!(p.exact_total(), p.arrivals().count() as u64);
    let u = plan("rate = 333\nduration = \"3s\"");
    assert_eq!(u.exact_total(), u.total());
}
