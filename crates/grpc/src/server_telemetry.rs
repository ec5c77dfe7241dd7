//! Server-side telemetry of every gRPC request: a span per RPC, made the child of the caller's
//! W3C `traceparent` (so the gateway and the services it calls are one trace), and the RPC's
//! count by final status code and its latency in the process's [`PlatformTelemetry`].
//!
//! Where the status code is: tonic sends an error answered before any message as a
//! "trailers-only" response, `grpc-status` in the headers (handlers' errors, and the refusals of
//! the identity and deadline layers); every other response carries it in the trailers after the
//! body. The layer reads the headers first and otherwise wraps the body and reads the trailers
//! as they pass, so the code recorded is the one the client receives, streams included. A
//! request whose response is dropped before its status was sent (the client went away) is
//! counted as `CANCELLED`; a body that ends without any status as `UNKNOWN`.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http_body::{Body as _, Frame, SizeHint};
use sharedmetrics_telemetry::PlatformTelemetry;
use tracing::Instrument;

/// The `rpc` label of requests for paths no served service declares, so that probing random
/// paths cannot grow the label set without bound.
pub const UNKNOWN_RPC: &str = "unknown";

/// Returns the paths (`/package.Service/Method`) of every RPC in encoded descriptor sets.
pub fn rpc_paths(descriptor_sets: &[&[u8]]) -> HashSet<String> {
    use prost::Message;
    let mut paths = HashSet::new();
    for set in descriptor_sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(*set) else { continue };
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    paths.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    paths
}

/// Tower layer opening a server span per request and recording its count, code and latency.
#[derive(Clone)]
pub struct ServerTelemetryLayer {
    known_rpcs: Arc<HashSet<String>>,
}

impl ServerTelemetryLayer {
    /// Returns a layer labelling requests by RPC when their path is in `known_rpcs` (see
    /// [`rpc_paths`]) and as [`UNKNOWN_RPC`] otherwise.
    pub fn new(known_rpcs: HashSet<String>) -> Self {
        Self { known_rpcs: Arc::new(known_rpcs) }
    }
}

impl<S> tower::Layer<S> for ServerTelemetryLayer {
    type Service = ServerTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTelemetry { inner, known_rpcs: self.known_rpcs.clone() }
    }
}

/// The service [`ServerTelemetryLayer`] produces.
#[derive(Clone)]
pub struct ServerTelemetry<S> {
    inner: S,
    known_rpcs: Arc<HashSet<String>>,
}

impl<S, B> tower::Service<http::Request<B>> for ServerTelemetry<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Send + 'static,
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
        let path = request.uri().path();
        let name = path.trim_start_matches('/').to_owned();
        let (service, method) = name.split_once('/').unwrap_or((name.as_str(), ""));
        // `otel.name` and `otel.kind` name the exported span after the RPC, as the OpenTelemetry
        // gRPC conventions do; the code is filled in once known.
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %name,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        // Before the span is first entered, so that it joins the caller's trace.
        sharedmetrics_telemetry::extract_context(request.headers(), &span);
        let rpc = if self.known_rpcs.contains(path) { name } else { UNKNOWN_RPC.to_owned() };
        let mut recorder = Recorder { rpc, started: Instant::now(), span: span.clone(), finished: false };
        // The handler's future is made and polled inside the span, so the remote clients it
        // calls inject this span's context into their requests.
        let future = span.in_scope(|| self.inner.call(request)).instrument(span);
        Box::pin(async move {
            let response = match future.await {
                Ok(response) => response,
                Err(error) => {
                    recorder.finish(tonic::Code::Unknown);
                    return Err(error);
                }
            };
            if let Some(code) = response.headers().get("grpc-status") {
                recorder.finish(tonic::Code::from_bytes(code.as_bytes()));
                return Ok(response);
            }
            if response.body().is_end_stream() {
                recorder.finish(tonic::Code::Unknown);
                return Ok(response);
            }
            Ok(response.map(|inner| tonic::body::Body::new(ObservedBody { inner, recorder })))
        })
    }
}

/// Records one request exactly once: at its status, or as cancelled when dropped before it.
struct Recorder {
    rpc: String,
    started: Instant,
    span: tracing::Span,
    finished: bool,
}

impl Recorder {
    fn finish(&mut self, code: tonic::Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        self.span.record("rpc.grpc.status_code", code as i32);
        PlatformTelemetry::global().record_rpc(&self.rpc, code_name(code), self.started.elapsed());
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}

/// A response body that reads `grpc-status` from the trailers as they are sent, and polls the
/// handler's stream (server streaming) inside the request's span.
struct ObservedBody {
    inner: tonic::body::Body,
    recorder: Recorder,
}

impl http_body::Body for ObservedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let span = this.recorder.span.clone();
        let _entered = span.enter();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(|trailers| trailers.get("grpc-status")) {
                    this.recorder.finish(tonic::Code::from_bytes(code.as_bytes()));
                }
            }
            Poll::Ready(Some(Err(status))) => this.recorder.finish(status.code()),
            Poll::Ready(None) => this.recorder.finish(tonic::Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Returns the canonical name of a gRPC status code, as the `code` label.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;

    use tower::{Layer, ServiceExt};

    use super::*;

    /// A response body sending its frames in order, as tonic's encoder does.
    struct Frames(VecDeque<Frame<bytes::Bytes>>);

    impl http_body::Body for Frames {
        type Data = bytes::Bytes;
        type Error = tonic::Status;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
            Poll::Ready(self.get_mut().0.pop_front().map(Ok))
        }
    }

    fn trailers(code: tonic::Code) -> Frame<bytes::Bytes> {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", (code as i32).to_string().parse().expect("digits"));
        Frame::trailers(trailers)
    }

    /// Serves one request for `path` with `response` behind the layer and returns its body.
    async fn serve(path: &str, response: http::Response<tonic::body::Body>) -> tonic::body::Body {
        let mut known = HashSet::new();
        known.insert("/test.v1.Known/Call".to_owned());
        let mut response = Some(response);
        let inner = tower::service_fn(move |_: http::Request<()>| {
            let response = response.take().expect("one call");
            async move { Ok::<_, Infallible>(response) }
        });
        let service = ServerTelemetryLayer::new(known).layer(inner);
        let request = http::Request::builder().uri(path).body(()).expect("a request");
        service.oneshot(request).await.expect("infallible").into_body()
    }

    fn count(rpc: &str, code: &str) -> u64 {
        let line = format!("grpc_server_requests_total{{code=\"{code}\",rpc=\"{rpc}\"}} ");
        PlatformTelemetry::global()
            .encode_text()
            .lines()
            .find_map(|l| l.strip_prefix(&line).map(|v| v.parse().expect("a count")))
            .unwrap_or(0)
    }

    async fn drain(mut body: tonic::body::Body) {
        use http_body::Body as _;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            frame.expect("a frame");
        }
    }

    #[tokio::test]
    async fn the_code_in_the_trailers_is_counted_once_the_trailers_are_sent() {
        let frames = Frames(VecDeque::from([
            Frame::data(bytes::Bytes::from_static(b"\0\0\0\0\0")),
            trailers(tonic::Code::NotFound),
        ]));
        let body = serve("/test.v1.Trailers/Call", http::Response::new(tonic::body::Body::new(frames))).await;
        assert_eq!(count(UNKNOWN_RPC, "NOT_FOUND"), 0, "nothing is counted before the status is sent");
        drain(body).await;
        assert_eq!(count(UNKNOWN_RPC, "NOT_FOUND"), 1);
    }

    #[tokio::test]
    async fn a_trailers_only_error_is_counted_from_the_headers_under_its_rpc() {
        let response = tonic::Status::permission_denied("no").into_http();
        drop(serve("/test.v1.Known/Call", response).await);
        assert_eq!(count("test.v1.Known/Call", "PERMISSION_DENIED"), 1);
    }

    #[tokio::test]
    async fn a_response_dropped_before_its_status_counts_as_cancelled() {
        let frames = Frames(VecDeque::from([trailers(tonic::Code::Ok)]));
        let body = serve("/test.v1.Dropped/Call", http::Response::new(tonic::body::Body::new(frames))).await;
        drop(body);
        assert_eq!(count(UNKNOWN_RPC, "CANCELLED"), 1);
        assert_eq!(count(UNKNOWN_RPC, "OK"), 0);
    }

    #[test]
    fn every_rpc_of_a_descriptor_set_is_known_by_its_path() {
        let paths = rpc_paths(&[tonic_health_like_descriptor().as_slice()]);
        assert_eq!(paths, HashSet::from(["/grpc.health.v1.Health/Check".to_owned()]));
    }

    fn tonic_health_like_descriptor() -> Vec<u8> {
        use prost::Message;
        use prost_types::{FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto, ServiceDescriptorProto};
        FileDescriptorSet {
            file: vec![FileDescriptorProto {
                package: Some("grpc.health.v1".into()),
                service: vec![ServiceDescriptorProto {
                    name: Some("Health".into()),
                    method: vec![MethodDescriptorProto { name: Some("Check".into()), ..Default::default() }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }
}
