//! The shared cache. With `redis.url` set, values live in Redis so every replica shares them;
//! without it, an in-process cache gives the same behaviour on one node. Callers see one
//! interface, [`Cache`]. A cache failure is logged and treated as a miss: the cache may make the
//! platform faster, never make it fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sharedmetrics_config::RedisConfig;

/// Largest number of entries the in-process cache keeps before evicting.
const LOCAL_CAPACITY: u64 = 100_000;

/// A byte-value cache with per-entry time to live.
#[derive(Clone)]
pub struct Cache {
    backend: Backend,
    prefix: String,
}

#[derive(Clone)]
enum Backend {
    Redis(ConnectionManager),
    Local(moka::future::Cache<String, (Vec<u8>, Duration)>),
}

/// Lets each in-process entry expire after its own time to live.
struct PerEntryExpiry;

impl moka::Expiry<String, (Vec<u8>, Duration)> for PerEntryExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &(Vec<u8>, Duration),
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.1)
    }
}

impl Cache {
    /// Connects to Redis when configured, otherwise returns the in-process cache.
    pub async fn connect(config: &RedisConfig) -> anyhow::Result<Self> {
        match &config.url {
            Some(url) => {
                let client = redis::Client::open(url.expose())?;
                let manager = ConnectionManager::new(client).await?;
                tracing::info!("cache: redis");
                Ok(Self { backend: Backend::Redis(manager), prefix: config.key_prefix.clone() })
            }
            None => {
                tracing::info!("cache: in-process");
                Ok(Self::in_process(&config.key_prefix))
            }
        }
    }

    /// Returns an in-process cache.
    pub fn in_process(prefix: &str) -> Self {
        let local = moka::future::Cache::builder().max_capacity(LOCAL_CAPACITY).expire_after(PerEntryExpiry).build();
        Self { backend: Backend::Local(local), prefix: prefix.to_owned() }
    }

    /// Returns whether the cache is shared through Redis.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Returns the value stored under `key`, if present and not expired.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                match conn.get::<_, Option<Vec<u8>>>(&key).await {
                    Ok(value) => value,
                    Err(error) => {
                        tracing::warn!(%error, "cache get failed; treating as a miss");
                        None
                    }
                }
            }
            Backend::Local(local) => local.get(&key).await.map(|(value, _)| value),
        }
    }

    /// Stores `value` under `key` for `ttl`.
    pub async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                let millis = ttl.as_millis().max(1) as u64;
                if let Err(error) = conn.pset_ex::<_, _, ()>(&key, value, millis).await {
                    tracing::warn!(%error, "cache set failed");
                }
            }
            Backend::Local(local) => local.insert(key, (value, ttl)).await,
        }
    }

    /// Removes the value stored under `key`.
    pub async fn delete(&self, key: &str) {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                if let Err(error) = conn.del::<_, ()>(&key).await {
                    tracing::warn!(%error, "cache delete failed");
                }
            }
            Backend::Local(local) => local.invalidate(&key).await,
        }
    }
}

/// Per-metric data generations: a counter the submissions service bumps whenever a metric's
/// readable data may have changed (a commit, a publication, a retraction), which cached results
/// carry in their keys. Through Redis every replica sees a bump at once; in process it is
/// shared by the services of this process (a split deployment without Redis would cache stale
/// answers, so the Helm chart always sets Redis).
#[derive(Clone)]
pub struct DataVersions {
    backend: VersionsBackend,
    prefix: String,
}

#[derive(Clone)]
enum VersionsBackend {
    Redis(ConnectionManager),
    Local(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>),
}

impl DataVersions {
    /// Returns the generations kept where `cache` keeps its values.
    pub fn new(cache: &Cache) -> Self {
        let backend = match &cache.backend {
            Backend::Redis(manager) => VersionsBackend::Redis(manager.clone()),
            Backend::Local(_) => VersionsBackend::Local(Default::default()),
        };
        Self { backend, prefix: format!("{}data-version:", cache.prefix) }
    }

    /// Returns the current generation of a metric's data (0 before any change).
    pub async fn current(&self, metric: &str) -> u64 {
        match &self.backend {
            VersionsBackend::Redis(manager) => {
                let mut conn = manager.clone();
                conn.get::<_, Option<u64>>(format!("{}{metric}", self.prefix))
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, "data version read failed");
                        None
                    })
                    .unwrap_or(0)
            }
            VersionsBackend::Local(map) => map.lock().expect("not poisoned").get(metric).copied().unwrap_or(0),
        }
    }

    /// Moves a metric's data to a new generation and returns it.
    pub async fn bump(&self, metric: &str) -> u64 {
        match &self.backend {
            VersionsBackend::Redis(manager) => {
                let mut conn = manager.clone();
                conn.incr::<_, _, u64>(format!("{}{metric}", self.prefix), 1).await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "data version bump failed");
                    0
                })
            }
            VersionsBackend::Local(map) => {
                let mut map = map.lock().expect("not poisoned");
                let entry = map.entry(metric.to_owned()).or_insert(0);
                *entry += 1;
                *entry
            }
        }
    }
}

/// Counts per key within fixed time windows (quotas): through Redis every gateway replica adds
/// to the same count; in process, one process counts alone. A Redis failure counts as zero, so
/// an outage of the quota store degrades to no quota rather than refusing everyone.
///
/// With Redis the count is kept off the request's path: a key's first addition in a window
/// asks Redis (so a replica starts from what the others have counted), later ones are counted
/// here at once and sent to Redis in the background, batched every [`SYNC_DELAY`]; each
/// batch's answer brings back the other replicas' additions. One replica's count is exact; a
/// replica sees the others' within `SYNC_DELAY` plus a round trip.
#[derive(Clone)]
pub struct WindowCounters {
    backend: CountersBackend,
    prefix: String,
}

/// How long additions wait before they are sent to Redis, so a burst costs one round trip.
pub const SYNC_DELAY: Duration = Duration::from_millis(10);

#[derive(Clone)]
enum CountersBackend {
    Redis { manager: ConnectionManager, tallies: Arc<Mutex<HashMap<String, Tally>>> },
    Local(Arc<Mutex<HashMap<String, (u64, u64)>>>),
}

/// One key's count in this process, with Redis.
#[derive(Debug, Default)]
struct Tally {
    window: u64,
    /// The total Redis returned last (every replica's additions up to then).
    shared: u64,
    /// Added here and not yet sent.
    unsent: u64,
    /// Sent and not yet answered.
    sending: u64,
    /// A background sync is scheduled or running.
    syncing: bool,
    /// The window's length (the Redis key expires a little after it).
    length: Duration,
}

impl Tally {
    fn count(&self) -> u64 {
        self.shared + self.unsent + self.sending
    }
}

/// Keys whose window has passed are dropped once the map holds this many.
const PRUNE_AT: usize = 10_000;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl WindowCounters {
    /// Returns counters kept where `cache` keeps its values.
    pub fn new(cache: &Cache) -> Self {
        let backend = match &cache.backend {
            Backend::Redis(manager) => CountersBackend::Redis { manager: manager.clone(), tallies: Default::default() },
            Backend::Local(_) => CountersBackend::Local(Default::default()),
        };
        Self { backend, prefix: format!("{}window:", cache.prefix) }
    }

    /// Adds `amount` to `key`'s count in window number `window` (windows of `length`) and returns
    /// the count after the addition.
    pub async fn add(&self, key: &str, window: u64, length: Duration, amount: u64) -> u64 {
        match &self.backend {
            CountersBackend::Redis { manager, tallies } => {
                let key = format!("{}{key}:{window}", self.prefix);
                {
                    let mut guard = lock(tallies);
                    if guard.len() > PRUNE_AT {
                        guard.retain(|_, t| t.window == window);
                    }
                    let tally = guard.entry(key.clone()).or_default();
                    if tally.window != window {
                        *tally = Tally { window, length, ..Tally::default() };
                    }
                    if tally.count() > 0 || tally.syncing {
                        tally.unsent += amount;
                        if !tally.syncing {
                            tally.syncing = true;
                            let (manager, tallies, key) = (manager.clone(), tallies.clone(), key.clone());
                            tokio::spawn(async move {
                                tokio::time::sleep(SYNC_DELAY).await;
                                sync_until_sent(&manager, &tallies, &key).await;
                            });
                        }
                        return tally.count();
                    }
                    tally.length = length;
                    tally.sending = amount;
                }
                // The window's first addition here: wait for Redis, so the count includes what
                // the other replicas have already added.
                let total = incr(manager, &key, amount, length).await;
                let mut tallies = lock(tallies);
                let tally = tallies.entry(key).or_default();
                tally.sending = tally.sending.saturating_sub(amount);
                tally.shared = tally.shared.max(total.unwrap_or(tally.shared + amount));
                tally.count()
            }
            CountersBackend::Local(map) => {
                let mut map = lock(map);
                // Drop other windows' counts as they pass so the map stays the size of one window.
                if map.len() > PRUNE_AT {
                    map.retain(|_, (w, _)| *w == window);
                }
                let entry = map.entry(key.to_owned()).or_insert((window, 0));
                if entry.0 != window {
                    *entry = (window, 0);
                }
                entry.1 += amount;
                entry.1
            }
        }
    }

    /// Sends every addition not yet in Redis and waits for the answers (tests; shutdown).
    pub async fn sync(&self) {
        let CountersBackend::Redis { manager, tallies } = &self.backend else { return };
        let keys: Vec<String> = lock(tallies).keys().cloned().collect();
        for key in keys {
            send_unsent(manager, tallies, &key).await;
        }
        // A background sync may still be waiting for its answer.
        for _ in 0..1_000 {
            if lock(tallies).values().all(|t| t.sending == 0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Adds `amount` to `key` in Redis (expiring a little after its window) and returns the total.
async fn incr(manager: &ConnectionManager, key: &str, amount: u64, length: Duration) -> Option<u64> {
    let mut conn = manager.clone();
    let result: redis::RedisResult<(u64, i64)> =
        redis::pipe().incr(key, amount).expire(key, (length.as_secs() as i64).max(1) * 2).query_async(&mut conn).await;
    result
        .map(|(count, _)| count)
        .map_err(|error| tracing::warn!(%error, "quota count failed; counting in this process only"))
        .ok()
}

/// Sends `key`'s unsent additions as one INCRBY and takes Redis's total as the shared count.
async fn send_unsent(manager: &ConnectionManager, tallies: &Mutex<HashMap<String, Tally>>, key: &str) {
    let (amount, length) = {
        let mut tallies = lock(tallies);
        let Some(tally) = tallies.get_mut(key) else { return };
        let amount = std::mem::take(&mut tally.unsent);
        tally.sending += amount;
        (amount, tally.length)
    };
    // Even with nothing to add, the answer brings back the other replicas' additions.
    let total = incr(manager, key, amount, length).await;
    let mut tallies = lock(tallies);
    if let Some(tally) = tallies.get_mut(key) {
        tally.sending = tally.sending.saturating_sub(amount);
        // Without an answer the addition stays counted here.
        tally.shared = tally.shared.max(total.unwrap_or(tally.shared + amount));
    }
}

/// The background sync of one key: sends until nothing is left unsent, then stands down.
async fn sync_until_sent(manager: &ConnectionManager, tallies: &Mutex<HashMap<String, Tally>>, key: &str) {
    loop {
        send_unsent(manager, tallies, key).await;
        let more = {
            let mut guard = lock(tallies);
            match guard.get_mut(key) {
                Some(tally) if tally.unsent > 0 => true,
                Some(tally) => {
                    tally.syncing = false;
                    false
                }
                None => false,
            }
        };
        if !more {
            return;
        }
        tokio::time::sleep(SYNC_DELAY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharedmetrics_config::Secret;

    async fn counters_count_per_window(counters: WindowCounters) {
        let minute = Duration::from_secs(60);
        assert_eq!(counters.add("p", 7, minute, 1).await, 1);
        assert_eq!(counters.add("p", 7, minute, 5).await, 6);
        assert_eq!(counters.add("q", 7, minute, 1).await, 1, "counts are per key");
        assert_eq!(counters.add("p", 8, minute, 1).await, 1, "a new window starts from zero");
    }

    #[tokio::test]
    async fn window_counters_count_per_key_and_window_in_process() {
        counters_count_per_window(WindowCounters::new(&Cache::in_process("t:"))).await;
    }

    #[tokio::test]
    async fn window_counters_count_per_key_and_window_in_redis() {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let config = RedisConfig { url: Some(Secret::new(url)), key_prefix: format!("test:{}:", uuid::Uuid::new_v4()) };
        let cache = Cache::connect(&config).await.expect("redis is running for the tests");
        counters_count_per_window(WindowCounters::new(&cache)).await;
    }

    #[tokio::test]
    async fn replicas_share_window_counts_through_redis() {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let config = RedisConfig { url: Some(Secret::new(url)), key_prefix: format!("test:{}:", uuid::Uuid::new_v4()) };
        let a = WindowCounters::new(&Cache::connect(&config).await.expect("redis is running for the tests"));
        let b = WindowCounters::new(&Cache::connect(&config).await.expect("a second replica connects"));
        let minute = Duration::from_secs(60);
        assert_eq!(a.add("p", 7, minute, 1).await, 1, "the first addition asks Redis");
        assert_eq!(a.add("p", 7, minute, 2).await, 3, "later ones count here at once");
        a.sync().await;
        assert_eq!(b.add("p", 7, minute, 1).await, 4, "another replica starts from the shared count");
        assert_eq!(b.add("p", 7, minute, 1).await, 5);
        b.sync().await;
        assert_eq!(a.add("p", 7, minute, 1).await, 4, "until it syncs, a replica knows its own additions");
        a.sync().await;
        assert_eq!(a.add("p", 7, minute, 1).await, 7, "a sync brings back the other replica's additions");
        // Without an explicit sync, the background one sends the additions within its delay.
        tokio::time::sleep(SYNC_DELAY * 20).await;
        b.sync().await;
        assert_eq!(b.add("p", 7, minute, 0).await, 7, "a's background sync reached Redis");
    }

    async fn exercise(cache: Cache) {
        assert_eq!(cache.get("a").await, None);
        cache.set("a", b"one".to_vec(), Duration::from_secs(60)).await;
        assert_eq!(cache.get("a").await.as_deref(), Some(&b"one"[..]));
        cache.set("short", b"x".to_vec(), Duration::from_millis(50)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(cache.get("short").await, None, "expired entries are gone");
        cache.delete("a").await;
        assert_eq!(cache.get("a").await, None);
    }

    async fn versions_move(versions: DataVersions) {
        assert_eq!(versions.current("m").await, 0);
        assert_eq!(versions.bump("m").await, 1);
        assert_eq!(versions.bump("m").await, 2);
        assert_eq!(versions.current("m").await, 2);
        assert_eq!(versions.current("other").await, 0, "generations are per metric");
    }

    #[tokio::test]
    async fn data_versions_move_per_metric_in_process() {
        versions_move(DataVersions::new(&Cache::in_process("t:"))).await;
    }

    #[tokio::test]
    async fn data_versions_move_per_metric_in_redis_and_are_shared() {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let config = RedisConfig { url: Some(Secret::new(url)), key_prefix: format!("test:{}:", uuid::Uuid::new_v4()) };
        let a = Cache::connect(&config).await.expect("redis is running for the tests");
        let b = Cache::connect(&config).await.expect("a second replica connects");
        versions_move(DataVersions::new(&a)).await;
        assert_eq!(DataVersions::new(&b).current("m").await, 2, "another replica sees the bump");
    }

    #[tokio::test]
    async fn in_process_cache_stores_expires_and_deletes() {
        exercise(Cache::in_process("t:")).await;
    }

    #[tokio::test]
    async fn redis_cache_behaves_like_the_in_process_one() {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let config = RedisConfig { url: Some(Secret::new(url)), key_prefix: format!("test:{}:", uuid::Uuid::new_v4()) };
        let cache = Cache::connect(&config).await.expect("redis is running for the tests");
        assert!(cache.is_shared());
        exercise(cache).await;
    }
}
