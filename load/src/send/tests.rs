//! The sender on paused time: exact accounting with a stalled target, no lateness with a fast
//! one, and both 429 policies.

use super::*;
use crate::plan::Phase;
use sentry_load_common::{EventKind, RunId};
use std::sync::atomic::{AtomicU64, Ordering};

struct Stalled;

impl Transport for Stalled {
    type Session = ();

    fn session(&self) {}

    async fn send(
        &self,
        _: &mut (),
        _: &crate::target::Target,
        _: crate::target::Endpoint,
        _: &[u8],
        _: bool,
    ) -> Answer {
        std::future::pending().await
    }
}

/// Answers each call with what the script says for its 0-based call number.
struct Scripted {
    calls: AtomicU64,
    script: fn(u64) -> Answer,
}

impl Transport for Scripted {
    type Session = ();

    fn session(&self) {}

    async fn send(
        &self,
        _: &mut (),
        _: &crate::target::Target,
        _: crate::target::Endpoint,
        _: &[u8],
        _: bool,
    ) -> Answer {
        (self.script)(self.calls.fetch_add(1, Ordering::Relaxed))
    }
}

fn ok(_: u64) -> Answer {
    Answer {
        status: Some(200),
        rate_limits: Limits::none(),
    }
}

pub(super) fn router() -> Router {
    let dsn: sentry_load_config::Dsn = "http://k@127.0.0.1:9/1".parse().unwrap();
    Router::single(crate::target::Target::from_dsn(0, &dsn))
}

pub(super) fn opts(max_in_flight: usize, policy: RateLimitPolicy) -> SendOptions {
    SendOptions {
        max_in_flight,
        timeout: Duration::from_secs(1),
        give_up_after: Duration::from_millis(105),
        gzip: false,
        on_rate_limit: policy,
        precise_timing: false,
    }
}

async fn run<T: Transport>(
    plan: &Plan,
    o: &SendOptions,
    t: T,
) -> (Vec<JournalRecord>, Arc<LiveStats>) {
    run_to(plan, o, t, router()).await
}

pub(super) async fn run_to<T: Transport>(
    plan: &Plan,
    o: &SendOptions,
    t: T,
    router: Router,
) -> (Vec<JournalRecord>, Arc<LiveStats>) {
    run_kinds(plan, o, t, router, &[EventKind::Error]).await
}

/// Sends the plan as envelopes of `kinds` through `t`; the records in plan order.
pub(super) async fn run_kinds<T: Transport>(
    plan: &Plan,
    o: &SendOptions,
    t: T,
    router: Router,
    kinds: &[EventKind],
) -> (Vec<JournalRecord>, Arc<LiveStats>) {
    let generator = Arc::new(Generator::new(
        RunId::parse("sender-test").unwrap(),
        1,
        &sentry_load_config::RealismKnobs::defaults(10),
        kinds,
    ));
    let stats = Arc::new(LiveStats::default());
    let (tx, mut rx) = mpsc::channel(1024);
    let clock = RunClock::now();
    let collect = tokio::spawn(async move {
        let mut v = Vec::new();
        while let Some(r) = rx.recv().await {
            v.push(r);
        }
        v
    });
    drive(
        plan,
        &generator,
        &router,
        o,
        clock,
        tx,
        stats.clone(),
        Arc::new(t),
    )
    .await;
    let mut records = collect.await.unwrap();
    records.sort_by_key(|r| r.seq);
    (records, stats)
}

#[tokio::test(start_paused = true)]
async fn a_stalled_target_is_counted_exactly_and_memory_stays_bounded() {
    // 100/s for 2 s; 4 workers; requests time out after 1 s; give up 105 ms after due.
    let plan = Plan::new(vec![Phase::hold(100.0, Duration::from_secs(2))]);
    let (records, stats) = run(&plan, &opts(4, RateLimitPolicy::KeepSending), Stalled).await;
    assert_eq!(records.len(), 200, "one record per arrival");
    assert!(records.iter().enumerate().all(|(i, r)| r.seq == i as u64));
    // The first four take the workers; they time out at 1.00–1.03 s, when the arrivals due
    // 90 ms earlier (90–93) are still waiting; those time out at 2.00–2.03 s, freeing the
    // workers for 190–193. Everything else gives up 105 ms after its due time.
    let started: Vec<u64> = records
        .iter()
        .filter(|r| r.outcome != SendOutcome::HarnessDropped)
        .map(|r| r.seq)
        .collect();
    assert_eq!(started, [0, 1, 2, 3, 90, 91, 92, 93, 190, 191, 192, 193]);
    assert!(
        records
            .iter()
            .filter(|r| started.contains(&r.seq))
            .all(|r| r.outcome == SendOutcome::TransportError)
    );
    assert_eq!(stats.count(SendOutcome::HarnessDropped), 188);
    assert_eq!(stats.count(SendOutcome::TransportError), 12);
    assert_eq!(
        stats.peak_in_flight(),
        4,
        "never more than max_in_flight requests"
    );
    // Lateness is measured from the due time: 90 started at 1.00 s, 100 ms late.
    let r90 = &records[90];
    assert_eq!(r90.sent_micros - r90.intended_micros, 100_000);
    let dropped = records
        .iter()
        .find(|r| r.outcome == SendOutcome::HarnessDropped)
        .unwrap();
    assert_eq!(
        (dropped.sent_micros, dropped.status, dropped.bytes),
        (0, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_fast_target_gets_every_send_on_time() {
    let plan = Plan::new(vec![Phase::hold(1000.0, Duration::from_secs(10))]);
    let t = Scripted {
        calls: AtomicU64::new(0),
        script: ok,
    };
    let (records, stats) = run(&plan, &opts(64, RateLimitPolicy::KeepSending), t).await;
    assert_eq!(records.len(), 10_000);
    assert_eq!(stats.count(SendOutcome::Accepted), 10_000);
    // On paused time the only lateness would be the scheduler's own: none.
    assert!(records.iter().all(|r| r.sent_micros == r.intended_micros));
    let last = &records[9_999];
    assert_eq!(
        last.intended_micros - records[0].intended_micros,
        9_999_000,
        "no drift"
    );
}

fn limited_first(call: u64) -> Answer {
    if call == 0 {
        Answer {
            status: Some(429),
            rate_limits: parse_header("2:error:key"),
        }
    } else {
        ok(call)
    }
}

#[tokio::test(start_paused = true)]
async fn back_off_skips_the_limited_category_for_retry_after() {
    let plan = Plan::new(vec![Phase::hold(10.0, Duration::from_secs(5))]);
    let t = Scripted {
        calls: AtomicU64::new(0),
        script: limited_first,
    };
    let (records, stats) = run(&plan, &opts(8, RateLimitPolicy::BackOff), t).await;
    assert_eq!(records.len(), 50);
    assert_eq!(records[0].outcome, SendOutcome::RateLimited);
    // The 429 came at 0 s and said 2 s: arrivals due at 0.1 … 1.9 s are not sent.
    let backed: Vec<u64> = records
        .iter()
        .filter(|r| r.outcome == SendOutcome::BackedOff)
        .map(|r| r.seq)
        .collect();
    assert_eq!(backed, (1..20).collect::<Vec<_>>());
    assert_eq!(stats.count(SendOutcome::Accepted), 30);
    assert!(
        records
            .iter()
            .filter(|r| r.outcome == SendOutcome::BackedOff)
            .all(|r| r.bytes == 0)
    );
}

#[tokio::test(start_paused = true)]
async fn keep_sending_measures_the_limit_instead() {
    let plan = Plan::new(vec![Phase::hold(10.0, Duration::from_secs(5))]);
    let t = Scripted {
        calls: AtomicU64::new(0),
        script: limited_first,
    };
    let (_, stats) = run(&plan, &opts(8, RateLimitPolicy::KeepSending), t).await;
    assert_eq!(stats.count(SendOutcome::RateLimited), 1);
    assert_eq!(stats.count(SendOutcome::Accepted), 49);
    assert_eq!(stats.count(SendOutcome::BackedOff), 0);
}

/// A loopback server that answers every request on a connection with `answer` (or never, when
/// `None`), reading requests up to their blank line and `Content-Length` body.
async fn raw_server(answer: Option<&'static str>) -> std::net::SocketAddr {
    raw_server_closing(answer, false).await.0
}

/// [`raw_server`], which closes each connection after its first answer when `close` (as a
/// server's keep-alive timeout would, without saying so in the answer); also counts the
/// connections it accepted.
async fn raw_server_closing(
    answer: Option<&'static str>,
    close: bool,
) -> (std::net::SocketAddr, Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(head_end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let len: usize = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() < head_end + 4 + len {
                        continue;
                    }
                    buf.drain(..head_end + 4 + len);
                    match answer {
                        Some(a) => {
                            if s.write_all(a.as_bytes()).await.is_err() || close {
                                return;
                            }
                        }
                        None => std::future::pending::<()>().await,
                    }
                }
            });
        }
    });
    (addr, accepted)
}

pub(super) fn plain_target(addr: std::net::SocketAddr) -> Arc<crate::target::Target> {
    let dsn: sentry_load_config::Dsn = format!("http://k@{addr}/1").parse().unwrap();
    Arc::new(crate::target::Target::from_dsn(0, &dsn))
}

#[tokio::test]
async fn plain_http_reads_status_and_rate_limits_and_reuses_connections() {
    let addr = raw_server(Some(
        "HTTP/1.1 429 Too Many Requests\r\nx-sentry-rate-limits: 30:error;default:key\r\n\
         retry-after: 30\r\ncontent-length: 2\r\n\r\n{}",
    ))
    .await;
    let target = plain_target(addr);
    let t = PlainHttpTransport::new(std::slice::from_ref(&target)).unwrap();
    let mut session = t.session();
    for _ in 0..3 {
        let a = t
            .send(
                &mut session,
                &target,
                crate::target::Endpoint::Envelope,
                b"{}\n",
                false,
            )
            .await;
        assert_eq!(a.status, Some(429));
        assert_eq!(a.rate_limits, parse_header("30:error;default:key"));
    }
    assert_eq!(session.open(), 1, "one kept-alive connection");
}

#[tokio::test]
async fn plain_http_reconnects_when_the_server_closed_an_idle_connection() {
    let (addr, accepted) =
        raw_server_closing(Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"), true).await;
    let target = plain_target(addr);
    let t = PlainHttpTransport::new(std::slice::from_ref(&target)).unwrap();
    let mut session = t.session();
    for _ in 0..3 {
        // Idle past the point where a kept connection is checked before reuse.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let a = t
            .send(
                &mut session,
                &target,
                crate::target::Endpoint::Envelope,
                b"{}\n",
                false,
            )
            .await;
        assert_eq!(a.status, Some(200), "a closed connection is not reused");
    }
    assert_eq!(accepted.load(Ordering::Relaxed), 3);
}

// Paused time: the server stalls on a real socket, and the clock jumps to the worker's timer
// once nothing else can run, so each request ends exactly at its timeout.
#[tokio::test(start_paused = true)]
async fn plain_http_ends_a_stalled_request_as_a_transport_error() {
    let addr = raw_server(None).await;
    let target = plain_target(addr);
    let transport = PlainHttpTransport::new(std::slice::from_ref(&target)).unwrap();
    let o = SendOptions {
        timeout: Duration::from_millis(200),
        ..opts(2, RateLimitPolicy::KeepSending)
    };
    let plan = Plan::new(vec![Phase::hold(10.0, Duration::from_millis(300))]);
    // The guard only keeps a broken timeout from hanging the test suite.
    let (records, _) = tokio::time::timeout(
        Duration::from_secs(30),
        run_to(&plan, &o, transport, Router::single((*target).clone())),
    )
    .await
    .expect("the worker's timer ends stalled requests");
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r.outcome, SendOutcome::TransportError);
        let took = r.done_micros - r.sent_micros;
        assert_eq!(took, 200_000, "ended at its timeout, not before or after");
    }
    assert!(
        PlainHttpTransport::new(&[Arc::new(crate::target::Target::from_dsn(
            0,
            &"https://k@127.0.0.1:9/1".parse().unwrap()
        ))])
        .is_err(),
        "https goes through reqwest"
    );
}

#[tokio::test]
async fn precise_waits_never_end_before_their_time() {
    // In real time: past, inside the yield window, and beyond it.
    for ahead_us in [0u64, 300, 1_500, 2_500, 7_000] {
        let due = Instant::now() + Duration::from_micros(ahead_us);
        wait_until(due, true).await;
        assert!(Instant::now() >= due, "{ahead_us} µs ahead ended early");
    }
    let past = Instant::now();
    wait_until(past, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precise_timing_sends_every_arrival_and_none_before_it_is_due() {
    let plan = Plan::new(vec![Phase::hold(500.0, Duration::from_secs(1))]);
    let t = Scripted {
        calls: AtomicU64::new(0),
        script: ok,
    };
    let o = SendOptions {
        precise_timing: true,
        ..opts(64, RateLimitPolicy::KeepSending)
    };
    let (records, stats) = run(&plan, &o, t).await;
    assert_eq!(records.len(), 500);
    assert_eq!(stats.count(SendOutcome::Accepted), 500);
    let early: Vec<u64> = records
        .iter()
        .filter(|r| r.sent_micros < r.intended_micros)
        .map(|r| r.seq)
        .collect();
    assert!(early.is_empty(), "sent before their time: {early:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_sending_and_lets_in_flight_requests_finish() {
    // 10/s for 5 s; stopped after 1 s: the arrivals due at 0.0 … 0.9 s are sent, no later one.
    let plan = Plan::new(vec![Phase::hold(10.0, Duration::from_secs(5))]);
    let t = Scripted {
        calls: AtomicU64::new(0),
        script: ok,
    };
    let generator = Arc::new(Generator::new(
        RunId::parse("stop-test").unwrap(),
        1,
        &sentry_load_config::RealismKnobs::defaults(10),
        &[EventKind::Error],
    ));
    let stats = Arc::new(LiveStats::default());
    let (tx, mut rx) = mpsc::channel(1024);
    let stop = tokio::time::sleep(Duration::from_millis(950));
    let stopped = drive_until(
        &plan,
        &generator,
        &router(),
        &opts(8, RateLimitPolicy::KeepSending),
        RunClock::now(),
        tx,
        stats.clone(),
        Arc::new(t),
        stop,
    )
    .await;
    assert!(stopped);
    let mut records = vec![];
    while let Some(r) = rx.recv().await {
        records.push(r);
    }
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (0..10).collect::<Vec<_>>());
    assert_eq!(stats.count(SendOutcome::Accepted), 10);
}
