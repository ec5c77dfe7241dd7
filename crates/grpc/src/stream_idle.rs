//! An idle limit on what a client sends. A request whose body brings nothing for the configured
//! time while the server waits for more (in practice a client stream, StreamObservations, gone
//! silent between chunks) fails with DEADLINE_EXCEEDED naming the limit, and the handler ends the
//! call. A client stream is applied only at its end frame, so a stalled one stores nothing;
//! without the limit it would hold its HTTP/2 stream, and the submissions service's ingest lock,
//! for as long as its client stayed silent.
//!
//! The clock runs only while the server is waiting for the body: time the handler spends on a
//! chunk it has received (a slow database write) never counts against the client. Unary and
//! server-streaming requests send their one message at once, so the limit does not touch them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use sharedmetrics_error::{ErrorCode, ServiceError};

/// Tower layer ending a request whose client sends nothing for `timeout` while the server
/// waits for its next message.
#[derive(Debug, Clone, Copy)]
pub struct StreamIdleTimeoutLayer {
    timeout: Duration,
}

impl StreamIdleTimeoutLayer {
    /// Returns a layer allowing a client `timeout` of silence between the frames it sends.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> tower::Layer<S> for StreamIdleTimeoutLayer {
    type Service = StreamIdleTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StreamIdleTimeout { inner, timeout: self.timeout }
    }
}

/// The service [`StreamIdleTimeoutLayer`] produces.
#[derive(Debug, Clone)]
pub struct StreamIdleTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S, B> tower::Service<http::Request<B>> for StreamIdleTimeout<S>
where
    S: tower::Service<http::Request<tonic::body::Body>>,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<tower::BoxError>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let timeout = self.timeout;
        self.inner.call(request.map(|body| tonic::body::Body::new(IdleBody::new(body, timeout))))
    }
}

/// A request body that fails once its client has sent nothing for `timeout` while it was
/// being waited on.
struct IdleBody<B> {
    inner: B,
    timeout: Duration,
    /// Made on the first wait and reset at each later one.
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether the server is waiting for a frame, that is the clock is running.
    waiting: bool,
    /// Set once the limit has passed: the body then ends.
    expired: bool,
}

impl<B> IdleBody<B> {
    fn new(inner: B, timeout: Duration) -> Self {
        Self { inner, timeout, idle: None, waiting: false, expired: false }
    }
}

/// The refusal of a silent client: DEADLINE_EXCEEDED (not CANCELLED, which a gRPC server reads
/// as the end of a client stream), naming the limit.
fn idle_error(timeout: Duration) -> tonic::Status {
    tonic::Status::from(ServiceError::new(
        ErrorCode::DeadlineExceeded,
        format!(
            "the client sent nothing for {} ms while the server waited for its next message (the stream idle \
             timeout, gateway.grpc_stream_idle_timeout_ms); the call is ended and its unfinished stream discarded",
            timeout.as_millis()
        ),
    ))
}

impl<B> http_body::Body for IdleBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<tower::BoxError>,
{
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting = false;
            return Poll::Ready(frame.map(|result| result.map_err(|error| tonic::Status::from_error(error.into()))));
        }
        let deadline = tokio::time::Instant::now() + this.timeout;
        let idle = this.idle.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !this.waiting {
            // The client's silence starts now, not when the previous frame was delivered.
            idle.as_mut().reset(deadline);
            this.waiting = true;
        }
        match idle.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.expired = true;
                tracing::debug!(
                    idle_timeout_ms = this.timeout.as_millis() as u64,
                    "client stream ended: idle too long"
                );
                Poll::Ready(Some(Err(idle_error(this.timeout))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures::StreamExt;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    type Frames = StreamBody<futures::stream::BoxStream<'static, Result<http_body::Frame<Bytes>, Infallible>>>;

    /// A body sending `frames`, each after its delay, then staying open without sending more.
    fn stalling_body(frames: Vec<(u64, &'static [u8])>) -> Frames {
        let frames = futures::stream::iter(frames)
            .then(|(delay, bytes)| async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                Ok(http_body::Frame::data(Bytes::from_static(bytes)))
            })
            .chain(futures::stream::pending());
        StreamBody::new(frames.boxed())
    }

    #[tokio::test]
    async fn a_client_silent_past_the_limit_is_refused_with_deadline_exceeded() {
        // Frames 100 ms apart pass a 300 ms limit; the silence after the last does not.
        let body = stalling_body(vec![(0, b"header"), (100, b"chunk"), (100, b"chunk")]);
        let mut body = IdleBody::new(body, Duration::from_millis(300));
        for _ in 0..3 {
            let frame = body.frame().await.expect("a frame").expect("not refused");
            assert!(frame.is_data());
        }
        let started = tokio::time::Instant::now();
        let error = body.frame().await.expect("an error, not the end").expect_err("refused");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(2), "{waited:?}");
        assert_eq!(error.code(), tonic::Code::DeadlineExceeded);
        assert!(error.message().contains("300 ms"), "{}", error.message());
        assert!(error.message().contains("idle timeout"), "{}", error.message());
        assert!(body.frame().await.is_none(), "the body ends after its refusal");
    }

    #[tokio::test]
    async fn time_the_server_spends_between_reads_does_not_count() {
        // The client sends at 0 ms and 1,000 ms and stays connected.
        let (sender, frames) = futures::channel::mpsc::unbounded();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for (at, bytes) in [(0, &b"header"[..]), (1_000, &b"chunk"[..])] {
                tokio::time::sleep_until(start + Duration::from_millis(at)).await;
                let _ = sender.unbounded_send(Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(bytes))));
            }
            std::future::pending::<()>().await;
        });
        let mut body = IdleBody::new(StreamBody::new(frames), Duration::from_millis(300));
        body.frame().await.expect("a frame").expect("not refused");
        // The handler spends 900 ms on the first frame; the server then waits only about 100 ms.
        tokio::time::sleep(Duration::from_millis(900)).await;
        body.frame().await.expect("a frame").expect("the server's own time is not the client's silence");
    }

    #[tokio::test]
    async fn a_whole_body_passes_untouched() {
        let body =
            IdleBody::new(http_body_util::Full::new(Bytes::from_static(b"one message")), Duration::from_millis(1));
        let bytes = body.collect().await.expect("no refusal").to_bytes();
        assert_eq!(&bytes[..], b"one message");
    }
}
