//! Phoenix Channels over WebSocket, compatible with the unmodified `phoenix`
//! JavaScript client.
//!
//! - [`frame`]: the V1 and V2 serializers.
//! - [`connection`]: one socket's life: channel joins and leaves, heartbeats,
//!   replies, delivery of hub broadcasts, and how it ends.
//!
//! The route lives at `/socket/websocket`; the `vsn` query parameter picks the
//! serializer and every other query parameter is kept as the connection's
//! connect params. The client's token comes from the `token` parameter or,
//! as phoenix.js sends its `authToken` option, from a
//! `Sec-WebSocket-Protocol` entry `base64url.bearer.phx.<token>`; it is
//! checked before the upgrade, so a refused client gets an HTTP error with a
//! stable code instead of a socket.

mod channels;
mod connection;
pub mod frame;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::limits::{ConnectionLimits, ConnectionPermit, RateSettings, count_hit};
use crate::auth::{Auth, Identity};
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

/// What the Phoenix route needs: the hub, its settings, who may connect,
/// and the services that answer events clients push on joined topics.
pub struct PhoenixEndpoint {
    pub hub: Arc<Hub>,
    pub settings: PhoenixSettings,
    pub auth: Auth,
    pub connection_limits: Arc<ConnectionLimits>,
    pub message_rate: RateSettings,
    /// Origins a browser may connect from; `None` allows any.
    pub allowed_origins: Option<Vec<String>>,
    pub events: ClientEvents,
}

/// The subprotocol phoenix.js offers beside its token, which the server
/// must pick so the browser accepts the upgrade.
const PHOENIX_SUBPROTOCOL: &str = "phoenix";
const TOKEN_SUBPROTOCOL_PREFIX: &str = "base64url.bearer.phx.";

/// The routes of the Phoenix transport.
pub fn router(endpoint: Arc<PhoenixEndpoint>) -> Router {
    Router::new()
        .route("/socket/websocket", get(upgrade))
        .with_state(endpoint)
}

/// Who connected and with which parameters; kept for the life of the socket.
/// The token is not among the params: it is checked at upgrade and dropped.
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub remote: SocketAddr,
    pub params: HashMap<String, String>,
}

/// Who a socket belongs to, and its slot in the connection limits.
pub(crate) struct Session {
    pub identity: Arc<Identity>,
    pub _permit: ConnectionPermit,
}

async fn upgrade(
    State(endpoint): State<Arc<PhoenixEndpoint>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(mut params): Query<HashMap<String, String>>,
    headers: HeaderMap,
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
    if let Err(refused) = super::check_origin(&headers, endpoint.allowed_origins.as_deref()) {
        return refused.into_response();
    }
    let (token, offered_subprotocol) = token_from(&mut params, &headers);
    let identity = match endpoint.auth.authenticate(token.as_deref()).await {
        Ok(identity) => identity,
        Err(err) => {
            tracing::info!(remote = %remote, reason = err.reason(), "phoenix connection refused");
            count_hit("auth");
            return HttpError::new(StatusCode::UNAUTHORIZED, err.reason(), err.to_string())
                .into_response();
        }
    };
    let permit = match endpoint
        .connection_limits
        .admit(remote.ip(), identity.user_id.as_deref())
    {
        Ok(permit) => permit,
        Err(refused) => {
            tracing::info!(remote = %remote, limit = refused.code(), "phoenix connection refused");
            return HttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                refused.code(),
                refused.to_string(),
            )
            .into_response();
        }
    };
    let session = Session {
        identity: identity.into_shared(),
        _permit: permit,
    };
    let subscriber = match endpoint.hub.connect() {
        Ok(subscriber) => subscriber,
        Err(err) => return HttpError::unavailable(err.to_string()).into_response(),
    };
    let settings = &endpoint.settings;
    // `vsn` and `token` were taken out; a map left empty would still hold
    // its buckets (about 200 bytes) for the socket's whole life.
    params.shrink_to_fit();
    let connect = ConnectParams { remote, params };
    let endpoint = endpoint.clone();
    let ws = if offered_subprotocol {
        ws.protocols([PHOENIX_SUBPROTOCOL])
    } else {
        ws
    };
    ws.read_buffer_size(settings.read_buffer_bytes)
        // Frames of one batch collect here and go out in one write.
        .write_buffer_size(WRITE_COALESCE_BYTES)
        .max_message_size(settings.max_frame_bytes)
        .max_frame_size(settings.max_frame_bytes)
        .on_upgrade(move |socket| {
            connection::Connection::new(socket, subscriber, serializer, connect, session, endpoint)
                .run()
        })
}

/// The client's token: the `token` connect param, or phoenix.js's
/// `authToken` carried in `Sec-WebSocket-Protocol`. Also says whether the
/// client offered the `phoenix` subprotocol (which must then be answered).
fn token_from(params: &mut HashMap<String, String>, headers: &HeaderMap) -> (Option<String>, bool) {
    let mut token = params.remove("token");
    let mut offered = false;
    for value in headers.get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        for protocol in value.split(',').map(str::trim) {
            if protocol == PHOENIX_SUBPROTOCOL {
                offered = true;
            } else if let Some(encoded) = protocol.strip_prefix(TOKEN_SUBPROTOCOL_PREFIX) {
                use base64::Engine;
                // Despite the name, phoenix.js encodes with `btoa` (the
                // standard alphabet, padding stripped); accept both.
                let standard: String = encoded
                    .trim_end_matches('=')
                    .chars()
                    .map(|c| match c {
                        '-' => '+',
                        '_' => '/',
                        c => c,
                    })
                    .collect();
                let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(standard)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok());
                if token.is_none() {
                    // Undecodable: kept as it came, so it fails verification
                    // instead of passing for "no token".
                    token = Some(decoded.unwrap_or_else(|| encoded.to_owned()));
                }
            }
        }
    }
    (token, offered)
}
