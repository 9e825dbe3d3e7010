//! `churn`: stable subscribers receive broadcasts at a fixed rate (counted for
//! loss and latency as in `fanout`) while other connections open, join the
//! same topic, live a short while and close, at a given rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Context;
use super::delivery::{self, Delivery};
use crate::client::Client;
use crate::report::{ChurnReport, Report};
use crate::tracker::{Percentiles, Progress, Received};

pub struct Churn {
    pub delivery: Delivery,
    /// New connections per second.
    pub rate: f64,
    /// How long each churning connection stays.
    pub life: Duration,
    /// How long connections keep churning (while messages are published).
    pub duration: Duration,
}

pub async fn run(ctx: &Context, churn: &Churn) -> anyhow::Result<Report> {
    delivery::run_with(ctx, &churn.delivery, churning(ctx, churn)).await
}

async fn churning(ctx: &Context, churn: &Churn) -> Option<ChurnReport> {
    let mut report = ChurnReport {
        rate: churn.rate,
        life_secs: churn.life.as_secs_f64(),
        ..ChurnReport::default()
    };
    let interval = Duration::from_secs_f64(1.0 / churn.rate.max(0.001));
    let started = tokio::time::Instant::now();
    // Never flipped: churning clients stop by their own life time.
    let (_keep, never) = watch::channel(false);
    let progress = Progress::new(0);
    let mut alive = JoinSet::new();
    let mut join_us: Vec<u32> = Vec::new();
    let mut index = 0usize;
    let mut tally = |outcome: Result<u32, String>, report: &mut ChurnReport| match outcome {
        Ok(us) => {
            report.opened += 1;
            join_us.push(us);
        }
        Err(err) => {
            report.failed += 1;
            report.first_error.get_or_insert(err);
        }
    };
    while started.elapsed() < churn.duration {
        tokio::time::sleep_until(started + interval.mul_f64(index as f64)).await;
        while let Some(done) = alive.try_join_next() {
            tally(done.unwrap_or_else(|e| Err(e.to_string())), &mut report);
        }
        // Past the first source addresses the stable crowd uses most.
        let source = ctx.target.sources.for_index(index + 1);
        let target = ctx.target.clone();
        let topic = ctx.topic(delivery::FANOUT_TOPIC);
        let progress: Arc<Progress> = progress.clone();
        let never = never.clone();
        let life = churn.life;
        alive.spawn(async move {
            let opening = Instant::now();
            let mut client = Client::open(target.server, source, target.protocol.clone())
                .await
                .map_err(|e| e.to_string())?;
            client.join(&topic).await.map_err(|e| e.to_string())?;
            let took = opening.elapsed().as_micros() as u32;
            // Deliveries to churning clients are not tracked for loss.
            let mut received = Received::new(0);
            let _ = tokio::time::timeout(life, client.run(&mut received, &progress, never)).await;
            client.close().await;
            Ok(took)
        });
        index += 1;
    }
    while let Some(done) = alive.join_next().await {
        tally(done.unwrap_or_else(|e| Err(e.to_string())), &mut report);
    }
    report.join = Percentiles::of(&mut join_us);
    Some(report)
}
