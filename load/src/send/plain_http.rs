//! The fast path for plain-HTTP/1.1 targets (`http://` DSNs, as nginx or Relay inside a
//! deployment's network): each sender worker keeps its own kept-alive connection per target
//! and runs its requests on it directly — one vectored write of the prepared request head and
//! the envelope, one read of the answer ([`super::http1`]) — with no connection task, channel
//! or pool lock between the worker and the socket. `https://` and HTTP/2 go through
//! [`HttpTransport`] (reqwest). Measured with `scripts/bench-sender.sh`.
//!
//! A connection is taken out of the worker's session for the length of a request and put back
//! only when its answer was read whole and may be followed by another; a request cut short
//! (the sender's timeout, an error) drops its connection with it, so the next request never
//! reads a stale answer. A connection idle for a while is first checked for the peer having
//! closed it, so a keep-alive timeout on the server's side does not cost an event.
//!
//! [`HttpTransport`]: super::HttpTransport

use super::http1::{read_response, write_request};
use super::transport::{Answer, Transport};
use crate::target::{Endpoint, Target};
use std::io;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Idle longer than this, a connection is checked for a close by the peer before reuse.
const CHECK_AFTER_IDLE: Duration = Duration::from_millis(100);
/// Read buffer per connection: answers from Relay fit many times over.
const READ_BUFFER: usize = 4096;

/// What every request to one target shares: where to connect, and per endpoint the request
/// head up to the value of `Content-Length`.
struct Head {
    addr: String,
    prefixes: [Vec<u8>; 3],
}

/// Plain-HTTP/1.1 requests to `http://` targets.
pub struct PlainHttpTransport {
    heads: Vec<Head>,
}

/// A target that the plain-HTTP path cannot serve.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotPlainHttp(String);

/// One kept-alive connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// When its last request started.
    last_used: Instant,
}

/// A worker's connections, one slot per target.
pub struct Connections {
    slots: Vec<Option<Conn>>,
    /// Scratch for the end of each request head (length, encoding).
    tail: Vec<u8>,
}

impl Connections {
    /// Open connections kept (for tests).
    pub fn open(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

impl PlainHttpTransport {
    /// Requests to `targets`, each `http://` (a target's index is its position in the list).
    pub fn new(targets: &[Arc<Target>]) -> Result<PlainHttpTransport, NotPlainHttp> {
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
            let unsafe_char = |v: &str| v.bytes().any(|b| b.is_ascii_control());
            if unsafe_char(&authority) || unsafe_char(&t.auth_header) {
                return Err(NotPlainHttp(format!(
                    "{}: control characters in the request head",
                    t.display
                )));
            }
            let prefixes = Endpoint::ALL.map(|e| {
                let url = t.url(e);
                let path = match url.query() {
                    Some(q) => format!("{}?{q}", url.path()),
                    None => url.path().to_owned(),
                };
                format!(
                    "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: {}\r\n\
                     x-sentry-auth: {}\r\ncontent-length: ",
                    e.content_type(),
                    t.auth_header
                )
                .into_bytes()
            });
            heads.push(Head {
                addr: format!("{host}:{port}"),
                prefixes,
            });
        }
        Ok(PlainHttpTransport { heads })
    }

    async fn connect(&self, addr: &str) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: vec![0; READ_BUFFER],
            last_used: Instant::now(),
        })
    }

    /// The slot's connection if it is still open, else a new one.
    async fn take(&self, slot: &mut Option<Conn>, addr: &str, now: Instant) -> io::Result<Conn> {
        if let Some(conn) = slot.take()
            && (now.duration_since(conn.last_used) < CHECK_AFTER_IDLE || still_open(&conn))
        {
            return Ok(conn);
        }
        self.connect(addr).await
    }

    async fn exchange(
        &self,
        session: &mut Connections,
        i: usize,
        endpoint: Endpoint,
        body: &[u8],
        gzip: bool,
    ) -> io::Result<Answer> {
        let head = &self.heads[i];
        let prefix = &head.prefixes[endpoint.index()];
        let now = Instant::now();
        let mut conn = self.take(&mut session.slots[i], &head.addr, now).await?;
        let tail = &mut session.tail;
        tail.clear();
        tail.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        if gzip {
            tail.extend_from_slice(b"\r\ncontent-encoding: gzip");
        }
        tail.extend_from_slice(b"\r\n\r\n");
        write_request(&mut conn.stream, [prefix, tail], body).await?;
        let response = read_response(&mut conn.stream, &mut conn.buf).await?;
        if response.reusable {
            forget_read_readiness(&conn.stream);
            conn.last_used = now;
            session.slots[i] = Some(conn);
        }
        Ok(Answer::from_parts(
            response.status,
            response.rate_limits.as_deref(),
            response.retry_after.as_deref(),
        ))
    }
}

/// Whether the peer has not closed an idle connection (nor sent anything unasked): a
/// non-blocking peek at the socket itself, as tokio's readiness was cleared on purpose.
fn still_open(conn: &Conn) -> bool {
    let mut probe = [MaybeUninit::uninit(); 1];
    let peeked = socket2::SockRef::from(&conn.stream).peek(&mut probe);
    matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// After an answer read whole the socket has nothing more to read, but tokio still remembers
/// it as readable (it forgets only when a read finds nothing). Forgetting now, without a
/// syscall, lets the next answer be awaited straight away instead of first polled with a read
/// that can only come back empty: one syscall less per request.
fn forget_read_readiness(stream: &TcpStream) {
    let nothing = || Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock));
    let _ = stream.try_io(Interest::READABLE, nothing);
}

impl Transport for PlainHttpTransport {
    type Session = Connections;

    fn session(&self) -> Connections {
        Connections {
            slots: self.heads.iter().map(|_| None).collect(),
            tail: Vec::with_capacity(64),
        }
    }

    async fn send(
        &self,
        session: &mut Connections,
        target: &Target,
        endpoint: Endpoint,
        body: &[u8],
        gzip: bool,
    ) -> Answer {
        self.exchange(session, usize::from(target.index), endpoint, body, gzip)
            .await
            .unwrap_or_else(|_| Answer::none())
    }
}
