//! The Docker probe: CPU and memory of each running container, from the Engine API on its
//! Unix socket (`GET /containers/json`, then `GET /containers/{id}/stats?stream=false&one-shot=true`
//! per container, API 1.41 and later; an older Engine ignores `one-shot` and answers after its
//! own two-sample wait, within the probe's timeout). Containers are named by their compose
//! service (`com.docker.compose.service`, with `-N` for a scaled service's replica N), or else
//! by their name.
//!
//! CPU is the container's `cpu_stats.cpu_usage.total_usage` (ns) between two samples over the
//! wall time between them, in % of one core (a worker busy on 6.5 cores reads 650 %); memory is
//! `memory_stats.usage` less the inactive page cache (`stats.inactive_file` on cgroup v2,
//! `stats.total_inactive_file` on v1), as `docker stats` shows it (docker/cli,
//! cli/command/container/stats_helpers.go, `calculateMemUsageUnixNoCache`, at commit
//! 606f1c65d09eb77821ca9ca7ffb42bd5302328da).

use crate::sampler::{Reading, Sampled};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tokio::time::Instant;

/// Containers sampled at most.
const MAX_CONTAINERS: usize = 40;
/// The container list's size at most.
const MAX_LIST: usize = 4 << 20;
/// One container's stats' size at most.
const MAX_STATS: usize = 256 << 10;

/// A Docker probe.
pub struct DockerProbe {
    socket: PathBuf,
    project: Option<String>,
    /// Per container id: when, and its total CPU ns then.
    last_cpu: HashMap<String, (Instant, u64)>,
}

#[derive(Deserialize)]
struct Container {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Names", default)]
    names: Vec<String>,
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
struct Stats {
    #[serde(default)]
    cpu_stats: CpuStats,
    #[serde(default)]
    memory_stats: MemoryStats,
}

#[derive(Deserialize, Default)]
struct CpuStats {
    #[serde(default)]
    cpu_usage: CpuUsage,
}

#[derive(Deserialize, Default)]
struct CpuUsage {
    #[serde(default)]
    total_usage: u64,
}

#[derive(Deserialize, Default)]
struct MemoryStats {
    #[serde(default)]
    usage: u64,
    #[serde(default)]
    stats: HashMap<String, u64>,
}

impl DockerProbe {
    /// The probe of the Engine at `socket`, of `project`'s containers or all.
    pub fn new(socket: &Path, project: Option<&str>) -> DockerProbe {
        DockerProbe {
            socket: socket.to_owned(),
            project: project.map(str::to_owned),
            last_cpu: HashMap::new(),
        }
    }

    /// The Engine.
    pub fn shown(&self) -> String {
        match &self.project {
            Some(p) => format!("{} (compose project {p})", self.socket.display()),
            None => self.socket.display().to_string(),
        }
    }

    /// One sample.
    pub async fn sample(&mut self) -> Sampled {
        let mut list = match self.get("/containers/json", MAX_LIST).await {
            Ok(body) => match serde_json::from_slice::<Vec<Container>>(&body) {
                Ok(l) => l,
                Err(e) => return Sampled::failed(format!("the container list is unreadable: {e}")),
            },
            Err(e) => return Sampled::failed(e),
        };
        if let Some(p) = &self.project {
            list.retain(|c| {
                c.labels
                    .as_ref()
                    .and_then(|l| l.get("com.docker.compose.project"))
                    == Some(p)
            });
        }
        list.truncate(MAX_CONTAINERS);
        let mut out = Sampled::default();
        let mut seen = Vec::new();
        for c in &list {
            let path = format!("/containers/{}/stats?stream=false&one-shot=true", c.id);
            let stats = match self.get(&path, MAX_STATS).await {
                Ok(body) => serde_json::from_slice::<Stats>(&body).unwrap_or_default(),
                Err(e) => {
                    out.error.get_or_insert(e);
                    continue;
                }
            };
            let name = shown_name(c);
            seen.push(c.id.clone());
            let now = Instant::now();
            let total = stats.cpu_stats.cpu_usage.total_usage;
            if let Some((then, before)) = self.last_cpu.insert(c.id.clone(), (now, total)) {
                let wall = now.saturating_duration_since(then).as_nanos() as f64;
                if wall > 0.0 && total >= before {
                    let pct = (total - before) as f64 / wall * 100.0;
                    out.readings
                        .push(Reading::new(format!("cpu {name}"), "% of one core", pct));
                }
            }
            let m = &stats.memory_stats;
            let cache = m
                .stats
                .get("inactive_file")
                .or_else(|| m.stats.get("total_inactive_file"))
                .copied()
                .unwrap_or(0);
            let mib = m.usage.saturating_sub(cache) as f64 / 1048576.0;
            out.readings
                .push(Reading::new(format!("memory {name}"), "MiB", mib));
        }
        self.last_cpu.retain(|id, _| seen.contains(id));
        out
    }

    /// `GET path` on the Engine's socket, its body within `limit`.
    async fn get(&self, path: &str, limit: usize) -> Result<Vec<u8>, String> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| format!("the Docker Engine at {}: {e}", self.socket.display()))?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("the Docker Engine: {e}"))?;
        let conn = tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", "docker")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = send
            .send_request(req)
            .await
            .map_err(|e| format!("the Docker Engine: {e}"))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), limit)
            .collect()
            .await
            .map_err(|e| format!("the Docker Engine's answer: {e}"))?
            .to_bytes();
        conn.abort();
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            return Err(format!("the Docker Engine answered {status}: {text}"));
        }
        Ok(body.to_vec())
    }
}

/// The compose service (and replica), or the container's name.
fn shown_name(c: &Container) -> String {
    let label = |k: &str| c.labels.as_ref().and_then(|l| l.get(k));
    match label("com.docker.compose.service") {
        Some(s) => match label("com.docker.compose.container-number").map(String::as_str) {
            Some("1") | None => s.clone(),
            Some(n) => format!("{s}-{n}"),
        },
        None => c.names.first().map_or_else(
            || c.id.chars().take(12).collect(),
            |n| n.trim_start_matches('/').to_owned(),
        ),
    }
}
