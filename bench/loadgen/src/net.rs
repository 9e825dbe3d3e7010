//! Loopback TCP connections spread over several source addresses.
//!
//! One source address has about 28,000 ephemeral ports toward one server
//! port, so a run with more connections binds each client socket to one of
//! 127.0.0.1 … 127.0.0.k before connecting (the whole 127.0.0.0/8 block is
//! loopback on Linux). This machine caps a process at 20,000 open files, but
//! nothing here assumes that: 100,000 connections would need k = 4.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

/// Connections the harness puts on one source address at most.
pub const PER_SOURCE: usize = 25_000;

/// The source addresses 127.0.0.1 … 127.0.0.k.
#[derive(Debug, Clone)]
pub struct Sources {
    addresses: Vec<IpAddr>,
}

impl Sources {
    /// `k` addresses, at least enough for `connections` at [`PER_SOURCE`]
    /// each.
    pub fn new(k: usize, connections: usize) -> Self {
        let k = k.max(connections.div_ceil(PER_SOURCE)).clamp(1, 254);
        let addresses = (1..=k)
            .map(|last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last as u8)))
            .collect();
        Self { addresses }
    }

    /// The source address of connection number `index` (round robin).
    pub fn for_index(&self, index: usize) -> IpAddr {
        self.addresses[index % self.addresses.len()]
    }

    pub fn len(&self) -> usize {
        self.addresses.len()
    }
}

/// Only loopback targets: the harness never sends load anywhere else.
pub fn check_loopback(server: SocketAddr) -> anyhow::Result<()> {
    anyhow::ensure!(
        server.ip().is_loopback(),
        "refusing to load {server}: the benchmark targets loopback addresses only"
    );
    Ok(())
}

/// Connect to `server` from `source` (an ephemeral port on that address).
pub async fn connect_from(source: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // Lets a churning run reuse ports still in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_sources_for_the_connections() {
        assert_eq!(Sources::new(1, 100).len(), 1);
        assert_eq!(Sources::new(1, 100_000).len(), 4);
        assert_eq!(Sources::new(8, 10).len(), 8);
        let sources = Sources::new(2, 10);
        assert_eq!(sources.for_index(0).to_string(), "127.0.0.1");
        assert_eq!(sources.for_index(3).to_string(), "127.0.0.2");
    }

    #[test]
    fn only_loopback() {
        assert!(check_loopback("127.0.0.1:4000".parse().unwrap()).is_ok());
        assert!(check_loopback("[::1]:4000".parse().unwrap()).is_ok());
        assert!(check_loopback("10.0.0.1:4000".parse().unwrap()).is_err());
    }
}
