//! The benchmarking service owns the statistics the platform publishes about stored data: each
//! area's value and confidence limits computed from numerators and denominators (aggregated up
//! the area hierarchies when an area's own figures were not submitted), comparisons with a
//! benchmark, quintiles and ranks, recent trends, inequality across ordered breakdowns and area
//! profiles, plus a stateless calculator over counts given in the request. It owns no tables:
//! observations come from the submissions service (read with the caller's principal, so
//! disclosure control is already applied) and metrics, dimensions and areas from the definitions
//! service. Answers are cached keyed on each metric's data generation, so a publication
//! invalidates exactly the answers that read that metric. [`BenchmarkingApi`] is the contract in
//! Rust; [`BenchmarkingService`] implements it; [`BenchmarkingGrpc`] serves any implementation
//! over gRPC and [`RemoteBenchmarking`] calls one over gRPC. The rules are in
//! `docs/benchmarking.md`.

#![forbid(unsafe_code)]

mod aggregate;
mod areas;
mod cache;
mod calculator;
mod compare;
mod context;
mod disclosure;
mod inequality;
mod life_table;
mod observations;
mod profile;
mod service;
mod statistic;
mod trend;

#[cfg(test)]
mod test_support;

use sharedmetrics_access::Principal;
use sharedmetrics_error::ServiceResult;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_server::BenchmarkingService as BenchmarkingServer;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::*;

pub use service::BenchmarkingService;

/// The benchmarking service's operations, independent of transport. Every method receives the
/// authenticated principal and reads stored data only as that principal may see it.
#[async_trait::async_trait]
pub trait BenchmarkingApi: Send + Sync + 'static {
    /// Computes a value and its limits from counts given in the request.
    async fn compute_statistics(
        &self,
        principal: &Principal,
        request: ComputeStatisticsRequest,
    ) -> ServiceResult<ComputeStatisticsResponse>;
    /// Compares every area of a type with a benchmark for one period.
    async fn compare_areas(
        &self,
        principal: &Principal,
        request: CompareAreasRequest,
    ) -> ServiceResult<CompareAreasResponse>;
    /// Returns one area's series with the recent-trend test.
    async fn get_trend(&self, principal: &Principal, request: GetTrendRequest) -> ServiceResult<GetTrendResponse>;
    /// Measures inequality within one area across an ordered breakdown.
    async fn get_inequality(
        &self,
        principal: &Principal,
        request: GetInequalityRequest,
    ) -> ServiceResult<GetInequalityResponse>;
    /// Returns every metric for one area with comparison, quintile and trend.
    async fn get_area_profile(
        &self,
        principal: &Principal,
        request: GetAreaProfileRequest,
    ) -> ServiceResult<GetAreaProfileResponse>;
}

sharedmetrics_grpc::service_adapters! {
    api: BenchmarkingApi,
    service: "sharedmetrics.benchmarking.v1.BenchmarkingService",
    server_trait: BenchmarkingServer,
    grpc_client: BenchmarkingServiceClient,
    adapter: BenchmarkingGrpc,
    remote: RemoteBenchmarking,
    audited: AuditedBenchmarking,
    methods: {
        compute_statistics(ComputeStatisticsRequest) -> ComputeStatisticsResponse;
        compare_areas(CompareAreasRequest) -> CompareAreasResponse;
        get_trend(GetTrendRequest) -> GetTrendResponse;
        get_inequality(GetInequalityRequest) -> GetInequalityResponse;
        get_area_profile(GetAreaProfileRequest) -> GetAreaProfileResponse;
    }
}
