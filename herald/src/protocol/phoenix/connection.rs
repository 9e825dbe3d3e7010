//! One Phoenix socket, from upgrade to close.
//!
//! A single task per socket waits on three things at once: frames from the
//! client, broadcasts queued in the hub mailbox, and the idle timer. Replies
//! are written straight away; broadcasts are written in batches (everything
//! queued, then one flush). The ways a socket can end are collected in
//! [`Ending`], and [`Connection::finish`] tells the client why. Joining and
//! leaving channels (and the token refresh) live in [`super::channels`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures_util::SinkExt;
use serde_json::value::RawValue;
use tokio::time::Instant;

use super::frame::{self, DecodeError, Inbound, Outbound, Serializer};
use super::{ConnectParams, PhoenixEndpoint, Session};
use crate::auth::limits::{MessageRate, count_hit};
use crate::client_events::EventReply;
use crate::hub::{CloseReason, Message, Subscriber, TopicName};
use crate::protocol::ws;

/// WebSocket close codes used by this transport.
mod close_code {
    pub const GOING_AWAY: u16 = 1001;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// How long closing a socket may take before it is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the connection loop stopped.
pub(super) enum Ending {
    /// The client closed or the TCP connection went away.
    ClientGone,
    /// The hub closed the mailbox (shutdown, slow consumer, kicked).
    Closed(CloseReason),
    /// Nothing received for the idle timeout.
    IdleTimeout,
    /// The client's token expired and no fresh one came.
    TokenExpired,
    /// The client broke the protocol; close with this code and reason.
    ProtocolError(u16, String),
    /// Writing to the socket failed.
    WriteFailed,
}

impl Ending {
    /// A metrics label for why sockets end.
    fn label(&self) -> &'static str {
        match self {
            Ending::ClientGone => "client_gone",
            Ending::Closed(CloseReason::SlowConsumer) => "slow_consumer",
            Ending::Closed(CloseReason::Shutdown) => "shutdown",
            Ending::Closed(CloseReason::Kicked(_)) => "kicked",
            Ending::IdleTimeout => "idle_timeout",
            Ending::TokenExpired => "token_expired",
            Ending::ProtocolError(..) => "protocol_error",
            Ending::WriteFailed => "write_failed",
        }
    }
}

/// A channel this socket has joined.
pub(super) struct JoinedChannel {
    pub(super) topic: TopicName,
    pub(super) join_ref: Option<Box<RawValue>>,
    /// The topic's epoch when joined, and the last offset written to the
    /// client: a broadcast at or below it (queued before a rejoin, or already
    /// replayed) is not written again.
    pub(super) epoch: Arc<str>,
    pub(super) delivered_up_to: u64,
}

pub(super) struct Connection {
    socket: WebSocket,
    pub(super) subscriber: Subscriber,
    serializer: Serializer,
    connect: ConnectParams,
    pub(super) session: Session,
    rate: MessageRate,
    /// When the client last sent anything.
    last_activity: Instant,
    pub(super) endpoint: Arc<PhoenixEndpoint>,
    pub(super) channels: Vec<JoinedChannel>,
}

impl Connection {
    pub(super) fn new(
        socket: WebSocket,
        subscriber: Subscriber,
        serializer: Serializer,
        connect: ConnectParams,
        session: Session,
        endpoint: Arc<PhoenixEndpoint>,
    ) -> Self {
        Self {
            socket,
            subscriber,
            serializer,
            connect,
            session,
            rate: MessageRate::new(endpoint.message_rate),
            last_activity: Instant::now(),
            endpoint,
            channels: Vec::new(),
        }
    }

    pub(super) async fn run(mut self) {
        let id = self.subscriber.id();
        tracing::debug!(connection = id, remote = %self.connect.remote, "phoenix socket connected");
        let mailbox = self.subscriber.mailbox().clone();
        let idle_timeout = self.endpoint.settings.idle_timeout;
        // One timer for both the idle timeout and the token's expiry.
        let idle = tokio::time::sleep_until(self.deadline(idle_timeout));
        tokio::pin!(idle);
        let mut batch: Vec<Arc<Message>> = Vec::new();

        let ending = loop {
            tokio::select! {
                delivery = mailbox.recv_batch(&mut batch) => match delivery {
                    Ok(()) => {
                        // Boxed for the same reason: the write future exists
                        // only while a delivery is being written.
                        if let Err(ending) = Box::pin(self.write_batch(&mut batch)).await {
                            break ending;
                        }
                    }
                    Err(reason) => break Ending::Closed(reason),
                },
                incoming = self.socket.recv() => {
                    self.last_activity = Instant::now();
                    idle.as_mut().reset(self.deadline(idle_timeout));
                    match incoming {
                        None => break Ending::ClientGone,
                        Some(Err(err)) => break read_error_ending(&err),
                        Some(Ok(message)) => {
                            // Boxed: client frames are rare (a heartbeat every 30 s), and
                            // keeping their large future out of this loop's state
                            // keeps every idle connection small.
                            if let Err(ending) = Box::pin(self.handle_frame(message)).await {
                                break ending;
                            }
                        }
                    }
                },
                () = &mut idle => {
                    if self.session.identity.seconds_left() == Some(0) {
                        break Ending::TokenExpired;
                    }
                    if Instant::now() >= self.last_activity + idle_timeout {
                        break Ending::IdleTimeout;
                    }
                    // A refreshed token moved the expiry: wait again.
                    idle.as_mut().reset(self.deadline(idle_timeout));
                }
            }
        };
        Box::pin(self.finish(ending)).await;
    }

    /// When the timer should next fire: the idle timeout, or the token's
    /// expiry if that comes first.
    fn deadline(&self, idle_timeout: Duration) -> Instant {
        let idle = self.last_activity + idle_timeout;
        match self.session.identity.seconds_left() {
            Some(left) => idle.min(Instant::now() + Duration::from_secs(left)),
            None => idle,
        }
    }

    /// Write every queued broadcast, then flush once. Gives up as soon as the
    /// mailbox closes, so a client that stopped reading cannot hold the task.
    pub(super) async fn write_batch(
        &mut self,
        batch: &mut Vec<Arc<Message>>,
    ) -> Result<(), Ending> {
        let format = self.serializer.broadcast_format();
        let mailbox = self.subscriber.mailbox().clone();
        let channels = &mut self.channels;
        let socket = &mut self.socket;
        let write = async {
            for message in batch.drain(..) {
                // A broadcast queued before a leave is not delivered after it,
                // nor one the client already got through recovery.
                let Some(channel) = channels
                    .iter_mut()
                    .find(|c| Arc::ptr_eq(&c.topic, message.topic()))
                else {
                    continue;
                };
                if !message.is_news_to(&channel.epoch, &mut channel.delivered_up_to) {
                    continue;
                }
                socket.feed(ws::text_message(message.frame(format))).await?;
            }
            socket.flush().await
        };
        tokio::select! {
            written = write => written.map_err(|_| Ending::WriteFailed),
            reason = mailbox.closed() => Err(Ending::Closed(reason)),
        }
    }

    async fn handle_frame(&mut self, message: WsMessage) -> Result<(), Ending> {
        match message {
            WsMessage::Text(text) => match frame::decode(self.serializer, &text) {
                Ok(inbound) if !self.rate.allow(self.endpoint.message_rate) => {
                    count_hit("message_rate");
                    tracing::info!(
                        connection = self.subscriber.id(),
                        "phoenix message rate limit hit"
                    );
                    self.reply(&inbound, false, &reason_json("rate_limited"))
                        .await
                }
                Ok(inbound) => self.dispatch(inbound).await,
                Err(err) => self.reject_frame(err).await,
            },
            WsMessage::Binary(_) => Err(Ending::ProtocolError(
                close_code::UNSUPPORTED_DATA,
                "binary frames are not supported".into(),
            )),
            WsMessage::Close(_) => Err(Ending::ClientGone),
            // tungstenite answers pings itself.
            WsMessage::Ping(_) | WsMessage::Pong(_) => Ok(()),
        }
    }

    /// An undecodable frame gets an error reply when its ref could be read,
    /// and closes the socket otherwise (there is nothing to reply to).
    async fn reject_frame(&mut self, err: DecodeError) -> Result<(), Ending> {
        tracing::info!(
            connection = self.subscriber.id(),
            reason = err.reason,
            "bad phoenix frame"
        );
        match (&err.msg_ref, err.topic.as_deref()) {
            (Some(msg_ref), topic) => {
                let response = reason_json(err.reason);
                let reply = frame::reply_payload(false, &response);
                self.send(Outbound {
                    join_ref: err.join_ref.as_deref(),
                    msg_ref: Some(msg_ref),
                    topic: topic.unwrap_or(""),
                    event: "phx_reply",
                    payload: &reply,
                })
                .await
            }
            (None, _) => Err(Ending::ProtocolError(
                close_code::INVALID_PAYLOAD,
                format!("malformed message: {}", err.reason),
            )),
        }
    }

    async fn dispatch(&mut self, inbound: Inbound) -> Result<(), Ending> {
        if inbound.topic == "phoenix" {
            return match inbound.event.as_str() {
                "heartbeat" => self.reply(&inbound, true, "{}").await,
                "refresh" => self.refresh(inbound).await,
                other => {
                    self.reply(&inbound, false, &unknown_event_json(other))
                        .await
                }
            };
        }
        match inbound.event.as_str() {
            "phx_join" => self.join(inbound).await,
            "phx_leave" => self.leave(inbound).await,
            event => {
                if self.channel_index(&inbound.topic).is_none() {
                    return self
                        .reply(&inbound, false, &reason_json("unmatched topic"))
                        .await;
                }
                self.client_event(&inbound, event).await
            }
        }
    }

    /// An event pushed on a joined topic, for the service that claims the
    /// topic (the inbox on `user:*`); refused by name when none does.
    async fn client_event(&mut self, inbound: &Inbound, event: &str) -> Result<(), Ending> {
        let endpoint = self.endpoint.clone();
        let reply = match endpoint.events.for_topic(&inbound.topic) {
            Some(handler) => {
                handler
                    .handle(&inbound.topic, event, &inbound.payload)
                    .await
            }
            None => None,
        };
        match reply {
            Some(EventReply::Ok(response)) => {
                self.reply(inbound, true, &response.to_string()).await
            }
            Some(EventReply::Error(response)) => {
                self.reply(inbound, false, &response.to_string()).await
            }
            None => self.reply(inbound, false, &unknown_event_json(event)).await,
        }
    }

    pub(super) fn channel_index(&self, topic: &str) -> Option<usize> {
        self.channels.iter().position(|c| &*c.topic == topic)
    }

    pub(super) async fn reply(
        &mut self,
        to: &Inbound,
        ok: bool,
        response: &str,
    ) -> Result<(), Ending> {
        let payload = frame::reply_payload(ok, response);
        self.send(Outbound {
            join_ref: to.join_ref.as_deref(),
            msg_ref: to.msg_ref.as_deref(),
            topic: &to.topic,
            event: "phx_reply",
            payload: &payload,
        })
        .await
    }

    /// `phx_close` for a channel, under its join ref (as Phoenix sends it).
    pub(super) async fn send_close(&mut self, channel: &JoinedChannel) -> Result<(), Ending> {
        self.send(Outbound {
            join_ref: channel.join_ref.as_deref(),
            msg_ref: channel.join_ref.as_deref(),
            topic: &channel.topic,
            event: "phx_close",
            payload: "{}",
        })
        .await
    }

    async fn send(&mut self, frame: Outbound<'_>) -> Result<(), Ending> {
        let bytes = frame.encode(self.serializer);
        self.socket
            .send(ws::text_message(bytes))
            .await
            .map_err(|_| Ending::WriteFailed)
    }

    /// Tell the client why the socket ends, then close it.
    async fn finish(mut self, ending: Ending) {
        let id = self.subscriber.id();
        let ending_label = ending.label();
        let close = match ending {
            Ending::ClientGone | Ending::WriteFailed => None,
            Ending::IdleTimeout => {
                tracing::info!(connection = id, "phoenix socket idle timeout");
                Some((close_code::GOING_AWAY, "idle timeout".to_owned()))
            }
            Ending::ProtocolError(code, reason) => {
                tracing::info!(connection = id, code, %reason, "closing phoenix socket");
                Some((code, reason))
            }
            Ending::Closed(CloseReason::SlowConsumer) => {
                tracing::warn!(connection = id, "phoenix socket dropped: slow consumer");
                Some((
                    close_code::TRY_AGAIN_LATER,
                    CloseReason::SlowConsumer.as_str().to_owned(),
                ))
            }
            ending @ (Ending::TokenExpired
            | Ending::Closed(CloseReason::Shutdown | CloseReason::Kicked(_))) => {
                // Every joined channel hears why. `phx_close` ends a channel
                // for good in phoenix.js (right when the server kicks it);
                // `phx_error` leaves it to rejoin by itself once the socket
                // reconnects: after a shutdown (to another node, or this one
                // restarted, so a rolling deploy loses no subscription) and
                // after token expiry (with `params` as a function that
                // returns a fresh token).
                let (code, reason, channel_event) = match ending {
                    Ending::Closed(CloseReason::Shutdown) => (
                        close_code::GOING_AWAY,
                        CloseReason::Shutdown.as_str().to_owned(),
                        "phx_error",
                    ),
                    Ending::Closed(kicked) => (
                        close_code::POLICY_VIOLATION,
                        kicked.as_str().to_owned(),
                        "phx_close",
                    ),
                    _ => {
                        tracing::info!(connection = id, "phoenix socket closed: token expired");
                        (
                            close_code::POLICY_VIOLATION,
                            "token_expired".to_owned(),
                            "phx_error",
                        )
                    }
                };
                let payload = reason_json(&reason);
                let closing = async {
                    for channel in std::mem::take(&mut self.channels) {
                        let frame = Outbound {
                            join_ref: channel.join_ref.as_deref(),
                            msg_ref: channel.join_ref.as_deref(),
                            topic: &channel.topic,
                            event: channel_event,
                            payload: &payload,
                        };
                        self.socket
                            .feed(ws::text_message(frame.encode(self.serializer)))
                            .await?;
                    }
                    self.socket.flush().await
                };
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
                Some((code, reason))
            }
        };
        metrics::counter!("herald_socket_closes_total", "transport" => "phoenix", "reason" => ending_label)
            .increment(1);
        if let Some((code, reason)) = close {
            let frame = WsMessage::Close(Some(CloseFrame {
                code,
                reason: ws::close_reason(&reason),
            }));
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.socket.send(frame)).await;
        }
        tracing::debug!(connection = id, "phoenix socket closed");
    }
}

fn read_error_ending(err: &axum::Error) -> Ending {
    if ws::frame_too_large(err) {
        tracing::info!("phoenix frame over the size limit");
        Ending::ProtocolError(close_code::MESSAGE_TOO_BIG, "frame too large".into())
    } else {
        Ending::ClientGone
    }
}

pub(super) fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

pub(super) fn reason_json(reason: &str) -> String {
    format!(r#"{{"reason":{}}}"#, json_string(reason))
}

fn unknown_event_json(event: &str) -> String {
    format!(
        r#"{{"reason":"unhandled event","event":{}}}"#,
        json_string(event)
    )
}
