//! Socket.IO v5 over Engine.IO v4, compatible with the unmodified
//! `socket.io-client` 4.x and its default options, at `/socket.io/`.
//!
//! - [`engine`]: Engine.IO sessions over long-polling and WebSocket, the
//!   upgrade between them, and the server-driven heartbeat.
//! - [`packet`]: Socket.IO packets, and the shared broadcast frames.
//! - [`connection`]: one connection's task: namespaces, authentication,
//!   events in order, deliveries from the hub, recovery, close.
//! - [`app`]: what an application implements ([`SocketIoApp`]) and the
//!   [`SocketRef`] it acts through.
//! - [`vocabulary`] and [`webhook`]: Herald's application, the configured
//!   event vocabulary (joins, subscribe/unsubscribe with acks, actions
//!   forwarded to a backend).
//! - [`access`]: who a client is and which rooms it may join.
//! - [`recovery`]: connection state recovery (`socket.recovered`).
//! - [`stats`]: clients and rooms, for `/health`.
//!
//! Rooms are hub topics: a client in room R receives every message published
//! to topic R, from any producer, as Phoenix clients on R do.

pub mod access;
pub mod app;
pub mod conformance;
mod connection;
pub mod engine;
pub mod id;
mod namespace;
pub mod packet;
pub mod recovery;
pub mod room_template;
pub mod stats;
mod token_refresh;
pub mod vocabulary;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};

use crate::hub::{Hub, Subscriber};
use access::Access;
use engine::{Engine, EngineApp, EngineSettings, EngineSocket, Refused};
use recovery::RecoveryStore;
use stats::SocketIoStats;

pub use app::{ClientEvent, Deferred, JoinError, SocketIoApp, SocketRef};

/// How often disconnected sessions past their recovery window are dropped.
const RECOVERY_SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Socket.IO settings.
#[derive(Debug, Clone)]
pub struct SocketIoSettings {
    pub engine: EngineSettings,
    /// Namespaces clients may connect to (`/` and any configured others).
    pub namespaces: Vec<Arc<str>>,
    /// A connection that has joined no namespace this long after its
    /// handshake is closed.
    pub connect_timeout: Duration,
    /// How long a disconnected session can be recovered; zero disables
    /// connection state recovery.
    pub recovery_window: Duration,
    /// Rooms one namespace socket may be in at once.
    pub max_rooms: usize,
}

impl Default for SocketIoSettings {
    fn default() -> Self {
        Self {
            engine: EngineSettings::default(),
            namespaces: vec![Arc::from("/")],
            connect_timeout: Duration::from_secs(45),
            recovery_window: Duration::from_secs(120),
            max_rooms: 100,
        }
    }
}

/// What every connection of the endpoint shares, whatever the application.
pub struct SocketIoShared {
    pub hub: Arc<Hub>,
    pub settings: SocketIoSettings,
    pub access: Access,
    pub stats: Arc<SocketIoStats>,
    pub recovery: Arc<RecoveryStore>,
}

/// A Socket.IO endpoint running application `A`.
pub struct SocketIoEndpoint<A> {
    pub shared: Arc<SocketIoShared>,
    pub app: A,
}

impl<A: SocketIoApp> SocketIoEndpoint<A> {
    pub fn new(hub: Arc<Hub>, settings: SocketIoSettings, access: Access, app: A) -> Arc<Self> {
        let recovery = RecoveryStore::new(settings.recovery_window);
        if recovery.enabled() {
            recovery.spawn_sweeper(RECOVERY_SWEEP_EVERY);
        }
        Arc::new(Self {
            shared: Arc::new(SocketIoShared {
                hub,
                settings,
                access,
                stats: Arc::new(SocketIoStats::default()),
                recovery,
            }),
            app,
        })
    }
}

impl<A: SocketIoApp> EngineApp for SocketIoEndpoint<A> {
    type Admission = Subscriber;

    fn admit(&self, _remote: SocketAddr, headers: &HeaderMap) -> Result<Subscriber, Refused> {
        self.shared
            .access
            .check_origin(headers)
            .map_err(|refused| Refused {
                status: refused.status,
                message: refused.code.to_owned(),
            })?;
        self.shared.hub.connect().map_err(|err| Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: err.to_string(),
        })
    }

    fn run(
        self: Arc<Self>,
        subscriber: Subscriber,
        socket: EngineSocket,
    ) -> impl std::future::Future<Output = ()> + Send {
        connection::run(self, subscriber, socket)
    }
}

/// The routes of the Socket.IO transport (`/socket.io/`).
pub fn router<A: SocketIoApp>(endpoint: Arc<SocketIoEndpoint<A>>) -> Router {
    let settings = endpoint.shared.settings.engine.clone();
    engine::router(Engine::new(settings, endpoint), "/socket.io/")
}
