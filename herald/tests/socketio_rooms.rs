//! Herald's Socket.IO endpoint with its shipped event vocabulary: tokens in
//! the CONNECT packet, rooms as hub topics shared with Phoenix clients, the
//! streaming site's join/leave events, the loyalty platform's
//! subscribe/unsubscribe and action webhook, error events, health, and bad
//! input that leaves other clients alone.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use common::sio::{EioSocket, Frame, Polling, SioClient};
use common::tokens::{self, claims, secured};
use common::{PhxClient, TestServer, Vsn};
use parking_lot::Mutex;
use serde_json::{Value, json};

fn token_for(user: &str, extra: Value) -> Value {
    json!({ "token": tokens::hs256(&claims(user, extra)) })
}

/// A client of `user`, connected, past its `connected` event.
async fn user_client(server: &TestServer, user: &str, extra: Value) -> SioClient {
    let (mut client, _) =
        SioClient::connect_ok(&server.ws_base, Some(token_for(user, extra))).await;
    let hello = client.event_named("connected").await;
    assert_eq!(hello.args[0]["userId"], user);
    client
}

#[tokio::test]
async fn tokens_are_checked_at_connect_with_stable_reasons() {
    let server = TestServer::start_with(|c| {
        secured(c);
        c.auth.allow_anonymous = false;
    })
    .await;
    let (_, refused) = SioClient::connect(&server.ws_base, None).await;
    assert_eq!(refused.unwrap_err(), json!({"message": "token_missing"}));
    let (_, refused) = SioClient::connect(&server.ws_base, Some(json!({"token": "nope"}))).await;
    assert_eq!(refused.unwrap_err(), json!({"message": "token_invalid"}));
    let expired = tokens::hs256(&json!({"sub": "u1", "exp": 1_000_000}));
    let (_, refused) = SioClient::connect(&server.ws_base, Some(json!({"token": expired}))).await;
    assert_eq!(refused.unwrap_err(), json!({"message": "token_expired"}));

    let (mut client, reply) =
        SioClient::connect_ok(&server.ws_base, Some(token_for("u1", json!({})))).await;
    assert!(reply["sid"].is_string());
    assert!(reply["pid"].is_string(), "recovery is on by default");
    let hello = client.next_event().await;
    assert_eq!(hello.name, "connected");
    assert_eq!(hello.args[0]["userId"], "u1");
    assert_eq!(hello.args[0]["sid"], reply["sid"]);

    // A CONNECT field of an unexpected type does not hide the token.
    let mut auth = token_for("u2", json!({}));
    auth["offset"] = json!(5);
    auth["pid"] = json!(["not", "a", "pid"]);
    let (mut client, _) = SioClient::connect_ok(&server.ws_base, Some(auth)).await;
    assert_eq!(
        client.event_named("connected").await.args[0]["userId"],
        "u2"
    );
}

#[tokio::test]
async fn streaming_site_rooms_join_leave_and_receive() {
    let server = TestServer::start_with(secured).await;
    let mut viewer = user_client(&server, "u1", json!({})).await;

    for (join, arg, room) in [
        (
            "join-user-notifications",
            json!("u1"),
            "user-notifications:u1",
        ),
        (
            "join-channel-notifications",
            json!("c7"),
            "channel-notifications:c7",
        ),
        (
            "join-global-notifications",
            Value::Null,
            "global-notifications",
        ),
    ] {
        let args = if arg.is_null() { vec![] } else { vec![arg] };
        let (ack, _) = viewer.emit_with_ack(join, args).await;
        assert_eq!(ack[0], json!({"ok": true, "room": room}), "{join}");
        let notification = json!({"id": "n1", "userId": "u1", "channelId": "c7", "type": "TIP",
                                  "data": {"amount": 5}, "timestamp": "2026-12-03T10:00:00Z"});
        server
            .publish(room, "notification", notification.clone())
            .await;
        let event = viewer.next_event().await;
        assert_eq!(event.name, "notification");
        assert_eq!(event.args[0], notification, "payload untouched");
        assert!(event.args[1].is_string(), "the position comes last");
    }

    // Leaving stops deliveries (without an ack this time).
    viewer
        .emit("leave-channel-notifications", vec![json!("c7")])
        .await;
    viewer.emit("leave-global-notifications", vec![]).await;
    let (ack, _) = viewer
        .emit_with_ack("leave-user-notifications", vec![json!("u1")])
        .await;
    assert_eq!(ack[0]["ok"], true);
    for room in [
        "user-notifications:u1",
        "channel-notifications:c7",
        "global-notifications",
    ] {
        server.publish(room, "notification", json!({})).await;
    }
    viewer.eio.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_user_is_refused_another_users_room() {
    let server = TestServer::start_with(|c| {
        secured(c);
        c.auth.allow_anonymous = true;
    })
    .await;
    let mut viewer = user_client(&server, "u1", json!({})).await;
    let (ack, events) = viewer
        .emit_with_ack("join-user-notifications", vec![json!("u2")])
        .await;
    assert_eq!(ack[0]["ok"], false);
    assert_eq!(ack[0]["error"], "forbidden");
    assert_eq!(events[0].name, "error");
    assert_eq!(events[0].args[0]["code"], "forbidden");
    assert_eq!(events[0].args[0]["event"], "join-user-notifications");
    server
        .publish("user-notifications:u2", "notification", json!({}))
        .await;
    viewer.eio.expect_silence(Duration::from_millis(200)).await;

    // No argument means "my own room".
    let (ack, _) = viewer
        .emit_with_ack("join-user-notifications", vec![])
        .await;
    assert_eq!(ack[0], json!({"ok": true, "room": "user-notifications:u1"}));
    // An anonymous client has no own room.
    let (mut anonymous, _) = SioClient::connect_ok(&server.ws_base, None).await;
    let (ack, _) = anonymous
        .emit_with_ack("join-user-notifications", vec![json!("u1")])
        .await;
    assert_eq!(ack[0]["error"], "unauthorized");
}

#[tokio::test]
async fn loyalty_subscribe_and_unsubscribe_answer_with_acks() {
    let server = TestServer::start_with(secured).await;
    let mut member = user_client(&server, "g1", json!({"businessId": "b1"})).await;
    let (ack, _) = member
        .emit_with_ack(
            "subscribe",
            vec![json!({"channel": "user", "params": {"userId": "g1"}})],
        )
        .await;
    assert_eq!(
        ack[0],
        json!({"ok": true, "channel": "user", "room": "user:g1"})
    );
    let (ack, _) = member
        .emit_with_ack(
            "subscribe",
            vec![json!({"channel": "business", "params": {"businessId": "b1"}})],
        )
        .await;
    assert_eq!(ack[0]["ok"], true);

    server
        .publish("user:g1", "points_added", json!({"points": 10}))
        .await;
    server
        .publish("business:b1", "card_created", json!({"card": "c1"}))
        .await;
    assert_eq!(member.next_event().await.name, "points_added");
    assert_eq!(member.next_event().await.name, "card_created");

    // Refusals: another business (topic rule), an unknown channel, a bad payload.
    for (payload, code) in [
        (
            json!({"channel": "business", "params": {"businessId": "b2"}}),
            "forbidden",
        ),
        (json!({"channel": "nope"}), "unknown_channel"),
        (json!("just a string"), "invalid_payload"),
        (
            json!({"channel": "location", "params": {"businessId": "b1"}}),
            "invalid_payload",
        ),
    ] {
        let (ack, events) = member
            .emit_with_ack("subscribe", vec![payload.clone()])
            .await;
        assert_eq!(ack[0]["ok"], false, "{payload}");
        assert_eq!(ack[0]["error"], code, "{payload}");
        assert_eq!(
            events[0].args[0]["code"], code,
            "{payload}: error event too"
        );
    }

    let (ack, _) = member
        .emit_with_ack("unsubscribe", vec![json!({"channel": "user"})])
        .await;
    assert_eq!(
        ack[0],
        json!({"ok": true, "channel": "user", "room": "user:g1"})
    );
    server
        .publish("user:g1", "points_redeemed", json!({}))
        .await;
    server
        .publish("business:b1", "guest_registered", json!({}))
        .await;
    assert_eq!(member.next_event().await.name, "guest_registered");
}

#[tokio::test]
async fn unknown_events_and_binary_payloads_get_error_events() {
    let server = TestServer::start().await;
    let (mut client, _) = SioClient::connect_ok(&server.ws_base, None).await;
    client.event_named("connected").await;
    let (ack, events) = client.emit_with_ack("dance", vec![]).await;
    assert_eq!(ack[0]["error"], "unknown_event");
    assert_eq!(events[0].args[0]["code"], "unknown_event");

    client
        .eio
        .send(r#"451-["join-global-notifications",{"_placeholder":true,"num":0}]"#)
        .await;
    client.eio.send_binary(&[1, 2, 3]).await;
    let error = client.event_named("error").await;
    assert_eq!(error.args[0]["code"], "binary_not_supported");
}

#[tokio::test]
async fn one_publish_reaches_phoenix_and_socket_io_clients() {
    let server = TestServer::start().await;
    let mut phoenix = PhxClient::connect(&server, Vsn::V2).await;
    phoenix.join_ok("global-notifications").await;
    let (mut socketio, _) = SioClient::connect_ok(&server.ws_base, None).await;
    socketio
        .emit_with_ack("join-global-notifications", vec![])
        .await;
    let body = server
        .publish(
            "global-notifications",
            "system_alert",
            json!({"text": "maintenance"}),
        )
        .await;
    assert_eq!(body["delivered"], 2);
    let frame = phoenix.next_frame().await;
    assert_eq!(
        (frame.event.as_str(), &frame.payload),
        ("system_alert", &json!({"text": "maintenance"}))
    );
    let event = socketio.event_named("system_alert").await;
    assert_eq!(event.args[0], json!({"text": "maintenance"}));
}

#[tokio::test]
async fn health_counts_socket_io_clients_and_lists_rooms_on_request() {
    let server = TestServer::start().await;
    let (mut a, _) = SioClient::connect_ok(&server.ws_base, None).await;
    let (mut b, _) = SioClient::connect_ok(&server.ws_base, None).await;
    a.emit_with_ack("join-global-notifications", vec![]).await;
    b.emit_with_ack("join-global-notifications", vec![]).await;
    b.emit_with_ack("join-channel-notifications", vec![json!("c1")])
        .await;
    let health = server.get_json("/health").await;
    assert_eq!(health["socketio"]["clients"], 2);
    assert!(
        health["socketio"].get("rooms").is_none(),
        "rooms only when asked"
    );
    let health = server.get_json("/health?rooms=1").await;
    assert_eq!(
        health["socketio"]["rooms"],
        json!([{"room": "channel-notifications:c1", "clients": 1},
               {"room": "global-notifications", "clients": 2}])
    );
    drop(b);
    for _ in 0..100 {
        if server.get_json("/health").await["socketio"]["clients"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let health = server.get_json("/health?rooms=1").await;
    assert_eq!(health["socketio"]["clients"], 1);
    assert_eq!(
        health["socketio"]["rooms"],
        json!([{"room": "global-notifications", "clients": 1}])
    );
}

/// A backend that records what the action webhook sends and answers with
/// `answer` (or a 500 when it is null).
/// A webhook request as the backend received it.
#[derive(Clone)]
struct Received {
    body: Value,
    raw: bytes::Bytes,
    timestamp: Option<String>,
    signature: Option<String>,
}

async fn backend(answer: Value) -> (String, Arc<Mutex<Vec<Received>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let app = axum::Router::new().route(
        "/actions",
        post(move |headers: axum::http::HeaderMap, raw: bytes::Bytes| {
            let recorded = recorded.clone();
            let answer = answer.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .map(|value| value.to_str().unwrap().to_owned())
                };
                recorded.lock().push(Received {
                    body: serde_json::from_slice(&raw).unwrap(),
                    timestamp: header("x-herald-timestamp"),
                    signature: header("x-herald-signature"),
                    raw,
                });
                if answer.is_null() {
                    (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        Json(json!({"error": "boom"})),
                    )
                } else {
                    (axum::http::StatusCode::OK, Json(answer))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/actions", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn actions_are_forwarded_to_the_webhook_with_the_callers_identity() {
    let (url, seen) = backend(json!({"balance": 110})).await;
    let server = TestServer::start_with(|c| {
        secured(c);
        c.socketio.action_webhook_url = url;
    })
    .await;
    let mut member = user_client(
        &server,
        "g1",
        json!({"businessId": "b1", "roles": ["guest"]}),
    )
    .await;
    let (ack, _) = member
        .emit_with_ack("action", vec![json!({"type": "redeem", "points": 10})])
        .await;
    assert_eq!(ack[0], json!({"ok": true, "result": {"balance": 110}}));
    let sent = seen.lock().clone();
    assert_eq!(sent.len(), 1);
    let sent = &sent[0].body;
    assert_eq!(sent["event"], "action");
    assert_eq!(sent["data"], json!({"type": "redeem", "points": 10}));
    assert_eq!(sent["user"]["userId"], "g1");
    assert_eq!(sent["user"]["businessId"], "b1");
    assert_eq!(sent["user"]["roles"], json!(["guest"]));
}

#[tokio::test]
async fn webhook_requests_are_signed_when_a_secret_is_set() {
    use hmac::{Hmac, KeyInit, Mac};
    let (url, seen) = backend(json!({"balance": 1})).await;
    let server = TestServer::start_with(|c| {
        c.socketio.action_webhook_url = url.clone();
        c.socketio.action_webhook_secret = "webhook-secret".into();
    })
    .await;
    let (mut client, _) = SioClient::connect_ok(&server.ws_base, None).await;
    let (ack, _) = client
        .emit_with_ack("action", vec![json!({"type": "redeem"})])
        .await;
    assert_eq!(ack[0]["ok"], true);
    let received = seen.lock()[0].clone();
    let timestamp = received.timestamp.expect("X-Herald-Timestamp");
    let now = jsonwebtoken::get_current_timestamp();
    let sent_at: u64 = timestamp.parse().unwrap();
    assert!(now.abs_diff(sent_at) <= 5, "a current timestamp: {sent_at}");
    // The backend's check, written independently of Herald's code.
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"webhook-secret").unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&received.raw);
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(received.signature.as_deref(), Some(expected.as_str()));

    // Without a secret nothing is signed.
    let server = TestServer::start_with(|c| c.socketio.action_webhook_url = url).await;
    let (mut client, _) = SioClient::connect_ok(&server.ws_base, None).await;
    client.emit_with_ack("action", vec![json!({})]).await;
    let unsigned = seen.lock()[1].clone();
    assert_eq!((unsigned.timestamp, unsigned.signature), (None, None));
}

#[tokio::test]
async fn a_failing_or_missing_webhook_is_reported() {
    let (url, _) = backend(Value::Null).await;
    let server = TestServer::start_with(|c| c.socketio.action_webhook_url = url).await;
    let (mut client, _) = SioClient::connect_ok(&server.ws_base, None).await;
    let (ack, _) = client.emit_with_ack("action", vec![json!({})]).await;
    assert_eq!(ack[0]["ok"], false);
    assert_eq!(ack[0]["error"], "action_failed");
    // Without an ack the failure comes as an error event.
    client.emit("action", vec![json!({})]).await;
    assert_eq!(
        client.event_named("error").await.args[0]["code"],
        "action_failed"
    );

    let server = TestServer::start().await;
    let (mut client, _) = SioClient::connect_ok(&server.ws_base, None).await;
    let (ack, _) = client.emit_with_ack("action", vec![json!({})]).await;
    assert_eq!(ack[0]["error"], "action_unavailable");
}

#[tokio::test]
async fn bad_input_closes_only_the_offending_connection() {
    let server = TestServer::start_with(|c| c.socketio.max_payload_bytes = 1000).await;
    let (mut bystander, _) = SioClient::connect_ok(&server.ws_base, None).await;
    bystander
        .emit_with_ack("join-global-notifications", vec![])
        .await;

    // Malformed packets.
    for garbage in ["abc", "4abc", "42{}", "42nope"] {
        let (mut bad, _) = SioClient::connect_ok(&server.ws_base, None).await;
        bad.eio.send(garbage).await;
        assert!(
            matches!(bad.eio.expect_closed().await, Some(1002) | None),
            "{garbage}"
        );
    }
    // A wrong namespace is refused, the connection stays usable.
    let (mut lost, _) = EioSocket::open(&server.ws_base, "/socket.io/").await;
    lost.send("40/admin,").await;
    assert_eq!(
        lost.recv_packet().await,
        Frame::Text(r#"44/admin,{"message":"Invalid namespace"}"#.into())
    );
    // Oversized payloads: a WebSocket frame, and a long-polling POST.
    let (mut big, _) = SioClient::connect_ok(&server.ws_base, None).await;
    big.emit("action", vec![json!("x".repeat(2000))]).await;
    assert_eq!(big.eio.expect_closed().await, Some(1009));
    let (session, _) = Polling::open(&server.base, "/socket.io/").await;
    assert_eq!(
        session
            .post(format!("42[\"{}\"]", "x".repeat(2000)))
            .await
            .0,
        413
    );
    assert_eq!(session.get().await.0, 400, "the session is gone");

    server
        .publish(
            "global-notifications",
            "system_alert",
            json!({"still": "here"}),
        )
        .await;
    let event = bystander.event_named("system_alert").await;
    assert_eq!(event.args[0], json!({"still": "here"}));
}

#[tokio::test]
async fn polling_clients_receive_broadcasts_and_events_sent_with_connect() {
    let server = TestServer::start().await;
    let (session, _) = Polling::open(&server.base, "/socket.io/").await;
    // CONNECT and a join in one payload: the join is handled once connected.
    assert_eq!(
        session
            .post("40\x1e420[\"join-global-notifications\"]")
            .await
            .0,
        200
    );
    let packets = session.poll_at_least(3).await;
    assert!(packets[0].starts_with("40{"), "{packets:?}");
    assert!(packets[1].starts_with("42[\"connected\""), "{packets:?}");
    assert_eq!(
        packets[2],
        r#"430[{"ok":true,"room":"global-notifications"}]"#
    );
    server
        .publish("global-notifications", "system_alert", json!({"n": 1}))
        .await;
    let packets = session.poll_packets().await;
    assert!(
        packets[0].starts_with(r#"42["system_alert",{"n":1},""#),
        "{packets:?}"
    );
}

#[tokio::test]
async fn a_polling_client_that_stops_fetching_is_closed_by_the_bytes_it_holds_back() {
    let server = TestServer::start().await;
    let (session, _) = Polling::open(&server.base, "/socket.io/").await;
    session
        .post("40\x1e420[\"join-global-notifications\"]")
        .await;
    session.poll_at_least(3).await;
    let (mut fast, _) = SioClient::connect_ok(&server.ws_base, None).await;
    fast.emit_with_ack("join-global-notifications", vec![])
        .await;

    // Eight 600 KB broadcasts: far below the 1,024-packet bound, above the
    // 4 MiB one, while the polling client sends no GET.
    let pad = "x".repeat(600_000);
    for n in 0..8 {
        server
            .publish("global-notifications", "big", json!({"n": n, "pad": pad}))
            .await;
    }
    for n in 0..8 {
        assert_eq!(fast.event_named("big").await.args[0]["n"], n);
    }

    // The session was closed as a slow consumer: it is gone, and the
    // client's next GET tells it to reconnect.
    assert_eq!(session.get().await.0, 400);
}

#[tokio::test]
async fn the_message_rate_is_limited_per_connection() {
    let server = TestServer::start_with(|c| {
        c.limits.messages_per_second = 1;
        c.limits.message_burst = 2;
    })
    .await;
    let (mut client, _) = SioClient::connect_ok(&server.ws_base, None).await;
    client.event_named("connected").await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        let (ack, _) = client
            .emit_with_ack("join-global-notifications", vec![])
            .await;
        codes.push(ack[0]["error"].as_str().unwrap_or("ok").to_owned());
    }
    assert_eq!(codes, ["ok", "ok", "rate_limited"]);
}

#[tokio::test]
async fn an_expiring_token_is_told_then_disconnected() {
    let server = TestServer::start_with(secured).await;
    let exp = jsonwebtoken::get_current_timestamp() + 2;
    let token = tokens::hs256(&json!({"sub": "u1", "exp": exp}));
    let (mut client, _) =
        SioClient::connect_ok(&server.ws_base, Some(json!({"token": token}))).await;
    client.event_named("connected").await;
    let told = tokio::time::timeout(Duration::from_secs(5), client.next_event())
        .await
        .unwrap();
    assert_eq!(told.name, "error");
    assert_eq!(told.args[0]["code"], "token_expired");
    // Then DISCONNECT for the namespace: the client stops until it connects
    // again with a fresh token.
    assert_eq!(client.recv_socketio().await, "1");
}

#[tokio::test]
async fn a_fresh_token_sent_as_refresh_keeps_the_socket_past_the_old_expiry() {
    let server = TestServer::start_with(secured).await;
    let now = jsonwebtoken::get_current_timestamp();
    let short = tokens::hs256(&json!({"sub": "u1", "exp": now + 4}));
    let (mut client, _) =
        SioClient::connect_ok(&server.ws_base, Some(json!({"token": short}))).await;
    client.event_named("connected").await;
    let (ack, _) = client
        .emit_with_ack("join-global-notifications", vec![])
        .await;
    assert_eq!(ack[0]["ok"], true);

    // Refusals keep the socket and say why.
    let (ack, _) = client.emit_with_ack("refresh", vec![json!({})]).await;
    assert_eq!(ack[0], json!({"ok": false, "error": "token_missing"}));
    let (ack, _) = client
        .emit_with_ack("refresh", vec![json!({"token": "garbage"})])
        .await;
    assert_eq!(ack[0], json!({"ok": false, "error": "token_invalid"}));
    let other = tokens::hs256(&json!({"sub": "u2", "exp": now + 60}));
    let (ack, _) = client
        .emit_with_ack("refresh", vec![json!({"token": other})])
        .await;
    assert_eq!(ack[0], json!({"ok": false, "error": "user_mismatch"}));

    // The same user's fresh token moves the expiry; a bare string works too.
    let fresh = tokens::hs256(&json!({"sub": "u1", "exp": now + 60}));
    let (ack, _) = client.emit_with_ack("refresh", vec![json!(fresh)]).await;
    assert_eq!(ack[0], json!({"ok": true, "expiresAt": now + 60}));

    tokio::time::sleep(Duration::from_secs(5)).await;
    server
        .publish("global-notifications", "system_alert", json!({"n": 1}))
        .await;
    let event = client.next_event().await;
    assert_eq!(
        (event.name.as_str(), &event.args[0]),
        ("system_alert", &json!({"n": 1})),
        "the socket outlived its first token and still receives its rooms"
    );
}

#[tokio::test]
async fn a_refused_origin_cannot_open_a_session() {
    let server = TestServer::start_with(|c| c.cors_origin = "https://app.example".into()).await;
    let response = reqwest::Client::new()
        .get(server.url("/socket.io/?EIO=4&transport=polling"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = reqwest::Client::new()
        .get(server.url("/socket.io/?EIO=4&transport=polling"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

#[tokio::test]
async fn the_inbox_answers_pushes_on_the_users_room() {
    let server = TestServer::start_with(secured).await;
    let mut member = user_client(&server, "u1", json!({})).await;
    let (ack, _) = member
        .emit_with_ack(
            "push",
            vec![json!({"topic": "user:u1", "event": "unread_count"})],
        )
        .await;
    assert_eq!(ack[0]["error"], "not_joined", "only on a joined room");
    member
        .emit_with_ack("subscribe", vec![json!({"channel": "user"})])
        .await;

    let (status, _) = server
        .post(
            "/api/users/u1/notifications",
            json!({"type": "points_added", "title": "10 points"}),
        )
        .await;
    assert_eq!(status, 201);
    let live = member.event_named("notification").await;
    assert_eq!(live.args[0]["title"], "10 points");

    let (ack, _) = member
        .emit_with_ack(
            "push",
            vec![json!({"topic": "user:u1", "event": "list", "payload": {}})],
        )
        .await;
    assert_eq!(ack[0]["ok"], true);
    let listed = &ack[0]["response"]["notifications"];
    assert_eq!(listed[0]["title"], "10 points");
    let id = listed[0]["id"].clone();
    let (ack, _) = member
        .emit_with_ack(
            "push",
            vec![json!({"topic": "user:u1", "event": "mark_read", "payload": {"id": id}})],
        )
        .await;
    assert_eq!(ack[0]["ok"], true);
    let (ack, _) = member
        .emit_with_ack(
            "push",
            vec![json!({"topic": "user:u1", "event": "mark_read", "payload": {"id": "999999"}})],
        )
        .await;
    assert_eq!(
        (&ack[0]["ok"], &ack[0]["error"]),
        (&json!(false), &json!("not_found"))
    );
    let (ack, _) = member
        .emit_with_ack("push", vec![json!({"topic": "user:u1", "event": "dance"})])
        .await;
    assert_eq!(ack[0]["error"], "unhandled_event");
}

#[tokio::test]
async fn shutdown_closes_socket_io_connections_so_clients_reconnect_elsewhere() {
    let mut server = TestServer::start().await;
    let (mut websocket, _) = SioClient::connect_ok(&server.ws_base, None).await;
    let (session, _) = Polling::open(&server.base, "/socket.io/").await;
    let waiting_poll = tokio::spawn(async move { session.get().await });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let serving = server.begin_shutdown();
    // No Socket.IO DISCONNECT (that would stop the client from reconnecting):
    // the engine connection closes with 1001.
    assert_eq!(websocket.eio.expect_closed().await, Some(1001));
    let (status, body) = waiting_poll.await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "1"),
        "the waiting poll gets a close packet"
    );
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("serve returns after shutdown")
        .unwrap()
        .unwrap();
}
