//! Random identifiers: Engine.IO session ids, Socket.IO socket ids and
//! recovery ids (`pid`). They are secrets of a kind (whoever knows a polling
//! session's id can read it), so they come from the operating system's random
//! source, and are kept as 128-bit numbers (cheap to store and compare) and
//! written as 22 characters of unpadded base64url.

use std::fmt;
use std::hash::{BuildHasher, Hasher};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id(u128);

impl Id {
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // The OS source does not fail on the systems Herald runs on; should
            // it ever, fall back to std's per-process random keys rather than
            // refusing connections.
            let state = std::collections::hash_map::RandomState::new();
            let mut halves = [0u64; 2];
            for (index, half) in halves.iter_mut().enumerate() {
                let mut hasher = state.build_hasher();
                hasher.write_usize(index);
                *half = hasher.finish();
            }
            bytes[..8].copy_from_slice(&halves[0].to_le_bytes());
            bytes[8..].copy_from_slice(&halves[1].to_le_bytes());
        }
        Self(u128::from_le_bytes(bytes))
    }

    /// Read an id written by [`Id`]'s `Display`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 22 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let bytes: [u8; 16] = bytes.try_into().ok()?;
        Some(Self(u128::from_le_bytes(bytes)))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0.to_le_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_differ() {
        let id = Id::random();
        let text = id.to_string();
        assert_eq!(text.len(), 22);
        assert_eq!(Id::parse(&text), Some(id));
        assert_ne!(Id::random(), id);
        assert_eq!(Id::parse("short"), None);
        assert_eq!(Id::parse("!!!!!!!!!!!!!!!!!!!!!!"), None);
    }
}
