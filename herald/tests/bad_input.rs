//! Bad input on a Phoenix socket gets an error reply or a close with a
//! reason, and never disturbs other clients.

mod common;

use std::time::Duration;

use common::{PhxClient, TestServer, Vsn};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Another client on the same topic still receives broadcasts.
async fn bystander_still_receives(server: &TestServer, bystander: &mut PhxClient, n: u64) {
    server
        .publish("room:1", "still-here", json!({"n": n}))
        .await;
    loop {
        let frame = bystander.next_frame().await;
        if frame.event == "still-here" {
            assert_eq!(frame.payload["n"], n);
            return;
        }
    }
}

async fn setup(vsn: Vsn) -> (TestServer, PhxClient, PhxClient) {
    let server = TestServer::start_with(|c| c.socket.max_frame_bytes = 4096).await;
    let mut bystander = PhxClient::connect(&server, Vsn::V2).await;
    bystander.join_ok("room:1").await;
    let mut offender = PhxClient::connect(&server, vsn).await;
    offender.join_ok("room:1").await;
    (server, bystander, offender)
}

#[tokio::test]
async fn invalid_json_closes_with_a_reason() {
    for vsn in [Vsn::V1, Vsn::V2] {
        let (server, mut bystander, mut offender) = setup(vsn).await;
        offender.send_raw("{not json").await;
        let (code, reason) = offender.expect_close().await.expect("a close frame");
        assert_eq!(code, 1007);
        assert!(reason.contains("invalid JSON"), "{reason}");
        bystander_still_receives(&server, &mut bystander, 1).await;
    }
}

#[tokio::test]
async fn wrong_shape_closes_with_a_reason() {
    let (server, mut bystander, mut offender) = setup(Vsn::V2).await;
    offender.send_raw(r#"["1","2","room:1"]"#).await;
    let (code, reason) = offender.expect_close().await.expect("a close frame");
    assert_eq!(code, 1007);
    assert!(reason.contains("5 elements"), "{reason}");
    bystander_still_receives(&server, &mut bystander, 1).await;

    let (server, mut bystander, mut offender) = setup(Vsn::V1).await;
    offender.send_raw(r#"[1,2,3]"#).await;
    let (code, reason) = offender.expect_close().await.expect("a close frame");
    assert_eq!(code, 1007);
    assert!(reason.contains("JSON object"), "{reason}");
    bystander_still_receives(&server, &mut bystander, 2).await;
}

#[tokio::test]
async fn a_non_string_topic_gets_an_error_reply_and_the_socket_lives_on() {
    for vsn in [Vsn::V1, Vsn::V2] {
        let (server, mut bystander, mut offender) = setup(vsn).await;
        let text = offender.encode(
            json!("1"),
            json!("77"),
            "placeholder",
            "phx_join",
            json!({}),
        );
        let text = text.replace("\"placeholder\"", "12345");
        offender.send_raw(&text).await;
        let reply = offender.expect_reply("77").await;
        assert_eq!(reply.payload["status"], "error");
        assert_eq!(
            reply.payload["response"]["reason"],
            "topic must be a string"
        );
        // Still usable.
        let r = offender.push(None, "phoenix", "heartbeat", json!({})).await;
        assert_eq!(offender.expect_reply(&r).await.payload["status"], "ok");
        bystander_still_receives(&server, &mut bystander, 1).await;
    }
}

#[tokio::test]
async fn an_invalid_topic_name_is_refused_on_join() {
    let (_server, _bystander, mut offender) = setup(Vsn::V2).await;
    let reply = offender.join("has space", json!({})).await;
    assert_eq!(reply.payload["status"], "error");
    assert_eq!(reply.payload["response"]["reason"], "invalid topic");
    let reply = offender
        .join("room:2", json!(["not", "an", "object"]))
        .await;
    assert_eq!(reply.payload["status"], "error");
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let (server, mut bystander, mut offender) = setup(Vsn::V2).await;
    let big = "x".repeat(10_000);
    let text = offender.encode(
        json!(null),
        json!("1"),
        "phoenix",
        "heartbeat",
        json!({"big": big}),
    );
    offender.send_raw(&text).await;
    let close = offender.expect_close().await;
    assert_eq!(close.map(|(code, _)| code), Some(1009));
    assert_eq!(server.limit_hits("frame_size").await, 1);
    bystander_still_receives(&server, &mut bystander, 1).await;
}

#[tokio::test]
async fn binary_garbage_closes_with_1003() {
    let (server, mut bystander, mut offender) = setup(Vsn::V2).await;
    offender
        .send_message(WsMessage::binary(vec![0xff, 0x00, 0x13, 0x37]))
        .await;
    let (code, reason) = offender.expect_close().await.expect("a close frame");
    assert_eq!(code, 1003);
    assert!(reason.contains("binary"), "{reason}");
    bystander_still_receives(&server, &mut bystander, 1).await;
}

#[tokio::test]
async fn the_server_survives_a_burst_of_garbage_from_many_clients() {
    let (server, mut bystander, _offender) = setup(Vsn::V2).await;
    for n in 0..20u64 {
        let mut client = PhxClient::connect(&server, Vsn::V2).await;
        client.send_raw(&format!("garbage {n}")).await;
        assert!(client.expect_close().await.is_some());
    }
    bystander_still_receives(&server, &mut bystander, 99).await;
    let health: serde_json::Value = server.get_json("/health").await;
    assert_eq!(health["status"], "ok");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
