//! Socket.IO v5 packets, carried in Engine.IO message packets.
//!
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]`, for example
//! `2["hello",1]` (an event), `0/admin,{"token":"x"}` (connect to `/admin`),
//! `3/admin,12[{"ok":true}]` (ack 12), `51-["file",{"_placeholder":true,"num":0}]`
//! (an event with one binary attachment, sent as the next Engine.IO binary
//! message). Data stays raw JSON: it is checked for shape and never
//! re-serialized.
//!
//! Broadcast frames ([`BROADCAST`], [`BROADCAST_WITH_POSITION`]) are built
//! once per hub message and shared by every Socket.IO subscriber.

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::hub::{Message, WireFormat};
use crate::protocol::format_slots;

/// Most binary attachments one packet may announce (socket.io-parser's own
/// default limit).
pub const MAX_ATTACHMENTS: usize = 10;

/// Event names the client library reserves for itself; a client may not send
/// them.
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

impl PacketType {
    fn from_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    fn digit(self) -> u8 {
        b'0' + self as u8
    }

    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// A packet, borrowing its namespace and data (from the text it was decoded
/// from, or from the caller building one to send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    pub kind: PacketType,
    /// Binary attachments that follow (binary packets only).
    pub attachments: usize,
    pub nsp: &'a str,
    pub id: Option<u64>,
    /// The JSON data, checked to have the shape its type requires.
    pub data: Option<&'a str>,
}

/// Why a packet was refused; the connection is closed, as Socket.IO servers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("unknown packet type")]
    UnknownType,
    #[error("illegal attachments")]
    IllegalAttachments,
    #[error("too many attachments")]
    TooManyAttachments,
    #[error("invalid ack id")]
    InvalidId,
    #[error("invalid payload")]
    InvalidPayload,
}

/// Decode the text of one Socket.IO packet (an Engine.IO message's data).
pub fn decode(text: &str) -> Result<Packet<'_>, PacketError> {
    let bytes = text.as_bytes();
    let kind = bytes
        .first()
        .and_then(|digit| PacketType::from_digit(*digit))
        .ok_or(PacketError::UnknownType)?;
    let mut rest = &text[1..];

    let mut attachments = 0;
    if kind.is_binary() {
        let dash = rest.find('-').ok_or(PacketError::IllegalAttachments)?;
        let count = &rest[..dash];
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PacketError::IllegalAttachments);
        }
        attachments = count
            .parse::<usize>()
            .map_err(|_| PacketError::TooManyAttachments)?;
        if attachments == 0 {
            return Err(PacketError::IllegalAttachments);
        }
        if attachments > MAX_ATTACHMENTS {
            return Err(PacketError::TooManyAttachments);
        }
        rest = &rest[dash + 1..];
    }

    let mut nsp = "/";
    if rest.starts_with('/') {
        match rest.find(',') {
            Some(comma) => {
                nsp = &rest[..comma];
                rest = &rest[comma + 1..];
            }
            None => {
                nsp = rest;
                rest = "";
            }
        }
    }

    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        let id = rest[..digits]
            .parse::<u64>()
            .map_err(|_| PacketError::InvalidId)?;
        rest = &rest[digits..];
        Some(id)
    } else {
        None
    };

    let data = (!rest.is_empty()).then_some(rest);
    check_shape(kind, data)?;
    Ok(Packet {
        kind,
        attachments,
        nsp,
        id,
        data,
    })
}

/// The data each packet type may carry, as socket.io-parser checks it.
fn check_shape(kind: PacketType, data: Option<&str>) -> Result<(), PacketError> {
    let valid = match (kind, data) {
        (PacketType::Connect, None) | (PacketType::Disconnect, None) => true,
        (PacketType::Connect, Some(data)) => {
            serde_json::from_str::<&RawValue>(data).is_ok() && data.starts_with('{')
        }
        (PacketType::Event | PacketType::BinaryEvent, Some(data)) => event_parts(data).is_some(),
        (PacketType::Ack | PacketType::BinaryAck, None) => true,
        (PacketType::Ack | PacketType::BinaryAck, Some(data)) => {
            data.starts_with('[') && serde_json::from_str::<Vec<&RawValue>>(data).is_ok()
        }
        // A client never sends CONNECT_ERROR; DISCONNECT carries nothing; an
        // event without data has no name.
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(PacketError::InvalidPayload)
    }
}

/// A JSON value as an event argument. (Serializing a `Value` cannot fail;
/// `null` would be the answer if it did.)
pub fn raw_json(value: &serde_json::Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_default()
}

/// Split event data `["name", arg, ...]` into its name and arguments.
pub fn event_parts(data: &str) -> Option<(String, Vec<&RawValue>)> {
    if !data.starts_with('[') {
        return None;
    }
    let mut items: Vec<&RawValue> = serde_json::from_str(data).ok()?;
    if items.is_empty() {
        return None;
    }
    let first = items.remove(0);
    let name = match serde_json::from_str::<serde_json::Value>(first.get()).ok()? {
        serde_json::Value::String(name) if !RESERVED_EVENTS.contains(&name.as_str()) => name,
        serde_json::Value::Number(number) => number.to_string(),
        _ => return None,
    };
    Some((name, items))
}

impl Packet<'_> {
    /// Render the packet straight into an Engine.IO message packet (`4` +
    /// the Socket.IO packet).
    pub fn encode(&self) -> Bytes {
        let data = self.data.unwrap_or_default();
        let mut out = Vec::with_capacity(16 + self.nsp.len() + data.len());
        out.push(b'4');
        out.push(self.kind.digit());
        if self.kind.is_binary() {
            out.extend_from_slice(self.attachments.to_string().as_bytes());
            out.push(b'-');
        }
        if self.nsp != "/" {
            out.extend_from_slice(self.nsp.as_bytes());
            out.push(b',');
        }
        if let Some(id) = self.id {
            out.extend_from_slice(id.to_string().as_bytes());
        }
        out.extend_from_slice(data.as_bytes());
        Bytes::from(out)
    }
}

/// `["name", arg, ...]`.
pub fn event_data(name: &str, args: &[&RawValue]) -> String {
    let mut out = String::with_capacity(
        name.len() + 4 + args.iter().map(|arg| arg.get().len() + 1).sum::<usize>(),
    );
    out.push('[');
    out.push_str(&json_string(name));
    for arg in args {
        out.push(',');
        out.push_str(arg.get());
    }
    out.push(']');
    out
}

/// `[arg, ...]`.
pub fn args_data(args: &[&RawValue]) -> String {
    let mut out = String::from("[");
    for (index, arg) in args.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(arg.get());
    }
    out.push(']');
    out
}

pub fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A broadcast: `42["event",payload]`, for the main namespace.
fn encode_broadcast(message: &Message) -> Bytes {
    encode_event_frame(message, None)
}

/// A broadcast with its position appended as the last argument,
/// `42["event",payload,"<epoch>:<offset>"]`: socket.io-client keeps the last
/// string argument of every event as the offset it sends back when it
/// reconnects (connection state recovery).
fn encode_broadcast_with_position(message: &Message) -> Bytes {
    let position = message
        .position()
        .map(|p| format!("\"{}:{}\"", p.epoch, p.offset));
    encode_event_frame(message, position.as_deref())
}

fn encode_event_frame(message: &Message, position: Option<&str>) -> Bytes {
    let event = json_string(message.event());
    let payload = message.payload().get();
    let mut out = Vec::with_capacity(8 + event.len() + payload.len() + 32);
    out.extend_from_slice(b"42[");
    out.extend_from_slice(event.as_bytes());
    out.push(b',');
    out.extend_from_slice(payload.as_bytes());
    if let Some(position) = position {
        out.push(b',');
        out.extend_from_slice(position.as_bytes());
    }
    out.push(b']');
    Bytes::from(out)
}

/// The frame of a shared broadcast for a namespace other than `/`:
/// `42/ns,[...]` (one copy; the main namespace uses the shared bytes as is).
pub fn in_namespace(frame: &Bytes, nsp: &str) -> Bytes {
    if nsp == "/" {
        return frame.clone();
    }
    let mut out = Vec::with_capacity(frame.len() + nsp.len() + 1);
    out.extend_from_slice(&frame[..2]);
    out.extend_from_slice(nsp.as_bytes());
    out.push(b',');
    out.extend_from_slice(&frame[2..]);
    Bytes::from(out)
}

pub static BROADCAST: WireFormat = WireFormat {
    name: "socket.io",
    slot: format_slots::SOCKET_IO,
    encode: encode_broadcast,
};

pub static BROADCAST_WITH_POSITION: WireFormat = WireFormat {
    name: "socket.io-recovery",
    slot: format_slots::SOCKET_IO_WITH_POSITION,
    encode: encode_broadcast_with_position,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Packet<'_> {
        decode(text).unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    #[test]
    fn decodes_connects_to_namespaces() {
        let packet = ok("0");
        assert_eq!(
            (packet.kind, packet.nsp, packet.data),
            (PacketType::Connect, "/", None)
        );
        let packet = ok(r#"0{"token":"123"}"#);
        assert_eq!(packet.data, Some(r#"{"token":"123"}"#));
        let packet = ok("0/custom,");
        assert_eq!((packet.nsp, packet.data), ("/custom", None));
        let packet = ok("0/random");
        assert_eq!(packet.nsp, "/random");
        let packet = ok(r#"0/custom,{"token":"abc"}"#);
        assert_eq!(
            (packet.nsp, packet.data),
            ("/custom", Some(r#"{"token":"abc"}"#))
        );
        assert_eq!(decode("0[1]"), Err(PacketError::InvalidPayload));
        assert_eq!(decode("0\"x\""), Err(PacketError::InvalidPayload));
    }

    #[test]
    fn decodes_events_acks_and_binaries() {
        let packet = ok(r#"2456["message-with-ack",1,"2"]"#);
        assert_eq!((packet.kind, packet.id), (PacketType::Event, Some(456)));
        let (name, args) = event_parts(packet.data.unwrap()).unwrap();
        assert_eq!(name, "message-with-ack");
        assert_eq!(
            args.iter().map(|a| a.get()).collect::<Vec<_>>(),
            ["1", "\"2\""]
        );

        let packet =
            ok(r#"52-/admin,789["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#);
        assert_eq!(
            (packet.kind, packet.attachments, packet.nsp, packet.id),
            (PacketType::BinaryEvent, 2, "/admin", Some(789))
        );
        let packet = ok("3/admin,12[]");
        assert_eq!(
            (packet.kind, packet.nsp, packet.id),
            (PacketType::Ack, "/admin", Some(12))
        );
        assert_eq!(ok("1/admin,").kind, PacketType::Disconnect);
    }

    #[test]
    fn refuses_malformed_packets() {
        for (text, error) in [
            ("abc", PacketError::UnknownType),
            ("7", PacketError::UnknownType),
            ("", PacketError::UnknownType),
            ("2{}", PacketError::InvalidPayload),
            (r#"2abc["m"]"#, PacketError::InvalidPayload),
            ("2", PacketError::InvalidPayload),
            ("2[]", PacketError::InvalidPayload),
            (r#"2["connect"]"#, PacketError::InvalidPayload),
            ("2[true]", PacketError::InvalidPayload),
            ("5-[\"m\"]", PacketError::IllegalAttachments),
            ("5x-[\"m\"]", PacketError::IllegalAttachments),
            ("50-[\"m\"]", PacketError::IllegalAttachments),
            ("511-[\"m\"]", PacketError::TooManyAttachments),
            ("5[\"m\"]", PacketError::IllegalAttachments),
            ("1{}", PacketError::InvalidPayload),
            ("4{\"message\":\"x\"}", PacketError::InvalidPayload),
            ("299999999999999999999[\"m\"]", PacketError::InvalidId),
        ] {
            assert_eq!(decode(text), Err(error), "{text}");
        }
    }

    #[test]
    fn encodes_as_socket_io_parser_does() {
        let packet = Packet {
            kind: PacketType::BinaryAck,
            attachments: 2,
            nsp: "/admin",
            id: Some(789),
            data: Some("[1]"),
        };
        assert_eq!(&packet.encode()[..], b"462-/admin,789[1]");
        let packet = Packet {
            kind: PacketType::ConnectError,
            attachments: 0,
            nsp: "/",
            id: None,
            data: Some(r#"{"message":"Invalid namespace"}"#),
        };
        assert_eq!(
            &packet.encode()[..],
            br#"44{"message":"Invalid namespace"}"#
        );
        let one = RawValue::from_string("1".into()).unwrap();
        assert_eq!(event_data("a\"b", &[&one]), r#"["a\"b",1]"#);
        assert_eq!(args_data(&[&one, &one]), "[1,1]");
    }

    #[test]
    fn broadcasts_are_shared_frames_with_an_optional_position() {
        let payload = RawValue::from_string(r#"{"n":1}"#.into()).unwrap();
        let position = crate::hub::Position {
            epoch: "ab12".into(),
            offset: 7,
        };
        let message = Message::new("t".into(), "ev", payload, Some(position));
        assert_eq!(&message.frame(&BROADCAST)[..], br#"42["ev",{"n":1}]"#);
        let frame = message.frame(&BROADCAST_WITH_POSITION);
        assert_eq!(&frame[..], br#"42["ev",{"n":1},"ab12:7"]"#);
        assert_eq!(
            &in_namespace(&frame, "/admin")[..],
            br#"42/admin,["ev",{"n":1},"ab12:7"]"#
        );
    }
}
