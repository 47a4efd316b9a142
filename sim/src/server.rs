//! Starting and stopping a sim: the HTTP server, the queue and the pipeline.

use crate::api::{self, ApiState};
use crate::artifacts::{self, ArtifactState};
use crate::config::Flavor;
use crate::config::SimConfig;
use crate::crash_reports::CrashReportPolicy;
use crate::ingest::projects::ProjectConfigs;
use crate::ingest::{self, BODY_LIMIT, IngestState, relay_error};
use crate::pipeline::{Pipeline, Shared, Topic};
use crate::store::{MemoryStore, SentryDb, Store, StoreConfig, StoreError};
use crate::truth::Truth;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A running sim.
pub struct SimHandle {
    addr: SocketAddr,
    truth: Arc<Truth>,
    artifacts: Arc<ArtifactState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl SimHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ground truth of its decisions.
    pub fn truth(&self) -> &Arc<Truth> {
        &self.truth
    }

    /// The artifact bundles uploaded to it.
    pub fn artifact_bundles(&self) -> Vec<crate::artifacts::AssembledBundle> {
        self.artifacts.bundles()
    }

    /// Forgets the cached assemble states, as ten minutes passing would.
    pub fn expire_assemble_cache(&self) {
        self.artifacts.expire_assemble_cache();
    }

    /// Stops taking requests, drains the queue, flushes the last batch, and returns.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Binds `addr`, opens the store, and runs the sim in the background.
pub async fn start(config: SimConfig, addr: SocketAddr) -> Result<SimHandle, StartError> {
    let listener = TcpListener::bind(addr).await.map_err(StartError::Bind)?;
    let addr = listener.local_addr().map_err(StartError::Bind)?;
    let truth = Arc::new(Truth::open(config.truth_file.as_deref()).map_err(StartError::Truth)?);
    let (store, memory) = open_store(&config).await?;
    let artifacts = Arc::new(artifact_state(&config));
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(serve(
        listener,
        config,
        Opened {
            store,
            memory,
            truth: truth.clone(),
            artifacts: artifacts.clone(),
        },
        async {
            let _ = stopped.await;
        },
    ));
    Ok(SimHandle {
        addr,
        truth,
        artifacts,
        stop: Some(stop),
        task,
    })
}

/// Runs a sim on `listener` until `shutdown` completes; for standalone use.
pub async fn run(
    listener: TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (store, memory) = open_store(&config).await?;
    let opened = Opened {
        store,
        memory,
        truth: Arc::new(Truth::open(config.truth_file.as_deref()).map_err(StartError::Truth)?),
        artifacts: Arc::new(artifact_state(&config)),
    };
    serve(listener, config, opened, shutdown)
        .await
        .map_err(StartError::Bind)
}

fn artifact_state(config: &SimConfig) -> ArtifactState {
    let mut a = ArtifactState::new(
        &config.org,
        &config.api_token,
        config.projects.iter().map(|p| p.project_id),
    );
    a.chunk_url = config.chunk_upload_url.clone();
    a
}

/// A sim could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound.
    #[error("cannot listen: {0}")]
    Bind(#[source] std::io::Error),
    /// The ground-truth file could not be created.
    #[error("cannot write the ground-truth file: {0}")]
    Truth(#[source] std::io::Error),
    /// ClickHouse or Postgres could not be prepared.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
}

async fn open_store(config: &SimConfig) -> Result<(Store, Option<Arc<MemoryStore>>), StartError> {
    Ok(match &config.store {
        StoreConfig::Memory => {
            let m = Arc::new(MemoryStore::merging_after(config.duplicate_merge));
            (Store::Memory(m.clone()), Some(m))
        }
        StoreConfig::Sentry {
            clickhouse_url,
            clickhouse_database,
            postgres_url,
        } => {
            let db = SentryDb::connect(
                clickhouse_url,
                clickhouse_database,
                postgres_url,
                &config.projects,
                config.crash_reports,
            )
            .await?;
            (Store::Sentry(Box::new(db)), None)
        }
    })
}

/// What a sim serves from.
struct Opened {
    store: Store,
    memory: Option<Arc<MemoryStore>>,
    truth: Arc<Truth>,
    artifacts: Arc<ArtifactState>,
}

async fn serve(
    listener: TcpListener,
    config: SimConfig,
    opened: Opened,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Opened {
        store,
        memory,
        truth,
        artifacts,
    } = opened;
    let started = std::time::Instant::now();
    let skew_micros = config
        .faults
        .faults
        .iter()
        .find_map(|f| match &f.fault {
            crate::script::Fault::ClockSkew { by } => Some(by.micros),
            _ => None,
        })
        .unwrap_or(0);
    let store = Arc::new(tokio::sync::Mutex::new(store));
    let (outcomes, outcomes_rx) = mpsc::unbounded_channel();
    let outcome_writer = tokio::spawn(crate::pipeline::outcomes::run(
        store.clone(),
        outcomes_rx,
        config.batch_interval,
    ));
    let clock = Arc::new(crate::script::ScriptClock::new(config.faults_from, started));
    let admission = Arc::new(crate::ingest::admission::Admission::new(
        config.faults.clone(),
        clock.clone(),
    ));
    let shared = Arc::new(Shared {
        store,
        outcomes: outcomes.clone(),
        drop: config.drop.clone(),
        script: config.faults.clone(),
        clock,
        skew_micros,
        truth: truth.clone(),
        admission: admission.clone(),
        crash_reports: CrashReportPolicy::new(config.crash_reports),
        nth: Default::default(),
    });
    let mut workers = Vec::new();
    let queues = Topic::ALL.map(|topic| {
        let (queue, queued) = mpsc::channel(config.queue_capacity.max(1));
        let pipeline = Pipeline {
            topic,
            shared: shared.clone(),
            workers: config.workers,
            service: config.service,
            batch_rows: config.batch_rows.max(1),
            batch_interval: config.batch_interval,
            consumed: !(config.errors_only && topic == Topic::Transactions),
        };
        workers.push(tokio::spawn(pipeline.run(queued)));
        queue
    });
    drop(shared);
    let upstream_log = config
        .relay_upstream
        .map(|_| Arc::new(crate::relay_upstream::log::UpstreamLog::default()));
    let ingest = Arc::new(IngestState {
        admission,
        configs: ProjectConfigs::new(
            config
                .projects
                .iter()
                .map(|p| (p.project_id, p.public_key.clone(), p.active)),
            // Sentry 9 has no Relay, and a real Relay in front fetches configs itself:
            // nothing to fetch here, a key is known at once.
            if config.flavor == Flavor::Sentry9 || config.relay_upstream.is_some() {
                std::time::Duration::ZERO
            } else {
                config.config_fetch
            },
        ),
        outcomes,
        skew_micros,
        queues,
        truth,
        upstream_log: upstream_log.clone(),
        processing: memory.is_some().then(|| artifacts.clone()),
    });
    let sentry9 = config.flavor == Flavor::Sentry9;
    let room = ingest::intake::Room::new();
    let ingest_routes = if sentry9 {
        let s9 = Arc::new(crate::sentry9::Sentry9::new(
            config
                .projects
                .iter()
                .map(|p| (p.public_key.clone(), p.project_id, p.active)),
        ));
        Router::new()
            .route("/api/{project}/store/", post(crate::sentry9::store))
            .route("/api/{project}/minidump/", post(crate::sentry9::minidump))
            .route_layer(axum::middleware::from_fn_with_state(
                (s9.clone(), room),
                crate::sentry9::before_body,
            ))
            .with_state((ingest, s9))
    } else {
        let intake = ingest::intake::Intake::new(ingest.clone(), room);
        Router::new()
            .route("/api/{project}/envelope/", post(ingest::envelope))
            .route("/api/{project}/store/", post(ingest::endpoints::store))
            .route(
                "/api/{project}/minidump/",
                post(ingest::endpoints::minidump),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                intake,
                ingest::intake::before_body,
            ))
            .with_state(ingest)
    };
    let upload_routes = if sentry9 {
        Router::new()
            .route(
                "/api/0/projects/{org}/{project}/releases/",
                post(artifacts::create_release),
            )
            .route(
                "/api/0/projects/{org}/{project}/releases/{version}/files/",
                post(artifacts::upload_release_file),
            )
            .with_state(artifacts)
    } else {
        Router::new()
            .route(
                "/api/0/organizations/{org}/chunk-upload/",
                get(artifacts::options).post(artifacts::upload),
            )
            .route(
                "/api/0/organizations/{org}/artifactbundle/assemble/",
                post(artifacts::assemble),
            )
            .with_state(artifacts)
    };
    let mut app = ingest_routes
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .merge(upload_routes)
        .merge(
            Router::new()
                .route("/api/client-config/", get(crate::web::client_config))
                .route("/api/0/projects/{org}/{project}/", get(crate::web::project))
                .with_state(Arc::new(crate::web::WebState {
                    org: config.org.clone(),
                    token: config.api_token.clone(),
                    projects: config.projects.iter().map(|p| p.project_id).collect(),
                    errors_only: config.errors_only,
                })),
        );
    if let (Some(mode), Some(log)) = (config.relay_upstream, upstream_log) {
        use crate::relay_upstream::{Upstream, configs::ProjectTable, register::Registry};
        app = app.merge(crate::relay_upstream::routes(Arc::new(Upstream {
            mode,
            relays: Registry::default(),
            projects: ProjectTable::new(
                config
                    .projects
                    .iter()
                    .map(|p| (p.project_id, p.public_key.clone(), p.active)),
            ),
            log,
            token: config.api_token.clone(),
        })));
    }
    if let Some(store) = memory {
        if sentry9 {
            app = app.merge(
                Router::new()
                    .route(
                        "/api/0/organizations/{org}/eventids/{id}/",
                        get(crate::sentry9::event_id),
                    )
                    .with_state(Arc::new(crate::sentry9::EventIds {
                        org: config.org.clone(),
                        token: config.api_token.clone(),
                        store: store.clone(),
                    })),
            );
        }
        let api = Arc::new(ApiState {
            org: config.org.clone(),
            token: config.api_token.clone(),
            store,
            limits: config.api_rate_limits.then(Default::default),
        });
        let mut read = Router::new().route(
            "/api/0/projects/{org}/{project}/events/{event_id}/",
            get(api::event_details),
        );
        if !sentry9 {
            // Discover needs Snuba, which a stock Sentry 9.1 does not run.
            read = read.route("/api/0/organizations/{org}/events/", get(api::discover));
        }
        app = app.merge(read.with_state(api));
    }
    let app = app.fallback(|| async {
        relay_error(
            StatusCode::NOT_FOUND,
            "The requested resource does not exist",
            &[],
        )
    });
    let served = crate::listener::serve(
        crate::listener::Bounded::new(listener),
        app,
        crate::listener::Timeouts::default(),
        shutdown,
    )
    .await;
    // The router (and with it the queues' last senders) is gone: the pipelines drain and
    // end, and with them the last senders of outcomes.
    for worker in workers {
        let _ = worker.await;
    }
    let _ = outcome_writer.await;
    served
}
