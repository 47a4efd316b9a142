//! Generator cost per kind against the cost of sending the same envelope on loopback.
//!
//! For each kind: rendering one envelope from its template (`render`), rendering and
//! gzip-compressing it as `send.gzip = true` does (`render+gzip`), and sending the rendered
//! envelope to a null sink on 127.0.0.1 and reading the answer, one request at a time, over a
//! kept-alive connection (`send`). The goal is render ≤ ¼ of send: the generator must never be
//! what limits a run. `cargo bench -p sentry-load-engine --bench generate`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sentry_load_common::{EventKind, RunId};
use sentry_load_engine::{Generator, PlainHttpTransport, Target, Transport};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The `prod` profile's knobs, so sizes are those a production-like run sends.
const PROFILE: &str = include_str!("../../profiles/prod.toml");

fn generator() -> Generator {
    let text = PROFILE
        .replace(
            "${SENTRY_DSN}",
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1",
        )
        .replace("${SENTRY_AUTH_TOKEN}", "unused");
    let profile = sentry_load_config::parse_profile("prod.toml", &text).expect("prod parses");
    Generator::for_traffic(
        RunId::parse("bench").unwrap(),
        profile.seed,
        profile.traffic.get_ref(),
    )
    .precompressed()
}

/// A null sink: reads the body, answers 200 with an id.
async fn sink() -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/api/{project}/envelope/",
        axum::routing::post(|_body: axum::body::Bytes| async {
            r#"{"id":"5e1d0a1dcafe4bad8badf00ddeadbeef"}"#
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn benches(c: &mut Criterion) {
    let g = generator();
    let at = SystemTime::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(sink());
    let dsn: sentry_load_config::Dsn = format!("http://0123456789abcdef0123456789abcdef@{addr}/1")
        .parse()
        .unwrap();
    let target = Arc::new(Target::from_dsn(0, &dsn));
    let transport = PlainHttpTransport::new(std::slice::from_ref(&target)).unwrap();
    let mut session = transport.session();
    for kind in EventKind::ALL {
        // A spread of sequence numbers, so every size class and shape is in the mix.
        let seqs: Vec<u64> = (0..512).collect();
        let mean = seqs
            .iter()
            .map(|s| g.envelope(*s, kind, at).body.len())
            .sum::<usize>()
            / seqs.len();
        let mut group = c.benchmark_group(kind.as_str());
        group.throughput(Throughput::Elements(1));
        group.measurement_time(Duration::from_secs(4));
        let mut i = 0usize;
        group.bench_function(BenchmarkId::new("render", mean), |b| {
            b.iter(|| {
                i = (i + 1) % seqs.len();
                g.envelope(seqs[i], kind, at)
            })
        });
        group.bench_function(BenchmarkId::new("render+gzip", mean), |b| {
            b.iter(|| {
                i = (i + 1) % seqs.len();
                g.envelope_gzip(seqs[i], kind, at)
            })
        });
        let bodies: Vec<Vec<u8>> = seqs.iter().map(|s| g.envelope(*s, kind, at).body).collect();
        group.bench_function(BenchmarkId::new("send", mean), |b| {
            b.iter(|| {
                i = (i + 1) % bodies.len();
                let answer = rt.block_on(transport.send(
                    &mut session,
                    &target,
                    sentry_load_engine::Endpoint::Envelope,
                    &bodies[i],
                    false,
                ));
                assert_eq!(answer.status, Some(200));
            })
        });
        group.finish();
    }
}

criterion_group!(generate, benches);
criterion_main!(generate);
