//! Phoenix Channels over WebSocket, compatible with the unmodified `phoenix`
//! JavaScript client.
//!
//! - [`frame`]: the V1 and V2 serializers.
//! - [`connection`]: one socket's life: channel joins and leaves, heartbeats,
//!   replies, delivery of hub broadcasts, and how it ends.
//!
//! The route lives at `/socket/websocket`; the `vsn` query parameter picks the
//! serializer and every other query parameter is kept as the connection's
//! connect params.

mod connection;
pub mod frame;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, Query, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::client_events::ClientEvents;
use crate::http_error::HttpError;
use crate::hub::Hub;
use frame::Serializer;

/// Limits and timeouts of Phoenix sockets.
#[derive(Debug, Clone)]
pub struct PhoenixSettings {
    /// Channels one socket may have joined at once.
    pub max_channels: usize,
    /// A socket that sends nothing (not even a heartbeat) this long is closed.
    pub idle_timeout: Duration,
    /// Largest frame accepted from a client, in bytes.
    pub max_frame_bytes: usize,
    /// How much the socket reads at once; kept small because every idle
    /// connection holds one.
    pub read_buffer_bytes: usize,
}

impl Default for PhoenixSettings {
    fn default() -> Self {
        Self {
            max_channels: 100,
            idle_timeout: Duration::from_secs(60),
            max_frame_bytes: 64 * 1024,
            read_buffer_bytes: 256,
        }
    }
}

/// Broadcast frames queued for one socket are gathered up to this many bytes
/// before a write, so a subscriber with several frames waiting gets them in
/// one syscall.
const WRITE_COALESCE_BYTES: usize = 8 * 1024;

/// What the Phoenix route needs: the hub, its settings, and the services
/// that answer events clients push on joined topics.
pub struct PhoenixEndpoint {
    pub hub: Arc<Hub>,
    pub settings: PhoenixSettings,
    pub events: ClientEvents,
}

/// The routes of the Phoenix transport.
pub fn router(endpoint: Arc<PhoenixEndpoint>) -> Router {
    Router::new()
        .route("/socket/websocket", get(upgrade))
        .with_state(endpoint)
}

/// Who connected and with which parameters; kept for the life of the socket
/// (authorization reads the token from here).
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub remote: SocketAddr,
    pub params: HashMap<String, String>,
}

async fn upgrade(
    State(endpoint): State<Arc<PhoenixEndpoint>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(mut params): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return HttpError::new(
                rejection.status(),
                "websocket_upgrade_required",
                rejection.body_text(),
            )
            .into_response();
        }
    };
    let vsn = params.remove("vsn");
    let Some(serializer) = Serializer::from_vsn(vsn.as_deref()) else {
        return HttpError::bad_request(
            "unsupported_vsn",
            "vsn must be 1.x (JSON objects) or 2.x (JSON arrays)",
        )
        .into_response();
    };
    let subscriber = match endpoint.hub.connect() {
        Ok(subscriber) => subscriber,
        Err(err) => return HttpError::unavailable(err.to_string()).into_response(),
    };
    let settings = &endpoint.settings;
    let connect = ConnectParams { remote, params };
    let endpoint = endpoint.clone();
    ws.read_buffer_size(settings.read_buffer_bytes)
        // Frames of one batch collect here and go out in one write.
        .write_buffer_size(WRITE_COALESCE_BYTES)
        .max_message_size(settings.max_frame_bytes)
        .max_frame_size(settings.max_frame_bytes)
        .on_upgrade(move |socket| {
            connection::Connection::new(socket, subscriber, serializer, connect, endpoint).run()
        })
}
