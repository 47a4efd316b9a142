//! The crash-report part of the Postgres check: what `sentry:store_crash_reports` allows for
//! each project, and whether the stored minidumps agree — so "0 of 40 stored" reads as "not
//! kept by setting" instead of as a loss.

use crate::model::CrashReportsSection;
use sentry_load_verify::CrashReports;

/// The section of one project.
pub fn section(c: &CrashReports) -> CrashReportsSection {
    let (keepable, verdict, as_set) = match &c.setting {
        Err(e) => (
            None,
            format!(
                "{} of {} crashes have their minidump stored; the setting could not be read: {e}",
                c.stored, c.crashes
            ),
            true,
        ),
        Ok(0) => (
            Some(0),
            if c.stored == 0 {
                format!(
                    "not kept by setting: sentry:store_crash_reports is 0 ({}) for project {} — \
                     none of {} minidumps is stored, as set",
                    origin(c.from),
                    c.project_id,
                    c.crashes
                )
            } else {
                format!(
                    "sentry:store_crash_reports is 0 ({}), yet {} of {} minidumps are stored \
                     (the setting changed during the run?)",
                    origin(c.from),
                    c.stored,
                    c.crashes
                )
            },
            c.stored == 0,
        ),
        Ok(v) if *v < 0 => (
            Some(c.crashes),
            format!(
                "every crash kept (sentry:store_crash_reports = -1, {}): {} of {} minidumps stored{}",
                origin(c.from),
                c.stored,
                c.crashes,
                if c.stored < c.crashes {
                    format!(" — {} missing", c.crashes - c.stored)
                } else {
                    String::new()
                }
            ),
            c.stored == c.crashes,
        ),
        Ok(cap) => {
            let cap = *cap as u64;
            let keepable: u64 = c.crashes_per_issue.iter().map(|n| (*n).min(cap)).sum();
            let over = c.most_in_one_issue > cap;
            (
                Some(keepable),
                format!(
                    "capped at {cap} per issue (sentry:store_crash_reports = {cap}, {}): {} of {} \
                     minidumps stored; this run's crashes fall in {} issues, so at most {keepable} \
                     could be kept (fewer where an issue already held crash reports){}",
                    origin(c.from),
                    c.stored,
                    c.crashes,
                    c.crashes_per_issue.len(),
                    if over {
                        format!("; one issue holds {}, over the cap", c.most_in_one_issue)
                    } else {
                        String::new()
                    }
                ),
                c.stored <= keepable && !over,
            )
        }
    };
    CrashReportsSection {
        project_id: c.project_id,
        setting: c.setting.as_ref().ok().copied(),
        from: c.from.to_owned(),
        crashes: c.crashes,
        stored: c.stored,
        keepable,
        verdict,
        as_set,
    }
}

fn origin(from: &str) -> &'static str {
    match from {
        "project" => "the project's option",
        "organization" => "the organization's option",
        _ => "unset: Sentry's default",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crashes(setting: Result<i64, String>, from: &'static str, stored: u64) -> CrashReports {
        CrashReports {
            project_id: 1,
            setting,
            from,
            crashes: 10,
            stored,
            crashes_per_issue: vec![6, 3, 1],
            most_in_one_issue: stored.min(6),
        }
    }

    #[test]
    fn verdicts_follow_the_setting() {
        let off = section(&crashes(Ok(0), "default", 0));
        assert!(
            off.verdict.starts_with("not kept by setting"),
            "{}",
            off.verdict
        );
        assert!(off.as_set && off.keepable == Some(0));
        assert!(!section(&crashes(Ok(0), "project", 2)).as_set);
        let all = section(&crashes(Ok(-1), "organization", 10));
        assert!(all.as_set && all.verdict.starts_with("every crash kept"));
        assert!(!section(&crashes(Ok(-1), "project", 9)).as_set);
        // A cap of 2: 2 + 2 + 1 of the issues' 6, 3 and 1 crashes.
        let capped = section(&CrashReports {
            most_in_one_issue: 2,
            ..crashes(Ok(2), "project", 5)
        });
        assert_eq!(capped.keepable, Some(5));
        assert!(capped.as_set && capped.verdict.starts_with("capped at 2 per issue"));
        let over = CrashReports {
            most_in_one_issue: 3,
            ..crashes(Ok(2), "project", 5)
        };
        assert!(!section(&over).as_set);
        let unreadable = section(&crashes(Err("no table".into()), "unreadable", 0));
        assert!(unreadable.verdict.contains("could not be read: no table"));
    }
}
