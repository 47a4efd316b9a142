//! The tables the sim writes, under the names and column names Snuba and Sentry use
//! (DESIGN §3), with the closest types both ClickHouse 18.16 and 25.8 understand.
//!
//! Only the columns the sim fills or the verifier reads are created; a real Snuba table has
//! more. `cityHash64` does not take a UUID on 18.16, hence `cityHash64(toString(event_id))`.

use crate::config::ProjectKey;

/// `errors_local`, as Snuba's errors storage lays it out on a single node.
pub const ERRORS_LOCAL: &str = "CREATE TABLE IF NOT EXISTS errors_local (
    project_id UInt64,
    timestamp DateTime,
    event_id UUID,
    platform String,
    environment Nullable(String),
    release Nullable(String),
    message String,
    title String,
    type String,
    level Nullable(String),
    primary_hash UUID,
    received DateTime,
    message_timestamp DateTime,
    group_id UInt64,
    `tags.key` Array(String),
    `tags.value` Array(String),
    `contexts.key` Array(String),
    `contexts.value` Array(String),
    trace_id Nullable(UUID),
    num_processing_errors Nullable(UInt64),
    `exception_stacks.type` Array(Nullable(String)),
    `exception_stacks.value` Array(Nullable(String)),
    `exception_frames.filename` Array(Nullable(String)),
    `exception_frames.function` Array(Nullable(String)),
    `exception_frames.lineno` Array(Nullable(UInt32)),
    `exception_frames.in_app` Array(Nullable(UInt8)),
    deleted UInt8,
    retention_days UInt16
) ENGINE = ReplacingMergeTree(deleted)
PARTITION BY (retention_days, toMonday(timestamp))
ORDER BY (project_id, toStartOfDay(timestamp), primary_hash, cityHash64(toString(event_id)))
SAMPLE BY cityHash64(toString(event_id))";

/// `transactions_local`, as Snuba's transactions storage lays it out on a single node.
pub const TRANSACTIONS_LOCAL: &str = "CREATE TABLE IF NOT EXISTS transactions_local (
    project_id UInt64,
    event_id UUID,
    trace_id UUID,
    span_id UInt64,
    transaction_name String,
    transaction_op String,
    start_ts DateTime,
    start_ms UInt16,
    finish_ts DateTime,
    finish_ms UInt16,
    duration UInt32,
    platform String,
    environment Nullable(String),
    release Nullable(String),
    `tags.key` Array(String),
    `tags.value` Array(String),
    message_timestamp DateTime,
    deleted UInt8,
    retention_days UInt16
) ENGINE = ReplacingMergeTree(deleted)
PARTITION BY (retention_days, toMonday(finish_ts))
ORDER BY (project_id, toStartOfDay(finish_ts), transaction_name, cityHash64(span_id))";

/// `outcomes_raw_local`: one row per outcome Relay and the pipeline emit (Snuba's raw
/// outcomes table).
pub const OUTCOMES_RAW_LOCAL: &str = "CREATE TABLE IF NOT EXISTS outcomes_raw_local (
    org_id UInt64,
    project_id UInt64,
    key_id Nullable(UInt64),
    timestamp DateTime,
    outcome UInt8,
    reason Nullable(String),
    event_id Nullable(UUID),
    quantity UInt32,
    category UInt8
) ENGINE = MergeTree()
PARTITION BY toMonday(timestamp)
ORDER BY (org_id, project_id, timestamp)";

/// Sentry's Postgres tables the sim writes: organizations, projects and keys (seeded), their
/// options, issues and the hashes that map events to them, and attachments. Options hold
/// JSON: `sentry_projectoptions.value` is a text column written as JSON since Sentry's
/// picklefield writes JSON (`src/sentry/db/models/fields/picklefield.py`,
/// `PICKLE_WRITE_JSON = True`; migration `0454_pickle_to_json_sentry_projectoptions`
/// converted old rows), `sentry_organizationoptions.value` is a `JSONField` (jsonb)
/// (getsentry/sentry `src/sentry/models/options/organization_option.py` at
/// 03cdb81bb2c50764169a65334e0b2a6aba88a6ab). A key's `status` is 0 when active, 1 when not
/// (getsentry/sentry `src/sentry/models/projectkey.py` at
/// 0252a1631dbb7e9625f8980b5e7a620ec9473e00, `ProjectKeyStatus`).
pub const POSTGRES: &str = "
CREATE TABLE IF NOT EXISTS sentry_organization (
    id bigserial PRIMARY KEY, name varchar(64) NOT NULL, slug varchar(50) NOT NULL UNIQUE,
    status integer NOT NULL DEFAULT 0, date_added timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS sentry_project (
    id bigserial PRIMARY KEY, slug varchar(50), name varchar(200) NOT NULL,
    organization_id bigint NOT NULL, status integer NOT NULL DEFAULT 0, platform varchar(64),
    date_added timestamptz NOT NULL DEFAULT now(), UNIQUE (organization_id, slug));
CREATE TABLE IF NOT EXISTS sentry_projectkey (
    id bigserial PRIMARY KEY, project_id bigint NOT NULL, label varchar(64),
    public_key varchar(32) UNIQUE, secret_key varchar(32) UNIQUE, roles bigint NOT NULL DEFAULT 1,
    status integer NOT NULL DEFAULT 0, date_added timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS sentry_groupedmessage (
    id bigserial PRIMARY KEY, project_id bigint NOT NULL, logger varchar(64) NOT NULL DEFAULT '',
    level integer NOT NULL DEFAULT 40, message text NOT NULL, view varchar(200),
    status integer NOT NULL DEFAULT 0, times_seen integer NOT NULL DEFAULT 1,
    last_seen timestamptz NOT NULL, first_seen timestamptz NOT NULL, platform varchar(64),
    type integer NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS sentry_groupedmessage_project_id ON sentry_groupedmessage (project_id);
CREATE TABLE IF NOT EXISTS sentry_eventattachment (
    id bigserial PRIMARY KEY, project_id bigint NOT NULL, event_id varchar(32) NOT NULL,
    group_id bigint, type varchar(64) NOT NULL, name text NOT NULL, size integer,
    content_type varchar(64), date_added timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS sentry_eventattachment_project_event
    ON sentry_eventattachment (project_id, event_id);
CREATE TABLE IF NOT EXISTS sentry_projectoptions (
    id bigserial PRIMARY KEY, project_id bigint NOT NULL, key varchar(64) NOT NULL,
    value text, UNIQUE (project_id, key));
CREATE TABLE IF NOT EXISTS sentry_organizationoptions (
    id bigserial PRIMARY KEY, organization_id bigint NOT NULL, key varchar(64) NOT NULL,
    value jsonb, UNIQUE (organization_id, key));
CREATE TABLE IF NOT EXISTS sentry_grouphash (
    id bigserial PRIMARY KEY, project_id bigint, hash varchar(32) NOT NULL, group_id bigint,
    UNIQUE (project_id, hash));
";

/// Statements that seed the organization, projects, keys and crash-report options of a sim
/// (idempotent).
pub fn postgres_seed(
    projects: &[ProjectKey],
    crash_reports: crate::crash_reports::CrashReportSettings,
) -> Vec<(String, Vec<String>)> {
    let mut out = vec![(
        "INSERT INTO sentry_organization (id, name, slug) VALUES (1, 'Sentry', 'sentry') \
         ON CONFLICT DO NOTHING"
            .to_owned(),
        vec![],
    )];
    for p in projects {
        out.push((
            format!(
                "INSERT INTO sentry_project (id, slug, name, organization_id) \
                 VALUES ({id}, $1, $1, 1) ON CONFLICT DO NOTHING",
                id = p.project_id
            ),
            vec![crate::artifacts::project_slug(p.project_id)],
        ));
        out.push((
            format!(
                "INSERT INTO sentry_projectkey (project_id, label, public_key, status) \
                 VALUES ({id}, 'Default', $1, {status}) ON CONFLICT DO NOTHING",
                id = p.project_id,
                status = if p.active { 0 } else { 1 }
            ),
            vec![p.public_key.clone()],
        ));
        if let Some(v) = crash_reports.project {
            out.push((
                format!(
                    "INSERT INTO sentry_projectoptions (project_id, key, value) \
                     VALUES ({id}, '{CRASH_REPORTS_OPTION}', '{v}') ON CONFLICT DO NOTHING",
                    id = p.project_id
                ),
                vec![],
            ));
        }
    }
    if let Some(v) = crash_reports.organization {
        out.push((
            format!(
                "INSERT INTO sentry_organizationoptions (organization_id, key, value) \
                 VALUES (1, '{CRASH_REPORTS_OPTION}', '{v}'::jsonb) ON CONFLICT DO NOTHING"
            ),
            vec![],
        ));
    }
    out
}

/// The option that says whether minidumps are kept.
pub const CRASH_REPORTS_OPTION: &str = "sentry:store_crash_reports";
