//! The run folder: the one place that names its files and opens a run. `run` creates it
//! before the first send; `verify`, `gate` and `compare` open it afterwards.
//!
//! ```text
//! <out>/<run id>/                  a run (or <out>/<run id>/shard-<i>-of-<n>/ for a shard)
//!   profile.toml                   the profile's text (`${VAR}` unresolved, literal secrets redacted)
//!   run.json                       the effective schedule (RunFile)
//!   journal.bin                    every send (common::journal)
//!   report.json, .md, .html        the report
//!   report.verify.json, …          a later `verify` beside a live report
//!   mirror/                        the `[mirror]` leg, laid out the same way
//! ```

use crate::error::{Failure, OrInternal};
use anyhow::Context;
use sentry_load_common::RunId;
use sentry_load_config::Profile;
use sentry_load_engine::Shard;
use sentry_load_reports::Report;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The profile's text, copied into the run folder.
const PROFILE: &str = "profile.toml";
/// The run's effective schedule, after command-line overrides.
const RUN: &str = "run.json";
/// The journal of every send.
const JOURNAL: &str = "journal.bin";
/// The report of the run's own read-back.
const REPORT: &str = "report.json";
/// The report of a later `verify`, beside the live one.
const REPORT_AGAIN: &str = "report.verify.json";
/// The mirror leg's folder, inside the main leg's.
const MIRROR: &str = "mirror";
/// A capacity search's step folders, inside its folder.
const STEPS: &str = "steps";
const PROBE_SAMPLES: &str = "probes.jsonl";

/// What `verify` needs to know about a run that the journal does not say.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunFile {
    /// Sends planned.
    pub planned: u64,
    /// Envelopes per second planned.
    pub target_rate: f64,
    /// Planned duration, seconds.
    pub duration_secs: f64,
    /// Whether the target was the embedded sim.
    pub embedded: bool,
    /// `i/n` when this run folder holds one shard of a run.
    #[serde(default)]
    pub shard: Option<String>,
    /// `mirror` when this folder holds a run's mirror leg (read back per `[mirror.verify]`).
    #[serde(default)]
    pub leg: Option<String>,
    /// What preflight changed about the run (transactions taken out of the mix of an
    /// errors-only install), for the report.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Why and after how many sends the run was stopped early, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// The schedule's stretches, for the report's over-time charts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<sentry_load_reports::StageMark>,
    /// The abort gate (`[gates.abort]`) that stopped the run, as the report shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<sentry_load_reports::GateResult>,
    /// The `[[disruption]]` commands that ran, and when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disruptions: Vec<sentry_load_reports::DisruptionMark>,
    /// What the `[[probes]]` sampled beside the load (of the main leg).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<sentry_load_reports::ProbeTrack>,
}

/// One leg's folder of one run (or of one shard of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFolder {
    dir: PathBuf,
}

impl RunFolder {
    /// Where `run` puts a run: `<out>/<run id>/`, or `…/shard-<i>-of-<n>/` for a shard.
    pub fn for_run(out: &Path, run_id: &RunId, shard: Shard) -> RunFolder {
        let mut dir = out.join(run_id.as_str());
        if shard != Shard::WHOLE {
            dir = dir.join(format!("shard-{}-of-{}", shard.index, shard.count));
        }
        RunFolder { dir }
    }

    /// An existing run folder (a leg's, a shard's).
    pub fn at(dir: impl Into<PathBuf>) -> RunFolder {
        RunFolder { dir: dir.into() }
    }

    /// The mirror leg's folder inside this one.
    pub fn mirror(&self) -> RunFolder {
        RunFolder {
            dir: self.dir.join(MIRROR),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The journal.
    pub fn journal(&self) -> PathBuf {
        self.dir.join(JOURNAL)
    }

    /// Every probe sample, one JSON line each, as they were taken (`[[probes]]`).
    pub fn probe_samples(&self) -> PathBuf {
        self.dir.join(PROBE_SAMPLES)
    }

    /// The report of the run's own read-back.
    pub fn report(&self) -> PathBuf {
        self.dir.join(REPORT)
    }

    /// The copied profile.
    pub fn profile_path(&self) -> PathBuf {
        self.dir.join(PROFILE)
    }

    /// Whether a run was already written here (its profile, run file or journal).
    pub fn holds_a_run(&self) -> bool {
        [PROFILE, RUN, JOURNAL]
            .iter()
            .any(|f| self.dir.join(f).exists())
    }

    /// A capacity search's steps' run folders: `<folder>/steps/`.
    pub fn steps(&self) -> PathBuf {
        self.dir.join(STEPS)
    }

    /// Creates a capacity search's folder with the profile's text (its steps' folders hold
    /// their own run files).
    pub fn create_capacity(&self, profile_text: &str) -> Result<(), Failure> {
        std::fs::create_dir_all(self.steps())
            .with_context(|| format!("creating {}", self.steps().display()))
            .map_err(Failure::internal)?;
        std::fs::write(self.dir.join(PROFILE), profile_text).internal("writing profile.toml")
    }

    /// Creates the folder with the profile's text and the run file.
    pub fn create(&self, profile_text: &str, run: &RunFile) -> Result<(), Failure> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))
            .map_err(Failure::internal)?;
        std::fs::write(self.dir.join(PROFILE), profile_text).internal("writing profile.toml")?;
        self.write_run_file(run)
    }

    /// Rewrites the run file (when the run learns something after it started: an interrupt).
    pub fn write_run_file(&self, run: &RunFile) -> Result<(), Failure> {
        let json = serde_json::to_vec_pretty(run).internal("run.json")?;
        std::fs::write(self.dir.join(RUN), json).internal("writing run.json")
    }

    /// Reads the run file; the error names it.
    pub fn read_run_file(&self) -> Result<RunFile, Failure> {
        let path = self.dir.join(RUN);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(Failure::usage)?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(Failure::usage)
    }

    /// Parses the copied profile; `hint` says what to do when it is missing.
    pub fn read_profile(&self, hint: &str) -> Result<Profile, Failure> {
        read_profile_at(&self.profile_path(), hint)
    }
}

/// Parses the `profile.toml` of a run folder.
fn read_profile_at(path: &Path, hint: &str) -> Result<Profile, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {}{hint}", path.display()))
        .map_err(Failure::usage)?;
    sentry_load_config::parse_profile(&path.display().to_string(), &text).map_err(Failure::usage)
}

/// The `profile.toml` beside a report file.
pub fn profile_beside(report: &Path, hint: &str) -> Result<Profile, Failure> {
    read_profile_at(&report.with_file_name(PROFILE), hint)
}

/// Reads a run's `report.json`, given the run folder or the file; the error names the file.
pub fn read_report(path: &Path) -> Result<(Report, PathBuf), Failure> {
    let file = if path.is_dir() {
        path.join(REPORT)
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file)
        .with_context(|| format!("reading {}", file.display()))
        .map_err(Failure::usage)?;
    let report = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a sentry-load report", file.display()))
        .map_err(Failure::usage)?;
    Ok((report, file))
}

/// Writes `report` to `path`, with its Markdown (`.md`) and HTML (`.html`) renderings beside.
pub fn write_report(path: &Path, report: &Report) -> Result<(), Failure> {
    let json = serde_json::to_vec_pretty(report).internal("serializing the report")?;
    std::fs::write(path, json).internal("writing the report")?;
    std::fs::write(
        path.with_extension("md"),
        sentry_load_reports::render_markdown(report),
    )
    .internal("writing the Markdown report")?;
    std::fs::write(
        path.with_extension("html"),
        sentry_load_reports::render_html(report),
    )
    .internal("writing the HTML report")
}

/// Where `verify` writes by default. One folder: its `report.json`, or `report.verify.json`
/// beside a live report. Several (shards): the same names in the first folder's parent, the
/// run's own folder.
pub fn default_report_path(folders: &[RunFolder]) -> PathBuf {
    let first = folders[0].dir();
    let home = if folders.len() == 1 {
        first.to_path_buf()
    } else {
        first
            .parent()
            .map_or_else(|| first.to_path_buf(), Path::to_path_buf)
    };
    if home.join(REPORT).exists() {
        home.join(REPORT_AGAIN)
    } else {
        home.join(REPORT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_lives_inside_its_run_and_a_mirror_inside_its_leg() {
        let id = RunId::parse("r1").unwrap();
        let whole = RunFolder::for_run(Path::new("runs"), &id, Shard::WHOLE);
        assert_eq!(whole.dir(), Path::new("runs/r1"));
        assert_eq!(
            whole.mirror().journal(),
            Path::new("runs/r1/mirror/journal.bin")
        );
        let shard = Shard { index: 1, count: 3 };
        let one = RunFolder::for_run(Path::new("runs"), &id, shard);
        assert_eq!(one.report(), Path::new("runs/r1/shard-1-of-3/report.json"));
    }

    #[test]
    fn verify_writes_beside_a_live_report_and_shards_into_their_run() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunFolder::at(tmp.path().join("r"));
        run.create("seed = 1\n", &RunFile::default()).unwrap();
        assert_eq!(
            default_report_path(std::slice::from_ref(&run)),
            run.report()
        );
        std::fs::write(run.report(), "{}").unwrap();
        assert_eq!(
            default_report_path(std::slice::from_ref(&run)),
            run.dir().join("report.verify.json")
        );
        let shards = [
            RunFolder::at(run.dir().join("shard-0-of-2")),
            RunFolder::at(run.dir().join("shard-1-of-2")),
        ];
        assert_eq!(
            default_report_path(&shards),
            run.dir().join("report.verify.json")
        );
    }

    #[test]
    fn a_run_file_reads_back_what_was_written() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunFolder::at(tmp.path());
        let file = RunFile {
            planned: 7,
            shard: Some("0/2".into()),
            notes: vec!["n".into()],
            ..RunFile::default()
        };
        run.create("", &file).unwrap();
        let back = run.read_run_file().unwrap();
        assert_eq!(
            (back.planned, back.shard, back.notes),
            (7, Some("0/2".into()), vec!["n".to_owned()])
        );
        let missing = RunFolder::at(tmp.path().join("nope"))
            .read_run_file()
            .unwrap_err();
        assert!(
            missing.message().contains("nope/run.json"),
            "{}",
            missing.message()
        );
    }
}
