//! Engine.IO v4, case by case as the official `engine.io-protocol` test
//! suite checks a server (written here from the protocol specification):
//! handshakes, messages, heartbeat, close and upgrade, over long-polling and
//! WebSocket. Run against the conformance server: raw Engine.IO echo at
//! `/engine.io/`, and the same transport cases under Socket.IO at
//! `/socket.io/`.

mod common;

use std::time::Duration;

use common::sio::{ConformanceServer, EioSocket, Frame, Polling};
use serde_json::json;

const PATHS: [&str; 2] = ["/engine.io/", "/socket.io/"];
const PING_INTERVAL: Duration = Duration::from_millis(300);
const PING_TIMEOUT: Duration = Duration::from_millis(200);

async fn status_of(url: &str, method: reqwest::Method) -> u16 {
    reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn polling_handshake_announces_the_session() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (_, open) = Polling::open(&server.base, path).await;
        let mut keys: Vec<&str> = open
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "maxPayload",
                "pingInterval",
                "pingTimeout",
                "sid",
                "upgrades"
            ]
        );
        assert!(open["sid"].is_string());
        assert_eq!(open["upgrades"], json!(["websocket"]));
        assert_eq!(open["pingInterval"], 300);
        assert_eq!(open["pingTimeout"], 200);
        assert_eq!(open["maxPayload"], 1_000_000);
    }
}

#[tokio::test]
async fn polling_handshake_refuses_bad_queries_and_methods() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let url = |query: &str| format!("{}{path}?{query}", server.base);
        for query in [
            "transport=polling",
            "EIO=abc&transport=polling",
            "EIO=3&transport=polling",
        ] {
            assert_eq!(
                status_of(&url(query), reqwest::Method::GET).await,
                400,
                "{query}"
            );
        }
        for query in ["EIO=4", "EIO=4&transport=abc"] {
            assert_eq!(
                status_of(&url(query), reqwest::Method::GET).await,
                400,
                "{query}"
            );
        }
        let handshake = url("EIO=4&transport=polling");
        assert_eq!(status_of(&handshake, reqwest::Method::POST).await, 400);
        assert_eq!(status_of(&handshake, reqwest::Method::PUT).await, 400);
        let unknown = url("EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(status_of(&unknown, reqwest::Method::GET).await, 400);
    }
}

#[tokio::test]
async fn websocket_handshake_announces_no_upgrades() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (_, open) = EioSocket::open(&server.ws_base, path).await;
        assert!(open["sid"].is_string());
        assert_eq!(open["upgrades"], json!([]));
        assert_eq!(open["pingInterval"], 300);
        assert_eq!(open["pingTimeout"], 200);
        assert_eq!(open["maxPayload"], 1_000_000);
    }
}

#[tokio::test]
async fn websocket_handshake_refuses_bad_queries() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        for query in [
            "transport=websocket",
            "EIO=abc&transport=websocket",
            "EIO=4",
            "EIO=4&transport=abc",
        ] {
            let url = format!("{}{path}?{query}", server.ws_base);
            assert_eq!(EioSocket::try_open(&url).await.err(), Some(400), "{query}");
        }
    }
}

#[tokio::test]
async fn polling_carries_text_and_binary_packets_both_ways() {
    let server = ConformanceServer::start().await;
    for payload in [
        "4hello",
        "4test1\x1e4test2\x1e4test3",
        "4hello\x1ebAQIDBA==",
    ] {
        let (session, _) = Polling::open(&server.base, "/engine.io/").await;
        assert_eq!(session.post(payload).await, (200, "ok".into()));
        assert_eq!(session.get().await, (200, payload.into()));
    }
}

#[tokio::test]
async fn polling_closes_the_session_on_a_malformed_payload() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (session, _) = Polling::open(&server.base, path).await;
        assert_eq!(session.post("abc").await.0, 400);
        assert_eq!(session.get().await.0, 400);
    }
}

#[tokio::test]
async fn polling_closes_the_session_on_overlapping_gets() {
    let server = ConformanceServer::start().await;
    let (session, _) = Polling::open(&server.base, "/engine.io/").await;
    let (first, second) = tokio::join!(session.get(), async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        session.get().await
    });
    assert_eq!(
        first,
        (200, "1".into()),
        "the waiting GET gets a close packet"
    );
    assert_eq!(second.0, 400);
    assert_eq!(session.get().await.0, 400);
}

#[tokio::test]
async fn polling_closes_the_session_when_a_get_is_abandoned() {
    let server = ConformanceServer::start().await;
    let (session, _) = Polling::open(&server.base, "/engine.io/").await;
    // A raw connection, so dropping it really closes it.
    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let path = session.url.trim_start_matches(&server.base);
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(stream);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(session.get().await.0, 400);
}

#[tokio::test]
async fn websocket_echoes_text_and_binary_and_closes_on_garbage() {
    let server = ConformanceServer::start().await;
    let (mut socket, _) = EioSocket::open(&server.ws_base, "/engine.io/").await;
    socket.send("4hello").await;
    assert_eq!(socket.recv().await, Frame::Text("4hello".into()));
    socket.send_binary(&[1, 2, 3, 4]).await;
    assert_eq!(socket.recv().await, Frame::Binary(vec![1, 2, 3, 4]));
    socket.send("abc").await;
    assert!(matches!(socket.recv().await, Frame::Closed(_)));
}

#[tokio::test]
async fn polling_heartbeat_pings_and_expects_pongs() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (session, _) = Polling::open(&server.base, path).await;
        for _ in 0..3 {
            assert_eq!(session.get().await, (200, "2".into()));
            assert_eq!(session.post("3").await.0, 200);
        }
    }
}

#[tokio::test]
async fn polling_session_ends_on_ping_timeout() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (session, _) = Polling::open(&server.base, path).await;
        tokio::time::sleep(PING_INTERVAL + PING_TIMEOUT).await;
        assert_eq!(session.get().await.0, 400);
    }
}

#[tokio::test]
async fn websocket_heartbeat_pings_and_closes_without_pongs() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (mut socket, _) = EioSocket::open(&server.ws_base, path).await;
        for _ in 0..3 {
            assert_eq!(socket.recv().await, Frame::Text("2".into()));
            socket.send("3").await;
        }
        let (mut silent, _) = EioSocket::open(&server.ws_base, path).await;
        assert_eq!(silent.recv().await, Frame::Text("2".into()));
        // Measured from the ping: the server waits the whole timeout.
        let pinged = tokio::time::Instant::now();
        assert!(matches!(silent.recv().await, Frame::Closed(_)));
        assert!(pinged.elapsed() + Duration::from_millis(20) >= PING_TIMEOUT);
    }
}

#[tokio::test]
async fn a_client_close_packet_ends_the_session() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (session, _) = Polling::open(&server.base, path).await;
        let (poll, push) = tokio::join!(session.get(), session.post("1"));
        assert_eq!(push.0, 200);
        assert_eq!(poll, (200, "6".into()), "the waiting GET gets a noop");
        assert_eq!(session.get().await.0, 400);

        let (mut socket, _) = EioSocket::open(&server.ws_base, path).await;
        socket.send("1").await;
        assert!(matches!(socket.recv().await, Frame::Closed(_)));
    }
}

/// On the echo endpoint, a message comes straight back over the socket.
async fn assert_echoes(socket: &mut EioSocket, path: &str) {
    if path == "/engine.io/" {
        socket.send("4hello").await;
        assert_eq!(socket.recv().await, Frame::Text("4hello".into()));
    }
}

/// Open a WebSocket for polling session `sid` and send the probe and the
/// upgrade packet at once, without waiting (as the suites do).
async fn rushed_upgrade(server: &ConformanceServer, path: &str, sid: &str) -> EioSocket {
    let mut socket = upgrade_socket(server, path, sid).await;
    socket.send("2probe").await;
    socket.send("5").await;
    socket
}

async fn upgrade_socket(server: &ConformanceServer, path: &str, sid: &str) -> EioSocket {
    let url = format!(
        "{}{path}?EIO=4&transport=websocket&sid={sid}",
        server.ws_base
    );
    EioSocket::try_open(&url).await.unwrap()
}

#[tokio::test]
async fn polling_upgrades_to_websocket() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (session, _) = Polling::open(&server.base, path).await;
        let mut socket = upgrade_socket(&server, path, &session.sid).await;
        socket.send("2probe").await;
        assert_eq!(socket.recv().await, Frame::Text("3probe".into()));
        // The paused poll is released with a noop.
        assert_eq!(session.get().await, (200, "6".into()));
        socket.send("5").await;
        assert_echoes(&mut socket, path).await;
    }
}

#[tokio::test]
async fn a_waiting_poll_is_released_by_the_probe() {
    let server = ConformanceServer::start().await;
    let (session, _) = Polling::open(&server.base, "/engine.io/").await;
    let mut socket = upgrade_socket(&server, "/engine.io/", &session.sid).await;
    let (poll, ()) = tokio::join!(session.get(), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        socket.send("2probe").await;
        assert_eq!(socket.recv().await, Frame::Text("3probe".into()));
    });
    assert_eq!(poll, (200, "6".into()));
    socket.send("5").await;
    socket.send("4after").await;
    assert_eq!(socket.recv().await, Frame::Text("4after".into()));
}

#[tokio::test]
async fn after_an_upgrade_polling_requests_are_refused() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (session, _) = Polling::open(&server.base, path).await;
        let mut socket = rushed_upgrade(&server, path, &session.sid).await;
        assert_eq!(session.get().await.0, 400);
        assert_eq!(session.post("4x").await.0, 400);
        assert_eq!(socket.recv().await, Frame::Text("3probe".into()));
        assert_echoes(&mut socket, path).await;
    }
}

#[tokio::test]
async fn after_an_upgrade_a_second_websocket_is_refused() {
    let server = ConformanceServer::start().await;
    for path in PATHS {
        let (session, _) = Polling::open(&server.base, path).await;
        let mut socket = rushed_upgrade(&server, path, &session.sid).await;
        assert_eq!(socket.recv().await, Frame::Text("3probe".into()));
        let url = format!(
            "{}{path}?EIO=4&transport=websocket&sid={}",
            server.ws_base, session.sid
        );
        assert_eq!(EioSocket::try_open(&url).await.err(), Some(400));
        assert_echoes(&mut socket, path).await;
    }
}

#[tokio::test]
async fn packets_queued_for_polling_arrive_over_the_websocket_after_an_upgrade() {
    let server = ConformanceServer::start().await;
    let (session, _) = Polling::open(&server.base, "/engine.io/").await;
    // Echoed into the polling queue, never fetched by a GET.
    assert_eq!(session.post("4queued").await.0, 200);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut socket = upgrade_socket(&server, "/engine.io/", &session.sid).await;
    socket.send("2probe").await;
    assert_eq!(socket.recv().await, Frame::Text("3probe".into()));
    socket.send("5").await;
    assert_eq!(socket.recv().await, Frame::Text("4queued".into()));
}
