//! The inbox over HTTP.
//!
//! Producers: `POST /api/users/{userId}/notifications` (one user) and
//! `POST /api/notifications/batch` (`{"userIds": [...], "notification": {...}}`),
//! both idempotent on `idempotencyKey` (or the `Idempotency-Key` header):
//! `201` when stored, `200` with the stored notification when the key was used
//! before. The answer comes after the commit.
//!
//! Producer routes take an API key ([`Producer`]). The user (their JWT) or
//! producers: list, unread count, read, read all, seen all, archive, delete
//! under `/api/users/{userId}/notifications`. Who may touch which inbox is
//! decided in one place, [`authorize_inbox`]: another user's inbox is `403
//! inbox_forbidden`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::ApiState;
use super::extract::{JsonBody, PathParams, QueryParams};
use crate::auth::Scope;
use crate::auth::http::{ActDenied, Caller, InboxScope, Producer, scope_required};
use crate::http_error::HttpError;
use crate::inbox::model::parse_millis;
use crate::inbox::socket::parse_id;
use crate::inbox::{Draft, InboxError, Priority, Status};

/// Most users one batch may address.
pub const MAX_BATCH_USERS: usize = 1000;
const MAX_TYPE_LEN: usize = 100;
const MAX_TITLE_LEN: usize = 1000;
const MAX_BODY_LEN: usize = 10_000;
const MAX_KEY_LEN: usize = 200;

/// A notification as a producer sends it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendRequest {
    #[serde(rename = "type")]
    kind: Option<String>,
    title: Option<String>,
    body: Option<String>,
    data: Option<Box<RawValue>>,
    priority: Option<String>,
    /// RFC 3339 date-time after which the notification is gone.
    expires_at: Option<String>,
    /// Or: seconds from now.
    ttl_secs: Option<u64>,
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchRequest {
    user_ids: Option<Vec<String>>,
    notification: Option<SendRequest>,
}

#[derive(Deserialize)]
pub struct ListParams {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Who may read and change `user_id`'s inbox: producers (an API key with
/// the `inbox` scope) and the user themself (their token's user id). The one
/// decision point for inbox access over HTTP: every user route calls it
/// before anything else.
fn authorize_inbox(caller: &Caller, user_id: &str) -> Result<(), HttpError> {
    caller
        .act_for(user_id, Scope::Inbox)
        .map_err(|denied| match denied {
            ActDenied::MissingScope(scope) => scope_required(scope),
            ActDenied::OtherUser => HttpError::new(
                StatusCode::FORBIDDEN,
                "inbox_forbidden",
                "a user may only reach their own inbox",
            ),
        })
}

pub async fn send(
    State(state): State<Arc<ApiState>>,
    PathParams(user_id): PathParams<String>,
    _producer: Producer<InboxScope>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<SendRequest>,
) -> Result<Response, HttpError> {
    let mut draft = draft_of(request)?;
    if draft.idempotency_key.is_none() {
        draft.idempotency_key = header_key(&headers)?;
    }
    let mut stored = state.inbox.send(&[user_id], draft).await.map_err(http)?;
    let entry = stored.pop().ok_or_else(|| {
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage_error",
            "nothing stored",
        )
    })?;
    let status = if entry.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry.notification)).into_response())
}

pub async fn send_batch(
    State(state): State<Arc<ApiState>>,
    _producer: Producer<InboxScope>,
    JsonBody(request): JsonBody<BatchRequest>,
) -> Result<Response, HttpError> {
    let user_ids = request
        .user_ids
        .ok_or_else(|| HttpError::bad_request("missing_field", "userIds is required"))?;
    if user_ids.is_empty() || user_ids.len() > MAX_BATCH_USERS {
        return Err(HttpError::bad_request(
            "invalid_field",
            format!("userIds must list 1 to {MAX_BATCH_USERS} users"),
        ));
    }
    let mut unique: Vec<String> = Vec::with_capacity(user_ids.len());
    for user_id in user_ids {
        if !unique.contains(&user_id) {
            unique.push(user_id);
        }
    }
    let notification = request
        .notification
        .ok_or_else(|| HttpError::bad_request("missing_field", "notification is required"))?;
    let draft = draft_of(notification)?;
    let stored = state.inbox.send(&unique, draft).await.map_err(http)?;
    let created = stored.iter().filter(|entry| entry.created).count();
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let notifications: Vec<_> = stored.into_iter().map(|entry| entry.notification).collect();
    let body = json!({ "created": created, "notifications": notifications });
    Ok((status, Json(body)).into_response())
}

pub async fn list(
    State(state): State<Arc<ApiState>>,
    PathParams(user_id): PathParams<String>,
    caller: Caller,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Response, HttpError> {
    authorize_inbox(&caller, &user_id)?;
    let status = match params.status.as_deref() {
        None => Status::default(),
        Some(text) => Status::parse(text).ok_or_else(|| {
            HttpError::bad_request(
                "invalid_field",
                "status must be unread, read, all or archived",
            )
        })?,
    };
    let page = state
        .inbox
        .list(&user_id, status, params.cursor.as_deref(), params.limit)
        .await
        .map_err(http)?;
    Ok(Json(page).into_response())
}

pub async fn unread_count(
    State(state): State<Arc<ApiState>>,
    PathParams(user_id): PathParams<String>,
    caller: Caller,
) -> Result<Json<Value>, HttpError> {
    authorize_inbox(&caller, &user_id)?;
    let count = state.inbox.unread_count(&user_id).await.map_err(http)?;
    Ok(Json(json!({ "count": count })))
}

/// What a route does to one notification.
#[derive(Clone, Copy)]
enum OnOne {
    Get,
    Read,
    Archive,
}

pub async fn get_one(
    State(state): State<Arc<ApiState>>,
    PathParams((user_id, id)): PathParams<(String, String)>,
    caller: Caller,
) -> Result<Response, HttpError> {
    on_one(&state, &caller, &user_id, &id, OnOne::Get).await
}

pub async fn mark_read(
    State(state): State<Arc<ApiState>>,
    PathParams((user_id, id)): PathParams<(String, String)>,
    caller: Caller,
) -> Result<Response, HttpError> {
    on_one(&state, &caller, &user_id, &id, OnOne::Read).await
}

pub async fn archive(
    State(state): State<Arc<ApiState>>,
    PathParams((user_id, id)): PathParams<(String, String)>,
    caller: Caller,
) -> Result<Response, HttpError> {
    on_one(&state, &caller, &user_id, &id, OnOne::Archive).await
}

/// Answer with the notification after `action`.
async fn on_one(
    state: &ApiState,
    caller: &Caller,
    user_id: &str,
    id: &str,
    action: OnOne,
) -> Result<Response, HttpError> {
    authorize_inbox(caller, user_id)?;
    let id = id_of(id)?;
    let inbox = &state.inbox;
    let notification = match action {
        OnOne::Get => inbox.get(user_id, id).await,
        OnOne::Read => inbox.mark_read(user_id, id).await,
        OnOne::Archive => inbox.archive(user_id, id).await,
    }
    .map_err(http)?;
    Ok(Json(notification).into_response())
}

pub async fn delete(
    State(state): State<Arc<ApiState>>,
    PathParams((user_id, id)): PathParams<(String, String)>,
    caller: Caller,
) -> Result<StatusCode, HttpError> {
    authorize_inbox(&caller, &user_id)?;
    state
        .inbox
        .delete(&user_id, id_of(&id)?)
        .await
        .map_err(http)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn mark_all_read(
    State(state): State<Arc<ApiState>>,
    PathParams(user_id): PathParams<String>,
    caller: Caller,
) -> Result<Json<Value>, HttpError> {
    authorize_inbox(&caller, &user_id)?;
    let updated = state.inbox.mark_all_read(&user_id).await.map_err(http)?;
    Ok(Json(json!({ "updated": updated })))
}

pub async fn mark_all_seen(
    State(state): State<Arc<ApiState>>,
    PathParams(user_id): PathParams<String>,
    caller: Caller,
) -> Result<Json<Value>, HttpError> {
    authorize_inbox(&caller, &user_id)?;
    let updated = state.inbox.mark_all_seen(&user_id).await.map_err(http)?;
    Ok(Json(json!({ "updated": updated })))
}

/// Check a producer's notification and turn it into a draft.
fn draft_of(request: SendRequest) -> Result<Draft, HttpError> {
    let kind = request
        .kind
        .ok_or_else(|| HttpError::bad_request("missing_field", "type is required"))?;
    check_len("type", &kind, 1, MAX_TYPE_LEN)?;
    if let Some(title) = &request.title {
        check_len("title", title, 0, MAX_TITLE_LEN)?;
    }
    if let Some(body) = &request.body {
        check_len("body", body, 0, MAX_BODY_LEN)?;
    }
    let data = match request.data {
        Some(data) if data.get().trim_start().starts_with('{') => data,
        Some(_) => {
            return Err(HttpError::bad_request(
                "invalid_field",
                "data must be a JSON object",
            ));
        }
        None => RawValue::from_string("{}".to_owned())
            .map_err(|_| HttpError::bad_request("invalid_field", "data"))?,
    };
    let priority = match request.priority.as_deref() {
        None => Priority::default(),
        Some(text) => Priority::parse(text).ok_or_else(|| {
            HttpError::bad_request(
                "invalid_field",
                "priority must be low, normal, high or critical",
            )
        })?,
    };
    let expires_at = match (request.expires_at.as_deref(), request.ttl_secs) {
        (Some(_), Some(_)) => {
            return Err(HttpError::bad_request(
                "invalid_field",
                "give expiresAt or ttlSecs, not both",
            ));
        }
        (Some(text), None) => Some(parse_millis(text).ok_or_else(|| {
            HttpError::bad_request(
                "invalid_field",
                "expiresAt must be an RFC 3339 date-time, e.g. 2026-12-31T23:59:59Z",
            )
        })?),
        (None, Some(secs)) => {
            let millis = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            Some(crate::inbox::model::now_millis().saturating_add(millis))
        }
        (None, None) => None,
    };
    if let Some(key) = &request.idempotency_key {
        check_len("idempotencyKey", key, 1, MAX_KEY_LEN)?;
    }
    Ok(Draft {
        kind,
        title: request.title,
        body: request.body,
        data,
        priority,
        expires_at,
        idempotency_key: request.idempotency_key,
    })
}

fn check_len(field: &str, text: &str, min: usize, max: usize) -> Result<(), HttpError> {
    if text.len() < min || text.len() > max {
        return Err(HttpError::bad_request(
            "invalid_field",
            format!("{field} must be {min} to {max} bytes"),
        ));
    }
    Ok(())
}

fn header_key(headers: &HeaderMap) -> Result<Option<String>, HttpError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| {
        HttpError::bad_request("invalid_field", "Idempotency-Key must be visible ASCII")
    })?;
    check_len("Idempotency-Key", key, 1, MAX_KEY_LEN)?;
    Ok(Some(key.to_owned()))
}

/// A path id that is not a notification id names no notification.
fn id_of(text: &str) -> Result<i64, HttpError> {
    parse_id(&Value::String(text.to_owned()))
        .ok_or_else(|| HttpError::not_found("no such notification"))
}

fn http(err: InboxError) -> HttpError {
    let status = match &err {
        InboxError::Invalid { .. } => StatusCode::BAD_REQUEST,
        InboxError::NotFound => StatusCode::NOT_FOUND,
        InboxError::IdempotencyKeyReused(_) => StatusCode::CONFLICT,
        InboxError::Store(store) if store.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
        InboxError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    HttpError::new(status, err.code(), err.public_message())
}
