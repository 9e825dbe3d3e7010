//! The HTTP API over real HTTP: resource notifications, publish, broadcast,
//! health, and the JSON errors for bad requests.

mod common;

use common::{PhxClient, TestServer, Vsn};
use serde_json::{Value, json};

fn notification() -> Value {
    json!({
        "type": "resource_created", "resourceType": "reservation",
        "businessId": "b1", "locationId": "l1", "resourceId": "r1",
        "shardId": "s1", "timestamp": "2026-11-22T10:00:00Z"
    })
}

#[tokio::test]
async fn a_resource_notification_reaches_both_topics_unchanged() {
    let server = TestServer::start().await;
    let mut location = PhxClient::connect(&server, Vsn::V2).await;
    let mut business = PhxClient::connect(&server, Vsn::V1).await;
    location.join_ok("resources:b1-l1").await;
    business.join_ok("resources:b1").await;

    let (status, body) = server.post("/api/notifications", notification()).await;
    assert_eq!(status, 202);
    assert_eq!(body["published"], 2);
    assert_eq!(body["topics"], json!(["resources:b1-l1", "resources:b1"]));
    assert_eq!(body["delivered"], 2);

    for (client, topic) in [
        (&mut location, "resources:b1-l1"),
        (&mut business, "resources:b1"),
    ] {
        let frame = client.next_frame().await;
        assert_eq!(frame.topic, topic);
        assert_eq!(frame.event, "resource_update");
        assert_eq!(frame.payload, notification());
    }
}

#[tokio::test]
async fn a_bad_notification_is_refused_naming_the_field() {
    let server = TestServer::start().await;
    let mut missing = notification();
    missing.as_object_mut().unwrap().remove("businessId");
    let (status, body) = server.post("/api/notifications", missing).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "missing_field");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("businessId")
    );

    let mut wrong = notification();
    wrong["type"] = json!("resource_vanished");
    let (status, body) = server.post("/api/notifications", wrong).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_field");
    assert!(body["error"]["message"].as_str().unwrap().contains("type"));

    let mut wrong_kind = notification();
    wrong_kind["locationId"] = json!(12);
    let (status, body) = server.post("/api/notifications", wrong_kind).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("locationId")
    );

    let (status, body) = server.post("/api/notifications", json!([1, 2])).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_body");
}

#[tokio::test]
async fn publish_and_broadcast() {
    let server = TestServer::start().await;
    let mut a = PhxClient::connect(&server, Vsn::V2).await;
    let mut b = PhxClient::connect(&server, Vsn::V2).await;
    a.join_ok("channel:a").await;
    b.join_ok("channel:b").await;

    let body = server
        .publish("channel:a", "ping", json!({"x": [1, 2, 3]}))
        .await;
    assert_eq!(body["published"], 1);
    assert_eq!(body["delivered"], 1);
    let frame = a.next_frame().await;
    assert_eq!(
        (frame.event.as_str(), frame.payload.clone()),
        ("ping", json!({"x": [1, 2, 3]}))
    );

    let (status, body) = server
        .post(
            "/api/broadcast",
            json!({"topics": ["channel:a", "channel:b", "channel:a", "nobody"], "event": "all", "payload": {"k": true}}),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(body["published"], 3, "duplicates collapse: {body}");
    assert_eq!(body["delivered"], 2);
    for client in [&mut a, &mut b] {
        let frame = client.next_frame().await;
        assert_eq!(frame.event, "all");
        assert_eq!(frame.payload, json!({"k": true}));
    }
}

#[tokio::test]
async fn publish_validation_errors() {
    let server = TestServer::start().await;
    let cases = [
        (
            "/api/publish",
            json!({"event": "e", "payload": {}}),
            "missing_field",
            "topic",
        ),
        (
            "/api/publish",
            json!({"topic": "t", "payload": {}}),
            "missing_field",
            "event",
        ),
        (
            "/api/publish",
            json!({"topic": "", "event": "e"}),
            "invalid_field",
            "topic",
        ),
        (
            "/api/publish",
            json!({"topic": "t", "event": "phx_close"}),
            "invalid_field",
            "event",
        ),
        (
            "/api/publish",
            json!({"topic": 5, "event": "e"}),
            "invalid_body",
            "topic",
        ),
        (
            "/api/broadcast",
            json!({"event": "e"}),
            "missing_field",
            "topics",
        ),
        (
            "/api/broadcast",
            json!({"topics": [], "event": "e"}),
            "invalid_field",
            "topics",
        ),
        (
            "/api/broadcast",
            json!({"topics": ["ok", "bad topic"], "event": "e"}),
            "invalid_field",
            "topics[1]",
        ),
    ];
    for (path, body, code, mentions) in cases {
        let (status, answer) = server.post(path, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"]["code"], code, "{body} -> {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(mentions),
            "{body} -> {answer}"
        );
    }
}

#[tokio::test]
async fn malformed_bodies_get_json_errors() {
    let server = TestServer::start_with(|c| c.http.max_body_bytes = 1024).await;
    let client = reqwest::Client::new();

    let response = client
        .post(server.url("/api/publish"))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");

    let response = client
        .post(server.url("/api/publish"))
        .body(r#"{"topic":"t","event":"e"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_media_type");

    let big = json!({"topic": "t", "event": "e", "payload": {"x": "y".repeat(5000)}});
    let (status, body) = server.post("/api/publish", big).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");

    let response = client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    // A known route with the wrong method, and a path that is not UTF-8
    // once decoded, get JSON errors too.
    let response = client.get(server.url("/api/publish")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let (status, body) = server.get("/api/users/%FF/notifications").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_path");
}

#[tokio::test]
async fn health_reports_connections_and_topics() {
    let server = TestServer::start().await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    client.join_ok("room:1").await;
    client.join_ok("room:2").await;
    for path in ["/health", "/api/health"] {
        let body: Value = server.get_json(path).await;
        assert_eq!(body["status"], "ok");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(body["connections"], 1);
        assert_eq!(body["topics"], 2);
        assert!(body["uptime_seconds"].is_u64());
    }
}

#[tokio::test]
async fn the_test_page_and_its_assets_are_served() {
    let server = TestServer::start().await;
    for (path, kind) in [
        ("/test", "text/html"),
        ("/test/app.js", "text/javascript"),
        ("/test/app.css", "text/css"),
    ] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
    }
}

#[tokio::test]
async fn metrics_are_exposed_for_prometheus() {
    let server = TestServer::start().await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    client.join_ok("room:1").await;
    server.publish("room:1", "e", json!({})).await;
    client.next_frame().await;
    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for name in [
        "herald_connections",
        "herald_topics",
        "herald_messages_published_total",
        "herald_deliveries_total",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}
