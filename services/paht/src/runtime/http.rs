//! The operations endpoints: `/healthz` (the process runs), `/readyz` (it serves and is not
//! shutting down), `/metrics` (Prometheus text: each service's outbox relay), and a short
//! index page. Citizens' pages come with the portal; nothing here shows report data.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use paht_platform::db::outbox;

use super::Hosted;

/// What the endpoints read.
#[derive(Clone)]
pub(crate) struct State {
    pub ready: Arc<AtomicBool>,
    pub hosted: Arc<Vec<Hosted>>,
}

pub(crate) fn router(state: State) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn index(Extract(state): Extract<State>) -> impl IntoResponse {
    let names: Vec<&str> = state.hosted.iter().map(|h| h.name).collect();
    let body = format!(
        "PAHT — hệ thống tiếp nhận phản ánh hiện trường\n\
         Dịch vụ đang chạy / services: {}\n\n\
         /healthz  tiến trình hoạt động (liveness)\n\
         /readyz   sẵn sàng phục vụ (readiness)\n\
         /metrics  chỉ số Prometheus (metrics)\n",
        names.join(", ")
    );
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}

async fn readyz(Extract(state): Extract<State>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn metrics(Extract(state): Extract<State>) -> impl IntoResponse {
    let mut samples = Vec::new();
    for hosted in state.hosted.iter() {
        // A failed count is reported as absent rather than failing the whole scrape.
        let pending = outbox::pending_count(hosted.db.conn()).await.ok();
        samples.push(Sample::of(hosted, pending));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render(&samples))
}

/// One service's relay figures at scrape time.
struct Sample {
    service: &'static str,
    published: u64,
    batches: u64,
    publish_failures: u64,
    db_errors: u64,
    consecutive_failures: u64,
    pending: Option<u64>,
    /// (quantile, seconds)
    lag: Vec<(&'static str, f64)>,
}

impl Sample {
    fn of(hosted: &Hosted, pending: Option<u64>) -> Sample {
        let stats = &hosted.relay_stats;
        let snap = stats.snapshot();
        let lag = [("0.5", 0.5), ("0.9", 0.9), ("0.99", 0.99), ("0.999", 0.999)]
            .into_iter()
            .filter_map(|(label, q)| stats.lag_quantile(q).map(|d| (label, d.as_secs_f64())))
            .collect();
        Sample {
            service: hosted.name,
            published: snap.published,
            batches: snap.batches,
            publish_failures: snap.publish_failures,
            db_errors: snap.db_errors,
            consecutive_failures: snap.consecutive_failures,
            pending,
            lag,
        }
    }
}

/// A metric family: name, type, help, and its value for a service (absent when unknown).
type Family = (&'static str, &'static str, &'static str, fn(&Sample) -> Option<u64>);

fn render(samples: &[Sample]) -> String {
    let mut out = String::new();
    let families: [Family; 6] = [
        ("paht_outbox_published_total", "counter", "Events the outbox relay published.", |s| Some(s.published)),
        ("paht_outbox_batches_total", "counter", "Batches the outbox relay published.", |s| Some(s.batches)),
        ("paht_outbox_publish_failures_total", "counter", "Batches the bus failed to publish.", |s| {
            Some(s.publish_failures)
        }),
        ("paht_outbox_db_errors_total", "counter", "Database errors the relay backed off from.", |s| Some(s.db_errors)),
        ("paht_outbox_consecutive_failures", "gauge", "Failures since the last success (backing off).", |s| {
            Some(s.consecutive_failures)
        }),
        ("paht_outbox_pending", "gauge", "Events written and not yet published.", |s| s.pending),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for sample in samples {
            if let Some(v) = value(sample) {
                let _ = writeln!(out, "{name}{{service=\"{}\"}} {v}", sample.service);
            }
        }
    }
    let name = "paht_outbox_lag_seconds";
    let _ = writeln!(out, "# HELP {name} Time from commit to publication, per event.\n# TYPE {name} summary");
    for sample in samples {
        for (q, secs) in &sample.lag {
            let _ = writeln!(out, "{name}{{service=\"{}\",quantile=\"{q}\"}} {secs}", sample.service);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let sample = Sample {
            service: "intake",
            published: 7,
            batches: 2,
            publish_failures: 1,
            db_errors: 0,
            consecutive_failures: 0,
            pending: None,
            lag: vec![("0.99", 0.012)],
        };
        let text = render(&[sample]);
        assert!(text.contains(
            "# TYPE paht_outbox_published_total counter\npaht_outbox_published_total{service=\"intake\"} 7\n"
        ));
        assert!(text.contains("paht_outbox_lag_seconds{service=\"intake\",quantile=\"0.99\"} 0.012\n"));
        assert!(!text.contains("paht_outbox_pending{"), "an unknown count is left out");
    }
}
