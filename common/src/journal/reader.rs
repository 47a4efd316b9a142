//! Reads a journal back, record by record, up to the last whole, intact record.

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

    /// The next record, or `None` at the end or at the first partial or damaged record.
    pub fn next_record(&mut self) -> io::Result<Option<JournalRecord>> {
        if self.done {
            return Ok(None);
        }
        let mut buf = [0u8; RECORD_LEN];
        let mut filled = 0;
        while filled < RECORD_LEN {
            match self.input.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        if filled < RECORD_LEN {
            self.finish_at(filled as u64)?;
            return Ok(None);
        }
        match JournalRecord::decode(&buf) {
            Ok(r) => Ok(Some(r)),
            Err(DecodeError::Checksum | DecodeError::UnknownCode) => {
                self.finish_at(RECORD_LEN as u64)?;
                Ok(None)
            }
        }
    }

    fn finish_at(&mut self, consumed: u64) -> io::Result<()> {
        let rest = io::copy(&mut self.input, &mut io::sink())?;
        self.ignored_tail_bytes = consumed + rest;
        self.done = true;
        Ok(())
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
