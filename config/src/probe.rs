//! `[[probes]]`: the pipeline components sampled beside the load, every few seconds, onto the
//! report's time axis — ClickHouse, Postgres, Redis, Kafka consumer lag, the Docker Engine's
//! containers, Relay's health. Each is optional and fails soft: one that cannot reach its
//! target is reported as such and never fails the run.
//!
//! ```toml
//! [[probes]]
//! kind = "clickhouse"            # url, user, password, database default to [verify.clickhouse]
//! slow_query = "1s"              # system.query_log entries at least this slow are counted
//!
//! [[probes]]
//! kind = "postgres"              # url defaults to [verify.postgres]
//!
//! [[probes]]
//! kind = "redis"
//! url = "redis://127.0.0.1:6379"
//!
//! [[probes]]
//! kind = "docker"                # the Engine API on its Unix socket
//! socket = "/var/run/docker.sock"
//! project = "sentry-self-hosted" # only this compose project's containers (default: all)
//!
//! [[probes]]
//! kind = "relay"
//! url = "http://127.0.0.1:3000"
//!
//! [[probes]]
//! kind = "kafka"                 # the broker's own tool, its output read for LAG
//! command = "docker compose exec -T kafka kafka-consumer-groups --bootstrap-server kafka:9092 --describe --all-groups"
//!
//! # Every probe also takes:
//! #   name = "…"      how the report names it (default: its kind)
//! #   every = "5s"    how often it samples (1 s to 10 min)
//! #   timeout = "3s"  how long one sample may take (default: the smaller of `every` and 5 s)
//! ```

use crate::values::{Identifier, Secret, ServiceUrl};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The most `[[probes]]` a profile may have.
pub const MAX_PROBES: usize = 16;
/// The shortest and longest `every`.
pub const PROBE_EVERY: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(600));
/// The longest name.
const MAX_NAME: usize = 60;

/// One `[[probes]]` entry, checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "ProbeTable")]
pub struct Probe {
    /// How the report names it.
    pub name: String,
    /// What it samples, and where.
    pub target: ProbeTarget,
    /// How often it samples.
    pub every: Duration,
    /// How long one sample may take.
    pub timeout: Duration,
}

/// What a probe samples.
#[derive(Debug, Clone)]
pub enum ProbeTarget {
    /// Active parts per table, inserts and merges, slow queries.
    ClickHouse {
        /// The HTTP interface; `None`: `[verify.clickhouse]`'s.
        url: Option<ServiceUrl>,
        /// The user; `None`: `[verify.clickhouse]`'s, or `default`.
        user: Option<String>,
        /// The password; `None`: `[verify.clickhouse]`'s.
        password: Option<Secret>,
        /// The database whose tables' parts are counted; `None`: `[verify.clickhouse]`'s, or
        /// `default`.
        database: Option<Identifier>,
        /// Queries at least this slow are counted.
        slow_query: Duration,
    },
    /// Connections by state, waiting locks.
    Postgres {
        /// A connection URL; `None`: `[verify.postgres]`'s.
        url: Option<ServiceUrl>,
    },
    /// Used memory, evicted keys, connected clients.
    Redis {
        /// `redis://[:password@]host:port[/db]`.
        url: ServiceUrl,
    },
    /// CPU and memory per container.
    Docker {
        /// The Engine API's Unix socket.
        socket: PathBuf,
        /// Only the containers of this compose project (`com.docker.compose.project`).
        project: Option<String>,
    },
    /// Relay's liveness and readiness.
    Relay {
        /// Relay's HTTP address.
        url: ServiceUrl,
    },
    /// Consumer lag per group and topic, from the broker's `kafka-consumer-groups`.
    Kafka {
        /// The command (`sh -c`) that prints `kafka-consumer-groups --describe`'s table.
        command: String,
    },
}

impl ProbeTarget {
    /// Its `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeTarget::ClickHouse { .. } => "clickhouse",
            ProbeTarget::Postgres { .. } => "postgres",
            ProbeTarget::Redis { .. } => "redis",
            ProbeTarget::Docker { .. } => "docker",
            ProbeTarget::Relay { .. } => "relay",
            ProbeTarget::Kafka { .. } => "kafka",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeTable {
    kind: String,
    name: Option<String>,
    #[serde(default, with = "humantime_serde")]
    every: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    url: Option<ServiceUrl>,
    #[serde(default, deserialize_with = "optional_interpolated")]
    user: Option<String>,
    password: Option<Secret>,
    database: Option<Identifier>,
    #[serde(default, with = "humantime_serde")]
    slow_query: Option<Duration>,
    socket: Option<PathBuf>,
    project: Option<String>,
    command: Option<String>,
}

fn optional_interpolated<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    crate::values::interpolated(d).map(Some)
}

/// The keys each kind takes besides `kind`, `name`, `every` and `timeout`.
const KEYS: [(&str, &[&str]); 6] = [
    (
        "clickhouse",
        &["url", "user", "password", "database", "slow_query"],
    ),
    ("postgres", &["url"]),
    ("redis", &["url"]),
    ("docker", &["socket", "project"]),
    ("relay", &["url"]),
    ("kafka", &["command"]),
];

impl TryFrom<ProbeTable> for Probe {
    type Error = String;

    fn try_from(t: ProbeTable) -> Result<Probe, String> {
        let Some((kind, allowed)) = KEYS.iter().find(|(k, _)| *k == t.kind) else {
            let kinds: Vec<&str> = KEYS.iter().map(|k| k.0).collect();
            return Err(format!(
                "`kind` = {:?}: expected one of {}",
                t.kind,
                kinds.join(", ")
            ));
        };
        let given = [
            ("url", t.url.is_some()),
            ("user", t.user.is_some()),
            ("password", t.password.is_some()),
            ("database", t.database.is_some()),
            ("slow_query", t.slow_query.is_some()),
            ("socket", t.socket.is_some()),
            ("project", t.project.is_some()),
            ("command", t.command.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(k, set)| *set && !allowed.contains(k)) {
            return Err(format!(
                "`{key}` is not a key of a {kind} probe (it takes {})",
                allowed.join(", ")
            ));
        }
        let name = t
            .name
            .unwrap_or_else(|| (*kind).to_owned())
            .trim()
            .to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(format!(
                "`name` = {name:?}: expected 1 to {MAX_NAME} printable characters"
            ));
        }
        let every = t.every.unwrap_or(Duration::from_secs(5));
        if every < PROBE_EVERY.0 || every > PROBE_EVERY.1 {
            return Err(format!(
                "`every` of probe {name:?} = {}: expected from {} to {}",
                shown(every),
                shown(PROBE_EVERY.0),
                shown(PROBE_EVERY.1)
            ));
        }
        let timeout = t.timeout.unwrap_or(every.min(Duration::from_secs(5)));
        if timeout < Duration::from_millis(100) || timeout > every {
            return Err(format!(
                "`timeout` of probe {name:?} = {}: expected from 100ms to its `every`, {}",
                shown(timeout),
                shown(every)
            ));
        }
        let need_url = |url: Option<ServiceUrl>, schemes: &[&str]| match url {
            None => Err(format!("a {kind} probe needs `url`")),
            Some(u) if !schemes.contains(&u.expose().scheme()) => Err(format!(
                "`url` of probe {name:?} = {u}: expected a {} URL",
                schemes.join(" or ")
            )),
            Some(u) => Ok(u),
        };
        let target = match *kind {
            "clickhouse" => {
                let slow_query = t.slow_query.unwrap_or(Duration::from_secs(1));
                if slow_query < Duration::from_millis(1) || slow_query > Duration::from_secs(3600) {
                    return Err(format!(
                        "`slow_query` of probe {name:?} = {}: expected from 1ms to 1h",
                        shown(slow_query)
                    ));
                }
                let url = t
                    .url
                    .map(|u| need_url(Some(u), &["http", "https"]))
                    .transpose()?;
                ProbeTarget::ClickHouse {
                    url,
                    user: t.user,
                    password: t.password,
                    database: t.database,
                    slow_query,
                }
            }
            "postgres" => ProbeTarget::Postgres {
                url: t
                    .url
                    .map(|u| need_url(Some(u), &["postgres", "postgresql"]))
                    .transpose()?,
            },
            "redis" => ProbeTarget::Redis {
                url: need_url(t.url, &["redis"])?,
            },
            "relay" => ProbeTarget::Relay {
                url: need_url(t.url, &["http", "https"])?,
            },
            "docker" => {
                let socket = t
                    .socket
                    .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"));
                if !socket.is_absolute() {
                    return Err(format!(
                        "`socket` of probe {name:?} = {}: expected an absolute path",
                        socket.display()
                    ));
                }
                ProbeTarget::Docker {
                    socket,
                    project: t.project.filter(|p| !p.trim().is_empty()),
                }
            }
            _ => match t.command {
                Some(c) if !c.trim().is_empty() => ProbeTarget::Kafka { command: c },
                _ => return Err(format!("a {kind} probe needs a non-empty `command`")),
            },
        };
        Ok(Probe {
            name,
            target,
            every,
            timeout,
        })
    }
}

use crate::values::shown_duration as shown;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Probe, String> {
        toml::from_str::<Probe>(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn each_kind_is_read_with_its_defaults() {
        let p = parse("kind = \"clickhouse\"").unwrap();
        assert_eq!(
            (p.name.as_str(), p.every),
            ("clickhouse", Duration::from_secs(5))
        );
        assert_eq!(p.timeout, Duration::from_secs(5));
        let ProbeTarget::ClickHouse {
            url, slow_query, ..
        } = p.target
        else {
            panic!()
        };
        assert!(url.is_none());
        assert_eq!(slow_query, Duration::from_secs(1));
        let p = parse("kind = \"docker\"\nevery = \"2s\"").unwrap();
        assert_eq!(p.timeout, Duration::from_secs(2));
        assert!(
            matches!(p.target, ProbeTarget::Docker { ref socket, project: None }
            if socket == std::path::Path::new("/var/run/docker.sock"))
        );
        let p = parse("kind = \"redis\"\nname = \"cache\"\nurl = \"redis://:pw@127.0.0.1:6379\"")
            .unwrap();
        assert_eq!(p.name, "cache");
        let ProbeTarget::Redis { url } = &p.target else {
            panic!()
        };
        assert!(!format!("{url} {p:?}").contains("pw"), "{url}");
    }

    #[test]
    fn absurd_probes_are_refused_with_their_key() {
        for (text, key) in [
            ("kind = \"kafak\"", "kind"),
            ("kind = \"redis\"", "url"),
            ("kind = \"redis\"\nurl = \"http://x\"", "url"),
            (
                "kind = \"relay\"\nurl = \"http://x\"\ncommand = \"ls\"",
                "command",
            ),
            ("kind = \"kafka\"\ncommand = \" \"", "command"),
            ("kind = \"docker\"\nsocket = \"docker.sock\"", "socket"),
            ("kind = \"postgres\"\nevery = \"100ms\"", "every"),
            (
                "kind = \"postgres\"\nevery = \"2s\"\ntimeout = \"3s\"",
                "timeout",
            ),
            ("kind = \"clickhouse\"\nslow_query = \"2h\"", "slow_query"),
            ("kind = \"postgres\"\nname = \"\"", "name"),
            ("kind = \"postgres\"\nport = 5", "port"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
