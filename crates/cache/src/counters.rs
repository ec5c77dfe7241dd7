//! Per-key counts within fixed time windows (the gateway's quotas), shared through Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::link::{Link, lock};
use crate::{Backend, Cache};

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
    Redis { link: Link, tallies: Arc<Mutex<HashMap<String, Tally>>> },
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

impl WindowCounters {
    /// Returns counters kept where `cache` keeps its values.
    pub fn new(cache: &Cache) -> Self {
        let backend = match &cache.backend {
            Backend::Redis(link) => CountersBackend::Redis { link: link.clone(), tallies: Default::default() },
            Backend::Local(_) => CountersBackend::Local(Default::default()),
        };
        Self { backend, prefix: format!("{}window:", cache.prefix) }
    }

    /// Adds `amount` to `key`'s count in window number `window` (windows of `length`) and returns
    /// the count after the addition.
    pub async fn add(&self, key: &str, window: u64, length: Duration, amount: u64) -> u64 {
        match &self.backend {
            CountersBackend::Redis { link, tallies } => {
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
                            let (link, tallies, key) = (link.clone(), tallies.clone(), key.clone());
                            tokio::spawn(async move {
                                tokio::time::sleep(SYNC_DELAY).await;
                                sync_until_sent(&link, &tallies, &key).await;
                            });
                        }
                        return tally.count();
                    }
                    tally.length = length;
                    tally.sending = amount;
                }
                // The window's first addition here: wait for Redis, so the count includes what
                // the other replicas have already added.
                let total = incr(link, &key, amount, length).await;
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
        let CountersBackend::Redis { link, tallies } = &self.backend else { return };
        let keys: Vec<String> = lock(tallies).keys().cloned().collect();
        for key in keys {
            send_unsent(link, tallies, &key).await;
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

/// Adds `amount` to `key` in Redis (expiring a little after its window) and returns the total,
/// or none when Redis did not answer (the addition then stays counted in this process only).
async fn incr(link: &Link, key: &str, amount: u64, length: Duration) -> Option<u64> {
    let expiry = (length.as_secs() as i64).max(1) * 2;
    link.run(|mut conn| async move {
        redis::pipe().incr(key, amount).expire(key, expiry).query_async::<(u64, i64)>(&mut conn).await
    })
    .await
    .map(|(count, _)| count)
}

/// Sends `key`'s unsent additions as one INCRBY and takes Redis's total as the shared count.
async fn send_unsent(link: &Link, tallies: &Mutex<HashMap<String, Tally>>, key: &str) {
    let (amount, length) = {
        let mut tallies = lock(tallies);
        let Some(tally) = tallies.get_mut(key) else { return };
        let amount = std::mem::take(&mut tally.unsent);
        tally.sending += amount;
        (amount, tally.length)
    };
    // Even with nothing to add, the answer brings back the other replicas' additions.
    let total = incr(link, key, amount, length).await;
    let mut tallies = lock(tallies);
    if let Some(tally) = tallies.get_mut(key) {
        tally.sending = tally.sending.saturating_sub(amount);
        // Without an answer the addition stays counted here.
        tally.shared = tally.shared.max(total.unwrap_or(tally.shared + amount));
    }
}

/// The background sync of one key: sends until nothing is left unsent, then stands down.
async fn sync_until_sent(link: &Link, tallies: &Mutex<HashMap<String, Tally>>, key: &str) {
    loop {
        send_unsent(link, tallies, key).await;
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
