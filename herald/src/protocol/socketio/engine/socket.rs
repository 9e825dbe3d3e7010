//! One Engine.IO session as its task sees it: receive, send, heartbeat, and
//! the switch from long-polling to WebSocket, whatever the transport.
//!
//! The task's loop waits on [`EngineSocket::recv`] (cancel-safe, so it can sit
//! in a `select!` next to the hub mailbox), then hands what woke it to
//! [`EngineSocket::process`], which answers the protocol's own packets and
//! returns the application's messages. The heartbeat is server-driven: the
//! task sleeps until [`EngineSocket::heartbeat_deadline`] and then calls
//! [`EngineSocket::heartbeat`], which sends a ping or declares the session
//! dead.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::SinkExt;
use tokio::time::Instant;

use super::EngineShared;
use super::packet::{self, ClientPacket, ServerPacket};
use super::polling::{PollClosed, PollSession, Upgrade};
use crate::protocol::socketio::id::Id;
use crate::protocol::ws;

/// How long closing a WebSocket may take before it is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEnd {
    /// The client sent a close packet or a WebSocket close frame.
    ClientClosed,
    /// The connection went away (TCP closed, a polling request abandoned).
    TransportClosed,
    /// No pong came back in time.
    PingTimeout,
    /// The client broke the protocol.
    ProtocolError(String),
    /// A message over `max_payload`.
    PayloadTooLarge,
    /// Writing failed or the client stopped reading.
    WriteFailed,
}

impl EngineEnd {
    /// A metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            EngineEnd::ClientClosed => "client_closed",
            EngineEnd::TransportClosed => "client_gone",
            EngineEnd::PingTimeout => "ping_timeout",
            EngineEnd::ProtocolError(_) => "protocol_error",
            EngineEnd::PayloadTooLarge => "payload_too_large",
            EngineEnd::WriteFailed => "write_failed",
        }
    }
}

/// What woke a session's task; pass it to [`EngineSocket::process`].
pub struct Wake(WakeKind);

enum WakeKind {
    WebSocket(Option<Result<WsMessage, axum::Error>>),
    Packet(ClientPacket),
    Upgrade(Box<WebSocket>),
    Closed(PollClosed),
}

/// What the application gets from the client.
#[derive(Debug)]
pub enum Incoming {
    /// A text message: the whole packet; its data is
    /// [`packet::message_data`] of it.
    Message(String),
    Binary(Bytes),
    /// The client answered a ping: everything written before that ping has
    /// reached it.
    Pong,
}

// The WebSocket is the common case and lives inline; boxing it would only
// add an allocation per connection.
#[allow(clippy::large_enum_variant)]
enum Transport {
    WebSocket(WebSocket),
    Polling(Arc<PollSession>),
}

pub struct EngineSocket {
    sid: Id,
    remote: SocketAddr,
    transport: Transport,
    shared: Arc<EngineShared>,
    heartbeat_deadline: Instant,
    awaiting_pong: bool,
    /// The open packet is still to be sent (sessions opened over WebSocket;
    /// a polling handshake answers it at once).
    greet: bool,
}

impl EngineSocket {
    pub(super) fn websocket(
        sid: Id,
        remote: SocketAddr,
        socket: WebSocket,
        shared: Arc<EngineShared>,
    ) -> Self {
        let mut socket = Self::new(sid, remote, Transport::WebSocket(socket), shared);
        socket.greet = true;
        socket
    }

    pub(super) fn polling(
        remote: SocketAddr,
        session: Arc<PollSession>,
        shared: Arc<EngineShared>,
    ) -> Self {
        Self::new(session.sid, remote, Transport::Polling(session), shared)
    }

    fn new(sid: Id, remote: SocketAddr, transport: Transport, shared: Arc<EngineShared>) -> Self {
        let heartbeat_deadline = Instant::now() + shared.settings.ping_interval;
        Self {
            sid,
            remote,
            transport,
            shared,
            heartbeat_deadline,
            awaiting_pong: false,
            greet: false,
        }
    }

    /// Send the open packet if this session still owes it (opened over
    /// WebSocket). The application's task calls this first.
    pub async fn open(&mut self) -> Result<(), EngineEnd> {
        if !std::mem::take(&mut self.greet) {
            return Ok(());
        }
        let packet = self.shared.open_packet(self.sid, &[]);
        self.send(ServerPacket::Text(Bytes::from(packet))).await
    }

    pub fn sid(&self) -> Id {
        self.sid
    }

    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// `"websocket"` or `"polling"`.
    pub fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::WebSocket(_) => "websocket",
            Transport::Polling(_) => "polling",
        }
    }

    /// Wait for the client. Cancel-safe.
    pub async fn recv(&mut self) -> Wake {
        match &mut self.transport {
            Transport::WebSocket(socket) => Wake(WakeKind::WebSocket(socket.recv().await)),
            Transport::Polling(session) => loop {
                {
                    let mut state = session.state.lock();
                    if matches!(state.upgrade, Upgrade::Ready(_))
                        && let Upgrade::Ready(socket) =
                            std::mem::replace(&mut state.upgrade, Upgrade::Done)
                    {
                        return Wake(WakeKind::Upgrade(socket));
                    }
                    if let Some(packet) = state.inbound.pop() {
                        return Wake(WakeKind::Packet(packet));
                    }
                    if let Some(how) = state.closed {
                        return Wake(WakeKind::Closed(how));
                    }
                }
                session.task_wake.notified().await;
            },
        }
    }

    /// Act on what [`EngineSocket::recv`] returned: protocol packets are
    /// handled here, application messages are returned.
    pub async fn process(&mut self, wake: Wake) -> Result<Option<Incoming>, EngineEnd> {
        let packet = match wake.0 {
            WakeKind::Packet(packet) => packet,
            WakeKind::Closed(PollClosed::ByClient) => return Err(EngineEnd::ClientClosed),
            WakeKind::Closed(_) => return Err(EngineEnd::TransportClosed),
            WakeKind::Upgrade(socket) => {
                self.switch_to_websocket(socket).await?;
                return Ok(None);
            }
            WakeKind::WebSocket(None) => return Err(EngineEnd::TransportClosed),
            WakeKind::WebSocket(Some(Err(err))) => return Err(read_error(&err)),
            WakeKind::WebSocket(Some(Ok(message))) => match message {
                WsMessage::Text(text) => packet::decode_text(text.as_str())
                    .map_err(|err| EngineEnd::ProtocolError(err.to_string()))?,
                WsMessage::Binary(bytes) => ClientPacket::Binary(bytes),
                WsMessage::Close(_) => return Err(EngineEnd::ClientClosed),
                // tungstenite answers WebSocket-level pings itself.
                WsMessage::Ping(_) | WsMessage::Pong(_) => return Ok(None),
            },
        };
        match packet {
            ClientPacket::Message(text) => Ok(Some(Incoming::Message(text))),
            ClientPacket::Binary(bytes) => Ok(Some(Incoming::Binary(bytes))),
            ClientPacket::Pong => {
                if !self.awaiting_pong {
                    return Ok(None);
                }
                self.awaiting_pong = false;
                self.heartbeat_deadline = Instant::now() + self.shared.settings.ping_interval;
                if let Transport::Polling(session) = &self.transport {
                    session.state.lock().pong_deadline = None;
                }
                Ok(Some(Incoming::Pong))
            }
            ClientPacket::Close => Err(EngineEnd::ClientClosed),
            // Engine.IO 4 clients do not ping, but answering costs nothing.
            ClientPacket::Ping { probe: false } => {
                self.send(ServerPacket::Text(Bytes::from_static(packet::PONG)))
                    .await?;
                Ok(None)
            }
            // A probe or upgrade packet outside an upgrade: nothing to do.
            ClientPacket::Ping { probe: true } | ClientPacket::Upgrade | ClientPacket::Noop => {
                Ok(None)
            }
        }
    }

    /// When the task must next call [`EngineSocket::heartbeat`].
    pub fn heartbeat_deadline(&self) -> Instant {
        self.heartbeat_deadline
    }

    /// The heartbeat deadline passed: ping, or give up when the last ping was
    /// not answered. Returns `true` when a ping was sent.
    pub async fn heartbeat(&mut self) -> Result<bool, EngineEnd> {
        if Instant::now() < self.heartbeat_deadline {
            return Ok(false);
        }
        if self.awaiting_pong {
            return Err(EngineEnd::PingTimeout);
        }
        self.awaiting_pong = true;
        // From when the ping was due, not from when the timer fired: the
        // deadline stays exact however busy the task was.
        self.heartbeat_deadline += self.shared.settings.ping_timeout;
        if let Transport::Polling(session) = &self.transport {
            session.state.lock().pong_deadline = Some(self.heartbeat_deadline);
        }
        self.send(ServerPacket::Text(Bytes::from_static(packet::PING)))
            .await?;
        Ok(true)
    }

    /// Queue a packet without flushing (WebSocket) or waking the client's GET
    /// (polling); call [`EngineSocket::flush`] after the last of a batch.
    pub async fn feed(&mut self, packet: ServerPacket) -> Result<(), EngineEnd> {
        match &mut self.transport {
            Transport::WebSocket(socket) => socket
                .feed(ws_message(packet))
                .await
                .map_err(|_| EngineEnd::WriteFailed),
            Transport::Polling(session) => {
                let mut state = session.state.lock();
                if state.closed.is_some() {
                    return Err(EngineEnd::TransportClosed);
                }
                state.outbound.push(packet);
                let (packets, bytes) = (state.outbound.len(), state.outbound.bytes());
                if self.shared.settings.queue_overflows(packets, bytes) {
                    return Err(EngineEnd::WriteFailed);
                }
                Ok(())
            }
        }
    }

    pub async fn flush(&mut self) -> Result<(), EngineEnd> {
        match &mut self.transport {
            Transport::WebSocket(socket) => {
                socket.flush().await.map_err(|_| EngineEnd::WriteFailed)
            }
            Transport::Polling(session) => {
                session.getter_wake.notify_one();
                Ok(())
            }
        }
    }

    pub async fn send(&mut self, packet: ServerPacket) -> Result<(), EngineEnd> {
        self.feed(packet).await?;
        self.flush().await
    }

    /// The upgrade is complete: send what polling had not delivered yet over
    /// the WebSocket, and use it from now on.
    async fn switch_to_websocket(&mut self, socket: Box<WebSocket>) -> Result<(), EngineEnd> {
        let Transport::Polling(session) = &self.transport else {
            return Ok(());
        };
        let pending = session.state.lock().outbound.take();
        tracing::debug!(sid = %self.sid, pending = pending.len(), "upgraded to websocket");
        self.transport = Transport::WebSocket(*socket);
        for packet in pending {
            self.feed(packet).await?;
        }
        self.flush().await
    }

    /// End the session. Over WebSocket the close frame says why; a waiting
    /// long-polling GET receives what was still queued and a close packet.
    pub async fn close(mut self, code: u16, reason: &str) {
        match &mut self.transport {
            Transport::WebSocket(socket) => {
                let frame = WsMessage::Close(Some(CloseFrame {
                    code,
                    reason: ws::close_reason(reason),
                }));
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(frame)).await;
            }
            Transport::Polling(session) => {
                self.shared.close_polling(session, PollClosed::ByServer);
            }
        }
    }
}

impl Drop for EngineSocket {
    fn drop(&mut self) {
        // However the task ended, its polling session must not outlive it.
        if let Transport::Polling(session) = &self.transport {
            self.shared.close_polling(session, PollClosed::ByServer);
        }
    }
}

fn ws_message(packet: ServerPacket) -> WsMessage {
    match packet {
        ServerPacket::Text(text) => ws::text_message(text),
        ServerPacket::Binary(bytes) => WsMessage::Binary(bytes),
    }
}

fn read_error(err: &axum::Error) -> EngineEnd {
    if ws::frame_too_large(err) {
        EngineEnd::PayloadTooLarge
    } else {
        EngineEnd::TransportClosed
    }
}
