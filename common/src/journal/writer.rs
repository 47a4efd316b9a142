//! Appends records to a journal file, buffered, with flushes at most `flush_every` apart.
//!
//! A crash (even `kill -9`) loses at most what was buffered since the last flush; the file on
//! disk is always a valid header followed by whole records and possibly one partial record,
//! which the reader ignores.

use super::{JournalHeader, JournalRecord, MAGIC, VERSION};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A journal file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the journal {path}: {source}")]
pub struct WriteError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

/// An open journal being appended to.
pub struct JournalWriter {
    path: PathBuf,
    out: BufWriter<File>,
    flush_every: Duration,
    last_flush: Instant,
    records: u64,
}

impl JournalWriter {
    /// Creates the file (it must not exist) and writes the header.
    pub fn create(
        path: &Path,
        header: &JournalHeader,
        flush_every: Duration,
    ) -> Result<JournalWriter, WriteError> {
        let err = |source| WriteError {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(err)?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        let json = serde_json::to_vec(header).map_err(|e| err(e.into()))?;
        let len = u32::try_from(json.len()).map_err(|e| err(io::Error::other(e)))?;
        out.write_all(MAGIC).map_err(err)?;
        out.write_all(&VERSION.to_le_bytes()).map_err(err)?;
        out.write_all(&len.to_le_bytes()).map_err(err)?;
        out.write_all(&json).map_err(err)?;
        out.flush().map_err(err)?;
        Ok(JournalWriter {
            path: path.to_owned(),
            out,
            flush_every,
            last_flush: Instant::now(),
            records: 0,
        })
    }

    /// Appends one record, flushing if the last flush is older than the flush interval.
    pub fn append(&mut self, record: &JournalRecord) -> Result<(), WriteError> {
        self.out
            .write_all(&record.encode())
            .map_err(|e| self.err(e))?;
        self.records += 1;
        self.flush_if_due()
    }

    /// Flushes if the last flush is older than the flush interval; call it on a timer too, so a
    /// quiet stretch does not keep records in memory.
    pub fn flush_if_due(&mut self) -> Result<(), WriteError> {
        if self.last_flush.elapsed() >= self.flush_every {
            self.out.flush().map_err(|e| self.err(e))?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }

    /// Flushes everything and syncs the file to disk.
    pub fn finish(mut self) -> Result<u64, WriteError> {
        self.out.flush().map_err(|e| self.err(e))?;
        self.out.get_ref().sync_data().map_err(|e| self.err(e))?;
        Ok(self.records)
    }

    fn err(&self, source: io::Error) -> WriteError {
        WriteError {
            path: self.path.clone(),
            source,
        }
    }
}
