//! Extending a Socket.IO connection with a fresh token, the counterpart of
//! Phoenix's `refresh` on the `phoenix` topic.
//!
//! A client whose token is about to expire emits the reserved event
//! `refresh` with `{"token": "<jwt>"}` (or the token as a bare string) and an
//! acknowledgement callback. The token goes through the same validation as
//! at CONNECT and must name the same user; the namespace socket then keeps
//! its rooms and moves its expiry. The acknowledgement says
//! `{"ok": true, "expiresAt": <unix seconds or null>}` or
//! `{"ok": false, "error": "<stable reason>"}`. The protocol core handles the
//! event before the application sees it, so every application (the shipped
//! vocabulary, the conformance example) gets it, and none may redefine it.

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::app::SocketRef;
use super::connection::Core;
use super::engine::EngineEnd;
use super::namespace::expiry_of;
use super::packet::raw_json;

/// The reserved event name.
pub const REFRESH_EVENT: &str = "refresh";

/// What the client may send as the event's first argument.
#[derive(Deserialize)]
#[serde(untagged)]
enum RefreshArg {
    Object { token: String },
    Bare(String),
}

impl Core {
    /// Handle `refresh` on the namespace socket at `index`; `ack` is the
    /// client's acknowledgement id.
    pub(super) async fn refresh_token(
        &mut self,
        index: usize,
        args: &[&RawValue],
        ack: Option<u64>,
    ) -> Result<(), EngineEnd> {
        let reply = match self.try_refresh(index, args).await {
            Ok(expires_at) => json!({ "ok": true, "expiresAt": expires_at }),
            Err(code) => {
                tracing::info!(nsp = %self.sockets[index].nsp, code, "socket.io token refresh refused");
                json!({ "ok": false, "error": code })
            }
        };
        let Some(id) = ack else {
            return Ok(());
        };
        SocketRef { core: self, index }
            .ack(id, &[&raw_json(&reply)])
            .await
    }

    /// Validate the new token and move the socket's expiry; `Err` is a
    /// stable reason code.
    async fn try_refresh(
        &mut self,
        index: usize,
        args: &[&RawValue],
    ) -> Result<Option<u64>, &'static str> {
        if !self.rate.allow(self.shared.access.rate()) {
            return Err("rate_limited");
        }
        let token = args
            .first()
            .and_then(|arg| serde_json::from_str::<RefreshArg>(arg.get()).ok())
            .map(|arg| match arg {
                RefreshArg::Object { token } | RefreshArg::Bare(token) => token,
            })
            .ok_or("token_missing")?;
        let identity = self.shared.access.identify(Some(&token)).await?;
        let socket = &mut self.sockets[index];
        if identity.user_id != socket.identity.user_id {
            return Err("user_mismatch");
        }
        let expires_at = identity.expires_at;
        socket.expires = expiry_of(&identity);
        socket.identity = identity;
        tracing::debug!(nsp = %socket.nsp, sid = %socket.sid, "socket.io token refreshed");
        Ok(expires_at)
    }
}
