//! A fresh, throwaway database for one test: a SQLite file in the temp
//! directory, or a new PostgreSQL database on 127.0.0.1:5432 (user
//! `postgres`, trust auth; `scripts/test.sh` starts the server). Dropped with
//! the value.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use herald::store::Engine;
use sqlx::Connection;

/// Where tests create their PostgreSQL databases (override with
/// `HERALD_TEST_PG_URL`).
fn admin_url() -> String {
    std::env::var("HERALD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

static NEXT: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "herald_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct TestDb {
    pub engine: Engine,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Files(PathBuf),
    Database(String),
}

impl TestDb {
    pub async fn create(engine: Engine) -> Self {
        let name = unique_name();
        match engine {
            Engine::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                Self {
                    engine,
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::Files(path),
                }
            }
            Engine::Postgres => {
                let admin = admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|err| {
                    panic!("PostgreSQL must run on {admin} for the inbox tests (scripts/test.sh starts it): {err}")
                });
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(base, _)| base);
                Self {
                    engine,
                    url: format!("{base}/{name}"),
                    cleanup: Cleanup::Database(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Files(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Database(name) => {
                // Drop runs inside the test's runtime: use a thread with its own.
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
                            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                                .execute(&mut conn)
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}
