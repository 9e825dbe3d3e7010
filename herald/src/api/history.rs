//! `GET /api/topics/{topic}/history?since=&limit=`: the messages a topic
//! still keeps, for backends that want to catch up or audit.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ApiState;
use super::extract::{PathParams, QueryParams};
use crate::auth::http::{History, Producer};
use crate::http_error::HttpError;
use crate::hub::validate_topic_name;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Deserialize)]
pub struct HistoryQuery {
    /// Return messages after this offset (default 0: everything kept).
    since: Option<u64>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub struct HistoryResponse {
    topic: String,
    epoch: Option<String>,
    /// The last offset published on the topic.
    offset: u64,
    messages: Vec<HistoryMessage>,
}

#[derive(Serialize)]
pub struct HistoryMessage {
    offset: u64,
    event: String,
    payload: Box<RawValue>,
}

pub async fn history(
    State(state): State<Arc<ApiState>>,
    _producer: Producer<History>,
    PathParams(topic): PathParams<String>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<HistoryResponse>, HttpError> {
    validate_topic_name(&topic)
        .map_err(|err| HttpError::bad_request("invalid_field", format!("topic: {err}")))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let Some(page) = state.hub.history(&topic, query.since.unwrap_or(0), limit) else {
        return Ok(Json(HistoryResponse {
            topic,
            epoch: None,
            offset: 0,
            messages: Vec::new(),
        }));
    };
    let messages = page
        .messages
        .iter()
        .map(|message| HistoryMessage {
            offset: message.position().map_or(0, |p| p.offset),
            event: message.event().to_owned(),
            payload: message.payload().to_owned(),
        })
        .collect();
    Ok(Json(HistoryResponse {
        topic,
        epoch: Some(page.epoch.to_string()),
        offset: page.offset,
        messages,
    }))
}
