//! The submissions service owns observations: validated, idempotent submissions applied as one
//! transaction each (MERGE, REPLACE, DELETE; atomic; dry run), stored append-only and
//! bitemporally, published with optional embargo, retracted, and read back with disclosure
//! control for everyone outside the submitting organisation. [`SubmissionsApi`] is the contract
//! in Rust; [`SubmissionsService`] implements it on the database; [`SubmissionsGrpc`] serves any
//! implementation over gRPC and [`RemoteSubmissions`] calls one over gRPC.

pub mod disclosure;
pub mod entity;
mod ingest;
pub mod migration;
mod reference;
mod service;
mod store;
pub mod validate;

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use sharedmetrics_access::{Principal, PrincipalCodec, principal_of};
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_server::SubmissionsService as SubmissionsServer;
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;
use tonic::{Request, Response, Status, Streaming};

pub use migration::Migrator;
pub use service::SubmissionsService;

/// A stream of results, as the streaming RPCs take and return them.
pub type ResultStream<T> = Pin<Box<dyn Stream<Item = ServiceResult<T>> + Send + 'static>>;

/// The submissions service's operations, independent of transport.
#[async_trait::async_trait]
pub trait SubmissionsApi: Send + Sync + 'static {
    /// Applies one batch of rows as one submission.
    async fn submit_observations(
        &self,
        principal: &Principal,
        request: SubmitObservationsRequest,
    ) -> ServiceResult<SubmitObservationsResponse>;
    /// Applies a stream (a header, then chunks of rows) as one submission.
    async fn stream_observations(
        &self,
        principal: &Principal,
        frames: ResultStream<StreamObservationsRequest>,
    ) -> ServiceResult<StreamObservationsResponse>;
    /// Returns one submission with its rejected rows.
    async fn get_submission(
        &self,
        principal: &Principal,
        request: GetSubmissionRequest,
    ) -> ServiceResult<GetSubmissionResponse>;
    /// Lists submissions the principal may see.
    async fn list_submissions(
        &self,
        principal: &Principal,
        request: ListSubmissionsRequest,
    ) -> ServiceResult<ListSubmissionsResponse>;
    /// Streams the observations matching the filters, with disclosure control applied.
    async fn query_observations(
        &self,
        principal: &Principal,
        request: QueryObservationsRequest,
    ) -> ServiceResult<ResultStream<QueryObservationsResponse>>;
    /// Returns every version of one observation.
    async fn get_observation_history(
        &self,
        principal: &Principal,
        request: GetObservationHistoryRequest,
    ) -> ServiceResult<GetObservationHistoryResponse>;
    /// Publishes a submission, optionally under embargo.
    async fn publish_submission(
        &self,
        principal: &Principal,
        request: PublishSubmissionRequest,
    ) -> ServiceResult<PublishSubmissionResponse>;
    /// Retracts a submission's current rows.
    async fn retract_submission(
        &self,
        principal: &Principal,
        request: RetractSubmissionRequest,
    ) -> ServiceResult<RetractSubmissionResponse>;
}

/// Serves the submissions API over gRPC by calling its implementation (local or remote).
#[derive(Clone)]
pub struct SubmissionsGrpc(pub Arc<dyn SubmissionsApi>);

fn respond<T>(result: ServiceResult<T>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

#[async_trait::async_trait]
impl SubmissionsServer for SubmissionsGrpc {
    async fn submit_observations(
        &self,
        request: Request<SubmitObservationsRequest>,
    ) -> Result<Response<SubmitObservationsResponse>, Status> {
        let principal = principal_of(&request)?;
        respond(self.0.submit_observations(&principal, request.into_inner()).await)
    }

    async fn stream_observations(
        &self,
        request: Request<Streaming<StreamObservationsRequest>>,
    ) -> Result<Response<StreamObservationsResponse>, Status> {
        let principal = principal_of(&request)?;
        let frames = request.into_inner().map(|frame| frame.map_err(ServiceError::from)).boxed();
        respond(self.0.stream_observations(&principal, frames).await)
    }

    async fn get_submission(
        &self,
        request: Request<GetSubmissionRequest>,
    ) -> Result<Response<GetSubmissionResponse>, Status> {
        let principal = principal_of(&request)?;
        respond(self.0.get_submission(&principal, request.into_inner()).await)
    }

    async fn list_submissions(
        &self,
        request: Request<ListSubmissionsRequest>,
    ) -> Result<Response<ListSubmissionsResponse>, Status> {
        let principal = principal_of(&request)?;
        respond(self.0.list_submissions(&principal, request.into_inner()).await)
    }

    type QueryObservationsStream =
        Pin<Box<dyn Stream<Item = Result<QueryObservationsResponse, Status>> + Send + 'static>>;

    async fn query_observations(
        &self,
        request: Request<QueryObservationsRequest>,
    ) -> Result<Response<Self::QueryObservationsStream>, Status> {
        let principal = principal_of(&request)?;
        let stream = self.0.query_observations(&principal, request.into_inner()).await?;
        Ok(Response::new(stream.map(|batch| batch.map_err(Status::from)).boxed()))
    }

    async fn get_observation_history(
        &self,
        request: Request<GetObservationHistoryRequest>,
    ) -> Result<Response<GetObservationHistoryResponse>, Status> {
        let principal = principal_of(&request)?;
        respond(self.0.get_observation_history(&principal, request.into_inner()).await)
    }

    async fn publish_submission(
        &self,
        request: Request<PublishSubmissionRequest>,
    ) -> Result<Response<PublishSubmissionResponse>, Status> {
        let principal = principal_of(&request)?;
        respond(self.0.publish_submission(&principal, request.into_inner()).await)
    }

    async fn retract_submission(
        &self,
        request: Request<RetractSubmissionRequest>,
    ) -> Result<Response<RetractSubmissionResponse>, Status> {
        let principal = principal_of(&request)?;
        respond(self.0.retract_submission(&principal, request.into_inner()).await)
    }
}

/// The submissions API implemented by calling a remote service over gRPC.
#[derive(Clone)]
pub struct RemoteSubmissions {
    client: SubmissionsServiceClient<tonic::transport::Channel>,
    codec: PrincipalCodec,
}

impl RemoteSubmissions {
    /// Returns a client calling the service on `channel`, signing identities with `codec`.
    pub fn new(channel: tonic::transport::Channel, codec: PrincipalCodec) -> Self {
        Self { client: SubmissionsServiceClient::new(channel), codec }
    }

    fn request<T>(&self, principal: &Principal, message: T) -> Request<T> {
        let mut request = Request::new(message);
        self.codec.insert(principal, request.metadata_mut());
        sharedmetrics_grpc::inject_trace_context(request.metadata_mut());
        request
    }
}

fn unary<T>(result: Result<Response<T>, Status>) -> ServiceResult<T> {
    result.map(Response::into_inner).map_err(ServiceError::from)
}

#[async_trait::async_trait]
impl SubmissionsApi for RemoteSubmissions {
    async fn submit_observations(
        &self,
        principal: &Principal,
        request: SubmitObservationsRequest,
    ) -> ServiceResult<SubmitObservationsResponse> {
        unary(self.client.clone().submit_observations(self.request(principal, request)).await)
    }

    async fn stream_observations(
        &self,
        principal: &Principal,
        frames: ResultStream<StreamObservationsRequest>,
    ) -> ServiceResult<StreamObservationsResponse> {
        // If the source fails, the outgoing stream must not simply end: the service would take
        // that for a complete submission and commit it. Instead the stream stalls and the call is
        // dropped, which resets the HTTP/2 stream; the service sees an error and rolls back.
        let (abort, aborted) = tokio::sync::oneshot::channel::<ServiceError>();
        let (sender, receiver) = tokio::sync::mpsc::channel::<StreamObservationsRequest>(16);
        let mut frames = frames;
        tokio::spawn(async move {
            while let Some(frame) = frames.next().await {
                match frame {
                    Ok(frame) => {
                        if sender.send(frame).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        let _ = abort.send(error);
                        // Keep the stream open until the call is dropped.
                        sender.closed().await;
                        return;
                    }
                }
            }
        });
        let mut client = self.client.clone();
        let call =
            client.stream_observations(self.request(principal, tokio_stream::wrappers::ReceiverStream::new(receiver)));
        tokio::select! {
            result = call => unary(result),
            Ok(error) = aborted => Err(error),
        }
    }

    async fn get_submission(
        &self,
        principal: &Principal,
        request: GetSubmissionRequest,
    ) -> ServiceResult<GetSubmissionResponse> {
        unary(self.client.clone().get_submission(self.request(principal, request)).await)
    }

    async fn list_submissions(
        &self,
        principal: &Principal,
        request: ListSubmissionsRequest,
    ) -> ServiceResult<ListSubmissionsResponse> {
        unary(self.client.clone().list_submissions(self.request(principal, request)).await)
    }

    async fn query_observations(
        &self,
        principal: &Principal,
        request: QueryObservationsRequest,
    ) -> ServiceResult<ResultStream<QueryObservationsResponse>> {
        let stream = unary(self.client.clone().query_observations(self.request(principal, request)).await)?;
        Ok(stream.map(|batch| batch.map_err(ServiceError::from)).boxed())
    }

    async fn get_observation_history(
        &self,
        principal: &Principal,
        request: GetObservationHistoryRequest,
    ) -> ServiceResult<GetObservationHistoryResponse> {
        unary(self.client.clone().get_observation_history(self.request(principal, request)).await)
    }

    async fn publish_submission(
        &self,
        principal: &Principal,
        request: PublishSubmissionRequest,
    ) -> ServiceResult<PublishSubmissionResponse> {
        unary(self.client.clone().publish_submission(self.request(principal, request)).await)
    }

    async fn retract_submission(
        &self,
        principal: &Principal,
        request: RetractSubmissionRequest,
    ) -> ServiceResult<RetractSubmissionResponse> {
        unary(self.client.clone().retract_submission(self.request(principal, request)).await)
    }
}
