//! The Postgres check: the issues (`sentry_groupedmessage` rows) that seen events were grouped
//! into exist.

use sentry_load_common::redact;
use sentry_load_config::PostgresConfig;
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::NoTls;

/// What the issue check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueCheck {
    /// Distinct issues the seen events point at.
    pub expected: u64,
    /// Of those, how many exist in `sentry_groupedmessage`.
    pub found: u64,
    /// `(project, group id)` of the issues that do not exist.
    pub missing: Vec<(u64, u64)>,
}

/// Looks up the issues in Postgres; the error is secret-free.
pub async fn check_issues(
    cfg: &PostgresConfig,
    groups: &BTreeMap<u64, BTreeSet<u64>>,
) -> Result<IssueCheck, String> {
    let shown = redact::url(cfg.url.expose());
    let (client, conn) = tokio_postgres::connect(cfg.url.expose().as_str(), NoTls)
        .await
        .map_err(|e| format!("postgres {shown}: {e}"))?;
    let conn = tokio::spawn(conn);
    let mut check = IssueCheck::default();
    for (project, ids) in groups {
        let wanted: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        let rows = client
            .query(
                "SELECT id FROM sentry_groupedmessage WHERE project_id = $1 AND id = ANY($2)",
                &[&(*project as i64), &wanted],
            )
            .await
            .map_err(|e| format!("postgres {shown}: {e}"))?;
        let present: BTreeSet<u64> = rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect();
        check.expected += ids.len() as u64;
        check.found += present.len() as u64;
        check
            .missing
            .extend(ids.difference(&present).map(|id| (*project, *id)));
    }
    drop(client);
    let _ = conn.await;
    Ok(check)
}
