//! Phoenix Channels V2 frames: `[join_ref, ref, topic, event, payload]`.
//!
//! Broadcasts arrive as `[null, <ref or null>, topic, event, payload]`; the
//! client reads only the stamp in their payload. Replies are rare (one per
//! join and heartbeat) and are parsed as JSON.

use super::Inbound;
use crate::payload;

pub const PATH: &str = "/socket/websocket?vsn=2.0.0";

/// Topic of heartbeats; phoenix.js sends one every 30 s.
pub const HEARTBEAT_SECS: u64 = 30;

pub fn join(reference: u64, topic: &str) -> String {
    let topic = serde_json::Value::from(topic);
    format!(r#"["{reference}","{reference}",{topic},"phx_join",{{}}]"#)
}

pub fn heartbeat(reference: u64) -> String {
    format!(r#"[null,"{reference}","phoenix","heartbeat",{{}}]"#)
}

pub fn classify(frame: &str) -> Inbound {
    if frame.starts_with("[null,")
        && let Some(stamp) = payload::scan(frame.as_bytes())
    {
        return Inbound::Delivery(stamp);
    }
    if !frame.contains("\"phx_reply\"") {
        return Inbound::Other;
    }
    let Ok(serde_json::Value::Array(parts)) = serde_json::from_str(frame) else {
        return Inbound::Other;
    };
    let reference = parts
        .get(1)
        .and_then(|r| r.as_str())
        .and_then(|r| r.parse().ok());
    let ok = parts
        .get(4)
        .and_then(|p| p.get("status"))
        .and_then(|s| s.as_str())
        == Some("ok");
    match reference {
        Some(reference) => Inbound::Reply { reference, ok },
        None => Inbound::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Stamp;

    #[test]
    fn frames() {
        assert_eq!(join(3, "bench:0"), r#"["3","3","bench:0","phx_join",{}]"#);
        assert_eq!(
            classify(r#"["3","3","bench:0","phx_reply",{"status":"ok","response":{}}]"#),
            Inbound::Reply {
                reference: 3,
                ok: true
            }
        );
        assert_eq!(
            classify(
                r#"["3","3","x","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#
            ),
            Inbound::Reply {
                reference: 3,
                ok: false
            }
        );
        assert_eq!(
            classify(r#"[null,"e:1","bench:0","bench",{"seq":7,"t":9}]"#),
            Inbound::Delivery(Stamp { seq: 7, sent_us: 9 })
        );
        assert_eq!(
            classify(r#"[null,null,"bench:0","other",{}]"#),
            Inbound::Other
        );
    }
}
