//! Answer framing, read in pieces as small as one byte.

use super::*;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::ReadBuf;

/// Hands out `data` at most `piece` bytes per read, never past the end of one answer (a
/// server answers only after the request).
struct Pieces {
    data: Vec<u8>,
    ends: Vec<usize>,
    at: usize,
    piece: usize,
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let end = self.ends.iter().copied().find(|e| *e > self.at);
        let n = self
            .piece
            .min(out.remaining())
            .min(end.unwrap_or(self.data.len()) - self.at);
        let at = self.at;
        out.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

/// Reads the answers in `wire` (separated by `|`) until it is used up, in pieces of every
/// size from 1 to 64.
async fn read_all(wire: &str) -> Vec<io::Result<Response>> {
    let mut first: Option<Vec<String>> = None;
    let mut answers = vec![];
    let mut ends = vec![];
    for part in wire.split('|') {
        ends.push(ends.last().copied().unwrap_or(0) + part.len());
    }
    for piece in 1..=64 {
        let mut io = Pieces {
            data: wire.replace('|', "").into_bytes(),
            ends: ends.clone(),
            at: 0,
            piece,
        };
        let mut buf = vec![0; 16];
        answers.clear();
        loop {
            let r = read_response(&mut io, &mut buf).await;
            let stop = r.as_ref().map_or(true, |r| !r.reusable) || io.at == io.data.len();
            answers.push(r);
            if stop {
                break;
            }
        }
        let shown: Vec<String> = answers.iter().map(|a| format!("{a:?}")).collect();
        match &first {
            None => first = Some(shown),
            Some(f) => assert_eq!(f, &shown, "the same answers whatever the read size"),
        }
    }
    answers
}

fn ok(status: u16, reusable: bool) -> Response {
    Response {
        status,
        rate_limits: None,
        retry_after: None,
        reusable,
    }
}

#[tokio::test]
async fn content_length_answers_follow_each_other() {
    let wire = "HTTP/1.1 200 OK\r\nContent-Length: 41\r\n\r\n{\"id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}|\
                HTTP/1.1 429 Too Many Requests\r\nX-Sentry-Rate-Limits: 60:error:key\r\n\
                Retry-After: 60\r\ncontent-length: 0\r\n\r\n";
    let a = read_all(wire).await;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].as_ref().unwrap(), &ok(200, true));
    assert_eq!(
        a[1].as_ref().unwrap(),
        &Response {
            status: 429,
            rate_limits: Some("60:error:key".into()),
            retry_after: Some("60".into()),
            reusable: true,
        }
    );
}

#[tokio::test]
async fn chunked_bodies_end_at_the_last_chunk_and_its_trailers() {
    let wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n|\
                HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let a = read_all(wire).await;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].as_ref().unwrap(), &ok(200, true));
    assert_eq!(a[1].as_ref().unwrap(), &ok(202, true));
}

#[tokio::test]
async fn informational_answers_are_skipped() {
    let wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
                HTTP/1.1 413 Payload Too Large\r\nContent-Length: 2\r\n\r\n{}";
    let a = read_all(wire).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].as_ref().unwrap(), &ok(413, true));
}

#[tokio::test]
async fn answers_that_end_the_connection_are_not_reused() {
    for wire in [
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        // No length: the body runs to the connection's close.
        "HTTP/1.1 503 Service Unavailable\r\n\r\nthe queue is full",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxxxx",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
    ] {
        let a = read_all(wire).await;
        assert_eq!(a.len(), 1, "{wire}");
        let r = a[0].as_ref().unwrap();
        assert!(!r.reusable, "{wire}");
    }
    let a =
        read_all("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").await;
    assert_eq!(a[0].as_ref().unwrap(), &ok(200, true));
}

#[tokio::test]
async fn broken_answers_are_errors() {
    for (wire, kind) in [
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
            io::ErrorKind::UnexpectedEof,
        ),
        ("HTTP/1.1 200 OK\r\nCont", io::ErrorKind::UnexpectedEof),
        ("", io::ErrorKind::UnexpectedEof),
        ("SMTP ready\r\n\r\n", io::ErrorKind::InvalidData),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}",
            io::ErrorKind::InvalidData,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            io::ErrorKind::InvalidData,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            io::ErrorKind::InvalidData,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            io::ErrorKind::InvalidData,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            io::ErrorKind::UnexpectedEof,
        ),
    ] {
        let a = read_all(wire).await;
        let err = a.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.kind(), kind, "{wire:?}: {err}");
    }
}

#[tokio::test]
async fn a_head_longer_than_the_buffer_grows_it_up_to_a_limit() {
    let long = format!(
        "HTTP/1.1 200 OK\r\nX-Pad: {}\r\nContent-Length: 0\r\n\r\n",
        "p".repeat(20_000)
    );
    assert_eq!(read_all(&long).await[0].as_ref().unwrap(), &ok(200, true));
    let too_long = format!("HTTP/1.1 200 OK\r\nX-Pad: {}\r\n", "p".repeat(70_000));
    let a = read_all(&too_long).await;
    let err = a[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
}

#[tokio::test]
async fn requests_are_written_whole_through_short_writes() {
    let (mut client, mut server) = tokio::io::duplex(7);
    let body = vec![b'x'; 5_000];
    let reading = tokio::spawn(async move {
        let mut got = vec![];
        server.read_to_end(&mut got).await.unwrap();
        got
    });
    write_request(&mut client, [b"POST / HTTP/1.1\r\n", b"\r\n"], &body)
        .await
        .unwrap();
    drop(client);
    let got = reading.await.unwrap();
    assert_eq!(&got[..19], b"POST / HTTP/1.1\r\n\r\n");
    assert_eq!(got.len(), 19 + 5_000);
}
