//! The action webhook: client events such as the loyalty platform's `action`
//! are POSTed as JSON to a configured backend URL, with the caller's identity,
//! and the backend's answer goes back to the client as the event's ack.

use std::time::Duration;

use serde_json::Value;

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
}

impl Webhook {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, WebhookError> {
        let url =
            reqwest::Url::parse(url).map_err(|err| WebhookError::InvalidUrl(err.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|err| WebhookError::Client(err.to_string()))?;
        Ok(Self { client, url })
    }

    /// POST `body`; the answer's JSON (`null` when empty, a string when it is
    /// not JSON).
    pub async fn call(&self, body: &Value) -> Result<Value, WebhookError> {
        let response = self
            .client
            .post(self.url.clone())
            .json(body)
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
