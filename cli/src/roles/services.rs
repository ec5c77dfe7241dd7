//! The services' own gRPC servers, for a process that runs services without the gateway (the
//! split topology): each verifies the identity the gateway forwards, signed with the internal
//! token.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use sharedmetrics_access::PrincipalCodec;
use sharedmetrics_benchmarking::BenchmarkingGrpc;
use sharedmetrics_commitments::CommitmentsGrpc;
use sharedmetrics_config::{Config, ServiceEndpoint, Target};
use sharedmetrics_definitions::DefinitionsGrpc;
use sharedmetrics_grpc::ForwardedIdentity;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_server::BenchmarkingServiceServer;
use sharedmetrics_proto::sharedmetrics::commitments::v1::commitments_service_server::CommitmentsServiceServer;
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_server::DefinitionsServiceServer;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_server::SubmissionsServiceServer;
use sharedmetrics_submissions::SubmissionsGrpc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::service::RoutesBuilder;

use super::{Apis, bind, stopped};

/// Serves each service role in `roles` on its own port; returns where each listens.
pub(crate) async fn serve(
    config: &Config,
    roles: &[Target],
    apis: &Apis,
    codec: &PrincipalCodec,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<BTreeMap<Target, SocketAddr>> {
    let mut addrs = BTreeMap::new();
    for role in [Target::Definitions, Target::Submissions, Target::Benchmarking, Target::Commitments] {
        if !roles.contains(&role) {
            continue;
        }
        let (endpoint, routes, name) = routes_of(config, role, apis);
        let (listener, addr) = bind(endpoint.listen_addr, role.name()).await?;
        addrs.insert(role, addr);
        let authenticator = Arc::new(ForwardedIdentity::new(codec.clone()));
        let gateway_config = config.gateway.clone();
        let signal = stopped(shutdown);
        tasks.spawn(async move {
            sharedmetrics_gateway::serve_grpc(listener, routes, &[name], authenticator, None, &gateway_config, signal)
                .await
        });
        tracing::info!(service = role.name(), %addr, "service serving grpc");
    }
    Ok(addrs)
}

/// Returns a service role's endpoint, its gRPC routes and its full service name.
fn routes_of<'a>(config: &'a Config, role: Target, apis: &Apis) -> (&'a ServiceEndpoint, RoutesBuilder, &'static str) {
    let mut routes = RoutesBuilder::default();
    match role {
        Target::Definitions => {
            routes.add_service(DefinitionsServiceServer::new(DefinitionsGrpc(apis.definitions.clone())));
            (&config.services.definitions, routes, "sharedmetrics.definitions.v1.DefinitionsService")
        }
        Target::Submissions => {
            routes.add_service(SubmissionsServiceServer::new(SubmissionsGrpc(apis.submissions.clone())));
            (&config.services.submissions, routes, "sharedmetrics.submissions.v1.SubmissionsService")
        }
        Target::Benchmarking => {
            routes.add_service(BenchmarkingServiceServer::new(BenchmarkingGrpc(apis.benchmarking.clone())));
            (&config.services.benchmarking, routes, "sharedmetrics.benchmarking.v1.BenchmarkingService")
        }
        _ => {
            routes.add_service(CommitmentsServiceServer::new(CommitmentsGrpc(apis.commitments.clone())));
            (&config.services.commitments, routes, "sharedmetrics.commitments.v1.CommitmentsService")
        }
    }
}
