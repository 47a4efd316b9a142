//! Topology presets: how much processing capacity the sim models, after the deployment
//! layouts people run (DESIGN §3). A preset sets the worker count (Sentry's taskworkers: events
//! processed at once), each kind's service time (ingest consumer + save task + symbolication,
//! scaled down so a run on one machine reaches saturation in seconds), and the queue (Kafka's
//! buffer). Each ingest topic (`ingest-events`, `ingest-transactions`, `ingest-attachments`)
//! gets the preset's workers and queue, as each has its own consumers: capacity is
//! `workers / service time` per topic — single-node takes 1,000 errors/s, scaled 6,000.
//!
//! | preset | workers | error | transaction | javascript | native | queue |
//! |---|---|---|---|---|---|---|
//! | `embedded` | unlimited | 0 | 0 | 0 | 0 | 100,000 |
//! | `single-node` | 4 | 4 ms | 2 ms | 8 ms | 40 ms | 10,000 |
//! | `split` | 8 | 4 ms | 2 ms | 8 ms | 40 ms | 20,000 |
//! | `scaled` | 24 | 4 ms | 2 ms | 8 ms | 40 ms | 50,000 |
//!
//! Service times are waits, not CPU work: the modeled capacity is the same on any machine, so
//! the difference between presets is the topology's, not the test host's.

use std::time::Duration;

/// Per-kind processing time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceTimes {
    /// Server-side errors.
    pub error: Duration,
    /// Transactions.
    pub transaction: Duration,
    /// Browser JavaScript errors (sourcemap lookups).
    pub javascript: Duration,
    /// Native crashes (stackwalking and symbolication).
    pub native: Duration,
}

/// A named topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// No modeled processing: as fast as the store takes rows.
    Embedded,
    /// The stock self-hosted compose on one machine.
    SingleNode,
    /// A stateful center and stateless web nodes: twice the workers.
    Split,
    /// Scaled task pools: more taskworkers and brokers.
    Scaled,
}

impl Preset {
    /// Every preset, by name.
    pub const ALL: [(&'static str, Preset); 4] = [
        ("embedded", Preset::Embedded),
        ("single-node", Preset::SingleNode),
        ("split", Preset::Split),
        ("scaled", Preset::Scaled),
    ];

    /// The preset called `name`.
    pub fn named(name: &str) -> Option<Preset> {
        Preset::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }

    /// Workers (`None`: unlimited), service times and queue capacity.
    pub fn capacity(self) -> (Option<usize>, ServiceTimes, usize) {
        let ms = Duration::from_millis;
        let sentry = ServiceTimes {
            error: ms(4),
            transaction: ms(2),
            javascript: ms(8),
            native: ms(40),
        };
        match self {
            Preset::Embedded => (None, ServiceTimes::default(), 100_000),
            Preset::SingleNode => (Some(4), sentry, 10_000),
            Preset::Split => (Some(8), sentry, 20_000),
            Preset::Scaled => (Some(24), sentry, 50_000),
        }
    }
}
