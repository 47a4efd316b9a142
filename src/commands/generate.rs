//! `sentry-load generate`: writes envelopes to files, exactly the bytes `run` would send
//! (uncompressed), so operators can inspect them and other tools can replay them — and the
//! artifacts beside them: each native crash's minidump (`<seq>-native.dmp`) and, when the mix
//! has JavaScript, `artifacts/` with the minified bundle, its sourcemap and the artifact
//! bundle zip that `upload-artifacts` sends.

use super::load_profile;
use crate::cli::GenerateArgs;
use crate::exit::{Exit, OK, OrInternal};
use anyhow::{Context, anyhow};
use sentry_load_common::{EventKind, RunId, clock};
use sentry_load_engine::generate::artifacts::{bundle_files, javascript_releases};
use sentry_load_engine::{Generator, Overrides, Plan};
use std::time::SystemTime;

pub fn generate(args: GenerateArgs) -> Result<u8, Exit> {
    let loaded = load_profile(&args.profile)?;
    let profile = &loaded.profile;
    let plan = Plan::from_traffic(
        profile.traffic.get_ref(),
        profile.seed,
        Overrides::default(),
    )
    .map_err(|e| Exit::usage(anyhow!(e)))?;
    if let Some(kind) = args.kind {
        let mix = profile.traffic.get_ref().mix.get_ref();
        let weight = match kind {
            EventKind::Error => mix.error,
            EventKind::Transaction => mix.transaction,
            EventKind::Native => mix.native,
            EventKind::Javascript => mix.javascript,
        };
        if weight.value() <= 0.0 {
            return Err(Exit::usage(anyhow!(
                "--kind {kind}: profile {} gives `{kind}` no weight in traffic.mix",
                loaded.source
            )));
        }
    }
    let run_id = match &args.run_id {
        Some(id) => RunId::parse(id)
            .ok_or_else(|| Exit::usage(anyhow!("--run-id `{id}` is not a valid run id")))?,
        None => RunId::parse(&format!("generate-{}", profile.seed))
            .ok_or_else(|| Exit::internal(anyhow!("run id")))?,
    };
    let start = match &args.start {
        Some(t) => humantime::parse_rfc3339_weak(t)
            .with_context(|| format!("--start `{t}`: expected an RFC 3339 time"))
            .map_err(Exit::usage)?,
        None => SystemTime::now(),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))
        .map_err(Exit::internal)?;
    let generator = Generator::for_traffic(run_id, profile.seed, profile.traffic.get_ref());
    let mut written = 0u64;
    for arrival in plan.arrivals() {
        if written == args.count {
            break;
        }
        if args.kind.is_some_and(|k| k != arrival.kind) {
            continue;
        }
        let at = start + arrival.offset;
        let built = generator.envelope(arrival.seq, arrival.kind, at);
        let path = args
            .out
            .join(format!("{}-{}.envelope", arrival.seq, arrival.kind));
        std::fs::write(&path, &built.body).internal("writing an envelope")?;
        if arrival.kind == EventKind::Native
            && let Some(dump) = minidump_of(&built.body)
        {
            let path = args.out.join(format!("{}-native.dmp", arrival.seq));
            std::fs::write(&path, dump).internal("writing a minidump")?;
        }
        written += 1;
    }
    if profile.traffic.get_ref().mix.get_ref().javascript.value() > 0.0 {
        let dir = args.out.join("artifacts");
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
        args.out.display(),
        clock::rfc3339_millis(clock::to_unix_micros(start))
    );
    Ok(OK)
}

/// The `event.minidump` attachment's bytes in an envelope, if it has one.
fn minidump_of(body: &[u8]) -> Option<&[u8]> {
    let line_end = |from: usize| {
        body[from..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| from + i)
    };
    let mut at = line_end(0)? + 1;
    while at < body.len() {
        let end = line_end(at)?;
        let header: serde_json::Value = serde_json::from_slice(&body[at..end]).ok()?;
        let len = header["length"].as_u64()? as usize;
        let payload = body.get(end + 1..end + 1 + len)?;
        if header["attachment_type"] == "event.minidump" {
            return Some(payload);
        }
        at = end + 2 + len;
    }
    None
}
