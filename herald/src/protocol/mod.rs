//! Wire protocols spoken to clients. Each transport turns socket frames into
//! hub calls and hub messages into frames; the hub itself stays unaware of
//! any of them.

pub mod phoenix;
pub mod socketio;

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
