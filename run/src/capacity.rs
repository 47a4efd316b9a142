//! `sentry-load capacity`: the highest rate of the profile's mix a deployment sustains. Each
//! step is a whole run ([`PreparedRun`]) at one constant rate, held for `[capacity] hold`,
//! read back until visibility settles and judged by the profile's `[gates]` (the abort gates
//! stop a step early); [`Search`] picks the rates. The steps' run folders go into
//! `<out>/<id>/steps/`; the search's own report (`<out>/<id>/report.json`, `.md`, `.html`) is
//! that of the highest step that held, with the `capacity` section — the result, per kind, the
//! step table and its charts — that `compare` shows as a capacity row.
//!
//! A staged profile's `[[traffic.stages]]` are set aside: each step holds its own rate, with
//! the profile's mix, sizes and send settings.
//!
//! The search passes (exit 0) when a rate held (and it is at least `[capacity] require`); it
//! fails (exit 1) when none did; an operator's Ctrl-C stops it after the step in progress is
//! reported.

use crate::capacity_search::{Next, Search};
use crate::error::{Failure, Verdict};
use crate::folder::{self, RunFolder};
use crate::interrupt::Interrupt;
use crate::setup::{PreparedRun, RunRequest};
use crate::{output, profile};
use anyhow::anyhow;
use sentry_load_common::RunId;
use sentry_load_config::{CapacityConfig, GatesConfig};
use sentry_load_engine::{Overrides, ProgressMode, Shard};
use sentry_load_reports::{
    CapacityEnd, CapacitySection, CapacityStep, GateResult, Report, shown_rate,
};
use std::path::PathBuf;
use std::time::Duration;

/// What the command line asks of a capacity search.
#[derive(Debug, Clone)]
pub struct CapacityRequest {
    /// A shipped profile's name, `profiles/<name>.toml`, or a path.
    pub profile: String,
    /// `--start-rate`, over `[capacity] start_rate`.
    pub start_rate: Option<f64>,
    /// `--hold`, over `[capacity] hold`.
    pub hold: Option<Duration>,
    /// `--max-rate`, over `[capacity] max_rate`.
    pub max_rate: Option<f64>,
    /// The search's id (a new one when `None`); step `n` is `<id>-step<n>`.
    pub run_id: Option<String>,
    /// The folder that receives `<id>/`.
    pub out: PathBuf,
    /// How each step's progress is shown.
    pub progress: ProgressMode,
    /// Print only failures (and each step's result).
    pub quiet: bool,
    /// Serve each step's live metrics here (`--metrics-listen`).
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Runs the search and writes its report; passed when a rate held.
pub async fn capacity(request: CapacityRequest) -> Result<Verdict, Failure> {
    let loaded = profile::load_for(&request.profile, &[""])?;
    let config = search_config(&loaded.profile, &request)?;
    if !judges_a_step(&loaded.profile.gates) {
        return Err(Failure::usage(anyhow!(
            "{}: [gates] sets no gate a step can fail, so no rate would ever break: set \
             max_p99_visibility, max_silent_loss_ratio, max_rejected_ratio or \
             min_achieved_rate_ratio (in [gates] or [gates.kind.<kind>])",
            loaded.source
        )));
    }
    let id = match &request.run_id {
        Some(id) => RunId::parse(id).ok_or_else(|| {
            Failure::usage(anyhow!(
                "--run-id `{id}`: expected 1 to 57 ASCII letters, digits, `-`, `_` or `.`"
            ))
        })?,
        None => RunId::generate(sentry_load_common::clock::now_unix_micros()),
    };
    // Every step's id must be a run id too: refused now, not at the first step.
    step_id(&id, config.max_steps as usize)?;
    let home = RunFolder::for_run(&request.out, &id, Shard::WHOLE);
    if home.holds_a_run() {
        return Err(Failure::usage(anyhow!(
            "{} already holds a run: choose another --run-id, or remove that folder",
            home.dir().display()
        )));
    }
    home.create_capacity(&loaded.text)?;
    let steps_dir = home.steps();
    let interrupt = Interrupt::listen();
    let mut search = Search::new(config.clone());
    let mut steps: Vec<(CapacityStep, Report)> = Vec::new();
    let end = loop {
        let rate = match search.next() {
            Next::Step(r) => r,
            Next::Done(end) => break end,
        };
        if interrupt.cause().is_some() {
            break CapacityEnd::Interrupted;
        }
        let n = steps.len() + 1;
        output::line(format_args!(
            "── capacity step {n} (at most {}): {}/s for {} ──",
            config.max_steps,
            shown_rate(rate),
            humantime::format_duration(config.hold)
        ));
        let step_id = step_id(&id, n)?;
        let prepared = PreparedRun::prepare(RunRequest {
            profile: request.profile.clone(),
            overrides: Overrides {
                rate: Some(rate),
                duration: Some(config.hold),
                instead_of_stages: true,
            },
            shard: Shard::WHOLE,
            run_id: Some(step_id.as_str().to_owned()),
            out: steps_dir.clone(),
            progress: request.progress,
            read_back: true,
            // Preflight's checks are printed for the first step only.
            quiet: request.quiet || n > 1,
            baseline: None,
            metrics_listen: request.metrics_listen,
        })
        .await?;
        // A step's own stop: an abort gate it crosses ends that step only; an operator's
        // signal ends it and the search.
        let step_stop = Interrupt::never();
        let forward = {
            let (search_stop, step_stop) = (interrupt.clone(), step_stop.clone());
            tokio::spawn(async move {
                search_stop.happened().await;
                if let Some((why, _)) = search_stop.cause() {
                    step_stop.stop(why);
                }
            })
        };
        let verdict = prepared.execute_until(step_stop).await;
        forward.abort();
        let verdict = verdict?;
        let folder = RunFolder::for_run(&steps_dir, &step_id, Shard::WHOLE);
        let (report, _) = folder::read_report(&folder.report())?;
        if verdict == Verdict::Interrupted {
            // An operator's stop: the step did not hold its rate, so it is not judged.
            break CapacityEnd::Interrupted;
        }
        let step = CapacityStep::of(rate, &report, config.max_latency_growth);
        output::line(format_args!(
            "step {n}: {}/s {}{}",
            shown_rate(rate),
            if step.held { "held" } else { "BROKE" },
            if step.failed.is_empty() {
                String::new()
            } else {
                format!(" on {}", step.failed.join("; "))
            }
        ));
        search.record(rate, step.held);
        steps.push((step, report));
        if !config.rest.is_zero() && matches!(search.next(), Next::Step(_)) {
            tokio::select! {
                () = tokio::time::sleep(config.rest) => {}
                () = interrupt.happened() => {}
            }
        }
    };
    if steps.is_empty() && end == CapacityEnd::Interrupted {
        output::line(format_args!(
            "\ncapacity interrupted before its first step was judged; that step's report is in {}",
            steps_dir.display()
        ));
        return Ok(Verdict::Interrupted);
    }
    let (report, c) = search_report(&id, steps, end, &config)?;
    let path = home.report();
    folder::write_report(&path, &report)?;
    output::line(format_args!("\ncapacity {}", c.summary));
    for line in c.kind_lines() {
        output::line(format_args!("         {line}"));
    }
    output::line(format_args!("report   {}", path.display()));
    output::line(format_args!(
        "         {} · {}",
        path.with_extension("md").display(),
        path.with_extension("html").display()
    ));
    Ok(match end {
        CapacityEnd::Interrupted => Verdict::Interrupted,
        _ => Verdict::from_passed(report.passed),
    })
}

/// `[capacity]` with the command line's overrides, checked as the table is.
fn search_config(
    profile: &sentry_load_config::Profile,
    r: &CapacityRequest,
) -> Result<CapacityConfig, Failure> {
    let mut c = profile
        .capacity
        .as_ref()
        .map(|c| c.get_ref().clone())
        .unwrap_or_default();
    if let Some(s) = r.start_rate {
        c.start_rate = s;
    }
    if let Some(h) = r.hold {
        c.hold = h;
    }
    if let Some(m) = r.max_rate {
        c.max_rate = Some(m);
    }
    let rate_ok = |v: f64| sentry_load_config::Rate::try_from(v).is_ok();
    if !rate_ok(c.start_rate) {
        return Err(Failure::usage(anyhow!(
            "--start-rate {}: expected envelopes per second above 0",
            c.start_rate
        )));
    }
    if let Some(m) = c.max_rate
        && (!rate_ok(m) || m < c.start_rate)
    {
        return Err(Failure::usage(anyhow!(
            "--max-rate {m}: expected a rate at least the start rate ({})",
            c.start_rate
        )));
    }
    if c.hold < Duration::from_secs(1) || c.hold > sentry_load_config::MAX_HOLD {
        return Err(Failure::usage(anyhow!(
            "--hold {}: expected from 1s to 1h",
            humantime::format_duration(c.hold)
        )));
    }
    Ok(c)
}

/// Whether any gate of `g` can fail a step (the baseline gates need a baseline, which steps
/// have not).
fn judges_a_step(g: &GatesConfig) -> bool {
    let global = g.max_loss_ratio.is_some()
        || g.max_silent_loss_ratio.is_some()
        || g.max_rejected_ratio.is_some()
        || g.min_achieved_rate_ratio.is_some()
        || g.max_p50_visibility.is_some()
        || g.max_p95_visibility.is_some()
        || g.max_p99_visibility.is_some()
        || g.abort.is_some();
    global || g.kind.iter().next().is_some()
}

/// Step `n`'s run id: the search's id and the step's number.
fn step_id(id: &RunId, n: usize) -> Result<RunId, Failure> {
    let text = format!("{}-step{n:02}", id.as_str());
    RunId::parse(&text).ok_or_else(|| {
        Failure::usage(anyhow!(
            "the run id `{id}` is too long for its steps' ids (`{text}`): choose a shorter one"
        ))
    })
}

/// The search's report: the highest step that held (the last step, when none did), with the
/// capacity section, its id, and the `capacity.require` gate when one is set.
fn search_report(
    id: &RunId,
    steps: Vec<(CapacityStep, Report)>,
    end: CapacityEnd,
    config: &CapacityConfig,
) -> Result<(Report, CapacitySection), Failure> {
    let best = steps
        .iter()
        .enumerate()
        .filter(|(_, (s, _))| s.held)
        .max_by(|a, b| a.1.0.offered_rate.total_cmp(&b.1.0.offered_rate))
        .map(|(i, _)| i)
        .or_else(|| steps.len().checked_sub(1));
    let Some(best) = best else {
        return Err(Failure::internal(anyhow!(
            "the capacity search was stopped before its first step was reported"
        )));
    };
    let mut report = steps[best].1.clone();
    let section = CapacitySection::of(
        steps.into_iter().map(|(s, _)| s).collect(),
        end,
        config.hold.as_secs_f64(),
        config.resolution,
    );
    let shown = section.sustained().map(|s| s.run_id.clone());
    report.run.notes.insert(
        0,
        match shown {
            Some(step) => format!(
                "a capacity search: the figures below are those of step `{step}`, the highest \
                 rate that held; each step's own report is in steps/"
            ),
            None => "a capacity search where no step held: the figures below are those of the \
                     last step; each step's own report is in steps/"
                .to_owned(),
        },
    );
    report.run.id = id.as_str().to_owned();
    let held = section.sustainable_rate.is_some();
    report.passed = held;
    if let Some(min) = config.require {
        let measured = section.sustainable_rate.unwrap_or(0.0);
        let passed = measured >= min;
        report.gates.insert(
            0,
            GateResult {
                gate: "capacity.require".into(),
                threshold: format!("{}/s", shown_rate(min)),
                measured: format!("{}/s sustainable", shown_rate(measured)),
                passed,
            },
        );
        report.passed &= passed;
    }
    report.capacity = Some(section.clone());
    Ok((report, section))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_id_is_the_search_id_and_its_number() {
        let id = RunId::parse("cap-1").unwrap();
        assert_eq!(step_id(&id, 3).unwrap().as_str(), "cap-1-step03");
        let long = RunId::parse(&"x".repeat(64)).unwrap();
        assert!(step_id(&long, 1).is_err());
    }

    #[test]
    fn a_profile_without_gates_cannot_judge_a_step() {
        assert!(!judges_a_step(&GatesConfig::default()));
        let g = GatesConfig {
            max_p99_visibility: Some(Duration::from_secs(5)),
            ..GatesConfig::default()
        };
        assert!(judges_a_step(&g));
    }
}
