//! Throttling of failed authentications, so guessing secrets gains nothing: past
//! `gateway.auth_throttle.max_failures` failures within `window_seconds` of the first, for one
//! API key id (the `sm_<key id>_…` part) or from one client address, further attempts with that
//! key id or from that address are refused at once with RESOURCE_EXHAUSTED and a retry-after,
//! without the secret being checked, until the window ends. A success clears nothing, so a
//! client with one good key cannot wash out the failures it makes with others.
//!
//! The client address is the TCP peer's, unless the peer is one of `gateway.trusted_proxies`:
//! then it is the nearest address in `X-Forwarded-For` that is not a trusted proxy. With no
//! trusted proxies (the default) `X-Forwarded-For` is never read, so a client cannot choose the
//! address it is counted against.
//!
//! Counts are kept in this process (a bounded cache whose entries expire with their window):
//! behind several gateway replicas a guesser gets `max_failures` per replica, each still
//! refused once its own replica's count is reached.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sharedmetrics_config::{AuthThrottleConfig, IpNetwork};
use sharedmetrics_error::{ErrorCode, ServiceError, ServiceResult};

/// Key ids and addresses tracked at once; past it the least used are forgotten first.
const MAX_TRACKED: u64 = 100_000;

/// Longest key id counted as one: a longer "id" is not one this gateway issued, and counting it
/// would let a client fill the cache with large keys (its address is still counted).
const MAX_KEY_ID_LEN: usize = 64;

/// The `ErrorInfo.metadata` key saying what the refusal counted: `key_id` or `client_address`.
pub const THROTTLED_METADATA_KEY: &str = "throttled";

/// The failures counted against one key id or address in its current window.
struct Failures {
    /// When the window's first failure happened; the window ends a window's length later.
    first: Instant,
    count: AtomicU32,
}

/// The failed-authentication counters of one gateway process, shared by the gRPC port and the
/// REST side (they use one authenticator).
pub struct AuthThrottle {
    max_failures: u32,
    window: Duration,
    trusted_proxies: Vec<IpNetwork>,
    keys: moka::future::Cache<String, Arc<Failures>>,
    addresses: moka::future::Cache<IpAddr, Arc<Failures>>,
}

impl AuthThrottle {
    /// Returns a throttle with the limits of `config`, reading `X-Forwarded-For` only from
    /// `trusted_proxies`.
    pub fn new(config: &AuthThrottleConfig, trusted_proxies: Vec<IpNetwork>) -> Self {
        let window = Duration::from_secs(config.window_seconds.max(1));
        Self {
            max_failures: config.max_failures,
            window,
            trusted_proxies,
            keys: moka::future::Cache::builder().max_capacity(MAX_TRACKED).time_to_live(window).build(),
            addresses: moka::future::Cache::builder().max_capacity(MAX_TRACKED).time_to_live(window).build(),
        }
    }

    /// Returns the address an attempt is counted against: the peer's, or, when the peer is a
    /// trusted proxy, the nearest `X-Forwarded-For` entry that is not one (a malformed entry
    /// stops the walk at the proxy before it).
    pub fn client_address(&self, headers: &http::HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        let mut client = peer?.ip().to_canonical();
        if !self.is_trusted(client) {
            return Some(client);
        }
        // Each proxy appends the address it received from, so the last entries are the nearest.
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for entry in forwarded.into_iter().rev() {
            let Some(ip) = parse_forwarded(entry) else { break };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        Some(client)
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|network| network.contains(ip))
    }

    /// Refuses at once, without the secret being checked, when `key_id` or `client` has used up
    /// its failures in the current window.
    pub async fn check(&self, key_id: Option<&str>, client: Option<IpAddr>) -> ServiceResult<()> {
        if self.max_failures == 0 {
            return Ok(());
        }
        if let Some(key_id) = countable(key_id)
            && let Some(failures) = self.keys.get(key_id).await
            && let Some(retry_after) = self.exhausted(&failures)
        {
            tracing::debug!(%key_id, client = ?client, retry_after, "authentication refused: key id throttled");
            return Err(self.refusal(&format!("for API key {key_id}"), "key_id", retry_after));
        }
        if let Some(client) = client
            && let Some(failures) = self.addresses.get(&client).await
            && let Some(retry_after) = self.exhausted(&failures)
        {
            tracing::debug!(%client, retry_after, "authentication refused: client address throttled");
            return Err(self.refusal("from this address", "client_address", retry_after));
        }
        Ok(())
    }

    /// Counts a failed authentication against `key_id` and `client`.
    pub async fn record_failure(&self, key_id: Option<&str>, client: Option<IpAddr>) {
        if self.max_failures == 0 {
            return;
        }
        if let Some(key_id) = countable(key_id) {
            let count = self.count(&self.keys, key_id.to_owned()).await;
            if count == self.max_failures {
                tracing::warn!(%key_id, client = ?client, failures = count, window_s = self.window.as_secs(), "api key id throttled after failed authentications");
            }
        }
        if let Some(client) = client {
            let count = self.count(&self.addresses, client).await;
            if count == self.max_failures {
                tracing::warn!(%client, failures = count, window_s = self.window.as_secs(), "client address throttled after failed authentications");
            }
        }
    }

    /// Adds one failure to `key`'s window (opening one if it has none) and returns the count.
    async fn count<K>(&self, cache: &moka::future::Cache<K, Arc<Failures>>, key: K) -> u32
    where
        K: std::hash::Hash + Eq + Send + Sync + Clone + 'static,
    {
        let open = || Arc::new(Failures { first: Instant::now(), count: AtomicU32::new(0) });
        let mut failures = cache.get_with(key.clone(), async { open() }).await;
        // The cache expires entries lazily; a window that has ended starts again here.
        if failures.first.elapsed() >= self.window {
            failures = open();
            cache.insert(key, failures.clone()).await;
        }
        failures.count.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    }

    /// Returns the whole seconds until the window of `failures` ends, when they fill it.
    fn exhausted(&self, failures: &Failures) -> Option<u64> {
        let elapsed = failures.first.elapsed();
        if failures.count.load(Ordering::Relaxed) < self.max_failures || elapsed >= self.window {
            return None;
        }
        let left = self.window - elapsed;
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    fn refusal(&self, whose: &str, counted: &str, retry_after: u64) -> ServiceError {
        ServiceError::new(
            ErrorCode::ResourceExhausted,
            format!(
                "too many failed authentications {whose}: at most {} in {} s; retry after {retry_after} s",
                self.max_failures,
                self.window.as_secs()
            ),
        )
        .with_metadata(sharedmetrics_error::RETRY_AFTER_METADATA_KEY, retry_after.to_string())
        .with_metadata(THROTTLED_METADATA_KEY, counted)
    }
}

/// Returns the key id if it is one to count per key.
fn countable(key_id: Option<&str>) -> Option<&str> {
    key_id.filter(|id| !id.is_empty() && id.len() <= MAX_KEY_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Parses an `X-Forwarded-For` entry: an address, with or without a port (`[v6]:port`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max_failures: u32, trusted: &[&str]) -> AuthThrottle {
        let config = AuthThrottleConfig { max_failures, window_seconds: 60 };
        AuthThrottle::new(&config, trusted.iter().map(|t| t.parse().unwrap()).collect())
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[tokio::test]
    async fn past_the_limit_a_key_id_is_refused_from_any_address() {
        let throttle = throttle(3, &[]);
        for i in 0..3 {
            throttle.check(Some("abc123"), ip(&format!("192.0.2.{i}"))).await.expect("within the limit");
            throttle.record_failure(Some("abc123"), ip(&format!("192.0.2.{i}"))).await;
        }
        let refused = throttle.check(Some("abc123"), ip("198.51.100.1")).await.expect_err("the key id is throttled");
        assert_eq!(refused.code, ErrorCode::ResourceExhausted);
        assert_eq!(refused.metadata[THROTTLED_METADATA_KEY], "key_id");
        let retry_after: u64 = refused.metadata[sharedmetrics_error::RETRY_AFTER_METADATA_KEY].parse().unwrap();
        assert!((59..=60).contains(&retry_after), "{retry_after}");
        throttle.check(Some("def456"), ip("198.51.100.1")).await.expect("another key id is not");
    }

    #[tokio::test]
    async fn past_the_limit_an_address_is_refused_whatever_key_it_presents() {
        let throttle = throttle(2, &[]);
        throttle.record_failure(None, ip("192.0.2.1")).await;
        throttle.record_failure(Some("k1"), ip("192.0.2.1")).await;
        let refused = throttle.check(Some("k2"), ip("192.0.2.1")).await.expect_err("the address is throttled");
        assert_eq!(refused.metadata[THROTTLED_METADATA_KEY], "client_address");
        throttle.check(Some("k2"), ip("192.0.2.2")).await.expect("another address is not");
        throttle.check(None, None).await.expect("an attempt with neither is never counted");
    }

    #[tokio::test]
    async fn zero_failures_disables_the_throttle() {
        let throttle = throttle(0, &[]);
        for _ in 0..100 {
            throttle.record_failure(Some("k"), ip("192.0.2.1")).await;
        }
        throttle.check(Some("k"), ip("192.0.2.1")).await.expect("never refused");
    }

    #[test]
    fn forwarded_for_is_read_only_from_a_trusted_proxy() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.5".parse().unwrap());
        let peer = |s: &str| Some(SocketAddr::new(s.parse().unwrap(), 4000));
        let untrusting = throttle(3, &[]);
        assert_eq!(untrusting.client_address(&headers, peer("10.0.0.1")), ip("10.0.0.1"), "no proxy is trusted");
        let trusting = throttle(3, &["10.0.0.0/8"]);
        assert_eq!(
            trusting.client_address(&headers, peer("10.0.0.1")),
            ip("203.0.113.9"),
            "the nearest untrusted entry"
        );
        assert_eq!(trusting.client_address(&headers, peer("192.0.2.1")), ip("192.0.2.1"), "an untrusted peer");
        headers.insert("x-forwarded-for", "203.0.113.9, garbage".parse().unwrap());
        assert_eq!(trusting.client_address(&headers, peer("10.0.0.1")), ip("10.0.0.1"), "a malformed entry stops");
        headers.insert("x-forwarded-for", "[2001:db8::7]:443".parse().unwrap());
        assert_eq!(trusting.client_address(&headers, peer("10.0.0.1")), ip("2001:db8::7"));
        assert_eq!(trusting.client_address(&headers, None), None);
    }

    #[tokio::test]
    async fn an_implausible_key_id_is_not_counted_per_key() {
        let throttle = throttle(1, &[]);
        let long = "a".repeat(MAX_KEY_ID_LEN + 1);
        throttle.record_failure(Some(&long), None).await;
        throttle.record_failure(Some("a-b"), None).await;
        throttle.keys.run_pending_tasks().await;
        assert_eq!(throttle.keys.entry_count(), 0);
    }
}
