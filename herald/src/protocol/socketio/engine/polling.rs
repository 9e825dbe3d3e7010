//! HTTP long-polling: one session's shared queues and its GET and POST
//! requests.
//!
//! The session's task pushes packets into `outbound`; a GET takes them all
//! (waiting until there is something) and answers them as one payload. A POST
//! decodes its body into `inbound` and wakes the task. At most one GET and
//! one POST may be active at once; a second one is a protocol error that
//! closes the session, as does a GET the client gives up on.
//!
//! During an upgrade to WebSocket a waiting GET is answered with a noop so
//! the client can pause polling; once the upgrade is done the session leaves
//! the table and every later request with its id gets 400.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocket;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::EngineShared;
use super::packet::{self, ClientPacket, ServerPacket};
use super::routes::engine_error;
use crate::protocol::socketio::id::Id;

/// How long a GET that arrives while an upgrade is under way waits for the
/// upgrade to finish (then 400) before it is answered with a noop. A GET
/// that was already waiting when the probe came is answered at once: the
/// client is pausing polling and needs that answer to go on.
const UPGRADE_GRACE: Duration = Duration::from_millis(100);

/// How long a session its client closed waits for the client's last GET.
const CLOSED_LINGER: Duration = Duration::from_secs(2);

/// How a long-polling session was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollClosed {
    /// The client sent a close packet: a waiting GET gets a noop.
    ByClient,
    /// The server ended the session: a waiting GET gets what was queued, then
    /// a close packet.
    ByServer,
    /// The client broke the rules (overlapping requests, a bad payload, a GET
    /// abandoned): as `ByServer` for a waiting GET.
    Aborted,
}

/// Where an upgrade to WebSocket stands.
pub enum Upgrade {
    None,
    /// A WebSocket with this session's id is open, waiting for its probe.
    Attached,
    /// The probe was answered; polling is paused.
    Probing,
    /// The client sent the upgrade packet: the WebSocket waits for the task.
    Ready(Box<WebSocket>),
    /// The task now talks over the WebSocket.
    Done,
}

/// Packets waiting in one direction, with their total size (both bound a
/// session: see [`super::EngineSettings::queue_overflows`]).
pub struct Queue<P> {
    packets: VecDeque<P>,
    bytes: usize,
}

impl<P> Default for Queue<P> {
    fn default() -> Self {
        Self {
            packets: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<P: PacketSize> Queue<P> {
    pub fn push(&mut self, packet: P) {
        self.bytes += packet.size();
        self.packets.push_back(packet);
    }

    pub fn pop(&mut self) -> Option<P> {
        let packet = self.packets.pop_front()?;
        self.bytes -= packet.size();
        Some(packet)
    }

    /// Everything queued, oldest first; the queue is left empty.
    pub fn take(&mut self) -> Vec<P> {
        self.bytes = 0;
        std::mem::take(&mut self.packets).into()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// What a queued packet costs.
pub trait PacketSize {
    fn size(&self) -> usize;
}

impl PacketSize for ServerPacket {
    fn size(&self) -> usize {
        match self {
            ServerPacket::Text(bytes) | ServerPacket::Binary(bytes) => bytes.len(),
        }
    }
}

impl PacketSize for ClientPacket {
    fn size(&self) -> usize {
        match self {
            ClientPacket::Message(text) => text.len(),
            ClientPacket::Binary(bytes) => bytes.len(),
            _ => 1,
        }
    }
}

pub struct PollState {
    pub inbound: Queue<ClientPacket>,
    pub outbound: Queue<ServerPacket>,
    get_active: bool,
    post_active: bool,
    pub upgrade: Upgrade,
    pub closed: Option<PollClosed>,
    /// When the outstanding ping expires. Requests check it themselves, so a
    /// session past its deadline is refused even if its task has not woken
    /// up to close it yet.
    pub pong_deadline: Option<tokio::time::Instant>,
    /// A session closed by its client no longer waits for a last GET.
    linger_over: bool,
}

pub struct PollSession {
    pub sid: Id,
    pub state: Mutex<PollState>,
    /// Wakes the session's task (packets in, upgrade ready, closed).
    pub task_wake: Notify,
    /// Wakes a waiting GET (packets out, upgrade, closed).
    pub getter_wake: Notify,
}

impl PollSession {
    pub fn new(sid: Id) -> Arc<Self> {
        Arc::new(Self {
            sid,
            state: Mutex::new(PollState {
                inbound: Queue::default(),
                outbound: Queue::default(),
                get_active: false,
                post_active: false,
                upgrade: Upgrade::None,
                closed: None,
                pong_deadline: None,
                linger_over: false,
            }),
            task_wake: Notify::new(),
            getter_wake: Notify::new(),
        })
    }

    fn upgrade_under_way(&self) -> bool {
        let state = self.state.lock();
        state.closed.is_none() && matches!(state.upgrade, Upgrade::Attached | Upgrade::Probing)
    }

    /// Is the session past the point where polling requests are served?
    fn refuses_requests(state: &PollState) -> bool {
        (state.closed.is_some() && state.closed != Some(PollClosed::ByClient))
            || state.linger_over
            || matches!(state.upgrade, Upgrade::Ready(_) | Upgrade::Done)
            || state
                .pong_deadline
                .is_some_and(|deadline| tokio::time::Instant::now() >= deadline)
    }
}

impl EngineShared {
    /// Close a polling session and forget its id.
    ///
    /// A client that closes with a POST while no GET is waiting usually has
    /// its last GET on the way (the two race on separate connections): the
    /// session stays findable for [`CLOSED_LINGER`] so that GET gets its
    /// noop instead of a 400, then goes.
    pub(super) fn close_polling(self: &Arc<Self>, session: &Arc<PollSession>, how: PollClosed) {
        let (first, linger) = {
            let mut state = session.state.lock();
            let first = state.closed.is_none();
            if first {
                state.closed = Some(how);
            }
            (first, how == PollClosed::ByClient && !state.get_active)
        };
        if !first {
            // The first close already dealt with the table.
            session.task_wake.notify_one();
            session.getter_wake.notify_one();
            return;
        }
        if linger {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let shared = Arc::downgrade(self);
                let session = Arc::downgrade(session);
                runtime.spawn(async move {
                    tokio::time::sleep(CLOSED_LINGER).await;
                    if let (Some(shared), Some(session)) = (shared.upgrade(), session.upgrade()) {
                        session.state.lock().linger_over = true;
                        shared.polling.remove(&session.sid);
                    }
                });
            }
        } else {
            self.polling.remove(&session.sid);
        }
        session.task_wake.notify_one();
        session.getter_wake.notify_one();
    }

    /// A GET: wait for packets and answer them as one payload.
    pub(super) async fn poll(self: &Arc<Self>, session: Arc<PollSession>) -> Response {
        let upgrading_on_arrival;
        {
            let mut state = session.state.lock();
            if PollSession::refuses_requests(&state) {
                return engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown");
            }
            if state.get_active {
                drop(state);
                tracing::debug!(sid = %session.sid, "overlapping polling GET: closing the session");
                self.close_polling(&session, PollClosed::Aborted);
                return engine_error(StatusCode::BAD_REQUEST, 3, "Bad request");
            }
            state.get_active = true;
            upgrading_on_arrival = matches!(state.upgrade, Upgrade::Attached | Upgrade::Probing);
        }
        let mut active = ActiveGet {
            shared: self.clone(),
            session: session.clone(),
            answered: false,
        };
        // Only a GET that came during the upgrade waits for it.
        let mut waited_for_upgrade = !upgrading_on_arrival;
        let answer = loop {
            match self.poll_step(&session, waited_for_upgrade) {
                PollStep::Answer(answer) => break answer,
                PollStep::Wait => session.getter_wake.notified().await,
                PollStep::WaitForUpgrade => {
                    waited_for_upgrade = true;
                    let deadline = tokio::time::Instant::now() + UPGRADE_GRACE;
                    while session.upgrade_under_way()
                        && tokio::time::timeout_at(deadline, session.getter_wake.notified())
                            .await
                            .is_ok()
                    {}
                }
            }
        };
        active.answered = true;
        drop(active);
        let client_closed = {
            let mut state = session.state.lock();
            let closed = state.closed == Some(PollClosed::ByClient);
            if closed {
                state.linger_over = true;
            }
            closed
        };
        if client_closed {
            self.polling.remove(&session.sid);
        }
        match answer {
            Some(payload) => (
                [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
                payload,
            )
                .into_response(),
            None => engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
        }
    }

    /// What a waiting GET should do now (decided under the lock, acted on
    /// outside it).
    fn poll_step(&self, session: &PollSession, waited_for_upgrade: bool) -> PollStep {
        let mut state = session.state.lock();
        if matches!(state.upgrade, Upgrade::Ready(_) | Upgrade::Done) {
            return PollStep::Answer(None);
        }
        if let Some(how) = state.closed {
            return PollStep::Answer(Some(match how {
                PollClosed::ByClient => Bytes::from_static(packet::NOOP),
                PollClosed::ByServer | PollClosed::Aborted => {
                    let mut packets = state.outbound.take();
                    packets.push(ServerPacket::Text(Bytes::from_static(packet::CLOSE)));
                    packet::encode_payload(&packets)
                }
            }));
        }
        if matches!(state.upgrade, Upgrade::Probing) {
            return if waited_for_upgrade {
                PollStep::Answer(Some(Bytes::from_static(packet::NOOP)))
            } else {
                PollStep::WaitForUpgrade
            };
        }
        if !state.outbound.is_empty() {
            let packets = state.outbound.take();
            return PollStep::Answer(Some(packet::encode_payload(&packets)));
        }
        PollStep::Wait
    }

    /// A POST: decode the payload and hand its packets to the task.
    pub(super) async fn push(
        self: &Arc<Self>,
        session: Arc<PollSession>,
        headers: &HeaderMap,
        body: axum::body::Body,
    ) -> Response {
        {
            let mut state = session.state.lock();
            if PollSession::refuses_requests(&state) || state.closed.is_some() {
                return engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown");
            }
            if state.post_active {
                drop(state);
                self.close_polling(&session, PollClosed::Aborted);
                return engine_error(StatusCode::BAD_REQUEST, 3, "Bad request");
            }
            state.post_active = true;
        }
        let _active = ActivePost(session.clone());
        let max = self.settings.max_payload;
        let bytes = match axum::body::to_bytes(body, max).await {
            Ok(bytes) => bytes,
            Err(_) => {
                let declared = headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<usize>().ok());
                self.close_polling(&session, PollClosed::Aborted);
                return if declared.is_some_and(|length| length <= max) {
                    engine_error(StatusCode::BAD_REQUEST, 3, "Bad request")
                } else {
                    engine_error(StatusCode::PAYLOAD_TOO_LARGE, 3, "Payload too large")
                };
            }
        };
        let packets = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| packet::decode_payload(text).ok());
        let Some(packets) = packets else {
            tracing::debug!(sid = %session.sid, "bad polling payload: closing the session");
            self.close_polling(&session, PollClosed::Aborted);
            return engine_error(StatusCode::BAD_REQUEST, 3, "Bad request");
        };
        let mut client_closed = false;
        let overflow = {
            let mut state = session.state.lock();
            for packet in packets {
                if packet == ClientPacket::Close {
                    client_closed = true;
                    break;
                }
                state.inbound.push(packet);
            }
            self.settings
                .queue_overflows(state.inbound.len(), state.inbound.bytes())
        };
        if overflow {
            self.close_polling(&session, PollClosed::Aborted);
            return engine_error(StatusCode::BAD_REQUEST, 3, "Bad request");
        }
        if client_closed {
            self.close_polling(&session, PollClosed::ByClient);
        } else {
            session.task_wake.notify_one();
        }
        ([(header::CONTENT_TYPE, "text/html")], "ok").into_response()
    }
}

enum PollStep {
    /// Answer with this payload, or 400 when `None`.
    Answer(Option<Bytes>),
    Wait,
    /// An upgrade is under way: give it a moment before answering a noop.
    WaitForUpgrade,
}

/// Marks the session's GET slot busy; a GET dropped before it answered (the
/// client went away) closes the session, as the protocol asks.
struct ActiveGet {
    shared: Arc<EngineShared>,
    session: Arc<PollSession>,
    answered: bool,
}

impl Drop for ActiveGet {
    fn drop(&mut self) {
        self.session.state.lock().get_active = false;
        if !self.answered {
            tracing::debug!(sid = %self.session.sid, "polling GET abandoned: closing the session");
            self.shared
                .close_polling(&self.session, PollClosed::Aborted);
        }
    }
}

struct ActivePost(Arc<PollSession>);

impl Drop for ActivePost {
    fn drop(&mut self) {
        self.0.state.lock().post_active = false;
    }
}
