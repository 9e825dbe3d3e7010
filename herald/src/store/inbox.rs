//! The inbox's queries, written once for both engines.
//!
//! Every statement here is valid SQLite and PostgreSQL: `$N` placeholders
//! (SQLite reads them as positional), `ON CONFLICT ... DO NOTHING`,
//! `RETURNING`, integer times. The body of each method runs on whichever pool
//! the store holds ([`on_engine!`]).

use serde_json::value::RawValue;
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{Pool, Store, StoreError, on_engine};
use crate::inbox::model::{NewNotification, Notification, Priority, Status};

/// The columns of a notification, in the order [`from_row`] reads them.
macro_rules! select_notifications {
    ($($rest:tt)*) => {
        concat!(
            "SELECT id, user_id, type, title, body, data, priority, created_at, read_at, ",
            "seen_at, archived_at, expires_at, idempotency_key FROM notifications ",
            $($rest)*
        )
    };
}

/// The insert of one notification; a repeated idempotency key inserts
/// nothing (and returns no row).
const INSERT: &str = concat!(
    "INSERT INTO notifications (user_id, type, title, body, data, priority, created_at, ",
    "expires_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ",
    "ON CONFLICT (user_id, idempotency_key) DO NOTHING",
    " RETURNING id, user_id, type, title, body, data, priority, created_at, ",
    "read_at, seen_at, archived_at, expires_at, idempotency_key"
);

const BY_KEY: &str = select_notifications!("WHERE user_id = $1 AND idempotency_key = $2");

const BY_ID: &str = select_notifications!(
    "WHERE id = $1 AND user_id = $2 AND (expires_at IS NULL OR expires_at > $3)"
);

/// Not expired, as of `$2`. Shared by every read so that an expired
/// notification disappears at once, before the sweep deletes it.
macro_rules! live {
    () => {
        "user_id = $1 AND (expires_at IS NULL OR expires_at > $2)"
    };
}

/// One list query per status: `$3` is the cursor (ids below it), `$4` the
/// number of rows.
macro_rules! list_query {
    ($status:literal) => {
        select_notifications!(
            "WHERE ",
            live!(),
            " AND id < $3 AND ",
            $status,
            " ORDER BY id DESC LIMIT $4"
        )
    };
}
const LIST_UNREAD: &str = list_query!("read_at IS NULL AND archived_at IS NULL");
const LIST_READ: &str = list_query!("read_at IS NOT NULL AND archived_at IS NULL");
const LIST_ALL: &str = list_query!("archived_at IS NULL");
const LIST_ARCHIVED: &str = list_query!("archived_at IS NOT NULL");

const UNREAD_COUNT: &str = concat!(
    "SELECT COUNT(*) FROM notifications WHERE ",
    live!(),
    " AND read_at IS NULL AND archived_at IS NULL"
);

/// Reading implies seeing; a second read keeps the first time.
const MARK_READ: &str = "UPDATE notifications SET read_at = COALESCE(read_at, $3), \
     seen_at = COALESCE(seen_at, $3) WHERE id = $1 AND user_id = $2 \
     AND (expires_at IS NULL OR expires_at > $3)";

const MARK_ALL_READ: &str = "UPDATE notifications SET read_at = $2, \
     seen_at = COALESCE(seen_at, $2) WHERE user_id = $1 AND read_at IS NULL \
     AND archived_at IS NULL AND (expires_at IS NULL OR expires_at > $2)";

const MARK_ALL_SEEN: &str = "UPDATE notifications SET seen_at = $2 WHERE user_id = $1 \
     AND seen_at IS NULL AND archived_at IS NULL AND (expires_at IS NULL OR expires_at > $2)";

const ARCHIVE: &str = "UPDATE notifications SET archived_at = COALESCE(archived_at, $3) \
     WHERE id = $1 AND user_id = $2 AND (expires_at IS NULL OR expires_at > $3)";

const DELETE: &str = "DELETE FROM notifications WHERE id = $1 AND user_id = $2";

/// At most `$2` expired notifications per statement, so that one sweep never
/// holds SQLite's single writer lock for long.
const PURGE_EXPIRED: &str = "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications \
     WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2) RETURNING user_id";

/// Everything older than the user's `$2` newest.
const ENFORCE_CAP: &str = "DELETE FROM notifications WHERE user_id = $1 AND id <= \
     (SELECT id FROM notifications WHERE user_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)";

const USERS_OVER_CAP: &str =
    "SELECT user_id FROM notifications GROUP BY user_id HAVING COUNT(*) > $1";

/// A list request.
#[derive(Debug, Clone, Copy)]
pub struct ListQuery {
    pub status: Status,
    /// Only notifications with a smaller id (older); `None` starts at the newest.
    pub before_id: Option<i64>,
    pub limit: u32,
    pub now: i64,
}

/// What storing one notification did: the stored row, and whether it is new
/// (false when its idempotency key was already used).
#[derive(Debug, Clone)]
pub struct StoredBatch {
    pub notification: Notification,
    pub created: bool,
}

impl Store {
    /// Store each notification: all or none are committed before this
    /// returns. A notification whose (user, idempotency key) is already
    /// stored is returned as it was stored, with `created: false`. Concurrent
    /// calls share a transaction (see [`super::group_commit`]).
    pub async fn insert_notifications(
        &self,
        batch: Vec<NewNotification>,
    ) -> Result<Vec<StoredBatch>, StoreError> {
        self.inserts.insert(batch).await
    }

    pub async fn notification(
        &self,
        user_id: &str,
        id: i64,
        now: i64,
    ) -> Result<Option<Notification>, StoreError> {
        on_engine!(&self.pool, pool => {
            let row = sqlx::query(BY_ID).bind(id).bind(user_id).bind(now).fetch_optional(pool).await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    /// Newest first; `limit` rows at most.
    pub async fn list_notifications(
        &self,
        user_id: &str,
        query: ListQuery,
    ) -> Result<Vec<Notification>, StoreError> {
        let sql = match query.status {
            Status::Unread => LIST_UNREAD,
            Status::Read => LIST_READ,
            Status::All => LIST_ALL,
            Status::Archived => LIST_ARCHIVED,
        };
        let before = query.before_id.unwrap_or(i64::MAX);
        on_engine!(&self.pool, pool => {
            let rows = sqlx::query(sql)
                .bind(user_id)
                .bind(query.now)
                .bind(before)
                .bind(i64::from(query.limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(from_row).collect()
        })
    }

    pub async fn unread_count(&self, user_id: &str, now: i64) -> Result<u64, StoreError> {
        let count: i64 = on_engine!(&self.pool, pool => {
            sqlx::query_scalar(UNREAD_COUNT).bind(user_id).bind(now).fetch_one(pool).await?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Mark one notification read (and seen); `false` if there is no such
    /// notification for this user.
    pub async fn mark_read(&self, user_id: &str, id: i64, now: i64) -> Result<bool, StoreError> {
        self.update_one(MARK_READ, user_id, id, now).await
    }

    pub async fn archive(&self, user_id: &str, id: i64, now: i64) -> Result<bool, StoreError> {
        self.update_one(ARCHIVE, user_id, id, now).await
    }

    pub async fn delete_notification(&self, user_id: &str, id: i64) -> Result<bool, StoreError> {
        let affected = on_engine!(&self.pool, pool => {
            sqlx::query(DELETE).bind(id).bind(user_id).execute(pool).await?.rows_affected()
        });
        Ok(affected > 0)
    }

    /// Mark every unread notification of the user read; returns how many.
    pub async fn mark_all_read(&self, user_id: &str, now: i64) -> Result<u64, StoreError> {
        self.update_user(MARK_ALL_READ, user_id, now).await
    }

    /// Mark every unseen notification of the user seen; returns how many.
    pub async fn mark_all_seen(&self, user_id: &str, now: i64) -> Result<u64, StoreError> {
        self.update_user(MARK_ALL_SEEN, user_id, now).await
    }

    /// Delete up to `limit` expired notifications; returns the user of each.
    pub async fn purge_expired(&self, now: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        on_engine!(&self.pool, pool => {
            let users: Vec<String> = sqlx::query_scalar(PURGE_EXPIRED)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            Ok(users)
        })
    }

    /// Keep only the user's `cap` newest notifications; returns how many
    /// were deleted.
    pub async fn enforce_cap(&self, user_id: &str, cap: u64) -> Result<u64, StoreError> {
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let affected = on_engine!(&self.pool, pool => {
            sqlx::query(ENFORCE_CAP).bind(user_id).bind(cap).execute(pool).await?.rows_affected()
        });
        Ok(affected)
    }

    /// Users holding more than `cap` notifications.
    pub async fn users_over_cap(&self, cap: u64) -> Result<Vec<String>, StoreError> {
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        on_engine!(&self.pool, pool => {
            let users: Vec<String> = sqlx::query_scalar(USERS_OVER_CAP).bind(cap).fetch_all(pool).await?;
            Ok(users)
        })
    }

    async fn update_one(
        &self,
        sql: &'static str,
        user_id: &str,
        id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let affected = on_engine!(&self.pool, pool => {
            sqlx::query(sql).bind(id).bind(user_id).bind(now).execute(pool).await?.rows_affected()
        });
        Ok(affected > 0)
    }

    async fn update_user(
        &self,
        sql: &'static str,
        user_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let affected = on_engine!(&self.pool, pool => {
            sqlx::query(sql).bind(user_id).bind(now).execute(pool).await?.rows_affected()
        });
        Ok(affected)
    }
}

impl Pool {
    /// Insert `batch` in one transaction (see [`Store::insert_notifications`]).
    pub(super) async fn insert_in_one_transaction(
        &self,
        batch: impl Iterator<Item = &NewNotification>,
    ) -> Result<Vec<StoredBatch>, StoreError> {
        let mut stored = Vec::new();
        on_engine!(self, pool => {
            let mut tx = pool.begin().await?;
            for new in batch {
                let inserted = sqlx::query(INSERT)
                    .bind(&new.user_id)
                    .bind(&new.kind)
                    .bind(new.title.as_deref())
                    .bind(new.body.as_deref())
                    .bind(Json(&*new.data))
                    .bind(new.priority.as_str())
                    .bind(new.created_at)
                    .bind(new.expires_at)
                    .bind(new.idempotency_key.as_deref())
                    .fetch_optional(&mut *tx)
                    .await?;
                let (row, created) = match inserted {
                    Some(row) => (row, true),
                    None => {
                        // ON CONFLICT: this key was used before for this user.
                        let row = sqlx::query(BY_KEY)
                            .bind(&new.user_id)
                            .bind(new.idempotency_key.as_deref())
                            .fetch_one(&mut *tx)
                            .await?;
                        (row, false)
                    }
                };
                stored.push(StoredBatch { notification: from_row(&row)?, created });
            }
            tx.commit().await?;
        });
        Ok(stored)
    }
}

/// Read a notification row of either engine.
fn from_row<'r, R>(row: &'r R) -> Result<Notification, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Json<Box<RawValue>>: Decode<'r, R::Database> + Type<R::Database>,
{
    let priority: String = row.try_get(6)?;
    let Json(data): Json<Box<RawValue>> = row.try_get(5)?;
    Ok(Notification {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        kind: row.try_get(2)?,
        title: row.try_get(3)?,
        body: row.try_get(4)?,
        data,
        // The column's CHECK constraint allows only the four levels.
        priority: Priority::parse(&priority).unwrap_or_default(),
        created_at: row.try_get(7)?,
        read_at: row.try_get(8)?,
        seen_at: row.try_get(9)?,
        archived_at: row.try_get(10)?,
        expires_at: row.try_get(11)?,
        idempotency_key: row.try_get(12)?,
    })
}
