//! A client that stops reading is disconnected; a fast client on the same
//! topic keeps receiving every message, and publishers never wait.

mod common;

use std::time::Duration;

use common::{PhxClient, Received, TestServer, Vsn};
use serde_json::json;

#[tokio::test]
async fn a_slow_consumer_is_dropped_and_a_fast_one_gets_everything() {
    const MESSAGES: u64 = 400;
    let server = TestServer::start_with(|c| c.socket.outbound_queue = 16).await;
    let mut slow = PhxClient::connect(&server, Vsn::V2).await;
    slow.join_ok("feed").await;
    let mut fast = PhxClient::connect(&server, Vsn::V2).await;
    fast.join_ok("feed").await;

    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        while (seen.len() as u64) < MESSAGES {
            match fast.next().await {
                Received::Frame(frame) if frame.event == "chunk" => {
                    seen.push(frame.payload["n"].as_u64().unwrap());
                }
                Received::Frame(_) => {}
                Received::Closed(close) => panic!("fast client closed: {close:?}"),
            }
        }
        // Hand the client back so it stays connected for the checks below.
        (seen, fast)
    });

    // 64 KiB per message: far more than the kernel's socket buffers hold for
    // a client that never reads.
    let filler = "z".repeat(64 * 1024);
    let client = reqwest::Client::new();
    for n in 0..MESSAGES {
        let response = client
            .post(server.url("/api/publish"))
            .json(
                &json!({"topic": "feed", "event": "chunk", "payload": {"n": n, "filler": filler}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }

    let (seen, _fast) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the fast client received everything in time")
        .unwrap();
    assert_eq!(
        seen,
        (0..MESSAGES).collect::<Vec<_>>(),
        "in order, none lost"
    );

    let health: serde_json::Value = server.get_json("/health").await;
    assert_eq!(health["slow_consumers_dropped"], 1);
    server.wait_for_subscribers("feed", 1).await;

    // The slow client finds its socket closed with the reason once it reads.
    let close = slow.expect_close().await;
    if let Some((code, reason)) = close {
        assert_eq!(code, 1013);
        assert!(reason.contains("slow consumer"), "{reason}");
    }
}
