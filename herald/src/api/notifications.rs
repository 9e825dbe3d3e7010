//! `POST /api/notifications`: a resource notification as the resources
//! server sends it. It is validated, then broadcast unchanged as event
//! `resource_update` to `resources:{businessId}-{locationId}` and
//! `resources:{businessId}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use serde_json::value::RawValue;

use super::ApiState;
use super::extract::JsonBody;
use super::publish::{Published, publish_to_all};
use crate::auth::http::{Producer, Publish};
use crate::http_error::HttpError;
use crate::hub::validate_topic_name;

/// The event name clients listen for.
pub const RESOURCE_UPDATE_EVENT: &str = "resource_update";

const NOTIFICATION_TYPES: &[&str] = &[
    "resource_created",
    "resource_updated",
    "resource_deleted",
    "resource_patched",
];

const REQUIRED_STRING_FIELDS: &[&str] = &[
    "type",
    "resourceType",
    "businessId",
    "locationId",
    "resourceId",
    "shardId",
    "timestamp",
];

pub async fn notify(
    State(state): State<Arc<ApiState>>,
    _producer: Producer<Publish>,
    JsonBody(body): JsonBody<Box<RawValue>>,
) -> Result<(StatusCode, Json<Published>), HttpError> {
    let topics = topics_for(&body)?;
    let report = publish_to_all(&state, &topics, RESOURCE_UPDATE_EVENT, &body);
    Ok((
        StatusCode::ACCEPTED,
        Json(Published {
            published: topics.len(),
            topics,
            delivered: report.delivered,
        }),
    ))
}

/// Validate a notification and name the topics it goes to.
fn topics_for(body: &RawValue) -> Result<Vec<String>, HttpError> {
    let value: Value = serde_json::from_str(body.get())
        .map_err(|err| HttpError::bad_request("invalid_json", err.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(HttpError::bad_request(
            "invalid_body",
            "the notification must be a JSON object",
        ));
    };
    for &name in REQUIRED_STRING_FIELDS {
        match fields.get(name) {
            None | Some(Value::Null) => {
                return Err(HttpError::bad_request(
                    "missing_field",
                    format!("{name} is required"),
                ));
            }
            Some(Value::String(text)) if !text.trim().is_empty() => {}
            Some(_) => {
                return Err(HttpError::bad_request(
                    "invalid_field",
                    format!("{name} must be a non-empty string"),
                ));
            }
        }
    }
    let text = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
    if !NOTIFICATION_TYPES.contains(&text("type")) {
        return Err(HttpError::bad_request(
            "invalid_field",
            format!("type must be one of {}", NOTIFICATION_TYPES.join(", ")),
        ));
    }
    if !looks_like_timestamp(text("timestamp")) {
        return Err(HttpError::bad_request(
            "invalid_field",
            "timestamp must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z",
        ));
    }
    let business = text("businessId");
    let location = text("locationId");
    let topics = vec![
        format!("resources:{business}-{location}"),
        format!("resources:{business}"),
    ];
    for topic in &topics {
        validate_topic_name(topic).map_err(|err| {
            HttpError::bad_request(
                "invalid_field",
                format!("businessId/locationId make an invalid topic: {err}"),
            )
        })?;
    }
    Ok(topics)
}

/// `YYYY-MM-DDTHH:MM...`: enough to refuse obvious garbage without tying
/// producers to one exact precision or offset style.
fn looks_like_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    bytes.len() >= 16
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && (bytes[10] == b'T' || bytes[10] == b' ')
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(value: Value) -> Box<RawValue> {
        RawValue::from_string(value.to_string()).unwrap()
    }

    fn valid() -> Value {
        serde_json::json!({
            "type": "resource_created", "resourceType": "reservation",
            "businessId": "b1", "locationId": "l1", "resourceId": "r1",
            "shardId": "s1", "timestamp": "2026-11-22T10:00:00Z"
        })
    }

    #[test]
    fn a_valid_notification_goes_to_both_topics() {
        assert_eq!(
            topics_for(&raw(valid())).unwrap(),
            ["resources:b1-l1", "resources:b1"]
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        for field in REQUIRED_STRING_FIELDS {
            let mut missing = valid();
            missing.as_object_mut().unwrap().remove(*field);
            let err = topics_for(&raw(missing)).unwrap_err();
            assert_eq!(err.code, "missing_field");
            assert!(err.message.contains(field));

            let mut wrong = valid();
            wrong[*field] = serde_json::json!(5);
            let err = topics_for(&raw(wrong)).unwrap_err();
            assert_eq!(err.code, "invalid_field");
            assert!(err.message.contains(field));
        }
        let mut bad_type = valid();
        bad_type["type"] = "resource_exploded".into();
        assert!(
            topics_for(&raw(bad_type))
                .unwrap_err()
                .message
                .contains("type")
        );
        let mut bad_time = valid();
        bad_time["timestamp"] = "yesterday".into();
        assert!(
            topics_for(&raw(bad_time))
                .unwrap_err()
                .message
                .contains("timestamp")
        );
    }
}
