//! The gRPC plumbing every service shares, so that the same code path runs whether the gateway
//! calls a service in process or over the network (DESIGN.md §2):
//! - [`IdentityLayer`], a tower layer that turns request headers into a [`Principal`] in the
//!   request's extensions, using an [`Authenticator`] (API keys at the gateway, the signed
//!   forwarded identity at a service);
//! - [`service_adapters!`], which generates for a service's API trait the tonic server adapter
//!   and the remote client that implements the same trait over a channel;
//! - [`ServerTelemetryLayer`], a server span per RPC joined to the caller's trace, and the RPC's
//!   count, code and latency;
//! - [`DefaultDeadlineLayer`] and [`StreamIdleTimeoutLayer`], so no call holds the server's
//!   resources for ever: a deadline for unary calls, an idle limit for a client's stream.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use sharedmetrics_access::{Principal, PrincipalCodec};
use sharedmetrics_error::ServiceError;

pub mod server_telemetry;
pub mod stream_idle;

pub use server_telemetry::{ServerTelemetryLayer, rpc_paths};
pub use stream_idle::StreamIdleTimeoutLayer;

#[doc(hidden)]
pub mod reexports {
    pub use async_trait::async_trait;
    pub use sharedmetrics_access::{Principal, PrincipalCodec, principal_of};
    pub use sharedmetrics_error::{ServiceError, ServiceResult};
    pub use tonic;
}

/// Establishes who is calling from request headers.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Returns the principal the headers prove, none when they carry no credentials (the
    /// handler then refuses if it needs one), or an error when the credentials are bad (or, at
    /// the gateway, when too many bad ones came from the same key id or `peer`).
    async fn authenticate(
        &self,
        headers: &http::HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<Option<Principal>, ServiceError>;
}

/// Returns the address of the peer a request came from: the TCP connection's remote address,
/// which tonic puts in the request's extensions (and the REST side puts there for the calls it
/// makes in process on behalf of its own peer).
pub fn peer_addr<B>(request: &http::Request<B>) -> Option<SocketAddr> {
    request.extensions().get::<tonic::transport::server::TcpConnectInfo>().and_then(|info| info.remote_addr)
}

/// Accepts the identity the gateway forwarded, signed with the shared internal token.
pub struct ForwardedIdentity {
    codec: PrincipalCodec,
}

impl ForwardedIdentity {
    /// Returns an authenticator verifying with `codec`.
    pub fn new(codec: PrincipalCodec) -> Self {
        Self { codec }
    }
}

#[async_trait::async_trait]
impl Authenticator for ForwardedIdentity {
    async fn authenticate(
        &self,
        headers: &http::HeaderMap,
        _peer: Option<SocketAddr>,
    ) -> Result<Option<Principal>, ServiceError> {
        if !headers.contains_key(sharedmetrics_access::PRINCIPAL_METADATA_KEY) {
            return Ok(None);
        }
        let metadata = tonic::metadata::MetadataMap::from_headers(headers.clone());
        self.codec.extract(&metadata).map(Some)
    }
}

/// Tower layer that authenticates every request before it reaches a gRPC service.
#[derive(Clone)]
pub struct IdentityLayer {
    authenticator: Arc<dyn Authenticator>,
}

impl IdentityLayer {
    /// Returns a layer authenticating with `authenticator`.
    pub fn new(authenticator: Arc<dyn Authenticator>) -> Self {
        Self { authenticator }
    }
}

impl<S> tower::Layer<S> for IdentityLayer {
    type Service = Identity<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Identity { inner, authenticator: self.authenticator.clone() }
    }
}

/// The service [`IdentityLayer`] produces.
#[derive(Clone)]
pub struct Identity<S> {
    inner: S,
    authenticator: Arc<dyn Authenticator>,
}

impl<S, B> tower::Service<http::Request<B>> for Identity<S>
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

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The ready service is the one polled; keep it and leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        Box::pin(async move {
            match authenticator.authenticate(request.headers(), peer_addr(&request)).await {
                Ok(Some(principal)) => {
                    request.extensions_mut().insert(principal);
                }
                Ok(None) => {}
                Err(error) => {
                    // A throttled refusal says when to come back, as the quotas do.
                    let retry_after = error.metadata.get(sharedmetrics_error::RETRY_AFTER_METADATA_KEY).cloned();
                    let mut response = tonic::Status::from(error).into_http();
                    if let Some(value) = retry_after.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
                        response.headers_mut().insert(http::header::RETRY_AFTER, value);
                    }
                    return Ok(response);
                }
            }
            inner.call(request).await
        })
    }
}

/// Where audited writes are recorded (the gateway's audit log, DESIGN.md §6).
#[async_trait::async_trait]
pub trait AuditSink: Send + Sync + 'static {
    /// Records that `principal` called `rpc` on `resource`, and how it ended. A failure to record
    /// is the sink's to report; it never changes the caller's answer.
    async fn record(&self, principal: &Principal, rpc: String, resource: String, outcome: Result<(), &ServiceError>);
}

/// Returns the full RPC name (`package.Service/Method`) of a snake_case API method.
pub fn rpc_name(service: &str, method: &str) -> String {
    let mut name = String::with_capacity(service.len() + method.len() + 1);
    name.push_str(service);
    name.push('/');
    for word in method.split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

/// Applies `describe` to a request: lets the audit closures in [`service_adapters!`] infer their
/// argument type.
#[doc(hidden)]
pub fn audit_resource<R>(request: &R, describe: impl FnOnce(&R) -> String) -> String {
    describe(request)
}

/// Writes the current trace context into outgoing gRPC metadata.
pub fn inject_trace_context(metadata: &mut tonic::metadata::MetadataMap) {
    let mut headers = http::HeaderMap::new();
    sharedmetrics_telemetry::inject_context(&mut headers);
    for (name, value) in &headers {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::AsciiMetadataKey::from_bytes(name.as_str().as_bytes()),
            value.to_str().map(tonic::metadata::AsciiMetadataValue::try_from),
        ) && let Ok(value) = value
        {
            metadata.insert(key, value);
        }
    }
}

/// Generates, for a service API trait whose methods are all unary
/// `async fn m(&self, principal: &Principal, request: Req) -> ServiceResult<Resp>`:
/// - `$adapter`: the tonic server implementation calling any `Arc<dyn Trait>`;
/// - `$remote`: the trait implemented over a gRPC channel, forwarding the principal signed;
/// - `$audited`: the trait wrapped so that every write (a method given `=> |request| resource`)
///   is recorded in an [`AuditSink`] with its outcome; the gateway wraps each service with it.
#[macro_export]
macro_rules! service_adapters {
    (
        api: $api:ident,
        service: $service:literal,
        server_trait: $server_trait:path,
        grpc_client: $grpc_client:ident,
        adapter: $adapter:ident,
        remote: $remote:ident,
        audited: $audited:ident,
        methods: { $( $method:ident ( $req:ty ) -> $resp:ty $( => $resource:expr )? ; )* }
    ) => {
        /// The API with its writes recorded in the audit log.
        #[derive(Clone)]
        pub struct $audited {
            inner: ::std::sync::Arc<dyn $api>,
            sink: ::std::sync::Arc<dyn $crate::AuditSink>,
        }

        impl $audited {
            /// Returns `inner` with its writes recorded in `sink`.
            pub fn new(inner: ::std::sync::Arc<dyn $api>, sink: ::std::sync::Arc<dyn $crate::AuditSink>) -> Self {
                Self { inner, sink }
            }
        }

        #[$crate::reexports::async_trait]
        impl $api for $audited {
            $(
                async fn $method(
                    &self,
                    principal: &$crate::reexports::Principal,
                    request: $req,
                ) -> $crate::reexports::ServiceResult<$resp> {
                    let resource: Option<String> = None
                        $( .or_else(|| Some($crate::audit_resource(&request, $resource))) )?;
                    let result = self.inner.$method(principal, request).await;
                    if let Some(resource) = resource {
                        let rpc = $crate::rpc_name($service, stringify!($method));
                        self.sink.record(principal, rpc, resource, result.as_ref().map(|_| ())).await;
                    }
                    result
                }
            )*
        }

        /// Serves the API over gRPC by calling its implementation (local or remote).
        #[derive(Clone)]
        pub struct $adapter(pub ::std::sync::Arc<dyn $api>);

        #[$crate::reexports::async_trait]
        impl $server_trait for $adapter {
            $(
                async fn $method(
                    &self,
                    request: $crate::reexports::tonic::Request<$req>,
                ) -> Result<$crate::reexports::tonic::Response<$resp>, $crate::reexports::tonic::Status> {
                    let principal = $crate::reexports::principal_of(&request)?;
                    self.0
                        .$method(&principal, request.into_inner())
                        .await
                        .map($crate::reexports::tonic::Response::new)
                        .map_err(Into::into)
                }
            )*
        }

        /// The API implemented by calling a remote service over gRPC.
        #[derive(Clone)]
        pub struct $remote {
            client: $grpc_client<$crate::reexports::tonic::transport::Channel>,
            codec: $crate::reexports::PrincipalCodec,
        }

        impl $remote {
            /// Returns a client calling the service on `channel`, signing identities with `codec`.
            pub fn new(
                channel: $crate::reexports::tonic::transport::Channel,
                codec: $crate::reexports::PrincipalCodec,
            ) -> Self {
                Self { client: $grpc_client::new(channel), codec }
            }
        }

        #[$crate::reexports::async_trait]
        impl $api for $remote {
            $(
                async fn $method(
                    &self,
                    principal: &$crate::reexports::Principal,
                    request: $req,
                ) -> $crate::reexports::ServiceResult<$resp> {
                    let mut request = $crate::reexports::tonic::Request::new(request);
                    self.codec.insert(principal, request.metadata_mut());
                    $crate::inject_trace_context(request.metadata_mut());
                    self.client
                        .clone()
                        .$method(request)
                        .await
                        .map(|response| response.into_inner())
                        .map_err($crate::reexports::ServiceError::from)
                }
            )*
        }
    };
}

/// Returns the paths (`/package.Service/Method`) of every streaming RPC in an encoded
/// descriptor set: they run as long as their data takes and get no default deadline.
pub fn streaming_methods(descriptor_set: &[u8]) -> std::collections::HashSet<String> {
    use prost::Message;
    let Ok(set) = prost_types::FileDescriptorSet::decode(descriptor_set) else { return Default::default() };
    let mut paths = std::collections::HashSet::new();
    for file in set.file {
        for service in &file.service {
            for method in &service.method {
                if method.client_streaming() || method.server_streaming() {
                    paths.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    paths
}

/// Tower layer giving calls that carry no `grpc-timeout` a deadline, so no call holds resources
/// forever: a per-RPC deadline when one is configured, otherwise the default for unary calls;
/// streaming calls (bulk ingest, exports) without a configured deadline, and calls with their own
/// deadline, are left to that.
#[derive(Clone)]
pub struct DefaultDeadlineLayer {
    deadline: std::time::Duration,
    streaming: Arc<std::collections::HashSet<String>>,
    per_rpc: Arc<std::collections::HashMap<String, std::time::Duration>>,
}

impl DefaultDeadlineLayer {
    /// Returns a layer applying `deadline` to unary calls not in `streaming`.
    pub fn new(deadline: std::time::Duration, streaming: std::collections::HashSet<String>) -> Self {
        Self { deadline, streaming: Arc::new(streaming), per_rpc: Default::default() }
    }

    /// Also applies the deadlines of `per_rpc`, keyed by method name (`CompareAreas`) or full
    /// name (`package.Service/Method`), to the matching paths among `paths`.
    pub fn with_rpc_deadlines<'a>(
        mut self,
        per_rpc: impl IntoIterator<Item = (&'a String, &'a u64)>,
        paths: &std::collections::HashSet<String>,
    ) -> Self {
        let mut map = std::collections::HashMap::new();
        for (name, millis) in per_rpc {
            for path in paths {
                let full = path.trim_start_matches('/');
                if full == name || full.rsplit('/').next() == Some(name.as_str()) {
                    map.insert(path.clone(), std::time::Duration::from_millis(*millis));
                }
            }
        }
        self.per_rpc = Arc::new(map);
        self
    }
}

impl<S> tower::Layer<S> for DefaultDeadlineLayer {
    type Service = DefaultDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DefaultDeadline { inner, layer: self.clone() }
    }
}

/// The service [`DefaultDeadlineLayer`] produces.
#[derive(Clone)]
pub struct DefaultDeadline<S> {
    inner: S,
    layer: DefaultDeadlineLayer,
}

impl<S, B> tower::Service<http::Request<B>> for DefaultDeadline<S>
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
        let path = request.uri().path();
        let deadline = if request.headers().contains_key("grpc-timeout") {
            None
        } else if let Some(deadline) = self.layer.per_rpc.get(path) {
            Some(*deadline)
        } else if self.layer.streaming.contains(path) {
            None
        } else {
            Some(self.layer.deadline)
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let Some(deadline) = deadline else { return future.await };
            match tokio::time::timeout(deadline, future).await {
                Ok(result) => result,
                Err(_) => Ok(tonic::Status::deadline_exceeded(format!(
                    "the call took longer than its deadline of {} ms; send a grpc-timeout to allow more",
                    deadline.as_millis()
                ))
                .into_http()),
            }
        })
    }
}

/// Page tokens of list RPCs: every list pages with `page_size` and an opaque `page_token`,
/// which here is the offset of the page in the filtered, ordered result.
pub mod paging {
    use sharedmetrics_error::{ServiceError, ServiceResult};

    /// Page size when a request gives none.
    pub const DEFAULT_PAGE_SIZE: u32 = 100;
    /// Largest page a request may ask for.
    pub const MAX_PAGE_SIZE: u32 = 1_000;

    /// Returns the offset and size of the page a request asks for, or INVALID_ARGUMENT for a
    /// token this service did not issue.
    pub fn page_window(page_size: u32, page_token: &str) -> ServiceResult<(usize, usize)> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        } as usize;
        Ok((page_offset(page_token)?, size))
    }

    /// Returns the offset a page token stands for (0 for none), or INVALID_ARGUMENT for a token
    /// this service did not issue.
    pub fn page_offset(page_token: &str) -> ServiceResult<usize> {
        if page_token.is_empty() {
            return Ok(0);
        }
        page_token.parse::<usize>().map_err(|_| {
            ServiceError::invalid_field(
                "page_token",
                "INVALID_PAGE_TOKEN",
                format!("page token {page_token:?} was not issued by this service"),
            )
        })
    }

    /// Returns the token of the page after one, or empty when it was the last.
    pub fn next_page_token(offset: usize, size: usize, total: usize) -> String {
        if offset + size < total { (offset + size).to_string() } else { String::new() }
    }

    /// The slice of a list one page request asks for.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Window {
        /// Items to skip.
        pub offset: usize,
        /// Items at most.
        pub limit: usize,
    }

    impl Window {
        /// Everything at once, for internal reads that are not paged.
        pub const ALL: Window = Window { offset: 0, limit: usize::MAX >> 1 };

        /// Returns the window a request's `page_size` and `page_token` ask for (see
        /// [`page_window`]).
        pub fn of(page_size: u32, page_token: &str) -> ServiceResult<Self> {
            let (offset, limit) = page_window(page_size, page_token)?;
            Ok(Self { offset, limit })
        }

        /// Returns the token of the page after this one in a list of `total` items.
        pub fn next_token(self, total: usize) -> String {
            next_page_token(self.offset, self.limit, total)
        }

        /// Returns this window's page of an in-memory list, with the next page token.
        pub fn page<T>(self, items: Vec<T>) -> (Vec<T>, String) {
            let next = self.next_token(items.len());
            (items.into_iter().skip(self.offset).take(self.limit).collect(), next)
        }
    }
}
