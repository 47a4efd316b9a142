//! The sender against peers that answer wrongly on purpose: bytes streamed as fast as they can
//! be read, absurd rate limits, storms of limits, limits for one project among several.

use super::tests::{opts, plain_target, run_to};
use super::*;
use crate::plan::Phase;
use crate::target::Target;
use sentry_load_common::EventKind;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// A loopback peer that, on every connection, reads whatever comes and writes `head` once
/// and then `flood` forever, as fast as the socket takes it.
fn flooding_server(head: &'static [u8], flood: &'static [u8]) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            let mut reader = s.try_clone().unwrap();
            std::thread::spawn(move || {
                let mut sink = [0u8; 4096];
                while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
            });
            std::thread::spawn(move || {
                let block = flood.repeat(64 * 1024 / flood.len() + 1);
                if s.write_all(head).is_err() {
                    return;
                }
                while s.write_all(&block).is_ok() {}
            });
        }
    });
    addr
}

/// Three sends to a flooding peer with a 300 ms timeout: each must end as a transport error
/// near its timeout, and the run must end. The outer guard only keeps a broken timeout from
/// hanging the suite. Whether loopback keeps the reader busy enough to spend tokio's budget
/// depends on the machine; the test below makes that case certain.
async fn times_out_against(head: &'static [u8], flood: &'static [u8]) {
    let addr = flooding_server(head, flood);
    let target = plain_target(addr);
    let transport = PlainHttpTransport::new(std::slice::from_ref(&target)).unwrap();
    let timeout = Duration::from_millis(300);
    let o = SendOptions {
        timeout,
        ..opts(3, RateLimitPolicy::KeepSending)
    };
    let plan = Plan::new(vec![Phase::hold(10.0, Duration::from_millis(300))]);
    let (records, _) = tokio::time::timeout(
        Duration::from_secs(60),
        run_to(&plan, &o, transport, Router::single((*target).clone())),
    )
    .await
    .expect("the timeout holds against a peer that never stops talking");
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r.outcome, SendOutcome::TransportError, "{r:?}");
        let took = Duration::from_micros(r.done_micros - r.sent_micros);
        // Correctness, not speed: a request ends at its timeout, not many times later.
        assert!(took >= timeout, "ended before its timeout: {took:?}");
        assert!(took < 10 * timeout, "ended {took:?} after it was sent");
    }
}

#[tokio::test]
async fn the_timeout_holds_against_a_flood_of_informational_answers() {
    times_out_against(b"", b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n").await;
}

#[tokio::test]
async fn the_timeout_holds_against_endless_chunk_extensions() {
    times_out_against(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;ext=",
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    )
    .await;
}

#[tokio::test]
async fn the_timeout_holds_against_an_endless_body() {
    times_out_against(
        b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999\r\n\r\n",
        b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    )
    .await;
}

/// Answers every request with `status` and the given `X-Sentry-Rate-Limits` and
/// `Retry-After` values, counting requests per target.
struct Limiting {
    status: u16,
    rate_limits: Option<&'static str>,
    retry_after: Option<&'static str>,
    /// Only answers for this target index limit; the others get a plain 200.
    only_target: Option<u16>,
    calls: [AtomicU64; 2],
}

impl Limiting {
    fn new(
        status: u16,
        rate_limits: Option<&'static str>,
        retry_after: Option<&'static str>,
    ) -> Limiting {
        Limiting {
            status,
            rate_limits,
            retry_after,
            only_target: None,
            calls: Default::default(),
        }
    }
}

impl Transport for Limiting {
    type Session = ();

    fn session(&self) {}

    async fn send(
        &self,
        _: &mut (),
        target: &Target,
        _: crate::target::Endpoint,
        _: &[u8],
        _: bool,
    ) -> Answer {
        self.calls[usize::from(target.index).min(1)].fetch_add(1, Ordering::Relaxed);
        if self.only_target.is_some_and(|t| t != target.index) {
            return Answer::from_parts(200, None, None);
        }
        Answer::from_parts(self.status, self.rate_limits, self.retry_after)
    }
}

fn two_projects() -> Router {
    let t = |index: u16, project: u64| {
        let dsn: sentry_load_config::Dsn = format!("http://k{index}@127.0.0.1:9/{project}")
            .parse()
            .unwrap();
        (Target::from_dsn(index, &dsn), 1.0)
    };
    Router::weighted(vec![t(0, 1), t(1, 2)], 7)
}

#[tokio::test(start_paused = true)]
async fn absurd_rate_limits_neither_panic_nor_stop_the_run() {
    let plan = Plan::new(vec![Phase::hold(20.0, Duration::from_secs(2))]);
    let cases: [(u16, Option<&'static str>, Option<&'static str>); 5] = [
        (429, Some("10000000000000000000::key"), None),
        (200, Some("10000000000000000000::key"), None),
        (429, None, Some("1e19")),
        (429, None, Some("1e20")),
        (
            429,
            Some("1e400:error:organization, -5::key, NaN:transaction:project"),
            None,
        ),
    ];
    for (status, limits, retry) in cases {
        for policy in [RateLimitPolicy::BackOff, RateLimitPolicy::KeepSending] {
            let t = Limiting::new(status, limits, retry);
            let (records, _) = run_to(&plan, &opts(4, policy), t, router_single()).await;
            assert_eq!(records.len(), 40, "{status} {limits:?} {retry:?}");
            // A delay no clock can add is no limit (as Relay reads it): every arrival is sent.
            assert!(
                records.iter().all(|r| r.outcome != SendOutcome::BackedOff),
                "{status} {limits:?} {retry:?} {policy:?}"
            );
        }
    }
}

fn router_single() -> Router {
    super::tests::router()
}

#[tokio::test(start_paused = true)]
async fn a_project_limit_backs_off_only_that_project() {
    let plan = Plan::new(vec![Phase::hold(50.0, Duration::from_secs(2))]);
    let mut t = Limiting::new(429, Some("60::project"), None);
    t.only_target = Some(0);
    let router = two_projects();
    let (records, _) = run_to(&plan, &opts(4, RateLimitPolicy::BackOff), t, router).await;
    let count = |target: u16, outcome: SendOutcome| {
        records
            .iter()
            .filter(|r| r.target == target && r.outcome == outcome)
            .count()
    };
    let to = |target: u16| records.iter().filter(|r| r.target == target).count();
    // Project 1 answered one 429 and was backed off from then on; project 2 got everything.
    assert_eq!(count(0, SendOutcome::RateLimited), 1);
    assert_eq!(count(0, SendOutcome::BackedOff), to(0) - 1);
    assert_eq!(count(1, SendOutcome::Accepted), to(1));
    assert!(to(0) > 10 && to(1) > 10, "{} {}", to(0), to(1));
}

#[tokio::test(start_paused = true)]
async fn an_attachment_limit_backs_off_no_crash() {
    let plan =
        Plan::new(vec![Phase::hold(10.0, Duration::from_secs(1))]).of_kind(EventKind::Native);
    let t = Limiting::new(200, Some("60:attachment:key"), None);
    let (records, _) = run_native(&plan, t).await;
    assert_eq!(records.len(), 10);
    assert!(records.iter().all(|r| r.outcome == SendOutcome::Accepted));
}

async fn run_native<T: Transport>(plan: &Plan, t: T) -> (Vec<JournalRecord>, Arc<LiveStats>) {
    super::tests::run_kinds(
        plan,
        &opts(2, RateLimitPolicy::BackOff),
        t,
        router_single(),
        &[EventKind::Native],
    )
    .await
}

/// A storm of 429s, each announcing thousands of windows: the state stays one expiry per scope
/// and category, so every arrival past the first answer is backed off and none is lost.
#[tokio::test(start_paused = true)]
async fn a_storm_of_limits_keeps_fixed_state_and_counts_every_arrival() {
    static HEADER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let header = HEADER.get_or_init(|| {
        (1..=3_000)
            .map(|i| format!("{}:error;transaction:key:r{i}", 1 + i % 3))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let plan = Plan::new(vec![Phase::hold(3_000.0, Duration::from_secs(10))]);
    let t = Limiting::new(429, Some(header.as_str()), None);
    let (records, stats) = run_to(
        &plan,
        &opts(64, RateLimitPolicy::BackOff),
        t,
        router_single(),
    )
    .await;
    assert_eq!(records.len(), 30_000);
    // The windows last 3 s at most: sends resume after each, so more than one 429 comes.
    let limited = stats.count(SendOutcome::RateLimited);
    assert!(limited >= 3, "{limited}");
    assert_eq!(limited + stats.count(SendOutcome::BackedOff), 30_000);
}

/// Work that is always ready to go on, as a socket is when a peer streams faster than it is
/// read: it never finishes and yields only when tokio's cooperative budget runs out. A
/// budgeted timer polled after it never fires; the deadline must hold anyway.
#[tokio::test]
async fn a_deadline_holds_against_work_that_spends_the_whole_budget() {
    let endless = async {
        loop {
            tokio::task::consume_budget().await;
        }
    };
    let mut timer = std::pin::pin!(tokio::time::sleep_until(Instant::now()));
    let deadline = Instant::now() + Duration::from_millis(100);
    let ended = tokio::time::timeout(
        Duration::from_secs(30),
        before_deadline(timer.as_mut(), deadline, endless),
    )
    .await
    .expect("the deadline ends work that is always ready");
    assert!(ended.is_none());
    assert!(Instant::now() >= deadline);
}
