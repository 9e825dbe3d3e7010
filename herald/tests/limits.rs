//! Abuse limits: each one triggered, with a clear error, a counter, and
//! other clients unaffected. (Frame size and channels per socket are in
//! `bad_input.rs` and `phoenix_channels.rs`.)

mod common;

use std::time::Duration;

use common::tokens::{self, SECRET, claims};
use common::{PhxClient, Received, TestServer, Vsn};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn token_for(user: &str) -> String {
    format!("&token={}", tokens::hs256(&claims(user, json!({}))))
}

#[tokio::test]
async fn connections_per_user_are_capped() {
    let server = TestServer::start_with(|c| {
        c.auth.jwt_secret = Some(SECRET.into());
        c.limits.max_connections_per_user = 2;
    })
    .await;
    let first = PhxClient::connect_query(&server, Vsn::V2, &token_for("ann")).await;
    let _second = PhxClient::connect_query(&server, Vsn::V2, &token_for("ann")).await;
    let before = server.limit_hits("connections_per_user").await;
    let third = PhxClient::try_connect(&server, Vsn::V2, &token_for("ann"), &[]).await;
    let Err((status, body)) = third else {
        panic!("a third connection was let in")
    };
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (429, json!("too_many_user_connections"))
    );
    assert_eq!(server.limit_hits("connections_per_user").await, before + 1);
    // Another user is not affected.
    let mut ben = PhxClient::connect_query(&server, Vsn::V2, &token_for("ben")).await;
    ben.join_ok("user:ben").await;
    // A slot frees when a connection closes.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match PhxClient::try_connect(&server, Vsn::V2, &token_for("ann"), &[]).await {
            Ok(_) => break,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(refused) => panic!("slot never freed: {refused:?}"),
        }
    }
}

#[tokio::test]
async fn connections_per_ip_are_capped() {
    let server = TestServer::start_with(|c| c.limits.max_connections_per_ip = 3).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(PhxClient::connect(&server, Vsn::V2).await);
    }
    let Err((status, body)) = PhxClient::try_connect(&server, Vsn::V2, "", &[]).await else {
        panic!("a fourth connection was let in")
    };
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (429, json!("too_many_ip_connections"))
    );
    // The connections already open keep working.
    clients[0].join_ok("room:1").await;
    server.publish("room:1", "hello", json!({})).await;
    assert_eq!(clients[0].next_frame().await.event, "hello");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_per_ip_limit_counts_forwarded_clients() {
    let forwarded = |ip: &'static str| [("x-forwarded-for", ip)];
    let behind_proxy = TestServer::start_with(|c| {
        c.limits.max_connections_per_ip = 1;
        c.limits.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    // Two clients behind the same proxy (loopback here) each get their slot...
    let mut open = Vec::new();
    for client in ["203.0.113.7", "203.0.113.8"] {
        let connected =
            PhxClient::try_connect(&behind_proxy, Vsn::V2, "", &forwarded(client)).await;
        open.push(connected.expect("a client of its own behind the proxy"));
    }
    // ...and the limit still holds per client.
    let refused = PhxClient::try_connect(&behind_proxy, Vsn::V2, "", &forwarded("203.0.113.7"))
        .await
        .err()
        .expect("the same client twice");
    assert_eq!(refused.1["error"]["code"], "too_many_ip_connections");

    // Without trust, the header changes nothing: loopback is one address.
    let direct = TestServer::start_with(|c| c.limits.max_connections_per_ip = 1).await;
    let _first = PhxClient::try_connect(&direct, Vsn::V2, "", &forwarded("203.0.113.7"))
        .await
        .expect("first connection");
    let refused = PhxClient::try_connect(&direct, Vsn::V2, "", &forwarded("203.0.113.8"))
        .await
        .err()
        .expect("an untrusted peer cannot pick its address");
    assert_eq!(refused.0, 429);
}

#[tokio::test]
async fn a_flooding_client_is_rate_limited_and_others_are_not() {
    let server = TestServer::start_with(|c| {
        c.limits.messages_per_second = 5;
        c.limits.message_burst = 5;
    })
    .await;
    let mut flooder = PhxClient::connect(&server, Vsn::V2).await;
    let mut calm = PhxClient::connect(&server, Vsn::V2).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = flooder.push(None, "phoenix", "heartbeat", json!({})).await;
        let reply = flooder.expect_reply(&r).await;
        statuses.push(
            reply.payload["response"]["reason"]
                .as_str()
                .unwrap_or("ok")
                .to_owned(),
        );
    }
    assert_eq!(&statuses[..5], ["ok"; 5]);
    assert!(
        statuses[5..].iter().all(|s| s == "rate_limited"),
        "{statuses:?}"
    );
    assert!(server.limit_hits("message_rate").await >= 3);
    let r = calm.push(None, "phoenix", "heartbeat", json!({})).await;
    assert_eq!(calm.expect_reply(&r).await.payload["status"], "ok");
    // The bucket refills: after a pause the flooder may speak again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = flooder.push(None, "phoenix", "heartbeat", json!({})).await;
    assert_eq!(flooder.expect_reply(&r).await.payload["status"], "ok");
}

#[tokio::test]
async fn a_connection_that_never_sends_its_handshake_is_closed() {
    let server = TestServer::start_with(|c| c.limits.handshake_timeout_secs = 1).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut silent = tokio::net::TcpStream::connect(&address).await.unwrap();
    // A slow-loris: half a request head, then nothing.
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /socket/websocket HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Meanwhile a well-behaved client connects and stays connected.
    let mut good = PhxClient::connect(&server, Vsn::V2).await;
    good.join_ok("room:1").await;
    for stream in [&mut silent, &mut slow] {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => {}
            Ok(Ok(n)) => panic!("expected the connection to close, got {n} bytes"),
            Err(_) => panic!("the connection was not closed"),
        }
    }
    assert!(server.limit_hits("handshake_timeout").await >= 2);
    // The established socket outlives the deadline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = good.push(None, "phoenix", "heartbeat", json!({})).await;
    assert_eq!(good.expect_reply(&r).await.payload["status"], "ok");
}

#[tokio::test]
async fn sockets_from_disallowed_origins_are_refused() {
    let server = TestServer::start_with(|c| {
        c.cors_origin = "https://app.example, https://admin.example".into()
    })
    .await;
    let refused =
        PhxClient::try_connect(&server, Vsn::V2, "", &[("origin", "https://evil.example")]).await;
    let Err((status, body)) = refused else {
        panic!("a disallowed origin was let in")
    };
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("origin_not_allowed"))
    );
    let allowed =
        PhxClient::try_connect(&server, Vsn::V2, "", &[("origin", "https://admin.example")]).await;
    assert!(allowed.is_ok());
    // Non-browser clients send no Origin and are not affected.
    PhxClient::connect(&server, Vsn::V2).await;
    // CORS on HTTP answers only the allowed origins.
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, server.url("/api/publish"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let evil = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, server.url("/api/publish"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn refused_joins_are_counted_and_the_socket_lives_on() {
    let server = TestServer::start_with(|c| c.auth.jwt_secret = Some(SECRET.into())).await;
    let mut client = PhxClient::connect_query(&server, Vsn::V2, &token_for("ann")).await;
    let refused = client.join("user:ben", json!({})).await;
    assert_eq!(refused.payload["response"]["reason"], "unauthorized");
    assert_eq!(server.limit_hits("join_denied").await, 1);
    client.join_ok("user:ann").await;
    assert!(matches!(
        client.next_within(Duration::from_millis(100)).await,
        None | Some(Received::Frame(_))
    ));
}

#[tokio::test]
async fn a_bad_trusted_proxy_range_stops_herald_at_start() {
    let mut config = herald::config::Config::default();
    config.limits.trusted_proxies = vec!["10.0.0.0/99".into()];
    let Err(err) = herald::server::Herald::open(config).await else {
        panic!("Herald started with an unusable trusted proxy range");
    };
    assert!(err.to_string().contains("10.0.0.0/99"), "{err}");
}
