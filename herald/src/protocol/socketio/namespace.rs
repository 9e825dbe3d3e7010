//! Connecting a namespace socket, and the ways one ends short of the whole
//! connection: CONNECT (namespace check, the token, the connection limits,
//! connection state recovery), CONNECT_ERROR, and token expiry.
//!
//! Part of the connection task ([`super::connection::Core`]); split out so
//! that file keeps to the task's loop and deliveries.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::access::Identity;
use super::app::{SocketIoApp, SocketRef};
use super::connection::{Core, Ending, NsSocket};
use super::id::Id;
use super::packet::{Packet, PacketType};
use super::recovery::{DeliveryLog, Room, parse_offset};
use crate::auth::limits::count_hit;
use crate::hub::{Message, Position, TopicName};

/// The part of the CONNECT payload the protocol reads; the rest is the
/// application's. Each field is read on its own, so one of the wrong type
/// (say a numeric `offset`) does not make Herald miss the token.
#[derive(Default)]
struct ConnectAuth {
    token: Option<String>,
    pid: Option<String>,
    offset: Option<String>,
}

impl ConnectAuth {
    fn parse(data: Option<&str>) -> Self {
        let Some(Ok(serde_json::Value::Object(fields))) =
            data.map(serde_json::from_str::<serde_json::Value>)
        else {
            return Self::default();
        };
        let text = |name: &str| fields.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        Self {
            token: text("token"),
            pid: text("pid"),
            offset: text("offset"),
        }
    }
}

/// When a socket of `identity` must be told its token expired.
pub(super) fn expiry_of(identity: &Identity) -> Option<Instant> {
    identity
        .seconds_left()
        .map(|left| Instant::now() + Duration::from_secs(left))
}

impl Core {
    pub(super) async fn connect<A: SocketIoApp>(
        &mut self,
        app: &A,
        nsp: &str,
        data: Option<&str>,
    ) -> Result<(), Ending> {
        let known = self
            .shared
            .settings
            .namespaces
            .iter()
            .find(|known| &***known == nsp)
            .cloned();
        let Some(nsp) = known else {
            tracing::debug!(nsp, "socket.io connect to an unknown namespace");
            return self.connect_error(nsp, "Invalid namespace").await;
        };
        let auth = ConnectAuth::parse(data);
        let identity = match self.shared.access.identify(auth.token.as_deref()).await {
            Ok(identity) => identity,
            Err(reason) => {
                tracing::info!(nsp = %nsp, reason, "socket.io connect refused");
                count_hit("auth");
                return self.connect_error(&nsp, reason).await;
            }
        };
        if self.permit.is_none() {
            match self
                .shared
                .access
                .admit(self.engine.remote().ip(), identity.user_id.as_deref())
            {
                Ok(permit) => self.permit = Some(permit),
                Err(reason) => {
                    tracing::info!(nsp = %nsp, reason, "socket.io connect refused: limit");
                    return self.connect_error(&nsp, reason).await;
                }
            }
        }
        let expires = expiry_of(&identity);
        // Connecting again to a connected namespace replaces the old socket.
        if let Some(index) = self.socket_index(&nsp) {
            self.remove_socket(index);
        }
        let restored = match (self.shared.recovery.enabled(), auth.pid.as_deref()) {
            (true, Some(pid)) => Id::parse(pid).and_then(|pid| {
                self.restore(pid, &nsp, &identity, auth.offset.as_deref())
                    .map(|restored| (pid, restored))
            }),
            _ => None,
        };
        let recovered = restored.is_some();
        let (sid, pid, rooms, missed) = match restored {
            Some((pid, (sid, rooms, missed))) => (sid, Some(pid), rooms, missed),
            None => (
                Id::random(),
                self.shared.recovery.enabled().then(Id::random),
                Vec::new(),
                Vec::new(),
            ),
        };
        // One slot at a time: most connections use one namespace.
        self.sockets.reserve_exact(1);
        self.sockets.push(NsSocket {
            nsp: nsp.clone(),
            sid,
            pid,
            identity,
            expires,
            rooms,
            log: DeliveryLog::default(),
        });
        self.connect_deadline = None;
        let reply = match pid {
            Some(pid) => json!({"sid": sid.to_string(), "pid": pid.to_string()}),
            None => json!({"sid": sid.to_string()}),
        }
        .to_string();
        let frame = Packet {
            kind: PacketType::Connect,
            attachments: 0,
            nsp: &nsp,
            id: None,
            data: Some(&reply),
        }
        .encode();
        self.write_packet(frame, &[]).await?;
        if recovered {
            tracing::debug!(%sid, missed = missed.len(), "socket.io session recovered");
            metrics::counter!("herald_socketio_recoveries_total").increment(1);
            let mut missed = missed;
            self.deliver(&mut missed).await?;
        }
        let index = self.sockets.len() - 1;
        let mut socket = SocketRef { core: self, index };
        Ok(app
            .on_connect(&mut socket, data.unwrap_or("{}"), recovered)
            .await?)
    }

    /// The socket's token expired: the application tells the client why,
    /// then the namespace is disconnected (socket.io-client reports
    /// `disconnect` and waits for the application to connect again with a
    /// fresh token), and the session is kept for recovery.
    pub(super) async fn expire<A: SocketIoApp>(
        &mut self,
        app: &A,
        index: usize,
    ) -> Result<(), Ending> {
        count_hit("token_expired");
        app.on_token_expired(&mut SocketRef { core: self, index })
            .await?;
        let socket = self.remove_socket(index);
        tracing::info!(sid = %socket.sid, nsp = %socket.nsp, "socket.io token expired");
        let frame = Packet {
            kind: PacketType::Disconnect,
            attachments: 0,
            nsp: &socket.nsp,
            id: None,
            data: None,
        }
        .encode();
        self.write_packet(frame, &[]).await?;
        self.keep_for_recovery(socket);
        Ok(())
    }

    /// Hand a namespace socket to the recovery store (when it has a `pid`).
    pub(super) fn keep_for_recovery(&self, socket: NsSocket) {
        if let Some(pid) = socket.pid {
            self.shared.recovery.keep(
                pid,
                socket.nsp,
                socket.sid,
                socket.identity,
                socket.rooms,
                socket.log,
            );
        }
    }

    async fn connect_error(&mut self, nsp: &str, message: &str) -> Result<(), Ending> {
        let data = json!({ "message": message }).to_string();
        let frame = Packet {
            kind: PacketType::ConnectError,
            attachments: 0,
            nsp,
            id: None,
            data: Some(&data),
        }
        .encode();
        Ok(self.write_packet(frame, &[]).await?)
    }

    /// Resume a session kept by the recovery store: every room from where the
    /// client stood, or nothing at all.
    fn restore(
        &mut self,
        pid: Id,
        nsp: &Arc<str>,
        identity: &Identity,
        offset: Option<&str>,
    ) -> Option<(Id, Vec<Room>, Vec<Arc<Message>>)> {
        let stored = self.shared.recovery.take(pid)?;
        if &stored.nsp != nsp || stored.identity.user_id != identity.user_id {
            return None;
        }
        let handled = stored
            .log
            .handled(&stored.rooms, offset.and_then(parse_offset));
        let mut rooms = Vec::with_capacity(stored.rooms.len());
        let mut missed = Vec::new();
        for (room, handled) in stored.rooms.iter().zip(handled) {
            let allowed = self
                .shared
                .access
                .authorize_room(identity, &room.topic)
                .is_ok();
            let since = Position {
                epoch: room.epoch.clone(),
                offset: handled,
            };
            let resumed = allowed
                .then(|| self.resume_room(&room.topic, &since))
                .flatten();
            let Some((topic, messages)) = resumed else {
                // All or nothing: undo the rooms resumed so far.
                for room in &rooms {
                    let room: &Room = room;
                    self.release_topic(&room.topic);
                }
                return None;
            };
            missed.extend(messages);
            rooms.push(Room {
                topic,
                epoch: room.epoch.clone(),
                delivered: handled,
                acked: handled,
            });
        }
        for room in &rooms {
            self.shared.stats.room_joined(&room.topic);
        }
        Some((stored.sid, rooms, missed))
    }

    /// Subscribe to `topic` and get what was published after `since`, if
    /// all of it is still kept.
    fn resume_room(
        &mut self,
        topic: &str,
        since: &Position,
    ) -> Option<(TopicName, Vec<Arc<Message>>)> {
        if let Some(name) = self.joined_topic(topic) {
            // Already subscribed for another namespace: read the history
            // instead (anything also still queued is skipped when written).
            let page = self
                .subscriber
                .hub()
                .history(topic, since.offset, usize::MAX)?;
            let complete = page.epoch == since.epoch
                && (page.offset == since.offset
                    || page
                        .messages
                        .first()
                        .and_then(|m| m.position())
                        .map(|p| p.offset)
                        == Some(since.offset + 1));
            return complete.then_some((name, page.messages));
        }
        let (name, recovery) = self.subscriber.subscribe_from(topic, Some(since));
        if recovery.recovered {
            Some((name, recovery.missed))
        } else {
            self.subscriber.unsubscribe(topic);
            None
        }
    }
}
