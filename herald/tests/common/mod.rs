//! Shared helpers for the integration tests: an in-process Herald on a free
//! loopback port (on a throwaway SQLite or PostgreSQL database), and a raw
//! WebSocket client that speaks Phoenix frames.
#![allow(dead_code)]

mod db;
pub mod sio;

pub use db::TestDb;
pub use herald::store::Engine;
pub mod tokens;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use herald::config::Config;
use herald::hub::Hub;
use herald::inbox::Inbox;
use herald::server::Herald;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(5);

/// Define each listed `async fn name(engine: Engine)` test twice: once on
/// SQLite (`sqlite::name`) and once on PostgreSQL (`postgres::name`).
#[allow(unused_macros)]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::Engine::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::Engine::Postgres).await
                }
            )*
        }
    };
}

pub struct TestServer {
    pub base: String,
    pub ws_base: String,
    pub hub: std::sync::Arc<Hub>,
    pub inbox: std::sync::Arc<Inbox>,
    /// The first configured API key, sent by [`TestServer::post`].
    pub api_key: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// Dropped after the server is told to stop.
    _db: TestDb,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server on a fresh SQLite file, with `tweak` applied to its config.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(Engine::Sqlite, tweak).await
    }

    /// A server on a fresh database of `engine`.
    pub async fn start_on(engine: Engine, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::create(engine).await;
        let mut config = Config {
            host: "127.0.0.1".into(),
            port: 0,
            database_url: db.url.clone(),
            ..Config::default()
        };
        config.http.shutdown_timeout_secs = 5;
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let api_key = config.auth.api_keys.first().cloned();
        let herald = Herald::open(config).await.unwrap();
        let hub = herald.hub.clone();
        let inbox = herald.inbox.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(herald.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            base: format!("http://{address}"),
            ws_base: format!("ws://{address}"),
            hub,
            inbox,
            api_key,
            stop: Some(stop),
            task: Some(task),
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Start a graceful shutdown and return the serve task to await.
    pub fn begin_shutdown(&mut self) -> JoinHandle<std::io::Result<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().expect("server still running")
    }

    /// POST JSON with the server's API key (when it has one).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }

    /// Any request, with the server's API key (when it has one); the
    /// answer's status and JSON body (`Null` when empty).
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new().request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(key) = &self.api_key {
            request = request.header("x-api-key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// How often a limit was hit, as `/metrics` counts it.
    pub async fn limit_hits(&self, limit: &str) -> u64 {
        let text = reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let needle = format!("herald_limit_hits_total{{limit=\"{limit}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&needle))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.request(reqwest::Method::GET, path, None).await
    }

    /// GET `path` and parse the JSON body (panics on a non-JSON answer).
    pub async fn get_json(&self, path: &str) -> Value {
        let mut request = reqwest::Client::new().get(self.url(path));
        if let Some(key) = &self.api_key {
            request = request.header("x-api-key", key);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    pub async fn publish(&self, topic: &str, event: &str, payload: Value) -> Value {
        let (status, body) = self
            .post(
                "/api/publish",
                json!({"topic": topic, "event": event, "payload": payload}),
            )
            .await;
        assert_eq!(status, 202, "publish failed: {body}");
        body
    }

    /// Wait until `topic` has `count` subscribers (joins are asynchronous).
    pub async fn wait_for_subscribers(&self, topic: &str, count: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.hub.subscriber_count(topic) != count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{topic} never reached {count} subscribers (has {})",
                self.hub.subscriber_count(topic)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Vsn {
    V1,
    V2,
}

/// A decoded Phoenix frame, whatever the serializer.
#[derive(Debug, Clone)]
pub struct Frame {
    pub join_ref: Value,
    pub msg_ref: Value,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

/// What the server sent next.
#[derive(Debug)]
pub enum Received {
    Frame(Frame),
    Closed(Option<(u16, String)>),
}

pub struct PhxClient {
    pub vsn: Vsn,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ref: u64,
}

impl PhxClient {
    pub async fn connect(server: &TestServer, vsn: Vsn) -> Self {
        Self::connect_query(server, vsn, "").await
    }

    pub async fn connect_query(server: &TestServer, vsn: Vsn, extra_query: &str) -> Self {
        match Self::try_connect(server, vsn, extra_query, &[]).await {
            Ok((client, _)) => client,
            Err((status, body)) => panic!("connect refused: {status} {body}"),
        }
    }

    /// Connect with extra query parameters and request headers; an HTTP
    /// refusal comes back as its status and JSON body.
    pub async fn try_connect(
        server: &TestServer,
        vsn: Vsn,
        extra_query: &str,
        headers: &[(&str, &str)],
    ) -> Result<
        (
            Self,
            tokio_tungstenite::tungstenite::handshake::client::Response,
        ),
        (u16, Value),
    > {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let vsn_param = match vsn {
            Vsn::V1 => "1.0.0",
            Vsn::V2 => "2.0.0",
        };
        let url = format!(
            "{}/socket/websocket?vsn={vsn_param}{extra_query}",
            server.ws_base
        );
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .unwrap(),
                value.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, response)) => Ok((
                Self {
                    vsn,
                    ws,
                    next_ref: 0,
                },
                response,
            )),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Err((status, body))
            }
            Err(other) => panic!("connect failed: {other}"),
        }
    }

    pub fn encode(
        &self,
        join_ref: Value,
        msg_ref: Value,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> String {
        match self.vsn {
            Vsn::V2 => json!([join_ref, msg_ref, topic, event, payload]).to_string(),
            Vsn::V1 => json!({"join_ref": join_ref, "ref": msg_ref, "topic": topic, "event": event, "payload": payload}).to_string(),
        }
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(WsMessage::text(text.to_owned()))
            .await
            .unwrap();
    }

    pub async fn send_message(&mut self, message: WsMessage) {
        self.ws.send(message).await.unwrap();
    }

    /// Send a frame; returns its ref.
    pub async fn push(
        &mut self,
        join_ref: Option<&str>,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> String {
        self.next_ref += 1;
        let msg_ref = self.next_ref.to_string();
        let text = self.encode(
            join_ref.map_or(Value::Null, |r| json!(r)),
            json!(msg_ref),
            topic,
            event,
            payload,
        );
        self.send_raw(&text).await;
        msg_ref
    }

    /// Join and return the reply frame.
    pub async fn join(&mut self, topic: &str, payload: Value) -> Frame {
        self.next_ref += 1;
        let join_ref = format!("j{}", self.next_ref);
        let text = self.encode(json!(join_ref), json!(join_ref), topic, "phx_join", payload);
        self.send_raw(&text).await;
        self.expect_reply(&join_ref).await
    }

    /// Join and assert the reply is ok.
    pub async fn join_ok(&mut self, topic: &str) -> Frame {
        let reply = self.join(topic, json!({})).await;
        assert_eq!(reply.payload["status"], "ok", "join {topic}: {reply:?}");
        reply
    }

    pub async fn next(&mut self) -> Received {
        self.next_within(WAIT)
            .await
            .expect("the server sent nothing in time")
    }

    pub async fn next_within(&mut self, wait: Duration) -> Option<Received> {
        loop {
            let message = match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(Received::Closed(None)),
                Ok(Some(Err(_))) => return Some(Received::Closed(None)),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                WsMessage::Text(text) => return Some(Received::Frame(self.decode(&text))),
                WsMessage::Close(frame) => {
                    return Some(Received::Closed(frame.map(
                        |CloseFrame { code, reason }| (u16::from(code), reason.to_string()),
                    )));
                }
                _ => continue,
            }
        }
    }

    pub async fn next_frame(&mut self) -> Frame {
        match self.next().await {
            Received::Frame(frame) => frame,
            Received::Closed(close) => panic!("expected a frame, the socket closed: {close:?}"),
        }
    }

    /// Skip frames until the reply to `msg_ref`.
    pub async fn expect_reply(&mut self, msg_ref: &str) -> Frame {
        loop {
            let frame = self.next_frame().await;
            if frame.event == "phx_reply" && frame.msg_ref == json!(msg_ref) {
                return frame;
            }
        }
    }

    pub async fn expect_close(&mut self) -> Option<(u16, String)> {
        loop {
            match self.next().await {
                Received::Closed(close) => return close,
                Received::Frame(_) => continue,
            }
        }
    }

    /// Assert nothing arrives for `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(received) = self.next_within(wait).await {
            panic!("expected silence, got {received:?}");
        }
    }

    pub fn decode(&self, text: &str) -> Frame {
        let value: Value = serde_json::from_str(text).unwrap();
        match self.vsn {
            Vsn::V2 => {
                let parts = value.as_array().expect("V2 frames are arrays");
                assert_eq!(parts.len(), 5, "V2 frames have 5 elements: {text}");
                Frame {
                    join_ref: parts[0].clone(),
                    msg_ref: parts[1].clone(),
                    topic: parts[2].as_str().unwrap().to_owned(),
                    event: parts[3].as_str().unwrap().to_owned(),
                    payload: parts[4].clone(),
                }
            }
            Vsn::V1 => Frame {
                join_ref: value.get("join_ref").cloned().unwrap_or(Value::Null),
                msg_ref: value["ref"].clone(),
                topic: value["topic"].as_str().unwrap().to_owned(),
                event: value["event"].as_str().unwrap().to_owned(),
                payload: value["payload"].clone(),
            },
        }
    }
}
