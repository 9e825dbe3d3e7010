//! A cache of the public keys published at a JWKS URL.
//!
//! Keys are fetched on first use and kept by `kid`. A token naming a `kid`
//! the cache does not know (the issuer rotated its keys) triggers a refetch,
//! but at most once per `min_refetch` interval, so a stream of forged tokens
//! with random kids cannot make Herald hammer the JWKS host. Concurrent
//! misses wait for one fetch instead of starting their own.

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{AuthConfigError, AuthError};

pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    min_refetch: Duration,
    max_age: Duration,
    state: parking_lot::RwLock<Keys>,
    /// Held while fetching; remembers when the last fetch started.
    fetching: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, CachedKey>,
    /// The key to use for tokens without a `kid`: the only one, if there is
    /// exactly one.
    only: Option<CachedKey>,
    fetched_at: Option<Instant>,
}

#[derive(Clone)]
struct CachedKey {
    key: DecodingKey,
    /// The algorithm the JWK pins, if it names one.
    alg: Option<Algorithm>,
}

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

impl JwksCache {
    pub fn new(
        url: String,
        min_refetch_secs: u64,
        max_age_secs: u64,
    ) -> Result<Self, AuthConfigError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| AuthConfigError::HttpClient(e.to_string()))?;
        Ok(Self {
            url,
            client,
            min_refetch: Duration::from_secs(min_refetch_secs),
            max_age: Duration::from_secs(max_age_secs),
            state: parking_lot::RwLock::new(Keys::default()),
            fetching: Mutex::new(None),
        })
    }

    /// The key for a token's `kid` and `alg`, fetching the set if needed.
    pub async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, AuthError> {
        if !self.is_stale()
            && let Some(found) = self.lookup(kid)
        {
            return accept(found, alg);
        }
        let mut last_fetch = self.fetching.lock().await;
        // Another task may have fetched while this one waited.
        if !self.is_stale()
            && let Some(found) = self.lookup(kid)
        {
            return accept(found, alg);
        }
        let fetched_recently = last_fetch.is_some_and(|at| at.elapsed() < self.min_refetch);
        if fetched_recently {
            return match self.lookup(kid) {
                Some(found) => accept(found, alg),
                None => {
                    tracing::info!("token refused: unknown kid (JWKS refetch rate-limited)");
                    Err(AuthError::TokenInvalid)
                }
            };
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => *self.state.write() = keys,
            Err(err) => {
                tracing::warn!(url = %self.url, error = %err, "could not fetch JWKS");
                // Keep serving the keys we had.
                if let Some(found) = self.lookup(kid) {
                    return accept(found, alg);
                }
                return Err(AuthError::KeysUnavailable);
            }
        }
        match self.lookup(kid) {
            Some(found) => accept(found, alg),
            None => {
                tracing::info!("token refused: kid not in the JWKS");
                Err(AuthError::TokenInvalid)
            }
        }
    }

    fn is_stale(&self) -> bool {
        self.state
            .read()
            .fetched_at
            .is_none_or(|at| at.elapsed() > self.max_age)
    }

    fn lookup(&self, kid: Option<&str>) -> Option<CachedKey> {
        let keys = self.state.read();
        match kid {
            Some(kid) => keys.by_kid.get(kid).cloned(),
            None => keys.only.clone(),
        }
    }

    async fn fetch(&self) -> Result<Keys, String> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let set: JwkSet = response.json().await.map_err(|e| e.to_string())?;
        let mut keys = Keys {
            fetched_at: Some(Instant::now()),
            ..Keys::default()
        };
        let mut usable = Vec::new();
        for jwk in &set.keys {
            match cached_key(jwk) {
                Some(cached) => {
                    if let Some(kid) = &jwk.common.key_id {
                        keys.by_kid.insert(kid.clone(), cached.clone());
                    }
                    usable.push(cached);
                }
                None => {
                    tracing::debug!(kid = ?jwk.common.key_id, "skipping a JWK Herald cannot use")
                }
            }
        }
        if usable.len() == 1 {
            keys.only = usable.pop();
        }
        tracing::info!(url = %self.url, keys = keys.by_kid.len(), "fetched JWKS");
        Ok(keys)
    }
}

fn cached_key(jwk: &Jwk) -> Option<CachedKey> {
    // Keys meant for encryption only are not for verifying signatures.
    if matches!(
        jwk.common.public_key_use,
        Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
    ) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let alg = jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse::<Algorithm>().ok());
    Some(CachedKey { key, alg })
}

/// A JWK that pins an algorithm only verifies tokens of that algorithm.
fn accept(found: CachedKey, alg: Algorithm) -> Result<DecodingKey, AuthError> {
    match found.alg {
        Some(pinned) if pinned != alg => {
            tracing::info!("token refused: alg differs from the key's");
            Err(AuthError::TokenInvalid)
        }
        _ => Ok(found.key),
    }
}
