//! The database's last known state, refreshed in the background, so a readiness probe answers
//! at once from it instead of waiting on a database that may not answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use sharedmetrics_telemetry::{Dependency, PlatformTelemetry};

/// Longest a single check may take; past it the database counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_millis(800);

/// Whether the database answered its last check. Clones share one state; the background check
/// stops when the last clone is dropped.
#[derive(Clone)]
pub struct DatabaseHealth {
    up: Arc<AtomicBool>,
}

impl DatabaseHealth {
    /// Starts checking `db` every `interval` (`SELECT 1`, at most 800 ms each); the state starts
    /// up, as the caller has just connected.
    pub fn watch(db: DatabaseConnection, interval: Duration) -> Self {
        let up = Arc::new(AtomicBool::new(true));
        PlatformTelemetry::global().record_dependency(Dependency::Database, true, false);
        tokio::spawn(check_every(db, interval, Arc::downgrade(&up)));
        Self { up }
    }

    /// Returns whether the database answered its last check.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}

async fn check_every(db: DatabaseConnection, interval: Duration, state: Weak<AtomicBool>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(up) = state.upgrade() else { return };
        let check = tokio::time::timeout(CHECK_TIMEOUT.min(interval.max(Duration::from_millis(100))), async {
            db.execute_unprepared("SELECT 1").await
        });
        let answer = match check.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
        };
        let was_up = up.swap(answer.is_ok(), Ordering::Relaxed);
        let changed = was_up != answer.is_ok();
        PlatformTelemetry::global().record_dependency(Dependency::Database, answer.is_ok(), changed);
        match answer {
            Err(cause) if changed => tracing::warn!(cause, "the database is down; readiness reports it"),
            Ok(()) if changed => tracing::warn!("the database answers again"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_store_reads_as_down_within_an_interval() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.expect("in memory");
        let health = DatabaseHealth::watch(db.clone(), Duration::from_millis(20));
        assert!(health.is_up());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(health.is_up(), "a store that answers stays up");
        db.close().await.expect("closed");
        let mut down = false;
        for _ in 0..100 {
            if !health.is_up() {
                down = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(down, "a store that no longer answers reads as down");
    }
}
