//! Connection state recovery for Socket.IO clients, as socket.io-client
//! does it: the CONNECT reply's `pid`, the position appended to every
//! broadcast, `{pid, offset}` in the CONNECT payload on reconnect. A client
//! that comes back within the window receives exactly what it missed in every
//! room, while publishes race its reconnect; otherwise it gets a fresh
//! session.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::TestServer;
use common::sio::{Event, SioClient};
use herald::config::Config;
use serde_json::{Value, json};

const ROOMS: [&str; 2] = ["global-notifications", "channel-notifications:c1"];

/// Which room a publish goes to: a pattern that switches rooms often, so
/// runs of both interleave in the connection's write order.
fn room_of(n: u64) -> &'static str {
    if n.is_multiple_of(3) || n.is_multiple_of(7) {
        ROOMS[1]
    } else {
        ROOMS[0]
    }
}

/// A client in both rooms, with its `{sid, pid}`.
async fn joined_client(server: &TestServer, auth: Option<Value>) -> (SioClient, Value) {
    let (mut client, reply) = SioClient::connect_ok(&server.ws_base, auth).await;
    client.event_named("connected").await;
    client
        .emit_with_ack("join-global-notifications", vec![])
        .await;
    client
        .emit_with_ack("join-channel-notifications", vec![json!("c1")])
        .await;
    (client, reply)
}

/// What the client has handled: the numbers per room, and the last
/// position it saw (as socket.io-client remembers it).
#[derive(Default)]
struct Handled {
    per_room: BTreeMap<String, Vec<u64>>,
    last_offset: Option<String>,
}

impl Handled {
    fn take(&mut self, event: &Event) {
        assert_eq!(event.name, "notification");
        let n = event.args[0]["n"].as_u64().unwrap();
        self.per_room
            .entry(room_of(n).to_owned())
            .or_default()
            .push(n);
        self.last_offset = Some(event.args[1].as_str().unwrap().to_owned());
    }

    fn count(&self) -> usize {
        self.per_room.values().map(Vec::len).sum()
    }
}

/// A client that joined, received one message in the first room, and went
/// away: its CONNECT reply and the offset it last saw.
async fn gone_after_one_message(server: &TestServer) -> (Value, Value) {
    let (mut client, reply) = joined_client(server, None).await;
    server
        .publish(ROOMS[0], "notification", json!({"n": 1}))
        .await;
    let offset = client.next_event().await.args[1].clone();
    (reply, offset)
}

fn fast_heartbeat(config: &mut Config) {
    // Pings (and so acknowledged positions) several times during the test.
    config.socketio.ping_interval_ms = 100;
    config.socketio.ping_timeout_ms = 2000;
    // Every publish of the test stays recoverable.
    config.history.max_messages = 1000;
}

#[tokio::test]
async fn a_client_that_reconnects_gets_exactly_what_it_missed_in_every_room() {
    const TOTAL: u64 = 300;
    let server = TestServer::start_with(fast_heartbeat).await;
    let (mut client, reply) = joined_client(&server, None).await;
    let pid = reply["pid"].as_str().unwrap().to_owned();

    let publisher = {
        let base = server.base.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for n in 1..=TOTAL {
                let body =
                    json!({"topic": room_of(n), "event": "notification", "payload": {"n": n}});
                let response = http
                    .post(format!("{base}/api/publish"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 202);
            }
        })
    };

    // Handle some, stop reading while broadcasts keep coming (they pile up
    // in socket buffers, written but never handled), then lose the
    // connection with all of that in flight.
    let mut handled = Handled::default();
    while handled.count() < 60 {
        let event = client.next_event().await;
        handled.take(&event);
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    drop(client);

    let mut auth = json!({"pid": pid});
    if let Some(offset) = &handled.last_offset {
        auth["offset"] = json!(offset);
    }
    let (mut client, again) = SioClient::connect_ok(&server.ws_base, Some(auth)).await;
    assert_eq!(again["pid"], reply["pid"], "recovered: same pid");
    assert_eq!(again["sid"], reply["sid"], "recovered: same sid");

    publisher.await.unwrap();
    // Recovered broadcasts come first, then `connected`, then live ones.
    let mut greeted = false;
    while handled.count() < TOTAL as usize || !greeted {
        let event = tokio::time::timeout(Duration::from_secs(5), client.next_event())
            .await
            .unwrap_or_else(|_| panic!("missing messages: have {}", handled.count()));
        if event.name == "connected" {
            greeted = true;
            continue;
        }
        handled.take(&event);
    }
    for room in ROOMS {
        let expected: Vec<u64> = (1..=TOTAL).filter(|n| room_of(*n) == room).collect();
        assert_eq!(
            handled.per_room[room], expected,
            "{room}: no gap, no duplicate"
        );
    }
    client.eio.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_client_back_after_the_window_gets_a_fresh_session() {
    let server = TestServer::start_with(|c| c.socketio.recovery_window_secs = 1).await;
    let (reply, offset) = gone_after_one_message(&server).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let auth = json!({"pid": reply["pid"], "offset": offset});
    let (mut client, again) = SioClient::connect_ok(&server.ws_base, Some(auth)).await;
    assert_ne!(again["pid"], reply["pid"], "not recovered: a new pid");
    assert_ne!(again["sid"], reply["sid"]);
    client.event_named("connected").await;
    server
        .publish(ROOMS[0], "notification", json!({"n": 2}))
        .await;
    client.eio.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_gap_longer_than_the_history_is_not_recovered() {
    let server = TestServer::start_with(|c| c.history.max_messages = 3).await;
    let (reply, offset) = gone_after_one_message(&server).await;
    for n in 2..=10 {
        server
            .publish(ROOMS[0], "notification", json!({"n": n}))
            .await;
    }
    let auth = json!({"pid": reply["pid"], "offset": offset});
    let (_, again) = SioClient::connect_ok(&server.ws_base, Some(auth)).await;
    assert!(
        again["pid"].is_string(),
        "a fresh session with a pid of its own"
    );
    assert_ne!(again["pid"], reply["pid"]);
}

#[tokio::test]
async fn an_unknown_pid_or_another_users_pid_is_not_recovered() {
    let server = TestServer::start_with(|c| {
        c.auth.jwt_secret = Some(common::tokens::SECRET.into());
        c.auth.allow_anonymous = true;
    })
    .await;
    let (_, fresh) = SioClient::connect_ok(
        &server.ws_base,
        Some(json!({"pid": "AAAAAAAAAAAAAAAAAAAAAA", "offset": "x:1"})),
    )
    .await;
    assert_ne!(fresh["pid"], "AAAAAAAAAAAAAAAAAAAAAA");

    let token = |user: &str| common::tokens::hs256(&common::tokens::claims(user, json!({})));
    let (client, reply) = joined_client(&server, Some(json!({"token": token("u1")}))).await;
    drop(client);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let auth = json!({"token": token("u2"), "pid": reply["pid"]});
    let (_, again) = SioClient::connect_ok(&server.ws_base, Some(auth)).await;
    assert_ne!(
        again["pid"], reply["pid"],
        "a session is only recovered by its user"
    );
}

#[tokio::test]
async fn without_recovery_there_is_no_pid_and_no_position() {
    let server = TestServer::start_with(|c| c.socketio.recovery_window_secs = 0).await;
    let (mut client, reply) = joined_client(&server, None).await;
    assert!(reply.get("pid").is_none());
    server
        .publish(ROOMS[0], "notification", json!({"n": 1}))
        .await;
    let event = client.next_event().await;
    assert_eq!(event.args, [json!({"n": 1})]);
}
