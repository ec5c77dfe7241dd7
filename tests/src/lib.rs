//! The end-to-end sandbox: starts the platform on `127.0.0.1:0` in either topology (one
//! process with `--target all`, or the definitions service and the gateway as separate servers
//! talking gRPC), on a fresh PostgreSQL database or a fresh SQLite file, with the real
//! reference data, and hands out authenticated gRPC clients.

pub mod servers;
pub mod suite;

pub use suite::{BoxFuture, Scene, Suite};

use std::path::PathBuf;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database};
use sharedmetrics::Platform;
use sharedmetrics_config::{Config, Secret, Target};
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, CiMethod, PeriodType, Polarity, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;
use sharedmetrics_proto::sharedmetrics::definitions::v1::{
    Area, CreateMetricRequest, ListAreasRequest, MetricVersionSpec, Visibility,
};
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::{
    ObservationRow, PublishSubmissionRequest, SubmissionHeader, SubmissionMode, SubmissionReceipt,
    SubmitObservationsRequest,
};
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Where the platform stores its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh PostgreSQL database on the local server (`TEST_POSTGRES_URL`, default
    /// `postgres://postgres@127.0.0.1:5432`).
    Postgres,
    /// A fresh SQLite file in a temporary folder.
    Sqlite,
}

/// How the roles are deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Everything in one server; the gateway calls the services in process.
    SingleBinary,
    /// Every service in its own server; the gateway
    /// calls them over gRPC, and they call one another over gRPC too.
    Split,
}

/// A running platform for one test run.
pub struct Sandbox {
    /// The gateway's gRPC channel.
    pub channel: Channel,
    /// The gateway's HTTP address.
    pub http_addr: std::net::SocketAddr,
    /// The bootstrap admin key (organisation X24, every role).
    pub admin_key: String,
    /// The token services verify forwarded identities with (for calling a service directly).
    pub internal_token: String,
    grpc_addr: std::net::SocketAddr,
    /// The servers, taken out when the sandbox stops (a shared scene stops behind `&self`).
    platforms: std::sync::Mutex<Vec<Platform>>,
    scratch: PathBuf,
    postgres_database: Option<String>,
    postgres_server: String,
    database_url: String,
}

/// A client interceptor adding `authorization: Bearer <key>`.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel that authenticates with a key (or none).
pub type AuthChannel = InterceptedService<Channel, Bearer>;

/// The name of every sandbox database begins with this, then its start time in Unix seconds.
const DATABASE_PREFIX: &str = "sm_test_";

/// Drops, once per process, the sandbox databases started over six hours ago (longer than any
/// run lasts): what a killed run, or a shared scene whose scenarios were filtered, left behind.
async fn sweep_stale_databases(admin: &sea_orm::DatabaseConnection, now: u64) -> anyhow::Result<()> {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    let listed = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{DATABASE_PREFIX}%'"),
        ))
        .await?;
    for row in listed {
        let name: String = row.try_get("", "datname")?;
        let started = name.strip_prefix(DATABASE_PREFIX).and_then(|rest| rest.split('_').next()?.parse::<u64>().ok());
        // Names without a start time come from before it was recorded: stale by now.
        if started.is_none_or(|started| now.saturating_sub(started) > 6 * 3600) {
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
        }
    }
    Ok(())
}

fn postgres_server_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

impl Sandbox {
    /// Starts the platform on a fresh database in the given topology.
    pub async fn start(backend: Backend, topology: Topology) -> anyhow::Result<Self> {
        Self::start_with(backend, topology, |_| {}).await
    }

    /// Starts the platform like [`Sandbox::start`], with `configure` applied to its
    /// configuration last (quotas, OIDC).
    pub async fn start_with(
        backend: Backend,
        topology: Topology,
        configure: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        Self::start_on(backend, topology, &postgres_server_url(), configure).await
    }

    /// Starts the platform like [`Sandbox::start_with`], its PostgreSQL database made on the
    /// server at `postgres_server` (a server the test owns, see [`servers`]).
    pub async fn start_on(
        backend: Backend,
        topology: Topology,
        postgres_server: &str,
        configure: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let scratch = std::env::temp_dir().join(format!("sharedmetrics-e2e-{run}"));
        std::fs::create_dir_all(&scratch)?;
        let (database_url, postgres_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}?mode=rwc", scratch.join("sm.db").display()), None),
            Backend::Postgres => {
                // The start time in the name lets a later run sweep what a killed one left.
                let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
                let name = format!("{DATABASE_PREFIX}{started}_{run}");
                let admin = Database::connect(format!("{postgres_server}/postgres"))
                    .await
                    .context("connecting to PostgreSQL")?;
                sweep_stale_databases(&admin, started).await?;
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                admin.close().await?;
                (format!("{postgres_server}/{name}"), Some(name))
            }
        };
        let database_url_copy = database_url.clone();
        let mut config = Config::default();
        config.database.url = Secret::new(database_url);
        config.gateway.grpc_addr = "127.0.0.1:0".parse()?;
        config.gateway.http_addr = "127.0.0.1:0".parse()?;
        config.services.definitions.listen_addr = "127.0.0.1:0".parse()?;
        config.services.submissions.listen_addr = "127.0.0.1:0".parse()?;
        config.services.commitments.listen_addr = "127.0.0.1:0".parse()?;
        config.services.benchmarking.listen_addr = "127.0.0.1:0".parse()?;
        config.services.internal_token = Secret::new(format!("token-{run}"));
        config.bootstrap.admin_key_file = PathBuf::new();
        // Many sandboxes share two cores: build the area hierarchy only where a test needs it.
        config.reference_data.preload = false;
        if backend == Backend::Postgres || topology == Topology::Split {
            // The PostgreSQL runs and every split run use the real Redis (cache and data
            // versions shared between processes, as the Helm chart deploys them); the SQLite
            // single-binary runs keep the in-process fallback, as the embedded default does.
            let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
            config.redis.url = Some(Secret::new(redis));
            config.redis.key_prefix = format!("e2e:{run}:");
        }

        configure(&mut config);
        let internal_token = config.services.internal_token.expose().to_owned();
        let mut platforms = Vec::new();
        let gateway = match topology {
            Topology::SingleBinary => sharedmetrics::start(config, &[Target::All]).await?,
            Topology::Split => {
                // Each service is its own server; the submissions service reads definitions over
                // gRPC, as the gateway does.
                let definitions = sharedmetrics::start(config.clone(), &[Target::Definitions]).await?;
                config.services.definitions.url = format!("http://{}", definitions.service_addrs[&Target::Definitions]);
                platforms.push(definitions);
                let submissions = sharedmetrics::start(config.clone(), &[Target::Submissions]).await?;
                config.services.submissions.url = format!("http://{}", submissions.service_addrs[&Target::Submissions]);
                platforms.push(submissions);
                let commitments = sharedmetrics::start(config.clone(), &[Target::Commitments]).await?;
                config.services.commitments.url = format!("http://{}", commitments.service_addrs[&Target::Commitments]);
                platforms.push(commitments);
                let benchmarking = sharedmetrics::start(config.clone(), &[Target::Benchmarking]).await?;
                config.services.benchmarking.url =
                    format!("http://{}", benchmarking.service_addrs[&Target::Benchmarking]);
                platforms.push(benchmarking);
                sharedmetrics::start(config, &[Target::Gateway]).await?
            }
        };
        let grpc_addr = gateway.grpc_addr.context("the gateway listens")?;
        let http_addr = gateway.http_addr.context("the gateway listens on HTTP")?;
        let admin_key = gateway.admin_key.clone().context("a fresh store gets an admin key")?;
        platforms.push(gateway);
        let channel = Channel::from_shared(format!("http://{grpc_addr}"))?.connect().await?;
        Ok(Self {
            channel,
            http_addr,
            admin_key,
            internal_token,
            grpc_addr,
            platforms: std::sync::Mutex::new(platforms),
            scratch,
            postgres_database,
            postgres_server: postgres_server.to_owned(),
            database_url: database_url_copy,
        })
    }

    /// Returns the gateway's gRPC URL, for clients that connect on their own (the CLI).
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// Returns the PostgreSQL URL of the sandbox's database, for measurements beside the platform.
    pub fn database_url(&self) -> Option<&str> {
        self.postgres_database.as_ref().map(|_| self.database_url.as_str())
    }

    /// Returns a channel authenticating with `key` (or anonymous with none).
    pub fn with_key(&self, key: Option<&str>) -> AuthChannel {
        let value = key.map(|k| format!("Bearer {k}").parse().expect("a key is ascii"));
        InterceptedService::new(self.channel.clone(), Bearer(value))
    }

    /// Creates, as the admin, an API key for `organisation` with `roles`; returns a channel
    /// authenticating with it and the key's id.
    pub async fn create_key(
        &self,
        organisation: &str,
        roles: &[sharedmetrics_proto::sharedmetrics::access::v1::Role],
    ) -> anyhow::Result<(AuthChannel, String)> {
        use sharedmetrics_proto::sharedmetrics::access::v1::CreateApiKeyRequest;
        use sharedmetrics_proto::sharedmetrics::access::v1::access_service_client::AccessServiceClient;
        let response = AccessServiceClient::new(self.admin())
            .create_api_key(CreateApiKeyRequest {
                name: format!("{organisation} test key"),
                roles: roles.iter().map(|r| *r as i32).collect(),
                organisation_code: organisation.to_owned(),
                expires_at: None,
            })
            .await?
            .into_inner();
        let key_id = response.api_key.context("the key is described")?.key_id;
        Ok((self.with_key(Some(&response.secret)), key_id))
    }

    /// Creates, as the admin, an API key for `organisation` with `roles`; returns a channel
    /// authenticating with it.
    pub async fn key(
        &self,
        organisation: &str,
        roles: &[sharedmetrics_proto::sharedmetrics::access::v1::Role],
    ) -> AuthChannel {
        self.create_key(organisation, roles).await.expect("the admin creates keys").0
    }

    /// Defines `spec` as the admin, published or as a draft.
    pub async fn define(&self, spec: MetricVersionSpec, publish: bool) {
        DefinitionsServiceClient::new(self.admin())
            .create_metric(CreateMetricRequest { spec: Some(spec), new_version: false, publish })
            .await
            .expect("the admin defines test metrics");
    }

    /// Lists, as the admin, every area of `area_type` (under `parent`, or in England when it
    /// is empty), page by page.
    pub async fn areas(&self, area_type: AreaType, parent: &str) -> Vec<Area> {
        let mut definitions = DefinitionsServiceClient::new(self.admin());
        let mut areas = Vec::new();
        let mut token = String::new();
        loop {
            let page = definitions
                .list_areas(ListAreasRequest {
                    r#type: area_type as i32,
                    parent_code: parent.to_owned(),
                    page_size: 1000,
                    page_token: token,
                    ..Default::default()
                })
                .await
                .expect("the admin lists areas")
                .into_inner();
            areas.extend(page.areas);
            if page.next_page_token.is_empty() {
                return areas;
            }
            token = page.next_page_token;
        }
    }

    /// Submits `rows` of `metric` as the admin (merged into what is there) and publishes them
    /// at once.
    pub async fn publish_rows(&self, metric: &str, rows: Vec<ObservationRow>) -> SubmissionReceipt {
        submit_and_publish(&self.admin(), metric, rows).await
    }

    /// Returns the URL of a service's own gRPC port (split topology only).
    pub fn service_url(&self, target: Target) -> Option<String> {
        self.platforms().iter().find_map(|p| p.service_addrs.get(&target)).map(|addr| format!("http://{addr}"))
    }

    /// Returns a channel authenticating as the bootstrap admin.
    pub fn admin(&self) -> AuthChannel {
        self.with_key(Some(&self.admin_key))
    }

    fn platforms(&self) -> std::sync::MutexGuard<'_, Vec<Platform>> {
        self.platforms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the servers and drops the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop_in_place().await
    }

    /// Stops the servers, drops the database and removes the scratch folder, leaving the
    /// sandbox unusable: for a scene shared behind a reference.
    pub(crate) async fn stop_in_place(&self) -> anyhow::Result<()> {
        let platforms = std::mem::take(&mut *self.platforms());
        for platform in platforms.into_iter().rev() {
            platform.shutdown().await?;
        }
        if let Some(name) = &self.postgres_database {
            let admin = Database::connect(format!("{}/postgres", self.postgres_server)).await?;
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
            admin.close().await?;
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
        Ok(())
    }
}

/// A public proportion (per cent, Wilson intervals, high is good) by financial year, at LSOA and
/// district level, broken down by sex and IMD decile, owned by the platform's admin organisation
/// (X24) and valid from April 2020: the metric most scenarios need, adjusted field by field.
pub fn proportion(code: &str) -> MetricVersionSpec {
    MetricVersionSpec {
        code: code.to_owned(),
        title: format!("Test indicator {code}"),
        value_type: ValueType::Proportion as i32,
        multiplier: 100,
        unit: "%".into(),
        polarity: Polarity::HighIsGood as i32,
        ci_method: CiMethod::Wilson as i32,
        period_type: PeriodType::FinancialYear as i32,
        area_types: vec![AreaType::Lsoa as i32, AreaType::LocalAuthorityDistrict as i32],
        dimensions: vec!["sex".into(), "imd_decile".into()],
        owners: vec!["X24".into()],
        visibility: Visibility::Public as i32,
        valid_from: "2020-04-01".into(),
        ..Default::default()
    }
}

/// Submits `rows` of `metric` (merged into what is there) as `client`'s organisation.
pub async fn submit_rows(client: &AuthChannel, metric: &str, rows: Vec<ObservationRow>) -> SubmissionReceipt {
    SubmissionsServiceClient::new(client.clone())
        .submit_observations(SubmitObservationsRequest {
            header: Some(SubmissionHeader {
                metric_code: metric.into(),
                mode: SubmissionMode::Merge as i32,
                ..Default::default()
            }),
            rows,
        })
        .await
        .expect("the rows are submitted")
        .into_inner()
        .receipt
        .expect("a receipt")
}

/// Submits `rows` of `metric` as `client`'s organisation and publishes what was accepted.
pub async fn submit_and_publish(client: &AuthChannel, metric: &str, rows: Vec<ObservationRow>) -> SubmissionReceipt {
    let receipt = submit_rows(client, metric, rows).await;
    SubmissionsServiceClient::new(client.clone())
        .publish_submission(PublishSubmissionRequest {
            submission_id: receipt.submission_id.clone(),
            embargo_until: None,
        })
        .await
        .expect("the submission is published");
    receipt
}
