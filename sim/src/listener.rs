//! The sim's listening socket, bounded as self-hosted Sentry's front proxy bounds its own: at
//! most [`MAX_CONNECTIONS`] connections are open at once (the next ones wait in the kernel's
//! backlog until one closes), and a connection that has been answered and then sends nothing
//! for [`IDLE_TIMEOUT`] is closed: idle keep-alives, and connections opened and never used,
//! give their slot back. Once bytes have arrived the server owes an answer, and the wait is
//! the server's, not the client's; so a request head or body trickled in a byte at a time
//! holds its connection (one of [`MAX_CONNECTIONS`]) until it ends.
//!
//! Checked against getsentry/self-hosted `nginx.conf` @
//! 068b91e2afbc3b9cf3a9447f208ee027ab73aecb: `worker_connections 1024` per worker process
//! (`worker_processes auto`, so 4,096 on four cores), `keepalive_timeout 75s`, and nginx's
//! default `client_header_timeout` and `client_body_timeout` of 60 s between two reads.

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

    /// A server on `Bounded` whose `/slow` answers after 400 ms.
    async fn server(connections: usize, idle: Duration) -> SocketAddr {
        let inner = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = inner.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    "slow"
                }),
            );
        let listener = Bounded::with_limits(inner, connections, idle);
        tokio::spawn(async move { axum::serve(listener, app).await });
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
        let addr = server(2, Duration::from_secs(60)).await;
        let first = TcpStream::connect(addr).await.unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        second.write_all(GET).await.unwrap();
        let got = answer(&mut second, Duration::from_secs(10)).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
        // The third connects (the kernel's backlog holds it) but is not served.
        let mut third = TcpStream::connect(addr).await.unwrap();
        third.write_all(GET).await.unwrap();
        assert_eq!(answer(&mut third, Duration::from_millis(500)).await, None);
        drop(first);
        let got = answer(&mut third, Duration::from_secs(10)).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    }
}
