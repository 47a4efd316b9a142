//! Property tests of the answer reader: any bytes, in reads of any size, end in an answer or
//! an error — no panic, no read past a fixed bound — and a well-formed answer, however it is
//! cut into reads, is read the same; bytes read past its end make the connection unusable.

use super::*;
use proptest::prelude::*;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::ReadBuf;

/// Hands out `data` in reads of the sizes in `cuts` (cycled), counting what was read.
struct Cut {
    data: Vec<u8>,
    at: usize,
    cuts: Vec<usize>,
    turn: usize,
}

impl AsyncRead for Cut {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let cut = self.cuts[self.turn % self.cuts.len()].max(1);
        self.turn += 1;
        let n = cut.min(out.remaining()).min(self.data.len() - self.at);
        let at = self.at;
        out.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

fn read(data: Vec<u8>, cuts: Vec<usize>) -> (io::Result<Response>, usize) {
    let mut io = Cut {
        data,
        at: 0,
        cuts,
        turn: 0,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut buf = vec![0u8; 512];
    let answer = rt.block_on(read_response(&mut io, &mut buf));
    (answer, io.at)
}

/// A well-formed answer: status, framing and body, and whether it carries rate limits.
fn answer() -> impl Strategy<Value = (Vec<u8>, u16, bool)> {
    (
        prop_oneof![Just(200u16), Just(429), Just(503), Just(413), Just(204)],
        proptest::collection::vec(any::<u8>(), 0..300),
        0..3u8,
        any::<bool>(),
        proptest::collection::vec(100..104u16, 0..3),
    )
        .prop_map(|(status, body, framing, limited, informational)| {
            let mut wire = Vec::new();
            for s in informational.iter().filter(|s| **s != 101) {
                wire.extend_from_slice(format!("HTTP/1.1 {s} Info\r\n\r\n").as_bytes());
            }
            wire.extend_from_slice(format!("HTTP/1.1 {status} X\r\n").as_bytes());
            if limited {
                wire.extend_from_slice(b"X-Sentry-Rate-Limits: 60:error:key\r\n");
            }
            let body = if status == 204 { Vec::new() } else { body };
            match framing {
                0 if status != 204 => {
                    wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    for chunk in body.chunks(37) {
                        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                        wire.extend_from_slice(chunk);
                        wire.extend_from_slice(b"\r\n");
                    }
                    wire.extend_from_slice(b"0\r\n\r\n");
                }
                _ => {
                    wire.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                    );
                    wire.extend_from_slice(&body);
                }
            }
            (wire, status, limited)
        })
}

/// The most an answer reader takes from the wire before it must give up on a head.
const READ_BOUND: usize = MAX_HEAD + 64 * 1024;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("SENTRY_LOAD_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2048)
    ))]

    #[test]
    fn any_bytes_end_in_an_answer_or_an_error(
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(1..64usize, 1..8),
    ) {
        let _ = read(data, cuts);
    }

    #[test]
    fn a_head_without_an_end_is_refused_within_a_bound(
        line in "[A-Za-z0-9-]{1,20}: [ -~]{0,60}\r\n",
        cuts in proptest::collection::vec(1..4096usize, 1..4),
    ) {
        let mut data = b"HTTP/1.1 200 OK\r\n".to_vec();
        while data.len() < 4 * MAX_HEAD {
            data.extend_from_slice(line.as_bytes());
        }
        let (answer, taken) = read(data, cuts);
        prop_assert!(answer.is_err());
        prop_assert!(taken <= READ_BOUND, "{taken}");
    }

    #[test]
    fn a_well_formed_answer_reads_the_same_however_it_is_cut(
        (wire, status, limited) in answer(),
        cuts in proptest::collection::vec(1..64usize, 1..8),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let len = wire.len();
        let mut data = wire;
        data.extend_from_slice(&noise);
        let (answer, taken) = read(data, cuts);
        let answer = answer.unwrap();
        prop_assert_eq!(answer.status, status);
        prop_assert_eq!(answer.rate_limits.is_some(), limited);
        // Bytes past the answer, read with its end, put the connection out of step: it is
        // not used again. Otherwise it ends where the answer does, and is.
        if taken > len {
            prop_assert!(!answer.reusable);
        } else {
            prop_assert_eq!(taken, len);
            prop_assert!(answer.reusable);
        }
    }
}
