//! The roles a process can run and how they depend on one another, declared in one place
//! ([`apis`]): a role run here is its real implementation on the database; any other is a
//! remote client of its configured URL. Each role's serving lives in its own module.

pub(crate) mod gateway;
pub(crate) mod services;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use sharedmetrics_access::PrincipalCodec;
use sharedmetrics_benchmarking::{BenchmarkingApi, BenchmarkingService, RemoteBenchmarking};
use sharedmetrics_commitments::{CommitmentsApi, CommitmentsService, RemoteCommitments};
use sharedmetrics_config::{Config, Target};
use sharedmetrics_definitions::directory::Directory;
use sharedmetrics_definitions::{DefinitionsApi, DefinitionsService, RemoteDefinitions};
use sharedmetrics_submissions::{RemoteSubmissions, SubmissionsApi, SubmissionsService};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The four service APIs as this process reaches them, local or remote.
#[derive(Clone)]
pub(crate) struct Apis {
    pub definitions: Arc<dyn DefinitionsApi>,
    pub submissions: Arc<dyn SubmissionsApi>,
    pub commitments: Arc<dyn CommitmentsApi>,
    pub benchmarking: Arc<dyn BenchmarkingApi>,
    /// The process's one directory of areas, organisations and metric versions.
    pub directory: Arc<Directory>,
}

/// What the roles share: the database (if any role here owns tables), the cache, the
/// per-metric data versions and the codec signing forwarded identities.
pub(crate) struct Shared {
    pub db: Option<DatabaseConnection>,
    pub cache: sharedmetrics_cache::Cache,
    pub data_versions: sharedmetrics_cache::DataVersions,
    pub codec: PrincipalCodec,
}

/// Returns every service API, building the role graph: definitions needs nothing;
/// submissions reads definitions; commitments reads definitions and submissions (published
/// observations for progress); benchmarking reads definitions and submissions. A role in
/// `roles` is built on the database; the others are remote clients.
pub(crate) fn apis(config: &Config, roles: &[Target], shared: &Shared) -> anyhow::Result<Apis> {
    let local = |role: Target| shared.db.as_ref().filter(|_| roles.contains(&role));
    let codec = &shared.codec;
    let definitions: Arc<dyn DefinitionsApi> = match local(Target::Definitions) {
        Some(db) => Arc::new(DefinitionsService::new(db.clone()).with_generations(shared.data_versions.clone())),
        None => {
            Arc::new(RemoteDefinitions::new(remote(&config.services.definitions.url, "definitions")?, codec.clone()))
        }
    };
    // One directory of areas and organisations for every role here: the hierarchies are loaded
    // once per process, not once per service.
    let mut directory =
        Directory::new(definitions.clone()).with_catchment_min_share(config.reference_data.catchment_min_share);
    // It keeps current metric versions only where it sees every change: through Redis, or
    // from the definitions service in this process (a split deployment without Redis reads
    // them afresh, as it would otherwise keep them stale).
    if shared.cache.is_shared() || roles.contains(&Target::Definitions) {
        directory = directory.with_generations(shared.data_versions.clone());
    }
    let directory = Arc::new(directory);
    let submissions: Arc<dyn SubmissionsApi> = match local(Target::Submissions) {
        Some(db) => Arc::new(
            SubmissionsService::new(db.clone(), definitions.clone(), shared.data_versions.clone())
                .with_directory(directory.clone()),
        ),
        None => {
            Arc::new(RemoteSubmissions::new(remote(&config.services.submissions.url, "submissions")?, codec.clone()))
        }
    };
    let commitments: Arc<dyn CommitmentsApi> = match local(Target::Commitments) {
        Some(db) => {
            let observations = Arc::new(sharedmetrics_commitments::PublishedObservations::new(submissions.clone()));
            Arc::new(CommitmentsService::new(db.clone(), definitions.clone(), Some(observations)))
        }
        None => {
            Arc::new(RemoteCommitments::new(remote(&config.services.commitments.url, "commitments")?, codec.clone()))
        }
    };
    let benchmarking: Arc<dyn BenchmarkingApi> = if roles.contains(&Target::Benchmarking) {
        // One DataVersions shared with the submissions service in this process, so a publication
        // invalidates cached results at once (across processes this takes Redis).
        let service = Arc::new(
            BenchmarkingService::new(
                definitions.clone(),
                submissions.clone(),
                shared.cache.clone(),
                shared.data_versions.clone(),
            )
            .with_directory(directory.clone()),
        );
        // The area hierarchy takes seconds to build; build it now, not in a user's first request.
        if config.reference_data.preload {
            let warming = service.clone();
            tokio::spawn(async move { warming.warm_up().await });
        }
        service
    } else {
        Arc::new(RemoteBenchmarking::new(remote(&config.services.benchmarking.url, "benchmarking")?, codec.clone()))
    };
    Ok(Apis { definitions, submissions, commitments, benchmarking, directory })
}

/// Returns a lazily connected channel to the service at `url` (`services.<name>.url`).
fn remote(url: &str, name: &str) -> anyhow::Result<tonic::transport::Channel> {
    Ok(tonic::transport::Channel::from_shared(url.to_owned())
        .with_context(|| format!("services.{name}.url"))?
        .connect_lazy())
}

/// Binds `addr` for `what`; returns the listener and the address it got.
pub(crate) async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding {what} on {addr}"))?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Returns a future that completes when the platform is told to stop.
pub(crate) fn stopped(shutdown: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut rx = shutdown.clone();
    async move {
        let _ = rx.wait_for(|stop| *stop).await;
    }
}
