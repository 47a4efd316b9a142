//! `run --metrics-listen`: the live metrics scraped while a run goes, every scrape parsed by
//! the Prometheus client's own OpenMetrics parser (PyPI `prometheus-client`,
//! `scripts/prom-parse.py`), and checked against the run's report and the sim's ground truth:
//! the counts only grow, the last scrape's counts are the report's, refusals are counted by
//! status, and the events the sim dropped show as overdue once `[verify] deadline` has passed.

mod support;

use sentry_load_sim::{Decision, SimConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use support::{free_port, ids, only_report, shown, tool};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// A scrape's samples: name → [(labels, value)].
type Samples = BTreeMap<String, Vec<(BTreeMap<String, String>, f64)>>;

/// Parses `text` with the Prometheus client's parser; panics (with the parser's error) on an
/// exposition it refuses.
fn parse(python: &str, text: &str, dir: &Path) -> Samples {
    let file = dir.join("scrape.txt");
    std::fs::write(&file, text).unwrap();
    let script = format!("{}/scripts/prom-parse.py", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(python)
        .args([&script, file.to_str().unwrap()])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of `name` with `labels` (every other label ignored), summed.
fn value(s: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.get(name).map_or(0.0, |v| {
        v.iter()
            .filter(|(l, _)| {
                labels
                    .iter()
                    .all(|(k, want)| l.get(*k).is_some_and(|v| v == want))
            })
            .map(|(_, v)| v)
            .sum()
    })
}

/// A GET of `/metrics`; the body, when the endpoint answered 200 in the OpenMetrics format.
async fn scrape(port: u16) -> Option<String> {
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    let ok = r.status() == 200
        && r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text");
    ok.then_some(r.text().await.ok()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test tools: scripts/test.sh installs prometheus-client and runs it"]
async fn live_metrics_parse_grow_and_end_at_the_reports_counts() {
    let python = tool("SENTRY_LOAD_TEST_PYTHON", "live_metrics");
    let mut config = SimConfig::in_memory(1, KEY, "token");
    config.batch_interval = Duration::from_millis(50);
    config.faults = sentry_load_sim::script::FaultScript::parse(
        "faults.toml",
        "[[fault]]\nkind = \"unavailable\"\nfraction = 0.1\n\
         [[fault]]\nkind = \"drop\"\nfraction = 0.05\n",
    )
    .unwrap();
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = format!(
        "seed = 4\n[target]\nkind = \"relay\"\ndsn = \"http://{KEY}@{addr}/1\"\n\
         [traffic]\nrate = 100\nduration = \"8s\"\nmix = {{ error = 3, transaction = 1 }}\n\
         [verify]\npoll_interval = \"100ms\"\ndeadline = \"2s\"\nfidelity_sample = 0\n\
         [verify.sentry_api]\nurl = \"http://{addr}/\"\ntoken = \"token\"\n",
        addr = sim.addr()
    );
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_sentry-load"))
        .args([
            "run",
            "--profile",
            "p.toml",
            "--quiet",
            "--metrics-listen",
            &listen,
        ])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    let scrapes = async {
        let mut texts = Vec::new();
        // Until the endpoint stops with the run (or a minute has passed).
        let mut misses = 0;
        for _ in 0..240 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            match scrape(port).await {
                Some(t) => {
                    texts.push(t);
                    misses = 0;
                }
                None if texts.is_empty() => {}
                None => {
                    misses += 1;
                    if misses > 4 {
                        break;
                    }
                }
            }
        }
        texts
    };
    let (out, texts) = tokio::join!(run, scrapes);
    let out = out.unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", shown(&out));
    let truth = sim.truth().entries();
    sim.stop().await.unwrap();
    assert!(texts.len() >= 10, "{} scrapes", texts.len());
    let parsed: Vec<Samples> = texts
        .iter()
        .map(|t| parse(&python, t, dir.path()))
        .collect();

    // Counters never go down.
    for name in [
        "sentry_load_sends_total",
        "sentry_load_visible_total",
        "sentry_load_refused_total",
    ] {
        let series: Vec<f64> = parsed.iter().map(|s| value(s, name, &[])).collect();
        assert!(
            series.windows(2).all(|w| w[0] <= w[1]),
            "{name}: {series:?}"
        );
    }
    // While sending, the schedule's rate is offered.
    assert!(
        parsed
            .iter()
            .any(|s| value(s, "sentry_load_offered_rate", &[]) == 100.0)
    );
    assert_eq!(value(&parsed[0], "sentry_load_planned", &[]), 800.0);
    let last = parsed.last().unwrap();
    let (_, report) = only_report(dir.path());
    let accepted = ids(&truth, Decision::Accepted).len() as f64;
    let unavailable = ids(&truth, Decision::Unavailable).len() as f64;
    assert!(unavailable > 0.0 && accepted > 0.0);
    assert_eq!(
        value(last, "sentry_load_sends_total", &[("outcome", "accepted")]),
        accepted
    );
    assert_eq!(
        value(last, "sentry_load_refused_total", &[("status", "503")]),
        unavailable
    );
    assert_eq!(
        value(last, "sentry_load_visible_total", &[]),
        report["visibility"]["seen"].as_f64().unwrap()
    );
    assert_eq!(
        value(last, "sentry_load_visibility_seconds_count", &[]),
        report["visibility"]["seen"].as_f64().unwrap()
    );
    assert_eq!(
        value(last, "sentry_load_not_yet_visible", &[]),
        accepted - report["visibility"]["seen"].as_f64().unwrap()
    );
    // Each kind's histogram is cumulative and ends at its count.
    for kind in ["error", "transaction"] {
        let buckets: Vec<f64> = last["sentry_load_visibility_seconds_bucket"]
            .iter()
            .filter(|(l, _)| l["kind"] == kind)
            .map(|(_, v)| *v)
            .collect();
        assert!(
            buckets.windows(2).all(|w| w[0] <= w[1]),
            "{kind}: {buckets:?}"
        );
        let count = value(
            last,
            "sentry_load_visibility_seconds_count",
            &[("kind", kind)],
        );
        assert_eq!(buckets.last().copied(), Some(count), "{kind}");
    }
    // What the sim dropped is overdue once its second is a deadline old: never more than the
    // dropped, and all of those sent 3 s or more before the last scrape.
    let dropped = ids(&truth, Decision::DroppedSilently).len() as f64;
    assert!(dropped > 0.0);
    let overdue: Vec<f64> = parsed
        .iter()
        .map(|s| value(s, "sentry_load_overdue", &[]))
        .collect();
    assert!(
        overdue.iter().all(|o| *o <= dropped),
        "{overdue:?} of {dropped}"
    );
    assert!(
        *overdue.last().unwrap() >= dropped * 0.5,
        "{overdue:?} of {dropped}"
    );
}

/// The Grafana dashboard shipped in `compose/grafana/`: it parses, its panels do not overlap,
/// each reads the templated Prometheus data source, and every `sentry_load_*` series it
/// queries is one the endpoint serves.
#[test]
fn the_grafana_dashboard_queries_only_what_the_endpoint_serves() {
    let path = format!(
        "{}/compose/grafana/sentry-load-dashboard.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // What the endpoint serves, with every family present.
    let m = sentry_load_engine::LiveMetrics::new(0, 1, Duration::from_secs(1));
    let mut r = sentry_load_common::journal::JournalRecord::fixture(1);
    r.outcome = sentry_load_common::SendOutcome::Accepted;
    m.note(&r);
    r.outcome = sentry_load_common::SendOutcome::RateLimited;
    r.status = 429;
    m.note(&r);
    m.note_seen(&[(r.kind, 0)], 1);
    m.refresh(1.0, 0, 2, 2);
    let served: std::collections::BTreeSet<String> = m
        .render()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    let mut cells = std::collections::BTreeSet::new();
    let mut queried = 0;
    for p in dash["panels"].as_array().unwrap() {
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "duplicate id {}",
            p["id"]
        );
        let g = &p["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| g[k].as_u64().unwrap());
        assert!(x + w <= 24, "{}", p["title"]);
        for cx in x..x + w {
            for cy in y..y + h {
                assert!(
                    cells.insert((cx, cy)),
                    "{} overlaps at {cx},{cy}",
                    p["title"]
                );
            }
        }
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("sentry_load_") {
                    queried += 1;
                    assert!(
                        served.contains(word),
                        "{expr}: `{word}` is not served: {served:?}"
                    );
                }
            }
        }
    }
    assert!(queried >= 10, "{queried}");
}
