//! Phoenix Channels framing: the V1 (JSON object) and V2 (JSON array)
//! serializers.
//!
//! V2: `[join_ref, ref, topic, event, payload]`.
//! V1: `{"join_ref", "ref", "topic", "event", "payload"}`.
//!
//! Refs are kept as the raw JSON the client sent (a string, a number, or
//! null) and echoed back byte for byte, so any client's ref scheme works.
//! Payloads are raw JSON too: never parsed on the way through.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::hub::{Message, WireFormat};
use crate::protocol::format_slots;

/// Which serializer a socket speaks, chosen by the `vsn` connect parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serializer {
    V1,
    V2,
}

impl Serializer {
    /// `vsn=2.x` is V2; `vsn=1.x` or no `vsn` is V1, as in Phoenix.
    pub fn from_vsn(vsn: Option<&str>) -> Option<Self> {
        match vsn {
            None => Some(Serializer::V1),
            Some(v) if v.starts_with("1.") => Some(Serializer::V1),
            Some(v) if v.starts_with("2.") => Some(Serializer::V2),
            Some(_) => None,
        }
    }

    /// The hub wire format for broadcasts in this serializer.
    pub fn broadcast_format(self) -> &'static WireFormat {
        match self {
            Serializer::V1 => &BROADCAST_V1,
            Serializer::V2 => &BROADCAST_V2,
        }
    }
}

/// A frame received from a client.
#[derive(Debug)]
pub struct Inbound {
    pub join_ref: Option<Box<RawValue>>,
    pub msg_ref: Option<Box<RawValue>>,
    pub topic: String,
    pub event: String,
    pub payload: Box<RawValue>,
}

/// A frame that could not be decoded. When the client's ref could still be
/// read, the connection answers with an error reply; otherwise it closes.
#[derive(Debug)]
pub struct DecodeError {
    pub reason: &'static str,
    pub join_ref: Option<Box<RawValue>>,
    pub msg_ref: Option<Box<RawValue>>,
    pub topic: Option<String>,
}

impl DecodeError {
    fn bare(reason: &'static str) -> Self {
        Self {
            reason,
            join_ref: None,
            msg_ref: None,
            topic: None,
        }
    }
}

/// Decode one text frame.
pub fn decode(serializer: Serializer, text: &str) -> Result<Inbound, DecodeError> {
    match serializer {
        Serializer::V2 => decode_v2(text),
        Serializer::V1 => decode_v1(text),
    }
}

fn decode_v2(text: &str) -> Result<Inbound, DecodeError> {
    let value: Box<RawValue> =
        serde_json::from_str(text).map_err(|_| DecodeError::bare("invalid JSON"))?;
    let fields: Vec<Box<RawValue>> = serde_json::from_str(value.get()).map_err(|_| {
        DecodeError::bare("expected a JSON array [join_ref, ref, topic, event, payload]")
    })?;
    let [join_ref, msg_ref, topic, event, payload]: [Box<RawValue>; 5] =
        fields.try_into().map_err(|_| {
            DecodeError::bare("expected 5 elements [join_ref, ref, topic, event, payload]")
        })?;
    assemble(join_ref, msg_ref, &topic, &event, payload)
}

#[derive(Deserialize)]
struct V1Frame {
    join_ref: Option<Box<RawValue>>,
    #[serde(rename = "ref")]
    msg_ref: Option<Box<RawValue>>,
    topic: Option<Box<RawValue>>,
    event: Option<Box<RawValue>>,
    payload: Option<Box<RawValue>>,
}

fn decode_v1(text: &str) -> Result<Inbound, DecodeError> {
    let value: Box<RawValue> =
        serde_json::from_str(text).map_err(|_| DecodeError::bare("invalid JSON"))?;
    let not_an_object = || DecodeError::bare("expected a JSON object {topic, event, payload, ref}");
    // serde would also accept an array for a struct; V1 frames are objects.
    if !value.get().starts_with('{') {
        return Err(not_an_object());
    }
    let frame: V1Frame = serde_json::from_str(value.get()).map_err(|_| not_an_object())?;
    let null = || RawValue::from_string("null".to_owned());
    let missing = |reason| DecodeError {
        reason,
        join_ref: None,
        msg_ref: None,
        topic: None,
    };
    let topic = frame.topic.ok_or_else(|| missing("missing topic"))?;
    let event = frame.event.ok_or_else(|| missing("missing event"))?;
    let payload = match frame.payload {
        Some(payload) => payload,
        None => null().map_err(|_| missing("missing payload"))?,
    };
    let join_ref = match frame.join_ref {
        Some(r) => r,
        None => null().map_err(|_| missing("invalid join_ref"))?,
    };
    let msg_ref = match frame.msg_ref {
        Some(r) => r,
        None => null().map_err(|_| missing("invalid ref"))?,
    };
    assemble(join_ref, msg_ref, &topic, &event, payload)
}

/// Checks shared by both serializers once the five parts are split out.
fn assemble(
    join_ref: Box<RawValue>,
    msg_ref: Box<RawValue>,
    topic: &RawValue,
    event: &RawValue,
    payload: Box<RawValue>,
) -> Result<Inbound, DecodeError> {
    let join_ref = valid_ref(join_ref);
    let msg_ref = valid_ref(msg_ref);
    let fail = |reason, topic: Option<String>| DecodeError {
        reason,
        join_ref: join_ref.clone(),
        msg_ref: msg_ref.clone(),
        topic,
    };
    let topic: String =
        serde_json::from_str(topic.get()).map_err(|_| fail("topic must be a string", None))?;
    let event: String = serde_json::from_str(event.get())
        .map_err(|_| fail("event must be a string", Some(topic.clone())))?;
    Ok(Inbound {
        join_ref: join_ref.clone(),
        msg_ref: msg_ref.clone(),
        topic,
        event,
        payload,
    })
}

/// A ref is kept only if it is a string or a number; null and anything else
/// count as absent.
fn valid_ref(raw: Box<RawValue>) -> Option<Box<RawValue>> {
    let text = raw.get().trim_start();
    let first = text.chars().next()?;
    (first == '"' || first == '-' || first.is_ascii_digit()).then_some(raw)
}

/// One outgoing frame, before serialization.
pub struct Outbound<'a> {
    pub join_ref: Option<&'a RawValue>,
    pub msg_ref: Option<&'a RawValue>,
    pub topic: &'a str,
    pub event: &'a str,
    pub payload: &'a str,
}

impl Outbound<'_> {
    pub fn encode(&self, serializer: Serializer) -> Bytes {
        let mut out =
            Vec::with_capacity(48 + self.topic.len() + self.event.len() + self.payload.len());
        let join_ref = self.join_ref.map_or("null", RawValue::get);
        let msg_ref = self.msg_ref.map_or("null", RawValue::get);
        match serializer {
            Serializer::V2 => {
                out.push(b'[');
                out.extend_from_slice(join_ref.as_bytes());
                out.push(b',');
                out.extend_from_slice(msg_ref.as_bytes());
                out.push(b',');
                push_json_string(&mut out, self.topic);
                out.push(b',');
                push_json_string(&mut out, self.event);
                out.push(b',');
                out.extend_from_slice(self.payload.as_bytes());
                out.push(b']');
            }
            Serializer::V1 => {
                out.extend_from_slice(b"{\"join_ref\":");
                out.extend_from_slice(join_ref.as_bytes());
                out.extend_from_slice(b",\"ref\":");
                out.extend_from_slice(msg_ref.as_bytes());
                out.extend_from_slice(b",\"topic\":");
                push_json_string(&mut out, self.topic);
                out.extend_from_slice(b",\"event\":");
                push_json_string(&mut out, self.event);
                out.extend_from_slice(b",\"payload\":");
                out.extend_from_slice(self.payload.as_bytes());
                out.push(b'}');
            }
        }
        Bytes::from(out)
    }
}

/// A `phx_reply` payload: `{"status": ..., "response": ...}`.
pub fn reply_payload(ok: bool, response: &str) -> String {
    let status = if ok { "ok" } else { "error" };
    format!(r#"{{"status":"{status}","response":{response}}}"#)
}

fn push_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a &str into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, text).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// A broadcast carries its position in the ref slot, `"<epoch>:<offset>"`:
/// phoenix.js hands the ref to `channel.on` callbacks as their second
/// argument, and the payload stays exactly what the producer sent.
fn encode_broadcast(message: &Message, serializer: Serializer) -> Bytes {
    let position = message
        .position()
        .and_then(|p| RawValue::from_string(format!("\"{}:{}\"", p.epoch, p.offset)).ok());
    Outbound {
        join_ref: None,
        msg_ref: position.as_deref(),
        topic: message.topic(),
        event: message.event(),
        payload: message.payload().get(),
    }
    .encode(serializer)
}

fn encode_broadcast_v1(message: &Message) -> Bytes {
    encode_broadcast(message, Serializer::V1)
}

fn encode_broadcast_v2(message: &Message) -> Bytes {
    encode_broadcast(message, Serializer::V2)
}

pub static BROADCAST_V1: WireFormat = WireFormat {
    name: "phoenix-v1",
    slot: format_slots::PHOENIX_V1,
    encode: encode_broadcast_v1,
};

pub static BROADCAST_V2: WireFormat = WireFormat {
    name: "phoenix-v2",
    slot: format_slots::PHOENIX_V2,
    encode: encode_broadcast_v2,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_v2_join() {
        let inbound = decode(Serializer::V2, r#"["1","2","room:1","phx_join",{"a":1}]"#).unwrap();
        assert_eq!(inbound.join_ref.unwrap().get(), r#""1""#);
        assert_eq!(inbound.msg_ref.unwrap().get(), r#""2""#);
        assert_eq!(inbound.topic, "room:1");
        assert_eq!(inbound.event, "phx_join");
        assert_eq!(inbound.payload.get(), r#"{"a":1}"#);
    }

    #[test]
    fn decodes_a_v1_heartbeat_without_join_ref() {
        let inbound = decode(
            Serializer::V1,
            r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"5"}"#,
        )
        .unwrap();
        assert!(inbound.join_ref.is_none());
        assert_eq!(inbound.msg_ref.unwrap().get(), r#""5""#);
        assert_eq!(inbound.event, "heartbeat");
    }

    #[test]
    fn rejects_bad_frames_with_a_reason() {
        let cases = [
            (Serializer::V2, "not json", "invalid JSON"),
            (Serializer::V2, r#"{"a":1}"#, "expected a JSON array"),
            (Serializer::V2, r#"["1","2","t"]"#, "expected 5 elements"),
            (
                Serializer::V2,
                r#"["1","2",7,"e",{}]"#,
                "topic must be a string",
            ),
            (
                Serializer::V2,
                r#"["1","2","t",null,{}]"#,
                "event must be a string",
            ),
            (
                Serializer::V1,
                r#"["1","2","t","e",{}]"#,
                "expected a JSON object",
            ),
            (
                Serializer::V1,
                r#"{"event":"e","payload":{},"ref":"1"}"#,
                "missing topic",
            ),
        ];
        for (serializer, text, reason) in cases {
            let err = decode(serializer, text).unwrap_err();
            assert!(err.reason.starts_with(reason), "{text}: got {}", err.reason);
        }
    }

    #[test]
    fn keeps_the_ref_of_a_frame_with_a_bad_topic() {
        let err = decode(Serializer::V2, r#"["1","9",42,"e",{}]"#).unwrap_err();
        assert_eq!(err.msg_ref.unwrap().get(), r#""9""#);
    }

    #[test]
    fn encodes_both_serializers() {
        let join_ref = RawValue::from_string(r#""1""#.into()).unwrap();
        let frame = Outbound {
            join_ref: Some(&join_ref),
            msg_ref: Some(&join_ref),
            topic: "room:\"x\"",
            event: "phx_reply",
            payload: r#"{"status":"ok","response":{}}"#,
        };
        assert_eq!(
            &frame.encode(Serializer::V2)[..],
            br#"["1","1","room:\"x\"","phx_reply",{"status":"ok","response":{}}]"#
        );
        let v1: serde_json::Value = serde_json::from_slice(&frame.encode(Serializer::V1)).unwrap();
        assert_eq!(v1["topic"], "room:\"x\"");
        assert_eq!(v1["ref"], "1");
        assert_eq!(v1["payload"]["status"], "ok");
    }

    #[test]
    fn broadcasts_carry_their_position_in_the_ref() {
        let payload = RawValue::from_string(r#"{"n":1}"#.into()).unwrap();
        let position = crate::hub::Position {
            epoch: "ab12".into(),
            offset: 7,
        };
        let msg = Message::new("t".into(), "ev", payload, Some(position));
        assert_eq!(
            &msg.frame(&BROADCAST_V2)[..],
            br#"[null,"ab12:7","t","ev",{"n":1}]"#
        );
    }

    #[test]
    fn broadcasts_have_null_refs() {
        let payload = RawValue::from_string(r#"{"n":1}"#.into()).unwrap();
        let msg = Message::new("t".into(), "ev", payload, None);
        assert_eq!(
            &msg.frame(&BROADCAST_V2)[..],
            br#"[null,null,"t","ev",{"n":1}]"#
        );
        let v1: serde_json::Value = serde_json::from_slice(&msg.frame(&BROADCAST_V1)).unwrap();
        assert_eq!(v1["event"], "ev");
        assert!(v1["ref"].is_null());
    }

    #[test]
    fn vsn_selects_the_serializer() {
        assert_eq!(Serializer::from_vsn(None), Some(Serializer::V1));
        assert_eq!(Serializer::from_vsn(Some("1.0.0")), Some(Serializer::V1));
        assert_eq!(Serializer::from_vsn(Some("2.0.0")), Some(Serializer::V2));
        assert_eq!(Serializer::from_vsn(Some("3.0.0")), None);
    }
}
