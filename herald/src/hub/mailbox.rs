//! The bounded outbound queue of one connection.
//!
//! Publishers push into a mailbox without ever waiting: when the queue is full
//! the mailbox closes itself with [`CloseReason::SlowConsumer`], drops what it
//! held, and the connection's task disconnects the client (who reconnects and
//! recovers from history). This keeps server memory bounded whatever clients
//! do. The connection's task drains everything queued at once, so a subscriber
//! with several frames waiting gets them in one socket write.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::message::Message;

/// Why a mailbox stopped accepting messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client did not read fast enough and its queue overflowed.
    SlowConsumer,
    /// The server is shutting down.
    Shutdown,
    /// Closed on purpose by the server (e.g. token expired), with a reason code.
    Kicked(String),
}

impl CloseReason {
    /// A short, stable reason string for logs and close frames.
    pub fn as_str(&self) -> &str {
        match self {
            CloseReason::SlowConsumer => "slow consumer: outbound queue full",
            CloseReason::Shutdown => "server shutting down",
            CloseReason::Kicked(reason) => reason,
        }
    }
}

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// This push overflowed the queue; the mailbox is now closed.
    #[error("outbound queue overflowed")]
    Overflowed,
    /// The mailbox was already closed.
    #[error("mailbox closed")]
    Closed,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Arc<Message>>,
    closed: Option<CloseReason>,
}

/// Outbound queue shared between publishers (push) and one connection task
/// (receive).
pub struct Mailbox {
    state: Mutex<State>,
    wakeup: Notify,
    capacity: usize,
}

/// Above this many slots an empty queue gives its memory back, so one burst does
/// not pin memory on an idle connection forever.
const SHRINK_ABOVE: usize = 64;

impl Mailbox {
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wakeup: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    /// Queue a message without waiting.
    pub fn push(&self, message: Arc<Message>) -> Result<(), PushError> {
        let mut state = self.state.lock();
        if state.closed.is_some() {
            return Err(PushError::Closed);
        }
        if state.queue.len() >= self.capacity {
            state.closed = Some(CloseReason::SlowConsumer);
            state.queue = VecDeque::new();
            drop(state);
            self.wakeup.notify_one();
            return Err(PushError::Overflowed);
        }
        let was_empty = state.queue.is_empty();
        state.queue.push_back(message);
        drop(state);
        if was_empty {
            self.wakeup.notify_one();
        }
        Ok(())
    }

    /// Stop accepting messages. On shutdown, frames already queued are still
    /// handed out before the close; any other reason drops them.
    pub fn close(&self, reason: CloseReason) {
        let mut state = self.state.lock();
        if state.closed.is_none() {
            if reason != CloseReason::Shutdown {
                state.queue = VecDeque::new();
            }
            state.closed = Some(reason);
        }
        drop(state);
        self.wakeup.notify_one();
    }

    /// Why the mailbox is closed, if it is.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.state.lock().closed.clone()
    }

    /// Wait until at least one message is queued, then move every queued
    /// message into `batch`. Returns the close reason once the mailbox is
    /// closed and drained.
    pub async fn recv_batch(&self, batch: &mut Vec<Arc<Message>>) -> Result<(), CloseReason> {
        loop {
            {
                let mut state = self.state.lock();
                if !state.queue.is_empty() {
                    batch.extend(state.queue.drain(..));
                    if state.queue.capacity() > SHRINK_ABOVE {
                        state.queue = VecDeque::new();
                    }
                    return Ok(());
                }
                if let Some(reason) = &state.closed {
                    return Err(reason.clone());
                }
            }
            // A push between the unlock above and this await leaves a permit
            // in the Notify, so no wakeup is lost.
            self.wakeup.notified().await;
        }
    }

    /// Resolves when the mailbox closes. Used while a socket write is stuck,
    /// so a client that stopped reading is dropped instead of holding the task.
    pub async fn closed(&self) -> CloseReason {
        loop {
            if let Some(reason) = self.close_reason() {
                return reason;
            }
            self.wakeup.notified().await;
        }
    }

    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn msg(n: u32) -> Arc<Message> {
        let payload = RawValue::from_string(n.to_string()).unwrap();
        Arc::new(Message::new("t".into(), "e", payload, None))
    }

    #[tokio::test]
    async fn drains_everything_queued_in_one_batch() {
        let mailbox = Mailbox::new(10);
        for n in 0..3 {
            mailbox.push(msg(n)).unwrap();
        }
        let mut batch = Vec::new();
        mailbox.recv_batch(&mut batch).await.unwrap();
        let payloads: Vec<_> = batch.iter().map(|m| m.payload().get().to_owned()).collect();
        assert_eq!(payloads, ["0", "1", "2"]);
        assert!(mailbox.is_empty());
    }

    #[tokio::test]
    async fn overflow_closes_and_drops_the_queue() {
        let mailbox = Mailbox::new(2);
        mailbox.push(msg(0)).unwrap();
        mailbox.push(msg(1)).unwrap();
        assert_eq!(mailbox.push(msg(2)), Err(PushError::Overflowed));
        assert_eq!(mailbox.push(msg(3)), Err(PushError::Closed));
        let mut batch = Vec::new();
        assert_eq!(
            mailbox.recv_batch(&mut batch).await,
            Err(CloseReason::SlowConsumer)
        );
        assert!(batch.is_empty());
    }

    #[tokio::test]
    async fn shutdown_hands_out_queued_messages_first() {
        let mailbox = Mailbox::new(4);
        mailbox.push(msg(0)).unwrap();
        mailbox.close(CloseReason::Shutdown);
        let mut batch = Vec::new();
        assert!(mailbox.recv_batch(&mut batch).await.is_ok());
        assert_eq!(batch.len(), 1);
        assert_eq!(
            mailbox.recv_batch(&mut batch).await,
            Err(CloseReason::Shutdown)
        );
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_a_push() {
        let mailbox = Arc::new(Mailbox::new(4));
        let receiver = {
            let mailbox = mailbox.clone();
            tokio::spawn(async move {
                let mut batch = Vec::new();
                mailbox.recv_batch(&mut batch).await.map(|_| batch.len())
            })
        };
        tokio::task::yield_now().await;
        mailbox.push(msg(7)).unwrap();
        assert_eq!(receiver.await.unwrap(), Ok(1));
    }
}
