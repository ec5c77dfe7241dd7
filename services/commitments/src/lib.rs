//! The commitments service owns anchor charters (a place's shared pledge, its member
//! organisations and commitment templates), the commitments each organisation makes (type,
//! metric, definition of local, baseline, target, trajectory, evidence, owner), the progress
//! reported against them per period as numerators and denominators, each commitment's status
//! computed by the rule in `docs/commitments.md`, the roll-up across a charter's members, and the
//! versioned reference values figures are checked against (the real Living Wage rates).
//! [`CommitmentsApi`] is the service's contract in Rust; [`CommitmentsService`] implements it on
//! the database, [`RemoteCommitments`] implements it over gRPC, and [`CommitmentsGrpc`] serves
//! any implementation over gRPC. It reads metrics, areas and organisations only through the
//! definitions service's [`DefinitionsApi`](sharedmetrics_definitions::DefinitionsApi), and
//! metric observations only through an [`ObservationSource`] ([`PublishedObservations`] reads
//! them through the submissions API).
#![forbid(unsafe_code)]

mod access;
mod convert;
pub mod entity;
pub mod import;
pub mod migration;
mod published;
pub mod rule;
mod service;
mod store;
mod validate;

use sharedmetrics_access::Principal;
use sharedmetrics_error::ServiceResult;
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::commitments::v1::commitments_service_client::CommitmentsServiceClient;
use sharedmetrics_proto::sharedmetrics::commitments::v1::commitments_service_server::CommitmentsService as CommitmentsServer;
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;

pub use migration::Migrator;
pub use published::PublishedObservations;
pub use service::CommitmentsService;

/// The commitments service's operations, independent of transport. Every method receives the
/// authenticated principal and enforces the access policy itself.
#[async_trait::async_trait]
pub trait CommitmentsApi: Send + Sync + 'static {
    /// Creates a charter; the caller's organisation becomes its first member, as admin.
    async fn create_charter(
        &self,
        principal: &Principal,
        request: CreateCharterRequest,
    ) -> ServiceResult<CreateCharterResponse>;
    /// Lists the charters the principal may read.
    async fn list_charters(
        &self,
        principal: &Principal,
        request: ListChartersRequest,
    ) -> ServiceResult<ListChartersResponse>;
    /// Adds an organisation to a charter or changes its role.
    async fn add_charter_member(
        &self,
        principal: &Principal,
        request: AddCharterMemberRequest,
    ) -> ServiceResult<AddCharterMemberResponse>;
    /// Creates a commitment for the principal's organisation (or, for national, any).
    async fn create_commitment(
        &self,
        principal: &Principal,
        request: CreateCommitmentRequest,
    ) -> ServiceResult<CreateCommitmentResponse>;
    /// Returns one commitment with its computed status.
    async fn get_commitment(
        &self,
        principal: &Principal,
        request: GetCommitmentRequest,
    ) -> ServiceResult<GetCommitmentResponse>;
    /// Lists the commitments the principal may read, filtered.
    async fn list_commitments(
        &self,
        principal: &Principal,
        request: ListCommitmentsRequest,
    ) -> ServiceResult<ListCommitmentsResponse>;
    /// Records a period's figure, reported or taken from the metric's observations.
    async fn report_progress(
        &self,
        principal: &Principal,
        request: ReportProgressRequest,
    ) -> ServiceResult<ReportProgressResponse>;
    /// Lists a commitment's current figures, newest period first.
    async fn list_progress(
        &self,
        principal: &Principal,
        request: ListProgressRequest,
    ) -> ServiceResult<ListProgressResponse>;
    /// Rolls a period's figures up across a charter's members, per commitment type.
    async fn get_charter_summary(
        &self,
        principal: &Principal,
        request: GetCharterSummaryRequest,
    ) -> ServiceResult<GetCharterSummaryResponse>;
}

sharedmetrics_grpc::service_adapters! {
    api: CommitmentsApi,
    service: "sharedmetrics.commitments.v1.CommitmentsService",
    server_trait: CommitmentsServer,
    grpc_client: CommitmentsServiceClient,
    adapter: CommitmentsGrpc,
    remote: RemoteCommitments,
    audited: AuditedCommitments,
    methods: {
        create_charter(CreateCharterRequest) -> CreateCharterResponse => |r| format!("charter/{}", r.charter.as_ref().map(|c| c.code.as_str()).unwrap_or_default());
        list_charters(ListChartersRequest) -> ListChartersResponse;
        add_charter_member(AddCharterMemberRequest) -> AddCharterMemberResponse => |r| format!("charter/{}/members/{}", r.charter_code, r.organisation_code);
        create_commitment(CreateCommitmentRequest) -> CreateCommitmentResponse => |r| format!("commitment/{}", r.commitment.as_ref().map(|c| format!("{}:{}", c.organisation_code, c.title)).unwrap_or_default());
        get_commitment(GetCommitmentRequest) -> GetCommitmentResponse;
        list_commitments(ListCommitmentsRequest) -> ListCommitmentsResponse;
        report_progress(ReportProgressRequest) -> ReportProgressResponse => |r| format!("commitment/{}/progress/{}", r.commitment_id, r.period_code);
        list_progress(ListProgressRequest) -> ListProgressResponse;
        get_charter_summary(GetCharterSummaryRequest) -> GetCharterSummaryResponse;
    }
}

/// One period's figure of a metric for an organisation, as published observations give it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedFigure {
    /// The observation's numerator (for a count or amount, the value itself).
    pub numerator: f64,
    /// The observation's denominator; none for counts and amounts.
    pub denominator: Option<f64>,
    /// When the observation became current, so a derived figure names the data it came from.
    pub data_version: Option<chrono::DateTime<chrono::Utc>>,
}

/// Where metric-sourced progress comes from: the submissions service, once it exists. The
/// commitments service is built without one until then, and answers FAILED_PRECONDITION to a
/// request for metric-sourced progress rather than inventing figures.
#[async_trait::async_trait]
pub trait ObservationSource: Send + Sync + 'static {
    /// Returns the total (no breakdown) figure of `metric_code` for `organisation_code` in
    /// `period`, as `principal` may read it, or none when there is no such observation.
    async fn figure(
        &self,
        principal: &Principal,
        metric_code: &str,
        organisation_code: &str,
        period: &Period,
    ) -> ServiceResult<Option<ObservedFigure>>;
}
