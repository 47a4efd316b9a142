//! Gzip for the send path (`send.gzip = true`), as SDKs compress envelopes.
//!
//! A template's later items (a native crash's minidump) are the same for every event, so their
//! compressed form is computed once: each envelope compresses only its changing head, ends that
//! deflate stream with a full flush (byte-aligned, no back-references across it), appends the
//! tail's precompressed deflate blocks and writes one gzip trailer whose CRC-32 combines both
//! parts. The result is one ordinary gzip member, decoded by any gzip reader; a test checks it
//! decompresses to the plain envelope.

use flate2::{Compress, Compression, FlushCompress};
use std::io::Write;

/// The gzip header SDKs' encoders write: no name, no time, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A tail compressed once.
#[derive(Debug, Clone)]
pub struct CompressedTail {
    deflate: Vec<u8>,
    crc: crc32fast::Hasher,
    len: usize,
}

impl CompressedTail {
    /// Compresses `tail` as the end of a deflate stream.
    pub fn new(tail: &[u8]) -> CompressedTail {
        let mut deflate = Vec::with_capacity(tail.len() / 2 + 64);
        raw_deflate(tail, FlushCompress::Finish, &mut deflate);
        let mut crc = crc32fast::Hasher::new();
        crc.update(tail);
        CompressedTail {
            deflate,
            crc,
            len: tail.len(),
        }
    }
}

/// Deflates all of `input` into `out` and ends with `flush`.
fn raw_deflate(input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
    let mut c = Compress::new(Compression::fast(), false);
    loop {
        let consumed = c.total_in() as usize;
        out.reserve(input.len().saturating_sub(consumed) / 2 + 1024);
        let status = c.compress_vec(&input[consumed..], out, flush);
        let done = c.total_in() as usize == input.len() && out.len() < out.capacity();
        match status {
            Ok(flate2::Status::StreamEnd) => break,
            Ok(_) if done && !matches!(flush, FlushCompress::Finish) => break,
            Ok(_) => {}
            // Compressing into memory with room to spare cannot fail.
            Err(_) => break,
        }
    }
}

/// `head` then the precompressed `tail`, as one gzip member.
pub fn gzip_with_tail(head: &[u8], tail: &CompressedTail) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() / 2 + tail.deflate.len() + 32);
    out.extend_from_slice(&HEADER);
    raw_deflate(head, FlushCompress::Full, &mut out);
    out.extend_from_slice(&tail.deflate);
    let mut crc = crc32fast::Hasher::new();
    crc.update(head);
    crc.combine(&tail.crc);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&((head.len() + tail.len) as u32).to_le_bytes());
    out
}

/// Gzip-compresses a whole body.
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc =
        flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // A single-member reader: the result must be one member.
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn a_head_and_a_precompressed_tail_are_one_valid_gzip_member() {
        let head: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("{{\"n\":{i}}}").into_bytes())
            .collect();
        let mut x = 7u64;
        let tail: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x.is_multiple_of(3) { 0 } else { x as u8 }
            })
            .collect();
        let t = CompressedTail::new(&tail);
        let both = gzip_with_tail(&head, &t);
        assert_eq!(gunzip(&both), [head.clone(), tail.clone()].concat());
        // Small and empty heads too.
        assert_eq!(
            gunzip(&gzip_with_tail(b"{}\n", &t)),
            [b"{}\n".to_vec(), tail.clone()].concat()
        );
        assert_eq!(gunzip(&gzip_with_tail(b"", &t)), tail);
        assert_eq!(gunzip(&gzip(&head)), head);
    }
}
