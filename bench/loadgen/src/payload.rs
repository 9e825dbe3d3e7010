//! The benchmark payload: a sequence number and a send timestamp, found again
//! in received frames without parsing them.
//!
//! Every published payload is `{"seq":N,"t":MICROS,"pad":"..."}`. Receivers
//! only scan the frame bytes for `"seq":` and `"t":` (whatever wire format
//! wraps the payload), so reading a delivery costs a few byte comparisons
//! instead of a JSON parse: that keeps one generator core able to read about
//! 100,000 deliveries per second.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch: publisher and receivers run on the same
/// machine, so their clocks agree.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The JSON payload of message `seq`, sent at `sent_us`, padded with `pad`
/// bytes so message size can be varied.
pub fn payload_json(seq: u64, sent_us: u64, pad: usize) -> String {
    let mut text = String::with_capacity(48 + pad);
    text.push_str("{\"seq\":");
    text.push_str(&seq.to_string());
    text.push_str(",\"t\":");
    text.push_str(&sent_us.to_string());
    if pad > 0 {
        text.push_str(",\"pad\":\"");
        text.extend(std::iter::repeat_n('x', pad));
        text.push('"');
    }
    text.push('}');
    text
}

/// A delivery found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub seq: u64,
    pub sent_us: u64,
}

/// Find the sequence number and send time in a frame, if it carries a
/// benchmark payload.
pub fn scan(frame: &[u8]) -> Option<Stamp> {
    let seq_at = find(frame, b"\"seq\":")? + 6;
    let (seq, rest_at) = digits(frame, seq_at)?;
    let t_at = rest_at + find(&frame[rest_at..], b"\"t\":")? + 4;
    let (sent_us, _) = digits(frame, t_at)?;
    Some(Stamp { seq, sent_us })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The decimal number starting at `at`, and where it ends.
fn digits(bytes: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    let mut end = at;
    while let Some(byte) = bytes.get(end).filter(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
        end += 1;
    }
    (end > at).then_some((value, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_stamp_in_any_wrapping() {
        let payload = payload_json(42, 1_700_000_000_123_456, 3);
        assert_eq!(payload, r#"{"seq":42,"t":1700000000123456,"pad":"xxx"}"#);
        let stamp = Stamp {
            seq: 42,
            sent_us: 1_700_000_000_123_456,
        };
        let phoenix = format!(r#"[null,"e1:43","bench:0","bench",{payload}]"#);
        let socketio = format!(r#"42["bench",{payload}]"#);
        assert_eq!(scan(phoenix.as_bytes()), Some(stamp));
        assert_eq!(scan(socketio.as_bytes()), Some(stamp));
    }

    #[test]
    fn frames_without_a_stamp_are_ignored() {
        assert_eq!(
            scan(br#"["1","1","bench:0","phx_reply",{"status":"ok"}]"#),
            None
        );
        assert_eq!(scan(b"2"), None);
        assert_eq!(scan(br#"{"seq":}"#), None);
        assert_eq!(scan(br#"{"seq":99999999999999999999999,"t":1}"#), None);
    }
}
