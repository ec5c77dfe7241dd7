//! Telemetry end to end: one request through the gateway and the services it calls is one
//! trace (the spans of the whole platform are collected in memory through the real
//! `tracing` → OpenTelemetry pipeline), and the gateway's `/metrics` counts RPCs by code and the
//! observation rows submissions wrote, exactly.
//!
//! This file is its own process: it installs the global subscriber once, and its scenarios take
//! turns (the counters are process-wide, so a scenario must not see another's calls).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use sharedmetrics_config::TelemetryConfig;
use sharedmetrics_e2e::{AuthChannel, Backend, Sandbox, Topology, proportion};
use sharedmetrics_proto::sharedmetrics::access::v1 as access;
use sharedmetrics_proto::sharedmetrics::access::v1::access_service_client::AccessServiceClient;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, Breakdown, BreakdownCode};
use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::{
    ObservationRow, SubmissionHeader, SubmissionMode, SubmissionReceipt, SubmitObservationsRequest,
};

const SUBMIT: &str = "sharedmetrics.submissions.v1.SubmissionsService/SubmitObservations";
const WHO_AM_I: &str = "sharedmetrics.access.v1.AccessService/WhoAmI";
const DEFINITIONS: &str = "sharedmetrics.definitions.v1.DefinitionsService/";
/// Wirral LSOAs: Cheshire and Merseyside ICB, where the trust RBL is listed.
const WIRRAL_LSOAS: [&str; 2] = ["E01007124", "E01007125"];

/// Every span the process ended, as an OTLP exporter would have received it.
#[derive(Debug, Clone, Default)]
struct CollectedSpans(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for CollectedSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().expect("not poisoned").extend(batch);
        Ok(())
    }
}

struct Telemetry {
    spans: CollectedSpans,
    provider: SdkTracerProvider,
    _guard: sharedmetrics_telemetry::TelemetryGuard,
}

/// Installs the platform's telemetry once for this process, exporting to memory.
fn telemetry() -> &'static Telemetry {
    static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let spans = CollectedSpans::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(spans.clone()).build();
        // Server spans are at info in sharedmetrics_grpc; everything else stays quiet.
        let config = TelemetryConfig { log_filter: "warn,sharedmetrics_grpc=info".into(), ..Default::default() };
        let guard = sharedmetrics_telemetry::init_with_tracer_provider(&config, provider.clone())
            .expect("the subscriber is installed once");
        Telemetry { spans, provider, _guard: guard }
    })
}

/// Scenarios take turns: spans and counters are process-wide.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn spec(code: &str) -> MetricVersionSpec {
    MetricVersionSpec {
        title: format!("Telemetry test indicator {code}"),
        area_types: vec![AreaType::Lsoa as i32],
        dimensions: vec!["imd_decile".into()],
        ..proportion(code)
    }
}

/// Defines a published test metric and returns a submitter's channel for the trust RBL.
async fn metric_and_submitter(sandbox: &Sandbox, code: &str) -> AuthChannel {
    sandbox.define(spec(code), true).await;
    sandbox.key("RBL", &[access::Role::Submitter, access::Role::Reader]).await
}

/// Returns `n` distinct observation rows (LSOA × IMD decile) for 2024/25, numerators `base + i`.
fn rows(n: usize, base: f64) -> Vec<ObservationRow> {
    (0..n)
        .map(|i| ObservationRow {
            area_code: WIRRAL_LSOAS[i / 10].into(),
            period_code: "2024/25".into(),
            breakdown: Some(Breakdown {
                codes: vec![BreakdownCode { dimension: "imd_decile".into(), code: (i % 10 + 1).to_string() }],
            }),
            numerator: Some(base + i as f64),
            denominator: Some(100.0),
            ..Default::default()
        })
        .collect()
}

async fn submit(channel: &AuthChannel, header: SubmissionHeader, rows: Vec<ObservationRow>) -> SubmissionReceipt {
    SubmissionsServiceClient::new(channel.clone())
        .submit_observations(SubmitObservationsRequest { header: Some(header), rows })
        .await
        .expect("the submission is answered")
        .into_inner()
        .receipt
        .expect("a receipt")
}

fn header(metric: &str, idempotency_key: &str) -> SubmissionHeader {
    SubmissionHeader {
        metric_code: metric.into(),
        mode: SubmissionMode::Merge as i32,
        source_system: "e2e-telemetry".into(),
        idempotency_key: idempotency_key.into(),
        ..Default::default()
    }
}

/// Returns the spans of the trace whose root is the one server span named `name` with no
/// parent, waiting for the spans still open when the response reached the client.
async fn trace_rooted_at(name: &str, expect: impl Fn(&[SpanData]) -> bool) -> (SpanData, Vec<SpanData>) {
    let telemetry = telemetry();
    for _ in 0..100 {
        telemetry.provider.force_flush().expect("the provider flushes");
        let spans = telemetry.spans.0.lock().expect("not poisoned").clone();
        let roots: Vec<&SpanData> =
            spans.iter().filter(|s| s.name == name && s.parent_span_id == SpanId::INVALID).collect();
        assert!(roots.len() <= 1, "one call of {name} was made: {roots:#?}");
        if let Some(root) = roots.first() {
            let trace_id = root.span_context.trace_id();
            let trace: Vec<SpanData> =
                spans.iter().filter(|s| s.span_context.trace_id() == trace_id).cloned().collect();
            if expect(&trace) {
                return ((*root).clone(), trace);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no complete trace rooted at {name}");
}

/// Returns whether `ancestor` is `span` or on its chain of parents within `trace`.
fn descends_from(span: &SpanData, ancestor: &SpanData, trace: &[SpanData]) -> bool {
    let by_id: HashMap<SpanId, &SpanData> = trace.iter().map(|s| (s.span_context.span_id(), s)).collect();
    let mut current = Some(span);
    while let Some(s) = current {
        if s.span_context.span_id() == ancestor.span_context.span_id() {
            return true;
        }
        current = by_id.get(&s.parent_span_id).copied();
    }
    false
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

async fn a_submission_through_the_gateway_is_one_trace_across_three_servers(backend: Backend) {
    let _turn = TURN.lock().await;
    // Only this scenario's spans: a scenario before it may have run with the subscriber on.
    telemetry().spans.0.lock().expect("not poisoned").clear();
    let sandbox = Sandbox::start(backend, Topology::Split).await.expect("the platform starts");
    let metric = "e2e-telemetry-trace";
    let submitter = metric_and_submitter(&sandbox, metric).await;
    let receipt = submit(&submitter, header(metric, "trace-1"), rows(3, 10.0)).await;
    assert!(receipt.committed, "{receipt:?}");

    let is_submissions_server = |s: &SpanData| s.name == SUBMIT && s.parent_span_id != SpanId::INVALID;
    let (gateway, trace) = trace_rooted_at(SUBMIT, |trace| {
        trace.iter().any(is_submissions_server) && trace.iter().any(|s| s.name.starts_with(DEFINITIONS))
    })
    .await;
    // The gateway's server span starts the trace; the submissions server's span is its child
    // across the network (the parent came from the traceparent in the call's metadata).
    let submissions = trace.iter().find(|s| is_submissions_server(s)).expect("the submissions server's span");
    assert!(submissions.parent_span_is_remote, "{submissions:#?}");
    assert!(descends_from(submissions, &gateway, &trace));
    // The submissions server read the metric from the definitions server inside its own span.
    let definitions: Vec<&SpanData> = trace.iter().filter(|s| s.name.starts_with(DEFINITIONS)).collect();
    for span in &definitions {
        assert!(span.parent_span_is_remote, "{span:#?}");
        assert!(descends_from(span, submissions, &trace), "{} is not under the submissions span", span.name);
    }
    assert!(definitions.iter().any(|s| s.name.ends_with("/GetMetric")), "{definitions:#?}");
    // Every span of the trace hangs from the gateway's: nothing in it started a trace of its own.
    for span in &trace {
        assert!(descends_from(span, &gateway, &trace), "{} is not under the gateway span", span.name);
    }
    for span in [&gateway, submissions] {
        assert_eq!(attribute(span, "rpc.grpc.status_code").as_deref(), Some("0"), "{span:#?}");
        assert_eq!(attribute(span, "rpc.system").as_deref(), Some("grpc"));
    }
    sandbox.stop().await.expect("the platform stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_is_one_trace_across_gateway_submissions_and_definitions_on_sqlite() {
    a_submission_through_the_gateway_is_one_trace_across_three_servers(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_is_one_trace_across_gateway_submissions_and_definitions_on_postgres() {
    a_submission_through_the_gateway_is_one_trace_across_three_servers(Backend::Postgres).await;
}

/// Fetches `path` from the gateway's HTTP port; returns the content type and the body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("HTTP listens");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("the request is sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("the response is read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned))
        .expect("a content type");
    (content_type, body.to_owned())
}

/// Scrapes `/metrics` into series (`name{labels}`) and their values.
async fn scrape(sandbox: &Sandbox) -> HashMap<String, f64> {
    let (content_type, body) = http_get(sandbox.http_addr, "/metrics").await;
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a series and a value");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

fn requests(rpc: &str, code: &str) -> String {
    format!("grpc_server_requests_total{{code=\"{code}\",rpc=\"{rpc}\"}}")
}

fn ingested(outcome: &str) -> String {
    format!("observations_ingested_rows_total{{outcome=\"{outcome}\"}}")
}

fn latency_count(rpc: &str) -> String {
    format!("grpc_server_request_duration_seconds_count{{rpc=\"{rpc}\"}}")
}

async fn the_metrics_endpoint_counts_rpcs_by_code_and_rows_written(backend: Backend, topology: Topology) {
    let _turn = TURN.lock().await;
    let sandbox = Sandbox::start(backend, topology).await.expect("the platform starts");
    let metric = "e2e-telemetry-counters";
    let submitter = metric_and_submitter(&sandbox, metric).await;
    let before = scrape(&sandbox).await;

    // Three WhoAmI answered OK (status in the trailers) and one refused before any message
    // (status in the headers).
    for _ in 0..3 {
        AccessServiceClient::new(sandbox.admin()).who_am_i(access::WhoAmIRequest {}).await.expect("the admin is known");
    }
    let refused = AccessServiceClient::new(sandbox.with_key(None)).who_am_i(access::WhoAmIRequest {}).await;
    assert_eq!(refused.expect_err("no credentials").code(), tonic::Code::Unauthenticated);

    // 12 new rows written; the same submission replayed and a dry run write nothing; then 4
    // changed rows and 2 identical ones: 4 new revisions, the identical ones not written.
    let created = submit(&submitter, header(metric, "counters-1"), rows(12, 10.0)).await;
    assert_eq!(created.counts.unwrap_or_default().created, 12);
    let replay = submit(&submitter, header(metric, "counters-1"), rows(12, 10.0)).await;
    assert!(replay.idempotent_replay);
    let dry_run = SubmissionHeader { dry_run: true, ..header(metric, "counters-dry") };
    assert!(!submit(&submitter, dry_run, rows(5, 50.0)).await.committed);
    let mut revised = rows(6, 10.0);
    for row in &mut revised[..4] {
        row.numerator = row.numerator.map(|n| n + 1.0);
    }
    let updated = submit(&submitter, header(metric, "counters-2"), revised).await;
    let counts = updated.counts.unwrap_or_default();
    assert_eq!((counts.created, counts.updated, counts.unchanged), (0, 4, 2));

    let after = scrape(&sandbox).await;
    let delta =
        |series: String| after.get(&series).copied().unwrap_or(0.0) - before.get(&series).copied().unwrap_or(0.0);
    // WhoAmI is the gateway's own RPC: served once per call in either topology.
    assert_eq!(delta(requests(WHO_AM_I, "OK")), 3.0);
    assert_eq!(delta(requests(WHO_AM_I, "UNAUTHENTICATED")), 1.0);
    assert_eq!(delta(latency_count(WHO_AM_I)), 4.0);
    // Split, the gateway forwards each submission to the submissions server, which serves it
    // too; the sandbox runs both in this process, so one registry counts it at both.
    let servers = if topology == Topology::Split { 2.0 } else { 1.0 };
    assert_eq!(delta(requests(SUBMIT, "OK")), 4.0 * servers);
    assert_eq!(delta(latency_count(SUBMIT)), 4.0 * servers);
    assert_eq!(delta(ingested("created")), 12.0);
    assert_eq!(delta(ingested("updated")), 4.0);
    assert_eq!(delta(ingested("retracted")), 0.0);
    sandbox.stop().await.expect("the platform stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_endpoint_counts_exactly_in_one_process_on_postgres() {
    the_metrics_endpoint_counts_rpcs_by_code_and_rows_written(Backend::Postgres, Topology::SingleBinary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_endpoint_counts_exactly_split_on_sqlite() {
    the_metrics_endpoint_counts_rpcs_by_code_and_rows_written(Backend::Sqlite, Topology::Split).await;
}
