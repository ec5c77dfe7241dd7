//! The one place a database failure becomes a client's error. A failure the client can retry
//! (the database unreachable, the connection lost, the pool's acquire timeout, a lock wait or a
//! serialization conflict) is UNAVAILABLE with `Retry-After`; a statement that ran past its
//! timeout is DEADLINE_EXCEEDED; anything else is a real fault, INTERNAL. The finer cause is
//! the `cause` entry of `ErrorInfo.metadata`, a stable string a client may branch on.

use sea_orm::{DbErr, RuntimeErr};
use sharedmetrics_error::{ErrorCode, RETRY_AFTER_METADATA_KEY, ServiceError};

/// The `ErrorInfo.metadata` key naming why the database could not answer.
pub const CAUSE_METADATA_KEY: &str = "cause";

/// Seconds a client is told to wait before retrying when the database is unavailable: about
/// the health check's interval, so a retry meets a fresh view of the database.
const RETRY_AFTER_SECONDS: &str = "1";

/// Why a database call failed, when the cause is the database's state rather than a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseFault {
    /// The server cannot be reached, refuses connections or is shutting down.
    Unreachable,
    /// An open connection broke during the call.
    ConnectionLost,
    /// No pooled connection became free within the acquire timeout.
    PoolTimeout,
    /// A lock wait ran past `lock_timeout`, or SQLite stayed busy past its busy timeout.
    LockTimeout,
    /// The transaction lost a serialization conflict or a deadlock; retrying it may succeed.
    Conflict,
    /// The statement ran past `statement_timeout` (or was cancelled).
    StatementTimeout,
}

impl DatabaseFault {
    /// The stable `cause` string sent in `ErrorInfo.metadata`.
    pub fn cause(self) -> &'static str {
        match self {
            Self::Unreachable => "DATABASE_UNREACHABLE",
            Self::ConnectionLost => "DATABASE_CONNECTION_LOST",
            Self::PoolTimeout => "DATABASE_POOL_TIMEOUT",
            Self::LockTimeout => "DATABASE_LOCK_TIMEOUT",
            Self::Conflict => "DATABASE_CONFLICT",
            Self::StatementTimeout => "DATABASE_STATEMENT_TIMEOUT",
        }
    }

    /// The code a client receives.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::StatementTimeout => ErrorCode::DeadlineExceeded,
            _ => ErrorCode::Unavailable,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Unreachable => "the database cannot be reached",
            Self::ConnectionLost => "the connection to the database was lost",
            Self::PoolTimeout => "no database connection became free in time",
            Self::LockTimeout => "a database lock was not granted in time",
            Self::Conflict => "the transaction conflicted with another",
            Self::StatementTimeout => "the database statement ran past its timeout",
        }
    }
}

/// Returns what state of the database made `error` happen, or none for a fault of ours.
pub fn fault_of(error: &DbErr) -> Option<DatabaseFault> {
    match error {
        DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout) => Some(DatabaseFault::PoolTimeout),
        DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::ConnectionClosed) => {
            Some(DatabaseFault::ConnectionLost)
        }
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime_fault(runtime),
        _ => None,
    }
}

fn runtime_fault(error: &RuntimeErr) -> Option<DatabaseFault> {
    use sea_orm::sqlx::Error;
    let RuntimeErr::SqlxError(error) = error else { return None };
    match error.as_ref() {
        Error::PoolTimedOut => Some(DatabaseFault::PoolTimeout),
        Error::PoolClosed | Error::WorkerCrashed => Some(DatabaseFault::Unreachable),
        Error::Io(io) => Some(match io.kind() {
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound | std::io::ErrorKind::TimedOut => {
                DatabaseFault::Unreachable
            }
            _ => DatabaseFault::ConnectionLost,
        }),
        Error::Tls(_) => Some(DatabaseFault::Unreachable),
        Error::Database(database) => database.code().and_then(|code| code_fault(&code)),
        _ => None,
    }
}

/// Classifies a PostgreSQL SQLSTATE or an SQLite result code.
fn code_fault(code: &str) -> Option<DatabaseFault> {
    match code {
        // query_canceled: statement_timeout (or a cancel request).
        "57014" => Some(DatabaseFault::StatementTimeout),
        // lock_not_available: lock_timeout or NOWAIT.
        "55P03" => Some(DatabaseFault::LockTimeout),
        // serialization_failure, deadlock_detected.
        "40001" | "40P01" => Some(DatabaseFault::Conflict),
        // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections, and the
        // connection exceptions of class 08.
        "57P01" | "57P02" | "57P03" | "53300" => Some(DatabaseFault::Unreachable),
        code if code.starts_with("08") => Some(DatabaseFault::ConnectionLost),
        // Every other SQLSTATE (always five characters) is ours to handle.
        code if code.len() == 5 => None,
        // SQLite (decimal, at most four digits): SQLITE_BUSY and SQLITE_LOCKED with their
        // extended codes (the low byte).
        code => match code.parse::<i32>().map(|c| c & 0xff) {
            Ok(5 | 6) => Some(DatabaseFault::LockTimeout),
            _ => None,
        },
    }
}

/// Returns the error a service answers for a failed database call while doing `context` (for
/// example "reading a metric"): UNAVAILABLE (with `Retry-After`) or DEADLINE_EXCEEDED when the
/// database's state caused it, with the cause in the metadata; INTERNAL naming the context
/// otherwise, the cause logged but not shown.
pub fn db_error(context: &'static str) -> impl FnOnce(DbErr) -> ServiceError {
    move |error| match fault_of(&error) {
        Some(fault) => {
            tracing::warn!(%error, context, cause = fault.cause(), "database call failed");
            let error = ServiceError::new(fault.code(), format!("{} while {context}; retry", fault.describe()))
                .with_metadata(CAUSE_METADATA_KEY, fault.cause());
            match fault.code() {
                ErrorCode::Unavailable => error.with_metadata(RETRY_AFTER_METADATA_KEY, RETRY_AFTER_SECONDS),
                _ => error,
            }
        }
        None => ServiceError::internal(context, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Database};

    fn postgres_url() -> String {
        std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
    }

    #[tokio::test]
    async fn a_statement_past_its_timeout_is_deadline_exceeded_with_its_cause() {
        let db = Database::connect(format!("{}/postgres", postgres_url())).await.expect("the tests' PostgreSQL");
        let failed = db
            .execute_unprepared("SET statement_timeout = 50; SELECT pg_sleep(2)")
            .await
            .expect_err("the statement is cancelled");
        assert_eq!(fault_of(&failed), Some(DatabaseFault::StatementTimeout), "{failed}");
        let error = db_error("reading a metric")(failed);
        assert_eq!(error.code, ErrorCode::DeadlineExceeded);
        assert_eq!(error.metadata[CAUSE_METADATA_KEY], "DATABASE_STATEMENT_TIMEOUT");
        assert!(error.message.contains("while reading a metric"), "{}", error.message);
        assert!(!error.metadata.contains_key(RETRY_AFTER_METADATA_KEY));
    }

    #[tokio::test]
    async fn a_lock_wait_past_its_timeout_is_unavailable_and_says_when_to_retry() {
        let url = format!("{}/postgres", postgres_url());
        let holder = Database::connect(&url).await.expect("the tests' PostgreSQL");
        let waiter = Database::connect(&url).await.expect("a second connection");
        let key = std::process::id() as i64 + 0x5eed_0000;
        holder.execute_unprepared(&format!("SELECT pg_advisory_lock({key})")).await.expect("the lock");
        let failed = waiter
            .execute_unprepared(&format!(
                "BEGIN; SET LOCAL lock_timeout = 50; SELECT pg_advisory_xact_lock({key}); COMMIT"
            ))
            .await
            .expect_err("the lock is held");
        holder.execute_unprepared(&format!("SELECT pg_advisory_unlock({key})")).await.expect("unlocked");
        assert_eq!(fault_of(&failed), Some(DatabaseFault::LockTimeout), "{failed}");
        let error = db_error("recording a submission")(failed);
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert_eq!(error.metadata[RETRY_AFTER_METADATA_KEY], "1");
        assert_eq!(error.metadata[CAUSE_METADATA_KEY], "DATABASE_LOCK_TIMEOUT");
    }

    #[tokio::test]
    async fn a_server_that_refuses_connections_is_unavailable_after_the_acquire_timeout() {
        // A port nothing listens on: bind one, then let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = sharedmetrics_config::DatabaseConfig {
            url: sharedmetrics_config::Secret::new(format!("postgres://postgres@127.0.0.1:{port}/postgres")),
            acquire_timeout_ms: 200,
            ..Default::default()
        };
        let failed = crate::connect(&config).await.expect_err("nothing listens");
        let failed = failed.downcast::<DbErr>().expect("a database error");
        // The pool retries a refused connection until its acquire timeout, then gives up.
        assert_eq!(fault_of(&failed), Some(DatabaseFault::PoolTimeout), "{failed}");
        let error = db_error("reading")(failed);
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert_eq!(error.metadata[CAUSE_METADATA_KEY], "DATABASE_POOL_TIMEOUT");
    }

    #[test]
    fn a_fault_of_ours_stays_internal() {
        let error = db_error("reading a metric")(DbErr::Custom("a bug".into()));
        assert_eq!(error.code, ErrorCode::Internal);
        assert!(!error.message.contains("a bug"), "the cause is logged, not shown");
        assert_eq!(fault_of(&DbErr::RecordNotFound("x".into())), None);
    }

    #[test]
    fn sqlstates_and_sqlite_codes_are_classified() {
        assert_eq!(code_fault("40001"), Some(DatabaseFault::Conflict));
        assert_eq!(code_fault("08006"), Some(DatabaseFault::ConnectionLost));
        assert_eq!(code_fault("57P01"), Some(DatabaseFault::Unreachable));
        assert_eq!(code_fault("5"), Some(DatabaseFault::LockTimeout), "SQLITE_BUSY");
        assert_eq!(code_fault("517"), Some(DatabaseFault::LockTimeout), "SQLITE_BUSY_SNAPSHOT");
        assert_eq!(code_fault("23505"), None, "a unique violation is the caller's to handle");
        assert_eq!(code_fault("2067"), None, "SQLITE_CONSTRAINT_UNIQUE");
        assert_eq!(code_fault("42501"), None, "a SQLSTATE is never read as an SQLite code");
    }
}
