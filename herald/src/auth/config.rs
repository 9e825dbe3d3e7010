//! The `[auth]` and `[limits]` sections of the configuration.
//!
//! Environment names of the systems Herald replaces map here: `JWT_SECRET`,
//! `JWKS_URL`, `COGNITO_USER_POOL_ID`, `COGNITO_REGION`, `HERALD_API_KEYS`
//! (see `config.rs` for the mapping).

use serde::{Deserialize, Deserializer, Serialize};

use super::claims::ClaimMapping;

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Force authentication on or off; unset means "on when a JWT secret, a
    /// JWKS or an API key is configured".
    pub enabled: Option<bool>,
    /// Let clients without a token connect; they may join public topics only.
    pub allow_anonymous: bool,
    /// Shared secret for HS256/HS384/HS512 tokens (`JWT_SECRET`).
    pub jwt_secret: Option<String>,
    /// Where RS*/ES* public keys are published (`JWKS_URL`).
    pub jwks_url: Option<String>,
    /// An AWS Cognito user pool (`COGNITO_USER_POOL_ID`, `COGNITO_REGION`):
    /// derives the JWKS URL and the issuer.
    pub cognito_user_pool_id: Option<String>,
    pub cognito_region: Option<String>,
    /// App client ids a Cognito token must carry (`client_id` of access
    /// tokens, `aud` of id tokens); empty accepts any.
    pub cognito_client_ids: Vec<String>,
    /// Accepted Cognito `token_use` values.
    pub cognito_token_use: Vec<String>,
    /// Accepted `iss` values; empty skips the check (Cognito sets it).
    pub issuers: Vec<String>,
    /// Accepted `aud` values; empty skips the check.
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// The shortest time between two JWKS fetches caused by tokens naming
    /// an unknown key, so bad tokens cannot make Herald hammer the JWKS host.
    pub jwks_min_refetch_secs: u64,
    /// Keys are refetched when older than this, even if every kid is known.
    pub jwks_max_age_secs: u64,
    /// Which claims carry the user id, business id, location id and roles.
    pub claims: ClaimMapping,
    /// Server-to-server keys for the producer endpoints (`HERALD_API_KEYS`,
    /// comma-separated); `key:inbox+history` limits a key to those scopes
    /// (see [`super::api_keys`]).
    #[serde(deserialize_with = "comma_list")]
    pub api_keys: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            allow_anonymous: false,
            jwt_secret: None,
            jwks_url: None,
            cognito_user_pool_id: None,
            cognito_region: None,
            cognito_client_ids: Vec::new(),
            cognito_token_use: vec!["access".into(), "id".into()],
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway_secs: 30,
            jwks_min_refetch_secs: 30,
            jwks_max_age_secs: 3600,
            claims: ClaimMapping::default(),
            api_keys: Vec::new(),
        }
    }
}

// Secrets never reach the log, not even through `herald config` or a debug
// print of the configuration.
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("enabled", &self.enabled)
            .field("allow_anonymous", &self.allow_anonymous)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwks_url", &self.jwks_url)
            .field("cognito_user_pool_id", &self.cognito_user_pool_id)
            .field("cognito_region", &self.cognito_region)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field(
                "api_keys",
                &format_args!("<{} redacted>", self.api_keys.len()),
            )
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// A copy safe to print: secrets replaced.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        if copy.jwt_secret.is_some() {
            copy.jwt_secret = Some("<redacted>".into());
        }
        copy.api_keys = copy.api_keys.iter().map(|_| "<redacted>".into()).collect();
        copy
    }

    /// The JWKS URL and issuer a Cognito pool implies, if one is configured.
    pub fn cognito(&self) -> Option<(String, String)> {
        let pool = self.cognito_user_pool_id.as_deref()?.trim();
        if pool.is_empty() {
            return None;
        }
        // Pool ids look like "eu-west-1_AbCdEf": the region is their prefix.
        let region = self
            .cognito_region
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| pool.split('_').next().map(str::to_owned))?;
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool}");
        Some((format!("{issuer}/.well-known/jwks.json"), issuer))
    }
}

/// Abuse limits, each answered with a clear error and counted in
/// `herald_limit_hits_total{limit=...}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Messages a client may send per second on one connection (sustained).
    pub messages_per_second: u32,
    /// Messages a client may send in a burst above the sustained rate.
    pub message_burst: u32,
    /// Open connections per user id; 0 means no limit.
    pub max_connections_per_user: usize,
    /// Open connections per client IP address; 0 means no limit.
    pub max_connections_per_ip: usize,
    /// Seconds a new TCP connection has to send its HTTP request (the
    /// WebSocket handshake); 0 disables the deadline.
    pub handshake_timeout_secs: u64,
    /// Proxies and load balancers (addresses or CIDR ranges) whose
    /// `X-Forwarded-For` names the client (`HERALD_LIMITS__TRUSTED_PROXIES`,
    /// comma-separated); empty trusts no header.
    #[serde(deserialize_with = "comma_list")]
    pub trusted_proxies: Vec<String>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            messages_per_second: 50,
            message_burst: 100,
            max_connections_per_user: 100,
            max_connections_per_ip: 5000,
            handshake_timeout_secs: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("topic rule {pattern:?}: {problem}")]
    Rule { pattern: String, problem: String },
    #[error("jwt_secret must not be empty")]
    EmptySecret,
    #[error("API keys must be at least 16 characters long")]
    ShortApiKey,
    /// Names the entry by position only: its text is a secret.
    #[error(
        "API key #{0}: unknown scope after ':' (use publish, inbox and history, joined with '+'; keys contain no ':')"
    )]
    UnknownScope(usize),
    #[error("could not build the JWKS HTTP client: {0}")]
    HttpClient(String),
}

/// Accept either a list or one comma-separated string (as environment
/// variables give it).
fn comma_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(items) => items,
        ListOrString::String(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}
