//! Starts the platform: any set of roles ([`Target`]s) in one process. Under `--target all`
//! the gateway calls the services in process; with roles in separate processes it calls them
//! over gRPC, and each service verifies the identity the gateway forwards. Start-up migrates
//! the store, imports the reference data and starter catalogue into an empty store, and
//! creates the first admin API key, so `make run` needs no set-up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use sharedmetrics_access::PrincipalCodec;
use sharedmetrics_config::{Config, Target};
use sharedmetrics_definitions::import::Folder;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use sharedmetrics_config as config;

mod roles;
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
pub async fn import_reference_data(db: &DatabaseConnection, data: &Folder, catalogue: &Folder) -> anyhow::Result<()> {
    let started = Instant::now();
    match sharedmetrics_definitions::import::import_reference_data(db, data)
        .await
        .with_context(|| format!("importing reference data from {}", data.describe()))?
    {
        Some(report) => tracing::info!(
            areas = ?report.areas,
            organisations = ?report.organisations,
            districts_without_icb = report.districts_without_icb,
            districts_straddling_icbs = report.districts_straddling_icbs.len(),
            councils_without_area = ?report.councils_without_area,
            trusts_with_catchment = report.trusts_with_catchment,
            retired_trusts = ?report.retired_trusts,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "reference data imported"
        ),
        None => tracing::debug!("reference data already present"),
    }
    match sharedmetrics_definitions::import::import_catalogue(db, catalogue)
        .await
        .with_context(|| format!("importing the starter catalogue from {}", catalogue.describe()))?
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
pub async fn import_reference_values(db: &DatabaseConnection, values: &Folder) -> anyhow::Result<()> {
    let report = sharedmetrics_commitments::import::import_reference_values(db, values)
        .await
        .with_context(|| format!("importing reference values from {}", values.describe()))?;
    tracing::debug!(?report, "reference values checked");
    Ok(())
}

/// Starts the given roles and returns once every listener is serving.
pub async fn start(config: Config, targets: &[Target]) -> anyhow::Result<Platform> {
    let started = Instant::now();
    let roles = Target::expand(targets);
    let has = |t: Target| roles.contains(&t);
    let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
    tracing::info!(roles = ?names, "starting");

    let db = prepare_store(&config, &roles).await?;
    let cache = sharedmetrics_cache::Cache::connect(&config.redis).await.context("connecting to Redis")?;
    let shared = roles::Shared {
        db,
        data_versions: sharedmetrics_cache::DataVersions::new(&cache),
        cache,
        codec: PrincipalCodec::new(config.services.internal_token.expose()),
    };
    let apis = roles::apis(&config, &roles, &shared)?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    // Services run on their own ports only when the gateway is not in this process.
    let service_addrs = if has(Target::Gateway) {
        BTreeMap::new()
    } else {
        roles::services::serve(&config, &roles, &apis, &shared.codec, &shutdown_rx, &mut tasks).await?
    };
    let gateway = match &shared.db {
        Some(db) if has(Target::Gateway) => {
            Some(roles::gateway::start(&config, db.clone(), &apis, &shared.cache, &shutdown_rx, &mut tasks).await?)
        }
        _ => None,
    };
    let (grpc_addr, http_addr) = (gateway.as_ref().map(|g| g.grpc_addr), gateway.as_ref().map(|g| g.http_addr));
    let admin_key = gateway.and_then(|g| g.admin_key);
    let startup = started.elapsed();
    tracing::info!(grpc = ?grpc_addr, http = ?http_addr, startup_ms = startup.as_millis() as u64, "serving");
    Ok(Platform { grpc_addr, http_addr, service_addrs, admin_key, startup, shutdown, tasks })
}

/// Connects to the database when a role here owns tables, migrates it and loads the reference
/// data each role needs into an empty store.
async fn prepare_store(config: &Config, roles: &[Target]) -> anyhow::Result<Option<DatabaseConnection>> {
    let has = |t: Target| roles.contains(&t);
    if ![Target::Gateway, Target::Definitions, Target::Submissions, Target::Commitments].into_iter().any(has) {
        return Ok(None);
    }
    let db = sharedmetrics_db::connect(&config.database).await.context("connecting to the database")?;
    if config.database.migrate_on_start {
        migrate(&db, roles).await?;
    }
    if has(Target::Definitions) && config.reference_data.import_on_start {
        let reference = &config.reference_data;
        import_reference_data(
            &db,
            &Folder::reference_data(Some(&reference.dir)),
            &Folder::catalogue(Some(&reference.catalogue_dir)),
        )
        .await?;
    }
    if has(Target::Commitments) && config.reference_data.import_on_start {
        import_reference_values(&db, &Folder::values(Some(&config.reference_data.values_dir))).await?;
    }
    Ok(Some(db))
}
