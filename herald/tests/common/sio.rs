//! Raw Engine.IO and Socket.IO clients for the integration tests: WebSocket
//! sessions that read and write packets as text and binary frames, and
//! long-polling sessions over plain HTTP. No Socket.IO library is involved,
//! so every byte the server sends is checked as it is.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::WAIT;

/// The conformance server (what the official suites test) on a free port.
pub struct ConformanceServer {
    pub base: String,
    pub ws_base: String,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl ConformanceServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(herald::protocol::socketio::conformance::serve(vec![
            listener,
        ]));
        Self {
            base: format!("http://{address}"),
            ws_base: format!("ws://{address}"),
            task,
        }
    }
}

impl Drop for ConformanceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the server sent next over a WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    /// The socket closed (with the close frame's code, if one came).
    Closed(Option<u16>),
}

/// One Engine.IO session over WebSocket.
pub struct EioSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl EioSocket {
    /// Open `url` (a full `ws://` URL) or fail with the HTTP status.
    pub async fn try_open(url: &str) -> Result<Self, u16> {
        match tokio_tungstenite::connect_async(url).await {
            Ok((ws, _)) => Ok(Self { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(err) => panic!("websocket to {url} failed: {err}"),
        }
    }

    /// A new session at `path` (`/socket.io/`, `/engine.io/`); returns the
    /// socket and its open packet's JSON.
    pub async fn open(ws_base: &str, path: &str) -> (Self, Value) {
        let url = format!("{ws_base}{path}?EIO=4&transport=websocket");
        let mut socket = Self::try_open(&url).await.unwrap();
        let open = socket.recv_text().await;
        assert!(open.starts_with('0'), "open packet expected, got {open}");
        (socket, serde_json::from_str(&open[1..]).unwrap())
    }

    pub async fn send(&mut self, text: &str) {
        self.ws
            .send(WsMessage::text(text.to_owned()))
            .await
            .unwrap();
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.ws
            .send(WsMessage::binary(bytes.to_vec()))
            .await
            .unwrap();
    }

    pub async fn recv(&mut self) -> Frame {
        self.recv_within(WAIT)
            .await
            .expect("the server sent nothing in time")
    }

    pub async fn recv_within(&mut self, wait: Duration) -> Option<Frame> {
        loop {
            let message = match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(Frame::Closed(None)),
                Ok(Some(Ok(message))) => message,
            };
            return Some(match message {
                WsMessage::Text(text) => Frame::Text(text.to_string()),
                WsMessage::Binary(bytes) => Frame::Binary(bytes.to_vec()),
                WsMessage::Close(frame) => {
                    Frame::Closed(frame.map(|CloseFrame { code, .. }| u16::from(code)))
                }
                _ => continue,
            });
        }
    }

    pub async fn recv_text(&mut self) -> String {
        match self.recv().await {
            Frame::Text(text) => text,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next frame that is not a ping; pings are answered.
    pub async fn recv_packet(&mut self) -> Frame {
        loop {
            match self.recv().await {
                Frame::Text(text) if text == "2" => self.send("3").await,
                other => return other,
            }
        }
    }

    /// Wait until the server closes the socket (pings are answered meanwhile
    /// so only the reason under test can close it); returns the close code.
    pub async fn expect_closed(&mut self) -> Option<u16> {
        loop {
            match self.recv().await {
                Frame::Closed(code) => return code,
                Frame::Text(text) if text == "2" => {
                    let _ = self.ws.send(WsMessage::text("3")).await;
                }
                _ => continue,
            }
        }
    }

    /// Assert that nothing but pings arrives for `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.recv_within(left).await {
                None => return,
                Some(Frame::Text(text)) if text == "2" => self.send("3").await,
                Some(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }
}

/// One Engine.IO session over HTTP long-polling.
pub struct Polling {
    pub url: String,
    pub sid: String,
    http: reqwest::Client,
}

impl Polling {
    /// Handshake at `path`; returns the session and its open packet's JSON.
    pub async fn open(base: &str, path: &str) -> (Self, Value) {
        let http = reqwest::Client::new();
        let response = http
            .get(format!("{base}{path}?EIO=4&transport=polling"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(text.starts_with('0'), "open packet expected, got {text}");
        let open: Value = serde_json::from_str(&text[1..]).unwrap();
        let sid = open["sid"].as_str().unwrap().to_owned();
        let url = format!("{base}{path}?EIO=4&transport=polling&sid={sid}");
        (Self { url, sid, http }, open)
    }

    /// A GET: status and body.
    pub async fn get(&self) -> (u16, String) {
        let response = tokio::time::timeout(WAIT, self.http.get(&self.url).send())
            .await
            .expect("poll answered in time")
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// A POST of `body`: status and body.
    pub async fn post(&self, body: impl Into<reqwest::Body>) -> (u16, String) {
        let response = self.http.post(&self.url).body(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// GET until at least `count` packets other than pings came.
    pub async fn poll_at_least(&self, count: usize) -> Vec<String> {
        let mut packets = Vec::new();
        while packets.len() < count {
            packets.extend(self.poll_packets().await);
        }
        packets
    }

    /// GET until a payload other than pings arrives (answering them);
    /// returns its packets.
    pub async fn poll_packets(&self) -> Vec<String> {
        loop {
            let (status, body) = self.get().await;
            assert_eq!(status, 200, "poll failed: {body}");
            let packets: Vec<String> = body.split('\x1e').map(str::to_owned).collect();
            let pings = packets.iter().filter(|p| *p == "2").count();
            for _ in 0..pings {
                self.post("3").await;
            }
            let rest: Vec<String> = packets.into_iter().filter(|p| p != "2").collect();
            if !rest.is_empty() {
                return rest;
            }
        }
    }
}

/// A Socket.IO client (main namespace unless told otherwise) over a raw
/// WebSocket session.
pub struct SioClient {
    pub eio: EioSocket,
    next_ack: u64,
}

/// An event the server emitted: name and arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub args: Vec<Value>,
}

impl SioClient {
    /// Open a session and send CONNECT with `auth`; returns the client and
    /// the server's answer packet (`40{...}` or `44{...}`), parsed.
    pub async fn connect(ws_base: &str, auth: Option<Value>) -> (Self, Result<Value, Value>) {
        let (eio, _) = EioSocket::open(ws_base, "/socket.io/").await;
        let mut client = Self { eio, next_ack: 0 };
        let packet = match &auth {
            Some(auth) => format!("40{auth}"),
            None => "40".to_owned(),
        };
        client.eio.send(&packet).await;
        let answer = client.recv_socketio().await;
        let reply = if let Some(data) = answer.strip_prefix('0') {
            Ok(serde_json::from_str(data).unwrap())
        } else if let Some(data) = answer.strip_prefix('4') {
            Err(serde_json::from_str(data).unwrap())
        } else {
            panic!("expected CONNECT or CONNECT_ERROR, got {answer}")
        };
        (client, reply)
    }

    /// Connect and assert it worked; returns the CONNECT reply (`{sid, pid?}`).
    pub async fn connect_ok(ws_base: &str, auth: Option<Value>) -> (Self, Value) {
        let (client, reply) = Self::connect(ws_base, auth).await;
        (client, reply.expect("connect refused"))
    }

    /// The next Socket.IO packet (text after the Engine.IO `4`), answering
    /// pings on the way.
    pub async fn recv_socketio(&mut self) -> String {
        match self.eio.recv_packet().await {
            Frame::Text(text) => text
                .strip_prefix('4')
                .unwrap_or_else(|| panic!("expected a message packet, got {text}"))
                .to_owned(),
            other => panic!("expected a text packet, got {other:?}"),
        }
    }

    /// The next event (`2[...]`), skipping nothing else.
    pub async fn next_event(&mut self) -> Event {
        let packet = self.recv_socketio().await;
        parse_event(&packet)
    }

    /// The next event named `name`, skipping others.
    pub async fn event_named(&mut self, name: &str) -> Event {
        loop {
            let event = self.next_event().await;
            if event.name == name {
                return event;
            }
        }
    }

    pub async fn emit(&mut self, event: &str, args: Vec<Value>) {
        let mut data = vec![json!(event)];
        data.extend(args);
        self.eio.send(&format!("42{}", Value::Array(data))).await;
    }

    /// Emit with an ack id and wait for the ack (events before it are
    /// returned too, in order).
    pub async fn emit_with_ack(
        &mut self,
        event: &str,
        args: Vec<Value>,
    ) -> (Vec<Value>, Vec<Event>) {
        self.next_ack += 1;
        let id = self.next_ack;
        let mut data = vec![json!(event)];
        data.extend(args);
        self.eio
            .send(&format!("42{id}{}", Value::Array(data)))
            .await;
        let mut events = Vec::new();
        loop {
            let packet = self.recv_socketio().await;
            if let Some(rest) = packet.strip_prefix(&format!("3{id}")) {
                let args: Vec<Value> = serde_json::from_str(rest).unwrap();
                return (args, events);
            }
            events.push(parse_event(&packet));
        }
    }
}

/// Parse `2["name", args...]` (main namespace).
pub fn parse_event(packet: &str) -> Event {
    let data = packet
        .strip_prefix('2')
        .unwrap_or_else(|| panic!("expected an EVENT packet, got {packet}"));
    let mut items: Vec<Value> = serde_json::from_str(data).unwrap();
    let name = items.remove(0).as_str().unwrap().to_owned();
    Event { name, args: items }
}
