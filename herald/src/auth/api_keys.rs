//! Server-to-server API keys, compared in constant time, each with the
//! scopes it grants.
//!
//! A configured key is `secret` (every scope) or `secret:scope+scope`
//! (only those), e.g. `HERALD_API_KEYS="k1-0123456789abcdef,k2-0123456789abcdef:inbox"`.
//! Scopes follow the producer routes: `publish` (notifications, publish,
//! broadcast), `inbox` (store notifications, act on any user's inbox) and
//! `history` (topic history). A backend that only stores inbox
//! notifications thus cannot broadcast to every topic if its key leaks.

use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::AuthConfigError;

/// What a key may do: a set of [`Scope`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes(u8);

/// One right a key can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Publish,
    Inbox,
    History,
}

impl Scope {
    const ALL: [Scope; 3] = [Scope::Publish, Scope::Inbox, Scope::History];

    const fn bit(self) -> u8 {
        match self {
            Scope::Publish => 1,
            Scope::Inbox => 2,
            Scope::History => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scope::Publish => "publish",
            Scope::Inbox => "inbox",
            Scope::History => "history",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|scope| scope.name() == name)
    }
}

impl Scopes {
    pub const ALL: Scopes = {
        let mut bits = 0;
        let mut i = 0;
        while i < Scope::ALL.len() {
            bits |= Scope::ALL[i].bit();
            i += 1;
        }
        Scopes(bits)
    };

    pub fn allows(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// `publish+inbox` and the like.
    fn parse(list: &str) -> Option<Self> {
        let mut bits = 0;
        for name in list.split('+') {
            bits |= Scope::parse(name.trim())?.bit();
        }
        Some(Scopes(bits))
    }
}

struct ApiKey {
    secret: Vec<u8>,
    scopes: Scopes,
}

#[derive(Default)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

/// Short keys are guessable; refuse them at start.
const MIN_KEY_LEN: usize = 16;

impl ApiKeys {
    pub fn new(entries: impl IntoIterator<Item = String>) -> Result<Self, AuthConfigError> {
        let mut keys = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let (secret, scopes) = match entry.rsplit_once(':') {
                Some((secret, list)) => {
                    let scopes =
                        Scopes::parse(list).ok_or(AuthConfigError::UnknownScope(index + 1))?;
                    (secret.to_owned(), scopes)
                }
                None => (entry, Scopes::ALL),
            };
            if secret.len() < MIN_KEY_LEN {
                return Err(AuthConfigError::ShortApiKey);
            }
            keys.push(ApiKey {
                secret: secret.into_bytes(),
                scopes,
            });
        }
        Ok(Self { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The scopes of the key `candidate`, or `None` when it is no key.
    /// Every configured key is compared, whatever matched first, so the time
    /// taken says nothing about which key (or how much of one) was right.
    pub fn scopes_of(&self, candidate: &str) -> Option<Scopes> {
        let candidate = candidate.as_bytes();
        let mut found = subtle::Choice::from(0);
        let mut bits = 0u8;
        for key in &self.keys {
            let matches = key.secret.as_slice().ct_eq(candidate);
            found |= matches;
            bits |= u8::conditional_select(&0, &key.scopes.0, matches);
        }
        bool::from(found).then_some(Scopes(bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_whole_keys() {
        let keys =
            ApiKeys::new(["0123456789abcdef".to_owned(), "fedcba9876543210".to_owned()]).unwrap();
        assert_eq!(keys.scopes_of("0123456789abcdef"), Some(Scopes::ALL));
        assert_eq!(keys.scopes_of("fedcba9876543210"), Some(Scopes::ALL));
        assert_eq!(keys.scopes_of("0123456789abcde"), None);
        assert_eq!(keys.scopes_of(""), None);
        assert_eq!(keys.scopes_of("0123456789abcdefX"), None);
    }

    #[test]
    fn scoped_keys_grant_only_their_scopes() {
        let keys = ApiKeys::new([
            "inbox-only-0123456789:inbox".to_owned(),
            "two-scopes-0123456789:publish+history".to_owned(),
        ])
        .unwrap();
        let inbox = keys.scopes_of("inbox-only-0123456789").unwrap();
        assert!(inbox.allows(Scope::Inbox));
        assert!(!inbox.allows(Scope::Publish) && !inbox.allows(Scope::History));
        let two = keys.scopes_of("two-scopes-0123456789").unwrap();
        assert!(two.allows(Scope::Publish) && two.allows(Scope::History));
        assert!(!two.allows(Scope::Inbox));
        // The scope list is not part of the key.
        assert_eq!(keys.scopes_of("inbox-only-0123456789:inbox"), None);
    }

    #[test]
    fn short_keys_and_unknown_scopes_are_refused() {
        assert!(ApiKeys::new(["short".to_owned()]).is_err());
        assert!(ApiKeys::new(["short:inbox".to_owned()]).is_err());
        assert!(matches!(
            ApiKeys::new(["0123456789abcdef:admin".to_owned()]),
            Err(AuthConfigError::UnknownScope(1))
        ));
        // The error never shows the entry (a secret).
        let err = ApiKeys::new(["secret-0123456789abcdef:admin".to_owned()])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("#1") && !err.contains("secret-0123"), "{err}");
    }
}
