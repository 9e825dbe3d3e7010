//! `fanout` and `topics`: subscribers joined to one topic or spread over K
//! topics, a publisher sending numbered messages; measures deliveries per
//! second, loss and duplicates (exact, by sequence number), latency from
//! publish to receipt, and the server's CPU time per delivery over the window
//! from the first publish to the last delivery.

use std::sync::Arc;
use std::time::Duration;

use super::Context;
use crate::crowd;
use crate::publisher::{self, Pace, Plan};
use crate::report::{ChurnReport, DeliveryReport, MemoryReport, Report};
use crate::server_proc::Process;
use crate::tracker::{Progress, Totals};

pub struct Delivery {
    pub connections: usize,
    /// 1 for `fanout`.
    pub topics: usize,
    pub messages: usize,
    pub pace: Pace,
    pub pad: usize,
    /// Longest wait for the last deliveries once publishing is done.
    pub drain: Duration,
    /// Report name of the mode (`fanout` or `topics` when not given).
    pub mode: Option<&'static str>,
}

/// The topic of the single-topic fan-out (after the prefix); churning
/// clients join it too.
pub const FANOUT_TOPIC: &str = "fanout";

/// Time the server gets after the last join before publishing starts.
const SETTLE: Duration = Duration::from_secs(1);

/// A drain gives up when nothing arrived for this long.
const QUIET: Duration = Duration::from_secs(5);

pub async fn run(ctx: &Context, spec: &Delivery) -> anyhow::Result<Report> {
    run_with(ctx, spec, async { None }).await
}

/// Like [`run`], with `alongside` running while messages are published (the
/// churn mode opens and closes connections there).
pub async fn run_with(
    ctx: &Context,
    spec: &Delivery,
    alongside: impl Future<Output = Option<ChurnReport>>,
) -> anyhow::Result<Report> {
    let topics = spec.topics.max(1);
    let mode = match (&spec.mode, topics) {
        (Some(mode), _) => mode,
        (None, 1) => "fanout",
        (None, _) => "topics",
    };
    let topic_name = |i: usize| -> String {
        if topics == 1 {
            ctx.topic(FANOUT_TOPIC)
        } else {
            ctx.topic(&format!("topic-{}", i % topics))
        }
    };
    let before = ctx.server.memory()?;
    let progress = Progress::new(spec.messages);
    let (running, opened) = crowd::open(
        &ctx.target,
        spec.connections,
        topic_name,
        spec.messages,
        &progress,
    )
    .await;
    tokio::time::sleep(SETTLE).await;

    // Messages go to random topics (seeded: every server gets the same ones).
    let mut rng = fastrand::Rng::with_seed(6);
    let names: Vec<Arc<str>> = (0..topics).map(|i| topic_name(i).into()).collect();
    let plan_topics: Vec<Arc<str>> = (0..spec.messages)
        .map(|_| names[rng.usize(0..topics)].clone())
        .collect();
    let expected: Vec<u32> = plan_topics
        .iter()
        .map(|topic| opened.per_topic.get(&**topic).copied().unwrap_or(0))
        .collect();
    let expected_total: u64 = expected.iter().map(|&n| u64::from(n)).sum();
    let plan = Plan {
        topics: plan_topics,
        expected,
        pace: spec.pace,
        pad: spec.pad,
    };

    let generator = Process::current();
    let server_cpu_before = ctx.server.cpu()?;
    let generator_cpu_before = generator.cpu()?;
    let (published, churn) = tokio::join!(ctx.publisher.run(&plan, &progress), alongside);
    publisher::drain(&progress, expected_total, QUIET, spec.drain).await;
    let server_cpu = ctx.server.cpu()?.saturating_sub(server_cpu_before);
    let generator_cpu = generator.cpu()?.saturating_sub(generator_cpu_before);
    let last_us = progress.last_receipt_us().max(published.last_send_us);
    let after = ctx.server.memory()?;
    let finished_early = running.finished();
    let collected = running.stop().await;
    let totals = Totals::merge(&collected.received);

    let window_secs = last_us.saturating_sub(published.first_send_us) as f64 / 1e6;
    let lost = expected_total.saturating_sub(totals.unique);
    let delivery = DeliveryReport {
        messages: spec.messages,
        rate: match spec.pace {
            Pace::Rate(rate) => Some(rate),
            Pace::FlatOut { .. } => None,
        },
        window: match spec.pace {
            Pace::Rate(_) => None,
            Pace::FlatOut { window } => Some(window),
        },
        expected: expected_total,
        delivered: totals.unique,
        lost,
        duplicates: totals.duplicates,
        unexpected: totals.unexpected,
        window_secs,
        deliveries_per_sec: if window_secs > 0.0 {
            totals.unique as f64 / window_secs
        } else {
            0.0
        },
        latency: totals.latency,
        server_cpu_secs: server_cpu.as_secs_f64(),
        server_cpu_us_per_delivery: per_delivery_us(server_cpu, totals.unique),
        generator_cpu_secs: generator_cpu.as_secs_f64(),
        generator_cpu_us_per_delivery: per_delivery_us(generator_cpu, totals.unique),
        published,
    };
    let churn_ok = churn.as_ref().is_none_or(|c| c.failed == 0);
    let ok = churn_ok
        && opened.failed == 0
        && finished_early == 0
        && lost == 0
        && delivery.duplicates == 0
        && delivery.unexpected == 0
        && delivery.published.errors == 0;
    let held = opened.connected;
    Ok(Report {
        scenario: ctx.scenario.clone(),
        server: ctx.label.clone(),
        mode,
        protocol: ctx.target.protocol.name(),
        ok,
        opened,
        dropped: finished_early,
        dropped_error: collected.first_error,
        memory: MemoryReport::new(before, after, held),
        delivery: Some(delivery),
        churn,
    })
}

fn per_delivery_us(cpu: Duration, deliveries: u64) -> f64 {
    if deliveries == 0 {
        0.0
    } else {
        cpu.as_secs_f64() * 1e6 / deliveries as f64
    }
}
