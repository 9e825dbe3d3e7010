//! `GET /health` and `GET /api/health`: is Herald up, and how busy is it.
//!
//! `?rooms=1` adds the Socket.IO rooms with their member counts, as the
//! streaming site's notify server listed them (off by default: the list can
//! be long). Room names carry user and business ids, so the list needs an
//! API key; the rest stays open for load balancers.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::extract::QueryParams;
use crate::auth::http::Caller;
use crate::http_error::HttpError;

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    /// Every client connection (Phoenix and Socket.IO).
    connections: usize,
    topics: usize,
    messages_published: u64,
    deliveries: u64,
    slow_consumers_dropped: u64,
    socketio: SocketIoHealth,
}

#[derive(Serialize)]
pub struct SocketIoHealth {
    clients: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    rooms: Option<Vec<RoomHealth>>,
}

#[derive(Serialize)]
pub struct RoomHealth {
    room: String,
    clients: usize,
}

#[derive(Deserialize)]
pub struct HealthQuery {
    rooms: Option<String>,
}

pub async fn health(
    State(state): State<Arc<ApiState>>,
    QueryParams(query): QueryParams<HealthQuery>,
    caller: Result<Caller, HttpError>,
) -> Result<Json<Health>, HttpError> {
    let stats = state.hub.stats();
    let list_rooms = matches!(query.rooms.as_deref(), Some("1" | "true" | "yes"));
    if list_rooms {
        match caller? {
            Caller::Producer(_) => {}
            Caller::User(_) => {
                return Err(HttpError::new(
                    StatusCode::FORBIDDEN,
                    "producer_key_required",
                    "listing rooms needs an API key; a user token may not",
                ));
            }
        }
    }
    Ok(Json(Health {
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
        socketio: SocketIoHealth {
            clients: state.socketio.clients(),
            rooms: list_rooms.then(|| {
                state
                    .socketio
                    .rooms()
                    .into_iter()
                    .map(|(room, clients)| RoomHealth { room, clients })
                    .collect()
            }),
        },
    }))
}
