//! The definitions service owns what is measured and where: metrics and their immutable
//! versions, breakdown dimensions (code lists), areas and organisations with their hierarchies
//! (imported from the reference data), and peer groups. [`DefinitionsApi`] is the service's
//! contract in Rust; [`DefinitionsService`] implements it on the database, [`RemoteDefinitions`]
//! implements it over gRPC, and [`DefinitionsGrpc`] serves any implementation over gRPC.

mod convert;
pub mod directory;
pub mod entity;
pub mod import;
pub mod migration;
mod service;
mod store;
mod validate;

use sharedmetrics_access::Principal;
use sharedmetrics_error::ServiceResult;
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_server::DefinitionsService as DefinitionsServer;
use sharedmetrics_proto::sharedmetrics::definitions::v1::*;

pub use convert::DEFAULT_DISCLOSURE_THRESHOLD;
pub use migration::Migrator;
pub use service::DefinitionsService;

/// The definitions service's operations, independent of transport. Every method receives the
/// authenticated principal and enforces the access policy itself.
#[async_trait::async_trait]
pub trait DefinitionsApi: Send + Sync + 'static {
    /// Creates a metric (version 1, draft) or a new draft version of an existing one.
    async fn create_metric(
        &self,
        principal: &Principal,
        request: CreateMetricRequest,
    ) -> ServiceResult<CreateMetricResponse>;
    /// Returns a metric with its current or a named version.
    async fn get_metric(&self, principal: &Principal, request: GetMetricRequest) -> ServiceResult<GetMetricResponse>;
    /// Lists the metrics the principal may read, filtered.
    async fn list_metrics(
        &self,
        principal: &Principal,
        request: ListMetricsRequest,
    ) -> ServiceResult<ListMetricsResponse>;
    /// Publishes a draft version.
    async fn publish_metric_version(
        &self,
        principal: &Principal,
        request: PublishMetricVersionRequest,
    ) -> ServiceResult<PublishMetricVersionResponse>;
    /// Deprecates a metric.
    async fn deprecate_metric(
        &self,
        principal: &Principal,
        request: DeprecateMetricRequest,
    ) -> ServiceResult<DeprecateMetricResponse>;
    /// Lists a metric's versions, newest first.
    async fn list_metric_versions(
        &self,
        principal: &Principal,
        request: ListMetricVersionsRequest,
    ) -> ServiceResult<ListMetricVersionsResponse>;
    /// Creates a custom dimension.
    async fn create_dimension(
        &self,
        principal: &Principal,
        request: CreateDimensionRequest,
    ) -> ServiceResult<CreateDimensionResponse>;
    /// Lists dimensions with their codes.
    async fn list_dimensions(
        &self,
        principal: &Principal,
        request: ListDimensionsRequest,
    ) -> ServiceResult<ListDimensionsResponse>;
    /// Returns one area with its parents.
    async fn get_area(&self, principal: &Principal, request: GetAreaRequest) -> ServiceResult<GetAreaResponse>;
    /// Lists areas by type, parent and text.
    async fn list_areas(&self, principal: &Principal, request: ListAreasRequest) -> ServiceResult<ListAreasResponse>;
    /// Returns one organisation.
    async fn get_organisation(
        &self,
        principal: &Principal,
        request: GetOrganisationRequest,
    ) -> ServiceResult<GetOrganisationResponse>;
    /// Lists organisations by type, parent and text.
    async fn list_organisations(
        &self,
        principal: &Principal,
        request: ListOrganisationsRequest,
    ) -> ServiceResult<ListOrganisationsResponse>;
    /// Creates a peer group or a new version of one.
    async fn create_peer_group(
        &self,
        principal: &Principal,
        request: CreatePeerGroupRequest,
    ) -> ServiceResult<CreatePeerGroupResponse>;
    /// Lists peer groups.
    async fn list_peer_groups(
        &self,
        principal: &Principal,
        request: ListPeerGroupsRequest,
    ) -> ServiceResult<ListPeerGroupsResponse>;
}

sharedmetrics_grpc::service_adapters! {
    api: DefinitionsApi,
    service: "sharedmetrics.definitions.v1.DefinitionsService",
    server_trait: DefinitionsServer,
    grpc_client: DefinitionsServiceClient,
    adapter: DefinitionsGrpc,
    remote: RemoteDefinitions,
    audited: AuditedDefinitions,
    methods: {
        create_metric(CreateMetricRequest) -> CreateMetricResponse => |r| format!("metric/{}", r.spec.as_ref().map(|s| s.code.as_str()).unwrap_or_default());
        get_metric(GetMetricRequest) -> GetMetricResponse;
        list_metrics(ListMetricsRequest) -> ListMetricsResponse;
        publish_metric_version(PublishMetricVersionRequest) -> PublishMetricVersionResponse => |r| format!("metric/{}@{}", r.code, r.version);
        deprecate_metric(DeprecateMetricRequest) -> DeprecateMetricResponse => |r| format!("metric/{}", r.code);
        list_metric_versions(ListMetricVersionsRequest) -> ListMetricVersionsResponse;
        create_dimension(CreateDimensionRequest) -> CreateDimensionResponse => |r| format!("dimension/{}", r.dimension.as_ref().map(|d| d.code.as_str()).unwrap_or_default());
        list_dimensions(ListDimensionsRequest) -> ListDimensionsResponse;
        get_area(GetAreaRequest) -> GetAreaResponse;
        list_areas(ListAreasRequest) -> ListAreasResponse;
        get_organisation(GetOrganisationRequest) -> GetOrganisationResponse;
        list_organisations(ListOrganisationsRequest) -> ListOrganisationsResponse;
        create_peer_group(CreatePeerGroupRequest) -> CreatePeerGroupResponse => |r| format!("peer-group/{}", r.peer_group.as_ref().map(|g| g.code.as_str()).unwrap_or_default());
        list_peer_groups(ListPeerGroupsRequest) -> ListPeerGroupsResponse;
    }
}
