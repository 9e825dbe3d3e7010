//! Socket.IO v5 over Engine.IO v4, WebSocket transport only.
//!
//! Handshake: the server opens with `0{...}`, the client sends `40` (CONNECT
//! to `/`), the server answers `40{"sid":...}` or `44{...}` (refused). The
//! server pings (`2`) and the client must answer `3` within the ping timeout.
//! Socket.IO has no client-side room join: the client emits an event the
//! server maps to a room (Herald's `subscribe` with `{channel}` by default)
//! and waits for its acknowledgement `43<id>[...]`. Events arrive as
//! `42["event", payload, ...]`.

use super::Inbound;
use crate::payload;

pub const PATH: &str = "/socket.io/?EIO=4&transport=websocket";

pub const CONNECT: &str = "40";
pub const PONG: &str = "3";

/// How a client asks the server to put it in a room.
#[derive(Debug, Clone)]
pub struct JoinStyle {
    /// Event name, e.g. `subscribe`.
    pub event: String,
    /// Argument JSON with `{topic}` where the room name goes (as a JSON
    /// string), e.g. `{"channel":{topic}}`, or `{id}` for the name without
    /// the run's topic prefix (Herald's `join-channel-notifications` takes
    /// `"c1"` and joins room `channel-notifications:c1`).
    pub argument: String,
    /// The run's topic prefix, removed from the topic for `{id}`.
    pub prefix: String,
}

impl Default for JoinStyle {
    fn default() -> Self {
        Self {
            event: "subscribe".into(),
            argument: r#"{"channel":{topic}}"#.into(),
            prefix: String::new(),
        }
    }
}

/// The join event with acknowledgement id `ack`.
pub fn join(style: &JoinStyle, ack: u64, topic: &str) -> String {
    let event = serde_json::Value::from(style.event.as_str());
    let id = topic.strip_prefix(style.prefix.as_str()).unwrap_or(topic);
    let id = serde_json::Value::from(id).to_string();
    let topic = serde_json::Value::from(topic).to_string();
    let argument = style
        .argument
        .replace("{topic}", &topic)
        .replace("{id}", &id);
    format!("42{ack}[{event},{argument}]")
}

pub fn classify(frame: &str) -> Inbound {
    let bytes = frame.as_bytes();
    match bytes {
        [b'2'] => Inbound::Ping,
        [b'4', b'2', ..] => payload::scan(bytes).map_or(Inbound::Other, Inbound::Delivery),
        [b'4', b'3', ..] => ack(&frame[2..]),
        [b'4', b'0', ..] => Inbound::Connected,
        [b'4', b'4', ..] => Inbound::Refused(frame[2..].to_owned()),
        [b'4', b'1', ..] | [b'1', ..] => Inbound::Refused("closed by the server".into()),
        [b'0', ..] => Inbound::Open,
        _ => Inbound::Other,
    }
}

/// `43<id>[answer...]`: refused when the answer says `ok: false` or names an
/// error (Herald acks `{ok, error?}`).
fn ack(rest: &str) -> Inbound {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(reference) = rest[..digits].parse() else {
        return Inbound::Other;
    };
    let answer = &rest[digits..];
    let ok = !answer.contains("\"ok\":false") && !answer.contains("\"error\":{");
    Inbound::Reply { reference, ok }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Stamp;

    #[test]
    fn frames() {
        assert_eq!(
            join(&JoinStyle::default(), 5, "bench:0"),
            r#"425["subscribe",{"channel":"bench:0"}]"#
        );
        let herald = JoinStyle {
            event: "join-channel-notifications".into(),
            argument: "{id}".into(),
            prefix: "channel-notifications:".into(),
        };
        assert_eq!(
            join(&herald, 6, "channel-notifications:fanout"),
            r#"426["join-channel-notifications","fanout"]"#
        );
        assert_eq!(classify("2"), Inbound::Ping);
        assert_eq!(
            classify(r#"0{"sid":"x","pingInterval":25000}"#),
            Inbound::Open
        );
        assert_eq!(classify(r#"40{"sid":"y"}"#), Inbound::Connected);
        assert_eq!(
            classify(r#"435[{"ok":true}]"#),
            Inbound::Reply {
                reference: 5,
                ok: true
            }
        );
        assert_eq!(
            classify(r#"435[{"ok":false,"error":"unauthorized"}]"#),
            Inbound::Reply {
                reference: 5,
                ok: false
            }
        );
        assert_eq!(
            classify(r#"42["bench",{"seq":1,"t":2}]"#),
            Inbound::Delivery(Stamp { seq: 1, sent_us: 2 })
        );
        assert!(matches!(
            classify(r#"44{"message":"no"}"#),
            Inbound::Refused(_)
        ));
    }
}
