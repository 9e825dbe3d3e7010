-- The durable per-user inbox (SQLite). Times are Unix milliseconds, UTC.
-- AUTOINCREMENT: ids are never reused after a delete, so list cursors
-- (which are ids) stay valid.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    title           TEXT,
    body            TEXT,
    data            TEXT    NOT NULL DEFAULT '{}',
    priority        TEXT    NOT NULL DEFAULT 'normal'
                    CHECK (priority IN ('low', 'normal', 'high', 'critical')),
    created_at      INTEGER NOT NULL,
    read_at         INTEGER,
    seen_at         INTEGER,
    archived_at     INTEGER,
    expires_at      INTEGER,
    idempotency_key TEXT,
    -- NULL keys never collide, so only keyed notifications are deduplicated.
    UNIQUE (user_id, idempotency_key)
);

-- Listing newest first, and the per-user cap.
CREATE INDEX notifications_by_user ON notifications (user_id, id);
-- The unread badge, asked after every change.
CREATE INDEX notifications_unread ON notifications (user_id)
    WHERE read_at IS NULL AND archived_at IS NULL;
-- The expiry sweep.
CREATE INDEX notifications_expiry ON notifications (expires_at)
    WHERE expires_at IS NOT NULL;
