//! The action webhook: client events such as the loyalty platform's `action`
//! are POSTed as JSON to a configured backend URL, with the caller's identity,
//! and the backend's answer goes back to the client as the event's ack.
//!
//! With a secret configured, every request is signed so the backend can tell
//! it comes from Herald and is fresh: `X-Herald-Timestamp` (unix seconds) and
//! `X-Herald-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`. The
//! timestamp is inside the signature, so a captured request cannot be replayed
//! later with a new one; the backend should refuse old timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The signature header and its scheme prefix.
pub const SIGNATURE_HEADER: &str = "x-herald-signature";
pub const TIMESTAMP_HEADER: &str = "x-herald-timestamp";

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("invalid webhook URL: {0}")]
    InvalidUrl(String),
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    /// The backend could not be reached or did not answer in time.
    #[error("webhook unavailable: {0}")]
    Unavailable(String),
    /// The backend answered with an error status.
    #[error("webhook answered {status}")]
    Rejected { status: u16, body: Value },
}

impl WebhookError {
    /// The stable code a client sees.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::Rejected { .. } => "action_failed",
            _ => "action_unavailable",
        }
    }
}

pub struct Webhook {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Option<Vec<u8>>,
}

/// `v1=<hex>`: the signature of `body` sent at `timestamp`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhook {
    pub fn new(url: &str, timeout: Duration, secret: Option<&str>) -> Result<Self, WebhookError> {
        let url =
            reqwest::Url::parse(url).map_err(|err| WebhookError::InvalidUrl(err.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|err| WebhookError::Client(err.to_string()))?;
        Ok(Self {
            client,
            url,
            secret: secret.map(|secret| secret.as_bytes().to_vec()),
        })
    }

    /// POST `body`; the answer's JSON (`null` when empty, a string when it is
    /// not JSON).
    pub async fn call(&self, body: &Value) -> Result<Value, WebhookError> {
        let body = serde_json::to_vec(body).map_err(|err| WebhookError::Client(err.to_string()))?;
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            request = request
                .header(TIMESTAMP_HEADER, timestamp)
                .header(SIGNATURE_HEADER, signature(secret, timestamp, &body));
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|err| WebhookError::Unavailable(err.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| WebhookError::Unavailable(err.to_string()))?;
        let answer = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if status.is_success() {
            Ok(answer)
        } else {
            Err(WebhookError::Rejected {
                status: status.as_u16(),
                body: answer,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let signed = signature(b"secret", 1_700_000_000, br#"{"a":1}"#);
        assert!(signed.starts_with("v1="));
        assert_eq!(signed.len(), 3 + 64);
        assert_eq!(signed, signature(b"secret", 1_700_000_000, br#"{"a":1}"#));
        assert_ne!(signed, signature(b"secret", 1_700_000_001, br#"{"a":1}"#));
        assert_ne!(signed, signature(b"secret", 1_700_000_000, br#"{"a":2}"#));
        assert_ne!(signed, signature(b"other", 1_700_000_000, br#"{"a":1}"#));
        // Computed independently (Python's hmac module).
        assert_eq!(
            signed,
            "v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }
}
