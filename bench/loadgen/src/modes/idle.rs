//! `idle`: N connections, each joined to a topic, held for a while; the
//! server's RSS before and after gives its memory per joined connection.

use std::time::Duration;

use super::Context;
use crate::crowd;
use crate::report::{MemoryReport, Report};
use crate::tracker::Progress;

pub struct Idle {
    pub connections: usize,
    pub topics: usize,
    pub hold: Duration,
}

/// Time the server gets after the last join before memory is read again.
const SETTLE: Duration = Duration::from_secs(2);

pub async fn run(ctx: &Context, idle: &Idle) -> anyhow::Result<Report> {
    let before = ctx.server.memory()?;
    let topics = idle.topics.max(1);
    let progress = Progress::new(0);
    let (running, opened) = crowd::open(
        &ctx.target,
        idle.connections,
        |i| ctx.topic(&format!("idle-{}", i % topics)),
        0,
        &progress,
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    // Clients keep heartbeating while held, as real ones would.
    tokio::time::sleep(idle.hold).await;
    let after = ctx.server.memory()?;
    let collected = running.stop().await;
    let held = opened.connected.saturating_sub(collected.dropped);
    Ok(Report {
        scenario: ctx.scenario.clone(),
        server: ctx.label.clone(),
        mode: "idle",
        protocol: ctx.target.protocol.name(),
        ok: opened.failed == 0 && collected.dropped == 0,
        opened,
        dropped: collected.dropped,
        dropped_error: collected.first_error,
        memory: MemoryReport::new(before, after, held),
        delivery: None,
        churn: None,
    })
}
