//! One Socket.IO connection (one Engine.IO session), from handshake to close.
//!
//! A single task per connection waits on four things at once: packets from
//! the client, broadcasts queued in its hub mailbox, its timer (heartbeat and
//! connect timeout) and the results of slow work it started (webhooks).
//! Client packets are handled one after another, to the end, before the next
//! is read: an event sent right after CONNECT is never handled before the
//! connection is established, nor lost.
//!
//! A connection holds one [`NsSocket`] per namespace it connected to; all of
//! them share its hub subscription (a room joined in two namespaces is one
//! hub subscription, delivered to both). Broadcast frames are the hub's
//! shared bytes; a broadcast already written (or replayed by recovery) is
//! never written again.
//!
//! Connecting a namespace (and its recovery, and token expiry) lives in
//! [`super::namespace`]; a token refresh in [`super::token_refresh`].

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::access::Identity;
use super::app::{Busy, ClientEvent, Deferred, MAX_DEFERRED, SocketIoApp, SocketRef};
use super::engine::packet::ServerPacket;
use super::engine::{EngineEnd, EngineSocket, Incoming, Wake};
use super::id::Id;
use super::packet::{self, Packet, PacketType};
use super::recovery::{DeliveryLog, Room};
use super::stats::CountedClient;
use super::token_refresh::REFRESH_EVENT;
use super::{SocketIoEndpoint, SocketIoShared};
use crate::auth::limits::{ConnectionPermit, MessageRate};
use crate::hub::{CloseReason, Message, Subscriber, TopicName, WireFormat};

/// WebSocket close codes used by this transport.
mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// Why a connection ended.
pub(super) enum Ending {
    Engine(EngineEnd),
    /// The hub closed the mailbox (shutdown, slow consumer, kicked).
    Hub(CloseReason),
    /// No namespace was connected within the connect timeout.
    ConnectTimeout,
}

impl From<EngineEnd> for Ending {
    fn from(end: EngineEnd) -> Self {
        Ending::Engine(end)
    }
}

impl Ending {
    fn label(&self) -> &'static str {
        match self {
            Ending::Engine(end) => end.label(),
            Ending::Hub(CloseReason::SlowConsumer) => "slow_consumer",
            Ending::Hub(CloseReason::Shutdown) => "shutdown",
            Ending::Hub(CloseReason::Kicked(_)) => "kicked",
            Ending::ConnectTimeout => "connect_timeout",
        }
    }

    /// Whether the client may come back and recover this session: it did not
    /// leave on purpose and did not break the protocol.
    fn recoverable(&self) -> bool {
        matches!(
            self,
            Ending::Engine(
                EngineEnd::ClientClosed
                    | EngineEnd::TransportClosed
                    | EngineEnd::PingTimeout
                    | EngineEnd::WriteFailed
            ) | Ending::Hub(CloseReason::SlowConsumer)
        )
    }

    /// The WebSocket close frame (a polling client gets a close packet).
    fn close_frame(&self) -> (u16, String) {
        match self {
            Ending::Engine(EngineEnd::ProtocolError(reason)) => (
                close_code::PROTOCOL_ERROR,
                format!("malformed packet: {reason}"),
            ),
            Ending::Engine(EngineEnd::PayloadTooLarge) => {
                (close_code::MESSAGE_TOO_BIG, "payload too large".into())
            }
            Ending::Engine(EngineEnd::PingTimeout) => {
                (close_code::GOING_AWAY, "ping timeout".into())
            }
            Ending::Engine(_) => (close_code::NORMAL, String::new()),
            Ending::Hub(reason @ CloseReason::SlowConsumer) => {
                (close_code::TRY_AGAIN_LATER, reason.as_str().into())
            }
            Ending::Hub(reason @ CloseReason::Shutdown) => {
                (close_code::GOING_AWAY, reason.as_str().into())
            }
            Ending::Hub(reason @ CloseReason::Kicked(_)) => {
                (close_code::POLICY_VIOLATION, reason.as_str().into())
            }
            Ending::ConnectTimeout => (close_code::POLICY_VIOLATION, "connect timeout".into()),
        }
    }
}

/// One namespace a connection joined.
pub(super) struct NsSocket {
    pub(super) nsp: Arc<str>,
    pub(super) sid: Id,
    /// The recovery id (only when recovery is enabled).
    pub(super) pid: Option<Id>,
    pub(super) identity: Arc<Identity>,
    /// When the identity's token expires.
    pub(super) expires: Option<Instant>,
    pub(super) rooms: Vec<Room>,
    pub(super) log: DeliveryLog,
}

/// A binary packet waiting for its attachments.
struct PartialBinary {
    /// The Engine.IO message that announced them.
    packet: String,
    expected: usize,
    attachments: Vec<Bytes>,
}

/// Results of deferred work, created on first use (most connections never
/// defer anything, and an idle connection should stay small).
struct DeferredQueue {
    sender: mpsc::UnboundedSender<(Id, Option<Deferred>)>,
    receiver: mpsc::UnboundedReceiver<(Id, Option<Deferred>)>,
    running: usize,
}

/// Everything a connection's task owns, except the application.
pub(super) struct Core {
    /// Counts the connection in `/health` while it lives.
    _counted: CountedClient,
    pub(super) engine: EngineSocket,
    pub(super) subscriber: Subscriber,
    pub(super) shared: Arc<SocketIoShared>,
    pub(super) sockets: Vec<NsSocket>,
    partial: Option<Box<PartialBinary>>,
    deferred: Option<Box<DeferredQueue>>,
    pub(super) connect_deadline: Option<Instant>,
    /// The connection's slot in the per-user and per-address limits, taken
    /// when its first namespace connects.
    pub(super) permit: Option<ConnectionPermit>,
    pub(super) rate: MessageRate,
}

/// Set up one connection and return the future that runs it to its end.
///
/// A plain function on purpose: the state is built here and moved into
/// [`Core::run`], which works on it in place, so the task's future holds it
/// once (an `async fn` would also keep its moved-from arguments).
pub(super) fn run<A: SocketIoApp>(
    endpoint: Arc<SocketIoEndpoint<A>>,
    subscriber: Subscriber,
    engine: EngineSocket,
) -> impl Future<Output = ()> + Send {
    let shared = endpoint.shared.clone();
    tracing::debug!(sid = %engine.sid(), remote = %engine.remote(), transport = engine.transport_name(), "socket.io session opened");
    let core = Core {
        _counted: shared.stats.client_connected(),
        connect_deadline: Some(Instant::now() + shared.settings.connect_timeout),
        permit: None,
        rate: MessageRate::new(shared.access.rate()),
        engine,
        subscriber,
        shared,
        sockets: Vec::new(),
        partial: None,
        deferred: None,
    };
    core.run(endpoint)
}

async fn next_deferred(queue: &mut Option<Box<DeferredQueue>>) -> Option<(Id, Option<Deferred>)> {
    match queue {
        Some(queue) => {
            let result = queue.receiver.recv().await;
            queue.running = queue.running.saturating_sub(1);
            result
        }
        None => std::future::pending().await,
    }
}

impl Core {
    async fn run<A: SocketIoApp>(mut self, endpoint: Arc<SocketIoEndpoint<A>>) {
        if let Err(end) = self.engine.open().await {
            return Box::pin(self.finish(Ending::Engine(end))).await;
        }
        let mailbox = self.subscriber.mailbox().clone();
        let timer = tokio::time::sleep_until(self.next_deadline());
        tokio::pin!(timer);
        let mut batch: Vec<Arc<Message>> = Vec::new();

        let ending = loop {
            let deadline = self.next_deadline();
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            tokio::select! {
                delivery = mailbox.recv_batch(&mut batch) => match delivery {
                    // Boxed: the write future exists only while writing, and
                    // keeping it out of this loop's state keeps idle
                    // connections small.
                    Ok(()) => if let Err(ending) = Box::pin(self.deliver(&mut batch)).await {
                        break ending;
                    },
                    Err(reason) => break Ending::Hub(reason),
                },
                wake = self.engine.recv() => {
                    if let Err(ending) = Box::pin(self.on_wake(&endpoint.app, wake)).await {
                        break ending;
                    }
                },
                () = &mut timer => {
                    if let Err(ending) = Box::pin(self.on_timer(&endpoint.app)).await {
                        break ending;
                    }
                },
                Some((sid, result)) = next_deferred(&mut self.deferred) => {
                    if let Err(ending) = Box::pin(self.on_deferred(sid, result)).await {
                        break ending;
                    }
                },
            }
        };
        Box::pin(self.finish(ending)).await;
    }

    /// When the timer must next fire: heartbeat, connect timeout, or the
    /// first token to expire.
    fn next_deadline(&self) -> Instant {
        let mut deadline = self.engine.heartbeat_deadline();
        if let Some(connect) = self.connect_deadline {
            deadline = deadline.min(connect);
        }
        for socket in &self.sockets {
            if let Some(expires) = socket.expires {
                deadline = deadline.min(expires);
            }
        }
        deadline
    }

    fn broadcast_format(&self) -> &'static WireFormat {
        if self.shared.recovery.enabled() {
            &packet::BROADCAST_WITH_POSITION
        } else {
            &packet::BROADCAST
        }
    }

    pub(super) fn socket_index(&self, nsp: &str) -> Option<usize> {
        self.sockets.iter().position(|socket| &*socket.nsp == nsp)
    }

    async fn on_timer<A: SocketIoApp>(&mut self, app: &A) -> Result<(), Ending> {
        let now = Instant::now();
        if let Some(deadline) = self.connect_deadline
            && now >= deadline
        {
            return Err(Ending::ConnectTimeout);
        }
        while let Some(index) = self
            .sockets
            .iter()
            .position(|socket| socket.expires.is_some_and(|expires| now >= expires))
        {
            self.expire(app, index).await?;
        }
        if self.engine.heartbeat().await? {
            for socket in &mut self.sockets {
                socket.log.ping_sent();
            }
        }
        Ok(())
    }

    async fn on_wake<A: SocketIoApp>(&mut self, app: &A, wake: Wake) -> Result<(), Ending> {
        match self.engine.process(wake).await? {
            None => Ok(()),
            Some(Incoming::Pong) => {
                for socket in &mut self.sockets {
                    socket.log.pong_received(&mut socket.rooms);
                }
                Ok(())
            }
            Some(Incoming::Message(text)) => self.on_text(app, text).await,
            Some(Incoming::Binary(bytes)) => self.on_binary(app, bytes).await,
        }
    }

    async fn on_text<A: SocketIoApp>(&mut self, app: &A, text: String) -> Result<(), Ending> {
        if self.partial.is_some() {
            return Err(protocol_error(
                "text packet while binary attachments were expected",
            ));
        }
        let packet = packet::decode(super::engine::packet::message_data(&text))
            .map_err(|err| protocol_error(&err.to_string()))?;
        if packet.kind.is_binary() {
            self.partial = Some(Box::new(PartialBinary {
                expected: packet.attachments,
                attachments: Vec::with_capacity(packet.attachments),
                packet: text,
            }));
            return Ok(());
        }
        self.dispatch(app, packet, &[]).await
    }

    async fn on_binary<A: SocketIoApp>(&mut self, app: &A, bytes: Bytes) -> Result<(), Ending> {
        let Some(partial) = self.partial.as_mut() else {
            return Err(protocol_error("binary message without a binary packet"));
        };
        partial.attachments.push(bytes);
        if partial.attachments.len() < partial.expected {
            return Ok(());
        }
        let Some(partial) = self.partial.take() else {
            return Ok(());
        };
        let packet = packet::decode(super::engine::packet::message_data(&partial.packet))
            .map_err(|err| protocol_error(&err.to_string()))?;
        self.dispatch(app, packet, &partial.attachments).await
    }

    async fn dispatch<A: SocketIoApp>(
        &mut self,
        app: &A,
        packet: Packet<'_>,
        attachments: &[Bytes],
    ) -> Result<(), Ending> {
        match packet.kind {
            PacketType::Connect => self.connect(app, packet.nsp, packet.data).await,
            PacketType::Disconnect => {
                if let Some(index) = self.socket_index(packet.nsp) {
                    tracing::debug!(
                        nsp = packet.nsp,
                        "socket.io namespace disconnected by the client"
                    );
                    self.remove_socket(index);
                }
                Ok(())
            }
            PacketType::Event | PacketType::BinaryEvent => {
                // Packets for a namespace the client has not connected to are
                // ignored, as Socket.IO servers do.
                let Some(index) = self.socket_index(packet.nsp) else {
                    return Ok(());
                };
                let Some((name, args)) = packet.data.and_then(packet::event_parts) else {
                    return Err(protocol_error("invalid event"));
                };
                if name == REFRESH_EVENT {
                    return Ok(self.refresh_token(index, &args, packet.id).await?);
                }
                let event = ClientEvent {
                    name: &name,
                    args: &args,
                    ack: packet.id,
                    attachments,
                };
                let mut socket = SocketRef { core: self, index };
                Ok(app.on_event(&mut socket, event).await?)
            }
            // Herald never asks clients for acknowledgements.
            PacketType::Ack | PacketType::BinaryAck => Ok(()),
            PacketType::ConnectError => Err(protocol_error("clients do not send CONNECT_ERROR")),
        }
    }

    /// The interned name of `topic` if this connection is subscribed to it.
    pub(super) fn joined_topic(&self, topic: &str) -> Option<TopicName> {
        self.subscriber
            .topics()
            .iter()
            .find(|name| &***name == topic)
            .cloned()
    }

    /// Subscribe to `topic` (if no namespace already is) and return its
    /// current position: broadcasts at or before it are not delivered.
    pub(super) fn subscribe_current(&mut self, topic: &str) -> (TopicName, Arc<str>, u64) {
        if let Some(name) = self.joined_topic(topic)
            && let Some(page) = self.subscriber.hub().history(topic, u64::MAX, 0)
        {
            return (name, page.epoch, page.offset);
        }
        let (name, recovery) = self.subscriber.subscribe_from(topic, None);
        (name, recovery.epoch, recovery.offset)
    }

    /// Leave `room` in namespace socket `index`.
    pub(super) fn leave(&mut self, index: usize, room: &str) -> bool {
        let rooms = &mut self.sockets[index].rooms;
        let Some(position) = rooms.iter().position(|r| &*r.topic == room) else {
            return false;
        };
        let room = rooms.swap_remove(position);
        self.shared.stats.room_left(&room.topic);
        self.release_topic(&room.topic);
        true
    }

    /// Unsubscribe from `topic` unless another namespace socket is in it.
    pub(super) fn release_topic(&mut self, topic: &TopicName) {
        let still_used = self
            .sockets
            .iter()
            .any(|socket| socket.rooms.iter().any(|r| Arc::ptr_eq(&r.topic, topic)));
        if !still_used {
            self.subscriber.unsubscribe(topic);
        }
    }

    pub(super) fn remove_socket(&mut self, index: usize) -> NsSocket {
        let socket = self.sockets.swap_remove(index);
        for room in &socket.rooms {
            self.shared.stats.room_left(&room.topic);
            self.release_topic(&room.topic);
        }
        socket
    }

    /// Write every queued broadcast to the namespace sockets in its room, then
    /// flush once. Gives up as soon as the mailbox closes, so a client that
    /// stopped reading cannot hold the task.
    pub(super) async fn deliver(&mut self, batch: &mut Vec<Arc<Message>>) -> Result<(), Ending> {
        let format = self.broadcast_format();
        let recovery = self.shared.recovery.enabled();
        let mailbox = self.subscriber.mailbox().clone();
        let sockets = &mut self.sockets;
        let engine = &mut self.engine;
        let write = async {
            for message in batch.drain(..) {
                // Rendered once per message, whatever the subscribers.
                let shared_frame = message.frame(format);
                for socket in sockets.iter_mut() {
                    let Some(room) = socket
                        .rooms
                        .iter_mut()
                        .find(|room| Arc::ptr_eq(&room.topic, message.topic()))
                    else {
                        continue;
                    };
                    let before = room.delivered;
                    if !message.is_news_to(&room.epoch, &mut room.delivered) {
                        continue;
                    }
                    if recovery && room.delivered != before {
                        socket.log.record(&room.topic, room.delivered);
                    }
                    let frame = packet::in_namespace(&shared_frame, &socket.nsp);
                    engine.feed(ServerPacket::Text(frame)).await?;
                }
            }
            engine.flush().await
        };
        tokio::select! {
            written = write => Ok(written?),
            reason = mailbox.closed() => Err(Ending::Hub(reason)),
        }
    }

    /// Write one Socket.IO packet and its attachments, and flush.
    pub(super) async fn write_packet(
        &mut self,
        frame: Bytes,
        attachments: &[Bytes],
    ) -> Result<(), EngineEnd> {
        self.engine.feed(ServerPacket::Text(frame)).await?;
        for attachment in attachments {
            self.engine
                .feed(ServerPacket::Binary(attachment.clone()))
                .await?;
        }
        self.engine.flush().await
    }

    pub(super) fn defer(
        &mut self,
        sid: Id,
        work: impl Future<Output = Option<Deferred>> + Send + 'static,
    ) -> Result<(), Busy> {
        let queue = self.deferred.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            Box::new(DeferredQueue {
                sender,
                receiver,
                running: 0,
            })
        });
        if queue.running >= MAX_DEFERRED {
            return Err(Busy);
        }
        queue.running += 1;
        let sender = queue.sender.clone();
        tokio::spawn(async move {
            let result = work.await;
            // The connection may be gone by now; then nobody is waiting.
            let _ = sender.send((sid, result));
        });
        Ok(())
    }

    async fn on_deferred(&mut self, sid: Id, result: Option<Deferred>) -> Result<(), Ending> {
        let Some(result) = result else {
            return Ok(());
        };
        let Some(index) = self.sockets.iter().position(|socket| socket.sid == sid) else {
            return Ok(());
        };
        let mut socket = SocketRef { core: self, index };
        match result {
            Deferred::Ack { id, args } => {
                let args: Vec<&RawValue> = args.iter().map(AsRef::as_ref).collect();
                Ok(socket.ack(id, &args).await?)
            }
            Deferred::Emit { event, args } => {
                let args: Vec<&RawValue> = args.iter().map(AsRef::as_ref).collect();
                Ok(socket.emit(&event, &args).await?)
            }
        }
    }

    /// Keep what can be recovered, tell the client why the connection ends,
    /// and close it.
    async fn finish(mut self, ending: Ending) {
        let sid = self.engine.sid();
        let keep = ending.recoverable() && self.shared.recovery.enabled();
        for socket in std::mem::take(&mut self.sockets) {
            for room in &socket.rooms {
                self.shared.stats.room_left(&room.topic);
            }
            if keep {
                self.keep_for_recovery(socket);
            }
        }
        metrics::counter!("herald_socket_closes_total", "transport" => "socketio", "reason" => ending.label())
            .increment(1);
        let (code, reason) = ending.close_frame();
        match &ending {
            Ending::Engine(EngineEnd::ProtocolError(_) | EngineEnd::PayloadTooLarge)
            | Ending::ConnectTimeout => {
                tracing::info!(%sid, code, %reason, "closing socket.io connection");
            }
            Ending::Hub(CloseReason::SlowConsumer) => {
                tracing::warn!(%sid, "socket.io connection dropped: slow consumer");
            }
            _ => tracing::debug!(%sid, reason = ending.label(), "socket.io connection closed"),
        }
        self.engine.close(code, &reason).await;
    }
}

fn protocol_error(reason: &str) -> Ending {
    Ending::Engine(EngineEnd::ProtocolError(reason.to_owned()))
}
