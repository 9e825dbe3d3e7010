//! Durable storage: one interface over two engines, chosen by `DATABASE_URL`.
//!
//! - SQLite (`sqlite://herald.db`, the default): a file next to the process,
//!   in WAL mode with `synchronous = FULL`, so a committed write survives a
//!   crash of the process or of the machine.
//! - PostgreSQL (`postgres://...`): for several Herald nodes or large inboxes.
//!
//! [`Store::open`] connects and applies the engine's versioned migrations
//! (`herald/migrations/<engine>/`, compiled into the binary). Both engines
//! store the same columns with the same representation (times in Unix
//! milliseconds, JSON as text or `jsonb`), so every query is written once and
//! run on either pool (see [`on_engine!`]). Inserts go through a group
//! commit ([`group_commit`]): concurrent producers share one transaction and
//! one sync to disk. The store knows nothing of HTTP or sockets; the inbox
//! service ([`crate::inbox`]) is its user.

mod group_commit;
mod inbox;
mod migrations;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use inbox::{ListQuery, StoredBatch};

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// `sqlite://path`, `sqlite::memory:`, or `postgres://...`.
    pub url: String,
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://herald.db".into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Holds only the URL's scheme: the rest may carry a password.
    #[error("DATABASE_URL must start with sqlite: or postgres:// (got scheme {0:?})")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A shared transaction found the database out of reach; every caller in
    /// it gets this (the cause is logged once).
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// The database is momentarily out of reach (pool exhausted, connection
    /// lost), as opposed to a query that is wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_)
                | StoreError::Database(
                    sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
                )
        )
    }
}

/// Which engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// An open, migrated database. Cheap to clone (the pools are shared).
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    inserts: group_commit::GroupCommit,
}

/// The connection pool of one engine.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run the same code against whichever pool this is. The body is compiled
/// once per engine, so it may use engine-specific types freely as long as the
/// SQL text is valid on both.
macro_rules! on_engine {
    ($pool_enum:expr, $pool:ident => $body:expr) => {
        match $pool_enum {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_engine;

impl Store {
    /// Connect and bring the schema up to date. Must run inside a Tokio
    /// runtime (the group commit's writer starts here).
    pub async fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        let url = settings.url.as_str();
        let engine = Engine::of_url(url).ok_or_else(|| {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            StoreError::UnsupportedUrl(scheme.to_owned())
        })?;
        let pool = match engine {
            Engine::Sqlite => Pool::Sqlite(open_sqlite(settings).await?),
            Engine::Postgres => Pool::Postgres(open_postgres(settings).await?),
        };
        migrations::apply(&pool).await?;
        tracing::info!(engine = engine.name(), "store open and migrated");
        let writers = match engine {
            Engine::Sqlite => 1,
            // Half the pool: reads keep connections of their own.
            Engine::Postgres => (settings.max_connections as usize / 2).max(1),
        };
        let inserts = group_commit::GroupCommit::spawn(pool.clone(), writers);
        Ok(Self { pool, inserts })
    }

    pub fn engine(&self) -> Engine {
        match self.pool {
            Pool::Sqlite(_) => Engine::Sqlite,
            Pool::Postgres(_) => Engine::Postgres,
        }
    }

    /// Close every connection (SQLite checkpoints its WAL on the way).
    pub async fn close(&self) {
        on_engine!(&self.pool, pool => pool.close().await)
    }
}

async fn open_sqlite(settings: &StoreSettings) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(&settings.url)
        .map_err(StoreError::Open)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: the WAL is synced at every commit, so a 2xx'd notification
        // is on disk, not only in the OS cache.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(settings.acquire_timeout);
    // Every connection to an in-memory database sees its own empty one:
    // keep exactly one, forever.
    let in_memory = settings.url.contains(":memory:") || settings.url.contains("mode=memory");
    let pool = if in_memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(settings.max_connections)
    };
    pool.acquire_timeout(settings.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(StoreError::Open)
}

async fn open_postgres(settings: &StoreSettings) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(&settings.url).map_err(StoreError::Open)?;
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(StoreError::Open)
}
