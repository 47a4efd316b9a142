//! The command line.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Load-testing and ingest-fidelity harness for self-hosted Sentry.
#[derive(Debug, Parser)]
#[command(name = "sentry-load", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a profile's traffic, verify it, write a report, and check the gates.
    Run(RunArgs),
    /// Find the highest rate of the profile's mix the target sustains: a run per step at
    /// rising rates, each judged by the profile's gates, bisected to the knee.
    Capacity(CapacityArgs),
    /// Verify a run again from its journal (e.g. after a crash) and write its report.
    Verify(VerifyArgs),
    /// Check a finished run's report against gates (its profile's, or another profile's).
    Gate(GateArgs),
    /// Put runs side by side: a table of deltas, and an HTML page with overlaid charts.
    Compare(CompareArgs),
    /// Discover the projects' DSNs from Postgres (`sentry_projectkey`), per `[verify.postgres]`.
    Dsn(DsnArgs),
    /// List, show or check profiles.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Write envelopes to files: the bytes `run` would send, uncompressed.
    Generate(GenerateArgs),
    /// Run the reference ingest pipeline (the sim) standalone.
    Sim(SimArgs),
    /// Upload the JavaScript artifact bundle (minified bundle + sourcemap) per `[artifacts]`.
    UploadArtifacts(UploadArgs),
    /// Check, without sending anything, what `run` checks first: the target answers, the DSN's
    /// key is active, the read-back tables exist, the artifacts project and upload URL, and
    /// whether the install stores transactions.
    Preflight(UploadArgs),
}

/// `upload-artifacts`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// A shipped profile's name, `profiles/<name>.toml`, or a path.
    #[arg(long, short)]
    pub profile: String,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A shipped profile's name (`local`, `smoke`), `profiles/<name>.toml`, or a path.
    #[arg(long, short)]
    pub profile: String,
    /// Override the profile's traffic duration (e.g. `30s`, `5m`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Override the profile's rate, envelopes per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Send only this shard's events (`i/n`), for n machines generating one run together;
    /// needs `--run-id`, the same on every shard.
    #[arg(long, requires = "run_id", value_parser = sentry_load_engine::Shard::parse)]
    pub shard: Option<sentry_load_engine::Shard>,
    /// The run's id (default: a new one). Shards of one run share it.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Folder that receives the run folder `<run id>/` (`<run id>/shard-<i>-of-<n>/` for a
    /// shard).
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// How progress is shown: a bar, one JSON line a second on stderr (for CI logs), or none.
    #[arg(long, value_enum, default_value_t = ProgressArg::Bar)]
    pub progress: ProgressArg,
    /// Send and journal only: no read-back (for measuring send throughput). Every accepted
    /// event is then reported as unverified, so loss and latency gates fail.
    #[arg(long)]
    pub no_verify: bool,
    /// Same as `--progress none`.
    #[arg(long, short)]
    pub quiet: bool,
    /// A previous run (folder or report.json) for the profile's `[gates.baseline]` gates.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Serve live metrics for Prometheus at `http://ADDR/metrics` while the run goes (e.g.
    /// `127.0.0.1:9464`).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

/// `capacity`.
#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// A shipped profile's name, `profiles/<name>.toml`, or a path; its `[capacity]` table
    /// sets the search, its `[gates]` judge each step.
    #[arg(long, short)]
    pub profile: String,
    /// The first step's rate, envelopes per second (over `[capacity] start_rate`).
    #[arg(long)]
    pub start_rate: Option<f64>,
    /// How long each step sends, e.g. `30s` (over `[capacity] hold`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub hold: Option<Duration>,
    /// The highest rate offered (over `[capacity] max_rate`).
    #[arg(long)]
    pub max_rate: Option<f64>,
    /// The search's id (default: a new one); step n's run id is `<id>-step<n>`.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Folder that receives `<id>/` (its report, and `steps/<step id>/` run folders).
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// How each step's progress is shown.
    #[arg(long, value_enum, default_value_t = ProgressArg::Bar)]
    pub progress: ProgressArg,
    /// Same as `--progress none`, and preflight prints only failures.
    #[arg(long, short)]
    pub quiet: bool,
    /// Serve each step's live metrics for Prometheus at `http://ADDR/metrics`.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressArg {
    /// A progress bar on stderr.
    Bar,
    /// One JSON object a second on stderr.
    Json,
    /// No progress output.
    None,
}

impl ProgressArg {
    /// The engine's progress mode.
    pub fn mode(self) -> sentry_load_engine::ProgressMode {
        match self {
            ProgressArg::Bar => sentry_load_engine::ProgressMode::Bar,
            ProgressArg::Json => sentry_load_engine::ProgressMode::Json,
            ProgressArg::None => sentry_load_engine::ProgressMode::Quiet,
        }
    }
}

/// `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A shipped profile's name, `profiles/<name>.toml`, or a path.
    #[arg(long, short)]
    pub profile: String,
    /// Only envelopes of this kind.
    #[arg(long, value_parser = parse_kind)]
    pub kind: Option<sentry_load_common::EventKind>,
    /// How many envelopes.
    #[arg(long, default_value_t = 10)]
    pub count: u64,
    /// Folder to write `<seq>-<kind>.envelope` files into.
    #[arg(long)]
    pub out: PathBuf,
    /// Run id written into the events' `sentry_load.run` tag (default `generate-<seed>`).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Time zero of the schedule, RFC 3339 (default: now); with it, output is reproducible.
    #[arg(long)]
    pub start: Option<String>,
}

fn parse_kind(s: &str) -> Result<sentry_load_common::EventKind, String> {
    sentry_load_common::EventKind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            format!("unknown kind `{s}`: expected error, transaction, native or javascript")
        })
}

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The run folder (holding `journal.bin`, `profile.toml`, `run.json`), or the folders of
    /// every shard of one run.
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,
    /// Where to write the report (default: `report.json` in the run folder, or
    /// `report.verify.json` beside an existing one; for shards, in their parent folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A previous run (folder or report.json) for the profile's `[gates.baseline]` gates.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
}

/// `gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The run folder (or its report.json).
    pub run: PathBuf,
    /// Check these gates instead of those of the run's own profile.toml (name or path).
    #[arg(long, short)]
    pub profile: Option<String>,
    /// A previous run (folder or report.json) for the `[gates.baseline]` gates.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
}

/// `dsn`.
#[derive(Debug, Args)]
pub struct DsnArgs {
    /// The profile whose `[verify.postgres]` names the Sentry database.
    #[arg(long, short)]
    pub profile: String,
    /// Relay's address as the SDKs reach it (`host:port`), the DSN's host part.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub host: String,
    /// `http` or `https`.
    #[arg(long, default_value = "http")]
    pub scheme: String,
    /// Only this project's keys.
    #[arg(long)]
    pub project: Option<u64>,
}

/// `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more run folders (or report.json files); the first is the reference.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// Folder to write `compare.md` and `compare.html` into.
    #[arg(long, default_value = "runs/compare")]
    pub out: PathBuf,
}

/// `profiles …`.
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// The shipped profiles and those in ./profiles/.
    List,
    /// Print a profile's text.
    Show {
        /// Name or path.
        profile: String,
    },
    /// Check a profile; errors name file, line, column and key.
    Check {
        /// Name or path.
        profile: String,
    },
}

/// `sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Project id the sim accepts.
    #[arg(long, default_value_t = 1)]
    pub project: u64,
    /// The project's public key (the DSN's user part).
    #[arg(long, default_value = "0123456789abcdef0123456789abcdef")]
    pub key: String,
    /// Store in ClickHouse at this HTTP address (with --postgres); in memory otherwise.
    #[arg(long, requires = "postgres")]
    pub clickhouse: Option<String>,
    /// The ClickHouse database to create and write.
    #[arg(long, default_value = "default")]
    pub clickhouse_database: String,
    /// Store issues in Postgres at this URL (with --clickhouse).
    #[arg(long, requires = "clickhouse")]
    pub postgres: Option<String>,
    /// Lose every n-th accepted event silently.
    #[arg(long)]
    pub drop_every: Option<u64>,
    /// Lose the accepted events with these `sentry_load.seq` values (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub drop_seq: Vec<u64>,
    /// Topology preset: `embedded` (no modeled processing), `single-node`, `split` or
    /// `scaled` (workers, per-kind service times, queue size).
    #[arg(long, default_value = "embedded", value_parser = parse_preset)]
    pub preset: sentry_load_sim::preset::Preset,
    /// A fault script (TOML): quotas, drops, 429 storms, 503s, delays, duplicates, stalls,
    /// restarts, slow inserts, clock skew — each over a time window. The windows count from
    /// the first ingest request (`--faults-from`), so the sim may wait for a run; the loaded
    /// schedule is printed at start.
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Time zero of the fault windows: the first ingest request (a run's first send), or the
    /// sim's start.
    #[arg(long, value_enum, default_value = "first-request")]
    pub faults_from: FaultsFrom,
    /// Write every decision (event id, what happened, when) to this file as JSON lines.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Longest a row waits before the batch is written.
    #[arg(long, default_value = "750ms", value_parser = humantime::parse_duration)]
    pub batch_interval: Duration,
    /// How long Relay takes to fetch a key's project config: a key's first envelopes are
    /// answered 200 at once and wait this long (an unknown key's are then dropped as
    /// `invalid:project_id`, and later ones answered 403).
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub config_fetch: Duration,
    /// `sentry:store_crash_reports` of the project (-1 every minidump, 0 none, n per issue);
    /// unset, as by default in Sentry, none is kept.
    #[arg(long, allow_hyphen_values = true)]
    pub store_crash_reports: Option<i64>,
    /// Answer as Sentry 9.1: `/store/` and `/minidump/` only, release files, `eventids`.
    #[arg(long)]
    pub sentry9: bool,
    /// Run errors-only (self-hosted's `COMPOSE_PROFILES=errors-only`): transactions are
    /// accepted and never stored.
    #[arg(long)]
    pub errors_only: bool,
    /// Enforce sentry.io's API rate limits (event details 5/s, Discover 50/s); self-hosted
    /// enforces none.
    #[arg(long)]
    pub api_rate_limits: bool,
    /// Stand as the upstream of a real Relay in this mode (`proxy` or `managed`, its
    /// `relay.mode`): answer its health checks (and, managed, its registration and config
    /// fetches) and record every envelope that arrives, so a run can count those Relay
    /// answered 200 that never reached it. docs/relay-upstream.md has Relay's configs.
    #[arg(long, value_enum, conflicts_with = "sentry9")]
    pub relay_upstream: Option<RelayUpstreamArg>,
}

/// `sim --relay-upstream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RelayUpstreamArg {
    /// Relay in `proxy` mode: it forwards everything and fetches no configs.
    Proxy,
    /// Relay in `managed` mode: it registers and fetches global and project configs.
    Managed,
}

fn parse_preset(s: &str) -> Result<sentry_load_sim::preset::Preset, String> {
    sentry_load_sim::preset::Preset::named(s).ok_or_else(|| {
        format!("unknown preset `{s}`: expected embedded, single-node, split or scaled")
    })
}

/// Time zero of `sim --faults` windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultsFrom {
    /// The first ingest request.
    FirstRequest,
    /// The sim's start.
    Start,
}
