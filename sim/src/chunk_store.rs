//! The chunks uploaded through `chunk-upload`, kept until an `assemble` asks for them:
//! in memory, at most [`CHUNKS_HELD_LIMIT`] bytes of them. Past that, the oldest are
//! forgotten first, and an `assemble` that names one answers it as missing, so the client
//! uploads it again — the memory is bounded whatever a client with the token uploads, and
//! an honest client still completes.

use std::collections::{HashMap, VecDeque};

/// The most chunk bytes held at once.
pub const CHUNKS_HELD_LIMIT: usize = 256 * 1024 * 1024;

/// Chunks by SHA-1, oldest first.
#[derive(Debug, Default)]
pub(crate) struct ChunkStore {
    by_checksum: HashMap<String, Vec<u8>>,
    oldest_first: VecDeque<String>,
    bytes: usize,
    limit: usize,
}

impl ChunkStore {
    pub(crate) fn new() -> ChunkStore {
        ChunkStore::with_limit(CHUNKS_HELD_LIMIT)
    }

    pub(crate) fn with_limit(limit: usize) -> ChunkStore {
        ChunkStore {
            limit,
            ..ChunkStore::default()
        }
    }

    /// Keeps `data` under `checksum`, forgetting the oldest chunks it does not fit beside.
    pub(crate) fn insert(&mut self, checksum: String, data: Vec<u8>) {
        if self.by_checksum.contains_key(&checksum) {
            return;
        }
        self.bytes += data.len();
        self.by_checksum.insert(checksum.clone(), data);
        self.oldest_first.push_back(checksum);
        while self.bytes > self.limit {
            let Some(old) = self.oldest_first.pop_front() else {
                break;
            };
            if let Some(gone) = self.by_checksum.remove(&old) {
                self.bytes -= gone.len();
            }
        }
    }

    /// The chunk named `checksum`, if it is held.
    pub(crate) fn get(&self, checksum: &str) -> Option<&[u8]> {
        self.by_checksum.get(checksum).map(Vec::as_slice)
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_the_oldest_chunks_are_forgotten_first() {
        let mut c = ChunkStore::with_limit(100);
        for i in 0..10 {
            c.insert(format!("{i}"), vec![i as u8; 30]);
        }
        assert_eq!(c.bytes(), 90);
        assert!(c.get("6").is_none());
        assert_eq!(c.get("7"), Some(&[7u8; 30][..]));
        assert_eq!(c.get("9").map(<[u8]>::len), Some(30));
        // The same chunk again takes no more room.
        c.insert("9".into(), vec![9; 30]);
        assert_eq!(c.bytes(), 90);
    }
}
