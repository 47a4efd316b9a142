//! The Postgres checks: the issues (`sentry_groupedmessage` rows) that seen events were
//! grouped into exist; native crashes' minidumps were stored as attachments
//! (`sentry_eventattachment`, type `event.minidump`) as far as the projects' crash-report
//! setting allows (`sentry:store_crash_reports` in `sentry_projectoptions`, else
//! `sentry_organizationoptions`); and the projects' DSNs, discovered from
//! `sentry_projectkey`.
//!
//! The setting, as Sentry reads it (getsentry/sentry `src/sentry/lang/native/utils.py`,
//! `convert_crashreport_count`; `src/sentry/event_manager.py`, `filter_attachments_for_group`):
//! the project's value, or the organization's when the project has none, or 0; -1 keeps every
//! minidump, 0 none, n at most n per issue (Sentry's `cr:<group_id>` count, kept a day, so
//! crashes of earlier runs count too); legacy `true` is -1. Option values are JSON: a text
//! column for projects, jsonb for organizations (see the sim's schema for the sources).

use crate::postgres::{PgError, PgSession};
use sentry_load_config::PostgresConfig;
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::types::Type;

/// What the issue check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueCheck {
    /// Distinct issues the seen events point at.
    pub expected: u64,
    /// Of those, how many exist in `sentry_groupedmessage`.
    pub found: u64,
    /// `(project, group id)` of the issues that do not exist.
    pub missing: Vec<(u64, u64)>,
    /// Seen native crashes looked up in `sentry_eventattachment`.
    pub crashes: u64,
    /// Of those, how many have a stored attachment.
    pub crashes_with_attachment: u64,
    /// Per project with seen crashes: its crash-report setting and what was kept.
    pub crash_reports: Vec<CrashReports>,
}

/// One project's crash-report setting, and its seen crashes' stored minidumps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashReports {
    /// The project.
    pub project_id: u64,
    /// `sentry:store_crash_reports` as it applies (-1 all, 0 none, n per issue), or why it
    /// could not be read.
    pub setting: Result<i64, String>,
    /// Where the setting came from: `project`, `organization` or `default`.
    pub from: &'static str,
    /// Seen crashes.
    pub crashes: u64,
    /// Of those, stored with their minidump.
    pub stored: u64,
    /// Seen crashes per issue (crashes whose issue is unknown count as one issue each).
    pub crashes_per_issue: Vec<u64>,
    /// The largest number of minidumps stored in one issue by this run.
    pub most_in_one_issue: u64,
}

/// The option's key.
pub const STORE_CRASH_REPORTS: &str = "sentry:store_crash_reports";

/// A seen native crash: its id and, where the source said, its issue.
pub type Crash = (uuid::Uuid, Option<u64>);

/// Ids per `= ANY($2)` query.
const IDS_PER_QUERY: usize = 1000;

/// Looks up the issues in Postgres; the error is secret-free.
pub async fn check_issues(
    cfg: &PostgresConfig,
    groups: &BTreeMap<u64, BTreeSet<u64>>,
    crashes: &BTreeMap<u64, Vec<Crash>>,
) -> Result<IssueCheck, PgError> {
    let pg = PgSession::connect(cfg).await?;
    let result = issue_rows(&pg, groups, crashes).await;
    pg.close().await;
    result
}

async fn issue_rows(
    pg: &PgSession,
    groups: &BTreeMap<u64, BTreeSet<u64>>,
    crashes: &BTreeMap<u64, Vec<Crash>>,
) -> Result<IssueCheck, PgError> {
    let mut check = IssueCheck::default();
    for (project, ids) in groups {
        let project_id = *project as i64;
        let all: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        let mut present = BTreeSet::new();
        for wanted in all.chunks(IDS_PER_QUERY) {
            let wanted = wanted.to_vec();
            let rows = pg
                .query(
                    "SELECT id FROM sentry_groupedmessage WHERE project_id = $1 AND id = ANY($2)",
                    &[(&project_id, Type::INT8), (&wanted, Type::INT8_ARRAY)],
                )
                .await?;
            present.extend(rows.iter().map(|r| r.get::<_, i64>(0) as u64));
        }
        check.expected += ids.len() as u64;
        check.found += present.len() as u64;
        check
            .missing
            .extend(ids.difference(&present).map(|id| (*project, *id)));
    }
    for (project, ids) in crashes {
        let stored = stored_minidumps(pg, *project, ids).await?;
        let setting = crash_report_setting(pg, *project).await;
        let mut per_issue: BTreeMap<u64, u64> = BTreeMap::new();
        let mut unknown_issue = 0;
        for (_, group) in ids {
            match group {
                Some(g) => *per_issue.entry(*g).or_default() += 1,
                None => unknown_issue += 1,
            }
        }
        let mut crashes_per_issue: Vec<u64> = per_issue.into_values().collect();
        crashes_per_issue.extend(std::iter::repeat_n(1, unknown_issue));
        let total: u64 = stored.values().sum();
        check.crashes += ids.len() as u64;
        check.crashes_with_attachment += total;
        let (setting, from) = match setting {
            Ok((v, from)) => (Ok(v), from),
            Err(e) => (Err(e), "unreadable"),
        };
        check.crash_reports.push(CrashReports {
            project_id: *project,
            setting,
            from,
            crashes: ids.len() as u64,
            stored: total,
            crashes_per_issue,
            most_in_one_issue: stored.values().copied().max().unwrap_or(0),
        });
    }
    Ok(check)
}

/// Stored minidumps of `crashes` in `project`, per issue (`sentry_eventattachment.group_id`).
async fn stored_minidumps(
    pg: &PgSession,
    project: u64,
    crashes: &[Crash],
) -> Result<BTreeMap<Option<i64>, u64>, PgError> {
    let project_id = project as i64;
    let mut stored = BTreeMap::new();
    for chunk in crashes.chunks(IDS_PER_QUERY) {
        let wanted: Vec<String> = chunk.iter().map(|(i, _)| i.simple().to_string()).collect();
        let rows = pg
            .query(
                "SELECT group_id, count(DISTINCT event_id) FROM sentry_eventattachment \
                 WHERE project_id = $1 AND event_id = ANY($2) AND type = 'event.minidump' \
                 GROUP BY group_id",
                &[(&project_id, Type::INT8), (&wanted, Type::TEXT_ARRAY)],
            )
            .await?;
        for r in rows {
            *stored.entry(r.get::<_, Option<i64>>(0)).or_default() += r.get::<_, i64>(1) as u64;
        }
    }
    Ok(stored)
}

/// The project's `sentry:store_crash_reports` as it applies, and where it came from.
async fn crash_report_setting(pg: &PgSession, project: u64) -> Result<(i64, &'static str), String> {
    let project_id = project as i64;
    let rows = pg
        .query(
            "SELECT po.value, oo.value::text FROM sentry_project p \
             LEFT JOIN sentry_projectoptions po ON po.project_id = p.id AND po.key = $2 \
             LEFT JOIN sentry_organizationoptions oo \
               ON oo.organization_id = p.organization_id AND oo.key = $2 \
             WHERE p.id = $1",
            &[
                (&project_id, Type::INT8),
                (&STORE_CRASH_REPORTS, Type::TEXT),
            ],
        )
        .await
        .map_err(|e| e.to_string())?;
    let Some(row) = rows.first() else {
        return Err(format!("project {project} is not in sentry_project"));
    };
    let project_value: Option<String> = row.get(0);
    let org_value: Option<String> = row.get(1);
    if let Some(v) = crash_report_count(project_value.as_deref())? {
        return Ok((v, "project"));
    }
    if let Some(v) = crash_report_count(org_value.as_deref())? {
        return Ok((v, "organization"));
    }
    Ok((0, "default"))
}

/// An option's stored value as a crash-report count: `None` when unset (no row, or JSON
/// `null`); legacy `true` is -1, `false` 0.
pub fn crash_report_count(stored: Option<&str>) -> Result<Option<i64>, String> {
    let Some(text) = stored else {
        return Ok(None);
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Null) => Ok(None),
        Ok(serde_json::Value::Bool(b)) => Ok(Some(if b { -1 } else { 0 })),
        Ok(serde_json::Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
        Ok(serde_json::Value::String(s)) if s.parse::<i64>().is_ok() => Ok(s.parse().ok()),
        _ => Err(format!(
            "{STORE_CRASH_REPORTS} holds `{}`, not a number (a legacy pickled value?)",
            text.chars().take(40).collect::<String>()
        )),
    }
}

/// One client key of a project, from `sentry_projectkey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectKeyRow {
    /// The project id.
    pub project_id: u64,
    /// The project's slug.
    pub slug: String,
    /// The key's label.
    pub label: String,
    /// The public key: the DSN's user part (not a secret; the legacy secret key is never
    /// read).
    pub public_key: String,
}

/// The active client keys (`status = 0`) of every project, or of one; the error is
/// secret-free.
pub async fn project_keys(
    cfg: &PostgresConfig,
    project: Option<u64>,
) -> Result<Vec<ProjectKeyRow>, PgError> {
    let pg = PgSession::connect(cfg).await?;
    let project = project.map(|p| p as i64);
    let rows = pg
        .query(
            "SELECT k.project_id, coalesce(p.slug, ''), coalesce(k.label, ''), k.public_key \
             FROM sentry_projectkey k LEFT JOIN sentry_project p ON p.id = k.project_id \
             WHERE k.status = 0 AND ($1::bigint IS NULL OR k.project_id = $1) \
             ORDER BY k.project_id, k.id",
            &[(&project, Type::INT8)],
        )
        .await;
    pg.close().await;
    Ok(rows?
        .iter()
        .map(|r| ProjectKeyRow {
            project_id: r.get::<_, i64>(0) as u64,
            slug: r.get(1),
            label: r.get(2),
            public_key: r.get(3),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values_read_as_sentry_converts_them() {
        assert_eq!(crash_report_count(None), Ok(None));
        assert_eq!(crash_report_count(Some("null")), Ok(None));
        assert_eq!(crash_report_count(Some("0")), Ok(Some(0)));
        assert_eq!(crash_report_count(Some("-1")), Ok(Some(-1)));
        assert_eq!(crash_report_count(Some("5")), Ok(Some(5)));
        assert_eq!(crash_report_count(Some("true")), Ok(Some(-1)));
        assert_eq!(crash_report_count(Some("\"7\"")), Ok(Some(7)));
        let legacy = crash_report_count(Some("gAJLBS4=")).unwrap_err();
        assert!(legacy.contains("gAJLBS4="), "{legacy}");
    }
}
