//! The fast path for plain-HTTP/1.1 targets (`http://` DSNs, as nginx or Relay inside a
//! deployment's network): a pool of kept-alive hyper connections, one request at a time each,
//! with the request head prepared once. `https://` and HTTP/2 go through [`HttpTransport`]
//! (reqwest). Measured with `scripts/bench-sender.sh`.
//!
//! Timeouts cost no timer per request: each connection records when its request started, and
//! one sweeper task, waking every tenth of the timeout, closes the connections whose request
//! has outlived it; the request then ends as a transport error. A request therefore ends
//! between `timeout` and `1.1 × timeout` after it started.
//!
//! [`HttpTransport`]: super::HttpTransport

use super::transport::{Answer, Transport};
use crate::target::Target;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

type Sender = SendRequest<Full<Bytes>>;

/// A pooled connection: its sender, and what the sweeper needs to close it.
struct Conn {
    sender: Sender,
    watch: Arc<Watch>,
}

/// When the connection's current request started (µs since the transport's epoch, 0 when
/// idle), and how to close it.
struct Watch {
    busy_since: AtomicU64,
    task: AbortHandle,
}

/// What every request to one target shares.
struct Head {
    uri: Uri,
    host: HeaderValue,
    auth: HeaderValue,
    addr: String,
}

/// Kept-alive HTTP/1.1 connections to `http://` targets.
pub struct PlainHttpTransport {
    heads: Vec<Head>,
    idle: Vec<Mutex<Vec<Conn>>>,
    watches: Arc<Mutex<Vec<Weak<Watch>>>>,
    epoch: Instant,
    sweeper: AbortHandle,
}

impl Drop for PlainHttpTransport {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}

/// A target that the plain-HTTP path cannot serve.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotPlainHttp(String);

impl PlainHttpTransport {
    /// A pool for `targets` (by index), each `http://`, ending requests after `timeout`.
    /// Must be called inside a tokio runtime (it starts the sweeper).
    pub fn new(
        targets: &[Arc<Target>],
        timeout: Duration,
    ) -> Result<PlainHttpTransport, NotPlainHttp> {
        let mut heads = Vec::with_capacity(targets.len());
        for t in targets {
            let url = &t.envelope_url;
            if url.scheme() != "http" {
                return Err(NotPlainHttp(format!("{} is not plain http", t.display)));
            }
            let host = url.host_str().unwrap_or_default();
            let port = url.port_or_known_default().unwrap_or(80);
            let authority = match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            };
            let path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            let bad = |e: &dyn std::fmt::Display| NotPlainHttp(format!("{}: {e}", t.display));
            heads.push(Head {
                uri: path.parse().map_err(|e| bad(&e))?,
                host: HeaderValue::from_str(&authority).map_err(|e| bad(&e))?,
                auth: HeaderValue::from_str(&t.auth_header).map_err(|e| bad(&e))?,
                addr: format!("{host}:{port}"),
            });
        }
        let idle = heads.iter().map(|_| Mutex::new(Vec::new())).collect();
        let watches: Arc<Mutex<Vec<Weak<Watch>>>> = Arc::default();
        let epoch = Instant::now();
        let sweeper = tokio::spawn(sweep(watches.clone(), epoch, timeout)).abort_handle();
        Ok(PlainHttpTransport {
            heads,
            idle,
            watches,
            epoch,
            sweeper,
        })
    }

    async fn connect(&self, addr: &str) -> std::io::Result<Conn> {
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        // The connection task ends when the sender is dropped, the peer closes, or the
        // sweeper aborts it.
        let task = tokio::spawn(conn).abort_handle();
        let watch = Arc::new(Watch {
            busy_since: AtomicU64::new(0),
            task,
        });
        lock(&self.watches).push(Arc::downgrade(&watch));
        Ok(Conn { sender, watch })
    }

    fn checkout(&self, target: usize) -> Option<Conn> {
        let mut idle = lock(&self.idle[target]);
        while let Some(c) = idle.pop() {
            if !c.sender.is_closed() {
                return Some(c);
            }
        }
        None
    }

    fn checkin(&self, target: usize, conn: Conn) {
        conn.watch.busy_since.store(0, Relaxed);
        if !conn.sender.is_closed() {
            lock(&self.idle[target]).push(conn);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Closes connections whose request has run longer than `timeout`; forgets closed ones.
async fn sweep(watches: Arc<Mutex<Vec<Weak<Watch>>>>, epoch: Instant, timeout: Duration) {
    let every = (timeout / 10).clamp(Duration::from_millis(5), Duration::from_secs(1));
    let limit = timeout.as_micros() as u64;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = epoch.elapsed().as_micros() as u64 + 1;
        lock(&watches).retain(|w| match w.upgrade() {
            Some(watch) => {
                let since = watch.busy_since.load(Relaxed);
                if since != 0 && now.saturating_sub(since) > limit {
                    watch.task.abort();
                }
                !watch.task.is_finished()
            }
            None => false,
        });
    }
}

impl Transport for PlainHttpTransport {
    fn enforces_timeout(&self) -> bool {
        true
    }

    async fn send(&self, target: &Target, body: Vec<u8>, gzip: bool) -> Answer {
        let i = usize::from(target.index);
        let head = &self.heads[i];
        let mut conn = match self.checkout(i) {
            Some(c) => c,
            None => match self.connect(&head.addr).await {
                Ok(c) => c,
                Err(_) => return Answer::none(),
            },
        };
        // +1: 0 means idle.
        let started = self.epoch.elapsed().as_micros() as u64 + 1;
        conn.watch.busy_since.store(started, Relaxed);
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = head.uri.clone();
        let h = request.headers_mut();
        h.insert(HOST, head.host.clone());
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-sentry-envelope"),
        );
        h.insert("x-sentry-auth", head.auth.clone());
        if gzip {
            h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if conn.sender.ready().await.is_err() {
            return Answer::none();
        }
        let Ok(resp) = conn.sender.send_request(request).await else {
            return Answer::none();
        };
        let answer = Answer::http(resp.status().as_u16(), resp.headers());
        // Read the body to the end so the connection can carry the next request.
        if resp.into_body().collect().await.is_ok() {
            self.checkin(i, conn);
        }
        answer
    }
}

/// Idle pooled connections to the first target (for tests).
#[cfg(test)]
pub(super) fn idle_connections(t: &PlainHttpTransport) -> usize {
    lock(&t.idle[0]).len()
}
