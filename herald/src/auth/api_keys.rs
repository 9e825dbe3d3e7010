//! Server-to-server API keys, compared in constant time.

use subtle::ConstantTimeEq;

use super::AuthConfigError;

#[derive(Default)]
pub struct ApiKeys {
    keys: Vec<Vec<u8>>,
}

/// Short keys are guessable; refuse them at start.
const MIN_KEY_LEN: usize = 16;

impl ApiKeys {
    pub fn new(keys: impl IntoIterator<Item = String>) -> Result<Self, AuthConfigError> {
        let keys: Vec<Vec<u8>> = keys.into_iter().map(String::into_bytes).collect();
        if keys.iter().any(|k| k.len() < MIN_KEY_LEN) {
            return Err(AuthConfigError::ShortApiKey);
        }
        Ok(Self { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every configured key is compared, whatever matched first, so the time
    /// taken says nothing about which key (or how much of one) was right.
    pub fn contains(&self, candidate: &str) -> bool {
        let candidate = candidate.as_bytes();
        let mut found = subtle::Choice::from(0);
        for key in &self.keys {
            found |= key.as_slice().ct_eq(candidate);
        }
        found.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_whole_keys() {
        let keys =
            ApiKeys::new(["0123456789abcdef".to_owned(), "fedcba9876543210".to_owned()]).unwrap();
        assert!(keys.contains("0123456789abcdef"));
        assert!(keys.contains("fedcba9876543210"));
        assert!(!keys.contains("0123456789abcde"));
        assert!(!keys.contains(""));
        assert!(!keys.contains("0123456789abcdefX"));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(ApiKeys::new(["short".to_owned()]).is_err());
    }
}
