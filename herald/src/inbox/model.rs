//! What the inbox holds: a notification addressed to one user, how it is
//! asked for, and how it looks in JSON (the same shape over HTTP and over the
//! socket).
//!
//! Times are kept as Unix milliseconds (UTC) and shown as RFC 3339 strings.

use serde::Deserialize;
use serde::ser::{Serialize, Serializer};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How urgent a notification is; clients decide what each level means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "low" => Some(Priority::Low),
            "normal" => Some(Priority::Normal),
            "high" => Some(Priority::High),
            "critical" => Some(Priority::Critical),
            _ => None,
        }
    }
}

/// One stored notification.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: i64,
    pub user_id: String,
    pub kind: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub data: Box<RawValue>,
    pub priority: Priority,
    pub created_at: i64,
    pub read_at: Option<i64>,
    pub seen_at: Option<i64>,
    pub archived_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub idempotency_key: Option<String>,
}

/// A notification to store for one user (the store assigns the id).
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: String,
    pub kind: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub data: Box<RawValue>,
    pub priority: Priority,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub idempotency_key: Option<String>,
}

/// Which notifications a list shows. Archived ones only appear under
/// `Archived`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    Unread,
    Read,
    #[default]
    All,
    Archived,
}

impl Status {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "unread" => Some(Status::Unread),
            "read" => Some(Status::Read),
            "all" => Some(Status::All),
            "archived" => Some(Status::Archived),
            _ => None,
        }
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    pub notifications: Vec<Notification>,
    /// Pass it back to get the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// An opaque list position. It encodes the id of the last notification
/// shown: ids only grow, so a page after it never repeats or skips a
/// notification, whatever is inserted meanwhile.
pub struct Cursor;

impl Cursor {
    pub fn encode(id: i64) -> String {
        format!("n{id:x}")
    }

    pub fn decode(text: &str) -> Option<i64> {
        let hex = text.strip_prefix('n')?;
        i64::from_str_radix(hex, 16).ok().filter(|id| *id > 0)
    }
}

/// Now, in Unix milliseconds.
pub fn now_millis() -> i64 {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `2026-11-22T12:00:00.123Z` for Unix milliseconds.
pub fn format_millis(millis: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Unix milliseconds of an RFC 3339 date-time (`2026-11-22T12:00:00Z`).
pub fn parse_millis(text: &str) -> Option<i64> {
    let time = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).ok()
}

impl Serialize for Notification {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let time = |millis: Option<i64>| millis.map(format_millis);
        Json {
            id: self.id.to_string(),
            user_id: &self.user_id,
            kind: &self.kind,
            title: self.title.as_deref(),
            body: self.body.as_deref(),
            data: &self.data,
            priority: self.priority,
            created_at: format_millis(self.created_at),
            read_at: time(self.read_at),
            seen_at: time(self.seen_at),
            archived_at: time(self.archived_at),
            expires_at: time(self.expires_at),
            idempotency_key: self.idempotency_key.as_deref(),
        }
        .serialize(serializer)
    }
}

/// The JSON shape of a notification (camelCase, ids as strings so that
/// JavaScript clients never round them).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Json<'a> {
    id: String,
    user_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    title: Option<&'a str>,
    body: Option<&'a str>,
    data: &'a RawValue,
    priority: Priority,
    created_at: String,
    read_at: Option<String>,
    seen_at: Option<String>,
    archived_at: Option<String>,
    expires_at: Option<String>,
    idempotency_key: Option<&'a str>,
}

impl Serialize for Page {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut page = serializer.serialize_struct("Page", 2)?;
        page.serialize_field("notifications", &self.notifications)?;
        page.serialize_field("nextCursor", &self.next_cursor)?;
        page.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        assert_eq!(Cursor::decode(&Cursor::encode(12345)), Some(12345));
        assert_eq!(Cursor::decode("12345"), None);
        assert_eq!(Cursor::decode("nzz"), None);
        assert_eq!(Cursor::decode("n0"), None);
    }

    #[test]
    fn times_round_trip() {
        let millis = parse_millis("2026-11-22T12:00:00.250Z").unwrap();
        assert_eq!(format_millis(millis), "2026-11-22T12:00:00.25Z");
        assert_eq!(
            parse_millis("2026-11-22T13:00:00+01:00"),
            parse_millis("2026-11-22T12:00:00Z")
        );
        assert_eq!(parse_millis("yesterday"), None);
    }
}
