//! REST/JSON for every RPC of the contract, with no handler written per endpoint. At start the
//! transcoder reads each RPC's `google.api.http` rule from the descriptor set; per request it
//! builds the input message from the path, query string and JSON body (proto3 JSON mapping),
//! calls the gateway's own gRPC service in process (so authentication, deadlines, quotas, audit
//! and telemetry apply exactly as on the gRPC port), and answers proto3 JSON, newline-delimited
//! JSON for server streams, or CSV for lists and queries, streamed. A body must say what it is
//! (`application/json`, or NDJSON for a client stream); anything else is 415. Errors are JSON
//! with the stable code of `sharedmetrics_error` and its HTTP status, the transcoder's own
//! refusals (405, 408, 413, 415) with the gRPC code nearest in meaning. It also serves the
//! OpenAPI document generated from the same descriptors, and gRPC-web for browsers.

pub mod codec;
pub mod csv;
pub mod openapi;
pub mod request;
pub mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions, Value as Field};
use sharedmetrics_error::{ErrorCode, FieldViolation, ServiceError};
use tonic::codegen::http::uri::PathAndQuery;
use tower::util::BoxCloneSyncService;

use crate::codec::DynamicCodec;
use crate::csv::CsvLayout;
use crate::routes::{Lookup, Route, RouteTable};

/// The gRPC service the transcoder calls: the gateway's routes behind its middleware.
pub type GrpcService =
    BoxCloneSyncService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, Infallible>;

/// Headers passed on to the gRPC call: credentials, trace context, and the proxies' account of
/// whom they forward for (the gateway reads it only from a trusted proxy).
const FORWARDED_HEADERS: &[&str] =
    &["authorization", "x-api-key", "traceparent", "tracestate", "x-request-id", "x-forwarded-for"];

/// The media type of newline-delimited JSON.
const NDJSON: &str = "application/x-ndjson";

/// What a request body is, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyType {
    /// `application/json`: one JSON value.
    Json,
    /// `application/x-ndjson` (or `application/jsonl`): one JSON value per line.
    Ndjson,
}

impl BodyType {
    /// Returns the body type a `Content-Type` value names: `application/json`,
    /// `application/x-ndjson` or `application/jsonl`, with no parameter but `charset=utf-8`
    /// (JSON is UTF-8). Anything else is none.
    fn of(content_type: &str) -> Option<Self> {
        let mut parts = content_type.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        for parameter in parts.filter(|p| !p.trim().is_empty()) {
            let (name, value) = parameter.split_once('=')?;
            let value = value.trim().trim_matches('"');
            if !name.trim().eq_ignore_ascii_case("charset") || !value.eq_ignore_ascii_case("utf-8") {
                return None;
            }
        }
        match essence.as_str() {
            "application/json" => Some(Self::Json),
            "application/x-ndjson" | "application/jsonl" => Some(Self::Ndjson),
            _ => None,
        }
    }
}

/// The transcoder's own refusals of a request, each answered with its HTTP status and the gRPC
/// code nearest in meaning (a service's error takes its code's status from `sharedmetrics_error`).
/// The reason of the error's field violation names the refusal, in the body and here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// 405, UNIMPLEMENTED: the path is served under other methods only (a gRPC server answers
    /// UNIMPLEMENTED for a method it does not have, as grpc-gateway does for a 405).
    MethodNotAllowed,
    /// 415, UNIMPLEMENTED: a body of a media type the route does not read.
    UnsupportedMediaType,
    /// 413, RESOURCE_EXHAUSTED (gRPC's code for a message past the size limit): a body, or one
    /// NDJSON line, past the JSON body limit.
    BodyTooLarge,
    /// 408, DEADLINE_EXCEEDED: a body that stopped arriving for the HTTP port's idle limit.
    BodyTimeout,
}

impl Refusal {
    const ALL: [Self; 4] = [Self::MethodNotAllowed, Self::UnsupportedMediaType, Self::BodyTooLarge, Self::BodyTimeout];

    fn status(self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    fn code(self) -> ErrorCode {
        match self {
            Self::MethodNotAllowed | Self::UnsupportedMediaType => ErrorCode::Unimplemented,
            Self::BodyTooLarge => ErrorCode::ResourceExhausted,
            Self::BodyTimeout => ErrorCode::DeadlineExceeded,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::BodyTooLarge => "BODY_TOO_LARGE",
            Self::BodyTimeout => "BODY_TIMEOUT",
        }
    }

    /// Returns the error of this refusal, its message also the violation's description.
    fn error(self, message: impl Into<String>) -> ServiceError {
        let message = message.into();
        let mut error = ServiceError::new(self.code(), message.clone());
        error.violations.push(FieldViolation::new("", self.reason(), message));
        error
    }

    /// Returns the refusal an error is, if it is one.
    fn of(error: &ServiceError) -> Option<Self> {
        let reason = &error.violations.first()?.reason;
        Self::ALL.into_iter().find(|refusal| refusal.reason() == reason && refusal.code() == error.code)
    }
}

/// Returns the HTTP status an error is answered with: a refusal's own, else its code's.
fn http_status(error: &ServiceError) -> StatusCode {
    match Refusal::of(error) {
        Some(refusal) => refusal.status(),
        None => StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// Returns the error for a request body that could not be read: past `limit` bytes (413),
/// stalled past the HTTP port's idle limit (408: the server's body wrapper fails with an
/// `io::Error` of kind `TimedOut`), or cut off (400).
fn body_error(error: &(dyn std::error::Error + 'static), limit: usize) -> ServiceError {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if current.is::<http_body_util::LengthLimitError>() {
            return Refusal::BodyTooLarge.error(format!("the request body is larger than the limit of {limit} bytes"));
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return Refusal::BodyTimeout.error(format!("reading the request body: {io}"));
        }
        cause = current.source();
    }
    ServiceError::invalid_field("", "INVALID_BODY", format!("reading the request body: {error}"))
}

/// The largest response message the transcoder decodes (responses are the services' own).
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// How the transcoder is set up.
#[derive(Debug, Clone)]
pub struct TranscodeOptions {
    /// The largest JSON request body accepted, in bytes (JSON is several times its protobuf size).
    pub max_body_bytes: usize,
}

impl Default for TranscodeOptions {
    fn default() -> Self {
        Self { max_body_bytes: 64 * 1024 * 1024 }
    }
}

/// Why the transcoder could not be built (a contract without usable annotations).
#[derive(Debug, thiserror::Error)]
#[error("building the REST transcoder: {0}")]
pub struct BuildError(String);

struct Transcoder {
    routes: RouteTable,
    service: GrpcService,
    openapi: Bytes,
    options: TranscodeOptions,
}

/// Returns the HTTP router of the REST side: every annotated RPC under `/v1/…`, the OpenAPI
/// document at `/openapi.json`, and gRPC-web (`application/grpc-web*`) at each service's gRPC
/// path, all served by calling `service` in process. A transcoded call carries the HTTP peer's
/// address when the server records it (`ConnectInfo<SocketAddr>`), as gRPC-web requests carry
/// theirs, so the gateway counts failed authentications against the caller's own address.
pub fn router(service: GrpcService, options: TranscodeOptions) -> Result<axum::Router, BuildError> {
    let pool = DescriptorPool::decode(sharedmetrics_proto::FILE_DESCRIPTOR_SET)
        .map_err(|error| BuildError(format!("decoding the descriptor set: {error}")))?;
    let routes = RouteTable::from_pool(&pool).map_err(BuildError)?;
    let openapi = serde_json::to_vec_pretty(&openapi::document(&pool, &routes))
        .map_err(|error| BuildError(format!("rendering the OpenAPI document: {error}")))?;
    let grpc_web = tonic_web::GrpcWebLayer::new();
    let mut router = axum::Router::new();
    for name in sharedmetrics_proto::SERVICE_NAMES {
        router = router.route_service(&format!("/{name}/{{method}}"), tower::Layer::layer(&grpc_web, service.clone()));
    }
    let state = Arc::new(Transcoder { routes, service, openapi: Bytes::from(openapi), options });
    Ok(router
        .route("/openapi.json", axum::routing::get(serve_openapi))
        .route("/v1/{*path}", axum::routing::any(transcode))
        .with_state(state))
}

async fn serve_openapi(State(transcoder): State<Arc<Transcoder>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], transcoder.openapi.clone()).into_response()
}

/// What the client asked the answer to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn wanted_format(headers: &HeaderMap, query: Option<&str>, route: &Route) -> Format {
    let query_format = query
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "format").map(|(_, v)| v.into_owned()));
    // A request field named `format` is the RPC's, not ours.
    let query_format = query_format.filter(|_| route.rpc.input().get_field_by_name("format").is_none());
    match query_format.as_deref() {
        Some("csv") => return Format::Csv,
        Some(_) => return Format::Json,
        None => {}
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.contains("text/csv") { Format::Csv } else { Format::Json }
}

async fn transcode(State(transcoder): State<Arc<Transcoder>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let query = parts.uri.query();
    let (route, path_values) = match transcoder.routes.lookup(&parts.method, path) {
        Lookup::Found(route, values) => (route, values),
        Lookup::MethodNotAllowed(allowed) => {
            let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
            let error = Refusal::MethodNotAllowed.error(format!(
                "{} is not allowed on {path}; use {}",
                parts.method,
                allow.join(" or ")
            ));
            let mut response = error_response(&error);
            if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return response;
        }
        Lookup::NotFound => {
            return error_response(&ServiceError::new(
                ErrorCode::NotFound,
                format!("no REST route {} {path}; see /openapi.json", parts.method),
            ));
        }
    };
    let body_type = match body_type(&parts.headers, &body, route) {
        Ok(body_type) => body_type,
        Err(error) => return error_response(&error),
    };
    let format = wanted_format(&parts.headers, query, route);
    let metadata = forwarded_metadata(&parts.headers, peer_of(&parts.extensions));
    let result = if route.rpc.is_client_streaming() {
        client_stream(&transcoder, route, body_type, body, metadata).await
    } else {
        let json = match read_body(body, transcoder.options.max_body_bytes, route).await {
            Ok(json) => json,
            Err(error) => return error_response(&error),
        };
        match request::build(&route.rpc.input(), &path_values, query, &route.body, json) {
            Ok(input) if route.rpc.is_server_streaming() => {
                server_stream(&transcoder, route, input, metadata, format).await
            }
            Ok(input) => unary(&transcoder, route, input, metadata, format).await,
            Err(error) => Err(error),
        }
    };
    result.unwrap_or_else(|error| error_response(&error))
}

/// Returns what the request's body is, for a route that reads one (a `body` rule, or a client
/// stream) and a request that has one: a body whose `Content-Type` the route does not read, or
/// that has none, is refused (415). Other requests need no `Content-Type`; they read as JSON.
fn body_type(headers: &HeaderMap, body: &Body, route: &Route) -> Result<BodyType, ServiceError> {
    let reads_body = route.rpc.is_client_streaming() || !route.body.is_empty();
    if !reads_body || http_body::Body::is_end_stream(body) {
        return Ok(BodyType::Json);
    }
    let content_type = headers.get(header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let found = content_type.as_deref().and_then(BodyType::of);
    let accepted = if route.rpc.is_client_streaming() { found } else { found.filter(|found| *found == BodyType::Json) };
    accepted.ok_or_else(|| {
        let takes = if route.rpc.is_client_streaming() {
            "application/x-ndjson (one message per line) or application/json (an array of messages)"
        } else {
            "application/json"
        };
        let sent = content_type.map_or_else(|| "a body without a Content-Type".to_owned(), |t| format!("{t:?}"));
        Refusal::UnsupportedMediaType.error(format!(
            "{} takes {takes}, optionally with charset=utf-8; the request sent {sent}",
            route.rpc.name()
        ))
    })
}

/// Reads the JSON body of a route that takes one; other routes ignore their body.
async fn read_body(body: Body, limit: usize, route: &Route) -> Result<Option<serde_json::Value>, ServiceError> {
    if route.body.is_empty() {
        return Ok(None);
    }
    request::parse_json(&body_bytes(body, limit).await?)
}

/// Reads a whole body of at most `limit` bytes. One whose `Content-Length` is past the limit is
/// refused before a byte is read, so a client waiting on `Expect: 100-continue` sends none.
async fn body_bytes(body: Body, limit: usize) -> Result<Bytes, ServiceError> {
    if http_body::Body::size_hint(&body).lower() > limit as u64 {
        return Err(Refusal::BodyTooLarge.error(format!("the request body is larger than the limit of {limit} bytes")));
    }
    axum::body::to_bytes(body, limit).await.map_err(|error| body_error(&error, limit))
}

/// What a gRPC call made for a REST request carries of it: the caller's headers in
/// [`FORWARDED_HEADERS`], and the address of the HTTP peer.
#[derive(Clone)]
struct ForwardedMetadata {
    headers: tonic::metadata::MetadataMap,
    peer: Option<SocketAddr>,
}

/// Returns the HTTP peer's address, which the server's `ConnectInfo` records.
fn peer_of(extensions: &http::Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| *addr)
}

/// The connection facts the gRPC stack reads (as tonic gives them on its own port), so that the
/// gateway counts a REST caller's failed authentications against its own address.
fn connect_info(peer: SocketAddr) -> tonic::transport::server::TcpConnectInfo {
    tonic::transport::server::TcpConnectInfo { local_addr: None, remote_addr: Some(peer) }
}

/// Copies the caller's credentials and trace context into gRPC metadata, beside its address.
fn forwarded_metadata(headers: &HeaderMap, peer: Option<SocketAddr>) -> ForwardedMetadata {
    let mut metadata = tonic::metadata::MetadataMap::new();
    for name in FORWARDED_HEADERS {
        if let Some(value) = headers.get(*name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()) {
            metadata.insert(*name, value);
        }
    }
    ForwardedMetadata { headers: metadata, peer }
}

fn grpc_request<T>(message: T, metadata: ForwardedMetadata) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    *request.metadata_mut() = metadata.headers;
    if let Some(peer) = metadata.peer {
        request.extensions_mut().insert(connect_info(peer));
    }
    request
}

fn grpc_path(route: &Route) -> PathAndQuery {
    PathAndQuery::try_from(route.grpc_path()).expect("service and method names are valid paths")
}

async fn ready_client(transcoder: &Transcoder) -> Result<tonic::client::Grpc<GrpcService>, ServiceError> {
    let mut grpc = tonic::client::Grpc::new(transcoder.service.clone()).max_decoding_message_size(MAX_RESPONSE_BYTES);
    grpc.ready().await.map_err(|error| ServiceError::unavailable(format!("the gRPC service is not ready: {error}")))?;
    Ok(grpc)
}

async fn unary(
    transcoder: &Transcoder,
    route: &Route,
    input: DynamicMessage,
    metadata: ForwardedMetadata,
    format: Format,
) -> Result<Response, ServiceError> {
    let output = route.rpc.output();
    let layout = match format {
        Format::Csv => Some(csv_layout(&output, route)?),
        Format::Json => None,
    };
    let mut grpc = ready_client(transcoder).await?;
    let codec = DynamicCodec::new(output.clone());
    let response = grpc.unary(grpc_request(input.clone(), metadata.clone()), grpc_path(route), codec).await?;
    let message = response.into_inner();
    let Some(layout) = layout else { return Ok(json_response(&message)) };
    // A paged list in CSV follows its pages, so one export holds the whole list.
    let pages = next_pages(transcoder.service.clone(), route.clone(), input, metadata, &message);
    let first = Bytes::from([layout.header_row(), layout.rows(&message)].concat());
    let rest = {
        let layout = layout.clone();
        pages.map_ok(move |page| Bytes::from(layout.rows(&page)))
    };
    let body = futures::stream::once(async move { Ok::<_, ServiceError>(first) }).chain(rest);
    Ok(csv_response(route, Body::from_stream(body.map_err(std::io::Error::other))))
}

/// Returns the pages after `first` of a paged list RPC (none when it is not paged).
fn next_pages(
    service: GrpcService,
    route: Route,
    input: DynamicMessage,
    metadata: ForwardedMetadata,
    first: &DynamicMessage,
) -> impl Stream<Item = Result<DynamicMessage, ServiceError>> + Send + 'static {
    let paged = route.rpc.input().get_field_by_name("page_token").is_some();
    let token = if paged { next_page_token(first) } else { None };
    futures::stream::try_unfold((token, input), move |(token, mut input)| {
        let service = service.clone();
        let route = route.clone();
        let metadata = metadata.clone();
        async move {
            let Some(token) = token else { return Ok(None) };
            input.set_field_by_name("page_token", Field::String(token.clone()));
            let mut grpc = tonic::client::Grpc::new(service).max_decoding_message_size(MAX_RESPONSE_BYTES);
            grpc.ready().await.map_err(|error| ServiceError::unavailable(error.to_string()))?;
            let codec = DynamicCodec::new(route.rpc.output());
            let page = grpc.unary(grpc_request(input.clone(), metadata), grpc_path(&route), codec).await?.into_inner();
            // A token that does not move would loop for ever; stop rather than trust it.
            let next = next_page_token(&page).filter(|next| *next != token);
            Ok(Some((page, (next, input))))
        }
    })
}

fn next_page_token(message: &DynamicMessage) -> Option<String> {
    match message.get_field_by_name("next_page_token").as_deref() {
        Some(Field::String(token)) if !token.is_empty() => Some(token.clone()),
        _ => None,
    }
}

fn csv_layout(output: &MessageDescriptor, route: &Route) -> Result<CsvLayout, ServiceError> {
    CsvLayout::for_response(output).ok_or_else(|| {
        ServiceError::invalid_field(
            "format",
            "NOT_ACCEPTABLE",
            format!("{} answers one {}, not a list: it has no CSV form", route.rpc.name(), output.name()),
        )
    })
}

async fn server_stream(
    transcoder: &Transcoder,
    route: &Route,
    input: DynamicMessage,
    metadata: ForwardedMetadata,
    format: Format,
) -> Result<Response, ServiceError> {
    let output = route.rpc.output();
    let layout = match format {
        Format::Csv => Some(csv_layout(&output, route)?),
        Format::Json => None,
    };
    let mut grpc = ready_client(transcoder).await?;
    let codec = DynamicCodec::new(output);
    let mut stream = grpc.server_streaming(grpc_request(input, metadata), grpc_path(route), codec).await?.into_inner();
    // Wait for the first message, so an error raised before any data still gets its own status.
    let first = stream.message().await?;
    let messages = futures::stream::iter(first.map(Ok)).chain(stream.map_err(ServiceError::from));
    match layout {
        Some(layout) => {
            let header = futures::stream::once({
                let header = Bytes::from(layout.header_row());
                async move { Ok(header) }
            });
            // A failure mid-stream aborts the body, so a truncated CSV is never mistaken for a whole one.
            let rows = messages.map_ok(move |message| Bytes::from(layout.rows(&message)));
            let rpc = route.rpc.full_name().to_owned();
            let body = header.chain(rows).map_err(move |error| {
                tracing::warn!(%rpc, %error, "csv export aborted mid-stream");
                std::io::Error::other(error)
            });
            Ok(csv_response(route, Body::from_stream(body)))
        }
        None => {
            // Newline-delimited JSON: one line per stream message; a failure mid-stream is the last line.
            let lines = messages.map(|message| {
                let mut line = match message {
                    Ok(message) => to_json(&message),
                    Err(error) => serde_json::to_vec(&error_body(&error)).unwrap_or_default(),
                };
                line.push(b'\n');
                Ok::<_, Infallible>(Bytes::from(line))
            });
            Ok(([(header::CONTENT_TYPE, NDJSON)], Body::from_stream(lines)).into_response())
        }
    }
}

/// Feeds a client stream from a JSON array or newline-delimited JSON body, message by message.
async fn client_stream(
    transcoder: &Transcoder,
    route: &Route,
    body_type: BodyType,
    body: Body,
    metadata: ForwardedMetadata,
) -> Result<Response, ServiceError> {
    let input = route.rpc.input();
    let limit = transcoder.options.max_body_bytes;
    let messages: futures::stream::BoxStream<'static, Result<DynamicMessage, ServiceError>> =
        if body_type == BodyType::Ndjson {
            ndjson_messages(input.clone(), body, limit)
        } else {
            let bytes = body_bytes(body, limit).await?;
            let items = match request::parse_json(&bytes)? {
                Some(serde_json::Value::Array(items)) => items,
                _ => {
                    return Err(ServiceError::invalid_field(
                        "",
                        "INVALID_JSON",
                        format!(
                            "{} takes a JSON array of {} messages (or application/x-ndjson, one per line)",
                            route.rpc.name(),
                            input.name()
                        ),
                    ));
                }
            };
            // Every message is checked before the stream starts, so a bad one fails as a whole 400.
            let mut messages = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                messages.push(Ok(request::parse(&input, item).map_err(|error| at_index(error, index))?));
            }
            futures::stream::iter(messages).boxed()
        };
    let first_error: Arc<std::sync::Mutex<Option<ServiceError>>> = Arc::default();
    let sink = first_error.clone();
    let frames = messages
        // A bad line ends the stream before its end frame, so nothing is committed; its error is
        // what the caller sees.
        .take_while(move |message| {
            let keep = match message {
                Ok(_) => true,
                Err(error) => {
                    sink.lock().expect("not poisoned").get_or_insert_with(|| error.clone());
                    false
                }
            };
            futures::future::ready(keep)
        })
        .filter_map(|message| futures::future::ready(message.ok()));
    let mut grpc = ready_client(transcoder).await?;
    let codec = DynamicCodec::new(route.rpc.output());
    let result = grpc.client_streaming(grpc_request(frames, metadata), grpc_path(route), codec).await;
    if let Some(error) = first_error.lock().expect("not poisoned").take() {
        return Err(error);
    }
    Ok(json_response(&result?.into_inner()))
}

/// Splits a newline-delimited JSON body into messages as it arrives, holding one line at a time
/// (a line longer than `limit` bytes is refused, 413).
fn ndjson_messages(
    input: MessageDescriptor,
    body: Body,
    limit: usize,
) -> futures::stream::BoxStream<'static, Result<DynamicMessage, ServiceError>> {
    let chunks = body.into_data_stream();
    futures::stream::unfold(
        (chunks, Vec::<u8>::new(), 0usize, false),
        move |(mut chunks, mut buffer, mut index, mut done)| {
            let input = input.clone();
            async move {
                loop {
                    if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buffer.drain(..=end).collect();
                        if line.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        let item = parse_line(&input, &line, index);
                        index += 1;
                        return Some((item, (chunks, buffer, index, done)));
                    }
                    if done {
                        if buffer.iter().all(u8::is_ascii_whitespace) {
                            return None;
                        }
                        let line = std::mem::take(&mut buffer);
                        let item = parse_line(&input, &line, index);
                        return Some((item, (chunks, buffer, index + 1, done)));
                    }
                    if buffer.len() > limit {
                        let error = Refusal::BodyTooLarge
                            .error(format!("message {index} is longer than the limit of {limit} bytes"));
                        done = true;
                        buffer.clear();
                        return Some((Err(error), (chunks, buffer, index, done)));
                    }
                    match chunks.next().await {
                        Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                        Some(Err(error)) => {
                            let error = body_error(&error, limit);
                            done = true;
                            buffer.clear();
                            return Some((Err(error), (chunks, buffer, index, done)));
                        }
                        None => done = true,
                    }
                }
            }
        },
    )
    .boxed()
}

fn parse_line(input: &MessageDescriptor, line: &[u8], index: usize) -> Result<DynamicMessage, ServiceError> {
    let json = request::parse_json(line)?.unwrap_or(serde_json::Value::Null);
    request::parse(input, json).map_err(|error| at_index(error, index))
}

/// Prefixes the fields of an error with the index of the stream message it came from.
fn at_index(mut error: ServiceError, index: usize) -> ServiceError {
    for violation in &mut error.violations {
        violation.field =
            if violation.field.is_empty() { format!("[{index}]") } else { format!("[{index}].{}", violation.field) };
    }
    error.message = format!("message {index}: {}", error.message);
    error
}

/// Serialises a message as proto3 JSON, default values included (so a reader sees every field).
fn to_json(message: &DynamicMessage) -> Vec<u8> {
    let options = SerializeOptions::new().skip_default_fields(false);
    let mut serializer = serde_json::Serializer::new(Vec::new());
    // Serialising a decoded message into memory cannot fail.
    let _ = message.serialize_with_options(&mut serializer, &options);
    serializer.into_inner()
}

fn json_response(message: &DynamicMessage) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], to_json(message)).into_response()
}

fn csv_response(route: &Route, body: Body) -> Response {
    let disposition = format!("attachment; filename=\"{}.csv\"", route.rpc.name());
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// Returns the JSON error body: the stable code, the gRPC status (its canonical name, as the
/// Google JSON error format writes it, and its number) and the HTTP status it is answered with,
/// which agree; the message; the fields at fault.
pub fn error_body(error: &ServiceError) -> serde_json::Value {
    let violations: Vec<serde_json::Value> = error
        .violations
        .iter()
        .map(|v| serde_json::json!({"field": v.field, "reason": v.reason, "description": v.description}))
        .collect();
    let mut body = serde_json::json!({
        "code": sharedmetrics_error::reason(error.code),
        "status": grpc_status_name(error.grpc_code()),
        "grpc_code": error.grpc_code() as i32,
        "http_status": http_status(error).as_u16(),
        "message": error.message,
        "field_violations": violations,
    });
    if !error.metadata.is_empty() {
        body["metadata"] = serde_json::json!(error.metadata);
    }
    serde_json::json!({ "error": body })
}

/// Returns the canonical name of a gRPC status code (`INVALID_ARGUMENT`), the `status` of the
/// Google JSON error format.
fn grpc_status_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn error_response(error: &ServiceError) -> Response {
    let status = http_status(error);
    let body = serde_json::to_vec(&error_body(error)).unwrap_or_default();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    // A quota refusal says when to come back, as HTTP clients expect it.
    if let Some(seconds) = error.metadata.get(sharedmetrics_error::RETRY_AFTER_METADATA_KEY)
        && let Ok(value) = HeaderValue::from_str(seconds)
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_descriptor() -> MessageDescriptor {
        let pool = DescriptorPool::decode(sharedmetrics_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        pool.get_message_by_name("sharedmetrics.submissions.v1.StreamObservationsRequest").expect("a message")
    }

    #[tokio::test]
    async fn ndjson_lines_split_across_chunks_become_one_message_each() {
        // Lines cut mid-way, a blank line, and a last line without its newline.
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"{\"header\": {\"metricCode\": \"M\"}}\n{\"chu")),
            Ok(Bytes::from_static(b"nk\": {\"rows\": [{\"areaCode\": \"E1\"}]}}\n\n")),
            Ok(Bytes::from_static(b"{\"end\": {\"rowCount\": \"1\"}}")),
        ];
        let body = Body::from_stream(futures::stream::iter(chunks));
        let messages: Vec<DynamicMessage> =
            ndjson_messages(frame_descriptor(), body, 1024).map(|m| m.expect("parses")).collect().await;
        assert_eq!(messages.len(), 3);
        assert!(messages[0].has_field_by_name("header"));
        assert!(messages[1].has_field_by_name("chunk"));
        assert!(messages[2].has_field_by_name("end"));
    }

    #[tokio::test]
    async fn a_bad_ndjson_line_is_named_by_its_index() {
        let body = Body::from("{\"header\": {}}\n{\"chunk\": {\"rows\": [{\"numerator\": \"x\"}]}}\n");
        let results: Vec<Result<DynamicMessage, ServiceError>> =
            ndjson_messages(frame_descriptor(), body, 1024).collect().await;
        assert!(results[0].is_ok());
        let error = results[1].as_ref().expect_err("refused");
        assert_eq!(error.violations[0].field, "[1].chunk.rows[0].numerator");
        assert!(error.message.starts_with("message 1:"), "{}", error.message);
    }

    #[test]
    fn an_error_body_carries_the_stable_code_its_statuses_and_the_fields() {
        let error = ServiceError::invalid_field("spec.code", "REQUIRED", "a metric needs a code")
            .with_metadata("rule", "define.not_owner");
        let body = error_body(&error);
        assert_eq!(body["error"]["code"], "INVALID_ARGUMENT");
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(body["error"]["grpc_code"], 3);
        assert_eq!(body["error"]["http_status"], 400);
        assert_eq!(body["error"]["field_violations"][0]["field"], "spec.code");
        assert_eq!(body["error"]["metadata"]["rule"], "define.not_owner");
        let response = error_response(&ServiceError::permission_denied("not yours"));
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn content_types_name_json_or_ndjson_in_utf_8_only() {
        assert_eq!(BodyType::of("application/json"), Some(BodyType::Json));
        assert_eq!(BodyType::of("Application/JSON; charset=\"UTF-8\""), Some(BodyType::Json));
        assert_eq!(BodyType::of("application/json;"), Some(BodyType::Json));
        assert_eq!(BodyType::of("application/x-ndjson; charset=utf-8"), Some(BodyType::Ndjson));
        assert_eq!(BodyType::of("application/jsonl"), Some(BodyType::Ndjson));
        for refused in ["", "text/plain", "text/csv", "application/json; charset=latin1", "application/json; v=2"] {
            assert_eq!(BodyType::of(refused), None, "{refused:?}");
        }
    }

    /// A gRPC side that reads the whole request, then answers INTERNAL: the requests below are
    /// refused before the call or while it reads, or show by that answer that they were not.
    fn internal_service() -> GrpcService {
        BoxCloneSyncService::new(tower::service_fn(|request: http::Request<tonic::body::Body>| async {
            let _ = http_body_util::BodyExt::collect(request.into_body()).await;
            Ok::<_, Infallible>(tonic::Status::internal("the gRPC service was called").into_http())
        }))
    }

    /// Sends one request through the transcoder (JSON bodies limited to 64 bytes); returns the
    /// status, headers and JSON body of its answer.
    async fn send(request: http::Request<Body>) -> (StatusCode, HeaderMap, serde_json::Value) {
        let router = router(internal_service(), TranscodeOptions { max_body_bytes: 64 }).expect("builds");
        let response = tower::ServiceExt::oneshot(router, request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("a body");
        let json =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        (parts.status, parts.headers, json)
    }

    fn request(method: &str, path: &str, content_type: Option<&str>, body: Body) -> http::Request<Body> {
        let mut request = http::Request::builder().method(method).uri(path);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request.body(body).expect("a request")
    }

    /// Asserts an error answer whose body agrees with its status line: the HTTP status, the
    /// stable code, the gRPC status by name and number, and (for a refusal) its reason.
    fn assert_error(answer: &(StatusCode, HeaderMap, serde_json::Value), status: u16, code: &str, grpc: i32) {
        let (got, _, body) = answer;
        let error = &body["error"];
        assert_eq!(got.as_u16(), status, "{error}");
        assert_eq!(error["http_status"], status, "{error}");
        assert_eq!(error["code"], code, "{error}");
        assert_eq!(error["status"], code, "{error}");
        assert_eq!(error["grpc_code"], grpc, "{error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }

    fn reason(answer: &(StatusCode, HeaderMap, serde_json::Value)) -> &str {
        answer.2["error"]["field_violations"][0]["reason"].as_str().unwrap_or_default()
    }

    #[tokio::test]
    async fn a_body_must_be_json_or_for_a_stream_ndjson_else_415() {
        let refused = [
            ("/v1/metrics", Some("text/plain")),
            ("/v1/metrics", Some("application/x-www-form-urlencoded")),
            ("/v1/metrics", Some("application/json; charset=latin1")),
            ("/v1/metrics", Some("application/x-ndjson")),
            ("/v1/metrics", None),
            ("/v1/submissions:stream", Some("text/csv")),
            ("/v1/submissions:stream", None),
        ];
        for (path, content_type) in refused {
            let answer = send(request("POST", path, content_type, Body::from("{}"))).await;
            assert_error(&answer, 415, "UNIMPLEMENTED", 12);
            assert_eq!(reason(&answer), "UNSUPPORTED_MEDIA_TYPE", "{path} {content_type:?}");
        }
        // An accepted type reaches the JSON parser: malformed JSON is 400, not 415.
        for content_type in ["application/json", "application/json; charset=utf-8"] {
            let answer = send(request("POST", "/v1/metrics", Some(content_type), Body::from("{\"spec\": "))).await;
            assert_error(&answer, 400, "INVALID_ARGUMENT", 3);
        }
        let line = Body::from("{\"header\": {\"metricCode\": 5}}\n");
        let answer = send(request("POST", "/v1/submissions:stream", Some("application/x-ndjson"), line)).await;
        assert_error(&answer, 400, "INVALID_ARGUMENT", 3);
        // A write without a body needs no type: it goes on to the call.
        let answer = send(request("POST", "/v1/metrics", None, Body::empty())).await;
        assert_error(&answer, 500, "INTERNAL", 13);
    }

    #[tokio::test]
    async fn the_transcoders_own_refusals_agree_with_their_status() {
        let not_found = send(request("GET", "/v1/no-such-thing", None, Body::empty())).await;
        assert_error(&not_found, 404, "NOT_FOUND", 5);

        let method = send(request("DELETE", "/v1/metrics", None, Body::empty())).await;
        assert_error(&method, 405, "UNIMPLEMENTED", 12);
        assert_eq!(reason(&method), "METHOD_NOT_ALLOWED");
        assert!(method.1.get(header::ALLOW).is_some_and(|allow| allow.to_str().unwrap().contains("POST")));

        let large = format!("{{\"spec\": {{\"title\": \"{}\"}}}}", "x".repeat(100));
        let too_large = send(request("POST", "/v1/metrics", Some("application/json"), Body::from(large.clone()))).await;
        assert_error(&too_large, 413, "RESOURCE_EXHAUSTED", 8);
        assert_eq!(reason(&too_large), "BODY_TOO_LARGE");
        // Without a length, the limit holds as the body is read.
        let chunked = Body::from_stream(futures::stream::iter([Ok::<_, Infallible>(large)]));
        let too_large = send(request("POST", "/v1/metrics", Some("application/json"), chunked)).await;
        assert_error(&too_large, 413, "RESOURCE_EXHAUSTED", 8);
        let long_line = Body::from(format!("{{\"header\": {{\"sourceSystem\": \"{}\"}}}}", "x".repeat(100)));
        let too_long = send(request("POST", "/v1/submissions:stream", Some(NDJSON), long_line)).await;
        assert_error(&too_long, 413, "RESOURCE_EXHAUSTED", 8);

        // The HTTP port's body wrapper fails a stalled body with an io::Error of kind TimedOut.
        let stalled = || {
            Body::from_stream(futures::stream::iter([
                Ok(Bytes::from_static(b"{\"spec\": ")),
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no body bytes for 500 ms")),
            ]))
        };
        let timeout = send(request("POST", "/v1/metrics", Some("application/json"), stalled())).await;
        assert_error(&timeout, 408, "DEADLINE_EXCEEDED", 4);
        assert_eq!(reason(&timeout), "BODY_TIMEOUT");
        let timeout = send(request("POST", "/v1/submissions:stream", Some(NDJSON), stalled())).await;
        assert_error(&timeout, 408, "DEADLINE_EXCEEDED", 4);
    }
}
