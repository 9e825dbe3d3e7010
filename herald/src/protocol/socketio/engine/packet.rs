//! Engine.IO v4 packets, as they travel over WebSocket frames and HTTP
//! long-polling payloads.
//!
//! A text packet is one digit (its type) followed by its data: `4hello` is
//! the message "hello", `2` a ping, `3probe` the answer to an upgrade probe.
//! Over WebSocket a binary message is a binary frame as is. A long-polling
//! payload joins packets with the record separator `\x1e`, and writes binary
//! messages as `b` followed by their base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{BufMut, Bytes, BytesMut};

/// Separates packets in a long-polling payload.
pub const RECORD_SEPARATOR: u8 = 0x1e;

/// A packet received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientPacket {
    /// The client closes the session.
    Close,
    /// `2` (answered with `3`) or, during an upgrade, `2probe`.
    Ping {
        probe: bool,
    },
    /// The answer to a server ping.
    Pong,
    /// A text message: the whole packet, `4` included (see [`message_data`]).
    Message(String),
    /// A binary message.
    Binary(Bytes),
    /// Completes an upgrade to WebSocket.
    Upgrade,
    Noop,
}

/// Why a packet could not be read. The session is closed: the protocol says
/// nothing is to be trusted after a malformed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type")]
    UnknownType,
    #[error("invalid base64 in a binary packet")]
    InvalidBase64,
}

/// The data of a message packet: everything after its type digit.
pub fn message_data(packet: &str) -> &str {
    packet.get(1..).unwrap_or_default()
}

/// Decode one text packet.
pub fn decode_text(text: &str) -> Result<ClientPacket, PacketError> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(PacketError::Empty)?;
    let data = chars.as_str();
    Ok(match kind {
        '1' => ClientPacket::Close,
        '2' => ClientPacket::Ping {
            probe: data == "probe",
        },
        '3' => ClientPacket::Pong,
        '4' => ClientPacket::Message(text.to_owned()),
        '5' => ClientPacket::Upgrade,
        '6' => ClientPacket::Noop,
        // `0` (open) is only ever sent by servers.
        _ => return Err(PacketError::UnknownType),
    })
}

/// Decode a long-polling payload (the body of a client's POST).
pub fn decode_payload(body: &str) -> Result<Vec<ClientPacket>, PacketError> {
    body.split(char::from(RECORD_SEPARATOR))
        .map(|packet| match packet.strip_prefix('b') {
            Some(base64) => BASE64
                .decode(base64)
                .map(|bytes| ClientPacket::Binary(Bytes::from(bytes)))
                .map_err(|_| PacketError::InvalidBase64),
            None => decode_text(packet),
        })
        .collect()
}

/// A packet on its way to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerPacket {
    /// A complete text packet, type digit included (`2`, `42[...]`).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

pub const PING: &[u8] = b"2";
pub const PONG: &[u8] = b"3";
pub const CLOSE: &[u8] = b"1";
pub const NOOP: &[u8] = b"6";
pub const PROBE_ANSWER: &str = "3probe";

/// A message packet carrying `data`.
pub fn message(data: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 1);
    out.put_u8(b'4');
    out.put_slice(data.as_bytes());
    out.freeze()
}

/// Join packets into one long-polling payload.
pub fn encode_payload(packets: &[ServerPacket]) -> Bytes {
    let size: usize = packets
        .iter()
        .map(|packet| match packet {
            ServerPacket::Text(text) => text.len() + 1,
            ServerPacket::Binary(bytes) => bytes.len() * 4 / 3 + 6,
        })
        .sum();
    let mut out = Vec::with_capacity(size);
    for (index, packet) in packets.iter().enumerate() {
        if index > 0 {
            out.push(RECORD_SEPARATOR);
        }
        match packet {
            ServerPacket::Text(text) => out.extend_from_slice(text),
            ServerPacket::Binary(bytes) => {
                out.push(b'b');
                out.extend_from_slice(BASE64.encode(bytes).as_bytes());
            }
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_client_packet_type() {
        assert_eq!(decode_text("1"), Ok(ClientPacket::Close));
        assert_eq!(decode_text("2"), Ok(ClientPacket::Ping { probe: false }));
        assert_eq!(
            decode_text("2probe"),
            Ok(ClientPacket::Ping { probe: true })
        );
        assert_eq!(decode_text("3"), Ok(ClientPacket::Pong));
        assert_eq!(
            decode_text("4hello"),
            Ok(ClientPacket::Message("4hello".into()))
        );
        assert_eq!(decode_text("5"), Ok(ClientPacket::Upgrade));
        assert_eq!(decode_text("6"), Ok(ClientPacket::Noop));
        assert_eq!(decode_text(""), Err(PacketError::Empty));
        assert_eq!(decode_text("abc"), Err(PacketError::UnknownType));
        assert_eq!(decode_text("0{}"), Err(PacketError::UnknownType));
        assert_eq!(message_data("4hello"), "hello");
    }

    #[test]
    fn payloads_split_on_the_record_separator_and_carry_base64_binaries() {
        let packets = decode_payload("4hello\x1ebAQIDBA==\x1e3").unwrap();
        assert_eq!(
            packets,
            [
                ClientPacket::Message("4hello".into()),
                ClientPacket::Binary(Bytes::from_static(&[1, 2, 3, 4])),
                ClientPacket::Pong,
            ]
        );
        assert_eq!(decode_payload("4a\x1e"), Err(PacketError::Empty));
        assert_eq!(decode_payload("b!!"), Err(PacketError::InvalidBase64));
    }

    #[test]
    fn encodes_payloads_the_way_clients_split_them() {
        let payload = encode_payload(&[
            ServerPacket::Text(message("hello")),
            ServerPacket::Binary(Bytes::from_static(&[1, 2, 3, 4])),
            ServerPacket::Text(Bytes::from_static(PING)),
        ]);
        assert_eq!(&payload[..], b"4hello\x1ebAQIDBA==\x1e2");
    }
}
