//! WebSocket details both transports share: turning frames the hub or a
//! transport built into messages, recognising a client frame over the size
//! limit, and close reasons that fit a control frame.

use axum::extract::ws::{Message as WsMessage, Utf8Bytes};
use bytes::Bytes;

use crate::auth::limits::count_hit;

/// A text message from bytes built as UTF-8 (JSON or a Socket.IO packet).
/// The check only fails on a bug; an empty frame is then sent rather than
/// crashing the connection.
pub(crate) fn text_message(bytes: Bytes) -> WsMessage {
    WsMessage::Text(Utf8Bytes::try_from(bytes).unwrap_or_default())
}

/// Did reading fail because the client's frame was over the size limit?
/// Counted as `frame_size` when it did.
pub(crate) fn frame_too_large(err: &axum::Error) -> bool {
    // tungstenite reports it only as text.
    let text = err.to_string();
    let too_large = text.contains("Space limit exceeded")
        || text.contains("too long")
        || text.contains("too big");
    if too_large {
        count_hit("frame_size");
    } else {
        tracing::debug!(error = %text, "websocket read error");
    }
    too_large
}

/// A close reason cut to what a close frame holds (123 bytes), on a
/// character boundary.
pub(crate) fn close_reason(reason: &str) -> Utf8Bytes {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Utf8Bytes::from(&reason[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame() {
        assert_eq!(close_reason("short").as_str(), "short");
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= 123 && long.starts_with(cut.as_str()));
    }
}
