//! Who may connect, who may listen where, and who may publish.
//!
//! Transports and HTTP handlers ask this module two questions and never look
//! at tokens themselves:
//!
//! - [`Auth::authenticate`]: a client's token (or none) becomes an
//!   [`Identity`], or a stable reason why not ([`AuthError::reason`]);
//! - [`Auth::authorize_topic`]: may this identity join this topic, decided by
//!   the ordered topic rules of the configuration ([`rules`]).
//!
//! Producers (backends) prove themselves with API keys ([`api_keys`]); the
//! HTTP extractors in [`http`] turn either kind of credential into a typed
//! caller. Connection-count and message-rate limits live in [`limits`].
//!
//! When no way to verify anything is configured (no JWT secret, no JWKS, no
//! API keys) authentication is off: every client is anonymous but may join
//! any topic and every producer call is accepted. That keeps the embedded
//! default usable on a laptop; Herald says so loudly at start.

mod api_keys;
mod claims;
pub mod config;
pub mod http;
mod jwks;
mod jwt;
pub mod limits;
pub mod rules;

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

pub use api_keys::{ApiKeys, Scope, Scopes};
pub use claims::ClaimMapping;
pub use config::{AuthConfig, AuthConfigError};
pub use rules::{TopicDenied, TopicRules};

/// Who is on the other end of a connection or request, as far as a verified
/// token says.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub user_id: Option<String>,
    pub business_id: Option<String>,
    pub location_id: Option<String>,
    pub roles: Vec<String>,
    /// Every claim of the token, for rules that name claims directly.
    pub claims: Map<String, Value>,
    /// When the token expires (Unix seconds).
    pub expires_at: Option<u64>,
}

impl Identity {
    /// The identity of a client that presented no token.
    pub fn anonymous() -> Self {
        Self::default()
    }

    pub fn is_anonymous(&self) -> bool {
        self.user_id.is_none() && self.claims.is_empty()
    }

    /// This identity behind an `Arc` for a connection to keep. Anonymous
    /// identities (most sockets of a public deployment) all share one
    /// allocation: an `Identity` of its own costs a socket about 160 bytes,
    /// 4% of the memory budget of an idle connection.
    pub fn into_shared(self) -> Arc<Identity> {
        static ANONYMOUS: OnceLock<Arc<Identity>> = OnceLock::new();
        // Every field named (no `..`): a field added later must be decided
        // here, or its value would be swapped for the anonymous identity's.
        let Identity {
            user_id,
            business_id,
            location_id,
            roles,
            claims,
            expires_at,
        } = &self;
        let is_default = user_id.is_none()
            && business_id.is_none()
            && location_id.is_none()
            && roles.is_empty()
            && claims.is_empty()
            && expires_at.is_none();
        if is_default {
            ANONYMOUS
                .get_or_init(|| Arc::new(Identity::anonymous()))
                .clone()
        } else {
            Arc::new(self)
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Seconds until the token expires (0 when already expired), if it does.
    pub fn seconds_left(&self) -> Option<u64> {
        self.expires_at
            .map(|exp| exp.saturating_sub(jsonwebtoken::get_current_timestamp()))
    }
}

/// Why a token was not accepted. The reason codes are stable and are all a
/// client is ever told; details go to the log only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a token is required")]
    TokenMissing,
    #[error("the token is not valid")]
    TokenInvalid,
    #[error("the token has expired")]
    TokenExpired,
    #[error("the token is not valid yet")]
    TokenNotYetValid,
    #[error("the keys to verify the token could not be fetched")]
    KeysUnavailable,
}

impl AuthError {
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::TokenMissing => "token_missing",
            AuthError::TokenInvalid => "token_invalid",
            AuthError::TokenExpired => "token_expired",
            AuthError::TokenNotYetValid => "token_not_yet_valid",
            AuthError::KeysUnavailable => "auth_unavailable",
        }
    }
}

/// The authentication and authorization settings in force, shared by every
/// transport and handler (cheap to clone).
#[derive(Clone)]
pub struct Auth {
    inner: Arc<AuthInner>,
}

struct AuthInner {
    enabled: bool,
    allow_anonymous: bool,
    verifier: Option<jwt::Verifier>,
    claims: ClaimMapping,
    rules: TopicRules,
    api_keys: ApiKeys,
}

impl Auth {
    /// Build from the configuration; fails on rules or keys that make no
    /// sense, so a typo stops the server at start instead of opening a hole.
    pub fn from_config(
        config: &AuthConfig,
        rules: &[rules::TopicRule],
    ) -> Result<Self, AuthConfigError> {
        let verifier = jwt::Verifier::from_config(config)?;
        let api_keys = ApiKeys::new(config.api_keys.iter().cloned())?;
        let enabled = config
            .enabled
            .unwrap_or(verifier.is_some() || !api_keys.is_empty());
        Ok(Self {
            inner: Arc::new(AuthInner {
                enabled,
                allow_anonymous: config.allow_anonymous,
                verifier,
                claims: config.claims.clone(),
                rules: TopicRules::compile(rules)?,
                api_keys,
            }),
        })
    }

    /// Authentication off: everyone is anonymous and allowed everywhere.
    pub fn disabled() -> Self {
        Self {
            inner: Arc::new(AuthInner {
                enabled: false,
                allow_anonymous: true,
                verifier: None,
                claims: ClaimMapping::default(),
                rules: TopicRules::default(),
                api_keys: ApiKeys::default(),
            }),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.enabled
    }

    /// Turn a client's token into an identity. No token is fine only when
    /// anonymous clients are allowed (or authentication is off).
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Identity, AuthError> {
        let inner = &self.inner;
        if !inner.enabled {
            return Ok(Identity::anonymous());
        }
        let token = token.map(str::trim).filter(|t| !t.is_empty());
        let Some(token) = token else {
            return if inner.allow_anonymous {
                Ok(Identity::anonymous())
            } else {
                Err(AuthError::TokenMissing)
            };
        };
        let Some(verifier) = &inner.verifier else {
            // Nothing can verify a token: treat it as a bad one, never as
            // anonymous (a client that sends a token expects it to count).
            return Err(AuthError::TokenInvalid);
        };
        let claims = verifier.verify(token).await?;
        Ok(inner.claims.identity(claims))
    }

    /// May `identity` join `topic`?
    pub fn authorize_topic(&self, identity: &Identity, topic: &str) -> Result<(), TopicDenied> {
        if !self.inner.enabled {
            return Ok(());
        }
        self.inner.rules.authorize(identity, topic)
    }

    /// The scopes of `key` if it is one of the configured API keys.
    /// Compared in constant time.
    pub fn api_key_scopes(&self, key: &str) -> Option<Scopes> {
        self.inner.api_keys.scopes_of(key)
    }
}

#[cfg(test)]
mod shared_identity_tests {
    use super::*;

    #[test]
    fn anonymous_identities_share_one_allocation() {
        let first = Identity::anonymous().into_shared();
        let second = Identity::anonymous().into_shared();
        assert!(Arc::ptr_eq(&first, &second));
        assert!(first.is_anonymous());
    }

    #[test]
    fn identities_with_anything_in_them_are_their_own() {
        let user = Identity {
            user_id: Some("u1".into()),
            ..Identity::default()
        };
        let shared = user.into_shared();
        assert_eq!(shared.user_id.as_deref(), Some("u1"));
        let role_only = Identity {
            roles: vec!["admin".into()],
            ..Identity::default()
        }
        .into_shared();
        assert!(!Arc::ptr_eq(
            &role_only,
            &Identity::anonymous().into_shared()
        ));
    }
}
