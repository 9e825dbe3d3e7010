//! A crowd of benchmark clients: opening many connections with bounded
//! concurrency (spread over the source addresses), joining each to its topic,
//! letting them all read, and stopping them to collect what they received.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{Client, ClientError};
use crate::net::Sources;
use crate::protocol::Protocol;
use crate::tracker::{Progress, Received};

/// Where and how clients connect.
#[derive(Clone)]
pub struct Target {
    pub server: SocketAddr,
    pub protocol: Arc<Protocol>,
    pub sources: Sources,
    /// Connections opening at once (the server's accept backlog is finite).
    pub concurrency: usize,
}

/// How opening a crowd went.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Opened {
    pub asked: usize,
    pub connected: usize,
    pub failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    pub open_secs: f64,
    /// Loopback source addresses the clients were spread over.
    pub sources: usize,
    /// Clients joined per topic.
    #[serde(skip)]
    pub per_topic: HashMap<String, u32>,
}

/// Open `count` clients, client `i` joined to `topic_of(i)`. Each starts
/// reading (tracking sequence numbers `0..messages`, answering pings, sending
/// heartbeats) as soon as it has joined: opening 19,000 connections can take
/// longer than a server waits for a heartbeat or a pong.
pub async fn open(
    target: &Target,
    count: usize,
    topic_of: impl Fn(usize) -> String,
    messages: usize,
    progress: &Arc<Progress>,
) -> (Running, Opened) {
    let started = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let attempts = futures_util::stream::iter(0..count)
        .map(|index| {
            let topic = topic_of(index);
            let source = target.sources.for_index(index);
            let target = target.clone();
            let progress = progress.clone();
            let stopped = stopped.clone();
            async move {
                let mut client =
                    Client::open(target.server, source, target.protocol.clone()).await?;
                client.join(&topic).await?;
                let task = tokio::spawn(async move {
                    let mut received = Received::new(messages);
                    let outcome = client.run(&mut received, &progress, stopped).await;
                    (received, outcome)
                });
                Ok::<_, ClientError>((topic, task))
            }
        })
        .buffered(target.concurrency.max(1));
    let results: Vec<_> = attempts.collect().await;
    let mut opened = Opened {
        asked: count,
        ..Opened::default()
    };
    let mut tasks = Vec::with_capacity(count);
    for result in results {
        match result {
            Ok((topic, task)) => {
                *opened.per_topic.entry(topic).or_default() += 1;
                tasks.push(task);
            }
            Err(err) => {
                opened.failed += 1;
                opened.first_error.get_or_insert_with(|| err.to_string());
            }
        }
    }
    opened.connected = tasks.len();
    opened.open_secs = started.elapsed().as_secs_f64();
    opened.sources = target.sources.len();
    (Running { tasks, stop }, opened)
}

/// Clients reading in their own tasks.
pub struct Running {
    tasks: Vec<JoinHandle<(Received, Result<(), ClientError>)>>,
    stop: watch::Sender<bool>,
}

/// What the crowd received, and how many connections the server ended early.
pub struct Collected {
    pub received: Vec<Received>,
    pub dropped: usize,
    pub first_error: Option<String>,
}

impl Running {
    /// Clients whose task already ended (the server closed them).
    pub fn finished(&self) -> usize {
        self.tasks.iter().filter(|task| task.is_finished()).count()
    }

    pub async fn stop(self) -> Collected {
        let _ = self.stop.send(true);
        let mut collected = Collected {
            received: Vec::with_capacity(self.tasks.len()),
            dropped: 0,
            first_error: None,
        };
        for task in self.tasks {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok((received, outcome))) => {
                    if let Err(err) = outcome {
                        collected.dropped += 1;
                        collected.first_error.get_or_insert_with(|| err.to_string());
                    }
                    collected.received.push(received);
                }
                Ok(Err(join_error)) => {
                    collected.dropped += 1;
                    collected
                        .first_error
                        .get_or_insert_with(|| join_error.to_string());
                }
                Err(_) => collected.dropped += 1,
            }
        }
        collected
    }
}
