//! Durability: the real `herald` binary is killed with SIGKILL in the middle
//! of a burst of inbox publishes; after a restart on the same database, every
//! notification it acknowledged (2xx) is there. On SQLite (the default
//! engine) and on PostgreSQL.

#[macro_use]
mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::{Engine, TestDb};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

on_both_engines!(acknowledged_notifications_survive_kill_9);

const WRITERS: usize = 8;

async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Start the binary on `database_url` and wait until it answers.
async fn start(database_url: &str, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("serve")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATABASE_URL", database_url)
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let health = format!("http://127.0.0.1:{port}/health");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = reqwest::get(&health).await
            && response.status().is_success()
        {
            return child;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "herald did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn acknowledged_notifications_survive_kill_9(engine: Engine) {
    let db = TestDb::create(engine).await;
    let port = free_port().await;
    let mut herald = start(&db.url, port).await;
    let base = format!("http://127.0.0.1:{port}");

    // (user, id) of every notification answered with 201.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let acked = acked.clone();
        let url = format!("{base}/api/users/w{writer}/notifications");
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                let body = json!({"type": "burst", "data": {"n": n}});
                let Ok(response) = client.post(&url).json(&body).send().await else {
                    return; // the server is gone
                };
                if response.status() != 201 {
                    return;
                }
                let Ok(stored) = response.json::<Value>().await else {
                    return; // killed between status and body: not counted
                };
                let id = stored["id"].as_str().unwrap().to_owned();
                acked.lock().push((format!("w{writer}"), id));
            }
        }));
    }
    // Kill mid-burst, once a good number of publishes were acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acked.lock().len() < 300 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the burst is too slow"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    herald.start_kill().unwrap(); // SIGKILL: no shutdown, no checkpoint
    let status = herald.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");
    for writer in writers {
        writer.await.unwrap();
    }
    let acked = acked.lock().clone();

    let mut herald = start(&db.url, port).await;
    let client = reqwest::Client::new();
    for (user, id) in &acked {
        let url = format!("{base}/api/users/{user}/notifications/{id}");
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "acknowledged notification {user}/{id} was lost"
        );
    }
    // Nothing is listed twice either.
    for writer in 0..WRITERS {
        let url = format!("{base}/api/users/w{writer}/notifications?limit=100");
        let page: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        let listed = page["notifications"].as_array().unwrap();
        let mut ids: Vec<&str> = listed.iter().map(|n| n["id"].as_str().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), listed.len());
    }
    herald.start_kill().unwrap();
    let _ = herald.wait().await;
    eprintln!(
        "{} acknowledged notifications, all present after kill -9",
        acked.len()
    );
}
