//! The durable per-user inbox: notifications addressed to one user, kept in
//! the store so a notification center (list, unread badge, mark as read)
//! works across devices and restarts.
//!
//! - [`model`]: the notification, list statuses, cursors, JSON shape.
//! - [`service`]: [`Inbox`], the one place that changes an inbox: store
//!   first, then announce on the hub topic `user:{userId}`; retention.
//! - [`socket`]: the inbox's answers to events clients push on `user:{userId}`
//!   (any transport, through [`crate::client_events`]).
//!
//! The HTTP routes live in `api::inbox`; the SQL in `store`.

pub mod model;
pub mod service;
pub mod socket;

pub use model::{Notification, Page, Priority, Status};
pub use service::{
    Draft, Inbox, InboxError, InboxSettings, SweepReport, user_topic, validate_user_id,
};
pub use socket::InboxEvents;
