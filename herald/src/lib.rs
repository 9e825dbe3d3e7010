//! Herald: a real-time notification hub.
//!
//! Producers publish over HTTP; clients listen over Phoenix Channels
//! (WebSocket) or Socket.IO (long-polling and WebSocket). The parts, in the
//! order data flows:
//!
//! - [`api`]: HTTP routes for producers and operators.
//! - [`auth`]: client tokens, topic rules, API keys and abuse limits.
//! - [`hub`]: topics, subscriptions and fan-out; knows nothing of sockets or
//!   HTTP.
//! - [`protocol`]: the wire protocols spoken to clients.
//! - [`client_events`]: events clients push on joined topics, answered by
//!   services (the inbox) whatever the transport.
//! - [`inbox`]: the durable per-user inbox; [`store`]: SQLite or PostgreSQL.
//! - [`web`]: the `/test` page.
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`net`]: accepting TCP connections (handshake deadline) and the client's
//!   address behind trusted proxies.
//! - [`periodic`]: background chores tied to their owner's life.
//! - [`config`] and [`server`]: configuration, and the app that ties it all
//!   together.
//!
//! The module docs link to private modules too: read them with
//! `cargo doc -p herald --no-deps --document-private-items --open`.

// Module docs point newcomers at the private modules that do the work.
#![allow(rustdoc::private_intra_doc_links)]

pub mod api;
pub mod auth;
pub mod client_events;
pub mod config;
pub mod http_error;
pub mod hub;
pub mod inbox;
pub mod metrics;
pub mod net;
pub mod periodic;
pub mod protocol;
pub mod server;
pub mod store;
pub mod web;
