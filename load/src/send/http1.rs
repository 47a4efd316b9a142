//! One HTTP/1.1 exchange on a kept-alive connection, for the plain-HTTP transport: write the
//! request head and body in one vectored write, read the answer's head (parsed by `httparse`)
//! and read its body to where it ends — `Content-Length`, chunked, or the connection's close —
//! so the next request can follow on the same connection. The sender acts only on the status
//! and the rate-limit headers, so the body is read and dropped, never kept.

use std::io::{self, IoSlice};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// An answer head larger than this is refused.
const MAX_HEAD: usize = 64 * 1024;
/// Headers an answer may have at most.
const MAX_HEADERS: usize = 64;

/// What the sender needs from one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The final (non-1xx) status.
    pub status: u16,
    /// `X-Sentry-Rate-Limits`, when present.
    pub rate_limits: Option<String>,
    /// `Retry-After`, when present.
    pub retry_after: Option<String>,
    /// Whether the connection may carry another request.
    pub reusable: bool,
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A parsed answer head.
#[derive(Debug)]
struct Head {
    len: usize,
    status: u16,
    framing: Framing,
    keep_alive: bool,
    rate_limits: Option<String>,
    retry_after: Option<String>,
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Parses the head at the start of `buf`: `None` until it is complete.
fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(invalid(format!("bad answer head: {e}"))),
    };
    let status = resp.code.unwrap_or(0);
    let http11 = resp.version == Some(1);
    let (mut keep_alive, mut length, mut chunked, mut other_coding) = (http11, None, false, false);
    let (mut rate_limits, mut retry_after) = (None, None);
    let text = |v: &[u8]| String::from_utf8_lossy(v).trim().to_owned();
    for h in resp.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| invalid("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid("conflicting Content-Length"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or_default();
            let last = String::from_utf8_lossy(last);
            chunked = last.trim().eq_ignore_ascii_case("chunked");
            other_coding = !chunked;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in String::from_utf8_lossy(h.value).split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("x-sentry-rate-limits") {
            rate_limits = Some(text(h.value));
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = Some(text(h.value));
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if other_coding {
        Framing::UntilClose
    } else {
        length.map_or(Framing::UntilClose, Framing::Length)
    };
    Ok(Some(Head {
        len,
        status,
        framing,
        // 101: the server switched to a protocol nobody asked for.
        keep_alive: keep_alive && framing != Framing::UntilClose && status != 101,
        rate_limits,
        retry_after,
    }))
}

/// Where a chunked body's decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// In a chunk-size line: the size so far, and whether an extension (`;…`) started.
    Size { size: u64, digits: bool, ext: bool },
    /// Inside a chunk's data, with this much left.
    Data(u64),
    /// After a chunk's data: its line end.
    DataEnd,
    /// In the trailer section; `true` while the current line is still empty.
    Trailer(bool),
    /// The body ended.
    Done,
}

/// Finds where a chunked body ends, without keeping it.
#[derive(Debug)]
struct Chunked(Chunk);

impl Chunked {
    fn new() -> Chunked {
        Chunked(Chunk::Size {
            size: 0,
            digits: false,
            ext: false,
        })
    }

    /// Takes bytes of the body; returns how many belonged to it (fewer than `data` only once
    /// it has ended).
    fn feed(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut i = 0;
        while i < data.len() && self.0 != Chunk::Done {
            if let Chunk::Data(left) = self.0 {
                let take = left.min((data.len() - i) as u64);
                i += take as usize;
                self.0 = if take == left {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left - take)
                };
                continue;
            }
            let b = data[i];
            i += 1;
            self.0 = match self.0 {
                Chunk::Size { size, digits, ext } => match b {
                    b'\n' if !digits => return Err(invalid("empty chunk size")),
                    b'\n' if size == 0 => Chunk::Trailer(true),
                    b'\n' => Chunk::Data(size),
                    b'\r' => self.0,
                    b';' => Chunk::Size {
                        size,
                        digits,
                        ext: true,
                    },
                    _ if ext => self.0,
                    b' ' | b'\t' => self.0,
                    _ => {
                        let d = (b as char)
                            .to_digit(16)
                            .ok_or_else(|| invalid("bad chunk size"))?;
                        let size = size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(u64::from(d)))
                            .ok_or_else(|| invalid("chunk size overflows"))?;
                        Chunk::Size {
                            size,
                            digits: true,
                            ext,
                        }
                    }
                },
                Chunk::DataEnd => match b {
                    b'\r' => Chunk::DataEnd,
                    b'\n' => Chunk::Size {
                        size: 0,
                        digits: false,
                        ext: false,
                    },
                    _ => return Err(invalid("chunk longer than its size")),
                },
                Chunk::Trailer(empty) => match b {
                    b'\n' if empty => Chunk::Done,
                    b'\n' => Chunk::Trailer(true),
                    b'\r' => Chunk::Trailer(empty),
                    _ => Chunk::Trailer(false),
                },
                Chunk::Data(_) | Chunk::Done => unreachable!("handled above"),
            };
        }
        Ok(i)
    }

    fn done(&self) -> bool {
        self.0 == Chunk::Done
    }
}

/// Writes the request head (in two parts) and then `body`, all of them.
pub async fn write_request<W: AsyncWrite + Unpin>(
    io: &mut W,
    head: [&[u8]; 2],
    body: &[u8],
) -> io::Result<()> {
    let mut slices = [
        IoSlice::new(head[0]),
        IoSlice::new(head[1]),
        IoSlice::new(body),
    ];
    let mut bufs = &mut slices[..];
    while !bufs.is_empty() {
        let n = io.write_vectored(bufs).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

/// Reads one answer, using `buf` as scratch space (its length is the read size; it grows
/// only for a head longer than it).
pub async fn read_response<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<Response> {
    let mut filled = 0;
    let head = loop {
        match parse_head(&buf[..filled])? {
            // Informational answers (100 Continue, 103) come before the real one.
            Some(h) if (100..200).contains(&h.status) && h.status != 101 => {
                buf.copy_within(h.len..filled, 0);
                filled -= h.len;
                continue;
            }
            Some(h) => break h,
            None => {}
        }
        if filled == buf.len() {
            if buf.len() >= MAX_HEAD {
                return Err(invalid("answer head too large"));
            }
            buf.resize((buf.len() * 2).clamp(4096, MAX_HEAD), 0);
        }
        let n = io.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    };
    let mut reusable = head.keep_alive;
    let rest = head.len..filled;
    match head.framing {
        Framing::Empty => reusable &= rest.is_empty(),
        Framing::Length(total) => {
            let mut left = total;
            let mut have = rest.len() as u64;
            loop {
                if have >= left {
                    // Bytes past the answer: the connection is out of step.
                    reusable &= have == left;
                    break;
                }
                left -= have;
                have = io.read(&mut buf[..]).await? as u64;
                if have == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
        Framing::Chunked => {
            let mut body = Chunked::new();
            let mut used = body.feed(&buf[rest.clone()])?;
            let mut have = rest.len();
            while !body.done() {
                have = io.read(&mut buf[..]).await?;
                if have == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                used = body.feed(&buf[..have])?;
            }
            reusable &= used == have;
        }
        Framing::UntilClose => {
            while io.read(&mut buf[..]).await? != 0 {}
            reusable = false;
        }
    }
    Ok(Response {
        status: head.status,
        rate_limits: head.rate_limits,
        retry_after: head.retry_after,
        reusable,
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
