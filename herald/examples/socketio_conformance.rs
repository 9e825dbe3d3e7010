//! The server the official Engine.IO and Socket.IO protocol test suites
//! expect: Engine.IO echo at `/engine.io/`, Socket.IO at `/socket.io/`, on
//! localhost:3000 (see `herald::protocol::socketio::conformance`).
//!
//! ```sh
//! cargo run -p herald --example socketio_conformance
//! # then, in a checkout of socketio/engine.io-protocol or socket.io-protocol:
//! cd test-suite && npm ci && npm test
//! ```
//!
//! `PORT` changes the port (the suites themselves want 3000).

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().context("PORT must be a port number")?,
        Err(_) => 3000,
    };
    // "localhost" resolves to 127.0.0.1 or ::1 depending on the client:
    // listen on both.
    let mut listeners = vec![
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{port}"))?,
    ];
    if let Ok(listener) = tokio::net::TcpListener::bind(("::1", port)).await {
        listeners.push(listener);
    }
    println!("conformance server listening on http://localhost:{port}");
    herald::protocol::socketio::conformance::serve(listeners)
        .await
        .context("serving")
}
