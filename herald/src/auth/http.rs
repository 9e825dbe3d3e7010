//! HTTP extractors for credentials, so handlers say in their signature who
//! may call them:
//!
//! - [`Producer`]: a backend with an API key (`X-Api-Key: <key>` or
//!   `Authorization: Bearer <key>`);
//! - [`Caller`]: a producer, or a user with their JWT
//!   (`Authorization: Bearer <jwt>`).
//!
//! Missing or invalid credentials answer 401, valid credentials without the
//! right answer 403; both with a JSON error body naming a stable code.
//! Credentials are never logged.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::{Auth, Identity};
use crate::http_error::HttpError;

/// A backend that presented a valid API key.
#[derive(Debug, Clone, Copy)]
pub struct Producer;

/// Whoever called: a backend or a signed-in user.
#[derive(Debug, Clone)]
pub enum Caller {
    Producer,
    User(Identity),
}

impl Caller {
    /// May this caller act for `user_id` (read or change their data)?
    pub fn may_act_for(&self, user_id: &str) -> bool {
        match self {
            Caller::Producer => true,
            Caller::User(identity) => identity.user_id.as_deref() == Some(user_id),
        }
    }
}

enum Credential<'a> {
    None,
    ApiKey(&'a str),
    Bearer(&'a str),
}

fn credential(parts: &Parts) -> Credential<'_> {
    if let Some(key) = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Credential::ApiKey(key.trim());
    }
    let bearer = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    match bearer {
        Some(token) => Credential::Bearer(token.trim()),
        None => Credential::None,
    }
}

fn unauthorized(code: &'static str, message: &str) -> HttpError {
    HttpError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// Who sent these credentials: the one place both extractors decide.
async fn resolve(auth: &Auth, parts: &Parts) -> Result<Caller, HttpError> {
    if !auth.is_enabled() {
        return Ok(Caller::Producer);
    }
    match credential(parts) {
        Credential::None => Err(unauthorized(
            "credentials_required",
            "send an API key (X-Api-Key or Authorization: Bearer) or a user token",
        )),
        Credential::ApiKey(key) | Credential::Bearer(key) if auth.is_api_key(key) => {
            Ok(Caller::Producer)
        }
        Credential::ApiKey(_) => {
            tracing::info!(path = %parts.uri.path(), "refused an invalid API key");
            Err(unauthorized("invalid_api_key", "the API key is not valid"))
        }
        Credential::Bearer(token) => match auth.authenticate(Some(token)).await {
            Ok(identity) if !identity.is_anonymous() => Ok(Caller::User(identity)),
            Ok(_) => Err(unauthorized("token_invalid", "the token is not valid")),
            Err(err) => {
                tracing::info!(path = %parts.uri.path(), reason = err.reason(), "refused a bearer credential");
                Err(unauthorized(err.reason(), &err.to_string()))
            }
        },
    }
}

impl<S> FromRequestParts<S> for Producer
where
    S: Send + Sync,
    Auth: FromRef<S>,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_ref(state);
        match resolve(&auth, parts).await {
            Ok(Caller::Producer) => Ok(Producer),
            // A valid user token is a credential, but not one that may publish.
            Ok(Caller::User(_)) => Err(HttpError::new(
                StatusCode::FORBIDDEN,
                "producer_key_required",
                "this endpoint needs an API key; a user token may not call it",
            )),
            // A producer endpoint names what it wants.
            Err(err) if err.code == "credentials_required" => Err(unauthorized(
                "api_key_required",
                "send an API key in X-Api-Key or Authorization: Bearer",
            )),
            // A bearer value that is neither a key nor a valid token.
            Err(err) if err.status == StatusCode::UNAUTHORIZED => {
                Err(unauthorized("invalid_api_key", "the API key is not valid"))
            }
            Err(err) => Err(err),
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Auth: FromRef<S>,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        resolve(&Auth::from_ref(state), parts).await
    }
}
