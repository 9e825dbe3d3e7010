//! The client's address when Herald runs behind proxies or load balancers.
//!
//! Behind a load balancer every connection comes from a few proxy addresses,
//! so the per-address connection limit (and the logs) would see the proxy,
//! not the client. With `limits.trusted_proxies` set, a request whose peer is
//! one of those proxies is taken to come from the address the proxies
//! recorded in `X-Forwarded-For`: the right-most entry that is not itself a
//! trusted proxy (entries further left were written by the client and prove
//! nothing). [`client_address`] rewrites the request's `ConnectInfo` before
//! any handler runs, so every transport sees the same answer. Peers that are
//! not trusted cannot move their address with the header.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies whose `X-Forwarded-For` Herald believes.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    ranges: Vec<IpRange>,
}

/// A `limits.trusted_proxies` entry that is not an address or range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trusted proxy {0:?} is not an IP address or a CIDR range")]
pub struct BadProxyRange(pub String);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<Self, BadProxyRange> {
        let ranges = entries
            .iter()
            .map(|entry| IpRange::parse(entry).ok_or_else(|| BadProxyRange(entry.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Self { ranges })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(ip))
    }

    /// Who sent a request that reached Herald from `peer`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        // Every X-Forwarded-For header, in order, as one list, walked from
        // the right (the hop nearest to us).
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .rev();
        let mut client = peer;
        for hop in hops {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // Garbage written by someone: nothing further left counts.
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// Middleware: replace the peer address in `ConnectInfo` with the client's.
pub async fn client_address(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    {
        let client = trusted.client_ip(peer.ip(), request.headers());
        if client != peer.ip() {
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let proxies =
            TrustedProxies::parse(&["10.0.0.0/8".into(), "192.168.1.5".into(), "fd00::/8".into()])
                .unwrap();
        assert!(proxies.trusts(ip("10.1.2.3")));
        assert!(proxies.trusts(ip("::ffff:10.1.2.3")));
        assert!(!proxies.trusts(ip("11.0.0.1")));
        assert!(proxies.trusts(ip("192.168.1.5")));
        assert!(!proxies.trusts(ip("192.168.1.6")));
        assert!(proxies.trusts(ip("fd12::1")));
        assert!(!proxies.trusts(ip("fe80::1")));
        assert!(
            TrustedProxies::parse(&["0.0.0.0/0".into()])
                .unwrap()
                .trusts(ip("8.8.8.8"))
        );
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", ""] {
            assert_eq!(
                TrustedProxies::parse(&[bad.into()]).unwrap_err(),
                BadProxyRange(bad.into())
            );
        }
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let lb = ip("10.0.0.2");
        // A client behind two of our proxies.
        let h = headers(&["203.0.113.7, 10.0.0.9"]);
        assert_eq!(proxies.client_ip(lb, &h), ip("203.0.113.7"));
        // What the client wrote itself (left of its own address) is ignored.
        let h = headers(&["1.2.3.4, 203.0.113.7"]);
        assert_eq!(proxies.client_ip(lb, &h), ip("203.0.113.7"));
        // Several headers are one list.
        let h = headers(&["1.2.3.4", "203.0.113.7"]);
        assert_eq!(proxies.client_ip(lb, &h), ip("203.0.113.7"));
        // No header: the proxy itself.
        assert_eq!(proxies.client_ip(lb, &HeaderMap::new()), lb);
        // Garbage stops the walk at the last good hop.
        let h = headers(&["203.0.113.7, garbage"]);
        assert_eq!(proxies.client_ip(lb, &h), lb);
        // An untrusted peer cannot choose its address.
        let h = headers(&["198.51.100.1"]);
        assert_eq!(proxies.client_ip(ip("203.0.113.9"), &h), ip("203.0.113.9"));
    }
}
