//! Logs and traces: `tracing` with JSON (or human) logs, OpenTelemetry export when an
//! endpoint is configured, and the W3C trace context carried across gRPC metadata and
//! AMQP headers so one report's path through the services is one trace.
//!
//! Spans carry report and event ids, never personal data (R20.2): the fields of the
//! reporter never reach a log line.

use std::collections::BTreeMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde::Deserialize;
use thiserror::Error;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line (suite mode, for log collectors).
    #[default]
    Json,
    /// Human-readable lines (a terminal).
    Pretty,
}

/// Telemetry settings (`[telemetry]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Log line format.
    pub log_format: LogFormat,
    /// `tracing` filter directives, e.g. `info,paht_intake=debug`; `RUST_LOG` overrides.
    pub log_filter: String,
    /// OTLP/gRPC collector endpoint (e.g. `http://127.0.0.1:4317`); no export when unset.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig { log_format: LogFormat::Json, log_filter: "info".into(), otlp_endpoint: None }
    }
}

/// Telemetry could not start.
#[derive(Debug, Error)]
pub enum TelemetryError {
    /// The filter directives do not parse.
    #[error("log filter {0:?} is invalid: {1}")]
    Filter(String, String),
    /// The OTLP exporter could not be built.
    #[error("OpenTelemetry exporter: {0}")]
    Exporter(String),
    /// A global subscriber was already installed.
    #[error("telemetry already initialised: {0}")]
    AlreadyInitialised(String),
}

/// Keeps the exporter alive; flushes pending spans when dropped.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Nothing useful can be done with a flush error at shutdown.
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber writing to stdout. Call once, at a binary's start.
pub fn init(config: &TelemetryConfig, service_name: &str) -> Result<TelemetryGuard, TelemetryError> {
    init_with_writer(config, service_name, std::io::stdout)
}

/// Installs the global subscriber writing to `writer` (tests capture logs this way).
pub fn init_with_writer<W>(
    config: &TelemetryConfig,
    service_name: &str,
    writer: W,
) -> Result<TelemetryGuard, TelemetryError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log_filter.clone());
    let filter =
        EnvFilter::try_new(&directives).map_err(|e| TelemetryError::Filter(directives.clone(), e.to_string()))?;
    let fmt = match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_target(false).with_writer(writer).boxed(),
    };
    let provider = match &config.otlp_endpoint {
        None => None,
        Some(endpoint) => Some(otlp_provider(endpoint, service_name)?),
    };
    let otel = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("paht")));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| TelemetryError::AlreadyInitialised(e.to_string()))?;
    Ok(TelemetryGuard { provider })
}

fn otlp_provider(endpoint: &str, service_name: &str) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service_name.to_string()).build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

struct MapCarrier<'a>(&'a mut BTreeMap<String, String>);

impl Injector for MapCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

struct MapReader<'a>(&'a BTreeMap<String, String>);

impl Extractor for MapReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The W3C trace context of `span` as headers (`traceparent`, `tracestate`), to put on
/// an outgoing message. Empty when no trace is being recorded.
pub fn trace_headers(span: &tracing::Span) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut MapCarrier(&mut headers));
    headers
}

/// Makes `span` a child of the trace carried in a message's headers, if any.
pub fn continue_trace(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    let parent = TraceContextPropagator::new().extract(&MapReader(headers));
    // A span that is disabled by the filter has no OpenTelemetry data to attach to.
    let _ = span.set_parent(parent);
}

struct MetadataCarrier<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) =
            (tonic::metadata::MetadataKey::from_bytes(key.as_bytes()), tonic::metadata::MetadataValue::try_from(&value))
        {
            self.0.insert(key, value);
        }
    }
}

struct MetadataReader<'a>(&'a tonic::metadata::MetadataMap);

impl Extractor for MetadataReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => Some(k.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// Puts the current span's trace context into an outgoing gRPC request's metadata.
pub fn inject_grpc(metadata: &mut tonic::metadata::MetadataMap) {
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut MetadataCarrier(metadata));
}

/// Makes `span` a child of the trace carried by an incoming gRPC request.
pub fn continue_grpc_trace(span: &tracing::Span, metadata: &tonic::metadata::MetadataMap) {
    let parent = TraceContextPropagator::new().extract(&MetadataReader(metadata));
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_context_round_trips_through_headers_and_metadata() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
        let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let span_id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        let sc = SpanContext::new(trace_id, span_id, TraceFlags::SAMPLED, true, TraceState::default());
        let cx = opentelemetry::Context::new().with_remote_span_context(sc);

        let mut headers = BTreeMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut MapCarrier(&mut headers));
        assert_eq!(
            headers.get("traceparent").map(String::as_str),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        let back = TraceContextPropagator::new().extract(&MapReader(&headers));
        assert_eq!(back.span().span_context().trace_id(), trace_id);

        let mut metadata = tonic::metadata::MetadataMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut MetadataCarrier(&mut metadata));
        let back = TraceContextPropagator::new().extract(&MetadataReader(&metadata));
        assert_eq!(back.span().span_context().span_id(), span_id);
    }

    #[test]
    fn config_defaults_to_json_logs_without_export() {
        let cfg = TelemetryConfig::default();
        assert_eq!(cfg.log_format, LogFormat::Json);
        assert!(cfg.otlp_endpoint.is_none());
    }
}
