//! The Postgres checks: the issues (`sentry_groupedmessage` rows) that seen events were
//! grouped into exist; native crashes' minidumps were stored as attachments
//! (`sentry_eventattachment`, when the project keeps crash reports); and the projects' DSNs,
//! discovered from `sentry_projectkey`.

use crate::postgres::PgSession;
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
}

/// Ids per `= ANY($2)` query.
const IDS_PER_QUERY: usize = 1000;

/// Looks up the issues in Postgres; the error is secret-free.
pub async fn check_issues(
    cfg: &PostgresConfig,
    groups: &BTreeMap<u64, BTreeSet<u64>>,
    crashes: &BTreeMap<u64, Vec<uuid::Uuid>>,
) -> Result<IssueCheck, String> {
    let pg = PgSession::connect(cfg).await?;
    let result = issue_rows(&pg, groups, crashes).await;
    pg.close().await;
    result
}

async fn issue_rows(
    pg: &PgSession,
    groups: &BTreeMap<u64, BTreeSet<u64>>,
    crashes: &BTreeMap<u64, Vec<uuid::Uuid>>,
) -> Result<IssueCheck, String> {
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
        let project_id = *project as i64;
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let wanted: Vec<String> = chunk.iter().map(|i| i.simple().to_string()).collect();
            let rows = pg
                .query(
                    "SELECT count(DISTINCT event_id) FROM sentry_eventattachment \
                     WHERE project_id = $1 AND event_id = ANY($2)",
                    &[(&project_id, Type::INT8), (&wanted, Type::TEXT_ARRAY)],
                )
                .await?;
            let stored = rows.first().map_or(0, |r| r.get::<_, i64>(0));
            check.crashes += chunk.len() as u64;
            check.crashes_with_attachment += stored as u64;
        }
    }
    Ok(check)
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
) -> Result<Vec<ProjectKeyRow>, String> {
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
