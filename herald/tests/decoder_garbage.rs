//! Every decoder that reads client bytes, fed many mutations of valid frames
//! (truncated, spliced, with characters flipped or repeated): none may panic,
//! valid frames must decode, and garbage must be refused rather than taken
//! for something else. Deterministic (a fixed seed), so a failure replays.

use herald::protocol::phoenix::frame::{self, Serializer};
use herald::protocol::socketio::engine::packet as engine_packet;
use herald::protocol::socketio::packet;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "\\",
    "null",
    "1",
    "-1",
    "1e999",
    "\"phoenix\"",
    "\"phx_join\"",
    "\"heartbeat\"",
    "\"topic\"",
    "\"event\"",
    "\"payload\"",
    "\"ref\"",
    "\"join_ref\"",
    "4",
    "2",
    "0",
    "40",
    "42",
    "/nsp,",
    "\u{1e}",
    "é",
    "\u{0}",
    " ",
    "\"since\"",
    "{\"epoch\":\"e\",\"offset\":1}",
    "\"_placeholder\"",
    "true",
];

/// `count` mutations of `seeds`, reproducibly.
fn mutations(seeds: &[&str], count: usize) -> Vec<String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let seed: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
        let mut text: Vec<char> = seed.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(text.len() + 1);
            match rng.below(5) {
                0 => text.truncate(at),
                1 => {
                    let piece = PIECES[rng.below(PIECES.len())];
                    text.splice(at..at, piece.chars());
                }
                2 if at < text.len() => {
                    text.remove(at);
                }
                3 if at < text.len() => {
                    let c = text[at];
                    text.insert(at, c);
                }
                _ => {
                    let other = seeds[rng.below(seeds.len())];
                    text.extend(other.chars().skip(rng.below(other.len() + 1)));
                }
            }
        }
        out.push(text.into_iter().collect());
    }
    out
}

#[test]
fn phoenix_frames() {
    let v2 = [
        r#"["1","1","room:1","phx_join",{}]"#,
        r#"[null,"2","phoenix","heartbeat",{}]"#,
        r#"["1","3","room:1","phx_join",{"since":{"epoch":"e","offset":3}}]"#,
        r#"["1","4","room:1","phx_leave",{}]"#,
    ];
    let v1 = [
        r#"{"topic":"room:1","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}"#,
        r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"2"}"#,
    ];
    for (serializer, seeds) in [(Serializer::V2, &v2[..]), (Serializer::V1, &v1[..])] {
        for seed in seeds {
            assert!(frame::decode(serializer, seed).is_ok(), "{seed}");
        }
        let inputs = mutations(seeds, 20_000);
        let refused = inputs
            .iter()
            .filter(|text| frame::decode(serializer, text).is_err())
            .count();
        assert!(refused > inputs.len() / 4, "garbage refused: {refused}");
        // Whatever is accepted names a topic and an event the client wrote
        // (checked where no JSON escape can change how they read).
        for text in inputs.iter().filter(|text| !text.contains('\\')) {
            if let Ok(inbound) = frame::decode(serializer, text) {
                assert!(text.contains(&*inbound.topic), "topic of {text}");
                assert!(text.contains(&*inbound.event), "event of {text}");
            }
        }
    }
}

#[test]
fn socketio_packets_and_engine_payloads() {
    let seeds = [
        "0",
        r#"0{"token":"t"}"#,
        "0/admin,",
        r#"2["join-global-notifications"]"#,
        r#"21["subscribe",{"channel":"c"}]"#,
        r#"2/admin,3["push",{"topic":"user:1","event":"list","payload":{}}]"#,
        r#"51-["upload",{"_placeholder":true,"num":0}]"#,
        "1",
        "3[]",
    ];
    for seed in &seeds {
        assert!(packet::decode(seed).is_ok(), "{seed}");
    }
    let inputs = mutations(&seeds, 20_000);
    let mut refused = 0;
    for text in &inputs {
        match packet::decode(text) {
            Ok(decoded) => {
                // Nothing invented: the namespace and data are the client's.
                assert!(
                    text.contains(decoded.nsp) || decoded.nsp == "/",
                    "nsp of {text}"
                );
                if let Some(data) = decoded.data {
                    assert!(text.contains(data), "data of {text}");
                    if let Some((name, _)) = packet::event_parts(data)
                        && !text.contains('\\')
                    {
                        assert!(text.contains(&name), "event name of {text}");
                    }
                }
            }
            Err(_) => refused += 1,
        }
    }
    assert!(refused > inputs.len() / 4, "garbage refused: {refused}");

    let payloads = [
        "4hello",
        "2",
        "3",
        "2probe",
        "5",
        "6",
        "1",
        "4a\u{1e}4b\u{1e}2",
    ];
    for seed in &payloads {
        assert!(engine_packet::decode_payload(seed).is_ok(), "{seed}");
    }
    let inputs = mutations(&payloads, 20_000);
    let mut refused = 0;
    for text in &inputs {
        match engine_packet::decode_payload(text) {
            // One packet per record separator, no more, no fewer.
            Ok(packets) => assert_eq!(packets.len(), text.split('\u{1e}').count(), "{text:?}"),
            Err(_) => refused += 1,
        }
    }
    assert!(refused > inputs.len() / 10, "garbage refused: {refused}");
}
