//! Inbox insert throughput: how many notifications per second the inbox
//! service commits (store, then publish on `user:{id}`) on a given database.
//!
//! ```sh
//! cargo run --release -p herald --example inbox_throughput -- \
//!     --database-url sqlite:///tmp/herald-bench.db --count 20000 --concurrency 16
//! psql -h 127.0.0.1 -U postgres -c 'create database herald_bench'
//! cargo run --release -p herald --example inbox_throughput -- \
//!     --database-url postgres://postgres@127.0.0.1:5432/herald_bench --count 20000 --concurrency 16
//! ```
//!
//! Each send is one transaction committed before the next step, as for an
//! HTTP producer; `--batch N` sends to N users per call (one transaction),
//! as `POST /api/notifications/batch` does. Users are spread over
//! `--users` ids. Nothing subscribes, so no unread counts are computed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use herald::hub::{Hub, HubConfig};
use herald::inbox::{Draft, Inbox, InboxSettings, Priority};
use herald::store::{Store, StoreSettings};
use serde_json::value::RawValue;

#[derive(Parser)]
struct Args {
    /// sqlite://path or postgres://...
    #[arg(long)]
    database_url: String,
    /// Notifications to store in total.
    #[arg(long, default_value_t = 20_000)]
    count: u64,
    /// Sends in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: u64,
    /// Users per send (1: one notification per transaction).
    #[arg(long, default_value_t = 1)]
    batch: u64,
    /// Distinct user ids.
    #[arg(long, default_value_t = 1000)]
    users: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = StoreSettings {
        url: args.database_url.clone(),
        max_connections: u32::try_from(args.concurrency.clamp(1, 64))?,
        acquire_timeout: Duration::from_secs(30),
    };
    let store = Store::open(&settings).await?;
    let hub = Hub::new(HubConfig::default());
    let inbox = Inbox::new(
        store.clone(),
        hub,
        InboxSettings {
            max_per_user: 0,
            ..InboxSettings::default()
        },
    );
    let data = RawValue::from_string(r#"{"points":10,"reason":"visit"}"#.to_owned())?;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let inbox = inbox.clone();
        let next = next.clone();
        let data = data.clone();
        let (count, batch, users) = (args.count, args.batch, args.users);
        workers.push(tokio::spawn(async move {
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= count {
                    return Ok::<(), anyhow::Error>(());
                }
                let user_ids: Vec<String> = (first..(first + batch).min(count))
                    .map(|n| format!("bench-{}", n % users))
                    .collect();
                let draft = Draft {
                    kind: "points_added".into(),
                    title: Some("You earned 10 points".into()),
                    body: Some("Thanks for your visit".into()),
                    data: data.clone(),
                    priority: Priority::Normal,
                    expires_at: None,
                    idempotency_key: None,
                };
                inbox.send(&user_ids, draft).await?;
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    println!(
        "{} notifications on {} (concurrency {}, batch {}): {:.2} s, {:.0} notifications/s",
        args.count,
        store.engine().name(),
        args.concurrency,
        args.batch,
        elapsed.as_secs_f64(),
        args.count as f64 / elapsed.as_secs_f64()
    );
    store.close().await;
    Ok(())
}
