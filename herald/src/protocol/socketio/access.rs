//! The questions the Socket.IO transport asks about its clients, each
//! answered in exactly one place, by the `auth` module:
//!
//! - [`Access::identify`]: who is this connection (from `auth.token` in the
//!   CONNECT packet)? A refusal carries a stable reason that the client
//!   receives as `CONNECT_ERROR {"message": reason}`.
//! - [`Access::authorize_room`]: may this identity join room (hub topic) T?
//!   The same topic rules as Phoenix joins.
//! - [`Access::admit`]: is there room for one more connection of this user
//!   and address (the same limits as Phoenix)?
//! - [`Access::check_origin`]: may a browser on this origin connect?

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::HeaderMap;

use crate::auth::Auth;
use crate::auth::config::LimitsConfig;
use crate::auth::limits::{ConnectionLimits, ConnectionPermit, RateSettings};
use crate::http_error::HttpError;

pub use crate::auth::Identity;

/// Authentication, room rules and abuse limits for Socket.IO clients.
#[derive(Clone)]
pub struct Access {
    auth: Auth,
    limits: Arc<ConnectionLimits>,
    rate: RateSettings,
    allowed_origins: Option<Vec<String>>,
}

impl Access {
    pub fn new(
        auth: Auth,
        limits: Arc<ConnectionLimits>,
        rate: RateSettings,
        allowed_origins: Option<Vec<String>>,
    ) -> Self {
        Self {
            auth,
            limits,
            rate,
            allowed_origins,
        }
    }

    /// No authentication and no limits (the conformance server).
    pub fn open() -> Self {
        let unlimited = LimitsConfig {
            messages_per_second: 0,
            max_connections_per_user: 0,
            max_connections_per_ip: 0,
            ..LimitsConfig::default()
        };
        Self::new(
            Auth::disabled(),
            ConnectionLimits::new(&unlimited),
            RateSettings::from_config(&unlimited),
            None,
        )
    }

    /// Who presents `token` (or none). `Err` is a stable reason code.
    pub async fn identify(&self, token: Option<&str>) -> Result<Arc<Identity>, &'static str> {
        let identity = self
            .auth
            .authenticate(token)
            .await
            .map_err(|err| err.reason())?;
        // Every anonymous client shares one (idle connections stay small).
        Ok(identity.into_shared())
    }

    /// May `identity` join `room`? `Err` is a stable reason code.
    pub fn authorize_room(&self, identity: &Identity, room: &str) -> Result<(), &'static str> {
        self.auth
            .authorize_topic(identity, room)
            .map_err(|denied| denied.reason())
    }

    /// A slot for one more connection of `user_id` from `ip`, held until the
    /// permit is dropped. `Err` is a stable reason code.
    pub fn admit(
        &self,
        ip: IpAddr,
        user_id: Option<&str>,
    ) -> Result<ConnectionPermit, &'static str> {
        self.limits
            .admit(ip, user_id)
            .map_err(|refused| refused.code())
    }

    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), HttpError> {
        crate::protocol::check_origin(headers, self.allowed_origins.as_deref())
    }

    /// The message rate every connection is held to.
    pub fn rate(&self) -> RateSettings {
        self.rate
    }
}
