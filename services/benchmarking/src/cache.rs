//! Caching of answers over stored data. An answer is stored under a key made of the RPC, the
//! request's bytes, the data generation of every metric it read (which the submissions service
//! moves on every submission, publication and retraction of that metric) and what decides what
//! the caller may see (its organisation, whether it is national, its roles, and whether it is an
//! owner of each metric). So a publication invalidates exactly the answers that read that
//! metric, and no caller is ever served an answer computed for someone who sees more.

use std::time::Duration;

use prost::Message;
use sha2::{Digest, Sha256};
use sharedmetrics_access::Principal;
use sharedmetrics_cache::{Cache, DataVersions};

/// How long an answer is kept. Generations make publication visible at once; the time to live
/// bounds the one change that moves no generation (an embargo passing) and the cache's size.
pub(crate) const ANSWER_TTL: Duration = Duration::from_secs(10 * 60);

/// One metric an answer read, at the generation it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MetricGeneration {
    pub code: String,
    /// The metric version read (a new version changes the key too).
    pub version: u32,
    pub generation: u64,
    /// Whether the caller is an owner of the metric (or national) and so sees its drafts.
    pub insider: bool,
}

/// Returns the cache key of an answer.
pub(crate) fn cache_key(rpc: &str, request: &[u8], metrics: &[MetricGeneration], principal: &Principal) -> String {
    let mut hash = Sha256::new();
    // Every part is length-prefixed so that no two different inputs can hash the same bytes.
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(rpc.as_bytes());
    part(request);
    for m in metrics {
        part(m.code.as_bytes());
        part(&m.version.to_le_bytes());
        part(&m.generation.to_le_bytes());
        part(&[u8::from(m.insider)]);
    }
    part(principal.organisation.as_bytes());
    part(&[u8::from(principal.is_national())]);
    let mut roles: Vec<&str> = principal.roles.iter().map(|r| r.name()).collect();
    roles.sort_unstable();
    part(roles.join(",").as_bytes());
    format!("benchmarking:{rpc}:{}", hex::encode(hash.finalize()))
}

/// The answer cache: encoded protobuf responses in the shared [`Cache`].
#[derive(Clone)]
pub(crate) struct Answers {
    cache: Cache,
    versions: DataVersions,
}

impl Answers {
    /// Returns the answer cache over `cache`, keyed on `versions`.
    pub fn new(cache: Cache, versions: DataVersions) -> Self {
        Self { cache, versions }
    }

    /// Returns the current generation of each metric, or none when one cannot be known (the
    /// shared cache is down): the answer must then be computed afresh and not stored.
    pub async fn generations(&self, metrics: &[(String, u32, bool)]) -> Option<Vec<MetricGeneration>> {
        let mut out = Vec::with_capacity(metrics.len());
        for (code, version, insider) in metrics {
            out.push(MetricGeneration {
                code: code.clone(),
                version: *version,
                generation: self.versions.current(code).await?,
                insider: *insider,
            });
        }
        Some(out)
    }

    /// Returns the answer stored under `key`, if any.
    pub async fn get<T: Message + Default>(&self, key: &str) -> Option<T> {
        let bytes = self.cache.get(key).await?;
        match T::decode(bytes.as_slice()) {
            Ok(answer) => Some(answer),
            Err(error) => {
                tracing::warn!(%error, key, "cached answer did not decode; recomputing");
                None
            }
        }
    }

    /// Stores `answer` under `key`, unless a metric it read moved on while it was computed (its
    /// data might then be older or newer than the generation in the key).
    pub async fn put<T: Message>(&self, key: &str, answer: &T, read: &[MetricGeneration]) {
        for m in read {
            if self.versions.current(&m.code).await != Some(m.generation) {
                return;
            }
        }
        self.cache.set(key, answer.encode_to_vec(), ANSWER_TTL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharedmetrics_access::{PrincipalKind, Role};

    fn principal(organisation: &str, roles: &[Role]) -> Principal {
        Principal {
            id: format!("key:{organisation}"),
            kind: PrincipalKind::ApiKey,
            organisation: organisation.to_owned(),
            roles: roles.to_vec(),
            key_id: None,
            display_name: organisation.to_owned(),
        }
    }

    fn metric(generation: u64, insider: bool) -> MetricGeneration {
        MetricGeneration { code: "m".into(), version: 1, generation, insider }
    }

    #[test]
    fn the_key_moves_with_the_generation_and_the_viewer_and_nothing_else() {
        let reader = principal("RBL", &[Role::Reader]);
        let key = |rpc, request: &[u8], m: MetricGeneration, p: &Principal| cache_key(rpc, request, &[m], p);
        let base = key("compare", b"q", metric(3, false), &reader);
        assert_eq!(base, key("compare", b"q", metric(3, false), &reader), "same inputs, same key");
        assert_eq!(
            base,
            key("compare", b"q", metric(3, false), &Principal { id: "key:other".into(), ..reader.clone() }),
            "two keys of one organisation with the same roles share answers"
        );
        assert!(base.starts_with("benchmarking:compare:"));
        for other in [
            key("compare", b"q", metric(4, false), &reader),
            key("compare", b"q", metric(3, true), &reader),
            key("compare", b"r", metric(3, false), &reader),
            key("trend", b"q", metric(3, false), &reader),
            key("compare", b"q", metric(3, false), &principal("REM", &[Role::Reader])),
            key("compare", b"q", metric(3, false), &principal("RBL", &[Role::Reader, Role::National])),
            key("compare", b"q", metric(3, false), &principal("RBL", &[Role::Reader, Role::Submitter])),
            key("compare", b"q", MetricGeneration { version: 2, ..metric(3, false) }, &reader),
        ] {
            assert_ne!(base, other);
        }
    }

    #[tokio::test]
    async fn an_answer_is_not_stored_when_its_metric_moved_on_meanwhile() {
        let cache = Cache::in_process("t:");
        let versions = DataVersions::new(&cache);
        let answers = Answers::new(cache, versions.clone());
        let read = answers.generations(&[("m".into(), 1, false)]).await.expect("known in process");
        assert_eq!(read[0].generation, 0);
        answers.put("k1", &prost_types::Timestamp { seconds: 7, nanos: 0 }, &read).await;
        assert_eq!(answers.get::<prost_types::Timestamp>("k1").await.map(|t| t.seconds), Some(7));
        versions.bump("m").await;
        answers.put("k2", &prost_types::Timestamp { seconds: 8, nanos: 0 }, &read).await;
        assert_eq!(answers.get::<prost_types::Timestamp>("k2").await, None);
    }
}
