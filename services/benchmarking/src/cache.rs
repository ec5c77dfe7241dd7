//! Caching of answers over stored data. An answer is stored under a key made of the RPC, the
//! request's bytes, the data generation of every metric it read (which the submissions service
//! moves on every submission, publication and retraction of that metric) and what decides what
//! the caller may see (its organisation, whether it is national, its roles, and whether it is an
//! owner of each metric). So a publication invalidates exactly the answers that read that
//! metric, and no caller is ever served an answer computed for someone who sees more.

use std::cell::RefCell;
use std::time::Duration;

use prost::Message;
use sha2::{Digest, Sha256};
use sharedmetrics_access::Principal;
use sharedmetrics_cache::{Cache, DataVersions};
use sharedmetrics_proto::sharedmetrics::submissions::v1::QueryObservationsRequest;

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

/// The key prefix of the fallback (in its own in-process cache).
const FALLBACK_PREFIX: &str = "fallback:";

/// The answer cache: encoded protobuf responses in the shared [`Cache`], and, for while the
/// shared cache is down, a fallback in this process that needs no generation (see
/// [`Answers::fallback_get`]).
#[derive(Clone)]
pub(crate) struct Answers {
    cache: Cache,
    versions: DataVersions,
    fallback: Cache,
}

/// One observation read an answer was computed from: the request, and a digest of what it
/// returned.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RecordedRead {
    #[prost(message, optional, tag = "1")]
    pub request: Option<QueryObservationsRequest>,
    #[prost(bytes = "vec", tag = "2")]
    pub digest: Vec<u8>,
}

/// An answer kept by the fallback, with the reads it was computed from.
#[derive(Clone, PartialEq, prost::Message)]
struct FallbackEntry {
    #[prost(message, repeated, tag = "1")]
    reads: Vec<RecordedRead>,
    #[prost(bytes = "vec", tag = "2")]
    answer: Vec<u8>,
}

/// What the answer being computed for the fallback has read so far.
#[derive(Default)]
struct Recording {
    reads: Vec<RecordedRead>,
    /// False once some of its data came from elsewhere (a shared-cache hit inside it), whose
    /// reads are unknown: such an answer is not kept.
    complete: bool,
}

tokio::task_local! {
    /// The observation reads of the answer being computed for the fallback.
    static READS: RefCell<Recording>;
}

/// Notes an observation read (its request and the digest of what it returned) when an answer
/// for the fallback is being computed; otherwise does nothing.
pub(crate) fn record_read(read: RecordedRead) {
    let _ = READS.try_with(|recording| recording.borrow_mut().reads.push(read));
}

/// Notes that part of the answer being computed for the fallback came without its reads.
pub(crate) fn record_unknown_reads() {
    let _ = READS.try_with(|recording| recording.borrow_mut().complete = false);
}

/// Runs `compute`, returning its answer and every observation read it made, or none for the
/// reads when some part of the answer came without them.
pub(crate) async fn recording<T>(compute: impl Future<Output = T>) -> (T, Option<Vec<RecordedRead>>) {
    let recording = RefCell::new(Recording { reads: Vec::new(), complete: true });
    READS
        .scope(recording, async {
            let answer = compute.await;
            let recording = READS.with(|r| r.take());
            (answer, recording.complete.then_some(recording.reads))
        })
        .await
}

impl Answers {
    /// Returns the answer cache over `cache`, keyed on `versions`.
    pub fn new(cache: Cache, versions: DataVersions) -> Self {
        Self { cache, versions, fallback: Cache::in_process(FALLBACK_PREFIX) }
    }

    /// Returns the fallback's answer under `key` with the reads it was computed from. The
    /// caller serves it only if every read, made again now, returns what it returned then: no
    /// generation is needed, so a publication made anywhere is seen at once.
    pub async fn fallback_get<T: Message + Default>(&self, key: &str) -> Option<(T, Vec<RecordedRead>)> {
        let entry = FallbackEntry::decode(self.fallback.get(key).await?.as_slice()).ok()?;
        Some((T::decode(entry.answer.as_slice()).ok()?, entry.reads))
    }

    /// Keeps `answer` in the fallback with the reads it was computed from.
    pub async fn fallback_put<T: Message>(&self, key: &str, answer: &T, reads: Vec<RecordedRead>) {
        let entry = FallbackEntry { reads, answer: answer.encode_to_vec() };
        self.fallback.set(key, entry.encode_to_vec(), ANSWER_TTL).await;
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
    use sharedmetrics_access::Role;

    fn principal(organisation: &str, roles: &[Role]) -> Principal {
        Principal::api_key(organisation, roles)
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

    fn read(metric: &str) -> RecordedRead {
        RecordedRead {
            request: Some(QueryObservationsRequest { metric_code: metric.into(), ..Default::default() }),
            digest: vec![1],
        }
    }

    #[tokio::test]
    async fn a_recording_keeps_every_read_and_none_when_a_part_came_without_its_reads() {
        let (answer, reads) = recording(async {
            record_read(read("a"));
            record_read(read("b"));
            7
        })
        .await;
        assert_eq!((answer, reads), (7, Some(vec![read("a"), read("b")])));
        let (_, reads) = recording(async {
            record_read(read("a"));
            record_unknown_reads();
        })
        .await;
        assert_eq!(reads, None, "an answer with a part of unknown reads is not kept");
        record_read(read("outside"));
        record_unknown_reads();
    }

    #[tokio::test]
    async fn the_fallback_keeps_an_answer_with_its_reads() {
        let cache = Cache::in_process("t:");
        let answers = Answers::new(cache.clone(), DataVersions::new(&cache));
        let answer = prost_types::Timestamp { seconds: 9, nanos: 0 };
        answers.fallback_put("k", &answer, vec![read("a")]).await;
        let (kept, reads) = answers.fallback_get::<prost_types::Timestamp>("k").await.expect("kept");
        assert_eq!((kept, reads), (answer, vec![read("a")]));
        assert!(answers.get::<prost_types::Timestamp>("k").await.is_none(), "apart from the shared cache");
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
