//! The versioned schema of each engine, compiled into the binary from
//! `herald/migrations/<engine>/NNNN_name.sql` and applied at start.
//!
//! sqlx records applied versions (with a checksum) in `_sqlx_migrations`, so a
//! migration runs once per database; an edited, already applied migration is
//! an error at start rather than a silent divergence. Add a migration by
//! adding a file to both folders and a line to both lists below.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::{Pool, StoreError, on_engine};

/// (version, description, SQL) of one migration.
type Source = (i64, &'static str, &'static str);

const SQLITE: &[Source] = &[(
    1,
    "inbox",
    include_str!("../../migrations/sqlite/0001_inbox.sql"),
)];

const POSTGRES: &[Source] = &[(
    1,
    "inbox",
    include_str!("../../migrations/postgres/0001_inbox.sql"),
)];

fn migrator(sources: &[Source]) -> Migrator {
    let migrations = sources
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

pub(super) async fn apply(pool: &Pool) -> Result<(), StoreError> {
    let sources = match pool {
        Pool::Sqlite(_) => SQLITE,
        Pool::Postgres(_) => POSTGRES,
    };
    let migrator = migrator(sources);
    on_engine!(pool, pool => migrator.run(pool).await)?;
    Ok(())
}
