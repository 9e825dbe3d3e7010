//! The hub core: topics, subscriptions and fan-out.
//!
//! Transports (Phoenix, Socket.IO) and producers (HTTP, streams) call into the
//! hub; the hub never calls back into them except by pushing messages into a
//! subscriber's [`Mailbox`]. It knows nothing of sockets, HTTP, or the JSON
//! layout of any wire protocol.
//!
//! A connection registers with [`Hub::connect`] and gets a [`Subscriber`], its
//! handle for joining and leaving topics; dropping the handle removes every
//! subscription it held. [`Hub::publish`] builds one [`Message`] and pushes an
//! `Arc` of it into each subscriber's mailbox without waiting.

mod history;
mod mailbox;
mod message;
mod topic_name;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dashmap::DashMap;
use serde_json::value::RawValue;
use tokio::sync::Notify;

use history::{EpochSource, TopicHistory};

pub use history::{HistoryPolicy, Recovery, Retention, RetentionRule};
pub use mailbox::{CloseReason, Mailbox, PushError};
pub use message::{FRAME_SLOTS, Message, Position, TopicName, WireFormat};
pub use topic_name::{MAX_TOPIC_LEN, TopicNameError, validate_topic_name};

/// Identifies one connection for the lifetime of the process.
pub type ConnectionId = u64;

/// Tuning of the hub core.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Messages a connection may have queued before it is dropped as a slow
    /// consumer.
    pub outbound_queue_capacity: usize,
    /// How much history each topic keeps for recovery.
    pub history: HistoryPolicy,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            outbound_queue_capacity: 1024,
            history: HistoryPolicy::default(),
        }
    }
}

/// The hub refused a new connection.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HubError {
    #[error("server is shutting down")]
    ShuttingDown,
}

/// What one publish did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PublishReport {
    /// Subscribers the message was queued for.
    pub delivered: usize,
    /// Subscribers dropped because their queue overflowed on this publish.
    pub slow_consumers_dropped: usize,
}

impl std::ops::AddAssign for PublishReport {
    fn add_assign(&mut self, other: Self) {
        self.delivered += other.delivered;
        self.slow_consumers_dropped += other.slow_consumers_dropped;
    }
}

/// Counters for health and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubStats {
    pub connections: usize,
    pub topics: usize,
    pub published: u64,
    pub delivered: u64,
    pub slow_consumers_dropped: u64,
}

struct TopicEntry {
    name: TopicName,
    subscribers: HashMap<ConnectionId, Arc<Mailbox>>,
    history: TopicHistory,
}

/// A topic's kept messages, as the HTTP history endpoint shows them.
#[derive(Debug)]
pub struct HistoryPage {
    pub epoch: Arc<str>,
    /// The last offset published on the topic.
    pub offset: u64,
    pub messages: Vec<Arc<Message>>,
}

/// The topic registry and fan-out engine. Share it as `Arc<Hub>`.
pub struct Hub {
    config: HubConfig,
    topics: DashMap<TopicName, TopicEntry>,
    epochs: EpochSource,
    connections: DashMap<ConnectionId, Arc<Mailbox>>,
    next_connection_id: AtomicU64,
    shutting_down: AtomicBool,
    connection_gone: Notify,
    published: AtomicU64,
    delivered: AtomicU64,
    slow_consumers_dropped: AtomicU64,
}

impl Hub {
    pub fn new(config: HubConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            topics: DashMap::new(),
            epochs: EpochSource::new(),
            connections: DashMap::new(),
            next_connection_id: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            connection_gone: Notify::new(),
            published: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            slow_consumers_dropped: AtomicU64::new(0),
        })
    }

    /// Register a new connection and hand back its subscription handle.
    pub fn connect(self: &Arc<Self>) -> Result<Subscriber, HubError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(HubError::ShuttingDown);
        }
        let id = self.next_connection_id.fetch_add(1, Ordering::Relaxed);
        let mailbox = Arc::new(Mailbox::new(self.config.outbound_queue_capacity));
        self.connections.insert(id, mailbox.clone());
        // Shutdown may have started between the check and the insert.
        if self.shutting_down.load(Ordering::Acquire) {
            mailbox.close(CloseReason::Shutdown);
        }
        Ok(Subscriber {
            id,
            hub: self.clone(),
            mailbox,
            topics: Vec::new(),
        })
    }

    /// Fan a message out to every current subscriber of `topic`. Never waits:
    /// a subscriber whose queue is full is dropped as a slow consumer.
    ///
    /// The message takes the topic's next offset and joins its history. The
    /// topic's entry stays locked from offset to fan-out, so a join racing
    /// this publish sees the message either in its recovery or live, never
    /// both and never neither.
    pub fn publish(&self, topic: &str, event: &str, payload: Box<RawValue>) -> PublishReport {
        self.published.fetch_add(1, Ordering::Relaxed);
        let mut entry = match self.topics.get_mut(topic) {
            Some(entry) => entry,
            None => {
                let retention = self.config.history.retention_for(topic);
                if !retention.keeps_history() {
                    // Nobody listens and nothing is kept: nothing to do.
                    return PublishReport::default();
                }
                let name: TopicName = Arc::from(topic);
                self.topics
                    .entry(name.clone())
                    .or_insert_with(|| self.new_topic(name))
            }
        };
        let position = entry.history.next_position();
        let message = Arc::new(Message::new(
            entry.name.clone(),
            event,
            payload,
            Some(position),
        ));
        entry.history.record(&message);
        let mut report = PublishReport::default();
        for mailbox in entry.subscribers.values() {
            match mailbox.push(message.clone()) {
                Ok(()) => report.delivered += 1,
                Err(PushError::Overflowed) => report.slow_consumers_dropped += 1,
                Err(PushError::Closed) => {}
            }
        }
        drop(entry);
        self.delivered
            .fetch_add(report.delivered as u64, Ordering::Relaxed);
        if report.slow_consumers_dropped > 0 {
            self.slow_consumers_dropped
                .fetch_add(report.slow_consumers_dropped as u64, Ordering::Relaxed);
            tracing::warn!(
                topic,
                dropped = report.slow_consumers_dropped,
                "slow consumers disconnected: outbound queue full"
            );
        }
        report
    }

    /// The kept messages of `topic` after `since`, at most `limit`.
    pub fn history(&self, topic: &str, since: u64, limit: usize) -> Option<HistoryPage> {
        let mut entry = self.topics.get_mut(topic)?;
        let messages = entry.history.since(since, limit);
        Some(HistoryPage {
            epoch: entry.history.epoch().clone(),
            offset: entry.history.last_offset(),
            messages,
        })
    }

    /// Forget expired history and idle topics nobody subscribes to. Run it
    /// periodically (see [`Hub::spawn_sweeper`]).
    pub fn sweep(&self) {
        let now = tokio::time::Instant::now();
        let ttl = self.config.history.idle_topic_ttl;
        self.topics.retain(|_, entry| {
            entry.history.expire(now);
            !entry.subscribers.is_empty() || !entry.history.is_idle(now, ttl)
        });
    }

    /// Sweep every `every` until the hub is dropped.
    pub fn spawn_sweeper(self: &Arc<Self>, every: std::time::Duration) {
        crate::periodic::spawn(self, every, Hub::sweep);
    }

    fn new_topic(&self, name: TopicName) -> TopicEntry {
        TopicEntry {
            history: TopicHistory::new(
                self.epochs.next(),
                self.config.history.retention_for(&name),
            ),
            name,
            subscribers: HashMap::new(),
        }
    }

    /// Close a connection on purpose (its task sends the reason to the client).
    pub fn kick(&self, id: ConnectionId, reason: CloseReason) -> bool {
        match self.connections.get(&id) {
            Some(mailbox) => {
                mailbox.close(reason);
                true
            }
            None => false,
        }
    }

    pub fn stats(&self) -> HubStats {
        HubStats {
            connections: self.connections.len(),
            topics: self.topics.len(),
            published: self.published.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            slow_consumers_dropped: self.slow_consumers_dropped.load(Ordering::Relaxed),
        }
    }

    /// Subscribers currently on `topic`.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.topics
            .get(topic)
            .map_or(0, |entry| entry.subscribers.len())
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Refuse new connections and ask every connection to close.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for entry in self.connections.iter() {
            entry.value().close(CloseReason::Shutdown);
        }
    }

    /// Resolves once every connection has gone.
    pub async fn wait_until_no_connections(&self) {
        loop {
            let gone = self.connection_gone.notified();
            if self.connections.is_empty() {
                return;
            }
            gone.await;
        }
    }

    fn subscribe(
        &self,
        id: ConnectionId,
        mailbox: &Arc<Mailbox>,
        topic: &str,
        since: Option<&Position>,
    ) -> (TopicName, Recovery) {
        let mut entry = match self.topics.get_mut(topic) {
            Some(entry) => entry,
            None => {
                let name: TopicName = Arc::from(topic);
                self.topics
                    .entry(name.clone())
                    .or_insert_with(|| self.new_topic(name))
            }
        };
        // Under the entry's lock: no publish slips between the recovery
        // snapshot and the subscription.
        let recovery = entry.history.recover(since);
        entry.subscribers.insert(id, mailbox.clone());
        (entry.name.clone(), recovery)
    }

    fn unsubscribe(&self, id: ConnectionId, topic: &str) {
        let now_empty = match self.topics.get_mut(topic) {
            Some(mut entry) => {
                entry.subscribers.remove(&id);
                entry.subscribers.is_empty()
            }
            None => false,
        };
        if now_empty {
            // Re-checked under the shard lock: someone may have joined since.
            // A topic that keeps history stays until the sweeper finds it idle.
            self.topics.remove_if(topic, |_, entry| {
                entry.subscribers.is_empty() && !entry.history.keeps_history()
            });
        }
    }
}

/// One connection's handle on the hub. Dropping it leaves every topic.
pub struct Subscriber {
    id: ConnectionId,
    hub: Arc<Hub>,
    mailbox: Arc<Mailbox>,
    topics: Vec<TopicName>,
}

impl Subscriber {
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    pub fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Join `topic` (idempotent) and return its interned name.
    pub fn subscribe(&mut self, topic: &str) -> TopicName {
        self.subscribe_from(topic, None).0
    }

    /// Join `topic` and recover what was published after `since`: the
    /// returned messages come before anything this subscriber's mailbox gets
    /// for the topic, with no gap and no duplicate.
    pub fn subscribe_from(
        &mut self,
        topic: &str,
        since: Option<&Position>,
    ) -> (TopicName, Recovery) {
        if self.is_subscribed(topic) {
            self.unsubscribe(topic);
        }
        let (name, recovery) = self.hub.subscribe(self.id, &self.mailbox, topic, since);
        // One slot at a time: most connections hold one or two topics.
        self.topics.reserve_exact(1);
        self.topics.push(name.clone());
        (name, recovery)
    }

    /// Leave `topic`; returns whether it was joined.
    pub fn unsubscribe(&mut self, topic: &str) -> bool {
        let Some(index) = self.topics.iter().position(|name| &**name == topic) else {
            return false;
        };
        self.topics.swap_remove(index);
        self.hub.unsubscribe(self.id, topic);
        true
    }

    pub fn is_subscribed(&self, topic: &str) -> bool {
        self.topics.iter().any(|name| &**name == topic)
    }

    pub fn topics(&self) -> &[TopicName] {
        &self.topics
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        for topic in std::mem::take(&mut self.topics) {
            self.hub.unsubscribe(self.id, &topic);
        }
        self.hub.connections.remove(&self.id);
        self.hub.connection_gone.notify_waiters();
    }
}

#[cfg(test)]
mod tests;
