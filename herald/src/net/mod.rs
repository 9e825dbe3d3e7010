//! Accepting TCP connections: the handshake deadline and socket options;
//! and, in [`forwarded`], who the client is behind trusted proxies.
//!
//! A client that opens a TCP connection and never finishes its HTTP request
//! head (the WebSocket handshake, or any request) would hold a file
//! descriptor forever; with 20,000 descriptors per process that is an easy
//! attack. [`HandshakeListener`] gives every connection a deadline to send
//! its first request head (up to the blank line that ends it) and fails the
//! connection's reads when it passes. Once the head is in, the deadline is
//! dropped, so established WebSockets carry no timer.

pub mod forwarded;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// A TCP listener whose connections must send a request head in time.
pub struct HandshakeListener {
    listener: TcpListener,
    deadline: Option<Duration>,
}

impl HandshakeListener {
    /// `deadline` of `None` disables the handshake deadline.
    pub fn new(listener: TcpListener, deadline: Option<Duration>) -> Self {
        Self { listener, deadline }
    }
}

impl axum::serve::Listener for HandshakeListener {
    type Io = HandshakeDeadline<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, remote)) => {
                    // Small frames (replies, heartbeats, single broadcasts)
                    // must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    let deadline = self.deadline.map(|d| Box::pin(tokio::time::sleep(d)));
                    return (
                        HandshakeDeadline {
                            inner: stream,
                            deadline,
                            matched: 0,
                        },
                        remote,
                    );
                }
                Err(err) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A stream whose reads fail once its deadline passes, until the first
/// request head has been read.
pub struct HandshakeDeadline<T> {
    inner: T,
    deadline: Option<Pin<Box<Sleep>>>,
    /// How much of the `\r\n\r\n` that ends a request head has been seen.
    matched: u8,
}

const HEAD_END: &[u8; 4] = b"\r\n\r\n";

impl<T: AsyncRead + Unpin> AsyncRead for HandshakeDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            crate::auth::limits::count_hit("handshake_timeout");
            tracing::info!("closing a connection that did not finish its handshake in time");
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "handshake timeout",
            )));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if this.deadline.is_some() {
            for &byte in &buf.filled()[before..] {
                this.matched = if byte == HEAD_END[this.matched as usize] {
                    this.matched + 1
                } else if byte == b'\r' {
                    1
                } else {
                    0
                };
                if this.matched as usize == HEAD_END.len() {
                    this.deadline = None;
                    break;
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HandshakeDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
