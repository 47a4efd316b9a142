//! The run journal: one record per send, written by the load engine, read by `verify`. Where
//! it lives in a run folder is the run library's (`sentry_load_run::RunFolder`).
//!
//! Wire format (all integers little-endian):
//!
//! ```text
//! "SLJOURN\0"  u16 version=1  u32 header_len  header_len bytes of JSON (JournalHeader)
//! then records of RECORD_LEN bytes each:
//!   u64 seq | 16 B event id | u8 kind | u8 outcome | u16 http status (0 = none)
//!   u16 target index | u64 project id | u64 intended µs | u64 sent µs | u64 done µs
//!   u32 envelope bytes | u32 CRC-32 of the preceding 66 bytes
//! ```
//!
//! Times are Unix microseconds. Records are fixed-size and checksummed, so after a crash the
//! reader keeps every whole record and reports how many trailing bytes it ignored.

mod reader;
mod record;
mod writer;

pub use reader::{JournalReader, ReadError};
pub use record::{JournalHeader, JournalRecord, RECORD_LEN, TargetInfo};
pub use writer::{JournalWriter, WriteError};

const MAGIC: &[u8; 8] = b"SLJOURN\0";
const VERSION: u16 = 1;
