//! Events that clients push on a topic they joined, answered by a service.
//!
//! Transports handle their own control events (join, leave, heartbeat). Any
//! other event pushed on a joined topic is offered to the [`TopicEvents`]
//! handler that claims the topic, whose answer goes back as the push's reply.
//! The inbox answers `list`, `mark_read`, ... on `user:{id}` this way. The
//! trait knows no wire format, so every transport (Phoenix today, Socket.IO
//! next) calls the same handlers; a transport only has to let a client push
//! on topics it joined, so topic authorization at join time covers the
//! events too.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;

/// The answer to a pushed event: a JSON object for the client either way.
#[derive(Debug, Clone, PartialEq)]
pub enum EventReply {
    Ok(Value),
    Error(Value),
}

pub type ReplyFuture<'a> = Pin<Box<dyn Future<Output = Option<EventReply>> + Send + 'a>>;

/// A service that answers client events on the topics it claims.
pub trait TopicEvents: Send + Sync {
    /// Whether pushes on `topic` are this handler's.
    fn claims(&self, topic: &str) -> bool;

    /// Answer one push; `None` when the handler has no such event (the
    /// transport then answers "unhandled event").
    fn handle<'a>(
        &'a self,
        topic: &'a str,
        event: &'a str,
        payload: &'a RawValue,
    ) -> ReplyFuture<'a>;
}

/// Every handler a transport consults, first claim wins.
#[derive(Clone, Default)]
pub struct ClientEvents {
    handlers: Vec<Arc<dyn TopicEvents>>,
}

impl ClientEvents {
    pub fn with(mut self, handler: Arc<dyn TopicEvents>) -> Self {
        self.handlers.push(handler);
        self
    }

    /// The handler for pushes on `topic`, if any.
    pub fn for_topic(&self, topic: &str) -> Option<&dyn TopicEvents> {
        self.handlers
            .iter()
            .find(|handler| handler.claims(topic))
            .map(|handler| &**handler)
    }
}
