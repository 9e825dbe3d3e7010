//! Connection state recovery, compatible with socket.io-client's own.
//!
//! The client side: the CONNECT reply carries a `pid` next to the `sid`;
//! every broadcast carries its position as its last argument
//! (`"<epoch>:<offset>"`, the same bytes for every subscriber), which the
//! client remembers; when it reconnects it sends `{pid, offset}` in its
//! CONNECT payload and, when the server answers with the same `pid`, sets
//! `socket.recovered`.
//!
//! The server side. A client in several rooms only sends back the position
//! of the *last* broadcast it handled, which names one room. To know where it
//! stood in every other room, each namespace socket keeps a [`DeliveryLog`]:
//! the order in which broadcasts were written, compressed into runs (one
//! entry per switch from one room to another) and trimmed at every pong
//! (everything written before a ping that the client answered has reached
//! it). Replaying that order up to the client's last broadcast gives its
//! exact position in every room, so nothing is lost or repeated even when
//! the connection died with broadcasts of several rooms in flight.
//!
//! When a connection ends without the client leaving (transport closed, ping
//! timeout, slow consumer), its namespace sockets are kept in the
//! [`RecoveryStore`] for the recovery window. A reconnect within it resumes
//! every room from the hub's per-topic history; if any room cannot be
//! resumed (history too short, epoch gone) the client gets a fresh session
//! (`recovered: false`) and must reload its state.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

use super::access::Identity;
use super::id::Id;
use crate::hub::TopicName;

/// One room of a namespace socket, with what the client is known to have.
#[derive(Debug, Clone)]
pub struct Room {
    pub topic: TopicName,
    /// The topic's epoch when joined.
    pub epoch: Arc<str>,
    /// The last offset written to the client.
    pub delivered: u64,
    /// The last offset the client is known to have handled (a pong came back
    /// for a ping written after it).
    pub acked: u64,
}

/// A run of broadcasts of one room written one after another, by its last
/// offset.
#[derive(Debug, Clone)]
struct Run {
    topic: TopicName,
    offset: u64,
}

/// The order in which broadcasts were written since the last answered ping.
#[derive(Debug, Default, Clone)]
pub struct DeliveryLog {
    runs: Vec<Run>,
    /// Runs written before the outstanding ping.
    before_ping: Option<usize>,
    /// Whether the last run may still grow (no ping since it started).
    open: bool,
}

impl DeliveryLog {
    /// A broadcast of `topic` at `offset` was written.
    pub fn record(&mut self, topic: &TopicName, offset: u64) {
        if self.open
            && let Some(last) = self.runs.last_mut()
            && Arc::ptr_eq(&last.topic, topic)
        {
            last.offset = offset;
            return;
        }
        self.runs.push(Run {
            topic: topic.clone(),
            offset,
        });
        self.open = true;
    }

    /// A ping was written.
    pub fn ping_sent(&mut self) {
        self.before_ping = Some(self.runs.len());
        self.open = false;
    }

    /// The client answered the ping: what was written before it has arrived.
    pub fn pong_received(&mut self, rooms: &mut [Room]) {
        let Some(count) = self.before_ping.take() else {
            return;
        };
        for run in self.runs.drain(..count.min(self.runs.len())) {
            if let Some(room) = rooms.iter_mut().find(|r| Arc::ptr_eq(&r.topic, &run.topic)) {
                room.acked = room.acked.max(run.offset);
            }
        }
        if self.runs.is_empty() && self.runs.capacity() > 8 {
            self.runs = Vec::new();
        }
    }

    /// Where the client stands in every room, given the position of the last
    /// broadcast it handled (`None` when it has handled none).
    pub fn handled(&self, rooms: &[Room], last: Option<(&str, u64)>) -> Vec<u64> {
        let acked: Vec<u64> = rooms.iter().map(|room| room.acked).collect();
        let Some((epoch, offset)) = last else {
            return acked;
        };
        let Some(last_room) = rooms.iter().position(|room| &*room.epoch == epoch) else {
            return acked;
        };
        // At or before the acknowledged position: the client handled nothing
        // written since (its last offset would be newer otherwise).
        if offset <= rooms[last_room].acked {
            return acked;
        }
        let mut progress = acked.clone();
        for run in &self.runs {
            let Some(index) = rooms.iter().position(|r| Arc::ptr_eq(&r.topic, &run.topic)) else {
                continue;
            };
            if index == last_room && run.offset >= offset {
                progress[index] = offset;
                return progress;
            }
            progress[index] = progress[index].max(run.offset);
        }
        // An offset that was never written: trust only what was acknowledged.
        acked
    }
}

/// Parse the offset socket.io-client sends back: `"<epoch>:<offset>"`.
pub fn parse_offset(text: &str) -> Option<(&str, u64)> {
    let (epoch, offset) = text.rsplit_once(':')?;
    Some((epoch, offset.parse().ok()?))
}

/// A namespace socket whose connection ended, waiting for its client.
pub struct StoredSession {
    pub nsp: Arc<str>,
    pub sid: Id,
    pub identity: Arc<Identity>,
    pub rooms: Vec<Room>,
    pub log: DeliveryLog,
    expires: Instant,
}

/// Disconnected sessions, by `pid`, for the recovery window.
pub struct RecoveryStore {
    window: Duration,
    sessions: DashMap<Id, StoredSession>,
}

impl RecoveryStore {
    pub fn new(window: Duration) -> Arc<Self> {
        Arc::new(Self {
            window,
            sessions: DashMap::new(),
        })
    }

    pub fn enabled(&self) -> bool {
        !self.window.is_zero()
    }

    pub fn keep(
        &self,
        pid: Id,
        nsp: Arc<str>,
        sid: Id,
        identity: Arc<Identity>,
        rooms: Vec<Room>,
        log: DeliveryLog,
    ) {
        if !self.enabled() {
            return;
        }
        self.sessions.insert(
            pid,
            StoredSession {
                nsp,
                sid,
                identity,
                rooms,
                log,
                expires: Instant::now() + self.window,
            },
        );
    }

    /// Take the session kept under `pid`, if its window is still open.
    pub fn take(&self, pid: Id) -> Option<StoredSession> {
        let (_, session) = self.sessions.remove(&pid)?;
        (Instant::now() <= session.expires).then_some(session)
    }

    /// Forget sessions whose window closed.
    pub fn sweep(&self) {
        let now = Instant::now();
        self.sessions.retain(|_, session| session.expires >= now);
    }

    /// Sweep every `every` until the store is dropped.
    pub fn spawn_sweeper(self: &Arc<Self>, every: Duration) {
        crate::periodic::spawn(self, every, RecoveryStore::sweep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> Room {
        Room {
            topic: Arc::from(name),
            epoch: Arc::from(format!("e-{name}")),
            delivered: 0,
            acked: 0,
        }
    }

    #[test]
    fn runs_compress_consecutive_writes_of_one_room() {
        let rooms = [room("a"), room("b")];
        let mut log = DeliveryLog::default();
        for offset in 1..=5 {
            log.record(&rooms[0].topic, offset);
        }
        log.record(&rooms[1].topic, 1);
        log.record(&rooms[0].topic, 6);
        assert_eq!(log.runs.len(), 3);
    }

    #[test]
    fn the_last_handled_broadcast_fixes_the_position_in_every_room() {
        let rooms = [room("a"), room("b")];
        let mut log = DeliveryLog::default();
        // Written: a1 a2 b1 a3 b2 b3 a4
        log.record(&rooms[0].topic, 1);
        log.record(&rooms[0].topic, 2);
        log.record(&rooms[1].topic, 1);
        log.record(&rooms[0].topic, 3);
        log.record(&rooms[1].topic, 2);
        log.record(&rooms[1].topic, 3);
        log.record(&rooms[0].topic, 4);
        // The client handled up to b2: a3 came before it, b3 and a4 did not.
        assert_eq!(log.handled(&rooms, Some(("e-b", 2))), [3, 2]);
        assert_eq!(log.handled(&rooms, Some(("e-a", 2))), [2, 0]);
        assert_eq!(log.handled(&rooms, Some(("e-a", 4))), [4, 3]);
        assert_eq!(log.handled(&rooms, None), [0, 0]);
    }

    #[test]
    fn an_answered_ping_moves_writes_into_the_acknowledged_positions() {
        let mut rooms = [room("a"), room("b")];
        let mut log = DeliveryLog::default();
        log.record(&rooms[0].topic, 1);
        log.record(&rooms[1].topic, 1);
        log.ping_sent();
        log.record(&rooms[1].topic, 2);
        log.pong_received(&mut rooms);
        assert_eq!((rooms[0].acked, rooms[1].acked), (1, 1));
        assert_eq!(log.runs.len(), 1, "the write after the ping stays");
        // Last handled before the ping: the acknowledged positions hold.
        assert_eq!(log.handled(&rooms, Some(("e-a", 1))), [1, 1]);
        assert_eq!(log.handled(&rooms, Some(("e-b", 2))), [1, 2]);
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("ab12:7"), Some(("ab12", 7)));
        assert_eq!(parse_offset("7"), None);
        assert_eq!(parse_offset("a:b"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_after_the_window() {
        let store = RecoveryStore::new(Duration::from_secs(120));
        let identity = Arc::new(Identity::anonymous());
        let pid = Id::random();
        store.keep(
            pid,
            "/".into(),
            Id::random(),
            identity.clone(),
            vec![],
            DeliveryLog::default(),
        );
        assert!(store.take(pid).is_some());
        store.keep(
            pid,
            "/".into(),
            Id::random(),
            identity,
            vec![],
            DeliveryLog::default(),
        );
        tokio::time::advance(Duration::from_secs(121)).await;
        assert!(store.take(pid).is_none());
    }
}
