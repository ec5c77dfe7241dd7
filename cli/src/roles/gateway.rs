//! The gateway role: the access service (keys, the bootstrap admin key), the gateway's view of
//! every service (writes audited, submitted rows held to quota), and the public gRPC and HTTP
//! ports with the middleware stack.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use sharedmetrics_access::Role;
use sharedmetrics_commitments::AuditedCommitments;
use sharedmetrics_config::Config;
use sharedmetrics_definitions::AuditedDefinitions;
use sharedmetrics_gateway::GatewayServices;
use sharedmetrics_gateway::access::{AccessService, ApiKeyAuthenticator, AuditedAccess};
use sharedmetrics_gateway::audit::{AuditLog, AuditedSubmissions};
use sharedmetrics_gateway::quota::{InFlightLimitLayer, Protection, QuotaLayer, RowQuotaSubmissions};
use sharedmetrics_submissions::SubmissionsApi;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{Apis, bind, stopped};

/// Where the gateway listens, and the admin key it created (first start only).
pub(crate) struct Gateway {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub admin_key: Option<String>,
}

/// Starts the gateway on `db` in front of `apis`; its servers run in `tasks` until `shutdown`.
pub(crate) async fn start(
    config: &Config,
    db: DatabaseConnection,
    apis: &Apis,
    cache: &sharedmetrics_cache::Cache,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<Gateway> {
    let access = AccessService::new(db.clone()).with_quotas(&config.quotas).with_key_lifetime(&config.api_keys);
    // ExplainAccess reads resources' facts through the services themselves (not their
    // audited or quota-counted views: explaining is neither a write nor the caller's load).
    access.set_explainer(sharedmetrics_gateway::explain::Explainer::new(
        apis.directory.clone(),
        apis.submissions.clone(),
        apis.commitments.clone(),
    ));
    let admin_key = bootstrap_admin_key(&access, config).await?;
    let counters = sharedmetrics_cache::WindowCounters::new(cache);
    let services = gateway_services(config, &db, apis, &access, &counters);
    let protection = Some(Protection {
        in_flight: InFlightLimitLayer::new(config.gateway.max_in_flight_requests),
        quota: QuotaLayer::new(counters, &config.quotas),
    });
    let authenticator = authenticator(config, access);
    let max_message_bytes = config.quotas.max_message_bytes;

    let (listener, grpc_addr) = bind(config.gateway.grpc_addr, "the gateway's gRPC").await?;
    // REST/JSON, CSV and gRPC-web on the HTTP port call the same gRPC stack in process, so
    // authentication, quotas, audit and deadlines apply to them exactly as on the gRPC port.
    let rest_grpc = sharedmetrics_gateway::grpc_service(
        sharedmetrics_gateway::gateway_routes(&services, max_message_bytes).routes(),
        authenticator.clone(),
        protection.clone(),
        &config.gateway,
    );
    // JSON is several times the size of the same message in protobuf.
    let rest_options =
        sharedmetrics_transcode::TranscodeOptions { max_body_bytes: max_message_bytes.saturating_mul(8) };
    let rest = sharedmetrics_transcode::router(rest_grpc, rest_options)?;
    let gateway_config = config.gateway.clone();
    let signal_grpc = stopped(shutdown);
    tasks.spawn(async move {
        let serving: Vec<&str> = sharedmetrics_proto::SERVICE_NAMES.to_vec();
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

    let (http_listener, http_addr) = bind(config.gateway.http_addr, "the gateway's HTTP").await?;
    // Readiness answers at once from the last background check, never waiting on the database.
    let health = sharedmetrics_db::DatabaseHealth::watch(
        db,
        std::time::Duration::from_millis(config.database.health_interval_ms),
    );
    let mut router = sharedmetrics_gateway::http_router(Some(health)).merge(rest);
    if let Some(cors) = sharedmetrics_gateway::cors_layer(&config.gateway) {
        router = router.layer(cors);
    }
    let signal_http = stopped(shutdown);
    let http_config = config.gateway.clone();
    tasks.spawn(async move {
        // TCP_NODELAY, header and body timeouts for slow clients, and each peer's address
        // (`ConnectInfo<SocketAddr>`), which the REST side passes on to the gRPC stack.
        sharedmetrics_gateway::http_server::serve_http(http_listener, router, &http_config, signal_http).await
    });
    Ok(Gateway { grpc_addr, http_addr, admin_key })
}

/// Returns the gateway's view of each service: writes audited, submitted rows held to quota.
fn gateway_services(
    config: &Config,
    db: &DatabaseConnection,
    apis: &Apis,
    access: &AccessService,
    counters: &sharedmetrics_cache::WindowCounters,
) -> GatewayServices {
    let audit: Arc<dyn sharedmetrics_grpc::AuditSink> = Arc::new(AuditLog::new(db.clone()));
    let row_quota: Arc<dyn SubmissionsApi> =
        Arc::new(RowQuotaSubmissions::new(apis.submissions.clone(), counters.clone(), &config.quotas));
    GatewayServices {
        definitions: Arc::new(AuditedDefinitions::new(apis.definitions.clone(), audit.clone())),
        submissions: Arc::new(AuditedSubmissions::new(row_quota, audit.clone())),
        commitments: Arc::new(AuditedCommitments::new(apis.commitments.clone(), audit.clone())),
        benchmarking: apis.benchmarking.clone(),
        access: Arc::new(AuditedAccess::new(Arc::new(access.clone()), audit)),
    }
}

/// Returns the authenticator of both ports: API keys, OIDC tokens when configured, failed
/// attempts throttled per key id and client address.
fn authenticator(config: &Config, access: AccessService) -> Arc<ApiKeyAuthenticator> {
    let oidc = sharedmetrics_gateway::oidc::OidcVerifier::new(&config.oidc);
    if oidc.is_some() {
        tracing::info!(issuer = %config.oidc.issuer, "accepting oidc bearer tokens");
    }
    let throttle = sharedmetrics_gateway::access::throttle::AuthThrottle::new(
        &config.gateway.auth_throttle,
        config.gateway.trusted_proxy_networks(),
    );
    Arc::new(ApiKeyAuthenticator::new(access).with_oidc(oidc).with_throttle(throttle))
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
    let mut out = sharedmetrics_db::create_private_file(file)?.ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the file came back while it was replaced")
    })?;
    writeln!(out, "{secret}")
}
