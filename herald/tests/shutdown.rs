//! Graceful shutdown: sockets are told (phx_error per channel, so phoenix.js
//! rejoins once it reconnects, then a close frame), in-flight requests
//! finish, and the binary exits 0 on SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{PhxClient, Received, TestServer, Vsn};

#[tokio::test]
async fn every_channel_hears_why_then_the_socket_gets_a_close_frame() {
    let mut server = TestServer::start().await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    let join_a = client.join_ok("room:a").await;
    let join_b = client.join_ok("room:b").await;

    let serving = server.begin_shutdown();
    let mut closed_topics = Vec::new();
    let close = loop {
        match client.next().await {
            Received::Frame(frame) => {
                assert_eq!(frame.event, "phx_error");
                assert_eq!(frame.payload["reason"], "server shutting down");
                let expected = if frame.topic == "room:a" {
                    &join_a
                } else {
                    &join_b
                };
                assert_eq!(frame.join_ref, expected.join_ref);
                closed_topics.push(frame.topic);
            }
            Received::Closed(close) => break close,
        }
    };
    closed_topics.sort();
    assert_eq!(closed_topics, ["room:a", "room:b"]);
    assert_eq!(close.map(|(code, _)| code), Some(1001));
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("serve returns after shutdown")
        .unwrap()
        .unwrap();
}

#[test]
fn the_binary_exits_zero_on_sigterm() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("serve")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let health = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(15);
    runtime.block_on(async {
        loop {
            if let Ok(response) = reqwest::get(&health).await
                && response.status() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "herald did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // A connected client makes the shutdown do real work.
    let ws = runtime.block_on(async {
        let url = format!("ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0");
        tokio_tungstenite::connect_async(url).await.unwrap().0
    });

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("herald did not exit within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit:?}");
    drop(ws);
}
