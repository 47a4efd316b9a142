//! Whether a crash's minidump is kept as an attachment: Sentry's `sentry:store_crash_reports`.
//!
//! The project's option wins; unset, the organization's applies; unset too, the default is 0:
//! minidumps are not kept (getsentry/sentry `src/sentry/lang/native/utils.py`:
//! `STORE_CRASH_REPORTS_DEFAULT = 0`, `STORE_CRASH_REPORTS_ALL = -1`, a positive number is a
//! cap per issue, at most `STORE_CRASH_REPORTS_MAX = 100`; `src/sentry/event_manager.py`,
//! `filter_attachments_for_group`: the project's value, else the organization's). A minidump
//! that is not kept gets outcome `filtered`, reason `crash-report-limit`, category
//! `attachment`, quantity its size, with the crash's event id (`track_outcome(…,
//! reason=FilterStatKeys.CRASH_REPORT_LIMIT, …)`; the reason's text is `crash-report-limit`:
//! `src/sentry/ingest/inbound_filters.py` at 6a81ba2feece7cc23a7d71f1a14ab3e91fcda4c8).
//! The count per issue is Sentry's `cr:<group_id>` cache; here, per grouping hash.

use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// The reason of the outcome of a minidump that is not kept.
pub const CRASH_REPORT_LIMIT: &str = "crash-report-limit";

/// `sentry:store_crash_reports` at project and organization level, as the sim seeds them into
/// Postgres (`sentry_projectoptions`, `sentry_organizationoptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashReportSettings {
    /// The project's option (every project of the sim), if set.
    pub project: Option<i64>,
    /// The organization's option, if set.
    pub organization: Option<i64>,
}

impl CrashReportSettings {
    /// The value that applies: -1 all, 0 none, n per issue.
    pub fn effective(&self) -> i64 {
        self.project.or(self.organization).unwrap_or(0)
    }
}

/// Counts kept minidumps per issue and decides about the next one.
#[derive(Debug)]
pub struct CrashReportPolicy {
    limit: i64,
    kept: Mutex<HashMap<(u64, Uuid), i64>>,
}

impl CrashReportPolicy {
    /// The policy for `settings`.
    pub fn new(settings: CrashReportSettings) -> CrashReportPolicy {
        CrashReportPolicy {
            limit: settings.effective(),
            kept: Mutex::default(),
        }
    }

    /// Whether the next crash of the issue `(project, hash)` keeps its minidump.
    pub fn keep(&self, project: u64, hash: Uuid) -> bool {
        match self.limit {
            l if l < 0 => true,
            0 => false,
            cap => {
                let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
                let n = kept.entry((project, hash)).or_insert(0);
                if *n >= cap {
                    return false;
                }
                *n += 1;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_overrides_the_organization_and_the_default_keeps_none() {
        let s = |project, organization| CrashReportSettings {
            project,
            organization,
        };
        assert_eq!(s(None, None).effective(), 0);
        assert_eq!(s(None, Some(-1)).effective(), -1);
        assert_eq!(s(Some(2), Some(-1)).effective(), 2);
        let h = Uuid::from_u128(1);
        let none = CrashReportPolicy::new(s(None, None));
        assert!(!none.keep(1, h));
        let all = CrashReportPolicy::new(s(Some(-1), None));
        assert!((0..50).all(|_| all.keep(1, h)));
        let capped = CrashReportPolicy::new(s(Some(2), None));
        let kept = (0..5).filter(|_| capped.keep(1, h)).count();
        assert_eq!(kept, 2);
        assert!(
            capped.keep(1, Uuid::from_u128(2)),
            "another issue has its own count"
        );
    }
}
