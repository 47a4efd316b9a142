//! The verifier's own queries on ClickHouse 26 (in-process, PyPI `chdb-core`) against the
//! tables as Snuba's migrations create them (`tests/fixtures/snuba/*.sql`), and on the test
//! services' ClickHouse 18.16 against the sim's tables: the same rows in, the same answers
//! out — present, duplicated, deleted, out of the window, another project's, and outcomes of
//! the event's own and of an attachment's category.

mod support;

use sentry_load_common::Dataset;
use sentry_load_verify::Lookup;
use sentry_load_verify::source::ClickHouseSource;
use std::collections::BTreeSet;
use support::{services, tool};
use uuid::Uuid;

/// The `[verify.clickhouse]` of `url` and `database`, as a profile would give it.
fn source(url: &str, database: &str) -> ClickHouseSource {
    let profile = format!(
        "seed = 1\n[target]\nkind = \"relay\"\ndsn = \"http://k@127.0.0.1:9/1\"\n\
         [traffic]\nrate = 1\ncount = 1\n\
         [verify.clickhouse]\nurl = \"{url}\"\ndatabase = \"{database}\"\n"
    );
    let p = sentry_load_config::parse_profile("p.toml", &profile).unwrap();
    ClickHouseSource::new(p.verify.clickhouse.as_ref().unwrap())
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x5e1d_0000_0000_4000_8000_0000_0000_0000 | n)
}

/// The rows, for both schemas: only columns both have are named.
fn inserts(t0: u64) -> Vec<String> {
    let error = |n: u128, project: u64, ts: u64, deleted: u8| {
        format!(
            "({project}, toDateTime({ts}), '{}', 'python', '{}', toDateTime({}), \
             toDateTime({}), {}, {deleted}, 90, 'm', 'T', 'error', ['sentry_load.seq'], ['{n}'])",
            id(n),
            Uuid::from_u128(n * 7),
            ts + 1,
            ts + 2,
            10 + n
        )
    };
    let transaction = |n: u128, deleted: u8| {
        format!(
            "(1, '{}', '{}', {n}, '/t/{n}', 'http.server', toDateTime({}), 5, toDateTime({t0}), \
             7, 2000, 'python', toDateTime(0), {deleted}, 90)",
            id(n),
            id(n + 100),
            t0 - 2
        )
    };
    let outcome = |n: u128, outcome: u8, reason: &str, category: u8| {
        format!(
            "(1, 1, NULL, toDateTime({t0}), {outcome}, {reason}, '{}', 1, {category})",
            id(n)
        )
    };
    let errors = "INSERT INTO errors_local (project_id, timestamp, event_id, platform, \
                  primary_hash, received, message_timestamp, group_id, deleted, retention_days, \
                  message, title, type, `tags.key`, `tags.value`) VALUES ";
    vec![
        format!(
            "{errors}{}",
            [
                error(1, 1, t0, 0),
                error(2, 1, t0 + 5, 0),
                error(3, 1, t0 + 10, 1),
                error(4, 1, t0 - 100_000, 0),
                error(5, 2, t0, 0),
            ]
            .join(", ")
        ),
        // A second copy of 2 in an insert of its own, as a consumer's replay writes it: in
        // the same insert, ClickHouse 26 would merge it away at once (`optimize_on_insert`)
        // and 18.16 would not.
        format!("{errors}{}", error(2, 1, t0 + 5, 0)),
        format!(
            "INSERT INTO transactions_local (project_id, event_id, trace_id, span_id, \
             transaction_name, transaction_op, start_ts, start_ms, finish_ts, finish_ms, \
             duration, platform, message_timestamp, deleted, retention_days) VALUES {}, {}",
            transaction(20, 0),
            transaction(21, 1)
        ),
        format!(
            "INSERT INTO outcomes_raw_local (org_id, project_id, key_id, timestamp, outcome, \
             reason, event_id, quantity, category) VALUES {}",
            [
                outcome(30, 1, "'release-version'", 1),
                outcome(1, 0, "NULL", 1),
                outcome(31, 1, "'crash-report-limit'", 4),
                outcome(32, 2, "NULL", 1),
            ]
            .join(", ")
        ),
    ]
}

/// The verifier's queries of `source` for the rows above.
fn queries(source: &ClickHouseSource, t0: u64) -> Vec<String> {
    let errors: Vec<Uuid> = (1..=6).map(id).collect();
    let transactions = [id(20), id(21), id(22)];
    let outcomes = [id(30), id(1), id(31), id(32)];
    let window = |dataset, ids| Lookup {
        project_id: 1,
        dataset,
        from_secs: t0 - 120,
        to_secs: t0 + 120,
        ids,
    };
    vec![
        source.lookup_sql(window(Dataset::Errors, &errors)),
        source.lookup_sql(window(Dataset::Transactions, &transactions)),
        source.outcomes_sql(window(Dataset::Errors, &outcomes)),
        source.tables_sql(),
    ]
}

/// Rows as sets of `column=value` texts: both versions' JSON, whatever their number quoting.
fn normalized(rows: &[serde_json::Value]) -> Vec<BTreeSet<String>> {
    let mut out: Vec<BTreeSet<String>> = rows
        .iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect()
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn the_verifiers_queries_answer_alike_on_clickhouse_26_and_18() {
    let svc = services("clickhouse26").await;
    let python = tool("SENTRY_LOAD_TEST_PYTHON", "clickhouse26");
    let t0 = sentry_load_common::clock::now_unix_micros() / 1_000_000 - 60;

    // ClickHouse 18.16 with the sim's tables.
    let ch = clickhouse::Client::default()
        .with_url(&svc.clickhouse_url)
        .with_validation(false);
    ch.query(&format!("CREATE DATABASE {}", svc.clickhouse_database))
        .execute()
        .await
        .unwrap();
    let db = ch.clone().with_database(&svc.clickhouse_database);
    use sentry_load_sim::store::schema;
    for ddl in [
        schema::ERRORS_LOCAL,
        schema::TRANSACTIONS_LOCAL,
        schema::OUTCOMES_RAW_LOCAL,
    ] {
        db.query(ddl).execute().await.unwrap();
    }
    for sql in inserts(t0) {
        db.query(&sql).execute().await.unwrap();
    }
    let old = source(&svc.clickhouse_url, &svc.clickhouse_database);
    let http = reqwest::Client::new();
    let mut on_18 = Vec::new();
    for sql in queries(&old, t0) {
        let text = http
            .post(&svc.clickhouse_url)
            .body(format!("{sql} FORMAT JSONEachRow"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .text()
            .await
            .unwrap();
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        on_18.push(normalized(&rows));
    }

    // ClickHouse 26 with Snuba's tables.
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/snuba/{name}.sql",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let mut setup: Vec<String> = ["errors_local", "transactions_local", "outcomes_raw_local"]
        .iter()
        .map(|t| fixture(t))
        .collect();
    setup.extend(inserts(t0));
    let new = source("http://127.0.0.1:1", "default");
    let request = serde_json::json!({ "setup": setup, "queries": queries(&new, t0) });
    let mut child = tokio::process::Command::new(&python)
        .arg(format!(
            "{}/scripts/chdb-query.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(request.to_string().as_bytes())
            .await
            .unwrap();
    }
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        child.wait_with_output(),
    )
    .await
    .expect("chdb answers within 2 minutes")
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        answer["version"].as_str().unwrap().starts_with("26."),
        "{answer}"
    );
    let on_26: Vec<_> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| normalized(r.as_array().unwrap()))
        .collect();

    // The answers: what the verifier must see, on both.
    let names = |rows: &[BTreeSet<String>], key: &str| -> Vec<String> {
        let mut v: Vec<String> = rows
            .iter()
            .flat_map(|r| r.iter().filter(|c| c.starts_with(key)).cloned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&on_26[0], "id="),
        [id(1), id(2), id(2)].map(|i| format!("id={i}")),
        "errors: present once, duplicated twice; deleted, old and other-project rows left out"
    );
    assert_eq!(names(&on_26[1], "id="), [format!("id={}", id(20))]);
    assert_eq!(
        names(&on_26[2], "category="),
        ["category=1", "category=1", "category=4"]
    );
    for (i, (a, b)) in on_18.iter().zip(&on_26).enumerate() {
        assert_eq!(a, b, "query {i} answers differently on 18.16 and 26");
    }
    svc.cleanup().await;
}
