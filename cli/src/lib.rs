//! Starts the platform: any set of roles ([`Target`]s) in one process. Under `--target all`
//! the gateway calls the services in process; with roles in separate processes it calls them
//! over gRPC, and each service verifies the identity the gateway forwards. Start-up migrates
//! the store, imports the reference data and starter catalogue into an empty store, and
//! creates the first admin API key, so `make run` needs no set-up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use sharedmetrics_access::{PrincipalCodec, Role};
use sharedmetrics_benchmarking::{BenchmarkingApi, BenchmarkingGrpc, BenchmarkingService, RemoteBenchmarking};
use sharedmetrics_commitments::{
    AuditedCommitments, CommitmentsApi, CommitmentsGrpc, CommitmentsService, RemoteCommitments,
};
use sharedmetrics_config::{Config, Target};
use sharedmetrics_definitions::{
    AuditedDefinitions, DefinitionsApi, DefinitionsGrpc, DefinitionsService, RemoteDefinitions,
};
use sharedmetrics_gateway::GatewayServices;
use sharedmetrics_gateway::access::{AccessService, ApiKeyAuthenticator, AuditedAccess};
use sharedmetrics_gateway::audit::{AuditLog, AuditedSubmissions};
use sharedmetrics_gateway::quota::{InFlightLimitLayer, Protection, QuotaLayer, RowQuotaSubmissions};
use sharedmetrics_grpc::ForwardedIdentity;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_server::BenchmarkingServiceServer;
use sharedmetrics_proto::sharedmetrics::commitments::v1::commitments_service_server::CommitmentsServiceServer;
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_server::DefinitionsServiceServer;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_server::SubmissionsServiceServer;
use sharedmetrics_submissions::{RemoteSubmissions, SubmissionsApi, SubmissionsGrpc, SubmissionsService};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::service::RoutesBuilder;

pub use sharedmetrics_config as config;

pub mod submit;

/// A running platform: where it listens, the admin key it created (if any), and its tasks.
pub struct Platform {
    /// The gateway's gRPC address, when the gateway runs here.
    pub grpc_addr: Option<SocketAddr>,
    /// The gateway's HTTP address, when the gateway runs here.
    pub http_addr: Option<SocketAddr>,
    /// Each split service's gRPC address, when it runs here without the gateway.
    pub service_addrs: BTreeMap<Target, SocketAddr>,
    /// The admin API key created on this start (first start only).
    pub admin_key: Option<String>,
    /// Time from the call to [`start`] until every listener was serving.
    pub startup: std::time::Duration,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Platform {
    /// Stops every server and waits for them to finish.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        while let Some(result) = self.tasks.join_next().await {
            result??;
        }
        Ok(())
    }

    /// Runs until Ctrl-C or SIGTERM (or a server fails), then shuts down.
    pub async fn run_until_signal(mut self) -> anyhow::Result<()> {
        tokio::select! {
            () = shutdown_signal() => tracing::info!("shutting down"),
            Some(result) = self.tasks.join_next() => {
                result??;
                anyhow::bail!("a server stopped unexpectedly");
            }
        }
        self.shutdown().await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Runs the migrations of every role that owns tables.
pub async fn migrate(db: &DatabaseConnection, roles: &[Target]) -> anyhow::Result<()> {
    if roles.contains(&Target::Definitions) {
        sharedmetrics_db::migrate::<sharedmetrics_definitions::Migrator>(db, "definitions").await?;
    }
    if roles.contains(&Target::Submissions) {
        sharedmetrics_db::migrate::<sharedmetrics_submissions::Migrator>(db, "submissions").await?;
    }
    if roles.contains(&Target::Commitments) {
        sharedmetrics_db::migrate::<sharedmetrics_commitments::Migrator>(db, "commitments").await?;
    }
    if roles.contains(&Target::Gateway) {
        sharedmetrics_db::migrate::<sharedmetrics_gateway::access::migration::Migrator>(db, "access").await?;
    }
    Ok(())
}

/// Imports the reference data and the starter catalogue into an empty store.
pub async fn import_reference_data(
    db: &DatabaseConnection,
    data_dir: &Path,
    catalogue_dir: &Path,
) -> anyhow::Result<()> {
    let started = Instant::now();
    match sharedmetrics_definitions::import::import_reference_data(db, data_dir)
        .await
        .with_context(|| format!("importing reference data from {}", data_dir.display()))?
    {
        Some(report) => tracing::info!(
            areas = ?report.areas,
            organisations = ?report.organisations,
            districts_without_icb = report.districts_without_icb,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "reference data imported"
        ),
        None => tracing::debug!("reference data already present"),
    }
    match sharedmetrics_definitions::import::import_catalogue(db, catalogue_dir)
        .await
        .with_context(|| format!("importing the starter catalogue from {}", catalogue_dir.display()))?
    {
        Some(report) => tracing::info!(
            dimensions = report.dimensions,
            metrics = report.metrics,
            national_bodies = ?report.organisations,
            "starter catalogue imported"
        ),
        None => tracing::debug!("catalogue already present"),
    }
    Ok(())
}

/// Imports the versioned reference values (the real Living Wage) into an empty store.
pub async fn import_reference_values(db: &DatabaseConnection, dir: &Path) -> anyhow::Result<()> {
    let report = sharedmetrics_commitments::import::import_reference_values(db, dir)
        .await
        .with_context(|| format!("importing reference values from {}", dir.display()))?;
    tracing::debug!(?report, "reference values checked");
    Ok(())
}

/// Gives the commitments service the published observations of a metric, read through the
/// submissions API with the caller's own rights (so disclosure control and visibility hold).
struct PublishedObservations(Arc<dyn SubmissionsApi>);

#[async_trait::async_trait]
impl sharedmetrics_commitments::ObservationSource for PublishedObservations {
    async fn figure(
        &self,
        principal: &sharedmetrics_access::Principal,
        metric_code: &str,
        organisation_code: &str,
        period: &sharedmetrics_periods::Period,
    ) -> sharedmetrics_error::ServiceResult<Option<sharedmetrics_commitments::ObservedFigure>> {
        use futures::StreamExt;
        use sharedmetrics_proto::sharedmetrics::submissions::v1::QueryObservationsRequest;
        let request = QueryObservationsRequest {
            metric_code: metric_code.to_owned(),
            area_codes: vec![organisation_code.to_owned()],
            period_from: period.to_string(),
            period_to: period.to_string(),
            ..Default::default()
        };
        let mut batches = self.0.query_observations(principal, request).await?;
        while let Some(batch) = batches.next().await {
            for observation in batch?.observations {
                let total = observation.breakdown.as_ref().is_none_or(|b| b.codes.is_empty());
                if total && observation.period_code == period.to_string() && !observation.suppressed {
                    let Some(numerator) = observation.numerator.or(observation.value) else { continue };
                    let data_version = observation
                        .valid_from
                        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
                    return Ok(Some(sharedmetrics_commitments::ObservedFigure {
                        numerator,
                        denominator: observation.denominator,
                        data_version,
                    }));
                }
            }
        }
        Ok(None)
    }
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding {what} on {addr}"))?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Creates the first admin key when the store has none; returns its secret to show once.
async fn bootstrap_admin_key(access: &AccessService, config: &Config) -> anyhow::Result<Option<String>> {
    if !config.bootstrap.create_admin_key || access.has_keys().await? {
        return Ok(None);
    }
    let lifetime = chrono::Duration::days(i64::from(config.bootstrap.admin_key_lifetime_days));
    let organisation = &config.bootstrap.admin_organisation;
    let issued = access
        .issue_key(
            "bootstrap admin",
            organisation,
            &Role::ALL,
            chrono::Utc::now() + lifetime,
            ("bootstrap", organisation),
        )
        .await?;
    let file = &config.bootstrap.admin_key_file;
    if !file.as_os_str().is_empty() {
        write_secret_file(file, &issued.secret)
            .with_context(|| format!("writing the admin key to {}", file.display()))?;
    }
    let expires = issued.row.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default();
    tracing::info!(key_id = %issued.row.key_id, organisation = %issued.row.organisation_code, %expires, file = %file.display(), "bootstrap admin api key created");
    Ok(Some(issued.secret))
}

/// Writes `secret` to a new file readable by its owner only: the file is created 0600 (never
/// world-readable, not even for a moment) and replaces any older one.
fn write_secret_file(file: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_file(file);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(file)?;
    writeln!(out, "{secret}")
}

/// Starts the given roles and returns once every listener is serving.
pub async fn start(config: Config, targets: &[Target]) -> anyhow::Result<Platform> {
    let started = Instant::now();
    let roles = Target::expand(targets);
    let has = |t: Target| roles.contains(&t);
    let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
    tracing::info!(roles = ?names, "starting");

    let db = if [Target::Gateway, Target::Definitions, Target::Submissions, Target::Commitments].into_iter().any(has) {
        Some(sharedmetrics_db::connect(&config.database).await.context("connecting to the database")?)
    } else {
        None
    };
    if let Some(db) = &db {
        if config.database.migrate_on_start {
            migrate(db, &roles).await?;
        }
        if has(Target::Definitions) && config.reference_data.import_on_start {
            import_reference_data(db, &config.reference_data.dir, &config.reference_data.catalogue_dir).await?;
        }
        if has(Target::Commitments) && config.reference_data.import_on_start {
            import_reference_values(db, &config.reference_data.values_dir).await?;
        }
    }

    let cache = sharedmetrics_cache::Cache::connect(&config.redis).await.context("connecting to Redis")?;
    let data_versions = sharedmetrics_cache::DataVersions::new(&cache);
    let codec = PrincipalCodec::new(config.services.internal_token.expose());
    let definitions: Arc<dyn DefinitionsApi> = match &db {
        Some(db) if has(Target::Definitions) => Arc::new(DefinitionsService::new(db.clone())),
        _ => {
            let channel = tonic::transport::Channel::from_shared(config.services.definitions.url.clone())
                .context("services.definitions.url")?
                .connect_lazy();
            Arc::new(RemoteDefinitions::new(channel, codec.clone()))
        }
    };

    let submissions: Arc<dyn SubmissionsApi> = match &db {
        Some(db) if has(Target::Submissions) => {
            Arc::new(SubmissionsService::new(db.clone(), definitions.clone(), data_versions.clone()))
        }
        _ => {
            let channel = tonic::transport::Channel::from_shared(config.services.submissions.url.clone())
                .context("services.submissions.url")?
                .connect_lazy();
            Arc::new(RemoteSubmissions::new(channel, codec.clone()))
        }
    };

    let commitments: Arc<dyn CommitmentsApi> = match &db {
        Some(db) if has(Target::Commitments) => {
            let observations = Arc::new(PublishedObservations(submissions.clone()));
            Arc::new(CommitmentsService::new(db.clone(), definitions.clone(), Some(observations)))
        }
        _ => {
            let channel = tonic::transport::Channel::from_shared(config.services.commitments.url.clone())
                .context("services.commitments.url")?
                .connect_lazy();
            Arc::new(RemoteCommitments::new(channel, codec.clone()))
        }
    };

    let benchmarking: Arc<dyn BenchmarkingApi> = if has(Target::Benchmarking) {
        // One DataVersions shared with the submissions service in this process, so a publication
        // invalidates cached results at once (across processes this takes Redis).
        let service = Arc::new(BenchmarkingService::new(
            definitions.clone(),
            submissions.clone(),
            cache.clone(),
            data_versions.clone(),
        ));
        // The area hierarchy takes seconds to build; build it now, not in a user's first request.
        if config.reference_data.preload {
            let warming = service.clone();
            tokio::spawn(async move { warming.warm_up().await });
        }
        service
    } else {
        let channel = tonic::transport::Channel::from_shared(config.services.benchmarking.url.clone())
            .context("services.benchmarking.url")?
            .connect_lazy();
        Arc::new(RemoteBenchmarking::new(channel, codec.clone()))
    };

    let (shutdown, shutdown_rx) = watch::channel(false);
    let signal = move || {
        let mut rx = shutdown_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let mut tasks = JoinSet::new();
    let mut service_addrs = BTreeMap::new();

    // Services run on their own ports only when the gateway is not in this process.
    if !has(Target::Gateway) {
        for role in [Target::Definitions, Target::Submissions, Target::Benchmarking, Target::Commitments] {
            if !has(role) {
                continue;
            }
            let (endpoint, routes, serving): (_, RoutesBuilder, Vec<&str>) = {
                let mut routes = RoutesBuilder::default();
                match role {
                    Target::Definitions => {
                        routes.add_service(DefinitionsServiceServer::new(DefinitionsGrpc(definitions.clone())));
                        (&config.services.definitions, routes, vec!["sharedmetrics.definitions.v1.DefinitionsService"])
                    }
                    Target::Submissions => {
                        routes.add_service(SubmissionsServiceServer::new(SubmissionsGrpc(submissions.clone())));
                        (&config.services.submissions, routes, vec!["sharedmetrics.submissions.v1.SubmissionsService"])
                    }
                    Target::Benchmarking => {
                        routes.add_service(BenchmarkingServiceServer::new(BenchmarkingGrpc(benchmarking.clone())));
                        (
                            &config.services.benchmarking,
                            routes,
                            vec!["sharedmetrics.benchmarking.v1.BenchmarkingService"],
                        )
                    }
                    _ => {
                        routes.add_service(CommitmentsServiceServer::new(CommitmentsGrpc(commitments.clone())));
                        (&config.services.commitments, routes, vec!["sharedmetrics.commitments.v1.CommitmentsService"])
                    }
                }
            };
            let (listener, addr) = bind(endpoint.listen_addr, role.name()).await?;
            service_addrs.insert(role, addr);
            let authenticator = Arc::new(ForwardedIdentity::new(codec.clone()));
            let gateway_config = config.gateway.clone();
            let serving: Vec<String> = serving.iter().map(|s| (*s).to_owned()).collect();
            let signal = signal();
            tasks.spawn(async move {
                let serving: Vec<&str> = serving.iter().map(String::as_str).collect();
                sharedmetrics_gateway::serve_grpc(
                    listener,
                    routes,
                    &serving,
                    authenticator,
                    None,
                    &gateway_config,
                    signal,
                )
                .await
            });
            tracing::info!(service = role.name(), %addr, "service serving grpc");
        }
    }

    let mut grpc_addr = None;
    let mut http_addr = None;
    let mut admin_key = None;
    if has(Target::Gateway) {
        let db = db.clone().expect("the gateway has a database");
        let access = AccessService::new(db.clone()).with_quotas(&config.quotas).with_key_lifetime(&config.api_keys);
        // ExplainAccess reads resources' facts through the services themselves (not their
        // audited or quota-counted views: explaining is neither a write nor the caller's load).
        access.set_explainer(sharedmetrics_gateway::explain::Explainer::new(
            definitions.clone(),
            submissions.clone(),
            commitments.clone(),
        ));
        admin_key = bootstrap_admin_key(&access, &config).await?;
        // The gateway's view of each service: writes audited, submitted rows held to quota.
        let audit: Arc<dyn sharedmetrics_grpc::AuditSink> = Arc::new(AuditLog::new(db.clone()));
        let counters = sharedmetrics_cache::WindowCounters::new(&cache);
        let row_quota: Arc<dyn SubmissionsApi> =
            Arc::new(RowQuotaSubmissions::new(submissions.clone(), counters.clone(), &config.quotas));
        let services = GatewayServices {
            definitions: Arc::new(AuditedDefinitions::new(definitions.clone(), audit.clone())),
            submissions: Arc::new(AuditedSubmissions::new(row_quota, audit.clone())),
            commitments: Arc::new(AuditedCommitments::new(commitments.clone(), audit.clone())),
            benchmarking: benchmarking.clone(),
            access: Arc::new(AuditedAccess::new(Arc::new(access.clone()), audit)),
        };
        let protection = Some(Protection {
            in_flight: InFlightLimitLayer::new(config.gateway.max_in_flight_requests),
            quota: QuotaLayer::new(counters, &config.quotas),
        });
        let (listener, addr) = bind(config.gateway.grpc_addr, "the gateway's gRPC").await?;
        grpc_addr = Some(addr);
        let oidc = sharedmetrics_gateway::oidc::OidcVerifier::new(&config.oidc);
        if oidc.is_some() {
            tracing::info!(issuer = %config.oidc.issuer, "accepting oidc bearer tokens");
        }
        // Failed authentications are counted per key id and client address, for both doors.
        let throttle = sharedmetrics_gateway::access::throttle::AuthThrottle::new(
            &config.gateway.auth_throttle,
            config.gateway.trusted_proxy_networks(),
        );
        let authenticator = Arc::new(ApiKeyAuthenticator::new(access).with_oidc(oidc).with_throttle(throttle));
        let gateway_config = config.gateway.clone();
        let max_message_bytes = config.quotas.max_message_bytes;
        let signal_grpc = signal();
        let serving: Vec<&str> = sharedmetrics_proto::SERVICE_NAMES.to_vec();
        // REST/JSON, CSV and gRPC-web on the HTTP port call the same gRPC stack in process, so
        // authentication, quotas, audit and deadlines apply to them exactly as on the gRPC port.
        let rest_grpc = sharedmetrics_gateway::grpc_service(
            sharedmetrics_gateway::gateway_routes(&services, max_message_bytes).routes(),
            authenticator.clone(),
            protection.clone(),
            &gateway_config,
        );
        // JSON is several times the size of the same message in protobuf.
        let rest_options =
            sharedmetrics_transcode::TranscodeOptions { max_body_bytes: max_message_bytes.saturating_mul(8) };
        let rest = sharedmetrics_transcode::router(rest_grpc, rest_options)?;
        tasks.spawn(async move {
            sharedmetrics_gateway::serve_grpc(
                listener,
                sharedmetrics_gateway::gateway_routes(&services, max_message_bytes),
                &serving,
                authenticator,
                protection,
                &gateway_config,
                signal_grpc,
            )
            .await
        });
        let (http_listener, addr) = bind(config.gateway.http_addr, "the gateway's HTTP").await?;
        http_addr = Some(addr);
        let mut router = sharedmetrics_gateway::http_router(Some(db)).merge(rest);
        if let Some(cors) = sharedmetrics_gateway::cors_layer(&config.gateway) {
            router = router.layer(cors);
        }
        let signal_http = signal();
        let http_config = config.gateway.clone();
        tasks.spawn(async move {
            // TCP_NODELAY, header and body timeouts for slow clients, and each peer's address
            // (`ConnectInfo<SocketAddr>`), which the REST side passes on to the gRPC stack.
            sharedmetrics_gateway::http_server::serve_http(http_listener, router, &http_config, signal_http).await
        });
    }
    let startup = started.elapsed();
    tracing::info!(grpc = ?grpc_addr, http = ?http_addr, startup_ms = startup.as_millis() as u64, "serving");
    Ok(Platform { grpc_addr, http_addr, service_addrs, admin_key, startup, shutdown, tasks })
}
