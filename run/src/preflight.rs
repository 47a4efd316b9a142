//! Preflight: what `run` checks before any load, and `sentry-load preflight` alone. Each
//! check is one line; a failed one says what to do, and nothing is sent until every check
//! passes (exit 3 when something does not answer, 2 when it answers wrongly).
//!
//! - the target accepts connections (for the main target and a `[mirror]`);
//! - the DSN's key exists and is active for its project (`sentry_projectkey`, with
//!   `[verify.postgres]`);
//! - the read-back source answers: ClickHouse's version and the tables the mix needs plus
//!   the outcomes table; the Sentry API's Discover;
//! - for JavaScript traffic: the `[artifacts]` project is the DSN's project, and the
//!   chunk-upload URL Sentry gives is reachable from here;
//! - for transactions: the install stores them (an errors-only install does not: they are
//!   taken out of the mix, and the run says so).

use crate::error::{Failure, FailureKind};
use crate::sources;
use crate::sources::ReadBack;
use anyhow::anyhow;
use sentry_load_common::{Dataset, EventKind};
use sentry_load_config::{Dsn, Profile, TargetKind, VerifyConfig};
use sentry_load_engine::Target;
use sentry_load_verify::preflight::{KeyState, errors_only, key_state, project_id};
use std::time::Duration;

/// One check's result.
#[derive(Debug)]
pub struct Check {
    /// What was checked (`target`, `key`, `clickhouse`, …).
    pub name: &'static str,
    /// How it went.
    pub verdict: Verdict,
    /// What was found, or what to do.
    pub line: String,
}

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Passed.
    Ok,
    /// Could not be checked with what the profile configures.
    Skipped,
    /// Passed with a change to the run (transactions taken out of the mix).
    Changed,
    /// Failed: something answered wrongly.
    Failed,
    /// Failed: something did not answer.
    Unreachable,
}

/// What preflight found.
#[derive(Debug, Default)]
pub struct Preflight {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The install stores no transactions: take them out of the mix.
    pub drop_transactions: bool,
}

impl Preflight {
    fn push(&mut self, name: &'static str, verdict: Verdict, line: impl Into<String>) {
        self.checks.push(Check {
            name,
            verdict,
            line: line.into(),
        });
    }

    /// Prints every check (only failures and changes when `quiet`) on stderr.
    pub fn print(&self, quiet: bool) {
        for c in &self.checks {
            let mark = match c.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Skipped => "skip",
                Verdict::Changed => "NOTE",
                Verdict::Failed | Verdict::Unreachable => "FAIL",
            };
            if !quiet || !matches!(c.verdict, Verdict::Ok | Verdict::Skipped) {
                eprintln!("preflight {mark} {:<12} {}", c.name, c.line);
            }
        }
    }

    /// The exit of a failed preflight, if it failed: 3 when something did not answer.
    pub fn failure(&self) -> Option<Failure> {
        let failed: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Failed | Verdict::Unreachable))
            .collect();
        let first = failed.first()?;
        let e = anyhow!(
            "preflight failed ({} of {} checks): {} — nothing was sent",
            failed.len(),
            self.checks.len(),
            first.line
        );
        Some(
            if failed.iter().any(|c| c.verdict == Verdict::Unreachable) {
                Failure::unreachable(e)
            } else {
                Failure::usage(e)
            },
        )
    }
}

/// Runs every check for `profile`'s relay target(s), the read-back ones when `read_back`. An
/// embedded target needs none.
pub async fn check(profile: &Profile, read_back: bool) -> Preflight {
    let mut p = Preflight::default();
    if *profile.target.kind.get_ref() == TargetKind::Embedded {
        return p;
    }
    let datasets = sources::datasets(profile);
    let datasets = if read_back { datasets } else { vec![] };
    leg(
        &mut p,
        "",
        &profile.target.dsns(),
        &profile.verify,
        &datasets,
    )
    .await;
    if let Some(m) = &profile.mirror {
        let m = m.get_ref();
        leg(&mut p, "mirror ", &m.dsns(), &m.verify, &datasets).await;
    }
    let mix = profile.traffic.get_ref().mix.get_ref();
    let dsn_projects: Vec<u64> = profile
        .target
        .dsns()
        .iter()
        .map(|(d, _)| d.project_id())
        .collect();
    if mix.sends(EventKind::Javascript) {
        artifacts(&mut p, profile, &dsn_projects).await;
    }
    if mix.sends(EventKind::Transaction) {
        transactions(&mut p, profile).await;
    }
    p
}

/// The checks of one deployment: target, keys, read-back.
async fn leg(
    p: &mut Preflight,
    leg: &str,
    dsns: &[(Dsn, f64)],
    verify: &VerifyConfig,
    datasets: &[Dataset],
) {
    let Some((first, _)) = dsns.first() else {
        return;
    };
    let target = Target::from_dsn(0, first);
    match probe(&target).await {
        Ok(()) => p.push(
            "target",
            Verdict::Ok,
            format!("{leg}target {} accepts connections", target.display),
        ),
        Err(e) => p.push(
            "target",
            Verdict::Unreachable,
            format!("{leg}target {} does not answer: {e}", target.display),
        ),
    }
    match &verify.postgres {
        Some(pg) => {
            for (dsn, _) in dsns {
                let key = dsn.sentry_dsn().public_key();
                let (verdict, line) = match key_state(pg.get_ref(), dsn.project_id(), key).await {
                    Ok(KeyState::Active) => (
                        Verdict::Ok,
                        format!(
                            "{leg}the DSN's key {key} is active for project {} (sentry_projectkey)",
                            dsn.project_id()
                        ),
                    ),
                    Ok(KeyState::Inactive) => (
                        Verdict::Failed,
                        format!(
                            "{leg}the DSN's key {key} is disabled for project {}: Relay drops \
                             what it sends — enable it in Project Settings → Client Keys, or use \
                             an active one (`sentry-load dsn`)",
                            dsn.project_id()
                        ),
                    ),
                    Ok(KeyState::OtherProject(other)) => (
                        Verdict::Failed,
                        format!(
                            "{leg}the DSN's key {key} belongs to project {other}, not {}: fix \
                             the DSN's project id (`sentry-load dsn`)",
                            dsn.project_id()
                        ),
                    ),
                    Ok(KeyState::Unknown) => (
                        Verdict::Failed,
                        format!(
                            "{leg}the DSN's key {key} is not in sentry_projectkey: Relay would \
                             answer 200 and drop every event as invalid:project_id — copy the \
                             DSN from Project Settings → Client Keys (`sentry-load dsn`)"
                        ),
                    ),
                    Err(e) => (
                        Verdict::Unreachable,
                        format!("{leg}cannot check the DSN's key: {e}"),
                    ),
                };
                p.push("key", verdict, line);
            }
        }
        None => p.push(
            "key",
            Verdict::Skipped,
            format!("{leg}the DSN's key is not checked: no [verify.postgres]"),
        ),
    }
    if !datasets.is_empty() {
        readback_checks(p, leg, verify, datasets).await;
    }
    if let Some(u) = &verify.relay_upstream {
        match sentry_load_verify::upstream::ping(u).await {
            Ok(up) => p.push(
                "relay-upstream",
                Verdict::Ok,
                format!(
                    "{leg}the sim behind Relay answers ({} mode, {} envelopes taken so far)",
                    up.mode, up.envelopes
                ),
            ),
            Err(e) => p.push(
                "relay-upstream",
                if e.unreachable {
                    Verdict::Unreachable
                } else {
                    Verdict::Failed
                },
                format!("{leg}{}", e.message),
            ),
        }
    }
}

/// The read-back source answers, and ClickHouse has the tables.
async fn readback_checks(
    p: &mut Preflight,
    leg: &str,
    verify: &VerifyConfig,
    datasets: &[Dataset],
) {
    let source = match sources::source_for(verify) {
        Ok(s) => s,
        Err(e) => {
            p.push(
                "read-back",
                Verdict::Failed,
                format!("{leg}{}", e.message()),
            );
            return;
        }
    };
    if let ReadBack::ClickHouse(ch) = &source {
        match ch.version().await {
            Ok(version) => match ch.missing_tables(datasets).await {
                Ok(missing) if missing.is_empty() => p.push(
                    "clickhouse",
                    Verdict::Ok,
                    format!("{leg}{} answers, ClickHouse {version}, its tables exist", ch.describe()),
                ),
                Ok(missing) => p.push(
                    "clickhouse",
                    Verdict::Failed,
                    format!(
                        "{leg}{} (ClickHouse {version}) has no {}: set the table names in \
                         [verify.clickhouse] (`*_dist` on a cluster), or run Snuba's migrations",
                        ch.describe(),
                        missing.join(", ")
                    ),
                ),
                Err(e) => p.push("clickhouse", Verdict::Failed, format!("{leg}{e}")),
            },
            Err(e) => p.push(
                "clickhouse",
                if e.is_unreachable() {
                    Verdict::Unreachable
                } else {
                    Verdict::Failed
                },
                format!("{leg}{e}: publish ClickHouse's HTTP port to this machine or run here in the compose network"),
            ),
        }
    }
    match sources::ping(source.source(), datasets).await {
        Ok(()) => p.push(
            "read-back",
            Verdict::Ok,
            format!("{leg}{} answers a lookup", source.source().describe()),
        ),
        Err(e) => {
            let verdict = if e.kind() == FailureKind::Unreachable {
                Verdict::Unreachable
            } else {
                Verdict::Failed
            };
            p.push("read-back", verdict, format!("{leg}{}", e.message()));
        }
    }
}

/// `[artifacts]` names the DSN's project, and its chunk-upload URL is reachable.
async fn artifacts(p: &mut Preflight, profile: &Profile, dsn_projects: &[u64]) {
    let Some(a) = profile.artifacts.as_ref().map(|a| a.get_ref()) else {
        p.push(
            "artifacts",
            Verdict::Skipped,
            "no [artifacts]: JavaScript frames stay minified unless the bundle is uploaded otherwise",
        );
        return;
    };
    if !a.upload {
        p.push(
            "artifacts",
            Verdict::Skipped,
            "[artifacts] upload = false: not checked",
        );
        return;
    }
    let target = crate::upload::target_of(a);
    let id = match &profile.verify.postgres {
        Some(pg) => project_id(pg.get_ref(), &a.org, &a.project)
            .await
            .map_err(|e| e.to_string()),
        None => target
            .project_id()
            .await
            .map(Some)
            .map_err(|e| e.to_string()),
    };
    match id {
        Ok(Some(id)) if dsn_projects.contains(&id) => p.push(
            "artifacts",
            Verdict::Ok,
            format!(
                "[artifacts] project `{}` is project {id}, the DSN's",
                a.project
            ),
        ),
        Ok(Some(id)) => p.push(
            "artifacts",
            Verdict::Failed,
            format!(
                "[artifacts] project `{}` is project {id}, but the DSN sends to project {}: its \
                 sourcemaps would not apply — set [artifacts] project to the DSN's project",
                a.project,
                dsn_projects
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Ok(None) => p.push(
            "artifacts",
            Verdict::Failed,
            format!(
                "[artifacts] project `{}` is not a project of organization `{}`",
                a.project, a.org
            ),
        ),
        Err(e) => p.push(
            "artifacts",
            Verdict::Unreachable,
            format!("cannot check the [artifacts] project: {e}"),
        ),
    }
    if *profile.target.protocol.get_ref() == sentry_load_config::Protocol::Store {
        p.push(
            "chunk upload",
            Verdict::Skipped,
            "protocol = \"store\": sourcemaps go up as release files, without chunk upload",
        );
        return;
    }
    match target.chunk_url_reachable().await {
        Ok(url) => p.push(
            "chunk upload",
            Verdict::Ok,
            format!(
                "Sentry's chunk-upload URL {} accepts connections",
                sentry_load_common::redact::url(&url)
            ),
        ),
        Err(e) => p.push(
            "chunk upload",
            Verdict::Unreachable,
            format!(
                "{e} — Sentry gives this chunk-upload URL from its `system.url-prefix` (or \
                 `system.upload-url-prefix`): set it to an address this machine reaches"
            ),
        ),
    }
}

/// Whether the install stores transactions, from the client config of Sentry web.
async fn transactions(p: &mut Preflight, profile: &Profile) {
    let web = profile
        .artifacts
        .as_ref()
        .map(|a| a.get_ref().url.expose().clone())
        .or_else(|| {
            profile
                .verify
                .sentry_api
                .as_ref()
                .map(|a| a.url.expose().clone())
        });
    let Some(web) = web else {
        p.push(
            "transactions",
            Verdict::Skipped,
            "whether the install stores transactions is not checked: no Sentry web URL in \
             [artifacts] or [verify.sentry_api]",
        );
        return;
    };
    match errors_only(&web).await {
        Ok(Some(true)) => {
            p.drop_transactions = true;
            p.push(
                "transactions",
                Verdict::Changed,
                "the install is errors-only (COMPOSE_PROFILES=errors-only: nothing consumes \
                 ingest-transactions, so Relay's 200s would be lost without an outcome): \
                 transactions are taken out of the mix; the other kinds keep the profile's \
                 total rate",
            );
        }
        Ok(Some(false)) => p.push(
            "transactions",
            Verdict::Ok,
            "the install stores transactions",
        ),
        Ok(None) => p.push(
            "transactions",
            Verdict::Skipped,
            "the client config does not say whether the install is errors-only",
        ),
        Err(e) => p.push(
            "transactions",
            Verdict::Skipped,
            format!("whether the install stores transactions is not checked: {e}"),
        ),
    }
}

/// Opens one TCP connection to the target.
pub async fn probe(target: &Target) -> Result<(), String> {
    let url = &target.envelope_url;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no connection within 10 s".into()),
    }
}
