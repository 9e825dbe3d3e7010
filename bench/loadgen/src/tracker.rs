//! Counting deliveries: per connection, which sequence numbers arrived (a
//! bitset, so losses and duplicates are exact) and how late; across
//! connections, how far each message has got (for the flat-out publisher's
//! window) and when the last delivery arrived.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::payload::{Stamp, now_us};

/// Shared by every connection of a run and the publisher.
pub struct Progress {
    /// Unique deliveries so far, per sequence number.
    per_seq: Vec<AtomicU32>,
    delivered: AtomicU64,
    last_receipt_us: AtomicU64,
}

impl Progress {
    pub fn new(messages: usize) -> Arc<Self> {
        Arc::new(Self {
            per_seq: (0..messages).map(|_| AtomicU32::new(0)).collect(),
            delivered: AtomicU64::new(0),
            last_receipt_us: AtomicU64::new(0),
        })
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn delivered_of(&self, seq: usize) -> u32 {
        self.per_seq
            .get(seq)
            .map_or(0, |count| count.load(Ordering::Relaxed))
    }

    pub fn last_receipt_us(&self) -> u64 {
        self.last_receipt_us.load(Ordering::Relaxed)
    }
}

/// What one connection received.
#[derive(Default)]
pub struct Received {
    messages: usize,
    seen: Vec<u64>,
    pub unique: u64,
    pub duplicates: u64,
    /// Deliveries whose sequence number was never published.
    pub unexpected: u64,
    pub latencies_us: Vec<u32>,
}

impl Received {
    /// A tracker for sequence numbers `0..messages`.
    pub fn new(messages: usize) -> Self {
        Self {
            messages,
            seen: vec![0; messages.div_ceil(64)],
            ..Self::default()
        }
    }

    pub fn record(&mut self, stamp: Stamp, progress: &Progress) {
        let now = now_us();
        let seq = stamp.seq as usize;
        let Some(word) = self.seen.get_mut(seq / 64).filter(|_| seq < self.messages) else {
            self.unexpected += 1;
            return;
        };
        let bit = 1u64 << (seq % 64);
        if *word & bit != 0 {
            self.duplicates += 1;
            return;
        }
        *word |= bit;
        self.unique += 1;
        let latency = now.saturating_sub(stamp.sent_us);
        self.latencies_us
            .push(u32::try_from(latency).unwrap_or(u32::MAX));
        if let Some(count) = progress.per_seq.get(seq) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        progress.delivered.fetch_add(1, Ordering::Relaxed);
        progress.last_receipt_us.fetch_max(now, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub fn has(&self, seq: usize) -> bool {
        self.seen
            .get(seq / 64)
            .is_some_and(|word| word & (1u64 << (seq % 64)) != 0)
    }
}

/// Deliveries of a whole run, merged.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Totals {
    pub unique: u64,
    pub duplicates: u64,
    pub unexpected: u64,
    pub latency: Percentiles,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Totals {
    pub fn merge<'a>(all: impl IntoIterator<Item = &'a Received>) -> Self {
        let mut totals = Totals::default();
        let mut latencies = Vec::new();
        for received in all {
            totals.unique += received.unique;
            totals.duplicates += received.duplicates;
            totals.unexpected += received.unexpected;
            latencies.extend_from_slice(&received.latencies_us);
        }
        totals.latency = Percentiles::of(&mut latencies);
        totals
    }
}

impl Percentiles {
    pub fn of(samples_us: &mut [u32]) -> Self {
        if samples_us.is_empty() {
            return Self::default();
        }
        samples_us.sort_unstable();
        let at = |q: f64| {
            let index = ((samples_us.len() as f64 * q).ceil() as usize).clamp(1, samples_us.len());
            f64::from(samples_us[index - 1]) / 1000.0
        };
        Self {
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_unique_duplicate_and_unexpected() {
        let progress = Progress::new(3);
        let mut received = Received::new(3);
        let stamp = |seq| Stamp {
            seq,
            sent_us: now_us(),
        };
        received.record(stamp(0), &progress);
        received.record(stamp(2), &progress);
        received.record(stamp(2), &progress);
        received.record(stamp(9), &progress);
        assert_eq!(
            (received.unique, received.duplicates, received.unexpected),
            (2, 1, 1)
        );
        assert!(received.has(0) && !received.has(1) && received.has(2));
        assert_eq!(progress.delivered(), 2);
        assert_eq!(progress.delivered_of(2), 1);
        let totals = Totals::merge([&received, &received]);
        assert_eq!(totals.unique, 4);
    }

    #[test]
    fn percentiles() {
        let mut samples: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        let p = Percentiles::of(&mut samples);
        assert_eq!(
            (p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
    }
}
