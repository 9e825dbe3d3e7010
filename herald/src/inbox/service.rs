//! The inbox service: every change to a user's notifications goes through
//! here, whichever door it came in by (HTTP, socket).
//!
//! A change is committed to the store first; only then is it announced on
//! the hub topic `user:{userId}`: event `notification` for a new one, and
//! `unread_count` (`{"count": n}`) after anything that may change the badge,
//! so every device of the user follows along.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::Mutex;

use super::model::{Cursor, NewNotification, Notification, Page, Priority, Status, now_millis};
use crate::hub::{Hub, validate_topic_name};
use crate::store::{ListQuery, Store, StoreError, StoredBatch};

/// Retention of the inbox.
#[derive(Debug, Clone)]
pub struct InboxSettings {
    /// Notifications kept per user (the newest); 0 keeps all.
    pub max_per_user: u64,
    /// Life of a notification whose producer gave no expiry; `None`: forever.
    pub default_ttl: Option<Duration>,
    /// Time between two retention passes.
    pub sweep_interval: Duration,
}

impl Default for InboxSettings {
    fn default() -> Self {
        Self {
            max_per_user: 1000,
            default_ttl: None,
            sweep_interval: Duration::from_secs(60),
        }
    }
}

/// Largest page of a list.
pub const MAX_PAGE: u32 = 100;
/// Page size when the client names none.
pub const DEFAULT_PAGE: u32 = 20;
/// Longest user id, in bytes (the topic `user:{id}` must stay a valid topic).
pub const MAX_USER_ID_LEN: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no such notification")]
    NotFound,
    /// The idempotency key was used before with a different notification
    /// for these users; nothing was stored for them.
    #[error("idempotencyKey was already used with a different notification for user(s) {}", .0.join(", "))]
    IdempotencyKeyReused(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InboxError {
    /// A stable code for programs, the same in HTTP errors and socket replies.
    pub fn code(&self) -> &'static str {
        match self {
            InboxError::Invalid { .. } => "invalid_field",
            InboxError::NotFound => "not_found",
            InboxError::IdempotencyKeyReused(_) => "idempotency_key_reused",
            InboxError::Store(store) if store.is_unavailable() => "unavailable",
            InboxError::Store(_) => "storage_error",
        }
    }

    /// What the client is told. Storage failures are logged here with their
    /// detail and shown without it.
    pub fn public_message(&self) -> String {
        match self {
            InboxError::Store(store) => {
                tracing::error!(error = %store, "inbox storage failed");
                if store.is_unavailable() {
                    "storage is unavailable, try again".to_owned()
                } else {
                    "storage failed".to_owned()
                }
            }
            other => other.to_string(),
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        InboxError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// A notification as a producer describes it, before it is addressed.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub data: Box<RawValue>,
    pub priority: Priority,
    /// Unix milliseconds; `None` takes the configured default life.
    pub expires_at: Option<i64>,
    pub idempotency_key: Option<String>,
}

impl Draft {
    /// Is `stored` this draft (what a retry with the same idempotency key
    /// must repeat)? The expiry is left out: a relative `ttlSecs` gives a
    /// different instant on every retry.
    fn same_content(&self, stored: &Notification) -> bool {
        let data = |raw: &RawValue| serde_json::from_str::<serde_json::Value>(raw.get()).ok();
        self.kind == stored.kind
            && self.title == stored.title
            && self.body == stored.body
            && self.priority == stored.priority
            && data(&self.data) == data(&stored.data)
    }
}

/// Stripes of the lock that orders unread-count announcements per user.
const ANNOUNCE_STRIPES: usize = 64;

pub struct Inbox {
    store: Store,
    hub: Arc<Hub>,
    settings: InboxSettings,
    /// Counting and publishing `unread_count` happen under the user's stripe,
    /// so the last count a device receives is never older than the last
    /// change (two racing changes cannot publish their counts out of order).
    announce: Box<[Mutex<()>]>,
    stripe_hasher: RandomState,
    /// Users who received notifications since the last cap pass.
    touched: parking_lot::Mutex<HashSet<String>>,
    /// The first cap pass checks every user (the process may have restarted
    /// with users over the cap); later ones only those touched.
    capped_all: AtomicBool,
}

/// The hub topic of a user's inbox.
pub fn user_topic(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// A user id Herald accepts: 1 to 200 bytes, usable in a topic name.
pub fn validate_user_id(user_id: &str) -> Result<(), InboxError> {
    if user_id.is_empty() || user_id.len() > MAX_USER_ID_LEN {
        return Err(InboxError::invalid(
            "userId",
            format!("must be 1 to {MAX_USER_ID_LEN} bytes"),
        ));
    }
    validate_topic_name(&user_topic(user_id))
        .map_err(|err| InboxError::invalid("userId", err.to_string()))
}

impl Inbox {
    pub fn new(store: Store, hub: Arc<Hub>, settings: InboxSettings) -> Arc<Self> {
        Arc::new(Self {
            store,
            hub,
            settings,
            announce: (0..ANNOUNCE_STRIPES).map(|_| Mutex::new(())).collect(),
            stripe_hasher: RandomState::new(),
            touched: parking_lot::Mutex::new(HashSet::new()),
            capped_all: AtomicBool::new(false),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Store `draft` for each user (one transaction), then deliver the new
    /// ones live. Returns one entry per user, in order; a user for whom the
    /// idempotency key was already used gets the stored notification back
    /// with `created: false`, and nothing is delivered again.
    pub async fn send(
        &self,
        user_ids: &[String],
        draft: Draft,
    ) -> Result<Vec<StoredBatch>, InboxError> {
        for user_id in user_ids {
            validate_user_id(user_id)?;
        }
        let now = now_millis();
        let expires_at = draft.expires_at.or_else(|| {
            self.settings
                .default_ttl
                .map(|ttl| now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)))
        });
        let batch: Vec<NewNotification> = user_ids
            .iter()
            .map(|user_id| NewNotification {
                user_id: user_id.clone(),
                kind: draft.kind.clone(),
                title: draft.title.clone(),
                body: draft.body.clone(),
                data: draft.data.clone(),
                priority: draft.priority,
                created_at: now,
                expires_at,
                idempotency_key: draft.idempotency_key.clone(),
            })
            .collect();
        let stored = self.store.insert_notifications(batch).await?;
        let reused: Vec<String> = stored
            .iter()
            .filter(|entry| !entry.created && !draft.same_content(&entry.notification))
            .map(|entry| entry.notification.user_id.clone())
            .collect();
        // What was committed is delivered, even when the call is refused
        // below for other users of a batch.
        self.deliver_created(&stored).await;
        if !reused.is_empty() {
            tracing::info!(
                users = reused.len(),
                "idempotency key reused with a different notification"
            );
            return Err(InboxError::IdempotencyKeyReused(reused));
        }
        Ok(stored)
    }

    /// Publish each newly stored notification and its user's unread count.
    async fn deliver_created(&self, stored: &[StoredBatch]) {
        for entry in stored.iter().filter(|entry| entry.created) {
            let notification = &entry.notification;
            self.publish(&notification.user_id, "notification", notification);
            if self.settings.max_per_user > 0 {
                self.touched.lock().insert(notification.user_id.clone());
            }
        }
        let mut announced = HashSet::new();
        for entry in stored.iter().filter(|entry| entry.created) {
            let user_id = &entry.notification.user_id;
            if announced.insert(user_id.as_str()) {
                self.announce_unread_count(user_id).await;
            }
        }
    }

    pub async fn list(
        &self,
        user_id: &str,
        status: Status,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page, InboxError> {
        validate_user_id(user_id)?;
        let before_id = match cursor {
            None | Some("") => None,
            Some(text) => Some(
                Cursor::decode(text)
                    .ok_or_else(|| InboxError::invalid("cursor", "not a cursor Herald gave"))?,
            ),
        };
        let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        // One more than asked tells whether another page follows.
        let query = ListQuery {
            status,
            before_id,
            limit: limit + 1,
            now: now_millis(),
        };
        let mut notifications = self.store.list_notifications(user_id, query).await?;
        let more = notifications.len() > limit as usize;
        notifications.truncate(limit as usize);
        let next_cursor = more
            .then(|| notifications.last().map(|last| Cursor::encode(last.id)))
            .flatten();
        Ok(Page {
            notifications,
            next_cursor,
        })
    }

    pub async fn get(&self, user_id: &str, id: i64) -> Result<Notification, InboxError> {
        validate_user_id(user_id)?;
        self.store
            .notification(user_id, id, now_millis())
            .await?
            .ok_or(InboxError::NotFound)
    }

    pub async fn unread_count(&self, user_id: &str) -> Result<u64, InboxError> {
        validate_user_id(user_id)?;
        Ok(self.store.unread_count(user_id, now_millis()).await?)
    }

    pub async fn mark_read(&self, user_id: &str, id: i64) -> Result<Notification, InboxError> {
        validate_user_id(user_id)?;
        if !self.store.mark_read(user_id, id, now_millis()).await? {
            return Err(InboxError::NotFound);
        }
        self.announce_unread_count(user_id).await;
        self.get(user_id, id).await
    }

    /// Returns how many notifications were unread.
    pub async fn mark_all_read(&self, user_id: &str) -> Result<u64, InboxError> {
        validate_user_id(user_id)?;
        let updated = self.store.mark_all_read(user_id, now_millis()).await?;
        if updated > 0 {
            self.announce_unread_count(user_id).await;
        }
        Ok(updated)
    }

    /// The user opened their notification list: everything is seen (not
    /// read). Returns how many were unseen.
    pub async fn mark_all_seen(&self, user_id: &str) -> Result<u64, InboxError> {
        validate_user_id(user_id)?;
        Ok(self.store.mark_all_seen(user_id, now_millis()).await?)
    }

    pub async fn archive(&self, user_id: &str, id: i64) -> Result<Notification, InboxError> {
        validate_user_id(user_id)?;
        if !self.store.archive(user_id, id, now_millis()).await? {
            return Err(InboxError::NotFound);
        }
        self.announce_unread_count(user_id).await;
        self.store
            .notification(user_id, id, now_millis())
            .await?
            .ok_or(InboxError::NotFound)
    }

    pub async fn delete(&self, user_id: &str, id: i64) -> Result<(), InboxError> {
        validate_user_id(user_id)?;
        if !self.store.delete_notification(user_id, id).await? {
            return Err(InboxError::NotFound);
        }
        self.announce_unread_count(user_id).await;
        Ok(())
    }

    /// Publish the user's unread count on their topic. Skipped when no device
    /// listens: nobody would hear it, and a device that joins later asks for
    /// the count (`unread_count`) rather than relying on a past broadcast.
    async fn announce_unread_count(&self, user_id: &str) {
        let topic = user_topic(user_id);
        if self.hub.subscriber_count(&topic) == 0 {
            return;
        }
        let stripe = self.stripe_hasher.hash_one(user_id) as usize % ANNOUNCE_STRIPES;
        let _ordered = self.announce[stripe].lock().await;
        match self.store.unread_count(user_id, now_millis()).await {
            Ok(count) => self.publish(user_id, "unread_count", &UnreadCount { count }),
            // The change itself is committed; a device asks again on its next
            // change or reconnect.
            Err(err) => tracing::warn!(user = user_id, error = %err, "unread count not announced"),
        }
    }

    fn publish(&self, user_id: &str, event: &str, payload: &impl serde::Serialize) {
        match serde_json::value::to_raw_value(payload) {
            Ok(raw) => {
                self.hub.publish(&user_topic(user_id), event, raw);
            }
            Err(err) => tracing::error!(error = %err, event, "inbox event not serializable"),
        }
    }

    /// One retention pass: delete expired notifications, then trim users over
    /// the cap, then tell the affected users' devices their new count. Runs
    /// in small statements so publishes are never held up for long.
    pub async fn sweep(&self) -> Result<SweepReport, InboxError> {
        const PURGE_CHUNK: u32 = 1000;
        let mut report = SweepReport::default();
        let mut changed: HashSet<String> = HashSet::new();
        loop {
            let users = self.store.purge_expired(now_millis(), PURGE_CHUNK).await?;
            report.expired += users.len() as u64;
            let done = users.len() < PURGE_CHUNK as usize;
            changed.extend(users);
            if done {
                break;
            }
            tokio::task::yield_now().await;
        }
        let cap = self.settings.max_per_user;
        if cap > 0 {
            let candidates: Vec<String> = if self.capped_all.swap(true, Ordering::AcqRel) {
                self.touched.lock().drain().collect()
            } else {
                self.touched.lock().clear();
                self.store.users_over_cap(cap).await?
            };
            for user_id in candidates {
                let removed = self.store.enforce_cap(&user_id, cap).await?;
                if removed > 0 {
                    report.over_cap += removed;
                    changed.insert(user_id);
                }
            }
        }
        for user_id in &changed {
            self.announce_unread_count(user_id).await;
        }
        Ok(report)
    }

    /// Run [`Inbox::sweep`] every `sweep_interval` until the inbox is dropped.
    pub fn spawn_retention(self: &Arc<Self>) {
        let inbox = Arc::downgrade(self);
        let every = self.settings.sweep_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inbox) = inbox.upgrade() else { return };
                match inbox.sweep().await {
                    Ok(report) if report.expired + report.over_cap > 0 => {
                        tracing::info!(
                            expired = report.expired,
                            over_cap = report.over_cap,
                            "inbox retention pass"
                        );
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "inbox retention pass failed"),
                }
            }
        });
    }
}

/// What one retention pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: u64,
    pub over_cap: u64,
}

#[derive(serde::Serialize)]
pub struct UnreadCount {
    pub count: u64,
}
