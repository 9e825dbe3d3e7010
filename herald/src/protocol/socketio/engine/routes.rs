//! The Engine.IO HTTP endpoint: every request to `/socket.io/` comes here and
//! is sorted by its query (`EIO`, `transport`, `sid`) and method into a
//! handshake, a long-polling GET or POST, a WebSocket session, or an upgrade
//! of a polling session to WebSocket.
//!
//! Refusals answer 400 with Engine.IO's own error body
//! (`{"code":1,"message":"Session ID unknown"}`), which clients understand.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message as WsMessage, WebSocket};
use axum::extract::{ConnectInfo, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;

use super::packet;
use super::polling::{PollSession, Upgrade};
use super::socket::EngineSocket;
use super::{Engine, EngineApp, EngineShared, Refused};
use crate::protocol::socketio::id::Id;

/// WebSocket frames of one batch are gathered up to this many bytes before a
/// write.
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// Routes `path` (e.g. `/socket.io/`, with and without the trailing slash).
pub fn router<A: EngineApp>(engine: Arc<Engine<A>>, path: &str) -> Router {
    let with_slash = format!("/{}/", path.trim_matches('/'));
    let without_slash = with_slash.trim_end_matches('/').to_owned();
    Router::new()
        .route(&with_slash, any(handle::<A>))
        .route(&without_slash, any(handle::<A>))
        .with_state(engine)
}

/// Engine.IO's error answer.
pub(super) fn engine_error(status: StatusCode, code: u8, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

enum TransportKind {
    Polling,
    WebSocket,
}

async fn handle<A: EngineApp>(
    State(engine): State<Arc<Engine<A>>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: axum::body::Body,
) -> Response {
    let Ok(Query(query)) = query else {
        return engine_error(StatusCode::BAD_REQUEST, 3, "Bad request");
    };
    if query.get("EIO").map(String::as_str) != Some("4") {
        return engine_error(StatusCode::BAD_REQUEST, 5, "Unsupported protocol version");
    }
    let transport = match query.get("transport").map(String::as_str) {
        Some("polling") => TransportKind::Polling,
        Some("websocket") => TransportKind::WebSocket,
        _ => return engine_error(StatusCode::BAD_REQUEST, 0, "Transport unknown"),
    };
    let sid = match query.get("sid") {
        None => None,
        Some(text) => match Id::parse(text) {
            Some(sid) => Some(sid),
            None => return engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
        },
    };
    let shared = &engine.shared;
    match (transport, sid) {
        (TransportKind::WebSocket, sid) => {
            let Ok(ws) = ws else {
                return engine_error(StatusCode::BAD_REQUEST, 3, "Bad request");
            };
            let ws = configure(ws, shared);
            match sid {
                None => open_websocket(engine, remote, &headers, ws),
                Some(sid) => upgrade(shared, sid, ws),
            }
        }
        (TransportKind::Polling, None) if method == Method::GET => {
            open_polling(engine, remote, &headers)
        }
        (TransportKind::Polling, None) => {
            engine_error(StatusCode::BAD_REQUEST, 2, "Bad handshake method")
        }
        (TransportKind::Polling, Some(sid)) => {
            let Some(session) = shared.polling.get(&sid).map(|entry| entry.value().clone()) else {
                return engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown");
            };
            match method {
                Method::GET => shared.poll(session).await,
                Method::POST => shared.push(session, &headers, body).await,
                _ => engine_error(StatusCode::BAD_REQUEST, 3, "Bad request"),
            }
        }
    }
}

fn configure(ws: WebSocketUpgrade, shared: &EngineShared) -> WebSocketUpgrade {
    let settings = &shared.settings;
    ws.read_buffer_size(settings.read_buffer_bytes)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(settings.max_payload)
        .max_frame_size(settings.max_payload)
}

/// Engine.IO's answer to a refused handshake.
fn refusal(refused: Refused) -> Response {
    engine_error(refused.status, 4, &refused.message)
}

fn open_polling<A: EngineApp>(
    engine: Arc<Engine<A>>,
    remote: SocketAddr,
    headers: &HeaderMap,
) -> Response {
    let admission = match engine.app.admit(remote, headers) {
        Ok(admission) => admission,
        Err(refused) => return refusal(refused),
    };
    let sid = Id::random();
    let session = PollSession::new(sid);
    let shared = engine.shared.clone();
    shared.polling.insert(sid, session.clone());
    let socket = EngineSocket::polling(remote, session, shared.clone());
    tokio::spawn(engine.app.clone().run(admission, socket));
    (
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        shared.open_packet(sid, &["websocket"]),
    )
        .into_response()
}

fn open_websocket<A: EngineApp>(
    engine: Arc<Engine<A>>,
    remote: SocketAddr,
    headers: &HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let admission = match engine.app.admit(remote, headers) {
        Ok(admission) => admission,
        Err(refused) => return refusal(refused),
    };
    // The closure builds the session and returns the application's future
    // as is: no async wrapper holding the socket a second time.
    ws.on_upgrade(move |socket| {
        let socket = EngineSocket::websocket(Id::random(), remote, socket, engine.shared.clone());
        engine.app.clone().run(admission, socket)
    })
}

/// A WebSocket for an open polling session: probe, then hand it over.
fn upgrade(shared: &Arc<EngineShared>, sid: Id, ws: WebSocketUpgrade) -> Response {
    let Some(session) = shared.polling.get(&sid).map(|entry| entry.value().clone()) else {
        return engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown");
    };
    {
        // Claimed before the handshake answer, so a second WebSocket for the
        // same session is refused rather than racing this one.
        let mut state = session.state.lock();
        if state.closed.is_some() || !matches!(state.upgrade, Upgrade::None) {
            return engine_error(StatusCode::BAD_REQUEST, 3, "Bad request");
        }
        state.upgrade = Upgrade::Attached;
    }
    let failed = session.clone();
    let shared = shared.clone();
    ws.on_failed_upgrade(move |_| abandon_upgrade(&failed))
        .on_upgrade(move |socket| probe(shared, session, socket))
}

/// The WebSocket went away before the upgrade completed: keep polling.
fn abandon_upgrade(session: &PollSession) {
    tracing::debug!(sid = %session.sid, "websocket upgrade abandoned");
    {
        let mut state = session.state.lock();
        if matches!(state.upgrade, Upgrade::Attached | Upgrade::Probing) {
            state.upgrade = Upgrade::None;
        }
    }
    session.getter_wake.notify_one();
}

async fn probe(shared: Arc<EngineShared>, session: Arc<PollSession>, socket: WebSocket) {
    let timeout = shared.settings.upgrade_timeout;
    let probed = tokio::time::timeout(timeout, probe_exchange(&session, socket)).await;
    match probed {
        Ok(Some(socket)) => {
            {
                let mut state = session.state.lock();
                if state.closed.is_some() {
                    return;
                }
                state.upgrade = Upgrade::Ready(Box::new(socket));
            }
            // From here on, requests with this id are refused.
            shared.polling.remove(&session.sid);
            session.task_wake.notify_one();
            session.getter_wake.notify_one();
        }
        _ => abandon_upgrade(&session),
    }
}

/// `2probe` → `3probe`, then wait for `5`. Returns the socket when the client
/// completed the upgrade.
async fn probe_exchange(session: &PollSession, mut socket: WebSocket) -> Option<WebSocket> {
    match socket.recv().await {
        Some(Ok(WsMessage::Text(text))) if text.as_str() == "2probe" => {}
        _ => return None,
    }
    socket
        .send(WsMessage::Text(packet::PROBE_ANSWER.into()))
        .await
        .ok()?;
    {
        let mut state = session.state.lock();
        if state.closed.is_some() {
            return None;
        }
        state.upgrade = Upgrade::Probing;
    }
    // A waiting GET is answered with a noop so the client pauses polling.
    session.getter_wake.notify_one();
    loop {
        match socket.recv().await {
            Some(Ok(WsMessage::Text(text))) => match packet::decode_text(text.as_str()) {
                Ok(packet::ClientPacket::Upgrade) => return Some(socket),
                Ok(packet::ClientPacket::Noop | packet::ClientPacket::Ping { probe: true }) => {}
                _ => return None,
            },
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
            _ => return None,
        }
    }
}
