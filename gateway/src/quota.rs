//! Per-principal quotas at the gateway (DESIGN.md §6): requests per minute for every RPC
//! ([`QuotaLayer`], a tower layer after authentication) and observation rows per minute for
//! submissions ([`RowQuotaSubmissions`], around the submissions API). Counts are kept in fixed
//! one-minute windows in Redis when configured, so every gateway replica counts together. Past a
//! limit the answer is RESOURCE_EXHAUSTED (HTTP 429) with `retry-after` seconds, at once: nothing
//! queues, and other principals are served as before.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use futures::future::BoxFuture;
use sharedmetrics_access::Principal;
use sharedmetrics_cache::WindowCounters;
use sharedmetrics_config::QuotaConfig;
use sharedmetrics_error::{ErrorCode, ServiceError, ServiceResult};
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;
use sharedmetrics_submissions::{ResultStream, SubmissionsApi};

/// Length of a quota window.
const WINDOW: Duration = Duration::from_secs(60);

/// Returns the current window number and the whole seconds until it ends (at least 1).
fn window_now() -> (u64, u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    (now / WINDOW.as_secs(), (WINDOW.as_secs() - now % WINDOW.as_secs()).max(1))
}

/// The quota refusal: RESOURCE_EXHAUSTED naming the limit and when to retry.
fn exhausted(what: &str, limit: u64, retry_after: u64) -> ServiceError {
    ServiceError::new(
        ErrorCode::ResourceExhausted,
        format!("quota exceeded: at most {limit} {what} per minute for one principal; retry after {retry_after} s"),
    )
    .with_metadata(sharedmetrics_error::RETRY_AFTER_METADATA_KEY, retry_after.to_string())
}

/// Tower layer refusing a principal's requests past its per-minute quota.
#[derive(Clone)]
pub struct QuotaLayer {
    counters: WindowCounters,
    requests_per_minute: u32,
}

impl QuotaLayer {
    /// Returns a layer counting in `counters` with the limits of `config`.
    pub fn new(counters: WindowCounters, config: &QuotaConfig) -> Self {
        Self { counters, requests_per_minute: config.requests_per_minute }
    }
}

impl<S> tower::Layer<S> for QuotaLayer {
    type Service = Quota<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Quota { inner, layer: self.clone() }
    }
}

/// The service [`QuotaLayer`] produces.
#[derive(Clone)]
pub struct Quota<S> {
    inner: S,
    layer: QuotaLayer,
}

impl<S, B> tower::Service<http::Request<B>> for Quota<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let limit = u64::from(layer.requests_per_minute);
            // Unauthenticated calls (health, reflection, or a refusal to come) are not counted:
            // they carry no principal to count against.
            if let (true, Some(principal)) = (limit > 0, request.extensions().get::<Principal>()) {
                let (window, retry_after) = window_now();
                let count = layer.counters.add(&format!("requests:{}", principal.id), window, WINDOW, 1).await;
                if count > limit {
                    tracing::warn!(principal = %principal.id, count, limit, "request quota exceeded");
                    let status = tonic::Status::from(exhausted("requests", limit, retry_after));
                    let mut response = status.into_http();
                    response.headers_mut().insert("retry-after", retry_after.into());
                    return Ok(response);
                }
            }
            inner.call(request).await
        })
    }
}

/// The submissions API with each principal's observation rows per minute limited.
pub struct RowQuotaSubmissions {
    inner: Arc<dyn SubmissionsApi>,
    counters: WindowCounters,
    rows_per_minute: u64,
}

impl RowQuotaSubmissions {
    /// Returns `inner` with rows counted in `counters` against the limit of `config`.
    pub fn new(inner: Arc<dyn SubmissionsApi>, counters: WindowCounters, config: &QuotaConfig) -> Self {
        Self { inner, counters, rows_per_minute: config.rows_per_minute }
    }
}

/// Counts `rows` against `principal`'s window; refuses when the window's total passes `limit`.
async fn charge_rows(counters: &WindowCounters, principal: &str, rows: u64, limit: u64) -> ServiceResult<()> {
    if limit == 0 || rows == 0 {
        return Ok(());
    }
    let (window, retry_after) = window_now();
    let count = counters.add(&format!("rows:{principal}"), window, WINDOW, rows).await;
    if count > limit {
        tracing::warn!(%principal, count, limit, "row quota exceeded");
        return Err(exhausted("observation rows", limit, retry_after));
    }
    Ok(())
}

#[async_trait::async_trait]
impl SubmissionsApi for RowQuotaSubmissions {
    async fn submit_observations(
        &self,
        principal: &Principal,
        request: SubmitObservationsRequest,
    ) -> ServiceResult<SubmitObservationsResponse> {
        charge_rows(&self.counters, &principal.id, request.rows.len() as u64, self.rows_per_minute).await?;
        self.inner.submit_observations(principal, request).await
    }

    async fn stream_observations(
        &self,
        principal: &Principal,
        frames: ResultStream<StreamObservationsRequest>,
    ) -> ServiceResult<StreamObservationsResponse> {
        // Each chunk is charged as it arrives; past the limit the stream ends in an error, so
        // the submission is never committed (a stream applies only at its end frame).
        let counters = self.counters.clone();
        let principal_id = principal.id.clone();
        let limit = self.rows_per_minute;
        let frames = frames
            .then(move |frame| {
                let counters = counters.clone();
                let principal_id = principal_id.clone();
                async move {
                    let frame = frame?;
                    if let Some(stream_observations_request::Frame::Chunk(chunk)) = &frame.frame {
                        charge_rows(&counters, &principal_id, chunk.rows.len() as u64, limit).await?;
                    }
                    Ok(frame)
                }
            })
            .boxed();
        self.inner.stream_observations(principal, frames).await
    }

    async fn get_submission(
        &self,
        principal: &Principal,
        request: GetSubmissionRequest,
    ) -> ServiceResult<GetSubmissionResponse> {
        self.inner.get_submission(principal, request).await
    }

    async fn list_submissions(
        &self,
        principal: &Principal,
        request: ListSubmissionsRequest,
    ) -> ServiceResult<ListSubmissionsResponse> {
        self.inner.list_submissions(principal, request).await
    }

    async fn query_observations(
        &self,
        principal: &Principal,
        request: QueryObservationsRequest,
    ) -> ServiceResult<ResultStream<QueryObservationsResponse>> {
        self.inner.query_observations(principal, request).await
    }

    async fn get_observation_history(
        &self,
        principal: &Principal,
        request: GetObservationHistoryRequest,
    ) -> ServiceResult<GetObservationHistoryResponse> {
        self.inner.get_observation_history(principal, request).await
    }

    async fn publish_submission(
        &self,
        principal: &Principal,
        request: PublishSubmissionRequest,
    ) -> ServiceResult<PublishSubmissionResponse> {
        self.inner.publish_submission(principal, request).await
    }

    async fn retract_submission(
        &self,
        principal: &Principal,
        request: RetractSubmissionRequest,
    ) -> ServiceResult<RetractSubmissionResponse> {
        self.inner.retract_submission(principal, request).await
    }
}

/// The protections only the gateway applies (services behind it trust it): the process-wide
/// bound on requests in flight and the per-principal request quota. Clones share their counts,
/// so the gRPC port and the REST transcoder draw on the same bound and quotas.
#[derive(Clone)]
pub struct Protection {
    /// The process-wide bound on requests in flight.
    pub in_flight: InFlightLimitLayer,
    /// Requests per principal per minute.
    pub quota: QuotaLayer,
}

/// Tower layer bounding the requests in flight in the whole process, over every connection and
/// both doors (the REST transcoder calls the same stack): past the bound a request is answered
/// RESOURCE_EXHAUSTED at once instead of waiting, so overload never builds a queue. A request
/// counts until its response body has been sent, so a long export holds its place.
#[derive(Clone)]
pub struct InFlightLimitLayer {
    permits: Arc<tokio::sync::Semaphore>,
    limit: usize,
}

impl InFlightLimitLayer {
    /// Returns a layer letting at most `limit` requests be in flight.
    pub fn new(limit: usize) -> Self {
        Self { permits: Arc::new(tokio::sync::Semaphore::new(limit)), limit }
    }
}

impl<S> tower::Layer<S> for InFlightLimitLayer {
    type Service = InFlightLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InFlightLimit { inner, layer: self.clone() }
    }
}

/// The service [`InFlightLimitLayer`] produces.
#[derive(Clone)]
pub struct InFlightLimit<S> {
    inner: S,
    layer: InFlightLimitLayer,
}

impl<S, B> tower::Service<http::Request<B>> for InFlightLimit<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Ok(permit) = self.layer.permits.clone().try_acquire_owned() else {
            let limit = self.layer.limit;
            tracing::warn!(limit, "request shed: the process is at its in-flight limit");
            let error = ServiceError::new(
                ErrorCode::ResourceExhausted,
                format!("the gateway is at its limit of {limit} requests in flight; retry shortly"),
            )
            .with_metadata(sharedmetrics_error::RETRY_AFTER_METADATA_KEY, "1");
            let mut response = tonic::Status::from(error).into_http();
            response.headers_mut().insert("retry-after", 1.into());
            return Box::pin(async move { Ok(response) });
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|body| tonic::body::Body::new(HoldingBody { inner: body, _permit: permit })))
        })
    }
}

/// A response body that keeps its request's in-flight permit until the body is dropped.
struct HoldingBody {
    inner: tonic::body::Body,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl http_body::Body for HoldingBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
