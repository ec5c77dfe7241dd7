//! Stand-ins for the services in the contract that this release does not build yet. Each
//! answers every one of its RPCs with UNIMPLEMENTED and a message naming the service and the
//! method, so a client learns what is missing instead of seeing a crash or a bare 404.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use sharedmetrics_error::{ErrorCode, ServiceError};

macro_rules! unbuilt_service {
    ($name:ident, $full:literal, $short:literal) => {
        /// Answers every RPC of the service with UNIMPLEMENTED.
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl tonic::server::NamedService for $name {
            const NAME: &'static str = $full;
        }

        impl<B> tower::Service<http::Request<B>> for $name {
            type Response = http::Response<tonic::body::Body>;
            type Error = Infallible;
            type Future = Ready<Result<Self::Response, Infallible>>;

            fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, request: http::Request<B>) -> Self::Future {
                let method = request.uri().path().rsplit('/').next().unwrap_or_default().to_owned();
                let error = ServiceError::new(
                    ErrorCode::Unimplemented,
                    format!("the {} service is not built yet: {}.{method} is in the contract but not served by this release", $short, $full),
                );
                ready(Ok(tonic::Status::from(error).into_http()))
            }
        }
    };
}

unbuilt_service!(UnbuiltBenchmarking, "sharedmetrics.benchmarking.v1.BenchmarkingService", "benchmarking");
