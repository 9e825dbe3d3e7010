//! Group commit for inserts: concurrent producers share one transaction.
//!
//! A durable commit costs a sync to disk (SQLite `synchronous = FULL`, and
//! PostgreSQL's WAL flush), and SQLite has a single writer: with one
//! transaction per notification, throughput is bounded by syncs per second
//! and concurrent writers only queue on the lock. Here one writer task takes
//! every insert waiting at the moment, runs them in one transaction and
//! answers each caller after the commit: a caller still gets its answer only
//! once its rows are on disk, and a burst costs one sync instead of one per
//! notification.
//!
//! SQLite gets one writer (it has one write lock anyway). PostgreSQL gets
//! several, each with its own connection, so round trips overlap while each
//! still groups what waits.
//!
//! If a shared transaction fails, each request is retried alone, so one bad
//! request cannot fail the others.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use super::{Pool, StoreError, StoredBatch};
use crate::inbox::model::NewNotification;

/// Most rows one shared transaction takes; the rest wait for the next.
const MAX_ROWS: usize = 1000;
/// Requests that may wait for the writer before callers queue on the channel.
const QUEUE: usize = 4096;

type Reply = Result<Vec<StoredBatch>, StoreError>;

struct Job {
    batch: Vec<NewNotification>,
    done: oneshot::Sender<Reply>,
}

/// The handle callers insert through; the writer stops when every handle is
/// gone.
#[derive(Clone, Debug)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Start `writers` writer tasks on `pool`.
    pub(super) fn spawn(pool: Pool, writers: usize) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..writers.max(1) {
            tokio::spawn(write_loop(pool.clone(), queue.clone()));
        }
        Self { jobs }
    }

    pub(super) async fn insert(&self, batch: Vec<NewNotification>) -> Reply {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { batch, done })
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }
}

async fn write_loop(pool: Pool, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        // One writer at a time takes what waits; the others are committing
        // or waiting for their turn to take.
        let group = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut rows = first.batch.len();
            let mut group = vec![first];
            while rows < MAX_ROWS {
                match queue.try_recv() {
                    Ok(job) => {
                        rows += job.batch.len();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            group
        };
        commit(&pool, group).await;
    }
}

/// Commit `group` in one transaction and answer each job with its own rows.
async fn commit(pool: &Pool, group: Vec<Job>) {
    if group.len() > 1 {
        let all = group.iter().flat_map(|job| job.batch.iter());
        match pool.insert_in_one_transaction(all).await {
            Ok(stored) => {
                let mut stored = stored.into_iter();
                for job in group {
                    let mine: Vec<StoredBatch> = stored.by_ref().take(job.batch.len()).collect();
                    // A caller that gave up (its request was dropped) is
                    // still committed; nobody is left to tell.
                    let _ = job.done.send(Ok(mine));
                }
                return;
            }
            Err(err) if err.is_unavailable() => {
                // The database is out of reach: retrying each job alone would
                // make the last caller wait one timeout per job before it.
                tracing::warn!(error = %err, jobs = group.len(), "group commit failed: database unavailable");
                let cause = err.to_string();
                for job in group {
                    let _ = job.done.send(Err(StoreError::Unavailable(cause.clone())));
                }
                return;
            }
            Err(err) => {
                // One job's bad row must not fail the others: retry alone.
                tracing::warn!(error = %err, jobs = group.len(), "group commit failed; retrying each insert alone");
            }
        }
    }
    for job in group {
        let result = pool.insert_in_one_transaction(job.batch.iter()).await;
        let _ = job.done.send(result);
    }
}
