//! One benchmark client: a WebSocket connection that opens (with the
//! Engine.IO/Socket.IO handshake when needed), joins topics, keeps itself
//! alive (Phoenix heartbeats, Engine.IO pongs) and records every delivery.
//!
//! Kept lean so one generator core can read ~100,000 deliveries/s: a small
//! read buffer per connection, and frames are only scanned for the stamp.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::net::connect_from;
use crate::protocol::{Inbound, Protocol, phoenix, socketio};
use crate::tracker::{Progress, Received};

/// Bytes read from the socket at once: a delivery is about 100 bytes, so this
/// holds a few dozen coalesced frames while keeping 19,000 clients small.
const READ_BUFFER_BYTES: usize = 4096;

/// How long opening or joining may take before the client counts as failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("refused: {0}")]
    Refused(String),
    #[error("connection closed by the server")]
    Closed,
    #[error("timed out during {0}")]
    Timeout(&'static str),
}

pub struct Client {
    ws: WebSocketStream<TcpStream>,
    protocol: Arc<Protocol>,
    next_ref: u64,
}

impl Client {
    /// Connect from `source` and finish the protocol's handshake.
    pub async fn open(
        server: SocketAddr,
        source: IpAddr,
        protocol: Arc<Protocol>,
    ) -> Result<Self, ClientError> {
        tokio::time::timeout(STEP_TIMEOUT, Self::open_inner(server, source, protocol))
            .await
            .map_err(|_| ClientError::Timeout("open"))?
    }

    async fn open_inner(
        server: SocketAddr,
        source: IpAddr,
        protocol: Arc<Protocol>,
    ) -> Result<Self, ClientError> {
        let stream = connect_from(source, server).await?;
        let url = format!("ws://{server}{}", protocol.path());
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(0);
        let (ws, _response) = client_async_with_config(url, stream, Some(config)).await?;
        let mut client = Self {
            ws,
            protocol,
            next_ref: 1,
        };
        if let Protocol::SocketIo(_) = *client.protocol {
            client
                .expect(|inbound| matches!(inbound, Inbound::Open))
                .await?;
            client.send(socketio::CONNECT.to_owned()).await?;
            client
                .expect(|inbound| matches!(inbound, Inbound::Connected))
                .await?;
        }
        Ok(client)
    }

    /// Join `topic` (a Phoenix channel, a Socket.IO room) and wait for the
    /// server's answer.
    pub async fn join(&mut self, topic: &str) -> Result<(), ClientError> {
        let reference = self.next_ref;
        self.next_ref += 1;
        let frame = match &*self.protocol {
            Protocol::Phoenix => phoenix::join(reference, topic),
            Protocol::SocketIo(style) => socketio::join(style, reference, topic),
        };
        let answer = async {
            self.send(frame).await?;
            let mut ok = false;
            self.expect(|inbound| match inbound {
                Inbound::Reply {
                    reference: r,
                    ok: accepted,
                } if *r == reference => {
                    ok = *accepted;
                    true
                }
                _ => false,
            })
            .await?;
            Ok(ok)
        };
        match tokio::time::timeout(STEP_TIMEOUT, answer).await {
            Err(_) => Err(ClientError::Timeout("join")),
            Ok(Err(err)) => Err(err),
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(ClientError::Refused(format!("join {topic}"))),
        }
    }

    /// Read deliveries into `received` until `stop` turns true or the server
    /// closes the connection; keeps the connection alive meanwhile.
    pub async fn run(
        &mut self,
        received: &mut Received,
        progress: &Progress,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), ClientError> {
        // Spread heartbeats so 19,000 clients do not send them at once.
        let period = Duration::from_secs(phoenix::HEARTBEAT_SECS);
        let first = tokio::time::Instant::now() + period.mul_f64(fastrand::f64().max(0.05));
        let mut heartbeat = tokio::time::interval_at(first, period);
        let is_phoenix = matches!(*self.protocol, Protocol::Phoenix);
        loop {
            tokio::select! {
                frame = self.ws.next() => {
                    let text = match frame {
                        None => return Err(ClientError::Closed),
                        Some(Err(err)) => return Err(err.into()),
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(_))) => return Err(ClientError::Closed),
                        Some(Ok(_)) => continue,
                    };
                    match self.protocol.classify(&text) {
                        Inbound::Delivery(stamp) => received.record(stamp, progress),
                        Inbound::Ping => self.send(socketio::PONG.to_owned()).await?,
                        Inbound::Refused(reason) => return Err(ClientError::Refused(reason)),
                        _ => {}
                    }
                }
                _ = heartbeat.tick(), if is_phoenix => {
                    let reference = self.next_ref;
                    self.next_ref += 1;
                    self.send(phoenix::heartbeat(reference)).await?;
                }
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Close politely (WebSocket close frame), bounded in time.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }

    async fn send(&mut self, text: String) -> Result<(), ClientError> {
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// Read frames until one satisfies `wanted`, answering Engine.IO pings on
    /// the way; deliveries that arrive before it are not counted.
    async fn expect(
        &mut self,
        mut wanted: impl FnMut(&Inbound) -> bool,
    ) -> Result<(), ClientError> {
        loop {
            let text = match self.ws.next().await {
                None => return Err(ClientError::Closed),
                Some(Err(err)) => return Err(err.into()),
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) => return Err(ClientError::Closed),
                Some(Ok(_)) => continue,
            };
            let inbound = self.protocol.classify(&text);
            if wanted(&inbound) {
                return Ok(());
            }
            match inbound {
                Inbound::Ping => self.send(socketio::PONG.to_owned()).await?,
                Inbound::Refused(reason) => return Err(ClientError::Refused(reason)),
                _ => {}
            }
        }
    }
}
