//! Signing test tokens and serving a JWKS from inside a test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use parking_lot::Mutex;
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-that-is-long-enough";
pub const API_KEY: &str = "producer-key-0123456789";

const RSA1: &str = include_str!("../fixtures/rsa1.pem");
const RSA2: &str = include_str!("../fixtures/rsa2.pem");
pub const RSA1_PUBLIC: &str = include_str!("../fixtures/rsa1.pub.pem");
const EC1: &str = include_str!("../fixtures/ec1.pem");

/// Claims valid for an hour, for `sub`, plus `extra`.
pub fn claims(sub: &str, extra: Value) -> Value {
    let mut claims = json!({"sub": sub, "exp": get_current_timestamp() + 3600});
    if let (Value::Object(map), Value::Object(extra)) = (&mut claims, extra) {
        map.extend(extra);
    }
    claims
}

pub fn hs256(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

pub fn hs_with_secret(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
    encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// Which test key signs an asymmetric token.
#[derive(Clone, Copy)]
pub enum TestKey {
    Rsa1,
    Rsa2,
    Ec1,
}

impl TestKey {
    fn kid(self) -> &'static str {
        match self {
            TestKey::Rsa1 => "rsa-1",
            TestKey::Rsa2 => "rsa-2",
            TestKey::Ec1 => "ec-1",
        }
    }

    fn alg(self) -> Algorithm {
        match self {
            TestKey::Rsa1 | TestKey::Rsa2 => Algorithm::RS256,
            TestKey::Ec1 => Algorithm::ES256,
        }
    }

    fn encoding_key(self) -> EncodingKey {
        match self {
            TestKey::Rsa1 => EncodingKey::from_rsa_pem(RSA1.as_bytes()).unwrap(),
            TestKey::Rsa2 => EncodingKey::from_rsa_pem(RSA2.as_bytes()).unwrap(),
            TestKey::Ec1 => EncodingKey::from_ec_pem(EC1.as_bytes()).unwrap(),
        }
    }

    pub fn jwk(self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.encoding_key(), self.alg()).unwrap();
        jwk.common.key_id = Some(self.kid().to_owned());
        jwk.common.key_algorithm = Some(match self.alg() {
            Algorithm::ES256 => KeyAlgorithm::ES256,
            _ => KeyAlgorithm::RS256,
        });
        jwk
    }

    pub fn sign(self, claims: &Value) -> String {
        self.sign_with_kid(claims, self.kid())
    }

    pub fn sign_with_kid(self, claims: &Value, kid: &str) -> String {
        let mut header = Header::new(self.alg());
        header.kid = Some(kid.to_owned());
        encode(&header, claims, &self.encoding_key()).unwrap()
    }
}

/// A JWKS endpoint on a free loopback port, whose keys a test can change,
/// counting how often Herald fetches it.
pub struct JwksServer {
    pub url: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(keys: &[TestKey]) -> Self {
        let keys = Arc::new(Mutex::new(keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counter) = (keys.clone(), fetches.clone());
        let app = Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                let keys = served.lock().clone();
                counter.fetch_add(1, Ordering::SeqCst);
                async move { axum::Json(JwkSet { keys }) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, keys, fetches }
    }

    pub fn set_keys(&self, keys: &[TestKey]) {
        *self.keys.lock() = keys.iter().map(|k| k.jwk()).collect();
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// A server that checks tokens signed with [`SECRET`] and producer key
/// [`API_KEY`].
pub fn secured(config: &mut herald::config::Config) {
    config.auth.jwt_secret = Some(SECRET.into());
    config.auth.api_keys = vec![API_KEY.into()];
}
