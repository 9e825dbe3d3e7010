//! The result of one run: printed as a human summary, then as one JSON line
//! (the last line of stdout) that `bench/run.sh` collects into its table.

use std::io::Write;

use serde::Serialize;

use crate::crowd::Opened;
use crate::publisher::Published;
use crate::server_proc::Memory;
use crate::tracker::Percentiles;

#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Free-form name of the scenario (e.g. `fanout-10k-2`).
    pub scenario: String,
    /// Which server was measured (e.g. `herald`, `socketio`, `node-ws`).
    pub server: String,
    pub mode: &'static str,
    pub protocol: &'static str,
    pub opened: Opened,
    /// Connections the server closed before the run ended.
    pub dropped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_error: Option<String>,
    pub memory: MemoryReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn: Option<ChurnReport>,
    /// The harness worked: every connection opened and stayed, nothing lost
    /// or duplicated. A performance miss does not clear this; a broken run does.
    pub ok: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryReport {
    pub rss_before: u64,
    pub rss_after: u64,
    pub hwm_after: u64,
    /// (RSS after − RSS before) / connections held.
    pub bytes_per_connection: f64,
}

impl MemoryReport {
    pub fn new(before: Memory, after: Memory, connections: usize) -> Self {
        Self {
            rss_before: before.rss,
            rss_after: after.rss,
            hwm_after: after.hwm,
            bytes_per_connection: if connections == 0 {
                0.0
            } else {
                after.rss.saturating_sub(before.rss) as f64 / connections as f64
            },
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct DeliveryReport {
    pub messages: usize,
    /// Messages per second asked; `null` when flat out.
    pub rate: Option<f64>,
    /// Flat out: messages in flight.
    pub window: Option<usize>,
    pub published: Published,
    pub expected: u64,
    pub delivered: u64,
    /// Expected deliveries that had not arrived when the drain ended (lost,
    /// or later than the drain waited).
    pub lost: u64,
    pub duplicates: u64,
    pub unexpected: u64,
    /// From the first publish to the last delivery.
    pub window_secs: f64,
    pub deliveries_per_sec: f64,
    pub latency: Percentiles,
    pub server_cpu_secs: f64,
    pub server_cpu_us_per_delivery: f64,
    pub generator_cpu_secs: f64,
    /// The generator's own CPU per delivery: with one generator core, reading
    /// one message's N deliveries takes at least N times this, which bounds
    /// the latency the generator can see.
    pub generator_cpu_us_per_delivery: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct ChurnReport {
    /// Connections opened (and joined) per second asked.
    pub rate: f64,
    pub life_secs: f64,
    pub opened: u64,
    pub failed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Time to open and join one churning connection.
    pub join: Percentiles,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Report {
    /// The summary, then the JSON line. Errors (a closed pipe) are returned,
    /// not panicked on.
    pub fn print(&self) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", self.summary())?;
        writeln!(out, "{}", serde_json::to_string(self)?)?;
        Ok(())
    }

    pub fn summary(&self) -> String {
        let mut out = String::new();
        let o = &self.opened;
        out += &format!(
            "== {} | {} | {} ({})\nconnections: {}/{} joined in {:.1}s, {} failed, {} dropped by the server\n",
            self.scenario,
            self.server,
            self.mode,
            self.protocol,
            o.connected,
            o.asked,
            o.open_secs,
            o.failed,
            self.dropped
        );
        if let Some(err) = o.first_error.as_ref().or(self.dropped_error.as_ref()) {
            out += &format!("first error: {err}\n");
        }
        let m = &self.memory;
        out += &format!(
            "server memory: RSS {:.1} -> {:.1} MiB (peak {:.1} MiB), {:.0} bytes ({:.2} KiB) per connection\n",
            m.rss_before as f64 / MIB,
            m.rss_after as f64 / MIB,
            m.hwm_after as f64 / MIB,
            m.bytes_per_connection,
            m.bytes_per_connection / 1024.0
        );
        if let Some(d) = &self.delivery {
            let pace = match (d.rate, d.window) {
                (Some(rate), _) => format!("{rate} msg/s"),
                (None, Some(window)) => format!("flat out, window {window}"),
                (None, None) => "flat out".into(),
            };
            out += &format!(
                "published {} messages ({pace}), {} errors, {} stalls, behind schedule up to {:.1} ms\n",
                d.published.sent, d.published.errors, d.published.stalls, d.published.max_behind_ms
            );
            out += &format!(
                "deliveries: {}/{} in {:.2}s = {:.0}/s; lost (or later than the drain) {}, duplicated {}\n",
                d.delivered, d.expected, d.window_secs, d.deliveries_per_sec, d.lost, d.duplicates
            );
            let l = &d.latency;
            out += &format!(
                "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}\n",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            );
            out += &format!(
                "server CPU {:.2}s = {:.2} µs per delivery; generator CPU {:.2}s = {:.2} µs per delivery\n",
                d.server_cpu_secs,
                d.server_cpu_us_per_delivery,
                d.generator_cpu_secs,
                d.generator_cpu_us_per_delivery
            );
        }
        if let Some(c) = &self.churn {
            out += &format!(
                "churn: {} opened at {}/s (life {}s), {} failed; open+join p50 {:.1} ms p99 {:.1} ms\n",
                c.opened, c.rate, c.life_secs, c.failed, c.join.p50_ms, c.join.p99_ms
            );
        }
        out += if self.ok {
            "harness: ok"
        } else {
            "harness: FAILED"
        };
        out
    }
}
