//! The two questions the Socket.IO transport asks about its clients, each
//! answered in exactly one place:
//!
//! - [`Access::identify`]: who is this connection (from `auth.token` in the
//!   CONNECT packet)? A refusal carries a stable reason that the client
//!   receives as `CONNECT_ERROR {"message": reason}`.
//! - [`Access::authorize_room`]: may this identity join room (hub topic) T?
//!
//! Until the `auth` module is wired in, every client is anonymous and may
//! join any room; the shape of [`Identity`] is the one `auth` will provide.

use serde_json::{Map, Value};

/// Who is on the other end of a connection.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub user_id: Option<String>,
    pub business_id: Option<String>,
    pub location_id: Option<String>,
    pub roles: Vec<String>,
    pub claims: Map<String, Value>,
    /// When the token expires (Unix seconds).
    pub expires_at: Option<u64>,
}

impl Identity {
    pub fn anonymous() -> Self {
        Self::default()
    }

    pub fn is_anonymous(&self) -> bool {
        self.user_id.is_none() && self.claims.is_empty()
    }
}

/// Authentication and room rules for Socket.IO clients.
#[derive(Clone, Default)]
pub struct Access {}

impl Access {
    pub fn new() -> Self {
        Self {}
    }

    /// Who presents `token` (or none). `Err` is a stable reason code.
    pub async fn identify(&self, token: Option<&str>) -> Result<Identity, &'static str> {
        let _ = token;
        Ok(Identity::anonymous())
    }

    /// May `identity` join `room`? `Err` is a stable reason code.
    pub fn authorize_room(&self, identity: &Identity, room: &str) -> Result<(), &'static str> {
        let _ = (identity, room);
        Ok(())
    }
}
