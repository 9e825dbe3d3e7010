//! The inbox over Phoenix sockets, on SQLite and on PostgreSQL: live
//! delivery to every device of a user, `unread_count` after each change, and
//! the inbox operations as channel events with replies.

#[macro_use]
mod common;

use common::{Engine, Frame, PhxClient, TestServer, Vsn};
use serde_json::{Value, json};

on_both_engines!(
    every_device_gets_notifications_and_unread_counts,
    inbox_operations_answer_over_the_socket,
);

/// Skip frames until one with `event`.
/// The join ref of a joined channel, which its replies and pushes carry.
fn join_ref_of(joined: common::Frame) -> String {
    joined.join_ref.as_str().unwrap().to_owned()
}

async fn next_event(client: &mut PhxClient, event: &str) -> Frame {
    loop {
        let frame = client.next_frame().await;
        if frame.event == event {
            return frame;
        }
    }
}

/// Push `event` on `topic` and return the reply's `(status, response)`.
async fn call(
    client: &mut PhxClient,
    join_ref: &str,
    topic: &str,
    event: &str,
    payload: Value,
) -> (String, Value) {
    let msg_ref = client.push(Some(join_ref), topic, event, payload).await;
    let reply = client.expect_reply(&msg_ref).await;
    (
        reply.payload["status"].as_str().unwrap().to_owned(),
        reply.payload["response"].clone(),
    )
}

async fn every_device_gets_notifications_and_unread_counts(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    // A phone (V2) and a browser (V1) of the same user.
    let mut phone = PhxClient::connect(&server, Vsn::V2).await;
    let mut browser = PhxClient::connect(&server, Vsn::V1).await;
    let phone_join = join_ref_of(phone.join_ok("user:u1").await);
    browser.join_ok("user:u1").await;
    server.wait_for_subscribers("user:u1", 2).await;

    let (status, sent) = server
        .post(
            "/api/users/u1/notifications",
            json!({"type": "points_added", "title": "+10"}),
        )
        .await;
    assert_eq!(status, 201);
    for device in [&mut phone, &mut browser] {
        let live = next_event(device, "notification").await;
        assert_eq!(live.topic, "user:u1");
        assert_eq!(
            live.payload, sent,
            "the stored notification, as the producer got it"
        );
        let count = next_event(device, "unread_count").await;
        assert_eq!(count.payload, json!({"count": 1}));
    }
    let second = server
        .post(
            "/api/users/u1/notifications",
            json!({"type": "points_added"}),
        )
        .await
        .1;
    for device in [&mut phone, &mut browser] {
        assert_eq!(
            next_event(device, "unread_count").await.payload,
            json!({"count": 2})
        );
    }

    // Read on the phone: the browser's badge follows.
    let id = sent["id"].as_str().unwrap();
    let (status, response) = call(
        &mut phone,
        &phone_join,
        "user:u1",
        "mark_read",
        json!({"id": id}),
    )
    .await;
    assert_eq!(status, "ok", "{response}");
    assert!(response["notification"]["readAt"].is_string());
    for device in [&mut phone, &mut browser] {
        assert_eq!(
            next_event(device, "unread_count").await.payload,
            json!({"count": 1})
        );
    }
    // Over HTTP (another door): the devices follow too.
    let path = format!(
        "/api/users/u1/notifications/{}/archive",
        second["id"].as_str().unwrap()
    );
    assert_eq!(server.post(&path, json!({})).await.0, 200);
    for device in [&mut phone, &mut browser] {
        assert_eq!(
            next_event(device, "unread_count").await.payload,
            json!({"count": 0})
        );
    }
    // Another user's notification reaches neither.
    server
        .post("/api/users/u2/notifications", json!({"type": "t"}))
        .await;
    phone
        .expect_silence(std::time::Duration::from_millis(200))
        .await;
}

async fn inbox_operations_answer_over_the_socket(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (_, sent) = server
            .post(
                "/api/users/u1/notifications",
                json!({"type": "t", "data": {"n": n}}),
            )
            .await;
        ids.push(sent["id"].as_str().unwrap().to_owned());
    }
    let theirs = server
        .post("/api/users/u2/notifications", json!({"type": "t"}))
        .await
        .1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    let join = join_ref_of(client.join_ok("user:u1").await);
    let topic = "user:u1";

    let (status, count) = call(&mut client, &join, topic, "unread_count", json!({})).await;
    assert_eq!((status.as_str(), count), ("ok", json!({"count": 3})));

    let (status, page) = call(&mut client, &join, topic, "list", json!({"limit": 2})).await;
    assert_eq!(status, "ok");
    let listed: Vec<&str> = page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()]);
    let cursor = page["nextCursor"].as_str().unwrap().to_owned();
    let (_, rest) = call(&mut client, &join, topic, "list", json!({"cursor": cursor})).await;
    assert_eq!(rest["notifications"][0]["id"], ids[0]);
    assert_eq!(rest["nextCursor"], Value::Null);

    let (status, archived) =
        call(&mut client, &join, topic, "archive", json!({"id": ids[0]})).await;
    assert_eq!(status, "ok");
    assert!(archived["notification"]["archivedAt"].is_string());
    let (status, _) = call(&mut client, &join, topic, "delete", json!({"id": ids[1]})).await;
    assert_eq!(status, "ok");
    let (status, all) = call(&mut client, &join, topic, "mark_all_read", json!({})).await;
    assert_eq!((status.as_str(), all), ("ok", json!({"updated": 1})));
    let (status, seen) = call(&mut client, &join, topic, "mark_all_seen", json!({})).await;
    assert_eq!(status, "ok", "{seen}");
    let (_, unread) = call(
        &mut client,
        &join,
        topic,
        "list",
        json!({"status": "unread"}),
    )
    .await;
    assert_eq!(unread["notifications"], json!([]));

    // Errors reply with the HTTP API's codes.
    let (status, missing) = call(&mut client, &join, topic, "delete", json!({"id": ids[1]})).await;
    assert_eq!(
        (status.as_str(), missing["reason"].as_str()),
        ("error", Some("not_found"))
    );
    let (status, other) = call(
        &mut client,
        &join,
        topic,
        "mark_read",
        json!({"id": theirs}),
    )
    .await;
    assert_eq!(
        (status.as_str(), other["reason"].as_str()),
        ("error", Some("not_found"))
    );
    let (status, bad) = call(&mut client, &join, topic, "list", json!({"status": "new"})).await;
    assert_eq!(
        (status.as_str(), bad["reason"].as_str()),
        ("error", Some("invalid_field"))
    );
    let (status, unknown) = call(&mut client, &join, topic, "explode", json!({})).await;
    assert_eq!(status, "error");
    assert_eq!(
        unknown,
        json!({"reason": "unhandled event", "event": "explode"})
    );
    // Pushing on a topic not joined is refused before any service sees it.
    let (status, unjoined) = call(&mut client, &join, "user:u2", "list", json!({})).await;
    assert_eq!(
        (status.as_str(), unjoined),
        ("error", json!({"reason": "unmatched topic"}))
    );
}
