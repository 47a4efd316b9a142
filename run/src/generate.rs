//! `generate`: envelopes written to files, exactly the bytes `run` would send (uncompressed),
//! so operators can inspect them and other tools can replay them — and the artifacts beside
//! them: each native crash's minidump (`<seq>-native.dmp`) and, when the mix has JavaScript,
//! `artifacts/` with the minified bundle, its sourcemap and the artifact bundle zip that
//! `upload-artifacts` sends.

use crate::error::{Failure, OrInternal};
use crate::profile;
use anyhow::{Context, anyhow};
use sentry_load_common::{EventKind, RunId, clock, envelope};
use sentry_load_engine::generate::artifacts::{bundle_files, javascript_releases};
use sentry_load_engine::{Generator, Overrides, Plan};
use std::path::PathBuf;
use std::time::SystemTime;

/// What the command line asks of `generate`.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// A shipped profile's name, `profiles/<name>.toml`, or a path.
    pub profile: String,
    /// Only envelopes of this kind.
    pub kind: Option<EventKind>,
    /// How many envelopes.
    pub count: u64,
    /// The folder to write into.
    pub out: PathBuf,
    /// The run id in the events' tags (default `generate-<seed>`).
    pub run_id: Option<String>,
    /// Time zero of the schedule, RFC 3339 (default: now).
    pub start: Option<String>,
}

/// Writes the envelopes and artifacts; says how many on stderr.
pub fn generate(request: GenerateRequest) -> Result<(), Failure> {
    let loaded = profile::load(&request.profile)?;
    let profile = &loaded.profile;
    let plan = Plan::from_traffic(
        profile.traffic.get_ref(),
        profile.seed,
        Overrides::default(),
    )
    .map_err(Failure::usage)?;
    if let Some(kind) = request.kind {
        let mix = profile.traffic.get_ref().mix.get_ref();
        if !mix.sends(kind) {
            return Err(Failure::usage(anyhow!(
                "--kind {kind}: profile {} gives `{kind}` no weight in traffic.mix",
                loaded.source
            )));
        }
    }
    let run_id = match &request.run_id {
        Some(id) => RunId::parse(id)
            .ok_or_else(|| Failure::usage(anyhow!("--run-id `{id}` is not a valid run id")))?,
        None => RunId::parse(&format!("generate-{}", profile.seed))
            .ok_or_else(|| Failure::internal(anyhow!("run id")))?,
    };
    let start = match &request.start {
        Some(t) => humantime::parse_rfc3339_weak(t)
            .with_context(|| format!("--start `{t}`: expected an RFC 3339 time"))
            .map_err(Failure::usage)?,
        None => SystemTime::now(),
    };
    let out = &request.out;
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating {}", out.display()))
        .map_err(Failure::internal)?;
    let generator = Generator::for_traffic(run_id, profile.seed, profile.traffic.get_ref());
    let mut written = 0u64;
    for arrival in plan.arrivals() {
        if written == request.count {
            break;
        }
        if request.kind.is_some_and(|k| k != arrival.kind) {
            continue;
        }
        let at = start + arrival.offset;
        let built = generator.envelope(arrival.seq, arrival.kind, at);
        let path = out.join(format!("{}-{}.envelope", arrival.seq, arrival.kind));
        std::fs::write(&path, &built.body).internal("writing an envelope")?;
        if arrival.kind == EventKind::Native
            && let Some(dump) = envelope::minidump(&built.body)
        {
            let path = out.join(format!("{}-native.dmp", arrival.seq));
            std::fs::write(&path, dump).internal("writing a minidump")?;
        }
        written += 1;
    }
    if profile
        .traffic
        .get_ref()
        .mix
        .get_ref()
        .sends(EventKind::Javascript)
    {
        let dir = out.join("artifacts");
        std::fs::create_dir_all(&dir).internal("creating the artifacts folder")?;
        let (org, project) = profile
            .artifacts
            .as_ref()
            .map_or(("sentry", "internal"), |a| {
                (a.get_ref().org.as_str(), a.get_ref().project.as_str())
            });
        let releases = javascript_releases(
            generator
                .realism(EventKind::Javascript)
                .map_or(1, |r| r.releases),
        );
        for (name, bytes) in bundle_files(generator.bundle(), org, project, &releases[0]) {
            std::fs::write(dir.join(name), bytes).internal("writing an artifact")?;
        }
    }
    eprintln!(
        "wrote {written} envelopes to {} (event times from {})",
        out.display(),
        clock::rfc3339_millis(clock::to_unix_micros(start))
    );
    Ok(())
}
