//! Verifying client tokens.
//!
//! HS* tokens are checked with the shared secret only, RS*/ES*/PS* tokens
//! with keys from the JWKS only. Keeping the two key sources apart is what
//! defeats algorithm confusion (an HS token "signed" with a public RSA key is
//! checked against the secret and fails); `alg: none` is not an algorithm the
//! decoder knows, so such a token never parses.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};

use super::config::AuthConfig;
use super::jwks::JwksCache;
use super::{AuthConfigError, AuthError};

pub struct Verifier {
    secret: Option<DecodingKey>,
    jwks: Option<JwksCache>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    cognito: Option<CognitoChecks>,
    leeway_secs: u64,
}

/// Cognito access tokens carry no `aud`: the app client is `client_id`, and
/// `token_use` says what kind of token it is.
struct CognitoChecks {
    client_ids: Vec<String>,
    token_use: Vec<String>,
}

impl Verifier {
    /// `None` when nothing to verify with is configured.
    pub fn from_config(config: &AuthConfig) -> Result<Option<Self>, AuthConfigError> {
        let secret = match config.jwt_secret.as_deref() {
            Some("") => return Err(AuthConfigError::EmptySecret),
            Some(secret) => Some(DecodingKey::from_secret(secret.as_bytes())),
            None => None,
        };
        let mut issuers = config.issuers.clone();
        let mut cognito = None;
        let mut jwks_url = config.jwks_url.clone().filter(|u| !u.is_empty());
        if let Some((url, issuer)) = config.cognito() {
            jwks_url.get_or_insert(url);
            if issuers.is_empty() {
                issuers.push(issuer);
            }
            cognito = Some(CognitoChecks {
                client_ids: config.cognito_client_ids.clone(),
                token_use: config.cognito_token_use.clone(),
            });
        }
        let jwks = jwks_url
            .map(|url| JwksCache::new(url, config.jwks_min_refetch_secs, config.jwks_max_age_secs))
            .transpose()?;
        if secret.is_none() && jwks.is_none() {
            return Ok(None);
        }
        Ok(Some(Self {
            secret,
            jwks,
            issuers,
            audiences: config.audiences.clone(),
            cognito,
            leeway_secs: config.leeway_secs,
        }))
    }

    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        let header = decode_header(token).map_err(|err| rejected("header", &err))?;
        let alg = header.alg;
        let key = match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                self.secret.clone().ok_or(AuthError::TokenInvalid)?
            }
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384 => {
                let Some(jwks) = &self.jwks else {
                    return Err(AuthError::TokenInvalid);
                };
                jwks.key(header.kid.as_deref(), alg).await?
            }
            // EdDSA and whatever a later version adds: not accepted.
            _ => return Err(AuthError::TokenInvalid),
        };
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if self.issuers.is_empty() {
            validation.iss = None;
        } else {
            validation.set_issuer(&self.issuers);
        }
        if self.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audiences);
        }
        let data = decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|err| rejected("claims", &err))?;
        if let Some(cognito) = &self.cognito {
            cognito.check(&data.claims)?;
        }
        Ok(data.claims)
    }
}

impl CognitoChecks {
    fn check(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if !self.token_use.is_empty()
            && !text("token_use").is_some_and(|u| self.token_use.iter().any(|t| t == u))
        {
            tracing::info!("token refused: token_use not accepted");
            return Err(AuthError::TokenInvalid);
        }
        if !self.client_ids.is_empty() {
            let client = text("client_id").or_else(|| text("aud"));
            if !client.is_some_and(|c| self.client_ids.iter().any(|id| id == c)) {
                tracing::info!("token refused: client_id not accepted");
                return Err(AuthError::TokenInvalid);
            }
        }
        Ok(())
    }
}

/// Map a decoding failure to its stable reason, logging the detail (never
/// the token).
fn rejected(stage: &str, err: &jsonwebtoken::errors::Error) -> AuthError {
    let reason = match err.kind() {
        ErrorKind::ExpiredSignature => AuthError::TokenExpired,
        ErrorKind::ImmatureSignature => AuthError::TokenNotYetValid,
        _ => AuthError::TokenInvalid,
    };
    tracing::info!(stage, error = %err, reason = reason.reason(), "token refused");
    reason
}
