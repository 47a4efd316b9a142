//! Rate-limit answers read as Relay reads them, and back-off by category, scope and expiry.

use super::*;
use std::sync::Arc;

fn target(index: u16, project: u64) -> Arc<Target> {
    let dsn: sentry_load_config::Dsn = format!("http://k{index}@127.0.0.1:9/{project}")
        .parse()
        .unwrap();
    Arc::new(Target::from_dsn(index, &dsn))
}

const S: Duration = Duration::from_secs(1);

#[test]
fn parses_relay_headers_and_keeps_the_longest_per_scope_and_category() {
    let l = parse_header(
        "60:transaction:key, 2700:default;error;security:organization:quota_x, junk, \
         90:transaction:key",
    );
    assert_eq!(l.get(Scope::Key, Category::Transaction), Some(90 * S));
    assert_eq!(l.get(Scope::Key, Category::Error), None);
    assert_eq!(l.get(Scope::Organization, Category::Error), Some(2700 * S));
    assert_eq!(l.get(Scope::Organization, Category::Transaction), None);
    let all = parse_header("1.5::project");
    assert_eq!(all.get(Scope::Project, Category::Error), Some(2 * S));
    assert_eq!(all.get(Scope::Project, Category::Transaction), Some(2 * S));
    // An unknown scope is the most specific one; unknown categories hold nothing back.
    assert_eq!(
        parse_header("5:error:galaxy").get(Scope::Key, Category::Error),
        Some(5 * S)
    );
    assert!(parse_header("5:attachment;profile:key").is_empty());
    assert!(parse_header("").is_empty() && parse_header(",,,").is_empty());
    assert_eq!(
        from_retry_after(Some("7")).get(Scope::Key, Category::Error),
        Some(7 * S)
    );
    assert_eq!(
        from_retry_after(Some("Wed, 21 Oct")).get(Scope::Key, Category::Error),
        Some(DEFAULT_RETRY_AFTER)
    );
    assert!(from_answer(200, None, Some("30")).is_empty());
}

#[test]
fn delays_are_rounded_up_and_absurd_ones_do_not_overflow() {
    let delay = |v: &str| parse_header(&format!("{v}:error:key")).get(Scope::Key, Category::Error);
    assert_eq!(delay("17.1"), Some(18 * S));
    assert_eq!(delay("-2"), Some(Duration::ZERO));
    assert_eq!(delay("NaN"), Some(Duration::ZERO));
    assert_eq!(delay("inf"), Some(Duration::from_secs(u64::MAX)));
    assert_eq!(delay("1e20"), Some(Duration::from_secs(u64::MAX)));
    assert_eq!(
        delay("10000000000000000000"),
        Some(Duration::from_secs(10_000_000_000_000_000_000))
    );
    assert_eq!(
        from_retry_after(Some("1e19")).get(Scope::Key, Category::Error),
        Some(Duration::from_secs(10_000_000_000_000_000_000))
    );
}

#[tokio::test(start_paused = true)]
async fn a_delay_the_clock_cannot_add_is_no_limit_as_in_relay() {
    let now = Instant::now();
    let b = BackOff::new(&[target(0, 1)], now);
    for header in ["10000000000000000000::key", "1e20::key", "inf::key"] {
        b.update(0, &parse_header(header), now);
        assert!(!b.limited(EventKind::Error, 0, now), "{header}");
    }
    b.update(0, &from_retry_after(Some("1e19")), now);
    assert!(!b.limited(EventKind::Error, 0, now));
    // A long one the clock can add holds.
    b.update(0, &parse_header("1e12::key"), now);
    assert!(b.limited(EventKind::Error, 0, now + Duration::from_secs(999_999_999)));
}

#[tokio::test(start_paused = true)]
async fn back_off_covers_matching_categories_until_it_expires() {
    let now = Instant::now();
    let b = BackOff::new(&[target(0, 1)], now);
    b.update(0, &parse_header("10:transaction:key"), now);
    assert!(!b.limited(EventKind::Error, 0, now));
    assert!(b.limited(EventKind::Transaction, 0, now));
    b.update(0, &parse_header("5::organization"), now);
    assert!(b.limited(EventKind::Native, 0, now + 4 * S));
    assert!(!b.limited(EventKind::Error, 0, now + 5 * S));
    assert!(b.limited(EventKind::Transaction, 0, now + 9 * S));
    assert!(!b.limited(EventKind::Transaction, 0, now + 10 * S));
    // A shorter limit later does not cut a longer one short.
    b.update(0, &parse_header("30:error:key"), now);
    b.update(0, &parse_header("1:error:key"), now + S);
    assert!(b.limited(EventKind::Javascript, 0, now + 29 * S));
}

#[tokio::test(start_paused = true)]
async fn a_limit_holds_back_only_its_scope() {
    let now = Instant::now();
    // Targets 0 and 1 are two keys of project 1; target 2 is project 2.
    let b = BackOff::new(&[target(0, 1), target(1, 1), target(2, 2)], now);
    b.update(0, &parse_header("60:error:key"), now);
    assert_eq!(
        [0, 1, 2].map(|t| b.limited(EventKind::Error, t, now)),
        [true, false, false]
    );
    b.update(1, &parse_header("60:transaction:project"), now);
    assert_eq!(
        [0, 1, 2].map(|t| b.limited(EventKind::Transaction, t, now)),
        [true, true, false]
    );
    b.update(2, &parse_header("60:error:organization"), now);
    assert_eq!(
        [0, 1, 2].map(|t| b.limited(EventKind::Error, t, now)),
        [true, true, true]
    );
    // A target the state does not know is held back only by the organization.
    assert!(b.limited(EventKind::Error, 7, now));
    assert!(!b.limited(EventKind::Transaction, 7, now));
}

#[tokio::test(start_paused = true)]
async fn an_attachment_limit_holds_back_no_crash() {
    let now = Instant::now();
    let b = BackOff::new(&[target(0, 1)], now);
    b.update(0, &parse_header("60:attachment:key"), now);
    assert!(!b.limited(EventKind::Native, 0, now));
}

#[tokio::test(start_paused = true)]
async fn a_header_of_many_windows_leaves_one_expiry_per_scope_and_category() {
    let now = Instant::now();
    let b = BackOff::new(&[target(0, 1)], now);
    let header: String = (1..=5_000)
        .map(|i| format!("{i}:error;transaction:key:r{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let limits = parse_header(&header);
    assert_eq!(limits.get(Scope::Key, Category::Error), Some(5_000 * S));
    for i in 0..1_000 {
        b.update(0, &limits, now + Duration::from_millis(i));
    }
    assert!(b.limited(EventKind::Error, 0, now + 5_000 * S));
    assert!(!b.limited(EventKind::Error, 0, now + 5_002 * S));
    assert_eq!(
        std::mem::size_of::<Limits>(),
        std::mem::size_of_val(&limits)
    );
}

proptest::proptest! {
    /// Whatever a peer puts in the headers, reading and applying them does not panic.
    #[test]
    fn any_header_is_read_without_panic(header in "[0-9a-z.;:, eE+-]{0,200}", retry in ".{0,30}") {
        let now = Instant::now();
        let b = BackOff::new(&[target(0, 1)], now);
        let limits = from_answer(429, Some(&header), Some(&retry));
        b.update(0, &limits, now);
        let _ = b.limited(EventKind::Error, 0, now);
        let _ = from_retry_after(Some(&retry));
    }
}
