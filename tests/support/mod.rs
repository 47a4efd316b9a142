//! Test support: real services from the environment (started by `scripts/services.sh`), a
//! database of their own per test, and the `sentry-load` binary.

#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

/// ClickHouse and Postgres addresses for one test, each with a fresh database.
pub struct Services {
    pub clickhouse_url: String,
    pub clickhouse_database: String,
    pub postgres_admin_url: String,
    pub postgres_url: String,
    pub postgres_database: String,
    /// The same database through pgbouncer in transaction pooling mode, as self-hosted
    /// reaches it (`SENTRY_LOAD_TEST_PGBOUNCER_URL`), when it is there.
    pub pgbouncer_url: Option<String>,
}

/// The services from `SENTRY_LOAD_TEST_CLICKHOUSE_URL` / `SENTRY_LOAD_TEST_POSTGRES_URL`.
/// Tests that need them are `#[ignore]`d: `cargo test` lists them as ignored, and
/// `scripts/test.sh` starts the services and runs them (`--include-ignored`). A test run
/// without its services fails here: it is never green without having run.
pub async fn services(test: &str) -> Services {
    let ch = std::env::var("SENTRY_LOAD_TEST_CLICKHOUSE_URL").ok();
    let pg = std::env::var("SENTRY_LOAD_TEST_POSTGRES_URL").ok();
    let (Some(ch), Some(pg)) = (ch, pg) else {
        panic!(
            "{test}: needs SENTRY_LOAD_TEST_CLICKHOUSE_URL and SENTRY_LOAD_TEST_POSTGRES_URL \
             (scripts/test.sh starts the services and sets them)"
        );
    };
    let name = format!(
        "sl_{}_{}",
        test,
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (client, conn) = tokio_postgres::connect(&pg, tokio_postgres::NoTls)
        .await
        .expect("postgres answers");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let in_database = |base: &str| {
        let mut url = url::Url::parse(base).expect("postgres URL");
        url.set_path(&format!("/{name}"));
        url.to_string()
    };
    let pgbouncer_url = std::env::var("SENTRY_LOAD_TEST_PGBOUNCER_URL")
        .ok()
        .map(|u| in_database(&u));
    Services {
        clickhouse_url: ch,
        clickhouse_database: name.clone(),
        postgres_url: in_database(&pg),
        postgres_admin_url: pg,
        postgres_database: name,
        pgbouncer_url,
    }
}

/// A tool the tests take from the environment (`var`, set by `scripts/test.sh`); a test run
/// without it fails.
pub fn tool(var: &str, test: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{test}: needs {var} (run scripts/test.sh)"))
}

impl Services {
    /// The pgbouncer URL of this test's database; a test run without it fails.
    pub fn pgbouncer(&self, test: &str) -> &str {
        self.pgbouncer_url.as_deref().unwrap_or_else(|| {
            panic!("{test}: needs SENTRY_LOAD_TEST_PGBOUNCER_URL (run scripts/test.sh)")
        })
    }

    /// Drops the test's databases.
    pub async fn cleanup(self) {
        let ch = clickhouse::Client::default().with_url(&self.clickhouse_url);
        let _ = ch
            .query(&format!(
                "DROP DATABASE IF EXISTS {}",
                self.clickhouse_database
            ))
            .execute()
            .await;
        if let Ok((client, conn)) =
            tokio_postgres::connect(&self.postgres_admin_url, tokio_postgres::NoTls).await
        {
            tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.postgres_database
                ))
                .await;
        }
    }

    /// A sim configuration storing in these services.
    pub fn sim_config(&self, key: &str) -> sentry_load_sim::SimConfig {
        let mut c = sentry_load_sim::SimConfig::in_memory(1, key, "token");
        c.batch_interval = std::time::Duration::from_millis(100);
        c.store = sentry_load_sim::StoreConfig::Sentry {
            clickhouse_url: self.clickhouse_url.clone(),
            clickhouse_database: self.clickhouse_database.clone(),
            postgres_url: self.postgres_url.clone(),
        };
        c
    }

    /// A sim storing in this test's databases, with the fault script `faults` (TOML).
    pub async fn start_sim_with_faults(
        &self,
        key: &str,
        faults: &str,
    ) -> sentry_load_sim::SimHandle {
        let mut config = self.sim_config(key);
        config.faults = sentry_load_sim::script::FaultScript::parse("faults.toml", faults)
            .expect("faults parse");
        sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
            .await
            .expect("sim starts")
    }

    /// `SELECT count() …` in this test's ClickHouse database.
    pub async fn clickhouse_count(&self, sql: &str) -> u64 {
        clickhouse::Client::default()
            .with_url(&self.clickhouse_url)
            .with_database(&self.clickhouse_database)
            .with_validation(false)
            .query(sql)
            .fetch_one::<u64>()
            .await
            .unwrap()
    }

    /// A profile sending `rate`/s for `secs` to the sim at `addr`, reading back from these
    /// services.
    pub fn relay_profile(
        &self,
        addr: std::net::SocketAddr,
        key: &str,
        rate: u32,
        secs: u32,
    ) -> String {
        format!(
            r#"seed = 7
[target]
kind = "relay"
dsn = "http://{key}@{addr}/1"
[traffic]
rate = {rate}
duration = "{secs}s"
[send]
max_in_flight = 64
[verify]
poll_interval = "100ms"
deadline = "10s"
[verify.clickhouse]
url = "{ch}"
database = "{db}"
[verify.postgres]
url = "{pg}"
[gates]
max_loss_ratio = 0.0
"#,
            ch = self.clickhouse_url,
            db = self.clickhouse_database,
            pg = self.postgres_url,
        )
    }
}

/// A loopback port free a moment ago.
/// `docker`, failing the test when it does not answer.
pub fn docker(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a loopback port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Runs `sentry-load` with `args` in `dir`.
pub async fn sentry_load(dir: &Path, args: &[&str]) -> Output {
    sentry_load_with_env(dir, args, &[]).await
}

/// Runs the binary with extra environment variables.
pub async fn sentry_load_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sentry-load"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("sentry-load starts")
}

/// The one report written under `dir/runs/`.
pub fn only_report(dir: &Path) -> (std::path::PathBuf, serde_json::Value) {
    let runs: Vec<_> = std::fs::read_dir(dir.join("runs"))
        .expect("runs folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    let text = std::fs::read_to_string(runs[0].join("report.json")).expect("report.json");
    (
        runs[0].clone(),
        serde_json::from_str(&text).expect("report is JSON"),
    )
}

/// Stdout and stderr, for assertion messages.
pub fn shown(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The ids (32 hex) of the events that got `decision` in the sim's ground truth.
pub fn ids(
    truth: &[sentry_load_sim::TruthEntry],
    decision: sentry_load_sim::Decision,
) -> std::collections::BTreeSet<String> {
    truth
        .iter()
        .filter(|e| e.decision == decision)
        .map(|e| e.event_id.simple().to_string())
        .collect()
}

/// Whole records in a journal file so far, from its size and header length alone (0 while
/// the file or its header is not there yet): what a crash or an interrupt leaves readable.
pub fn whole_records(path: &Path) -> u64 {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    if bytes.len() < 14 {
        return 0;
    }
    let header_len = u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as u64;
    (bytes.len() as u64).saturating_sub(14 + header_len)
        / sentry_load_common::journal::RECORD_LEN as u64
}

/// Sends the head of a POST to `path` (with `X-Sentry-Auth: auth`, when given), declaring a
/// body of `len` bytes, and none of the body.
pub async fn head_only(
    addr: std::net::SocketAddr,
    path: &str,
    auth: Option<&str>,
    len: usize,
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = auth.map_or(String::new(), |a| format!("x-sentry-auth: {a}\r\n"));
    let head = format!("POST {path} HTTP/1.1\r\nhost: sim\r\n{auth}content-length: {len}\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// The status line of the answer, if one comes within a few seconds.
pub async fn status_of(s: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .map(str::to_owned)
}
