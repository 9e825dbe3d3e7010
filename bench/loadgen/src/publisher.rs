//! The publisher: sends numbered, timestamped messages over HTTP
//! (`POST /api/publish {"topic","event","payload"}`, which Herald and both
//! peers accept), either at a fixed rate or flat out.
//!
//! At a fixed rate each publish is its own request, started on schedule even
//! if earlier ones are still in flight, so a server that answers HTTP slowly
//! shows up as latency instead of silently slowing the publisher. Flat out,
//! the publisher keeps `window` messages in flight: message `n` goes out once
//! message `n - window` has reached all its subscribers (or a stall timeout
//! passed), which drives the server as fast as the whole pipeline goes without
//! letting queues grow until slow-consumer protection drops clients.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::payload::{now_us, payload_json};
use crate::tracker::Progress;

/// Requests in flight at once at a fixed rate.
const MAX_IN_FLIGHT: usize = 64;

/// Flat out: how long to wait for a message to be fully delivered before
/// sending the next anyway (a lost message must not stall the run).
const STALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Messages per second.
    Rate(f64),
    /// As fast as deliveries complete, with this many messages in flight.
    FlatOut { window: usize },
}

/// What to publish: message `seq` goes to `topics[seq]`, where `expected[seq]`
/// subscribers should receive it.
pub struct Plan {
    pub topics: Vec<Arc<str>>,
    pub expected: Vec<u32>,
    pub pace: Pace,
    pub pad: usize,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Published {
    pub sent: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Flat out: messages sent before the previous window was delivered.
    pub stalls: u64,
    /// When the first and last publish went out (µs since the epoch).
    #[serde(skip)]
    pub first_send_us: u64,
    #[serde(skip)]
    pub last_send_us: u64,
    /// Fixed rate: the furthest a send fell behind its schedule.
    pub max_behind_ms: f64,
}

pub struct Publisher {
    http: reqwest::Client,
    url: String,
}

impl Publisher {
    pub fn new(server: std::net::SocketAddr) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(MAX_IN_FLIGHT)
            // A peer that falls far behind answers late but still publishes.
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Self {
            http,
            url: format!("http://{server}/api/publish"),
        })
    }

    pub async fn run(&self, plan: &Plan, progress: &Progress) -> Published {
        let mut published = Published {
            first_send_us: now_us(),
            ..Published::default()
        };
        match plan.pace {
            Pace::Rate(rate) => self.at_rate(plan, rate, &mut published).await,
            Pace::FlatOut { window } => {
                self.flat_out(plan, window.max(1), progress, &mut published)
                    .await
            }
        }
        published
    }

    async fn at_rate(&self, plan: &Plan, rate: f64, published: &mut Published) {
        let start = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let mut in_flight = JoinSet::new();
        for seq in 0..plan.topics.len() {
            let due = start + interval.mul_f64(seq as f64);
            tokio::time::sleep_until(due).await;
            while in_flight.len() >= MAX_IN_FLIGHT {
                if let Some(outcome) = in_flight.join_next().await {
                    tally(published, outcome.ok());
                }
            }
            let behind = Instant::now().saturating_duration_since(due);
            published.max_behind_ms = published.max_behind_ms.max(behind.as_secs_f64() * 1000.0);
            let request = self.request(plan, seq, published);
            in_flight.spawn(request);
        }
        while let Some(outcome) = in_flight.join_next().await {
            tally(published, outcome.ok());
        }
    }

    async fn flat_out(
        &self,
        plan: &Plan,
        window: usize,
        progress: &Progress,
        published: &mut Published,
    ) {
        for seq in 0..plan.topics.len() {
            if let Some(earlier) = seq.checked_sub(window) {
                let deadline = Instant::now() + STALL_TIMEOUT;
                while progress.delivered_of(earlier) < plan.expected[earlier] {
                    if Instant::now() >= deadline {
                        published.stalls += 1;
                        break;
                    }
                    // Short sleeps: the generator's one core is shared with
                    // the clients reading the deliveries.
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
            let outcome = self.request(plan, seq, published).await;
            tally(published, Some(outcome));
        }
    }

    /// The request for message `seq`, stamped with the time it is sent.
    fn request(
        &self,
        plan: &Plan,
        seq: usize,
        published: &mut Published,
    ) -> impl Future<Output = Result<(), String>> + Send + 'static {
        let sent_us = now_us();
        published.last_send_us = sent_us;
        let payload = payload_json(seq as u64, sent_us, plan.pad);
        let topic = serde_json::Value::from(&*plan.topics[seq]);
        let body = format!(r#"{{"topic":{topic},"event":"bench","payload":{payload}}}"#);
        let request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body);
        async move {
            let response = request.send().await.map_err(|err| error_chain(&err))?;
            let status = response.status();
            // Read the body so the connection goes back to the pool.
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("HTTP {status}: {text}"))
            }
        }
    }
}

fn tally(published: &mut Published, outcome: Option<Result<(), String>>) {
    match outcome {
        Some(Ok(())) => published.sent += 1,
        Some(Err(err)) => {
            published.errors += 1;
            published.first_error.get_or_insert(err);
        }
        None => published.errors += 1,
    }
}

/// Wait until `expected` deliveries arrived, or nothing arrived for `quiet`,
/// or `limit` passed. Returns whether everything arrived.
pub async fn drain(progress: &Progress, expected: u64, quiet: Duration, limit: Duration) -> bool {
    let started = Instant::now();
    let mut last_count = progress.delivered();
    let mut last_change = Instant::now();
    loop {
        let count = progress.delivered();
        if count >= expected {
            return true;
        }
        if count != last_count {
            last_count = count;
            last_change = Instant::now();
        }
        if last_change.elapsed() >= quiet || started.elapsed() >= limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An error with its causes ("error sending request: connection reset ...").
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
