//! Abuse limits that protect the server and other clients from one client:
//! open connections per user and per IP address, and a per-connection
//! message rate. Every hit is logged by the caller and counted here in
//! `herald_limit_hits_total{limit=...}`.
//!
//! (The handshake deadline lives in `crate::net`; frame size and channels
//! per connection are transport settings.)

use std::net::IpAddr;
use std::sync::Arc;

use dashmap::DashMap;
use tokio::time::Instant;

use super::config::LimitsConfig;

/// Count a limit being hit.
pub fn count_hit(limit: &'static str) {
    metrics::counter!("herald_limit_hits_total", "limit" => limit).increment(1);
}

/// Which connection limit refused a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRefused {
    #[error("too many connections for this user")]
    PerUser,
    #[error("too many connections from this address")]
    PerIp,
}

impl ConnectionRefused {
    pub fn code(&self) -> &'static str {
        match self {
            ConnectionRefused::PerUser => "too_many_user_connections",
            ConnectionRefused::PerIp => "too_many_ip_connections",
        }
    }
}

/// Open connections by user id and by IP address.
pub struct ConnectionLimits {
    max_per_user: usize,
    max_per_ip: usize,
    by_user: DashMap<Box<str>, usize>,
    by_ip: DashMap<IpAddr, usize>,
}

impl ConnectionLimits {
    pub fn new(config: &LimitsConfig) -> Arc<Self> {
        Arc::new(Self {
            max_per_user: config.max_connections_per_user,
            max_per_ip: config.max_connections_per_ip,
            by_user: DashMap::new(),
            by_ip: DashMap::new(),
        })
    }

    /// Take a slot for a new connection; the slot is given back when the
    /// permit is dropped (when the connection ends).
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        user_id: Option<&str>,
    ) -> Result<ConnectionPermit, ConnectionRefused> {
        if !take(&self.by_ip, ip, self.max_per_ip) {
            count_hit("connections_per_ip");
            return Err(ConnectionRefused::PerIp);
        }
        let user: Option<Box<str>> = user_id.map(Into::into);
        if let Some(user) = &user
            && !take(&self.by_user, user.clone(), self.max_per_user)
        {
            give_back(&self.by_ip, &ip);
            count_hit("connections_per_user");
            return Err(ConnectionRefused::PerUser);
        }
        Ok(ConnectionPermit {
            limits: self.clone(),
            ip,
            user,
        })
    }

    /// Connections counted for this user right now.
    pub fn user_connections(&self, user_id: &str) -> usize {
        self.by_user.get(user_id).map_or(0, |n| *n)
    }
}

fn take<K: std::hash::Hash + Eq>(map: &DashMap<K, usize>, key: K, max: usize) -> bool {
    let mut count = map.entry(key).or_insert(0);
    if max > 0 && *count >= max {
        return false;
    }
    *count += 1;
    true
}

fn give_back<K: std::hash::Hash + Eq>(map: &DashMap<K, usize>, key: &K) {
    // Remove the entry at zero so the maps do not grow with every address
    // ever seen.
    map.remove_if_mut(key, |_, count| {
        *count = count.saturating_sub(1);
        *count == 0
    });
}

/// A connection's slot in [`ConnectionLimits`].
pub struct ConnectionPermit {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
    user: Option<Box<str>>,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        give_back(&self.limits.by_ip, &self.ip);
        if let Some(user) = &self.user {
            give_back(&self.limits.by_user, user);
        }
    }
}

/// A token bucket: `rate` messages per second sustained, `burst` at once.
/// Small on purpose (every connection has one).
#[derive(Debug, Clone)]
pub struct MessageRate {
    tokens: f32,
    last: Instant,
}

/// The rate and burst all connections share.
#[derive(Debug, Clone, Copy)]
pub struct RateSettings {
    pub per_second: f32,
    pub burst: f32,
}

impl RateSettings {
    pub fn from_config(config: &LimitsConfig) -> Self {
        Self {
            per_second: config.messages_per_second as f32,
            burst: config.message_burst.max(1) as f32,
        }
    }
}

impl MessageRate {
    pub fn new(settings: RateSettings) -> Self {
        Self {
            tokens: settings.burst,
            last: Instant::now(),
        }
    }

    /// May one more message pass now? A rate of 0 disables the limit.
    pub fn allow(&mut self, settings: RateSettings) -> bool {
        if settings.per_second <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f32();
        self.last = now;
        self.tokens = (self.tokens + elapsed * settings.per_second).min(settings.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_given_back() {
        let limits = ConnectionLimits::new(&LimitsConfig {
            max_connections_per_user: 2,
            max_connections_per_ip: 3,
            ..LimitsConfig::default()
        });
        let ip: IpAddr = [127, 0, 0, 1].into();
        let a = limits.admit(ip, Some("u")).unwrap();
        let _b = limits.admit(ip, Some("u")).unwrap();
        assert_eq!(
            limits.admit(ip, Some("u")).err(),
            Some(ConnectionRefused::PerUser)
        );
        let _c = limits.admit(ip, Some("v")).unwrap();
        assert_eq!(limits.admit(ip, None).err(), Some(ConnectionRefused::PerIp));
        drop(a);
        assert_eq!(limits.user_connections("u"), 1);
        assert!(limits.admit(ip, Some("u")).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_rate() {
        let settings = RateSettings {
            per_second: 10.0,
            burst: 5.0,
        };
        let mut rate = MessageRate::new(settings);
        for _ in 0..5 {
            assert!(rate.allow(settings));
        }
        assert!(!rate.allow(settings));
        tokio::time::advance(std::time::Duration::from_millis(250)).await;
        assert!(rate.allow(settings));
        assert!(rate.allow(settings));
        assert!(!rate.allow(settings));
    }
}
