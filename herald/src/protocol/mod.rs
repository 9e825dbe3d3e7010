//! Wire protocols spoken to clients. Each transport turns socket frames into
//! hub calls and hub messages into frames; the hub itself stays unaware of
//! any of them.

pub mod phoenix;
pub mod socketio;
pub(crate) mod ws;

/// Frame-cache slots on [`crate::hub::Message`], one per wire format, so that
/// each format is rendered at most once per broadcast.
pub(crate) mod format_slots {
    pub const PHOENIX_V1: usize = 0;
    pub const PHOENIX_V2: usize = 1;
    /// Socket.IO without positions (connection state recovery disabled).
    pub const SOCKET_IO: usize = 2;
    /// Socket.IO with each broadcast's position as its last argument.
    pub const SOCKET_IO_WITH_POSITION: usize = 3;
}

/// Browsers say where a page came from; only allowed origins may open
/// sockets (non-browser clients send no Origin and are not affected). Shared
/// by every transport so the rule lives in one place.
pub(crate) fn check_origin(
    headers: &axum::http::HeaderMap,
    allowed: Option<&[String]>,
) -> Result<(), crate::http_error::HttpError> {
    let (Some(allowed), Some(origin)) = (allowed, headers.get(axum::http::header::ORIGIN)) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    if allowed.iter().any(|a| a == origin) {
        return Ok(());
    }
    crate::auth::limits::count_hit("origin");
    tracing::info!(origin, "socket from a disallowed origin");
    Err(crate::http_error::HttpError::new(
        axum::http::StatusCode::FORBIDDEN,
        "origin_not_allowed",
        "this origin may not open sockets (CORS_ORIGIN)",
    ))
}
