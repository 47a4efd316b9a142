//! The sim's listening socket and how it serves, bounded as self-hosted Sentry's front proxy
//! bounds its own:
//! - at most [`MAX_CONNECTIONS`] connections are open at once (the next ones wait in the
//!   kernel's backlog until one closes);
//! - a connection that has been answered and then sends nothing for [`IDLE_TIMEOUT`] is
//!   closed: idle keep-alives, and connections opened and never used, give their slot back;
//! - a request head must arrive whole within [`HEAD_TIMEOUT`] of the server starting to wait
//!   for it — on a new connection, and on a kept-alive one once the answer before it is
//!   written (hyper's `header_read_timeout`; nginx waits `client_header_timeout` on a new
//!   connection and `keepalive_timeout` between two requests, so an idle keep-alive is
//!   closed here after 60 s, not 75 s) — and a body may pause at most [`BODY_TIMEOUT`] between two reads
//!   (tower-http's `RequestBodyTimeout`): a head or body trickled in a byte at a time gives
//!   its slot back instead of holding it until it ends.
//!
//! Once a request has arrived the server owes the answer, and that wait is the server's, not
//! the client's: it is not timed here.
//!
//! Checked against getsentry/self-hosted `nginx.conf` @
//! 068b91e2afbc3b9cf3a9447f208ee027ab73aecb: `worker_connections 1024` per worker process
//! (`worker_processes auto`, so 4,096 on four cores), `keepalive_timeout 75s`, and nginx's
//! defaults (none are set there) of `client_header_timeout 60s` (for the whole head) and
//! `client_body_timeout 60s` (between two reads), per nginx's `ngx_http_core_module` docs.

use axum::serve::Listener;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The most connections open at once.
pub const MAX_CONNECTIONS: usize = 4096;

/// How long a connection may wait for its next byte before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// How long a request head may take to arrive, from its first byte.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest pause between two reads of a request body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a head and a body may take; [`HEAD_TIMEOUT`] and [`BODY_TIMEOUT`] unless a test
/// makes them shorter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub head: Duration,
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            head: HEAD_TIMEOUT,
            body: BODY_TIMEOUT,
        }
    }
}

/// Serves `app` on `listener` with this module's bounds (connections, idle keep-alives, head
/// and body timeouts) until `shutdown` resolves: for the harness's own small endpoints too.
pub async fn serve_bounded(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    serve(Bounded::new(listener), app, Timeouts::default(), shutdown).await
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish (as `axum::serve(…).with_graceful_shutdown(…)` does), with `timeouts` on every
/// request head and body.
pub(crate) async fn serve(
    mut listener: Bounded,
    app: axum::Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        timeouts.body,
    ));
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.head);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A connection's end (closed, reset, timed out) is the client's business.
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A listener that holds a slot per open connection.
pub(crate) struct Bounded {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    idle: Duration,
}

impl Bounded {
    pub(crate) fn new(inner: TcpListener) -> Bounded {
        Bounded::with_limits(inner, MAX_CONNECTIONS, IDLE_TIMEOUT)
    }

    pub(crate) fn with_limits(inner: TcpListener, connections: usize, idle: Duration) -> Bounded {
        Bounded {
            inner,
            slots: Arc::new(Semaphore::new(connections.max(1))),
            idle,
        }
    }
}

impl Listener for Bounded {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Guarded, SocketAddr) {
        // The semaphore is never closed: acquiring fails only then.
        let slot = match self.slots.clone().acquire_owned().await {
            Ok(slot) => slot,
            Err(_) => unreachable!("the connection slots are never closed"),
        };
        let (io, addr) = Listener::accept(&mut self.inner).await;
        let deadline = Box::pin(tokio::time::sleep(self.idle));
        (
            Guarded {
                io,
                _slot: slot,
                idle: self.idle,
                deadline,
                owed: false,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// One accepted connection: its slot, and the time by which its next byte must arrive.
pub(crate) struct Guarded {
    io: TcpStream,
    _slot: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    /// Bytes arrived since the last answer: the server is the one to act.
    owed: bool,
}

impl Guarded {
    /// The server wrote: the client's idleness counts from now.
    fn answered(&mut self) {
        self.owed = false;
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(done) => {
                this.owed |= buf.filled().len() > before;
                let next = Instant::now() + this.idle;
                this.deadline.as_mut().reset(next);
                Poll::Ready(done)
            }
            Poll::Pending => loop {
                match this.deadline.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    // The server's wait: look again one timeout later.
                    Poll::Ready(()) if this.owed => {
                        let next = Instant::now() + this.idle;
                        this.deadline.as_mut().reset(next);
                    }
                    Poll::Ready(()) => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "nothing arrived on the connection for the idle timeout",
                        )));
                    }
                }
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        if written.is_ready() {
            self.answered();
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if written.is_ready() {
            self.answered();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server on `Bounded` with 300 ms head and body timeouts: `/slow` answers after
    /// 400 ms, `/hold` after 1.5 s, `/body` says how long the body was.
    async fn server(connections: usize, idle: Duration) -> SocketAddr {
        let short = Timeouts {
            head: Duration::from_millis(300),
            body: Duration::from_millis(300),
        };
        server_with(connections, idle, short).await
    }

    /// [`server`] with these timeouts.
    async fn server_with(connections: usize, idle: Duration, timeouts: Timeouts) -> SocketAddr {
        let inner = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = inner.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .route(
                "/hold",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    "held"
                }),
            )
            .route(
                "/body",
                axum::routing::post(|body: axum::body::Bytes| async move {
                    format!("{} bytes", body.len())
                }),
            )
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    "slow"
                }),
            );
        let listener = Bounded::with_limits(inner, connections, idle);
        tokio::spawn(serve(listener, app, timeouts, std::future::pending()));
        addr
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: sim\r\n\r\n";

    /// What arrives within `wait`: `None` when nothing did (the connection is still open and
    /// silent), `Some("")` when it was closed.
    async fn answer(s: &mut TcpStream, wait: Duration) -> Option<String> {
        let mut buf = vec![0u8; 1024];
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Err(_) => None,
            Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Ok(Err(_)) => Some(String::new()),
        }
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_after_the_idle_timeout() {
        let addr = server(8, Duration::from_millis(200)).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            answer(&mut silent, Duration::from_secs(10))
                .await
                .as_deref(),
            Some("")
        );
        // So is a keep-alive once answered and then left idle.
        let mut kept = TcpStream::connect(addr).await.unwrap();
        kept.write_all(GET).await.unwrap();
        let got = answer(&mut kept, Duration::from_secs(10)).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
        assert_eq!(
            answer(&mut kept, Duration::from_secs(10)).await.as_deref(),
            Some("")
        );
    }

    #[tokio::test]
    async fn an_answer_slower_than_the_idle_timeout_is_not_cut() {
        let addr = server(8, Duration::from_millis(200)).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /slow HTTP/1.1\r\nhost: sim\r\n\r\n")
            .await
            .unwrap();
        let got = answer(&mut s, Duration::from_secs(10)).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
        // The same connection still takes the next request.
        s.write_all(GET).await.unwrap();
        let got = answer(&mut s, Duration::from_secs(10)).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    }

    #[tokio::test]
    async fn past_the_connection_limit_a_client_waits_until_one_closes() {
        let addr = server_with(2, Duration::from_secs(60), Timeouts::default()).await;
        // The first holds its slot with a request answered in 1.5 s.
        let mut first = TcpStream::connect(addr).await.unwrap();
        first
            .write_all(b"GET /hold HTTP/1.1\r\nhost: sim\r\n\r\n")
            .await
            .unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        second.write_all(GET).await.unwrap();
        let got = answer(&mut second, Duration::from_secs(10)).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
        // The third connects (the kernel's backlog holds it) but is not served.
        let mut third = TcpStream::connect(addr).await.unwrap();
        third.write_all(GET).await.unwrap();
        assert_eq!(answer(&mut third, Duration::from_millis(500)).await, None);
        let got = answer(&mut first, Duration::from_secs(10)).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
        drop(first);
        let got = answer(&mut third, Duration::from_secs(10)).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    }

    /// Writes `bytes` one at a time, `every` apart, until they end or the peer closes; how
    /// many were written.
    async fn trickle(s: &mut TcpStream, bytes: &[u8], every: Duration) -> usize {
        for (i, b) in bytes.iter().enumerate() {
            if s.write_all(&[*b]).await.is_err() {
                return i;
            }
            tokio::time::sleep(every).await;
        }
        bytes.len()
    }

    #[tokio::test]
    async fn a_head_trickled_a_byte_at_a_time_is_cut_at_the_head_timeout() {
        // Idle timeout 60 s: only the head timeout (300 ms) can end this.
        let addr = server(8, Duration::from_secs(60)).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "GET / HTTP/1.1\r\nhost: sim\r\nx-pad: {}\r\n\r\n",
            "a".repeat(200)
        );
        let began = std::time::Instant::now();
        let written = trickle(&mut s, head.as_bytes(), Duration::from_millis(20)).await;
        // Some 15 bytes made it in 300 ms; the other 200-odd were refused by a closed socket.
        assert!(
            written < head.len(),
            "the whole head went in ({written} bytes)"
        );
        assert!(
            began.elapsed() < Duration::from_secs(4),
            "{:?}",
            began.elapsed()
        );
        let got = answer(&mut s, Duration::from_secs(5)).await.unwrap();
        assert!(!got.starts_with("HTTP/1.1 200"), "{got:?}");
    }

    #[tokio::test]
    async fn a_body_that_pauses_longer_than_the_body_timeout_is_cut_but_a_steady_one_is_not() {
        let addr = server(8, Duration::from_secs(60)).await;
        let head = b"POST /body HTTP/1.1\r\nhost: sim\r\ncontent-length: 10\r\n\r\n";
        // Steady: a byte every 100 ms (under the 300 ms timeout), 1 s in all.
        let mut steady = TcpStream::connect(addr).await.unwrap();
        steady.write_all(head).await.unwrap();
        trickle(&mut steady, b"0123456789", Duration::from_millis(100)).await;
        let got = answer(&mut steady, Duration::from_secs(5)).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
        assert!(got.ends_with("10 bytes"), "{got:?}");
        // Paused: 3 bytes, then nothing.
        let mut paused = TcpStream::connect(addr).await.unwrap();
        paused.write_all(head).await.unwrap();
        paused.write_all(b"012").await.unwrap();
        let got = answer(&mut paused, Duration::from_secs(5))
            .await
            .expect("answered or closed well before the idle timeout");
        assert!(!got.starts_with("HTTP/1.1 200"), "{got:?}");
    }
}
