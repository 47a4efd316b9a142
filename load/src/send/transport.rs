//! How a request reaches a target. The sender only sees [`Transport`], so tests can put a
//! stalled or scripted target behind it and run on paused time.

use super::rate_limits::{self, Limits};
use crate::target::{Endpoint, Target};
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use std::future::Future;
use std::time::Duration;

/// What came back for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status; `None` when there was no answer (refused, reset, TLS, timeout).
    pub status: Option<u16>,
    /// Rate limits the answer announced (on a 429, or on any answer via the header).
    pub rate_limits: Limits,
}

impl Answer {
    /// No HTTP answer came.
    pub fn none() -> Answer {
        Answer {
            status: None,
            rate_limits: Limits::none(),
        }
    }

    /// An HTTP answer: its status and its `X-Sentry-Rate-Limits` and `Retry-After` values.
    pub fn from_parts(status: u16, rate_limits: Option<&str>, retry_after: Option<&str>) -> Answer {
        Answer {
            status: Some(status),
            rate_limits: rate_limits::from_answer(status, rate_limits, retry_after),
        }
    }
}

/// Sends one envelope body to a target.
///
/// Each of the sender's workers opens one [`Transport::Session`] and runs its requests, one at
/// a time, through it: what a transport keeps per worker (its connections) lives there.
pub trait Transport: Send + Sync + 'static {
    /// What one worker keeps between its requests.
    type Session: Send + 'static;

    /// A new worker's session.
    fn session(&self) -> Self::Session;

    /// Sends `body` (already compressed when `gzip`) to the target's `endpoint` and reports
    /// the answer. A request the sender abandons (its timeout) is dropped mid-way.
    fn send(
        &self,
        session: &mut Self::Session,
        target: &Target,
        endpoint: Endpoint,
        body: &[u8],
        gzip: bool,
    ) -> impl Future<Output = Answer> + Send;
}

/// The transport for TLS and HTTP/2: `reqwest` with pooled keep-alive connections.
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A client for up to `max_in_flight` concurrent requests, each ending after `timeout`.
    pub fn new(
        max_in_flight: usize,
        http2: bool,
        timeout: Duration,
    ) -> Result<HttpTransport, reqwest::Error> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(max_in_flight)
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true);
        if http2 {
            b = b.http2_prior_knowledge();
        }
        Ok(HttpTransport { client: b.build()? })
    }
}

impl Transport for HttpTransport {
    type Session = ();

    fn session(&self) {}

    async fn send(
        &self,
        _: &mut (),
        target: &Target,
        endpoint: Endpoint,
        body: &[u8],
        gzip: bool,
    ) -> Answer {
        let mut request = self
            .client
            .post(target.url(endpoint).clone())
            .header(CONTENT_TYPE, endpoint.content_type())
            .header("X-Sentry-Auth", &target.auth_header);
        if gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        match request.body(body.to_vec()).send().await {
            Ok(resp) => {
                let header = |name| resp.headers().get(name).and_then(|v| v.to_str().ok());
                let answer = Answer::from_parts(
                    resp.status().as_u16(),
                    header("x-sentry-rate-limits"),
                    header(RETRY_AFTER.as_str()),
                );
                // Read the body so the connection goes back to the pool.
                let _ = resp.bytes().await;
                answer
            }
            Err(_) => Answer::none(),
        }
    }
}
