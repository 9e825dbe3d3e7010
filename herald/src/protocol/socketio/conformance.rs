//! The server under test of the official Engine.IO and Socket.IO protocol
//! test suites (the `test-suite/` folders of socketio's `engine.io-protocol`
//! and `socket.io-protocol` repositories), built from Herald's own transport:
//!
//! - `/engine.io/`: raw Engine.IO sessions that echo every message (text and
//!   binary);
//! - `/socket.io/`: Socket.IO with namespaces `/` and `/custom`; on connect
//!   the server emits `auth` with the handshake's auth payload, answers
//!   `message` with `message-back` and the same arguments, and acks
//!   `message-with-ack` with the same arguments (binary attachments
//!   included);
//! - pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000, connect
//!   timeout 1,000 ms, CORS `*`, connection state recovery off.
//!
//! `herald/examples/socketio_conformance.rs` serves it on localhost:3000;
//! the integration tests `herald/tests/socketio_*` run it in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use tokio::net::TcpListener;
use tower_http::cors::CorsLayer;

use super::access::Access;
use super::app::{ClientEvent, SocketIoApp, SocketRef};
use super::engine::packet::ServerPacket;
use super::engine::{self, Engine, EngineApp, EngineEnd, EngineSettings, EngineSocket, Incoming};
use super::{SocketIoEndpoint, SocketIoSettings};
use crate::hub::{Hub, HubConfig};

/// The settings the suites expect.
pub fn settings() -> SocketIoSettings {
    SocketIoSettings {
        engine: EngineSettings {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            max_payload: 1_000_000,
            ..EngineSettings::default()
        },
        namespaces: vec![Arc::from("/"), Arc::from("/custom")],
        connect_timeout: Duration::from_millis(1000),
        recovery_window: Duration::ZERO,
        max_rooms: 100,
    }
}

/// The app serving both suites' endpoints.
pub fn router() -> Router {
    let settings = settings();
    let echo = Engine::new(settings.engine.clone(), Arc::new(Echo));
    let hub = Hub::new(HubConfig::default());
    let endpoint = SocketIoEndpoint::new(hub, settings, Access::open(), Conformance);
    let socketio = super::router(endpoint);
    Router::new()
        .merge(engine::router(echo, "/engine.io/"))
        .merge(socketio)
        .layer(CorsLayer::very_permissive())
}

/// Serve [`router`] on every listener (one app behind all of them) until
/// the process ends.
pub async fn serve(listeners: Vec<TcpListener>) -> std::io::Result<()> {
    let app = router();
    let mut servers = tokio::task::JoinSet::new();
    for listener in listeners {
        let app = app.clone();
        servers.spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
    }
    while let Some(result) = servers.join_next().await {
        result.map_err(std::io::Error::other)??;
    }
    Ok(())
}

/// Engine.IO alone: echo every message.
struct Echo;

impl EngineApp for Echo {
    type Admission = ();

    fn admit(&self, _: SocketAddr, _: &axum::http::HeaderMap) -> Result<(), engine::Refused> {
        Ok(())
    }

    async fn run(self: Arc<Self>, (): (), mut socket: EngineSocket) {
        if socket.open().await.is_err() {
            return;
        }
        let timer = tokio::time::sleep_until(socket.heartbeat_deadline());
        tokio::pin!(timer);
        let end = loop {
            if timer.deadline() != socket.heartbeat_deadline() {
                timer.as_mut().reset(socket.heartbeat_deadline());
            }
            let step = tokio::select! {
                wake = socket.recv() => match socket.process(wake).await {
                    Ok(Some(Incoming::Message(text))) => {
                        socket.send(ServerPacket::Text(Bytes::from(text))).await
                    }
                    Ok(Some(Incoming::Binary(bytes))) => {
                        socket.send(ServerPacket::Binary(bytes)).await
                    }
                    Ok(_) => Ok(()),
                    Err(end) => Err(end),
                },
                () = &mut timer => socket.heartbeat().await.map(|_| ()),
            };
            if let Err(end) = step {
                break end;
            }
        };
        let code = match end {
            EngineEnd::ProtocolError(_) => 1002,
            _ => 1000,
        };
        socket.close(code, "").await;
    }
}

/// Socket.IO: the suite's event handlers.
struct Conformance;

impl SocketIoApp for Conformance {
    async fn on_connect(
        &self,
        socket: &mut SocketRef<'_>,
        auth: &str,
        _recovered: bool,
    ) -> Result<(), EngineEnd> {
        let auth = serde_json::value::RawValue::from_string(auth.to_owned()).unwrap_or_default();
        socket.emit("auth", &[&auth]).await
    }

    async fn on_event(
        &self,
        socket: &mut SocketRef<'_>,
        event: ClientEvent<'_>,
    ) -> Result<(), EngineEnd> {
        match (event.name, event.ack) {
            ("message", _) => {
                socket
                    .emit_binary("message-back", event.args, event.attachments)
                    .await
            }
            ("message-with-ack", Some(id)) => {
                socket.ack_binary(id, event.args, event.attachments).await
            }
            _ => Ok(()),
        }
    }
}
