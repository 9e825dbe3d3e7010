//! A published message and the wire frames built from it.
//!
//! A message is created once per publish and shared (behind an `Arc`) by every
//! subscriber's outbound queue. Each wire format (Phoenix V1, Phoenix V2,
//! Socket.IO, ...) is rendered at most once per message, by whichever
//! subscriber of that format needs it first; every other subscriber of that
//! format gets a reference-counted handle to the same bytes. The hub knows
//! nothing about those formats: a transport describes its own with a
//! [`WireFormat`] (a cache slot and an encoder function).

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::value::RawValue;

/// How many distinct wire formats can cache a frame on one message.
pub const FRAME_SLOTS: usize = 4;

/// An interned topic name: every subscription and message of one topic shares
/// the same allocation.
pub type TopicName = Arc<str>;

/// Where a message sits in its topic's history: an offset that grows by one per
/// publish, within an epoch that changes whenever history may have been lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub epoch: Arc<str>,
    pub offset: u64,
}

/// A wire format a transport renders messages into.
///
/// `slot` must be unique per format (see `protocol::FORMAT_SLOTS`); `encode`
/// must be a pure function of the message so that the cached bytes are valid
/// for every subscriber of the format.
pub struct WireFormat {
    pub name: &'static str,
    pub slot: usize,
    pub encode: fn(&Message) -> Bytes,
}

/// One published event on one topic. Payload stays raw JSON: it is never
/// parsed and re-serialized on the way through.
pub struct Message {
    topic: TopicName,
    event: Box<str>,
    payload: Box<RawValue>,
    position: Option<Position>,
    frames: [OnceLock<Bytes>; FRAME_SLOTS],
}

impl Message {
    pub fn new(
        topic: TopicName,
        event: &str,
        payload: Box<RawValue>,
        position: Option<Position>,
    ) -> Self {
        Self {
            topic,
            event: event.into(),
            payload,
            position,
            frames: Default::default(),
        }
    }

    pub fn topic(&self) -> &TopicName {
        &self.topic
    }

    pub fn event(&self) -> &str {
        &self.event
    }

    /// The payload exactly as the producer sent it (valid JSON text).
    pub fn payload(&self) -> &RawValue {
        &self.payload
    }

    pub fn position(&self) -> Option<&Position> {
        self.position.as_ref()
    }

    /// Is this message news to a subscription that has had `epoch` up to
    /// offset `*delivered`? A message at or below it (queued before a
    /// rejoin, or already replayed by recovery) is not; a newer one moves
    /// `*delivered` on. Messages of another epoch, or without a position,
    /// are always news. Every transport asks this before writing a
    /// broadcast, so none writes one twice.
    pub fn is_news_to(&self, epoch: &str, delivered: &mut u64) -> bool {
        match &self.position {
            Some(position) if *position.epoch == *epoch => {
                if position.offset <= *delivered {
                    return false;
                }
                *delivered = position.offset;
                true
            }
            _ => true,
        }
    }

    /// The frame for `format`, rendered on first use and shared afterwards.
    pub fn frame(&self, format: &WireFormat) -> Bytes {
        self.frames[format.slot]
            .get_or_init(|| (format.encode)(self))
            .clone()
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic)
            .field("event", &self.event)
            .field("payload", &self.payload.get())
            .field("position", &self.position)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn counting_encode(m: &Message) -> Bytes {
        CALLS.fetch_add(1, Ordering::SeqCst);
        Bytes::from(format!("{}|{}|{}", m.topic(), m.event(), m.payload().get()))
    }

    static COUNTING: WireFormat = WireFormat {
        name: "counting",
        slot: 3,
        encode: counting_encode,
    };

    #[test]
    fn each_format_is_encoded_once_and_shared() {
        let payload = RawValue::from_string(r#"{"a":1}"#.into()).unwrap();
        let msg = Message::new("t".into(), "ev", payload, None);
        let before = CALLS.load(Ordering::SeqCst);
        let first = msg.frame(&COUNTING);
        let second = msg.frame(&COUNTING);
        assert_eq!(CALLS.load(Ordering::SeqCst) - before, 1);
        assert_eq!(&first[..], br#"t|ev|{"a":1}"#);
        // Same allocation, not a copy.
        assert_eq!(first.as_ptr(), second.as_ptr());
    }
}
