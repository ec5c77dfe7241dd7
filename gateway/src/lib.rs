//! The gateway: the platform's one public endpoint. It authenticates every request (API keys),
//! routes each RPC to its service (in process under `--target all`, over gRPC when split),
//! serves gRPC health and reflection, owns the access service (API keys, WhoAmI), and serves
//! the HTTP side (health probes). The same [`serve_grpc`] also serves a split service, behind
//! the forwarded-identity check instead of API keys.

pub mod access;
pub mod audit;
pub mod dashboard;
pub mod explain;
pub mod http_server;
pub mod oidc;
pub mod quota;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sharedmetrics_benchmarking::{BenchmarkingApi, BenchmarkingGrpc};
use sharedmetrics_commitments::{CommitmentsApi, CommitmentsGrpc};
use sharedmetrics_config::GatewayConfig;
use sharedmetrics_definitions::{DefinitionsApi, DefinitionsGrpc};
use sharedmetrics_grpc::{
    Authenticator, DefaultDeadlineLayer, IdentityLayer, ServerTelemetryLayer, StreamIdleTimeoutLayer,
};
use sharedmetrics_proto::sharedmetrics::access::v1::access_service_server::AccessServiceServer;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_server::BenchmarkingServiceServer;
use sharedmetrics_proto::sharedmetrics::commitments::v1::commitments_service_server::CommitmentsServiceServer;
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_server::DefinitionsServiceServer;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_server::SubmissionsServiceServer;
use sharedmetrics_submissions::{SubmissionsApi, SubmissionsGrpc};
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tower::util::BoxCloneSyncService;

use crate::access::{AccessApi, AccessGrpc};

/// What the gateway routes to: each service's API, local or remote.
#[derive(Clone)]
pub struct GatewayServices {
    /// The definitions service.
    pub definitions: Arc<dyn DefinitionsApi>,
    /// The submissions service.
    pub submissions: Arc<dyn SubmissionsApi>,
    /// The commitments service.
    pub commitments: Arc<dyn CommitmentsApi>,
    /// The benchmarking service.
    pub benchmarking: Arc<dyn BenchmarkingApi>,
    /// The access service (always in the gateway's process).
    pub access: Arc<dyn AccessApi>,
}

/// Returns the gateway's routes: every service of the contract, each refusing a message larger
/// than `max_message_bytes` (RESOURCE_EXHAUSTED) before decoding it.
pub fn gateway_routes(services: &GatewayServices, max_message_bytes: usize) -> RoutesBuilder {
    let mut routes = RoutesBuilder::default();
    routes
        .add_service(
            DefinitionsServiceServer::new(DefinitionsGrpc(services.definitions.clone()))
                .max_decoding_message_size(max_message_bytes),
        )
        .add_service(
            AccessServiceServer::new(AccessGrpc(services.access.clone())).max_decoding_message_size(max_message_bytes),
        )
        .add_service(
            SubmissionsServiceServer::new(SubmissionsGrpc(services.submissions.clone()))
                .max_decoding_message_size(max_message_bytes),
        )
        .add_service(
            CommitmentsServiceServer::new(CommitmentsGrpc(services.commitments.clone()))
                .max_decoding_message_size(max_message_bytes),
        )
        .add_service(
            BenchmarkingServiceServer::new(BenchmarkingGrpc(services.benchmarking.clone()))
                .max_decoding_message_size(max_message_bytes),
        );
    routes
}

/// Serves `routes` on `listener` with health, reflection and the identity layer, until
/// `shutdown` completes. `serving` lists the services health reports as SERVING.
pub async fn serve_grpc(
    listener: TcpListener,
    mut routes: RoutesBuilder,
    serving: &[&str],
    authenticator: Arc<dyn Authenticator>,
    protection: Option<quota::Protection>,
    config: &GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in serving {
        reporter.set_service_status(name, ServingStatus::Serving).await;
    }
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(sharedmetrics_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(sharedmetrics_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    routes.add_service(health).add_service(reflection_v1).add_service(reflection_v1alpha);

    // TCP_NODELAY on every accepted connection: with Nagle's algorithm an answer of more than one
    // segment waits for the client's delayed ACK (40 ms on Linux) before its last segment.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let service = grpc_service(routes.routes(), authenticator, protection, config);
    let millis = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
    tonic::transport::Server::builder()
        // Past the concurrency limit, refuse at once rather than queue without bound.
        .concurrency_limit_per_connection(config.max_concurrent_requests)
        .load_shed(true)
        // Ping each connection's peer, and close the connection (ending its calls) when a ping
        // goes unanswered: a vanished client's streams are not held until TCP notices.
        .http2_keepalive_interval(millis(config.http2_keepalive_interval_ms))
        .http2_keepalive_timeout(Some(Duration::from_millis(config.http2_keepalive_timeout_ms)))
        // gRPC-web (HTTP/1.1, `application/grpc-web*`) so a browser page can call the API; plain
        // gRPC passes through untouched.
        .accept_http1(true)
        .layer(tower::ServiceBuilder::new().option_layer(cors_layer(config)).layer(tonic_web::GrpcWebLayer::new()))
        .serve_with_incoming_shutdown(service, incoming, shutdown)
        .await?;
    Ok(())
}

/// Returns the CORS layer for `gateway.cors_allowed_origins`, or none when the list is empty
/// (browsers then allow the platform's own origin only). Preflights are answered here; the
/// headers a client sends (credentials, gRPC-web's, a deadline) are allowed, and the ones it
/// must read (the gRPC status, retry-after, the CSV file name) exposed.
pub fn cors_layer(config: &GatewayConfig) -> Option<tower_http::cors::CorsLayer> {
    use http::{HeaderName, HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if config.cors_allowed_origins.is_empty() {
        return None;
    }
    let origins = if config.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Config::validate has checked each origin's form.
        AllowOrigin::list(config.cors_allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let name = HeaderName::from_static;
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                name("x-api-key"),
                name("x-grpc-web"),
                name("x-user-agent"),
                name("grpc-timeout"),
                name("traceparent"),
            ])
            .expose_headers([
                name("grpc-status"),
                name("grpc-message"),
                name("grpc-status-details-bin"),
                header::RETRY_AFTER,
                header::CONTENT_DISPOSITION,
            ])
            .max_age(Duration::from_secs(3600)),
    )
}

/// The gRPC side as one cloneable tower service: the routes behind the gateway's middleware.
pub type GrpcService =
    BoxCloneSyncService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, Infallible>;

/// Wraps `routes` in the gateway's middleware stack. Both the gRPC port ([`serve_grpc`]) and the
/// REST transcoder (which calls this service in process) use it, so authentication, deadlines,
/// quotas, audit and metrics apply to every call identically, whichever door it came in by.
pub fn grpc_service(
    routes: tonic::service::Routes,
    authenticator: Arc<dyn Authenticator>,
    protection: Option<quota::Protection>,
    config: &GatewayConfig,
) -> GrpcService {
    let (in_flight, quota) = protection.map(|p| (p.in_flight, p.quota)).unzip();
    let known_rpcs = sharedmetrics_grpc::rpc_paths(&[
        sharedmetrics_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]);
    let deadline = DefaultDeadlineLayer::new(
        Duration::from_millis(config.default_timeout_ms),
        sharedmetrics_grpc::streaming_methods(sharedmetrics_proto::FILE_DESCRIPTOR_SET),
    )
    .with_rpc_deadlines(&config.rpc_timeouts_ms, &known_rpcs);
    let stream_idle = (config.grpc_stream_idle_timeout_ms > 0)
        .then(|| StreamIdleTimeoutLayer::new(Duration::from_millis(config.grpc_stream_idle_timeout_ms)));
    // The middleware, outermost first: each request passes these top to bottom.
    let service = tower::ServiceBuilder::new()
        // Telemetry first, so it sees every answer, refusals below included: a server span per
        // RPC joined to the caller's traceparent, and the RPC's count by code and its latency.
        .layer(ServerTelemetryLayer::new(known_rpcs))
        // Past the process's bound on requests in flight (both doors), refuse at once.
        .option_layer(in_flight)
        // A unary call without its own deadline gets the default one; bulk streams run as long
        // as their data takes (a client's grpc-timeout still applies to them).
        .layer(deadline)
        // ... but not as long as their client stays silent: a stream that sends nothing for the
        // idle timeout ends (DEADLINE_EXCEEDED), storing nothing.
        .option_layer(stream_idle)
        // Who is calling: every handler below sees the principal (or its absence).
        .layer(IdentityLayer::new(authenticator))
        // Per-principal requests per minute (the gateway only; services behind it trust it).
        .option_layer(quota)
        .service(routes);
    BoxCloneSyncService::new(service)
}

/// Returns the HTTP side: liveness (the process answers), readiness (the store answered its
/// last background check; answered at once) and the process's telemetry in the Prometheus text
/// format at `/metrics`.
pub fn http_router(health: Option<sharedmetrics_db::DatabaseHealth>) -> axum::Router {
    use axum::http::StatusCode;
    use axum::routing::get;
    let metrics = get(|| async {
        let text = sharedmetrics_telemetry::PlatformTelemetry::global().encode_text();
        ([(http::header::CONTENT_TYPE, sharedmetrics_telemetry::exposition::CONTENT_TYPE)], text)
    });
    let ready = get(move || {
        let up = health.as_ref().is_none_or(sharedmetrics_db::DatabaseHealth::is_up);
        async move { if up { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "database unavailable") } }
    });
    // The web dashboard (`/`, `/dashboard/…`) is served beside the probes, on the API's origin.
    axum::Router::new()
        .merge(dashboard::router())
        .route("/metrics", metrics)
        .route("/health/livez", get(|| async { "ok" }))
        .route("/health/readyz", ready)
}
