//! The embedded target: the sim started in this process on loopback, for a run without
//! external services (`target.kind = "embedded"`).

use crate::error::Failure;
use anyhow::anyhow;
use sentry_load_config::{Dsn, Secret, SentryApiConfig, SimPreset};
use sentry_load_sim::preset::Preset;
use std::time::Duration;

/// An embedded sim, with a DSN for it and its read API.
pub struct Embedded {
    /// The running sim.
    pub sim: sentry_load_sim::SimHandle,
    /// A DSN of its one project.
    pub dsn: Dsn,
    /// Its read API (and artifact upload API).
    pub api: SentryApiConfig,
}

/// Starts the embedded sim on loopback, modelling `preset`'s topology.
pub async fn start(preset: SimPreset) -> Result<Embedded, Failure> {
    let key = uuid::Uuid::new_v4().simple().to_string();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut config =
        sentry_load_sim::SimConfig::in_memory(1, &key, &token).with_preset(sim_preset(preset));
    // Embedded runs are short: flush faster than Snuba's 750 ms so latency reflects the
    // harness, not the sim's batching.
    config.batch_interval = Duration::from_millis(50);
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .map_err(Failure::internal)?;
    let addr = sim.addr();
    let dsn: Dsn = format!("http://{key}@{addr}/1")
        .parse()
        .map_err(|e: String| Failure::internal(anyhow!(e)))?;
    let api = SentryApiConfig {
        url: format!("http://{addr}/")
            .parse()
            .map_err(|e: String| Failure::internal(anyhow!(e)))?,
        org: "sentry".into(),
        token: Secret::new(token),
        // The embedded sim enforces no API limits (as self-hosted does not).
        event_details_per_second: 0,
        discover_per_second: Some(0),
        lookup: None,
    };
    Ok(Embedded { sim, dsn, api })
}

/// The sim's preset of a profile's `target.preset`.
fn sim_preset(p: SimPreset) -> Preset {
    match p {
        SimPreset::Embedded => Preset::Embedded,
        SimPreset::SingleNode => Preset::SingleNode,
        SimPreset::Split => Preset::Split,
        SimPreset::Scaled => Preset::Scaled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profiles_preset_names_the_sims_preset_of_that_name() {
        for p in [
            SimPreset::Embedded,
            SimPreset::SingleNode,
            SimPreset::Split,
            SimPreset::Scaled,
        ] {
            assert_eq!(Preset::named(p.name()), Some(sim_preset(p)), "{}", p.name());
        }
        assert_eq!(Preset::ALL.len(), 4);
    }
}
