//! The four ways to load a server, sharing one [`Context`]:
//!
//! - [`idle`]: many joined connections held open; memory per connection.
//! - [`delivery`]: subscribers on one topic (`fanout`) or spread over many
//!   (`topics`) while a publisher sends numbered messages; throughput, loss,
//!   latency and server CPU per delivery.
//! - [`churn`]: connections opening and closing while broadcasts flow.

pub mod churn;
pub mod delivery;
pub mod idle;

use crate::crowd::Target;
use crate::publisher::Publisher;
use crate::server_proc::Process;

/// What every mode needs: where to connect, the server process to measure,
/// and labels for the report.
pub struct Context {
    pub target: Target,
    pub server: Process,
    pub publisher: Publisher,
    pub scenario: String,
    pub label: String,
    /// Put before every topic name (`bench:` by default), so runs can use
    /// topics a server's rules or room templates accept.
    pub topic_prefix: String,
}

impl Context {
    /// The full topic name for `name` (e.g. `bench:fanout`).
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.topic_prefix)
    }
}
