//! Builds a run folder for the verify benchmark (`scripts/bench-verify.sh`): a journal of N
//! accepted error sends at 1,000/s, and the matching `errors_local` rows in ClickHouse — all
//! but every `--missing-every`-th, which stay missing — plus the `profile.toml` and `run.json`
//! that `sentry-load verify` reads.
//!
//! cargo run --release --example verify_fixture -- <clickhouse url> <database> <events> \
//!     <missing every> <run folder>

use sentry_load_common::journal::{JournalHeader, JournalRecord, JournalWriter, TargetInfo};
use sentry_load_common::{EventKind, RunId, SendOutcome, event_id_for};
use sentry_load_run::{RunFile, RunFolder};
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

const RATE: u64 = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, database, events, missing_every, dir] = &args[..] else {
        return Err("usage: verify_fixture <clickhouse url> <database> <events> <missing every> <run folder>".into());
    };
    let (events, missing_every): (u64, u64) = (events.parse()?, missing_every.parse()?);
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    let http = reqwest::Client::new();
    let sql = |q: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http.post(&url).body(q).send().await?;
            let status = r.status();
            let text = r.text().await?;
            if !status.is_success() {
                return Err(format!("clickhouse: {text}").into());
            }
            Ok::<_, Box<dyn std::error::Error>>(text)
        }
    };
    sql(format!("CREATE DATABASE IF NOT EXISTS {database}")).await?;
    for ddl in [
        sentry_load_sim::store::schema::ERRORS_LOCAL,
        sentry_load_sim::store::schema::OUTCOMES_RAW_LOCAL,
    ] {
        let ddl = ddl.replacen("IF NOT EXISTS ", &format!("IF NOT EXISTS {database}."), 1);
        sql(ddl).await?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_micros() as u64;
    // The run happened just before now, so its rows fall in today's partitions.
    let start = now - events * 1_000_000 / RATE - 60_000_000;
    let run_id = RunId::generate(start);
    let header = JournalHeader {
        run_id: run_id.clone(),
        seed: 1,
        profile: "verify-bench".into(),
        profile_hash: "0".into(),
        tool_version: sentry_load_common::TOOL_VERSION.into(),
        started_at_micros: start,
        targets: vec![TargetInfo {
            display: "http://bench@127.0.0.1/1".into(),
            project_id: 1,
        }],
    };
    let mut journal = JournalWriter::create(
        &RunFolder::at(&dir).journal(),
        &header,
        Duration::from_millis(200),
    )?;
    let digest = run_id.digest();
    let mut rows = String::new();
    for seq in 0..events {
        let intended = start + seq * 1_000_000 / RATE;
        let event_id = event_id_for(digest, seq);
        journal.append(&JournalRecord {
            seq,
            event_id,
            kind: EventKind::Error,
            outcome: SendOutcome::Accepted,
            status: 200,
            target: 0,
            project_id: 1,
            intended_micros: intended,
            sent_micros: intended + 50,
            done_micros: intended + 900,
            bytes: 3000,
        })?;
        if missing_every > 0 && seq % missing_every == 0 {
            continue;
        }
        let secs = intended / 1_000_000;
        let _ = writeln!(
            rows,
            "1\t{secs}\t{}\t{secs}\t{}\t{}\t0\t90\t{}",
            event_id.hyphenated(),
            secs + 1,
            seq % 10 + 1,
            uuid::Uuid::from_u128(u128::from(seq % 10 + 1)).hyphenated()
        );
        if rows.len() > 8 << 20 || seq + 1 == events {
            let insert = format!(
                "INSERT INTO {database}.errors_local (project_id, timestamp, event_id, received, \
                 message_timestamp, group_id, deleted, retention_days, primary_hash) \
                 FORMAT TabSeparated\n{}",
                std::mem::take(&mut rows)
            );
            sql(insert).await?;
        }
    }
    journal.finish()?;
    let folder = RunFolder::at(&dir);
    let profile = format!(
        "seed = 1\n[target]\nkind = \"relay\"\ndsn = \"http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1\"\n[traffic]\nrate = {RATE}\nduration = \"{}s\"\n\
             [verify]\npoll_interval = \"1s\"\ndeadline = \"1s\"\n\
             [verify.clickhouse]\nurl = \"{url}\"\ndatabase = \"{database}\"\n",
        events / RATE
    );
    let run = RunFile {
        planned: events,
        target_rate: RATE as f64,
        duration_secs: (events / RATE) as f64,
        ..RunFile::default()
    };
    folder.create(&profile, &run).map_err(|e| e.message())?;
    println!("{} events, run {run_id}, in {}", events, dir.display());
    Ok(())
}
