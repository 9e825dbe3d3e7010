//! Gapless recovery over Phoenix sockets: a client that reconnects and
//! rejoins with its last position receives exactly what it missed, then
//! continues live, while publishes race its rejoin.

mod common;

use std::time::Duration;

use common::{PhxClient, Received, TestServer, Vsn};
use serde_json::{Value, json};

/// Split a broadcast ref `"<epoch>:<offset>"`.
fn position(frame: &common::Frame) -> (String, u64) {
    let text = frame.msg_ref.as_str().expect("broadcasts carry a position");
    let (epoch, offset) = text.rsplit_once(':').unwrap();
    (epoch.to_owned(), offset.parse().unwrap())
}

#[tokio::test]
async fn rejoining_with_the_last_position_replays_what_was_missed() {
    for vsn in [Vsn::V1, Vsn::V2] {
        let server = TestServer::start().await;
        let mut client = PhxClient::connect(&server, vsn).await;
        let reply = client.join_ok("room:1").await;
        let response = &reply.payload["response"];
        assert_eq!(response["recovered"], false);
        assert_eq!(response["offset"], 0);
        let epoch = response["epoch"].as_str().unwrap().to_owned();

        server.publish("room:1", "n", json!({"n": 1})).await;
        let frame = client.next_frame().await;
        assert_eq!(position(&frame), (epoch.clone(), 1));
        assert_eq!(frame.payload, json!({"n": 1}), "the payload is untouched");
        drop(client);

        for n in 2..=4 {
            server.publish("room:1", "n", json!({"n": n})).await;
        }
        let mut client = PhxClient::connect(&server, vsn).await;
        let reply = client
            .join("room:1", json!({"since": {"epoch": epoch, "offset": 1}}))
            .await;
        assert_eq!(reply.payload["status"], "ok");
        assert_eq!(
            reply.payload["response"],
            json!({"recovered": true, "epoch": epoch, "offset": 4})
        );
        for n in 2..=4 {
            let frame = client.next_frame().await;
            assert_eq!(frame.payload, json!({"n": n}));
            assert_eq!(position(&frame).1, n);
        }
        server.publish("room:1", "n", json!({"n": 5})).await;
        assert_eq!(client.next_frame().await.payload, json!({"n": 5}));
        client.expect_silence(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn unknown_epoch_or_expired_history_is_not_recovered() {
    let server = TestServer::start_with(|c| c.history.max_messages = 3).await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    let reply = client
        .join(
            "room:1",
            json!({"since": {"epoch": "not-an-epoch", "offset": 3}}),
        )
        .await;
    assert_eq!(reply.payload["response"]["recovered"], false);
    let epoch = reply.payload["response"]["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(client);

    for n in 1..=10 {
        server.publish("room:1", "n", json!({"n": n})).await;
    }
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    // Offsets 8..10 are kept; 2..7 are gone.
    let reply = client
        .join("room:1", json!({"since": {"epoch": epoch, "offset": 1}}))
        .await;
    assert_eq!(reply.payload["response"]["recovered"], false);
    assert_eq!(reply.payload["response"]["offset"], 10);
    client.expect_silence(Duration::from_millis(200)).await;

    let reply = client
        .join("room:1", json!({"since": {"epoch": epoch, "offset": 7}}))
        .await;
    assert_eq!(reply.payload["response"]["recovered"], true);

    let reply = client.join("room:2", json!({"since": "yesterday"})).await;
    assert_eq!(reply.payload["status"], "error");
}

#[tokio::test]
async fn history_expires_by_age() {
    let server = TestServer::start_with(|c| c.history.max_age_secs = 1).await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    let reply = client.join_ok("room:1").await;
    let epoch = reply.payload["response"]["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(client);
    server.publish("room:1", "n", json!({"n": 1})).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    let reply = client
        .join("room:1", json!({"since": {"epoch": epoch, "offset": 0}}))
        .await;
    assert_eq!(reply.payload["response"]["recovered"], false);
}

/// Many publishes race a client that keeps dropping its socket and rejoining:
/// it ends with exactly the published sequence, for both serializers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_publishes_and_rejoins_lose_and_repeat_nothing() {
    const MESSAGES: u64 = 1500;
    for vsn in [Vsn::V1, Vsn::V2] {
        let server = TestServer::start_with(|c| c.history.max_messages = 10_000).await;
        let mut first = PhxClient::connect(&server, vsn).await;
        let reply = first.join_ok("race").await;
        let epoch = reply.payload["response"]["epoch"]
            .as_str()
            .unwrap()
            .to_owned();
        drop(first);

        let hub = server.hub.clone();
        let publisher = tokio::spawn(async move {
            for n in 1..=MESSAGES {
                let payload =
                    serde_json::value::RawValue::from_string(format!(r#"{{"n":{n}}}"#)).unwrap();
                hub.publish("race", "n", payload);
                if n % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        });

        let mut received: Vec<u64> = Vec::new();
        let mut last = 0u64;
        let mut rounds = 0;
        while last < MESSAGES {
            rounds += 1;
            let mut client = PhxClient::connect(&server, vsn).await;
            let reply = client
                .join("race", json!({"since": {"epoch": epoch, "offset": last}}))
                .await;
            assert_eq!(
                reply.payload["response"]["recovered"], true,
                "round {rounds}"
            );
            // Read a few frames, then drop the socket mid-stream.
            for _ in 0..(37 + rounds % 50) {
                match client.next_within(Duration::from_millis(500)).await {
                    Some(Received::Frame(frame)) if frame.event == "n" => {
                        let (frame_epoch, offset) = position(&frame);
                        assert_eq!(frame_epoch, epoch);
                        assert_eq!(offset, last + 1, "{vsn:?}: gap or duplicate at {last}");
                        let n = frame.payload["n"].as_u64().unwrap();
                        assert_eq!(n, offset);
                        received.push(n);
                        last = offset;
                    }
                    Some(other) => panic!("unexpected {other:?}"),
                    None => break,
                }
            }
        }
        publisher.await.unwrap();
        assert_eq!(received, (1..=MESSAGES).collect::<Vec<u64>>());
        assert!(rounds > 5, "the client rejoined many times ({rounds})");
    }
}

#[tokio::test]
async fn backends_read_history_over_http() {
    let server = TestServer::start().await;
    for n in 1..=5 {
        server.publish("orders:b1", "order", json!({"n": n})).await;
    }
    let body: Value = server
        .get_json("/api/topics/orders:b1/history?since=2&limit=2")
        .await;
    assert_eq!(body["topic"], "orders:b1");
    assert_eq!(body["offset"], 5);
    assert!(body["epoch"].is_string());
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0],
        json!({"offset": 3, "event": "order", "payload": {"n": 3}})
    );
    assert_eq!(messages[1]["offset"], 4);

    let response = reqwest::get(server.url("/api/topics/nothing-here/history"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["messages"], json!([]));
    assert_eq!(body["offset"], 0);

    let response = reqwest::get(server.url("/api/topics/x/history?since=abc"))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
