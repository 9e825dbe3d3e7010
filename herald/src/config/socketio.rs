//! The `[socketio]` section: Engine.IO timings and limits, namespaces,
//! connection state recovery, and the event vocabulary of the systems Herald
//! replaces (room templates and what each client event does).
//!
//! The defaults ship the vocabulary of the streaming site's notify server
//! (`join-user-notifications` and friends) and of the loyalty platform
//! (`subscribe`/`unsubscribe` with acks, `action` forwarded to a webhook).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::socketio::SocketIoSettings;
use crate::protocol::socketio::engine::EngineSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketIoConfig {
    /// The server pings every this many milliseconds...
    pub ping_interval_ms: u64,
    /// ...and closes a connection whose pong takes longer than this.
    pub ping_timeout_ms: u64,
    /// Largest message (or long-polling POST) accepted from a client.
    pub max_payload_bytes: usize,
    /// A connection that joined no namespace this long after its handshake
    /// is closed.
    pub connect_timeout_ms: u64,
    /// Namespaces clients may connect to; `/` is always one.
    pub namespaces: Vec<String>,
    /// Seconds a disconnected client can come back and recover its session
    /// (`socket.recovered`); 0 disables connection state recovery.
    pub recovery_window_secs: u64,
    /// Event emitted to a socket right after it connects, with
    /// `{"userId", "sid"}`; empty to emit nothing.
    pub connected_event: String,
    /// Event that carries refusals: `{"code", "message", "event"}`.
    pub error_event: String,
    /// Where `webhook` events (the loyalty platform's `action`) are POSTed;
    /// empty refuses them with `action_unavailable`.
    pub action_webhook_url: String,
    /// Shared secret that signs every webhook request (HMAC-SHA256 of
    /// `"{timestamp}.{body}"` in `X-Herald-Signature: v1=<hex>`, with
    /// `X-Herald-Timestamp`); empty sends requests unsigned.
    pub action_webhook_secret: String,
    /// Time the webhook has to answer.
    pub action_timeout_ms: u64,
    /// Room templates, by name: what hub topic a join or subscribe means.
    pub rooms: Vec<RoomTemplateConfig>,
    /// What each client event does.
    pub events: Vec<EventConfig>,
}

/// A room template: `topic` names a hub topic with `{param}` placeholders,
/// filled from the event's argument (an object's fields, or a bare string or
/// number when there is exactly one placeholder).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomTemplateConfig {
    pub name: String,
    pub topic: String,
    /// Parameters that must be the caller's own (`userId`, `businessId`,
    /// `locationId`, or any claim of the token): when absent they default to
    /// the caller's, and another value is refused with `forbidden`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own: Vec<String>,
}

/// One client event and what it does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventConfig {
    pub event: String,
    pub action: EventAction,
    /// The room template (`join`, `leave`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The room templates a `subscribe`/`unsubscribe` may name as its
    /// `channel`; empty allows every template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    /// Join the event's room; ack `{ok, room}` when the client asks for one.
    Join,
    /// Leave the event's room.
    Leave,
    /// `{channel, params}`: join the room template named `channel`; ack
    /// `{ok, error?}`.
    Subscribe,
    /// `{channel, params}`: leave it.
    Unsubscribe,
    /// POST the event to `action_webhook_url` with the caller's identity;
    /// ack with the webhook's answer.
    Webhook,
    /// `{topic, event, payload}`: push `event` on a room the socket joined,
    /// to the service that answers it (the inbox on `user:{userId}`); ack
    /// with its reply.
    Push,
}

impl Default for SocketIoConfig {
    fn default() -> Self {
        let settings = SocketIoSettings::default();
        Self {
            ping_interval_ms: settings.engine.ping_interval.as_millis() as u64,
            ping_timeout_ms: settings.engine.ping_timeout.as_millis() as u64,
            max_payload_bytes: settings.engine.max_payload,
            connect_timeout_ms: settings.connect_timeout.as_millis() as u64,
            namespaces: vec!["/".into()],
            recovery_window_secs: settings.recovery_window.as_secs(),
            connected_event: "connected".into(),
            error_event: "error".into(),
            action_webhook_url: String::new(),
            action_webhook_secret: String::new(),
            action_timeout_ms: 10_000,
            rooms: default_rooms(),
            events: default_events(),
        }
    }
}

fn room(name: &str, topic: &str, own: &[&str]) -> RoomTemplateConfig {
    RoomTemplateConfig {
        name: name.into(),
        topic: topic.into(),
        own: own.iter().map(|param| (*param).into()).collect(),
    }
}

fn event(event: &str, action: EventAction, room: Option<&str>) -> EventConfig {
    EventConfig {
        event: event.into(),
        action,
        room: room.map(Into::into),
        channels: Vec::new(),
    }
}

fn default_rooms() -> Vec<RoomTemplateConfig> {
    vec![
        // The streaming site.
        room(
            "user-notifications",
            "user-notifications:{userId}",
            &["userId"],
        ),
        room(
            "channel-notifications",
            "channel-notifications:{channelId}",
            &[],
        ),
        room("global-notifications", "global-notifications", &[]),
        // The loyalty platform's channels (subscribe/unsubscribe).
        room("user", "user:{userId}", &["userId"]),
        room("business", "business:{businessId}", &[]),
        room("location", "location:{businessId}-{locationId}", &[]),
        room("system", "system", &[]),
    ]
}

fn default_events() -> Vec<EventConfig> {
    use EventAction::*;
    vec![
        event("join-user-notifications", Join, Some("user-notifications")),
        event(
            "leave-user-notifications",
            Leave,
            Some("user-notifications"),
        ),
        event(
            "join-channel-notifications",
            Join,
            Some("channel-notifications"),
        ),
        event(
            "leave-channel-notifications",
            Leave,
            Some("channel-notifications"),
        ),
        event(
            "join-global-notifications",
            Join,
            Some("global-notifications"),
        ),
        event(
            "leave-global-notifications",
            Leave,
            Some("global-notifications"),
        ),
        EventConfig {
            channels: ["user", "business", "location", "system"]
                .map(String::from)
                .to_vec(),
            ..event("subscribe", Subscribe, None)
        },
        EventConfig {
            channels: ["user", "business", "location", "system"]
                .map(String::from)
                .to_vec(),
            ..event("unsubscribe", Unsubscribe, None)
        },
        event("action", Webhook, None),
        event("push", Push, None),
    ]
}

impl SocketIoConfig {
    /// The transport settings (`max_rooms` and `queue_limit` come from the
    /// `[socket]` section shared with Phoenix).
    pub fn settings(
        &self,
        max_rooms: usize,
        queue_limit: usize,
        read_buffer_bytes: usize,
    ) -> SocketIoSettings {
        let mut namespaces: Vec<Arc<str>> = vec![Arc::from("/")];
        for nsp in &self.namespaces {
            let nsp = if nsp.starts_with('/') {
                nsp.clone()
            } else {
                format!("/{nsp}")
            };
            if !namespaces.iter().any(|known| **known == *nsp) {
                namespaces.push(Arc::from(nsp));
            }
        }
        SocketIoSettings {
            engine: EngineSettings {
                ping_interval: Duration::from_millis(self.ping_interval_ms),
                ping_timeout: Duration::from_millis(self.ping_timeout_ms),
                max_payload: self.max_payload_bytes,
                read_buffer_bytes,
                queue_limit,
                ..EngineSettings::default()
            },
            namespaces,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            recovery_window: Duration::from_secs(self.recovery_window_secs),
            max_rooms,
        }
    }
}
