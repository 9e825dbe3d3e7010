//! Generic publishing: `POST /api/publish` (one topic) and
//! `POST /api/broadcast` (several topics, one event).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ApiState;
use super::extract::JsonBody;
use crate::auth::http::{Producer, Publish};
use crate::http_error::HttpError;
use crate::hub::{PublishReport, validate_topic_name};

/// Most topics one broadcast may name.
pub const MAX_BROADCAST_TOPICS: usize = 100;

#[derive(Deserialize)]
pub struct PublishRequest {
    topic: Option<String>,
    event: Option<String>,
    payload: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
pub struct BroadcastRequest {
    topics: Option<Vec<String>>,
    event: Option<String>,
    payload: Option<Box<RawValue>>,
}

#[derive(Serialize)]
pub struct Published {
    /// How many topics the event was published to.
    pub published: usize,
    pub topics: Vec<String>,
    /// Subscribers it was queued for, across those topics.
    pub delivered: usize,
}

pub async fn publish(
    State(state): State<Arc<ApiState>>,
    _producer: Producer<Publish>,
    JsonBody(request): JsonBody<PublishRequest>,
) -> Result<(StatusCode, Json<Published>), HttpError> {
    let topic = checked_topic("topic", request.topic)?;
    let event = checked_event(request.event)?;
    let payload = payload_or_empty(request.payload)?;
    let report = state.hub.publish(&topic, &event, payload);
    Ok((
        StatusCode::ACCEPTED,
        Json(Published {
            published: 1,
            topics: vec![topic],
            delivered: report.delivered,
        }),
    ))
}

pub async fn broadcast(
    State(state): State<Arc<ApiState>>,
    _producer: Producer<Publish>,
    JsonBody(request): JsonBody<BroadcastRequest>,
) -> Result<(StatusCode, Json<Published>), HttpError> {
    let topics = request
        .topics
        .ok_or_else(|| HttpError::bad_request("missing_field", "topics is required"))?;
    if topics.is_empty() || topics.len() > MAX_BROADCAST_TOPICS {
        return Err(HttpError::bad_request(
            "invalid_field",
            format!("topics must list 1 to {MAX_BROADCAST_TOPICS} topics"),
        ));
    }
    let mut unique: Vec<String> = Vec::with_capacity(topics.len());
    for (index, topic) in topics.into_iter().enumerate() {
        let topic = checked_topic(&format!("topics[{index}]"), Some(topic))?;
        if !unique.contains(&topic) {
            unique.push(topic);
        }
    }
    let event = checked_event(request.event)?;
    let payload = payload_or_empty(request.payload)?;
    let report = publish_to_all(&state, &unique, &event, &payload);
    Ok((
        StatusCode::ACCEPTED,
        Json(Published {
            published: unique.len(),
            topics: unique,
            delivered: report.delivered,
        }),
    ))
}

/// Publish one event to several topics.
pub(super) fn publish_to_all(
    state: &ApiState,
    topics: &[String],
    event: &str,
    payload: &RawValue,
) -> PublishReport {
    let mut report = PublishReport::default();
    for topic in topics {
        report += state.hub.publish(topic, event, payload.to_owned());
    }
    report
}

fn checked_topic(field: &str, topic: Option<String>) -> Result<String, HttpError> {
    let topic = topic
        .ok_or_else(|| HttpError::bad_request("missing_field", format!("{field} is required")))?;
    validate_topic_name(&topic)
        .map_err(|err| HttpError::bad_request("invalid_field", format!("{field}: {err}")))?;
    Ok(topic)
}

/// Events are names chosen by producers; `phx_*` belongs to the Phoenix
/// protocol and would confuse clients.
fn checked_event(event: Option<String>) -> Result<String, HttpError> {
    let event =
        event.ok_or_else(|| HttpError::bad_request("missing_field", "event is required"))?;
    if event.is_empty() || event.len() > 255 {
        return Err(HttpError::bad_request(
            "invalid_field",
            "event must be 1 to 255 bytes",
        ));
    }
    if event.starts_with("phx_") {
        return Err(HttpError::bad_request(
            "invalid_field",
            "event: names starting with phx_ are reserved",
        ));
    }
    Ok(event)
}

fn payload_or_empty(payload: Option<Box<RawValue>>) -> Result<Box<RawValue>, HttpError> {
    match payload {
        Some(payload) => Ok(payload),
        None => RawValue::from_string("{}".to_owned())
            .map_err(|_| HttpError::bad_request("invalid_field", "payload")),
    }
}
