//! Redis behind a circuit breaker. While Redis answers, commands go to it with short connect
//! and command timeouts. The first failure opens the breaker: from then on no request waits
//! for Redis (each falls back to the in-process answer at once) while one background task
//! probes it every `redis.probe_interval_ms`. When a probe succeeds the task first moves the
//! shared epoch on (so no answer cached before or during the outage is read again: a
//! publication made meanwhile could not move its metric's generation), then closes the
//! breaker. Each transition is logged once and counted (`dependency_transitions_total`).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
use sharedmetrics_config::RedisConfig;
use sharedmetrics_telemetry::{Dependency, PlatformTelemetry};

/// A Redis connection and its breaker, shared by every clone.
#[derive(Clone)]
pub(crate) struct Link {
    manager: ConnectionManager,
    shared: Arc<Shared>,
}

struct Shared {
    /// Whether the breaker is open (Redis treated as down); read on every call.
    open: AtomicBool,
    command_timeout: Duration,
    probe_interval: Duration,
    /// The key of the epoch every generation includes.
    epoch_key: String,
}

/// Locks `mutex`, recovering from a poisoned lock (a panicking holder leaves plain data).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Link {
    /// Opens a lazily connected link (a Redis that is down at start does not stop the
    /// platform: the breaker opens and the fallback serves) and tries it once.
    pub async fn open(url: &str, config: &RedisConfig) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let command_timeout = Duration::from_millis(config.command_timeout_ms);
        // No reconnect retries inside the manager: the breaker decides when to try again, so a
        // dead Redis costs a request nothing rather than a backoff of several seconds.
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(Duration::from_millis(config.connect_timeout_ms)))
            .set_response_timeout(Some(command_timeout));
        let manager = ConnectionManager::new_lazy_with_config(client, manager_config)?;
        let link = Self {
            manager,
            shared: Arc::new(Shared {
                open: AtomicBool::new(false),
                command_timeout,
                probe_interval: Duration::from_millis(config.probe_interval_ms),
                // The hash tag puts the epoch in the data generations' slot, so one MGET reads
                // both on a Redis Cluster too.
                epoch_key: format!("{}{{data-version}}:epoch", config.key_prefix),
            }),
        };
        let ping = link.run(|mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await }).await;
        if ping.is_some() {
            PlatformTelemetry::global().record_dependency(Dependency::Redis, true, false);
        }
        Ok(link)
    }

    /// Returns whether the breaker is open.
    pub fn is_open(&self) -> bool {
        self.shared.open.load(Ordering::Acquire)
    }

    /// Runs one command unless the breaker is open; returns none (at once while open) when
    /// Redis did not answer in time, opening the breaker.
    pub async fn run<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.is_open() {
            return None;
        }
        match tokio::time::timeout(self.shared.command_timeout, command(self.manager.clone())).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                self.trip(&error.to_string());
                None
            }
            Err(_) => {
                self.trip(&format!("no answer within {} ms", self.shared.command_timeout.as_millis()));
                None
            }
        }
    }

    /// Returns the key of the shared epoch.
    pub fn epoch_key(&self) -> &str {
        &self.shared.epoch_key
    }

    /// Opens the breaker (once: later failures while open change nothing) and starts the probe.
    fn trip(&self, cause: &str) {
        if self.shared.open.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!(
            cause,
            probe_interval_ms = self.shared.probe_interval.as_millis() as u64,
            "redis is down; serving from the in-process fallback until it answers again"
        );
        PlatformTelemetry::global().record_dependency(Dependency::Redis, false, true);
        let link = self.clone();
        tokio::spawn(async move { link.probe_until_back().await });
    }

    /// Probes Redis every probe interval; once it answers, moves the epoch on and closes.
    async fn probe_until_back(self) {
        loop {
            tokio::time::sleep(self.shared.probe_interval).await;
            let mut conn = self.manager.clone();
            let key = self.shared.epoch_key.clone();
            let probe = tokio::time::timeout(self.shared.command_timeout, async move {
                redis::cmd("INCR").arg(&key).query_async::<u64>(&mut conn).await
            });
            if let Ok(Ok(epoch)) = probe.await {
                self.shared.open.store(false, Ordering::Release);
                tracing::warn!(epoch, "redis answers again; shared cache and counts resume");
                PlatformTelemetry::global().record_dependency(Dependency::Redis, true, true);
                return;
            }
        }
    }
}
