//! How a request reaches a target. The sender only sees [`Transport`], so tests can put a
//! stalled or scripted target behind it and run on paused time.

use super::rate_limits::{self, RateLimit};
use crate::target::Target;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use std::future::Future;
use std::time::Duration;

/// What came back for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status; `None` when there was no answer (refused, reset, TLS, timeout).
    pub status: Option<u16>,
    /// Rate limits the answer announced (on a 429, or on any answer via the header).
    pub rate_limits: Vec<RateLimit>,
}

impl Answer {
    /// No HTTP answer came.
    pub fn none() -> Answer {
        Answer {
            status: None,
            rate_limits: vec![],
        }
    }

    /// An HTTP answer with its status and headers.
    pub fn http(status: u16, headers: &http::HeaderMap) -> Answer {
        Answer {
            status: Some(status),
            rate_limits: rate_limits::from_answer(status, headers),
        }
    }
}

/// Sends one envelope body to a target.
pub trait Transport: Send + Sync + 'static {
    /// Sends `body` (already compressed when `gzip`) and reports the answer.
    fn send(
        &self,
        target: &Target,
        body: Vec<u8>,
        gzip: bool,
    ) -> impl Future<Output = Answer> + Send;

    /// Whether `send` itself ends requests that outlive the send timeout. When not, the
    /// sender wraps every request in a timer.
    fn enforces_timeout(&self) -> bool {
        false
    }
}

/// The real transport: `reqwest` with pooled keep-alive connections.
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
    fn enforces_timeout(&self) -> bool {
        true
    }

    async fn send(&self, target: &Target, body: Vec<u8>, gzip: bool) -> Answer {
        let mut request = self
            .client
            .post(target.envelope_url.clone())
            .header(CONTENT_TYPE, "application/x-sentry-envelope")
            .header("X-Sentry-Auth", &target.auth_header);
        if gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        match request.body(body).send().await {
            Ok(resp) => {
                let answer = Answer::http(resp.status().as_u16(), resp.headers());
                // Read the body so the connection goes back to the pool.
                let _ = resp.bytes().await;
                answer
            }
            Err(_) => Answer::none(),
        }
    }
}
