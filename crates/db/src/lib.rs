//! The relational store: one function to connect to PostgreSQL or SQLite with the settings each
//! needs, and one to run a service's migrations. Each service owns its tables and its own
//! migrations table (`<service>_migrations`), so services can be deployed and migrated apart.
//! On PostgreSQL migrations run under a session advisory lock, so replicas starting together
//! migrate once.

use std::path::Path;
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use sharedmetrics_config::DatabaseConfig;

pub mod columns;
mod fault;
mod health;
pub mod schema;

pub use fault::{CAUSE_METADATA_KEY, DatabaseFault, db_error, fault_of};
pub use health::DatabaseHealth;
pub use sea_orm;
pub use sea_orm_migration;

/// Connects to the configured database, creating the SQLite file's folder when needed.
pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<DatabaseConnection> {
    let url = config.url.expose();
    if let Some(path) = sqlite_path(url)
        && let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    if let Some(path) = sqlite_path(url) {
        create_private_file(Path::new(path))?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    // One bound for a request's wait on the pool, opening a connection included: a stopped
    // database answers UNAVAILABLE within it (see `fault`), never after a long hang. Each
    // pooled connection is pinged before use, so the first request after the database comes
    // back gets a fresh connection rather than a dead one.
    let acquire = Duration::from_millis(config.acquire_timeout_ms);
    options
        .max_connections(config.max_connections)
        .connect_timeout(acquire)
        .acquire_timeout(acquire)
        .test_before_acquire(true)
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        // WAL lets readers proceed during a write; foreign keys are off by default in SQLite;
        // a busy timeout makes concurrent writers wait instead of failing at once.
        for pragma in [
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=5000",
            "PRAGMA synchronous=NORMAL",
        ] {
            db.execute_unprepared(pragma).await?;
        }
    }
    Ok(db)
}

/// Creates `path` readable and writable by its owner only (0600, from its first moment) and
/// returns it, or none when it already exists. SQLite gives its WAL and shared-memory files
/// the database file's mode, so a store created here is private whole; the bootstrap key file
/// is written through it too.
pub fn create_private_file(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(file) => Ok(Some(file)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
        Err(error) => Err(error),
    }
}

/// Returns the file path of a `sqlite://path?…` URL, or none for other URLs and in-memory ones.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Runs a service's pending migrations; on PostgreSQL under an advisory lock named after it.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection, service: &str) -> anyhow::Result<()> {
    let backend = db.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        // Session-level locks belong to one connection, so take and release it on a dedicated
        // one; the pool's other connections run the migrations meanwhile.
        let pool = db.get_postgres_connection_pool();
        let mut lock_conn = pool.acquire().await?;
        let key = lock_key(service);
        sea_orm::sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut *lock_conn).await?;
        let result = M::up(db, None).await;
        sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)").bind(key).execute(&mut *lock_conn).await?;
        result?;
    } else {
        M::up(db, None).await?;
    }
    tracing::info!(service, "migrations applied");
    Ok(())
}

/// A stable 64-bit advisory lock key per service (FNV-1a of its name).
fn lock_key(service: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("sharedmetrics:{service}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// Returns a statement for the connection's backend, for the few queries written by hand.
pub fn statement(db: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_sqlite_store_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sharedmetrics-db-mode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let file = dir.join("store.db");
        let config = DatabaseConfig {
            url: sharedmetrics_config::Secret::new(format!("sqlite://{}?mode=rwc", file.display())),
            ..Default::default()
        };
        let db = connect(&config).await.expect("connects");
        db.execute_unprepared("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)").await.expect("writes");
        for name in ["store.db", "store.db-wal", "store.db-shm"] {
            let mode = std::fs::metadata(dir.join(name)).expect(name).permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} is {mode:o}");
        }
        db.close().await.expect("closes");
        std::fs::remove_dir_all(&dir).expect("cleaned up");
    }

    #[test]
    fn sqlite_paths_are_found_in_urls() {
        assert_eq!(sqlite_path("sqlite://data/x.db?mode=rwc"), Some("data/x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[test]
    fn lock_keys_differ_per_service() {
        assert_ne!(lock_key("definitions"), lock_key("submissions"));
        assert_eq!(lock_key("definitions"), lock_key("definitions"));
    }
}
