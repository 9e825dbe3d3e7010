//! Per-topic history: every message published to a topic gets the next
//! offset within the topic's epoch, and the most recent ones are kept so a
//! client that rejoins with its last position receives exactly what it missed.
//!
//! An epoch names one unbroken run of offsets. It changes whenever history
//! may have been lost: a restart (the epoch embeds a per-process random
//! number) or a topic forgotten while nobody listened (each new topic entry
//! takes a fresh counter). A position from another epoch cannot be recovered.
//!
//! Memory is bounded by the retention of each topic (a count and an age) and
//! by the sweeper dropping idle topics that nobody subscribes to.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::message::{Message, Position};

/// How much history one topic keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Messages kept; 0 keeps none (positions are still assigned).
    pub max_messages: usize,
    /// Oldest message kept; `None` keeps them regardless of age.
    pub max_age: Option<Duration>,
}

impl Retention {
    pub const NONE: Retention = Retention {
        max_messages: 0,
        max_age: None,
    };

    pub fn keeps_history(&self) -> bool {
        self.max_messages > 0
    }
}

/// A retention that applies to topics matching a pattern: an exact name, or a
/// prefix ending in `*` (`chat:*`).
#[derive(Debug, Clone)]
pub struct RetentionRule {
    pub pattern: String,
    pub retention: Retention,
}

/// Which retention each topic gets: the first matching rule, else the default.
#[derive(Debug, Clone)]
pub struct HistoryPolicy {
    pub default: Retention,
    pub rules: Vec<RetentionRule>,
    /// A topic with no subscribers and no publish for this long is forgotten
    /// (its epoch ends).
    pub idle_topic_ttl: Duration,
}

impl Default for HistoryPolicy {
    fn default() -> Self {
        Self {
            default: Retention {
                max_messages: 100,
                max_age: Some(Duration::from_secs(300)),
            },
            rules: Vec::new(),
            idle_topic_ttl: Duration::from_secs(3600),
        }
    }
}

impl HistoryPolicy {
    pub fn retention_for(&self, topic: &str) -> Retention {
        self.rules
            .iter()
            .find(|rule| pattern_matches(&rule.pattern, topic))
            .map_or(self.default, |rule| rule.retention)
    }
}

fn pattern_matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => topic.starts_with(prefix),
        None => pattern == topic,
    }
}

/// Hands out epochs that are unique across restarts and topic lifetimes.
pub(super) struct EpochSource {
    process: u64,
    counter: AtomicU64,
}

impl EpochSource {
    pub(super) fn new() -> Self {
        // RandomState is seeded from the OS: a fresh random number per process.
        let process = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self {
            process,
            counter: AtomicU64::new(0),
        }
    }

    pub(super) fn next(&self) -> Arc<str> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        Arc::from(format!("{:08x}{n:x}", self.process as u32))
    }
}

/// What a rejoining client gets back.
#[derive(Debug)]
pub struct Recovery {
    /// Whether the client's position was recovered (false also when no
    /// position was given: the client should load fresh state).
    pub recovered: bool,
    /// The topic's current position: the epoch and the last offset published.
    pub epoch: Arc<str>,
    pub offset: u64,
    /// Messages after the client's position, in order.
    pub missed: Vec<Arc<Message>>,
}

/// The history of one topic.
pub(super) struct TopicHistory {
    epoch: Arc<str>,
    last_offset: u64,
    retention: Retention,
    kept: VecDeque<(Instant, Arc<Message>)>,
    last_activity: Instant,
}

impl TopicHistory {
    pub(super) fn new(epoch: Arc<str>, retention: Retention) -> Self {
        Self {
            epoch,
            last_offset: 0,
            retention,
            kept: VecDeque::new(),
            last_activity: Instant::now(),
        }
    }

    /// The position the next message takes.
    pub(super) fn next_position(&mut self) -> Position {
        self.last_offset += 1;
        Position {
            epoch: self.epoch.clone(),
            offset: self.last_offset,
        }
    }

    pub(super) fn record(&mut self, message: &Arc<Message>) {
        let now = Instant::now();
        self.last_activity = now;
        if !self.retention.keeps_history() {
            return;
        }
        self.kept.push_back((now, message.clone()));
        while self.kept.len() > self.retention.max_messages {
            self.kept.pop_front();
        }
        self.expire(now);
    }

    /// Drop messages older than the retention allows.
    pub(super) fn expire(&mut self, now: Instant) {
        if let Some(max_age) = self.retention.max_age {
            while let Some((at, _)) = self.kept.front() {
                if now.duration_since(*at) <= max_age {
                    break;
                }
                self.kept.pop_front();
            }
        }
        if self.kept.is_empty() && self.kept.capacity() > 16 {
            self.kept = VecDeque::new();
        }
    }

    pub(super) fn is_idle(&self, now: Instant, ttl: Duration) -> bool {
        now.duration_since(self.last_activity) > ttl
    }

    /// Messages after `since`, if every one of them is still kept.
    pub(super) fn recover(&mut self, since: Option<&Position>) -> Recovery {
        self.expire(Instant::now());
        let mut recovery = Recovery {
            recovered: false,
            epoch: self.epoch.clone(),
            offset: self.last_offset,
            missed: Vec::new(),
        };
        let Some(since) = since else {
            return recovery;
        };
        if since.epoch != self.epoch || since.offset > self.last_offset {
            return recovery;
        }
        let oldest_missing = since.offset + 1;
        let oldest_kept = self.last_offset + 1 - self.kept.len() as u64;
        if oldest_missing < oldest_kept {
            return recovery;
        }
        recovery.recovered = true;
        recovery.missed = self
            .kept
            .iter()
            .filter(|(_, message)| message.position().is_some_and(|p| p.offset > since.offset))
            .map(|(_, message)| message.clone())
            .collect();
        recovery
    }

    /// Every kept message after `offset` (at most `limit`), for the HTTP API.
    pub(super) fn since(&mut self, offset: u64, limit: usize) -> Vec<Arc<Message>> {
        self.expire(Instant::now());
        self.kept
            .iter()
            .filter(|(_, message)| message.position().is_some_and(|p| p.offset > offset))
            .take(limit)
            .map(|(_, message)| message.clone())
            .collect()
    }

    pub(super) fn keeps_history(&self) -> bool {
        self.retention.keeps_history()
    }

    pub(super) fn epoch(&self) -> &Arc<str> {
        &self.epoch
    }

    pub(super) fn last_offset(&self) -> u64 {
        self.last_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn publish(history: &mut TopicHistory, n: u32) {
        let position = history.next_position();
        let payload = RawValue::from_string(n.to_string()).unwrap();
        let message = Arc::new(Message::new("t".into(), "e", payload, Some(position)));
        history.record(&message);
    }

    fn at(history: &TopicHistory, offset: u64) -> Position {
        Position {
            epoch: history.epoch().clone(),
            offset,
        }
    }

    fn offsets(recovery: &Recovery) -> Vec<u64> {
        recovery
            .missed
            .iter()
            .map(|m| m.position().unwrap().offset)
            .collect()
    }

    #[test]
    fn offsets_grow_by_one_and_recovery_returns_what_was_missed() {
        let mut history = TopicHistory::new(
            "e1".into(),
            Retention {
                max_messages: 10,
                max_age: None,
            },
        );
        for n in 0..5 {
            publish(&mut history, n);
        }
        let recovery = history.recover(Some(&at(&history, 2)));
        assert!(recovery.recovered);
        assert_eq!(offsets(&recovery), [3, 4, 5]);
        assert_eq!(recovery.offset, 5);

        let nothing_missed = history.recover(Some(&at(&history, 5)));
        assert!(nothing_missed.recovered);
        assert!(nothing_missed.missed.is_empty());
    }

    #[test]
    fn too_old_unknown_epoch_or_future_offset_is_not_recovered() {
        let mut history = TopicHistory::new(
            "e1".into(),
            Retention {
                max_messages: 3,
                max_age: None,
            },
        );
        for n in 0..10 {
            publish(&mut history, n);
        }
        // Kept: 8, 9, 10. Since 7 means 8.. which is all kept.
        assert!(history.recover(Some(&at(&history, 7))).recovered);
        assert!(!history.recover(Some(&at(&history, 6))).recovered);
        let other_epoch = Position {
            epoch: "e0".into(),
            offset: 9,
        };
        assert!(!history.recover(Some(&other_epoch)).recovered);
        assert!(!history.recover(Some(&at(&history, 11))).recovered);
        assert!(!history.recover(None).recovered);
    }

    #[tokio::test(start_paused = true)]
    async fn old_messages_expire() {
        let mut history = TopicHistory::new(
            "e1".into(),
            Retention {
                max_messages: 10,
                max_age: Some(Duration::from_secs(60)),
            },
        );
        publish(&mut history, 1);
        tokio::time::advance(Duration::from_secs(61)).await;
        publish(&mut history, 2);
        assert!(!history.recover(Some(&at(&history, 0))).recovered);
        let recovery = history.recover(Some(&at(&history, 1)));
        assert_eq!(offsets(&recovery), [2]);
    }

    #[test]
    fn rules_pick_retention_by_pattern() {
        let policy = HistoryPolicy {
            rules: vec![
                RetentionRule {
                    pattern: "chat:*".into(),
                    retention: Retention {
                        max_messages: 500,
                        max_age: None,
                    },
                },
                RetentionRule {
                    pattern: "global".into(),
                    retention: Retention::NONE,
                },
            ],
            ..HistoryPolicy::default()
        };
        assert_eq!(policy.retention_for("chat:b:u").max_messages, 500);
        assert_eq!(policy.retention_for("global"), Retention::NONE);
        assert_eq!(policy.retention_for("globalx"), policy.default);
    }

    #[test]
    fn epochs_differ() {
        let source = EpochSource::new();
        assert_ne!(source.next(), source.next());
        assert_ne!(EpochSource::new().next(), EpochSource::new().next());
    }
}
