//! The end-to-end sandbox: starts the platform on `127.0.0.1:0` in either topology (one
//! process with `--target all`, or the definitions service and the gateway as separate servers
//! talking gRPC), on a fresh PostgreSQL database or a fresh SQLite file, with the real
//! reference data, and hands out authenticated gRPC clients.

pub mod servers;

use std::path::PathBuf;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database};
use sharedmetrics::Platform;
use sharedmetrics_config::{Config, Secret, Target};
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
    platforms: Vec<Platform>,
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

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_owned()
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
                let name = format!("sm_test_{run}");
                let admin = Database::connect(format!("{postgres_server}/postgres"))
                    .await
                    .context("connecting to PostgreSQL")?;
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                admin.close().await?;
                (format!("{postgres_server}/{name}"), Some(name))
            }
        };
        let root = workspace_root();
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
        config.reference_data.dir = root.parent().expect("a parent").join("shared/data");
        config.reference_data.catalogue_dir = root.join("data/catalogue");
        config.reference_data.values_dir = root.join("data/reference");
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
            platforms,
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

    /// Returns the URL of a service's own gRPC port (split topology only).
    pub fn service_url(&self, target: Target) -> Option<String> {
        self.platforms.iter().find_map(|p| p.service_addrs.get(&target)).map(|addr| format!("http://{addr}"))
    }

    /// Returns a channel authenticating as the bootstrap admin.
    pub fn admin(&self) -> AuthChannel {
        self.with_key(Some(&self.admin_key))
    }

    /// Stops the servers and drops the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        for platform in self.platforms.into_iter().rev() {
            platform.shutdown().await?;
        }
        if let Some(name) = self.postgres_database {
            let admin = Database::connect(format!("{}/postgres", self.postgres_server)).await?;
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
            admin.close().await?;
        }
        let _ = std::fs::remove_dir_all(self.scratch);
        Ok(())
    }
}
