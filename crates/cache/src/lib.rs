//! The shared cache. With `redis.url` set, values live in Redis so every replica shares them;
//! without it, an in-process cache gives the same behaviour on one node. Callers see one
//! interface, [`Cache`]. A cache failure is logged and treated as a miss: the cache may make the
//! platform faster, never make it fail. Redis sits behind a circuit breaker ([`link`]): while it
//! is down no request waits for it, and answers cached before or during the outage are never
//! read again once it is back.

mod counters;
mod link;

pub use counters::{SYNC_DELAY, WindowCounters};

use std::time::Duration;

use link::Link;
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
    Redis(Link),
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
    /// Connects to Redis when configured, otherwise returns the in-process cache. A Redis that
    /// does not answer at start is not an error: the platform starts on the fallback.
    pub async fn connect(config: &RedisConfig) -> anyhow::Result<Self> {
        match &config.url {
            Some(url) => {
                let link = Link::open(url.expose(), config).await?;
                tracing::info!(up = !link.is_open(), "cache: redis");
                Ok(Self { backend: Backend::Redis(link), prefix: config.key_prefix.clone() })
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

    /// Returns whether the cache is Redis and Redis is treated as down (the breaker is open).
    pub fn is_degraded(&self) -> bool {
        matches!(&self.backend, Backend::Redis(link) if link.is_open())
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Returns the value stored under `key`, if present and not expired.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(link) => {
                link.run(|mut conn| async move { conn.get::<_, Option<Vec<u8>>>(&key).await }).await?
            }
            Backend::Local(local) => local.get(&key).await.map(|(value, _)| value),
        }
    }

    /// Stores `value` under `key` for `ttl`.
    pub async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(link) => {
                let millis = ttl.as_millis().max(1) as u64;
                link.run(|mut conn| async move { conn.pset_ex::<_, _, ()>(&key, value, millis).await }).await;
            }
            Backend::Local(local) => local.insert(key, (value, ttl)).await,
        }
    }

    /// Removes the value stored under `key`.
    pub async fn delete(&self, key: &str) {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(link) => {
                link.run(|mut conn| async move { conn.del::<_, ()>(&key).await }).await;
            }
            Backend::Local(local) => local.invalidate(&key).await,
        }
    }
}

use redis::AsyncCommands;

/// Per-metric data generations: a counter the submissions service bumps whenever a metric's
/// readable data may have changed (a commit, a publication, a retraction), which cached results
/// carry in their keys. Through Redis every replica sees a bump at once; in process it is
/// shared by the services of this process (a split deployment without Redis would cache stale
/// answers, so the Helm chart always sets Redis).
///
/// While Redis is down a generation is unknown ([`DataVersions::current`] is none) and callers
/// do not cache: a bump made meanwhile cannot reach the other replicas. When Redis is back,
/// the epoch it holds has moved on (see [`link`]), and with it every generation.
#[derive(Clone)]
pub struct DataVersions {
    backend: VersionsBackend,
    prefix: String,
}

#[derive(Clone)]
enum VersionsBackend {
    Redis(Link),
    Local(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>),
}

impl DataVersions {
    /// Returns the generations kept where `cache` keeps its values.
    pub fn new(cache: &Cache) -> Self {
        let backend = match &cache.backend {
            Backend::Redis(link) => VersionsBackend::Redis(link.clone()),
            Backend::Local(_) => VersionsBackend::Local(Default::default()),
        };
        Self { backend, prefix: format!("{}{{data-version}}:", cache.prefix) }
    }

    /// Returns the current generation of a metric's data (0 before any change; an opaque
    /// value, compared for equality), or none while it cannot be known (Redis down).
    pub async fn current(&self, metric: &str) -> Option<u64> {
        match &self.backend {
            VersionsBackend::Redis(link) => {
                let keys = [link.epoch_key().to_owned(), format!("{}{metric}", self.prefix)];
                let (epoch, count) =
                    link.run(|mut conn| async move { conn.mget::<_, (Option<u64>, Option<u64>)>(&keys).await }).await?;
                // The epoch moves on after each outage, so a generation never repeats across one.
                Some(epoch.unwrap_or(0).wrapping_shl(32).wrapping_add(count.unwrap_or(0)))
            }
            VersionsBackend::Local(map) => Some(map.lock().expect("not poisoned").get(metric).copied().unwrap_or(0)),
        }
    }

    /// Moves a metric's data to a new generation. While Redis is down the bump is dropped:
    /// nobody caches meanwhile, and the epoch moves every generation on when Redis is back.
    pub async fn bump(&self, metric: &str) {
        match &self.backend {
            VersionsBackend::Redis(link) => {
                let key = format!("{}{metric}", self.prefix);
                link.run(|mut conn| async move { conn.incr::<_, _, u64>(&key, 1).await }).await;
            }
            VersionsBackend::Local(map) => {
                let mut map = map.lock().expect("not poisoned");
                *map.entry(metric.to_owned()).or_insert(0) += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharedmetrics_config::Secret;

    /// The tests' Redis, under a prefix of this run's own.
    fn shared_redis() -> RedisConfig {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        redis_at(&url)
    }

    fn redis_at(url: &str) -> RedisConfig {
        RedisConfig {
            url: Some(Secret::new(url)),
            key_prefix: format!("test:{}:", uuid::Uuid::new_v4()),
            probe_interval_ms: 100,
            ..RedisConfig::default()
        }
    }

    /// A Redis server of the test's own, on a free port, that the test can kill and restart.
    struct OwnRedis {
        port: u16,
        child: Option<std::process::Child>,
    }

    impl OwnRedis {
        fn start() -> Self {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut redis = Self { port, child: None };
            redis.restart();
            redis
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }

        fn restart(&mut self) {
            let child = std::process::Command::new("redis-server")
                .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server runs (make services installs it)");
            self.child = Some(child);
            for _ in 0..200 {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            panic!("redis-server did not listen on {}", self.port);
        }

        fn kill(&mut self) {
            if let Some(mut child) = self.child.take() {
                child.kill().expect("killed");
                child.wait().expect("reaped");
            }
        }
    }

    impl Drop for OwnRedis {
        fn drop(&mut self) {
            self.kill();
        }
    }

    #[tokio::test]
    async fn a_frozen_redis_opens_the_breaker_and_no_generation_from_before_returns() {
        let redis = OwnRedis::start();
        let cache = Cache::connect(&redis_at(&redis.url())).await.expect("connects");
        let versions = DataVersions::new(&cache);
        versions.bump("m").await;
        let before = versions.current("m").await.expect("known while redis is up");
        let pid = redis.child.as_ref().expect("running").id().to_string();
        let signal = |name: &str| {
            let status = std::process::Command::new("kill").args([name, &pid]).status().expect("kill runs");
            assert!(status.success());
        };
        signal("-STOP");
        // The bump cannot reach Redis: its command times out and the breaker opens. Redis keeps
        // its data, so without the epoch the old generation would come back with it.
        versions.bump("m").await;
        assert!(cache.is_degraded(), "a command past its timeout opens the breaker");
        assert_eq!(versions.current("m").await, None);
        signal("-CONT");
        for _ in 0..100 {
            if !cache.is_degraded() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!cache.is_degraded(), "the probe closes the breaker");
        let after = versions.current("m").await.expect("known again");
        assert_ne!(after, before, "the lost bump is made up for by the epoch");
    }

    #[tokio::test]
    async fn a_dead_redis_costs_nothing_and_once_back_no_earlier_generation_returns() {
        let mut redis = OwnRedis::start();
        let cache = Cache::connect(&redis_at(&redis.url())).await.expect("connects");
        let versions = DataVersions::new(&cache);
        let counters = WindowCounters::new(&cache);
        let minute = Duration::from_secs(60);
        cache.set("a", b"one".to_vec(), minute).await;
        versions.bump("m").await;
        let before = versions.current("m").await.expect("known while redis is up");
        assert_eq!(cache.get("a").await.as_deref(), Some(&b"one"[..]));

        redis.kill();
        // The first command after the kill finds the connection gone and opens the breaker.
        assert_eq!(cache.get("a").await, None);
        assert!(cache.is_degraded(), "the breaker is open");
        let started = std::time::Instant::now();
        for _ in 0..1_000 {
            assert_eq!(cache.get("a").await, None, "a miss");
            assert_eq!(versions.current("m").await, None, "no generation can be trusted");
        }
        assert_eq!(counters.add("p", 1, minute, 1).await, 1, "quotas count in process");
        assert_eq!(counters.add("p", 1, minute, 1).await, 2);
        // Not a performance figure: before the breaker each of these waited seconds for a
        // reconnect, so two thousand of them within seconds shows none waited for Redis.
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(5), "2,000 calls while open took {elapsed:?}");

        redis.restart();
        for _ in 0..100 {
            if !cache.is_degraded() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!cache.is_degraded(), "a probe closes the breaker once redis answers");
        let after = versions.current("m").await.expect("known again");
        assert_ne!(after, before, "the epoch moved on: nothing cached before the outage is read again");
        cache.set("b", b"two".to_vec(), minute).await;
        assert_eq!(cache.get("b").await.as_deref(), Some(&b"two"[..]), "the cache is shared again");
    }

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
        let config = shared_redis();
        let cache = Cache::connect(&config).await.expect("redis is running for the tests");
        counters_count_per_window(WindowCounters::new(&cache)).await;
    }

    #[tokio::test]
    async fn replicas_share_window_counts_through_redis() {
        let config = shared_redis();
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
        assert_eq!(versions.current("m").await, Some(0));
        versions.bump("m").await;
        let one = versions.current("m").await;
        assert_ne!(one, Some(0), "a bump moves the generation");
        versions.bump("m").await;
        let two = versions.current("m").await;
        assert!(two.is_some() && two != one, "every bump moves it");
        assert_eq!(versions.current("other").await, Some(0), "generations are per metric");
    }

    #[tokio::test]
    async fn data_versions_move_per_metric_in_process() {
        versions_move(DataVersions::new(&Cache::in_process("t:"))).await;
    }

    #[tokio::test]
    async fn data_versions_move_per_metric_in_redis_and_are_shared() {
        let config = shared_redis();
        let a = Cache::connect(&config).await.expect("redis is running for the tests");
        let b = Cache::connect(&config).await.expect("a second replica connects");
        versions_move(DataVersions::new(&a)).await;
        assert_eq!(
            DataVersions::new(&b).current("m").await,
            DataVersions::new(&a).current("m").await,
            "another replica sees the bump"
        );
    }

    #[tokio::test]
    async fn in_process_cache_stores_expires_and_deletes() {
        exercise(Cache::in_process("t:")).await;
    }

    #[tokio::test]
    async fn redis_cache_behaves_like_the_in_process_one() {
        let config = shared_redis();
        let cache = Cache::connect(&config).await.expect("redis is running for the tests");
        assert!(cache.is_shared());
        exercise(cache).await;
    }
}
