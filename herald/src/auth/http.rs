//! HTTP extractors for credentials, so handlers say in their signature who
//! may call them:
//!
//! - [`Producer<S>`]: a backend with an API key (`X-Api-Key: <key>` or
//!   `Authorization: Bearer <key>`) that grants scope `S` ([`Publish`],
//!   [`InboxScope`], [`History`]);
//! - [`Caller`]: a producer, or a user with their JWT
//!   (`Authorization: Bearer <jwt>`).
//!
//! Missing or invalid credentials answer 401, valid credentials without the
//! right answer 403 (`producer_key_required` for a user token,
//! `scope_required` for a key without the scope); both with a JSON error
//! body naming a stable code. Credentials are never logged.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::{Auth, Identity, Scope, Scopes};
use crate::http_error::HttpError;

/// A scope a producer route requires, as a type (see [`Producer`]).
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: Scope;
}

/// Publishing to topics: `/api/notifications`, `/api/publish`, `/api/broadcast`.
#[derive(Debug)]
pub struct Publish;
/// Storing notifications and acting on any user's inbox.
#[derive(Debug)]
pub struct InboxScope;
/// Reading topic history.
#[derive(Debug)]
pub struct History;

impl RequiredScope for Publish {
    const SCOPE: Scope = Scope::Publish;
}
impl RequiredScope for InboxScope {
    const SCOPE: Scope = Scope::Inbox;
}
impl RequiredScope for History {
    const SCOPE: Scope = Scope::History;
}

/// A backend that presented a valid API key granting scope `S`.
#[derive(Debug)]
pub struct Producer<S: RequiredScope>(PhantomData<S>);

/// Whoever called: a backend (with its key's scopes) or a signed-in user.
#[derive(Debug, Clone)]
pub enum Caller {
    Producer(Scopes),
    User(Identity),
}

/// Why a [`Caller`] may not act for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActDenied {
    /// A user reaching someone else's data.
    OtherUser,
    /// A key without the scope the data needs.
    MissingScope(Scope),
}

impl Caller {
    /// May this caller act for `user_id` on data under `scope` (read or
    /// change their inbox, say)? A user only for themself; a producer for
    /// anyone, if its key grants `scope`.
    pub fn act_for(&self, user_id: &str, scope: Scope) -> Result<(), ActDenied> {
        match self {
            Caller::Producer(scopes) if scopes.allows(scope) => Ok(()),
            Caller::Producer(_) => Err(ActDenied::MissingScope(scope)),
            Caller::User(identity) if identity.user_id.as_deref() == Some(user_id) => Ok(()),
            Caller::User(_) => Err(ActDenied::OtherUser),
        }
    }
}

/// The 403 for a key that lacks `scope`.
pub fn scope_required(scope: Scope) -> HttpError {
    HttpError::new(
        StatusCode::FORBIDDEN,
        "scope_required",
        format!("this API key does not grant the {} scope", scope.name()),
    )
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
        return Ok(Caller::Producer(Scopes::ALL));
    }
    match credential(parts) {
        Credential::None => Err(unauthorized(
            "credentials_required",
            "send an API key (X-Api-Key or Authorization: Bearer) or a user token",
        )),
        Credential::ApiKey(key) | Credential::Bearer(key)
            if let Some(scopes) = auth.api_key_scopes(key) =>
        {
            Ok(Caller::Producer(scopes))
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

impl<State, S> FromRequestParts<State> for Producer<S>
where
    State: Send + Sync,
    Auth: FromRef<State>,
    S: RequiredScope,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_ref(state);
        match resolve(&auth, parts).await {
            Ok(Caller::Producer(scopes)) if scopes.allows(S::SCOPE) => Ok(Producer(PhantomData)),
            Ok(Caller::Producer(_)) => {
                tracing::info!(path = %parts.uri.path(), scope = S::SCOPE.name(), "refused an API key without the scope");
                Err(scope_required(S::SCOPE))
            }
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
