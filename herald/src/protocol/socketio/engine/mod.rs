//! Engine.IO v4: the transport layer under Socket.IO, usable on its own (the
//! conformance example echoes raw Engine.IO messages with it).
//!
//! - [`packet`]: packet and payload encoding.
//! - [`routes`]: the one HTTP endpoint (`/socket.io/`): query checks,
//!   handshakes, long-polling GET/POST, WebSocket sessions and upgrades.
//! - [`polling`]: what a long-polling session shares between its HTTP
//!   requests and its task.
//! - [`socket`]: [`EngineSocket`], one session as its task sees it, whatever
//!   the transport, with the server-driven heartbeat.
//!
//! Every session, polling or WebSocket, is driven by exactly one task that
//! owns an [`EngineSocket`]; what runs in that task is the [`EngineApp`]
//! (Socket.IO for Herald). A long-polling session's requests only move
//! packets in and out of its shared queues; when the client upgrades, the
//! WebSocket is handed to the same task, so the application never notices.

pub mod packet;
mod polling;
mod routes;
mod socket;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use dashmap::DashMap;

use super::id::Id;
use polling::PollSession;

pub use routes::router;
pub use socket::{EngineEnd, EngineSocket, Incoming, Wake};

/// Engine.IO settings, announced to clients in the handshake.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The server pings every `ping_interval`...
    pub ping_interval: Duration,
    /// ...and closes the session when no pong came back within `ping_timeout`.
    pub ping_timeout: Duration,
    /// Largest message (or long-polling POST body) accepted, in bytes.
    pub max_payload: usize,
    /// Time a client has to complete an upgrade to WebSocket.
    pub upgrade_timeout: Duration,
    /// Per-socket WebSocket read buffer (small: every idle connection has one).
    pub read_buffer_bytes: usize,
    /// Packets a long-polling session may have waiting for the client's next
    /// GET before it is closed as a slow consumer (or packets received and
    /// not yet handled).
    pub queue_limit: usize,
    /// The same bound in bytes, so a few huge packets cannot pile up either
    /// (never below `max_payload`: one full POST always fits).
    pub queue_limit_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            upgrade_timeout: Duration::from_secs(10),
            read_buffer_bytes: 256,
            queue_limit: 1024,
            queue_limit_bytes: 4 << 20,
        }
    }
}

/// What runs in each session's task.
pub trait EngineApp: Send + Sync + 'static {
    /// What [`EngineApp::admit`] hands to [`EngineApp::run`] (for Socket.IO,
    /// the session's hub subscription).
    type Admission: Send + 'static;

    /// Decide, before the handshake, whether a new session may open (e.g.
    /// not while the server is shutting down, not from a refused origin).
    fn admit(&self, remote: SocketAddr, headers: &HeaderMap) -> Result<Self::Admission, Refused>;

    /// Drive one session until it ends. Call [`EngineSocket::open`] first.
    fn run(
        self: Arc<Self>,
        admission: Self::Admission,
        socket: EngineSocket,
    ) -> impl Future<Output = ()> + Send;
}

/// A refused handshake: answered with this status and message.
#[derive(Debug, Clone)]
pub struct Refused {
    pub status: StatusCode,
    pub message: String,
}

/// What every session of one endpoint shares: settings and the table of open
/// long-polling sessions (WebSocket sessions need no table: nothing but their
/// own task ever reaches them).
pub struct EngineShared {
    pub settings: EngineSettings,
    polling: DashMap<Id, Arc<PollSession>>,
}

impl EngineShared {
    pub fn new(settings: EngineSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            polling: DashMap::new(),
        })
    }

    /// The open packet: `0{"sid","upgrades","pingInterval","pingTimeout","maxPayload"}`.
    pub(crate) fn open_packet(&self, sid: Id, upgrades: &[&str]) -> String {
        let settings = &self.settings;
        let handshake = serde_json::json!({
            "sid": sid.to_string(),
            "upgrades": upgrades,
            "pingInterval": settings.ping_interval.as_millis() as u64,
            "pingTimeout": settings.ping_timeout.as_millis() as u64,
            "maxPayload": settings.max_payload,
        });
        format!("0{handshake}")
    }
}

/// One Engine.IO endpoint: shared state plus the application it runs.
pub struct Engine<A> {
    pub shared: Arc<EngineShared>,
    pub app: Arc<A>,
}

impl<A> Engine<A> {
    pub fn new(settings: EngineSettings, app: Arc<A>) -> Arc<Self> {
        Arc::new(Self {
            shared: EngineShared::new(settings),
            app,
        })
    }
}

impl EngineSettings {
    /// Is a long-polling queue of `packets` holding `bytes` over the limits?
    pub fn queue_overflows(&self, packets: usize, bytes: usize) -> bool {
        packets > self.queue_limit || bytes > self.queue_limit_bytes.max(self.max_payload)
    }
}
