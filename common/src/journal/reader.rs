//! Reads a journal back, record by record, up to the last whole, intact record.
//!
//! A damaged record in the middle (a flipped byte, a torn write followed by later appends)
//! does not end the reading: the reader slides byte by byte to the next offset where a whole
//! record passes its checksum and goes on from there, counting the bytes it skipped. A CRC-32
//! matching by chance at a wrong offset is a one in four billion event per offset tried, and a
//! flipped byte costs at most one record's length of tries before the next aligned record.

use super::record::DecodeError;
use super::{JournalHeader, JournalRecord, MAGIC, RECORD_LEN, VERSION};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// A journal could not be opened or its header is not one this version reads.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read the journal {path}: {source}")]
    Io {
        /// The journal's path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The file does not start like a journal.
    #[error("{path} is not a sentry-load journal ({reason})")]
    NotAJournal {
        /// The journal's path.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

/// Streams a journal's records; memory stays flat whatever the file's size.
pub struct JournalReader {
    header: JournalHeader,
    input: BufReader<File>,
    /// Bytes read but not yet taken as a record (fewer than a record's length past `start`).
    window: [u8; 2 * RECORD_LEN],
    start: usize,
    end: usize,
    /// Bytes skipped since the last good record (damage, or the tail if none follows).
    skipped: u64,
    damaged_bytes: u64,
    damaged_spans: u64,
    ignored_tail_bytes: u64,
    done: bool,
}

impl JournalReader {
    /// Opens a journal and reads its header.
    pub fn open(path: &Path) -> Result<JournalReader, ReadError> {
        let io_err = |source| ReadError::Io {
            path: path.to_owned(),
            source,
        };
        let not = |reason: String| ReadError::NotAJournal {
            path: path.to_owned(),
            reason,
        };
        let mut input = BufReader::with_capacity(256 * 1024, File::open(path).map_err(io_err)?);
        let mut fixed = [0u8; 14];
        input
            .read_exact(&mut fixed)
            .map_err(|_| not("shorter than a header".into()))?;
        if &fixed[..8] != MAGIC {
            return Err(not("bad magic bytes".into()));
        }
        let version = u16::from_le_bytes([fixed[8], fixed[9]]);
        if version != VERSION {
            return Err(not(format!(
                "format version {version}; this build reads version {VERSION}"
            )));
        }
        let len = u32::from_le_bytes([fixed[10], fixed[11], fixed[12], fixed[13]]) as usize;
        let mut json = vec![0u8; len];
        input
            .read_exact(&mut json)
            .map_err(|_| not("header cut short".into()))?;
        let header =
            serde_json::from_slice(&json).map_err(|e| not(format!("unreadable header: {e}")))?;
        Ok(JournalReader {
            header,
            input,
            window: [0; 2 * RECORD_LEN],
            start: 0,
            end: 0,
            skipped: 0,
            damaged_bytes: 0,
            damaged_spans: 0,
            ignored_tail_bytes: 0,
            done: false,
        })
    }

    /// The run the journal belongs to.
    pub fn header(&self) -> &JournalHeader {
        &self.header
    }

    /// Bytes after the last whole, intact record (a crash mid-write leaves some); known once the
    /// records are read to the end.
    pub fn ignored_tail_bytes(&self) -> u64 {
        self.ignored_tail_bytes
    }

    /// Bytes skipped between intact records: damage inside the journal, each span of which
    /// held at least one record that is lost. Known once the records are read to the end.
    pub fn damaged_bytes(&self) -> u64 {
        self.damaged_bytes
    }

    /// How many separate damaged spans were skipped.
    pub fn damaged_spans(&self) -> u64 {
        self.damaged_spans
    }

    /// The next intact record, or `None` at the end. Damaged bytes are skipped to the next
    /// intact record; what follows the last one is the tail.
    pub fn next_record(&mut self) -> io::Result<Option<JournalRecord>> {
        while !self.done {
            if self.end - self.start < RECORD_LEN && !self.fill()? {
                self.ignored_tail_bytes = self.skipped + (self.end - self.start) as u64;
                self.done = true;
                break;
            }
            let mut candidate = [0u8; RECORD_LEN];
            candidate.copy_from_slice(&self.window[self.start..self.start + RECORD_LEN]);
            match JournalRecord::decode(&candidate) {
                Ok(r) => {
                    self.start += RECORD_LEN;
                    if self.skipped > 0 {
                        self.damaged_bytes += self.skipped;
                        self.damaged_spans += 1;
                        self.skipped = 0;
                    }
                    return Ok(Some(r));
                }
                Err(DecodeError::Checksum | DecodeError::UnknownCode) => {
                    self.start += 1;
                    self.skipped += 1;
                }
            }
        }
        Ok(None)
    }

    /// Tops the window up to at least one record's length; `false` at the end of the file.
    fn fill(&mut self) -> io::Result<bool> {
        self.window.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        while self.end < RECORD_LEN {
            match self.input.read(&mut self.window[self.end..])? {
                0 => return Ok(false),
                n => self.end += n,
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunId;
    use crate::journal::JournalWriter;
    use std::io::Write;
    use std::time::Duration;

    fn header() -> JournalHeader {
        JournalHeader {
            run_id: RunId::parse("20261122-000000-aaaaaa").unwrap(),
            seed: 7,
            profile: "test".into(),
            profile_hash: "00".into(),
            tool_version: "0".into(),
            started_at_micros: 1,
            targets: vec![],
        }
    }

    fn read_all(path: &Path) -> (Vec<JournalRecord>, u64) {
        let mut r = JournalReader::open(path).unwrap();
        let mut out = vec![];
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec);
        }
        (out, r.ignored_tail_bytes())
    }

    #[test]
    fn whole_records_survive_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let mut w = JournalWriter::create(&path, &header(), Duration::ZERO).unwrap();
        for seq in 0..100 {
            w.append(&JournalRecord::fixture(seq)).unwrap();
        }
        w.finish().unwrap();
        // A crash in the middle of the 101st record.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&JournalRecord::fixture(100).encode()[..33])
            .unwrap();
        drop(f);

        let (records, tail) = read_all(&path);
        assert_eq!(records.len(), 100);
        assert_eq!(records[99], JournalRecord::fixture(99));
        assert_eq!(tail, 33);
    }

    #[test]
    fn garbage_after_the_records_is_ignored_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let mut w = JournalWriter::create(&path, &header(), Duration::ZERO).unwrap();
        w.append(&JournalRecord::fixture(0)).unwrap();
        w.finish().unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[0u8; RECORD_LEN * 2]).unwrap();
        drop(f);
        let (records, tail) = read_all(&path);
        assert_eq!(records, vec![JournalRecord::fixture(0)]);
        assert_eq!(tail, (RECORD_LEN * 2) as u64);
    }

    fn journal_of(dir: &Path, n: u64) -> (PathBuf, Vec<u8>) {
        let path = dir.join("j.bin");
        let mut w = JournalWriter::create(&path, &header(), Duration::ZERO).unwrap();
        for seq in 0..n {
            w.append(&JournalRecord::fixture(seq)).unwrap();
        }
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    fn header_len(bytes: &[u8]) -> usize {
        14 + u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize
    }

    #[test]
    fn one_flipped_byte_loses_one_record_not_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = journal_of(dir.path(), 600);
        let at = header_len(&bytes) + 5 * RECORD_LEN + 17;
        bytes[at] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let mut r = JournalReader::open(&path).unwrap();
        let mut seqs = vec![];
        while let Some(rec) = r.next_record().unwrap() {
            seqs.push(rec.seq);
        }
        let expected: Vec<u64> = (0..600).filter(|&s| s != 5).collect();
        assert_eq!(seqs, expected);
        assert_eq!(r.damaged_bytes(), RECORD_LEN as u64);
        assert_eq!(r.damaged_spans(), 1);
        assert_eq!(r.ignored_tail_bytes(), 0);
    }

    #[test]
    fn a_torn_record_inside_the_journal_is_skipped_to_the_next_whole_one() {
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes) = journal_of(dir.path(), 10);
        // Records 0–3, then 33 bytes of a torn write, then records 4–9: the rest is shifted.
        let cut = header_len(&bytes) + 4 * RECORD_LEN;
        let mut damaged = bytes[..cut].to_vec();
        damaged.extend_from_slice(&JournalRecord::fixture(99).encode()[..33]);
        damaged.extend_from_slice(&bytes[cut..]);
        std::fs::write(&path, &damaged).unwrap();
        let mut r = JournalReader::open(&path).unwrap();
        let mut seqs = vec![];
        while let Some(rec) = r.next_record().unwrap() {
            seqs.push(rec.seq);
        }
        assert_eq!(seqs, (0..10).collect::<Vec<_>>());
        assert_eq!((r.damaged_bytes(), r.damaged_spans()), (33, 1));
    }

    #[test]
    fn a_journal_of_only_its_header_has_no_records_and_no_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = journal_of(dir.path(), 0);
        let (records, tail) = read_all(&path);
        assert!(records.is_empty());
        assert_eq!(tail, 0);
    }

    #[test]
    fn header_is_read_back_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        JournalWriter::create(&path, &header(), Duration::ZERO)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(JournalReader::open(&path).unwrap().header(), &header());
        let other = dir.path().join("x");
        std::fs::write(&other, b"hello world, not a journal").unwrap();
        let err = JournalReader::open(&other).err().unwrap().to_string();
        assert!(err.contains("not a sentry-load journal"), "{err}");
    }
}
