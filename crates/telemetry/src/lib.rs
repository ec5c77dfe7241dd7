//! Telemetry in one call: [`init`] installs the `tracing` subscriber (pretty or JSON lines),
//! adds an OpenTelemetry layer exporting traces over OTLP only when an endpoint is configured,
//! and returns a guard that flushes spans on drop. [`inject_context`] and [`extract_context`]
//! carry W3C trace context in gRPC metadata, so one request through the gateway and the services
//! it calls is one trace. [`PlatformTelemetry`] holds the process's Prometheus counters (RPCs by
//! code, latencies, ingested rows), served as text at the gateway's `/metrics`.

pub mod exposition;

pub use exposition::{Dependency, PlatformTelemetry, RowOutcome};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use sharedmetrics_config::{LogFormat, TelemetryConfig};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes and shuts down trace export when dropped; keep it alive for the life of the process.
#[must_use = "telemetry stops exporting when the guard is dropped"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("telemetry shutdown failed: {error}");
        }
    }
}

/// Installs the global subscriber. `RUST_LOG`, when set, replaces the configured filter.
pub fn init(config: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    let provider = match &config.otlp_endpoint {
        Some(endpoint) => Some(otlp_provider(endpoint, &config.service_name)?),
        None => None,
    };
    let guard = install(config, provider)?;
    if let Some(endpoint) = &config.otlp_endpoint {
        tracing::info!(%endpoint, "exporting traces over otlp");
    }
    Ok(guard)
}

/// Installs the global subscriber exporting spans through `provider` whatever the config's
/// OTLP endpoint says: for tests that collect spans in memory, and for exporters `init` does
/// not build.
pub fn init_with_tracer_provider(
    config: &TelemetryConfig,
    provider: SdkTracerProvider,
) -> anyhow::Result<TelemetryGuard> {
    install(config, Some(provider))
}

fn install(config: &TelemetryConfig, provider: Option<SdkTracerProvider>) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&config.log_filter))?;
    let fmt_layer = log_layer(config.log_format, std::io::stdout);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(provider) = &provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    let otel_layer =
        provider.as_ref().map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("sharedmetrics")));
    tracing_subscriber::registry().with(filter).with(fmt_layer).with(otel_layer).try_init()?;
    Ok(TelemetryGuard { provider })
}

/// Returns the layer writing log lines in `format` to `writer`.
fn log_layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_target(true).with_writer(writer).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().flatten_event(true).with_writer(writer).boxed(),
    }
}

fn otlp_provider(endpoint: &str, service_name: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service_name.to_owned()).build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value))
        {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes the current span's W3C trace context (`traceparent`) into outgoing headers.
pub fn inject_context(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// Makes `span` a child of the W3C trace context found in incoming headers, if any.
pub fn extract_context(headers: &http::HeaderMap, span: &tracing::Span) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what a log layer writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log_in_a_span(format: LogFormat) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry().with(log_layer(format, move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("grpc.server", rpc.method = "SubmitObservations");
            span.in_scope(|| tracing::info!(created = 12, "submission committed"));
        });
        let bytes = captured.0.lock().expect("not poisoned").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn json_logs_are_one_object_a_line_with_fields_flattened_and_the_request_span() {
        let text = log_in_a_span(LogFormat::Json);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON object");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "submission committed");
        assert_eq!(line["created"], 12);
        assert_eq!(line["span"]["name"], "grpc.server");
        assert_eq!(line["span"]["rpc.method"], "SubmitObservations");
    }

    #[test]
    fn pretty_logs_are_text_naming_the_span() {
        let text = log_in_a_span(LogFormat::Pretty);
        assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err(), "{text}");
        assert!(text.contains("submission committed") && text.contains("grpc.server"), "{text}");
    }
}
