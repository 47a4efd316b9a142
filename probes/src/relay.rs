//! The Relay probe: its liveness and readiness endpoints and how long they take to answer.
//! Relay answers `GET /api/relay/healthcheck/{live,ready}/` with 200 `{"is_healthy": true}`
//! or 503 `{"is_healthy": false}` (getsentry/relay, relay-server/src/endpoints/health_check.rs
//! and the `/api/relay/healthcheck/:kind/` route in relay-server/src/endpoints/mod.rs, at
//! commit 1a042847a6f533b8b1ffdb3f2f4570900ef92a28). A Relay that does not answer (a restart)
//! reads as down, and the sample as failed.

use crate::sampler::{Reading, Sampled, body_within, http_client};
use sentry_load_config::ServiceUrl;
use tokio::time::Instant;

/// An answer's size at most.
const MAX_ANSWER: usize = 16 * 1024;

/// A Relay probe.
pub struct RelayProbe {
    client: reqwest::Client,
    url: url::Url,
    shown: String,
}

impl RelayProbe {
    /// The probe of the Relay at `url`.
    pub fn new(url: &ServiceUrl) -> RelayProbe {
        RelayProbe {
            client: http_client(),
            url: url.expose().clone(),
            shown: url.to_string(),
        }
    }

    /// The Relay, redacted.
    pub fn shown(&self) -> String {
        self.shown.clone()
    }

    /// One sample: `live` and `ready` as 1 (healthy) or 0, and the readiness answer's time in
    /// ms when Relay answered.
    pub async fn sample(&mut self) -> Sampled {
        let mut out = Sampled::default();
        for kind in ["live", "ready"] {
            let started = Instant::now();
            let (up, answered) = match self.check(kind).await {
                Ok(up) => (up, true),
                Err(e) => {
                    out.error.get_or_insert(e);
                    (false, false)
                }
            };
            out.readings.push(Reading::new(
                kind.into(),
                "1 healthy, 0 not",
                f64::from(u8::from(up)),
            ));
            // The time of an answer: a refused connection's is no measure of Relay.
            if kind == "ready" && answered {
                out.readings.push(Reading::new(
                    "readiness answer".into(),
                    "ms",
                    started.elapsed().as_secs_f64() * 1000.0,
                ));
            }
        }
        out
    }

    async fn check(&self, kind: &str) -> Result<bool, String> {
        let url = self
            .url
            .join(&format!("api/relay/healthcheck/{kind}/"))
            .map_err(|e| e.to_string())?;
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let ok = resp.status().is_success();
        let body = body_within(resp, MAX_ANSWER).await?;
        let healthy = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("is_healthy")?.as_bool());
        Ok(ok && healthy != Some(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A peer answering as Relay does: live 200 `{"is_healthy":true}`, ready 503 `false`.
    async fn relay_like() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let (status, body) = if head.starts_with("GET /api/relay/healthcheck/live/ ") {
                    ("200 OK", r#"{"is_healthy":true}"#)
                } else {
                    ("503 Service Unavailable", r#"{"is_healthy":false}"#)
                };
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        port
    }

    #[tokio::test]
    async fn live_and_ready_are_read_and_an_absent_relay_is_down() {
        let port = relay_like().await;
        let url: ServiceUrl = format!("http://127.0.0.1:{port}").parse().unwrap();
        let s = RelayProbe::new(&url).sample().await;
        let value = |n: &str| s.readings.iter().find(|r| r.name == n).map(|r| r.value);
        assert_eq!(
            (value("live"), value("ready")),
            (Some(1.0), Some(0.0)),
            "{s:?}"
        );
        assert_eq!(s.error, None);
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = gone.local_addr().unwrap().port();
        drop(gone);
        let url: ServiceUrl = format!("http://127.0.0.1:{port}").parse().unwrap();
        let s = RelayProbe::new(&url).sample().await;
        assert_eq!(s.readings[0].value, 0.0);
        assert!(s.error.is_some());
        assert_eq!(
            s.readings.len(),
            2,
            "no answer time without an answer: {s:?}"
        );
    }
}
