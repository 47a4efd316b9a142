//! `run --metrics-listen ADDR`: the run's live metrics ([`LiveMetrics`]) served at
//! `GET /metrics` for Prometheus while the run sends and reads back, and refreshed once a
//! second from the main leg's live counts and the schedule. The address is bound before
//! anything is sent, so a port in use is refused up front; the endpoint stops with the run.

use crate::error::Failure;
use anyhow::anyhow;
use axum::http::header::CONTENT_TYPE;
use sentry_load_engine::{LiveMetrics, LiveStats, Plan, RunClock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The OpenMetrics text format's content type (the one Prometheus asks for first).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The endpoint's listener, bound before the run starts.
pub struct MetricsListener {
    listener: std::net::TcpListener,
}

impl MetricsListener {
    /// Binds `addr`; the error names the flag and the address.
    pub fn bind(addr: SocketAddr) -> Result<MetricsListener, Failure> {
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| Failure::usage(anyhow!("--metrics-listen {addr}: cannot listen: {e}")))?;
        Ok(MetricsListener { listener })
    }

    /// Where it listens (the port chosen when 0 was asked for).
    pub fn addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }
}

/// A running endpoint; dropping it stops it.
pub struct MetricsEndpoint {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl MetricsEndpoint {
    /// Serves `metrics` on `listener`, refreshing its gauges every second from `stats` and
    /// the schedule's rate at that moment.
    pub fn start(
        listener: MetricsListener,
        metrics: Arc<LiveMetrics>,
        stats: Arc<LiveStats>,
        plan: &Plan,
        clock: RunClock,
    ) -> Result<MetricsEndpoint, Failure> {
        let listener = tokio::net::TcpListener::from_std(listener.listener)
            .map_err(|e| Failure::internal(anyhow!(e).context("serving --metrics-listen")))?;
        let served = metrics.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let m = served.clone();
                async move { ([(CONTENT_TYPE, OPENMETRICS)], m.render()) }
            }),
        );
        // Bounded as the sim's listener is: a client that trickles its request, or holds
        // connections open, does not hold the endpoint.
        let server = tokio::spawn(async move {
            let serving =
                sentry_load_sim::listener::serve_bounded(listener, app, std::future::pending());
            if let Err(e) = serving.await {
                eprintln!("warning: the metrics endpoint stopped: {e}");
            }
        });
        let plan = plan.clone();
        let refresh = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // Zero before time zero and after the schedule.
                let offered = plan.rate_at(clock.start.elapsed());
                metrics.refresh(
                    offered,
                    stats.in_flight(),
                    stats.finished(),
                    sentry_load_common::clock::now_unix_micros(),
                );
                tick.tick().await;
            }
        });
        Ok(MetricsEndpoint {
            tasks: vec![server, refresh],
        })
    }
}
