//! Who may reach which inbox, with authentication on, on SQLite and on
//! PostgreSQL: producers need an API key to send; a user (their JWT) reaches
//! only their own inbox, over HTTP and over the socket.

#[macro_use]
mod common;

use common::tokens::{self, API_KEY, claims, secured};
use common::{Engine, PhxClient, TestServer, Vsn};
use reqwest::Method;
use serde_json::{Value, json};

on_both_engines!(
    producers_need_an_api_key_to_send,
    a_user_reaches_only_their_own_inbox,
    over_the_socket_the_topic_rule_guards_the_inbox,
);

fn bearer(user: &str) -> String {
    format!("Bearer {}", tokens::hs256(&claims(user, json!({}))))
}

/// A request with exactly the given Authorization header (or none).
async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, server.url(path));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn producers_need_an_api_key_to_send(engine: Engine) {
    let server = TestServer::start_on(engine, secured).await;
    let body = json!({"type": "t"});
    let path = "/api/users/alice/notifications";
    let (status, reply) = call(&server, Method::POST, path, None, Some(body.clone())).await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (401, Some("api_key_required"))
    );
    let alice = bearer("alice");
    let (status, reply) = call(
        &server,
        Method::POST,
        path,
        Some(&alice),
        Some(body.clone()),
    )
    .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (403, Some("producer_key_required")),
        "a user may not send, not even to themself"
    );
    let batch = json!({"userIds": ["alice"], "notification": body});
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/notifications/batch",
        Some(&alice),
        Some(batch.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let key = format!("Bearer {API_KEY}");
    let (status, _) = call(
        &server,
        Method::POST,
        path,
        Some(&key),
        Some(json!({"type": "t"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/notifications/batch",
        Some(&key),
        Some(batch),
    )
    .await;
    assert_eq!(status, 201);
}

async fn a_user_reaches_only_their_own_inbox(engine: Engine) {
    let server = TestServer::start_on(engine, secured).await;
    // TestServer::post sends the API key.
    let (status, bobs) = server
        .post("/api/users/bob/notifications", json!({"type": "t"}))
        .await;
    assert_eq!(status, 201);
    let bobs_id = bobs["id"].as_str().unwrap();
    let (status, alices) = server
        .post("/api/users/alice/notifications", json!({"type": "t"}))
        .await;
    assert_eq!(status, 201);
    let alices_id = alices["id"].as_str().unwrap();
    let alice = bearer("alice");

    let own = "/api/users/alice/notifications";
    let (status, page) = call(&server, Method::GET, own, Some(&alice), None).await;
    assert_eq!(status, 200);
    assert_eq!(page["notifications"][0]["id"], alices_id);
    let (status, count) = call(
        &server,
        Method::GET,
        &format!("{own}/unread-count"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!((status, count), (200, json!({"count": 1})));
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("{own}/{alices_id}/read"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, 200);

    let theirs = "/api/users/bob/notifications";
    let refused = [
        (Method::GET, theirs.to_owned()),
        (Method::GET, format!("{theirs}/unread-count")),
        (Method::GET, format!("{theirs}/{bobs_id}")),
        (Method::POST, format!("{theirs}/{bobs_id}/read")),
        (Method::POST, format!("{theirs}/{bobs_id}/archive")),
        (Method::POST, format!("{theirs}/read-all")),
        (Method::POST, format!("{theirs}/seen-all")),
        (Method::DELETE, format!("{theirs}/{bobs_id}")),
    ];
    for (method, path) in refused {
        let (status, reply) = call(&server, method.clone(), &path, Some(&alice), None).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (403, Some("inbox_forbidden")),
            "{method} {path}"
        );
        let (status, reply) = call(&server, method.clone(), &path, None, None).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (401, Some("credentials_required")),
            "{method} {path}"
        );
    }
    // Bob's notification is untouched; producers reach every inbox.
    let (status, kept) = server.get(&format!("{theirs}/{bobs_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(kept["readAt"], Value::Null);
}

async fn over_the_socket_the_topic_rule_guards_the_inbox(engine: Engine) {
    let server = TestServer::start_on(engine, secured).await;
    server
        .post("/api/users/alice/notifications", json!({"type": "t"}))
        .await;
    let token = tokens::hs256(&claims("alice", json!({})));
    let mut alice = PhxClient::connect_query(&server, Vsn::V2, &format!("&token={token}")).await;
    let refused = alice.join("user:bob", json!({})).await;
    assert_eq!(refused.payload["status"], "error");
    assert_eq!(refused.payload["response"]["reason"], "unauthorized");
    // Not joined, so no inbox event reaches bob's inbox either.
    let msg_ref = alice
        .push(None, "user:bob", "mark_all_read", json!({}))
        .await;
    let reply = alice.expect_reply(&msg_ref).await;
    assert_eq!(reply.payload["response"]["reason"], "unmatched topic");

    let joined = alice.join_ok("user:alice").await;
    let join_ref = joined.join_ref.as_str().unwrap().to_owned();
    let msg_ref = alice
        .push(Some(&join_ref), "user:alice", "unread_count", json!({}))
        .await;
    let reply = alice.expect_reply(&msg_ref).await;
    assert_eq!(reply.payload["status"], "ok");
    assert_eq!(reply.payload["response"], json!({"count": 1}));
}
