//! Property tests of the journal reader: whatever damage a journal's record area takes
//! (flipped bytes, bytes cut out, garbage put in), reading it never panics, never invents a
//! record, and keeps every record whose bytes were left alone.

use proptest::prelude::*;
use sentry_load_common::RunId;
use sentry_load_common::journal::{
    JournalHeader, JournalReader, JournalRecord, JournalWriter, RECORD_LEN,
};
use std::time::Duration;

/// Cases per property: 1,024 in the test suite (each writes a file); `SENTRY_LOAD_PROPTEST_CASES`
/// for a longer run.
fn cases() -> u32 {
    std::env::var("SENTRY_LOAD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// One way to damage the record area.
#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, mask: u8 },
    Cut { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Damage::Flip { at, mask }),
        (any::<usize>(), 1..200usize).prop_map(|(at, len)| Damage::Cut { at, len }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..200)
        )
            .prop_map(|(at, bytes)| Damage::Insert { at, bytes }),
    ]
}

/// The record written for sequence number `seq`.
fn record(seq: u64) -> JournalRecord {
    JournalRecord {
        seq,
        event_id: uuid::Uuid::from_u128(u128::from(seq) + 1),
        kind: sentry_load_common::EventKind::Error,
        outcome: sentry_load_common::SendOutcome::Accepted,
        status: 200,
        target: 0,
        project_id: 1,
        intended_micros: seq,
        sent_micros: seq,
        done_micros: seq,
        bytes: 10,
    }
}

fn header() -> JournalHeader {
    JournalHeader {
        run_id: RunId::parse("20261202-000000-aaaaaa").unwrap(),
        seed: 1,
        profile: "props".into(),
        profile_hash: "00".into(),
        tool_version: "0".into(),
        started_at_micros: 1,
        targets: vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn damage_loses_only_the_records_it_touched(
        n in 0u64..80,
        damages in proptest::collection::vec(damage(), 0..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let mut w = JournalWriter::create(&path, &header(), Duration::ZERO).unwrap();
        for seq in 0..n {
            w.append(&record(seq)).unwrap();
        }
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let head = bytes.len() - n as usize * RECORD_LEN;
        let mut records = bytes[head..].to_vec();
        // Which original record each byte of the area belongs to (None: inserted).
        let mut owner: Vec<Option<u64>> = (0..records.len()).map(|i| Some((i / RECORD_LEN) as u64)).collect();
        let mut touched = std::collections::BTreeSet::new();
        for d in &damages {
            match d {
                Damage::Flip { at, mask } if !records.is_empty() => {
                    let at = at % records.len();
                    records[at] ^= mask;
                    if let Some(o) = owner[at] { touched.insert(o); }
                }
                Damage::Cut { at, len } if !records.is_empty() => {
                    let at = at % records.len();
                    let end = (at + len).min(records.len());
                    for o in owner[at..end].iter().flatten() { touched.insert(*o); }
                    records.drain(at..end);
                    owner.drain(at..end);
                }
                Damage::Insert { at, bytes: extra } => {
                    let at = at % (records.len() + 1);
                    // An insertion inside a record breaks it; at a boundary it breaks none.
                    if at > 0
                        && at < owner.len()
                        && owner[at - 1] == owner[at]
                        && let Some(o) = owner[at]
                    {
                        touched.insert(o);
                    }
                    records.splice(at..at, extra.iter().copied());
                    owner.splice(at..at, std::iter::repeat_n(None, extra.len()));
                }
                _ => {}
            }
        }
        let mut file = bytes[..head].to_vec();
        file.extend_from_slice(&records);
        std::fs::write(&path, &file).unwrap();

        let mut reader = JournalReader::open(&path).unwrap();
        let mut read = vec![];
        while let Some(r) = reader.next_record().unwrap() {
            read.push(r);
        }
        for r in &read {
            prop_assert_eq!(*r, record(r.seq), "an invented record");
        }
        let seqs: std::collections::BTreeSet<u64> = read.iter().map(|r| r.seq).collect();
        for seq in (0..n).filter(|s| !touched.contains(s)) {
            prop_assert!(seqs.contains(&seq), "record {} was left alone but not read", seq);
        }
        let skipped = reader.damaged_bytes() + reader.ignored_tail_bytes();
        prop_assert_eq!(skipped as usize + read.len() * RECORD_LEN, records.len());
    }
}
