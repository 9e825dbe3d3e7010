//! The inbox over sockets: events a client pushes on `user:{userId}` and the
//! replies it gets, for any transport (see [`crate::client_events`]).
//!
//! | event | payload | reply |
//! |---|---|---|
//! | `list` | `{status?, cursor?, limit?}` | `{notifications, nextCursor}` |
//! | `unread_count` | `{}` | `{count}` |
//! | `mark_read` | `{id}` | `{notification}` |
//! | `mark_all_read` | `{}` | `{updated}` |
//! | `mark_all_seen` | `{}` | `{updated}` |
//! | `archive` | `{id}` | `{notification}` |
//! | `delete` | `{id}` | `{}` |
//!
//! Errors reply `{"reason": code, "message": ...}` with the codes of the HTTP
//! API (`not_found`, `invalid_field`, `unavailable`, `storage_error`). Who
//! may push here is decided when the topic is joined: a client can only push
//! on a topic it joined.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::model::Status;
use super::service::{Inbox, InboxError};
use crate::client_events::{EventReply, ReplyFuture, TopicEvents};

/// The inbox as a [`TopicEvents`] handler for `user:*` topics.
pub struct InboxEvents(pub Arc<Inbox>);

#[derive(Deserialize, Default)]
struct ListPayload {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct IdPayload {
    id: Value,
}

impl TopicEvents for InboxEvents {
    fn claims(&self, topic: &str) -> bool {
        topic.strip_prefix("user:").is_some_and(|id| !id.is_empty())
    }

    fn handle<'a>(
        &'a self,
        topic: &'a str,
        event: &'a str,
        payload: &'a RawValue,
    ) -> ReplyFuture<'a> {
        Box::pin(async move {
            let user_id = topic.strip_prefix("user:")?;
            let inbox = &self.0;
            let result = match event {
                "list" => list(inbox, user_id, payload).await,
                "unread_count" => inbox
                    .unread_count(user_id)
                    .await
                    .map(|count| json!({ "count": count })),
                "mark_read" => match id_of(payload) {
                    Ok(id) => inbox
                        .mark_read(user_id, id)
                        .await
                        .map(|n| json!({ "notification": n })),
                    Err(err) => Err(err),
                },
                "mark_all_read" => inbox
                    .mark_all_read(user_id)
                    .await
                    .map(|updated| json!({ "updated": updated })),
                "mark_all_seen" => inbox
                    .mark_all_seen(user_id)
                    .await
                    .map(|updated| json!({ "updated": updated })),
                "archive" => match id_of(payload) {
                    Ok(id) => inbox
                        .archive(user_id, id)
                        .await
                        .map(|n| json!({ "notification": n })),
                    Err(err) => Err(err),
                },
                "delete" => match id_of(payload) {
                    Ok(id) => inbox.delete(user_id, id).await.map(|()| json!({})),
                    Err(err) => Err(err),
                },
                _ => return None,
            };
            Some(match result {
                Ok(response) => EventReply::Ok(response),
                Err(err) => EventReply::Error(error_json(&err)),
            })
        })
    }
}

async fn list(inbox: &Inbox, user_id: &str, payload: &RawValue) -> Result<Value, InboxError> {
    let request: ListPayload = serde_json::from_str(payload.get())
        .map_err(|err| InboxError::invalid("payload", err.to_string()))?;
    let status = match request.status.as_deref() {
        None => Status::default(),
        Some(text) => Status::parse(text)
            .ok_or_else(|| InboxError::invalid("status", "unread, read, all or archived"))?,
    };
    let page = inbox
        .list(user_id, status, request.cursor.as_deref(), request.limit)
        .await?;
    serde_json::to_value(&page).map_err(|err| InboxError::invalid("page", err.to_string()))
}

/// A notification id, as a string (how Herald sends it) or a number.
fn id_of(payload: &RawValue) -> Result<i64, InboxError> {
    let request: IdPayload = serde_json::from_str(payload.get())
        .map_err(|_| InboxError::invalid("id", "id is required"))?;
    parse_id(&request.id).ok_or(InboxError::NotFound)
}

/// Ids are positive integers; anything else names no notification.
pub fn parse_id(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

fn error_json(err: &InboxError) -> Value {
    json!({ "reason": err.code(), "message": err.public_message() })
}
