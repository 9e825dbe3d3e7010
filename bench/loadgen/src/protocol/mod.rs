//! The two client protocols the generator speaks, reduced to what a benchmark
//! client needs: the WebSocket path, the frames it sends (join, heartbeat,
//! pong) and what a received frame means.
//!
//! - [`phoenix`]: Phoenix Channels V2 (JSON arrays), as phoenix.js speaks it.
//! - [`socketio`]: Socket.IO v5 over the Engine.IO v4 WebSocket transport.

pub mod phoenix;
pub mod socketio;

use crate::payload::Stamp;

/// Which protocol a run speaks, and how a Socket.IO client joins a room.
#[derive(Debug, Clone)]
pub enum Protocol {
    Phoenix,
    SocketIo(socketio::JoinStyle),
}

impl Protocol {
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Phoenix => "phoenix",
            Protocol::SocketIo(_) => "socketio",
        }
    }

    /// The WebSocket request path (with query) on the server.
    pub fn path(&self) -> &'static str {
        match self {
            Protocol::Phoenix => phoenix::PATH,
            Protocol::SocketIo(_) => socketio::PATH,
        }
    }

    /// Classify one text frame from the server.
    pub fn classify(&self, frame: &str) -> Inbound {
        match self {
            Protocol::Phoenix => phoenix::classify(frame),
            Protocol::SocketIo(_) => socketio::classify(frame),
        }
    }
}

/// What a frame from the server means to a benchmark client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A broadcast carrying a benchmark payload.
    Delivery(Stamp),
    /// The answer to request `reference` (a join, or a Socket.IO ack).
    Reply { reference: u64, ok: bool },
    /// Engine.IO open packet (the handshake's first frame).
    Open,
    /// Socket.IO CONNECT accepted.
    Connected,
    /// Socket.IO CONNECT refused, or the server closed the session.
    Refused(String),
    /// Engine.IO ping: answer with a pong.
    Ping,
    /// Anything else (heartbeat replies, other events).
    Other,
}
