//! Serves the HTTP port (REST/JSON, CSV, gRPC-web, the dashboard, probes) with limits on slow
//! clients, which `axum::serve` does not expose. Within `gateway.http_header_read_timeout_ms` a
//! client must begin its first request, and an HTTP/1 client send each request's headers, or its
//! connection is closed. A request body may go `gateway.http_body_idle_timeout_ms` without a byte
//! while the server waits for more: it then fails with an `io::Error` of kind `TimedOut`, which
//! the transcoder answers 408, and the connection is closed. Without them a client trickling
//! bytes, or sending none, holds a connection and a task for as long as it likes.
//!
//! Each connection is served by hyper-util's HTTP/1 and HTTP/2 builder on its own task, with
//! TCP_NODELAY (as on the gRPC port) and the peer's address in every request's extensions
//! (`axum::extract::ConnectInfo` and tonic's `TcpConnectInfo`). On shutdown the listener stops
//! accepting and open connections finish their requests, as with `axum::serve`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use sharedmetrics_config::GatewayConfig;
use tokio::net::TcpListener;
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `router` on `listener` until `shutdown` completes, then waits for open connections to
/// finish.
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    config: &GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let millis = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
    let header_read = millis(config.http_header_read_timeout_ms);
    let body_idle = millis(config.http_body_idle_timeout_ms);
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait rather than spin (a reset or aborted
                    // connection is the client's and costs nothing).
                    tracing::warn!(%error, "accepting an http connection failed");
                    if !matches!(
                        error.kind(),
                        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                    ) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // TCP_NODELAY, as on the gRPC port: a streamed answer must not wait on delayed ACKs.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "setting TCP_NODELAY failed");
        }
        let connect_info =
            tonic::transport::server::TcpConnectInfo { local_addr: tcp.local_addr().ok(), remote_addr: Some(remote) };
        let started = Arc::new(AtomicBool::new(false));
        let first_request = started.clone();
        let service = router.clone().map_request(move |request: http::Request<hyper::body::Incoming>| {
            first_request.store(true, Ordering::Release);
            let mut request = request.map(|body| match body_idle {
                Some(idle) => Body::new(IdleTimeoutBody::new(body, idle)),
                None => Body::new(body),
            });
            request.extensions_mut().insert(axum::extract::ConnectInfo(remote));
            request.extensions_mut().insert(connect_info.clone());
            request
        });
        let connection = builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service)).into_owned();
        let mut connection = Box::pin(graceful.watch(connection));
        tokio::spawn(async move {
            // hyper's header timer starts only once the HTTP version is known, and telling it
            // waits for the client's first bytes (up to the 24 of the HTTP/2 preface) without a
            // limit: a client that connects and sends nothing, or a few bytes, would be held for
            // ever. So the first request must begin within the header read timeout too.
            if let Some(limit) = header_read {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::debug!(%error, %remote, "http connection ended with an error");
                        }
                        return;
                    }
                    () = tokio::time::sleep(limit) => {
                        if !started.load(Ordering::Acquire) {
                            tracing::debug!(%remote, "http connection closed: no request within the header read timeout");
                            return;
                        }
                    }
                }
            }
            if let Err(error) = connection.await {
                // A client that goes away, or a header read timeout: the client's affair.
                tracing::debug!(%error, %remote, "http connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A request body that fails with an `io::Error` of kind `TimedOut` when it brings no frame for
/// `idle` while polled (the clock runs only while its reader waits for it, from the first wait).
pub struct IdleTimeoutBody<B> {
    inner: B,
    idle: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether the timer runs for the current wait.
    waiting: bool,
    timed_out: bool,
}

impl<B> IdleTimeoutBody<B> {
    /// Returns `inner`, failing after `idle` without a frame.
    pub fn new(inner: B, idle: Duration) -> Self {
        Self { inner, idle, timer: None, waiting: false, timed_out: false }
    }
}

impl<B> http_body::Body for IdleTimeoutBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.timed_out {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting = false;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let deadline = tokio::time::Instant::now() + this.idle;
        let timer = match &mut this.timer {
            Some(timer) => {
                if !this.waiting {
                    timer.as_mut().reset(deadline);
                }
                timer
            }
            None => this.timer.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        this.waiting = true;
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.timed_out = true;
                let idle = this.idle.as_millis();
                let error = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the request body brought no bytes for {idle} ms (gateway.http_body_idle_timeout_ms)"),
                );
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.timed_out || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_body_silent_past_its_idle_limit_fails_timed_out_and_one_that_trickles_does_not() {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
        let frames = futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(receiver), |data| {
            Ok::<_, BoxError>(Frame::data(data))
        });
        let mut body = IdleTimeoutBody::new(http_body_util::StreamBody::new(frames), Duration::from_millis(300));
        let feeder = tokio::spawn(async move {
            for _ in 0..3 {
                // Each pause is well inside the limit; together they are longer.
                tokio::time::sleep(Duration::from_millis(100)).await;
                sender.send(Bytes::from_static(b"x")).await.expect("sent");
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(sender);
        });
        for _ in 0..3 {
            let frame = body.frame().await.expect("a frame").expect("data");
            assert_eq!(frame.into_data().expect("data"), "x");
        }
        let started = std::time::Instant::now();
        let error = body.frame().await.expect("an error").expect_err("timed out");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(290) && waited < Duration::from_secs(5), "{waited:?}");
        let io = error.downcast_ref::<std::io::Error>().expect("an io error");
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
        assert!(body.frame().await.is_none(), "nothing after the timeout");
        feeder.abort();
    }
}
