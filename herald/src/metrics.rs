//! Prometheus metrics at `GET /metrics`.
//!
//! Rare events (socket closes by reason, refused requests, limits hit) are
//! counted where they happen with the `metrics` macros. Hot-path figures
//! (messages published, deliveries) are already counted by the hub with plain
//! atomics; they are copied into the registry when `/metrics` is scraped, so
//! fan-out pays nothing extra for them.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::hub::Hub;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide recorder, installed on first use. `None` if another
/// recorder was installed first (then `/metrics` says so).
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .as_ref()
}

/// Install the recorder now, so counters recorded before the first scrape
/// are kept.
pub fn install() {
    let _ = handle();
}

pub fn router(hub: Arc<Hub>) -> Router {
    Router::new().route("/metrics", get(render)).with_state(hub)
}

async fn render(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    let stats = hub.stats();
    metrics::gauge!("herald_connections").set(stats.connections as f64);
    metrics::gauge!("herald_topics").set(stats.topics as f64);
    metrics::counter!("herald_messages_published_total").absolute(stats.published);
    metrics::counter!("herald_deliveries_total").absolute(stats.delivered);
    metrics::counter!("herald_slow_consumers_dropped_total").absolute(stats.slow_consumers_dropped);
    let body = match handle() {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => "# metrics recorder unavailable\n".to_owned(),
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
