//! Herald's Socket.IO application: the event vocabulary from the
//! configuration (`[socketio]` rooms and events), not hard-coded here.
//!
//! - `join` / `leave` events name a room template
//!   ([`super::room_template`]); the event's argument fills its placeholders
//!   (`join-user-notifications "u1"` → room `user-notifications:u1`).
//! - `subscribe` / `unsubscribe` take `{channel, params}`: `channel` names a
//!   room template and `params` fill it. The ack is `{ok: true, channel,
//!   room}` or `{ok: false, error, message}`.
//! - `webhook` events are POSTed to the action webhook with the caller's
//!   identity; the ack carries `{ok: true, result}` (the backend's answer) or
//!   `{ok: false, error}`.
//! - `push` events (`{topic, event, payload}`) go to the service that answers
//!   events on a joined room ([`crate::client_events`], e.g. the inbox on
//!   `user:{userId}`); the ack carries its reply.
//!
//! Every refusal (unknown event or channel, bad payload, a room that is not
//! the caller's, a topic rule, too many rooms, binary data) is also emitted
//! as an `error` event `{code, message, event}` with a stable code. After a
//! socket connects it receives `connected` with `{userId, sid}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::app::{ClientEvent, Deferred, SocketIoApp, SocketRef};
use super::engine::EngineEnd;
use super::packet::raw_json as raw;
use super::room_template::RoomTemplate;
use super::webhook::Webhook;
use serde::Deserialize;

use crate::auth::limits::count_hit;
use crate::client_events::{ClientEvents, EventReply};
use crate::config::{EventAction, SocketIoConfig};

/// The configuration does not describe a usable vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VocabularyError {
    #[error("room template {0:?}: {1}")]
    Template(String, &'static str),
    #[error("event {0:?} names room template {1:?}, which is not defined")]
    UnknownRoom(String, String),
    #[error("event {0:?} ({1:?}) needs a room")]
    MissingRoom(String, &'static str),
    #[error("event {0:?} is defined twice")]
    DuplicateEvent(String),
    #[error("event {0:?} is reserved by Herald (token refresh)")]
    ReservedEvent(String),
    #[error("action webhook: {0}")]
    Webhook(String),
}

/// A refusal, sent as an `error` event and, when asked for, a failed ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub(super) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
enum Rule {
    Join(String),
    Leave(String),
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    Webhook,
    Push,
}

/// The event vocabulary, checked and ready to use.
pub struct Vocabulary {
    rooms: HashMap<String, RoomTemplate>,
    events: HashMap<String, Rule>,
    connected_event: Option<String>,
    error_event: String,
    webhook: Option<Arc<Webhook>>,
}

impl Vocabulary {
    pub fn from_config(config: &SocketIoConfig) -> Result<Self, VocabularyError> {
        let mut rooms = HashMap::new();
        for room in &config.rooms {
            let template = RoomTemplate::parse(&room.topic, &room.own)
                .map_err(|reason| VocabularyError::Template(room.name.clone(), reason))?;
            rooms.insert(room.name.clone(), template);
        }
        let mut events = HashMap::new();
        for event in &config.events {
            if event.event == super::token_refresh::REFRESH_EVENT {
                return Err(VocabularyError::ReservedEvent(event.event.clone()));
            }
            let room = |kind: &'static str| -> Result<String, VocabularyError> {
                let room = event
                    .room
                    .clone()
                    .ok_or_else(|| VocabularyError::MissingRoom(event.event.clone(), kind))?;
                if !rooms.contains_key(&room) {
                    return Err(VocabularyError::UnknownRoom(event.event.clone(), room));
                }
                Ok(room)
            };
            let channels = || -> Result<Vec<String>, VocabularyError> {
                for channel in &event.channels {
                    if !rooms.contains_key(channel) {
                        return Err(VocabularyError::UnknownRoom(
                            event.event.clone(),
                            channel.clone(),
                        ));
                    }
                }
                Ok(event.channels.clone())
            };
            let rule = match event.action {
                EventAction::Join => Rule::Join(room("join")?),
                EventAction::Leave => Rule::Leave(room("leave")?),
                EventAction::Subscribe => Rule::Subscribe(channels()?),
                EventAction::Unsubscribe => Rule::Unsubscribe(channels()?),
                EventAction::Webhook => Rule::Webhook,
                EventAction::Push => Rule::Push,
            };
            if events.insert(event.event.clone(), rule).is_some() {
                return Err(VocabularyError::DuplicateEvent(event.event.clone()));
            }
        }
        let webhook = if config.action_webhook_url.trim().is_empty() {
            None
        } else {
            let timeout = Duration::from_millis(config.action_timeout_ms);
            let secret = Some(config.action_webhook_secret.as_str()).filter(|s| !s.is_empty());
            let webhook = Webhook::new(config.action_webhook_url.trim(), timeout, secret)
                .map_err(|err| VocabularyError::Webhook(err.to_string()))?;
            Some(Arc::new(webhook))
        };
        Ok(Self {
            rooms,
            events,
            connected_event: (!config.connected_event.is_empty())
                .then(|| config.connected_event.clone()),
            error_event: config.error_event.clone(),
            webhook,
        })
    }

    fn channel(
        &self,
        allowed: &[String],
        arg: Option<&Value>,
    ) -> Result<(String, &RoomTemplate), Refusal> {
        let channel = arg
            .and_then(|arg| arg.get("channel"))
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::new("invalid_payload", "expected {channel, params}"))?;
        let template = self
            .rooms
            .get(channel)
            .filter(|_| allowed.is_empty() || allowed.iter().any(|name| name == channel))
            .ok_or_else(|| Refusal::new("unknown_channel", format!("no channel {channel:?}")))?;
        Ok((channel.to_owned(), template))
    }
}

/// The application Herald runs on `/socket.io/`.
pub struct HeraldApp {
    vocabulary: Vocabulary,
    /// Services answering events pushed on joined rooms (the inbox).
    services: ClientEvents,
}

/// The part of a `push` event Herald reads.
#[derive(Deserialize)]
struct PushRequest {
    topic: String,
    event: String,
    payload: Option<Box<RawValue>>,
}

impl HeraldApp {
    pub fn new(vocabulary: Vocabulary, services: ClientEvents) -> Self {
        Self {
            vocabulary,
            services,
        }
    }

    /// `push {topic, event, payload}`: the service that claims `topic`
    /// answers, if the socket joined that room (joining is where topic rules
    /// apply, so they cover pushes too).
    async fn push(
        &self,
        socket: &mut SocketRef<'_>,
        arg: Option<&RawValue>,
    ) -> Result<Value, Refusal> {
        let request: PushRequest = arg
            .and_then(|arg| serde_json::from_str(arg.get()).ok())
            .ok_or_else(|| Refusal::new("invalid_payload", "expected {topic, event, payload}"))?;
        if !socket.rooms().any(|room| room == request.topic) {
            return Err(Refusal::new(
                "not_joined",
                format!("join {} before pushing to it", request.topic),
            ));
        }
        let unhandled = || {
            Refusal::new(
                "unhandled_event",
                format!("{} on {} has no handler", request.event, request.topic),
            )
        };
        let handler = self
            .services
            .for_topic(&request.topic)
            .ok_or_else(unhandled)?;
        let empty = RawValue::from_string("{}".to_owned()).unwrap_or_default();
        let payload = request.payload.as_deref().unwrap_or(&empty);
        match handler
            .handle(&request.topic, &request.event, payload)
            .await
        {
            None => Err(unhandled()),
            Some(EventReply::Ok(response)) => Ok(json!({"ok": true, "response": response})),
            Some(EventReply::Error(response)) => {
                let code = response
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("refused");
                Ok(json!({"ok": false, "error": code, "response": response}))
            }
        }
    }

    /// Emit the `error` event and, when the client asked, a failed ack.
    async fn refuse(
        &self,
        socket: &mut SocketRef<'_>,
        event: &ClientEvent<'_>,
        refusal: Refusal,
    ) -> Result<(), EngineEnd> {
        tracing::debug!(
            event = event.name,
            code = refusal.code,
            "socket.io event refused"
        );
        let error = raw(&json!({
            "code": refusal.code,
            "message": refusal.message,
            "event": event.name,
        }));
        socket.emit(&self.vocabulary.error_event, &[&error]).await?;
        if let Some(id) = event.ack {
            let reply = raw(&json!({
                "ok": false,
                "error": refusal.code,
                "message": refusal.message,
            }));
            socket.ack(id, &[&reply]).await?;
        }
        Ok(())
    }

    async fn ok(
        &self,
        socket: &mut SocketRef<'_>,
        event: &ClientEvent<'_>,
        reply: Value,
    ) -> Result<(), EngineEnd> {
        match event.ack {
            Some(id) => socket.ack(id, &[&raw(&reply)]).await,
            None => Ok(()),
        }
    }

    /// Carry out `rule`; `Ok(reply)` is acked, `Err` refused.
    fn apply(
        &self,
        socket: &mut SocketRef<'_>,
        rule: &Rule,
        arg: Option<&Value>,
    ) -> Result<Value, Refusal> {
        let identity = socket.identity();
        match rule {
            Rule::Join(room) | Rule::Leave(room) => {
                let template = self
                    .vocabulary
                    .rooms
                    .get(room)
                    .ok_or_else(|| Refusal::new("unknown_channel", room.clone()))?;
                let topic = template.render(arg, identity)?;
                if matches!(rule, Rule::Join(_)) {
                    join(socket, &topic)?;
                } else {
                    socket.leave(&topic);
                }
                Ok(json!({"ok": true, "room": topic}))
            }
            Rule::Subscribe(allowed) | Rule::Unsubscribe(allowed) => {
                let (channel, template) = self.vocabulary.channel(allowed, arg)?;
                let params = arg.and_then(|arg| arg.get("params"));
                let topic = template.render(params.or(Some(&Value::Null)), identity)?;
                if matches!(rule, Rule::Subscribe(_)) {
                    join(socket, &topic)?;
                } else {
                    socket.leave(&topic);
                }
                Ok(json!({"ok": true, "channel": channel, "room": topic}))
            }
            Rule::Webhook | Rule::Push => Err(Refusal::new("unknown_event", "not a room event")),
        }
    }

    /// Forward the event to the webhook, off the connection.
    fn forward(
        &self,
        socket: &mut SocketRef<'_>,
        event: &ClientEvent<'_>,
        arg: Option<Value>,
    ) -> Result<(), Refusal> {
        let Some(webhook) = self.vocabulary.webhook.clone() else {
            return Err(Refusal::new(
                "action_unavailable",
                "no action webhook is configured",
            ));
        };
        let identity = socket.identity();
        let body = json!({
            "event": event.name,
            "data": arg,
            "user": {
                "userId": identity.user_id,
                "businessId": identity.business_id,
                "locationId": identity.location_id,
                "roles": identity.roles,
            },
            "socketId": socket.sid().to_string(),
            "nsp": socket.nsp(),
        });
        let ack = event.ack;
        let name = event.name.to_owned();
        let error_event = self.vocabulary.error_event.clone();
        socket
            .defer(async move {
                let result = webhook.call(&body).await;
                if let Err(err) = &result {
                    tracing::warn!(event = %name, error = %err, "action webhook failed");
                }
                match (ack, result) {
                    (Some(id), Ok(answer)) => Some(Deferred::Ack {
                        id,
                        args: vec![raw(&json!({"ok": true, "result": answer}))],
                    }),
                    (Some(id), Err(err)) => Some(Deferred::Ack {
                        id,
                        args: vec![raw(
                            &json!({"ok": false, "error": err.code(), "message": err.to_string()}),
                        )],
                    }),
                    (None, Ok(_)) => None,
                    (None, Err(err)) => Some(Deferred::Emit {
                        event: error_event,
                        args: vec![raw(
                            &json!({"code": err.code(), "message": err.to_string(), "event": name}),
                        )],
                    }),
                }
            })
            .map_err(|busy| Refusal::new("too_many_requests", busy.to_string()))
    }
}

fn join(socket: &mut SocketRef<'_>, topic: &str) -> Result<(), Refusal> {
    socket
        .join(topic)
        .map_err(|err| Refusal::new(err.code(), err.to_string()))
}

impl SocketIoApp for HeraldApp {
    async fn on_connect(
        &self,
        socket: &mut SocketRef<'_>,
        _auth: &str,
        _recovered: bool,
    ) -> Result<(), EngineEnd> {
        let Some(event) = &self.vocabulary.connected_event else {
            return Ok(());
        };
        // An object, never a bare string: socket.io-client takes a trailing
        // string argument for a recovery offset.
        let hello = raw(&json!({
            "userId": socket.identity().user_id,
            "sid": socket.sid().to_string(),
        }));
        socket.emit(event, &[&hello]).await
    }

    /// Say why on the error event: `{"code": "token_expired", "message"}`.
    async fn on_token_expired(&self, socket: &mut SocketRef<'_>) -> Result<(), EngineEnd> {
        let error = raw(&json!({
            "code": "token_expired",
            "message": "the token has expired: connect again with a fresh one",
        }));
        socket.emit(&self.vocabulary.error_event, &[&error]).await
    }

    async fn on_event(
        &self,
        socket: &mut SocketRef<'_>,
        event: ClientEvent<'_>,
    ) -> Result<(), EngineEnd> {
        if !socket.allow_message() {
            count_hit("message_rate");
            let refusal = Refusal::new("rate_limited", "too many messages; slow down");
            return self.refuse(socket, &event, refusal).await;
        }
        let Some(rule) = self.vocabulary.events.get(event.name) else {
            let refusal = Refusal::new("unknown_event", format!("no event {:?}", event.name));
            return self.refuse(socket, &event, refusal).await;
        };
        if !event.attachments.is_empty() {
            let refusal = Refusal::new(
                "binary_not_supported",
                "binary attachments are not accepted for this event",
            );
            return self.refuse(socket, &event, refusal).await;
        }
        let arg: Option<Value> = event
            .args
            .first()
            .and_then(|arg| serde_json::from_str(arg.get()).ok());
        let outcome = match rule {
            Rule::Webhook => self.forward(socket, &event, arg).map(|()| None),
            Rule::Push => self
                .push(socket, event.args.first().copied())
                .await
                .map(Some),
            rule => self.apply(socket, rule, arg.as_ref()).map(Some),
        };
        match outcome {
            Ok(Some(reply)) => self.ok(socket, &event, reply).await,
            Ok(None) => Ok(()),
            Err(refusal) => self.refuse(socket, &event, refusal).await,
        }
    }
}

/// A JSON value as raw JSON (serializing a `Value` cannot fail).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_vocabulary_is_valid() {
        let vocabulary = Vocabulary::from_config(&SocketIoConfig::default()).unwrap();
        for event in [
            "join-user-notifications",
            "leave-user-notifications",
            "join-channel-notifications",
            "leave-channel-notifications",
            "join-global-notifications",
            "leave-global-notifications",
            "subscribe",
            "unsubscribe",
            "action",
            "push",
        ] {
            assert!(vocabulary.events.contains_key(event), "{event}");
        }
    }

    #[test]
    fn events_must_name_defined_rooms() {
        let mut config = SocketIoConfig::default();
        config.events[0].room = Some("nope".into());
        assert!(matches!(
            Vocabulary::from_config(&config),
            Err(VocabularyError::UnknownRoom(..))
        ));
    }

    #[test]
    fn the_refresh_event_is_reserved() {
        let mut config = SocketIoConfig::default();
        config.events[0].event = "refresh".into();
        assert_eq!(
            Vocabulary::from_config(&config).err(),
            Some(VocabularyError::ReservedEvent("refresh".into()))
        );
    }
}
