//! What a Socket.IO application sees: the [`SocketIoApp`] trait it
//! implements, and the [`SocketRef`] it gets to act on one namespace socket
//! (emit, ack, join and leave rooms, run slow work off the connection).
//!
//! The protocol core ([`super::connection`]) does everything the protocol
//! itself requires (namespaces, authentication through [`super::access`],
//! recovery, deliveries from the hub); an application only decides what
//! client events mean. Herald's is the configured event vocabulary
//! ([`super::vocabulary`]); the conformance example has its own.

use std::future::Future;

use bytes::Bytes;
use serde_json::value::RawValue;

use super::access::Identity;
use super::connection::Core;
use super::engine::EngineEnd;
use super::id::Id;
use super::packet::{self, Packet, PacketType};
use crate::auth::limits::count_hit;
use crate::hub::{TopicNameError, validate_topic_name};
use crate::protocol::socketio::recovery::Room;

/// Most slow tasks (webhook calls) one connection may have running at once.
pub const MAX_DEFERRED: usize = 16;

/// The behaviour behind a Socket.IO endpoint.
pub trait SocketIoApp: Send + Sync + 'static {
    /// A namespace socket connected. `auth` is the CONNECT payload as the
    /// client sent it (`{}` when it sent none); `recovered` tells whether its
    /// previous session was restored. Runs after the CONNECT reply (and any
    /// recovered broadcasts) went out.
    fn on_connect(
        &self,
        socket: &mut SocketRef<'_>,
        auth: &str,
        recovered: bool,
    ) -> impl Future<Output = Result<(), EngineEnd>> + Send;

    /// A client event, in the order the client sent it.
    fn on_event(
        &self,
        socket: &mut SocketRef<'_>,
        event: ClientEvent<'_>,
    ) -> impl Future<Output = Result<(), EngineEnd>> + Send;

    /// The socket's token expired. The protocol core sends a DISCONNECT
    /// right after this returns (socket.io-client reports it as `disconnect`
    /// with "io server disconnect"); this is the place to tell the client
    /// why. By default nothing more is said.
    fn on_token_expired(
        &self,
        _socket: &mut SocketRef<'_>,
    ) -> impl Future<Output = Result<(), EngineEnd>> + Send {
        async { Ok(()) }
    }
}

/// An event from a client.
#[derive(Debug)]
pub struct ClientEvent<'a> {
    pub name: &'a str,
    /// The arguments after the name, as raw JSON (binary ones are
    /// `{"_placeholder":true,"num":N}` and point into `attachments`).
    pub args: &'a [&'a RawValue],
    /// The client waits for an acknowledgement with this id.
    pub ack: Option<u64>,
    pub attachments: &'a [Bytes],
}

/// The result of slow work started with [`SocketRef::defer`], applied to the
/// socket when it is ready (if the socket is still connected).
#[derive(Debug)]
pub enum Deferred {
    /// Acknowledge the client's event `id` with these arguments.
    Ack { id: u64, args: Vec<Box<RawValue>> },
    /// Emit `event` with these arguments.
    Emit {
        event: String,
        args: Vec<Box<RawValue>>,
    },
}

/// Why a room join was refused; the codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("invalid room: {0}")]
    InvalidRoom(TopicNameError),
    #[error("too many rooms joined")]
    TooManyRooms,
    #[error("not allowed to join this room: {0}")]
    Forbidden(&'static str),
}

impl JoinError {
    pub fn code(&self) -> &'static str {
        match self {
            JoinError::InvalidRoom(_) => "invalid_room",
            JoinError::TooManyRooms => "too_many_rooms",
            JoinError::Forbidden(_) => "forbidden",
        }
    }
}

/// Too many deferred tasks are running on this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests in flight on this connection")]
pub struct Busy;

/// One namespace socket of a connection, as an application acts on it.
pub struct SocketRef<'a> {
    pub(super) core: &'a mut Core,
    pub(super) index: usize,
}

impl SocketRef<'_> {
    pub fn nsp(&self) -> &str {
        &self.core.sockets[self.index].nsp
    }

    /// The socket's id (the `sid` of its CONNECT reply).
    pub fn sid(&self) -> Id {
        self.core.sockets[self.index].sid
    }

    pub fn identity(&self) -> &Identity {
        &self.core.sockets[self.index].identity
    }

    pub fn rooms(&self) -> impl Iterator<Item = &str> {
        self.core.sockets[self.index]
            .rooms
            .iter()
            .map(|room| &*room.topic)
    }

    /// Emit `event` to this socket (not a broadcast: no position is added).
    pub async fn emit(&mut self, event: &str, args: &[&RawValue]) -> Result<(), EngineEnd> {
        self.emit_binary(event, args, &[]).await
    }

    /// Emit `event` with binary attachments, referenced from `args` by
    /// `{"_placeholder":true,"num":N}`.
    pub async fn emit_binary(
        &mut self,
        event: &str,
        args: &[&RawValue],
        attachments: &[Bytes],
    ) -> Result<(), EngineEnd> {
        let data = packet::event_data(event, args);
        let kind = if attachments.is_empty() {
            PacketType::Event
        } else {
            PacketType::BinaryEvent
        };
        self.write(kind, None, &data, attachments).await
    }

    /// Acknowledge the client's event `id`.
    pub async fn ack(&mut self, id: u64, args: &[&RawValue]) -> Result<(), EngineEnd> {
        self.ack_binary(id, args, &[]).await
    }

    pub async fn ack_binary(
        &mut self,
        id: u64,
        args: &[&RawValue],
        attachments: &[Bytes],
    ) -> Result<(), EngineEnd> {
        let data = packet::args_data(args);
        let kind = if attachments.is_empty() {
            PacketType::Ack
        } else {
            PacketType::BinaryAck
        };
        self.write(kind, Some(id), &data, attachments).await
    }

    async fn write(
        &mut self,
        kind: PacketType,
        id: Option<u64>,
        data: &str,
        attachments: &[Bytes],
    ) -> Result<(), EngineEnd> {
        let nsp = self.core.sockets[self.index].nsp.clone();
        let frame = Packet {
            kind,
            attachments: attachments.len(),
            nsp: &nsp,
            id,
            data: Some(data),
        }
        .encode();
        self.core.write_packet(frame, attachments).await
    }

    /// Join `room` (a hub topic): from now on this socket receives every
    /// message published to it. Joining a joined room does nothing.
    pub fn join(&mut self, room: &str) -> Result<(), JoinError> {
        validate_topic_name(room).map_err(JoinError::InvalidRoom)?;
        let core = &mut *self.core;
        let socket = &core.sockets[self.index];
        if socket.rooms.iter().any(|r| &*r.topic == room) {
            return Ok(());
        }
        // Counted under the same limit names as Phoenix joins.
        if socket.rooms.len() >= core.shared.settings.max_rooms {
            count_hit("max_channels");
            return Err(JoinError::TooManyRooms);
        }
        core.shared
            .access
            .authorize_room(&socket.identity, room)
            .map_err(|reason| {
                count_hit("join_denied");
                JoinError::Forbidden(reason)
            })?;
        let (topic, epoch, offset) = core.subscribe_current(room);
        core.shared.stats.room_joined(&topic);
        let rooms = &mut core.sockets[self.index].rooms;
        // One slot at a time: a socket is usually in a room or two.
        rooms.reserve_exact(1);
        rooms.push(Room {
            topic,
            epoch,
            delivered: offset,
            acked: offset,
        });
        Ok(())
    }

    /// May the client send one more message now (the per-connection message
    /// rate)? Applications call it for every event they act on.
    pub fn allow_message(&mut self) -> bool {
        let settings = self.core.shared.access.rate();
        self.core.rate.allow(settings)
    }

    /// Leave `room`; returns whether it was joined.
    pub fn leave(&mut self, room: &str) -> bool {
        self.core.leave(self.index, room)
    }

    /// Run `work` off the connection (a webhook call, say) and apply its
    /// result, if any, to this socket when it is ready. Events keep flowing
    /// meanwhile.
    pub fn defer(
        &mut self,
        work: impl Future<Output = Option<Deferred>> + Send + 'static,
    ) -> Result<(), Busy> {
        let sid = self.sid();
        self.core.defer(sid, work)
    }
}
