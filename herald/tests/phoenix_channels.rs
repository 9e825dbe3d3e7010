//! The Phoenix Channels transport, driven by a raw WebSocket client, for both
//! serializers: joins, leaves, heartbeats, replies, broadcasts, limits.

mod common;

use std::time::Duration;

use common::{PhxClient, Received, TestServer, Vsn};
use serde_json::json;

const BOTH: [Vsn; 2] = [Vsn::V1, Vsn::V2];

#[tokio::test]
async fn join_heartbeat_broadcast_leave_close() {
    for vsn in BOTH {
        let server = TestServer::start().await;
        let mut client = PhxClient::connect(&server, vsn).await;

        let reply = client.join("room:1", json!({"hello": "there"})).await;
        assert_eq!(reply.topic, "room:1");
        assert_eq!(reply.payload["status"], "ok");
        assert!(reply.payload["response"].is_object());
        let join_ref = reply.join_ref.clone();
        let reply_epoch = reply.payload["response"]["epoch"].clone();
        if vsn == Vsn::V2 {
            assert_eq!(join_ref, reply.msg_ref, "V2 replies echo the join ref");
        }

        let hb = client.push(None, "phoenix", "heartbeat", json!({})).await;
        let reply = client.expect_reply(&hb).await;
        assert_eq!(reply.topic, "phoenix");
        assert_eq!(reply.payload, json!({"status": "ok", "response": {}}));

        let body = server
            .publish("room:1", "greeting", json!({"n": 1, "s": "ü"}))
            .await;
        assert_eq!(body["delivered"], 1);
        let frame = client.next_frame().await;
        assert_eq!(frame.topic, "room:1");
        assert_eq!(frame.event, "greeting");
        assert_eq!(frame.payload, json!({"n": 1, "s": "ü"}));
        assert!(frame.join_ref.is_null());
        let epoch = reply_epoch.as_str().unwrap();
        assert_eq!(
            frame.msg_ref,
            json!(format!("{epoch}:1")),
            "the position rides in the ref"
        );

        let leave_ref = client
            .push(join_ref.as_str(), "room:1", "phx_leave", json!({}))
            .await;
        let reply = client.expect_reply(&leave_ref).await;
        assert_eq!(reply.payload["status"], "ok");
        let close = client.next_frame().await;
        assert_eq!(close.event, "phx_close");
        assert_eq!(close.topic, "room:1");
        if vsn == Vsn::V2 {
            assert_eq!(close.join_ref, join_ref);
        }

        server.publish("room:1", "greeting", json!({"n": 2})).await;
        client.expect_silence(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_push_to_a_topic_not_joined_is_unmatched() {
    for vsn in BOTH {
        let server = TestServer::start().await;
        let mut client = PhxClient::connect(&server, vsn).await;
        let r = client.push(None, "room:9", "shout", json!({})).await;
        let reply = client.expect_reply(&r).await;
        assert_eq!(
            reply.payload,
            json!({"status": "error", "response": {"reason": "unmatched topic"}})
        );
        let r = client.push(None, "room:9", "phx_leave", json!({})).await;
        let reply = client.expect_reply(&r).await;
        assert_eq!(reply.payload["response"]["reason"], "unmatched topic");
    }
}

#[tokio::test]
async fn an_event_no_handler_defines_is_refused_by_name() {
    let server = TestServer::start().await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    client.join_ok("room:1").await;
    let r = client.push(Some("1"), "room:1", "dance", json!({})).await;
    let reply = client.expect_reply(&r).await;
    assert_eq!(reply.payload["status"], "error");
    assert_eq!(reply.payload["response"]["event"], "dance");
    // An unknown control event on the phoenix topic too.
    let r = client.push(None, "phoenix", "reboot", json!({})).await;
    let reply = client.expect_reply(&r).await;
    assert_eq!(reply.payload["status"], "error");
    assert_eq!(reply.payload["response"]["event"], "reboot");
}

#[tokio::test]
async fn many_topics_per_socket_up_to_the_limit() {
    let server = TestServer::start_with(|c| c.socket.max_channels = 3).await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    for n in 0..3 {
        client.join_ok(&format!("room:{n}")).await;
    }
    let reply = client.join("room:3", json!({})).await;
    assert_eq!(
        reply.payload,
        json!({"status": "error", "response": {"reason": "too many channels joined"}})
    );
    // Rejoining one already joined is not a new channel.
    client.join_ok("room:0").await;
    for n in 0..3 {
        server
            .publish(&format!("room:{n}"), "tick", json!({"n": n}))
            .await;
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let frame = client.next_frame().await;
        if frame.event == "tick" {
            seen.push(frame.payload["n"].as_i64().unwrap());
        }
    }
    seen.sort();
    assert_eq!(seen, [0, 1, 2]);
    assert_eq!(server.limit_hits("max_channels").await, 1);
}

#[tokio::test]
async fn a_duplicate_join_replaces_the_old_channel() {
    let server = TestServer::start().await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    let first = client.join_ok("room:1").await;
    let text = client.encode(
        json!("second"),
        json!("second"),
        "room:1",
        "phx_join",
        json!({}),
    );
    client.send_raw(&text).await;
    let close = client.next_frame().await;
    assert_eq!(close.event, "phx_close");
    assert_eq!(
        close.join_ref, first.join_ref,
        "the old channel is closed under its own ref"
    );
    let reply = client.next_frame().await;
    assert_eq!(reply.event, "phx_reply");
    assert_eq!(reply.msg_ref, json!("second"));
    assert_eq!(reply.payload["status"], "ok");

    server.publish("room:1", "once", json!({})).await;
    let frame = client.next_frame().await;
    assert_eq!(frame.event, "once");
    client.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn connect_params_and_bad_vsn() {
    let server = TestServer::start().await;
    // Extra query parameters are accepted (kept as connect params).
    let mut client = PhxClient::connect_query(&server, Vsn::V2, "&token=abc&device=phone").await;
    client.join_ok("room:1").await;
    let refused =
        tokio_tungstenite::connect_async(format!("{}/socket/websocket?vsn=9.0.0", server.ws_base))
            .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "unsupported_vsn");
        }
        other => panic!("expected an HTTP 400, got {other:?}"),
    }
    // A plain GET (no upgrade) gets a JSON error too.
    let response = reqwest::get(server.url("/socket/websocket")).await.unwrap();
    assert!(response.status().is_client_error());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "websocket_upgrade_required");
}

#[tokio::test]
async fn a_silent_socket_is_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(|c| c.socket.idle_timeout_secs = 1).await;
    let mut quiet = PhxClient::connect(&server, Vsn::V2).await;
    let mut chatty = PhxClient::connect(&server, Vsn::V2).await;
    quiet.join_ok("room:1").await;
    let started = std::time::Instant::now();
    // The chatty client heartbeats every 300 ms and stays open.
    let mut closed = None;
    while started.elapsed() < Duration::from_millis(2500) {
        let r = chatty.push(None, "phoenix", "heartbeat", json!({})).await;
        chatty.expect_reply(&r).await;
        if closed.is_none()
            && let Some(Received::Closed(frame)) =
                quiet.next_within(Duration::from_millis(300)).await
        {
            closed = Some((frame, started.elapsed()));
        } else if closed.is_some() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let (frame, after) = closed.expect("the quiet socket was closed");
    assert_eq!(frame.map(|(code, _)| code), Some(1001));
    assert!(
        after >= Duration::from_millis(900),
        "closed too early: {after:?}"
    );
    let r = chatty.push(None, "phoenix", "heartbeat", json!({})).await;
    assert_eq!(chatty.expect_reply(&r).await.payload["status"], "ok");
}
