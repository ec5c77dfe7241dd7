//! The platform's own telemetry in the Prometheus text format: one process-wide registry, so
//! every role in a process (and every in-process topology of the tests) reports into the same
//! counters, served by the gateway at `GET /metrics`.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// Content type of the text exposition format served at `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency buckets in seconds: from a cached read (under a millisecond) to a bulk stream that
/// runs as long as the default deadline allows.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// What happened to an observation row a committed submission wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    /// A key that had no current value.
    Created,
    /// A new revision of a key whose current value differed.
    Updated,
    /// A key retracted (a tombstone revision).
    Retracted,
}

impl RowOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Retracted => "retracted",
        }
    }
}

/// The counters and histograms of one process.
pub struct PlatformTelemetry {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    ingested_rows: IntCounterVec,
    dependency_up: IntGaugeVec,
    dependency_transitions: IntCounterVec,
}

/// A backing service a process depends on, whose reachability it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// The relational store.
    Database,
    /// The shared cache and quota store.
    Redis,
}

impl Dependency {
    fn label(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Redis => "redis",
        }
    }
}

static GLOBAL: LazyLock<PlatformTelemetry> = LazyLock::new(PlatformTelemetry::new);

impl PlatformTelemetry {
    /// Returns the process-wide instance.
    pub fn global() -> &'static Self {
        &GLOBAL
    }

    fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("grpc_server_requests_total", "gRPC requests served, by RPC and final status code."),
            &["rpc", "code"],
        )
        .expect("a valid counter");
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_request_duration_seconds",
                "Time from a gRPC request's arrival to its final status, by RPC.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["rpc"],
        )
        .expect("a valid histogram");
        let ingested_rows = IntCounterVec::new(
            Opts::new(
                "observations_ingested_rows_total",
                "Observation rows written by committed submissions, by outcome (unchanged and rejected rows write nothing).",
            ),
            &["outcome"],
        )
        .expect("a valid counter");
        let dependency_up = IntGaugeVec::new(
            Opts::new("dependency_up", "1 while the dependency answers, 0 while this process treats it as down."),
            &["dependency"],
        )
        .expect("a valid gauge");
        let dependency_transitions = IntCounterVec::new(
            Opts::new("dependency_transitions_total", "Times this process saw a dependency go down or come back."),
            &["dependency", "to"],
        )
        .expect("a valid counter");
        // Registration fails only on a duplicate name, and these are distinct.
        registry.register(Box::new(requests.clone())).expect("registered once");
        registry.register(Box::new(durations.clone())).expect("registered once");
        registry.register(Box::new(ingested_rows.clone())).expect("registered once");
        registry.register(Box::new(dependency_up.clone())).expect("registered once");
        registry.register(Box::new(dependency_transitions.clone())).expect("registered once");
        Self { registry, requests, durations, ingested_rows, dependency_up, dependency_transitions }
    }

    /// Counts one finished RPC with its gRPC status code name (`OK`, `INVALID_ARGUMENT`, …) and
    /// records its latency.
    pub fn record_rpc(&self, rpc: &str, code: &str, elapsed: Duration) {
        self.requests.with_label_values(&[rpc, code]).inc();
        self.durations.with_label_values(&[rpc]).observe(elapsed.as_secs_f64());
    }

    /// Counts observation rows a committed submission wrote.
    pub fn record_ingested_rows(&self, outcome: RowOutcome, rows: u64) {
        if rows > 0 {
            self.ingested_rows.with_label_values(&[outcome.label()]).inc_by(rows);
        }
    }

    /// Records whether `dependency` answers now; a change of state is also counted as a
    /// transition.
    pub fn record_dependency(&self, dependency: Dependency, up: bool, transition: bool) {
        self.dependency_up.with_label_values(&[dependency.label()]).set(i64::from(up));
        if transition {
            let to = if up { "up" } else { "down" };
            self.dependency_transitions.with_label_values(&[dependency.label(), to]).inc();
        }
    }

    /// Returns every series in the Prometheus text exposition format.
    pub fn encode_text(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail on I/O, and every family here is well formed.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "encoding telemetry failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rpc_is_counted_by_code_and_timed_by_rpc() {
        let telemetry = PlatformTelemetry::new();
        let rpc = "sharedmetrics.access.v1.AccessService/WhoAmI";
        telemetry.record_rpc(rpc, "OK", Duration::from_millis(2));
        telemetry.record_rpc(rpc, "OK", Duration::from_millis(3));
        telemetry.record_rpc(rpc, "UNAUTHENTICATED", Duration::from_micros(300));
        let text = telemetry.encode_text();
        assert!(text.contains(&format!("grpc_server_requests_total{{code=\"OK\",rpc=\"{rpc}\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("grpc_server_requests_total{{code=\"UNAUTHENTICATED\",rpc=\"{rpc}\"}} 1\n")));
        assert!(text.contains(&format!("grpc_server_request_duration_seconds_count{{rpc=\"{rpc}\"}} 3\n")));
        // 0.3 ms falls in the first bucket; 2 and 3 ms by 5 ms.
        assert!(
            text.contains(&format!("grpc_server_request_duration_seconds_bucket{{rpc=\"{rpc}\",le=\"0.0005\"}} 1\n"))
        );
        assert!(
            text.contains(&format!("grpc_server_request_duration_seconds_bucket{{rpc=\"{rpc}\",le=\"0.005\"}} 3\n"))
        );
    }

    #[test]
    fn a_dependency_reports_its_state_and_counts_its_transitions() {
        let telemetry = PlatformTelemetry::new();
        telemetry.record_dependency(Dependency::Redis, true, false);
        telemetry.record_dependency(Dependency::Redis, false, true);
        telemetry.record_dependency(Dependency::Redis, true, true);
        telemetry.record_dependency(Dependency::Redis, false, true);
        let text = telemetry.encode_text();
        assert!(text.contains("dependency_up{dependency=\"redis\"} 0\n"), "{text}");
        assert!(text.contains("dependency_transitions_total{dependency=\"redis\",to=\"down\"} 2\n"), "{text}");
        assert!(text.contains("dependency_transitions_total{dependency=\"redis\",to=\"up\"} 1\n"), "{text}");
    }

    #[test]
    fn ingested_rows_add_up_by_outcome_and_zero_adds_no_series() {
        let telemetry = PlatformTelemetry::new();
        telemetry.record_ingested_rows(RowOutcome::Created, 40);
        telemetry.record_ingested_rows(RowOutcome::Created, 2);
        telemetry.record_ingested_rows(RowOutcome::Updated, 0);
        let text = telemetry.encode_text();
        assert!(text.contains("observations_ingested_rows_total{outcome=\"created\"} 42\n"), "{text}");
        assert!(!text.contains("outcome=\"updated\""));
    }
}
