//! `GET /health` and `GET /api/health`: is Herald up, and how busy is it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::ApiState;

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    connections: usize,
    topics: usize,
    messages_published: u64,
    deliveries: u64,
    slow_consumers_dropped: u64,
}

pub async fn health(State(state): State<Arc<ApiState>>) -> Json<Health> {
    let stats = state.hub.stats();
    Json(Health {
        status: if state.hub.is_shutting_down() {
            "shutting_down"
        } else {
            "ok"
        },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        connections: stats.connections,
        topics: stats.topics,
        messages_published: stats.published,
        deliveries: stats.delivered,
        slow_consumers_dropped: stats.slow_consumers_dropped,
    })
}
