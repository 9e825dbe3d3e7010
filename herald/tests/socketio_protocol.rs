//! Socket.IO v5, case by case as the official `socket.io-protocol` test
//! suite checks a server (written here from the protocol specification):
//! connecting to namespaces with and without auth payloads, unknown
//! namespaces, the connect timeout, disconnecting, events, acks, binary
//! attachments, and malformed packets. Run against the conformance server.

mod common;

use std::time::Duration;

use common::sio::{ConformanceServer, EioSocket, Frame};
use serde_json::Value;

/// A session connected to `/`, past its CONNECT reply and `auth` event.
async fn connected(server: &ConformanceServer) -> EioSocket {
    let (mut socket, _) = EioSocket::open(&server.ws_base, "/socket.io/").await;
    socket.send("40").await;
    assert!(socket.recv_text().await.starts_with("40"));
    assert_eq!(socket.recv_text().await, r#"42["auth",{}]"#);
    socket
}

/// Read a CONNECT reply with prefix `prefix` and return its JSON.
fn handshake(packet: &str, prefix: &str) -> Value {
    let data = packet
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected {prefix}..., got {packet}"));
    serde_json::from_str(data).unwrap()
}

#[tokio::test]
async fn connects_to_the_main_and_custom_namespaces_with_or_without_auth() {
    let server = ConformanceServer::start().await;
    let cases = [
        ("40", "40", r#"42["auth",{}]"#),
        (
            r#"40{"token":"123"}"#,
            "40",
            r#"42["auth",{"token":"123"}]"#,
        ),
        ("40/custom,", "40/custom,", r#"42/custom,["auth",{}]"#),
        (
            r#"40/custom,{"token":"abc"}"#,
            "40/custom,",
            r#"42/custom,["auth",{"token":"abc"}]"#,
        ),
    ];
    for (connect, reply_prefix, auth_event) in cases {
        let (mut socket, _) = EioSocket::open(&server.ws_base, "/socket.io/").await;
        socket.send(connect).await;
        let reply = handshake(&socket.recv_text().await, reply_prefix);
        let keys: Vec<&String> = reply.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["sid"], "{connect}: recovery is off, so only a sid");
        assert!(reply["sid"].is_string());
        assert_eq!(socket.recv_text().await, auth_event, "{connect}");
    }
}

#[tokio::test]
async fn an_unknown_namespace_gets_connect_error() {
    let server = ConformanceServer::start().await;
    let (mut socket, _) = EioSocket::open(&server.ws_base, "/socket.io/").await;
    socket.send("40/random").await;
    assert_eq!(
        socket.recv_text().await,
        r#"44/random,{"message":"Invalid namespace"}"#
    );
}

#[tokio::test]
async fn an_invalid_handshake_closes_the_connection() {
    let server = ConformanceServer::start().await;
    let (mut socket, _) = EioSocket::open(&server.ws_base, "/socket.io/").await;
    socket.send("4abc").await;
    assert!(matches!(socket.recv().await, Frame::Closed(_)));
}

#[tokio::test]
async fn a_connection_that_never_connects_a_namespace_is_closed() {
    let server = ConformanceServer::start().await;
    let (mut socket, _) = EioSocket::open(&server.ws_base, "/socket.io/").await;
    let started = tokio::time::Instant::now();
    // Pongs keep the heartbeat happy: only the connect timeout (1 s) is left.
    socket.expect_closed().await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(2500),
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn disconnecting_the_main_namespace_keeps_the_engine_session() {
    let server = ConformanceServer::start().await;
    let mut socket = connected(&server).await;
    socket.send("41").await;
    // The next thing the server sends is its heartbeat, on the same session.
    assert_eq!(socket.recv().await, Frame::Text("2".into()));
}

#[tokio::test]
async fn a_custom_namespace_connects_and_disconnects_beside_the_main_one() {
    let server = ConformanceServer::start().await;
    let mut socket = connected(&server).await;
    socket.send("40/custom").await;
    match socket.recv_packet().await {
        Frame::Text(reply) => assert!(reply.starts_with("40/custom,{\"sid\":"), "{reply}"),
        other => panic!("expected the CONNECT reply, got {other:?}"),
    }
    assert_eq!(
        socket.recv_packet().await,
        Frame::Text(r#"42/custom,["auth",{}]"#.into())
    );
    socket.send("41/custom").await;
    socket
        .send(r#"42["message","message to main namespace"]"#)
        .await;
    assert_eq!(
        socket.recv_packet().await,
        Frame::Text(r#"42["message-back","message to main namespace"]"#.into())
    );
    // Events for the namespace that was left are ignored.
    socket.send(r#"42/custom,["message","gone"]"#).await;
    socket.expect_silence(Duration::from_millis(150)).await;
}

#[tokio::test]
async fn events_and_acks_carry_their_arguments_back() {
    let server = ConformanceServer::start().await;
    let mut socket = connected(&server).await;
    socket.send(r#"42["message",1,"2",{"3":[true]}]"#).await;
    assert_eq!(
        socket.recv_packet().await,
        Frame::Text(r#"42["message-back",1,"2",{"3":[true]}]"#.into())
    );
    socket
        .send(r#"42456["message-with-ack",1,"2",{"3":[false]}]"#)
        .await;
    assert_eq!(
        socket.recv_packet().await,
        Frame::Text(r#"43456[1,"2",{"3":[false]}]"#.into())
    );
}

#[tokio::test]
async fn binary_attachments_travel_both_ways() {
    let server = ConformanceServer::start().await;
    let mut socket = connected(&server).await;
    let placeholders = r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#;
    socket
        .send(&format!(r#"452-["message",{placeholders}]"#))
        .await;
    socket.send_binary(&[1, 2, 3]).await;
    socket.send_binary(&[4, 5, 6]).await;
    assert_eq!(
        socket.recv_packet().await,
        Frame::Text(format!(r#"452-["message-back",{placeholders}]"#))
    );
    assert_eq!(socket.recv_packet().await, Frame::Binary(vec![1, 2, 3]));
    assert_eq!(socket.recv_packet().await, Frame::Binary(vec![4, 5, 6]));

    socket
        .send(&format!(r#"452-789["message-with-ack",{placeholders}]"#))
        .await;
    socket.send_binary(&[1, 2, 3]).await;
    socket.send_binary(&[4, 5, 6]).await;
    assert_eq!(
        socket.recv_packet().await,
        Frame::Text(format!("462-789[{placeholders}]"))
    );
    assert_eq!(socket.recv_packet().await, Frame::Binary(vec![1, 2, 3]));
    assert_eq!(socket.recv_packet().await, Frame::Binary(vec![4, 5, 6]));
}

#[tokio::test]
async fn malformed_packets_close_the_connection() {
    let server = ConformanceServer::start().await;
    for packet in [
        "4abc",
        "42{}",
        r#"42abc["message-with-ack",1,"2",{"3":[false]}]"#,
        r#"42["connect"]"#,
        "45-[]",
        r#"452-["message",{"_placeholder":true,"num":0}]"#, // then text, not binary
    ] {
        let mut socket = connected(&server).await;
        socket.send(packet).await;
        if packet.starts_with("452-") {
            socket.send(r#"42["message",1]"#).await;
        }
        assert!(
            matches!(socket.recv_packet().await, Frame::Closed(_)),
            "{packet} should close the connection"
        );
    }
    // A binary message nobody announced.
    let mut socket = connected(&server).await;
    socket.send_binary(&[1]).await;
    assert!(matches!(socket.recv_packet().await, Frame::Closed(_)));
}

#[tokio::test]
async fn socket_io_works_over_long_polling_too() {
    let server = ConformanceServer::start().await;
    let (session, _) = common::sio::Polling::open(&server.base, "/socket.io/").await;
    // CONNECT and an event in one payload: the event is handled after the
    // connection is established, never before and never lost.
    assert_eq!(
        session
            .post("40\x1e42[\"message\",\"right after connect\"]")
            .await
            .0,
        200
    );
    let packets = session.poll_at_least(3).await;
    assert!(packets[0].starts_with("40{\"sid\":"), "{packets:?}");
    assert_eq!(packets[1], r#"42["auth",{}]"#);
    assert_eq!(packets[2], r#"42["message-back","right after connect"]"#);
}
