//! [`BenchmarkingService`]: the benchmarking API over the definitions and submissions APIs, with
//! answers cached by data generation. Each RPC's computation lives in its own module
//! (`calculator`, `compare`, `trend`, `inequality`, `profile`); this one holds the shared state,
//! the caching wrapper and the trait implementation.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use sharedmetrics_access::Principal;
use sharedmetrics_cache::{Cache, DataVersions};
use sharedmetrics_definitions::DefinitionsApi;
use sharedmetrics_definitions::directory::Directory;
use sharedmetrics_error::ServiceResult;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::*;
use sharedmetrics_submissions::SubmissionsApi;
use tokio::sync::OnceCell;

use crate::BenchmarkingApi;
use crate::areas::AreaIndex;
use crate::cache::{Answers, MetricGeneration, cache_key};

/// The benchmarking service, reading through the definitions and submissions APIs.
pub struct BenchmarkingService {
    pub(crate) definitions: Arc<dyn DefinitionsApi>,
    pub(crate) submissions: Arc<dyn SubmissionsApi>,
    pub(crate) answers: Answers,
    pub(crate) directory: Arc<Directory>,
    organisation_names: OnceCell<Arc<HashMap<String, String>>>,
}

impl BenchmarkingService {
    /// Returns the service reading metrics and areas from `definitions` and observations from
    /// `submissions`, caching answers in `cache` keyed on the generations in `data_versions`
    /// (which must be the same generations the submissions service moves).
    pub fn new(
        definitions: Arc<dyn DefinitionsApi>,
        submissions: Arc<dyn SubmissionsApi>,
        cache: Cache,
        data_versions: DataVersions,
    ) -> Self {
        Self {
            directory: Arc::new(Directory::new(definitions.clone())),
            definitions,
            submissions,
            answers: Answers::new(cache, data_versions),
            organisation_names: OnceCell::new(),
        }
    }

    /// Returns the service reading areas and organisations through `directory` (one per
    /// process, shared with the other roles it serves) instead of a directory of its own.
    pub fn with_directory(mut self, directory: Arc<Directory>) -> Self {
        self.directory = directory;
        self
    }

    /// Loads the area hierarchies and organisation names now rather than on the first request
    /// that needs them (seconds of work over every LSOA in England), retrying while the
    /// definitions service is not reachable yet. Requests arriving meanwhile wait for this load
    /// instead of starting their own.
    pub async fn warm_up(&self) {
        // Areas and organisation names are public reference data: any reader may load them.
        let principal = Principal {
            id: "system:benchmarking-warm-up".into(),
            kind: sharedmetrics_access::PrincipalKind::ApiKey,
            organisation: "X24".into(),
            roles: vec![sharedmetrics_access::Role::Reader],
            key_id: None,
            display_name: "benchmarking warm-up".into(),
        };
        let started = std::time::Instant::now();
        for attempt in 1..=10u32 {
            match (self.areas(&principal).await, self.organisation_names(&principal).await) {
                (Ok(_), Ok(_)) => {
                    tracing::info!(
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "benchmarking reference data loaded"
                    );
                    return;
                }
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!(%error, attempt, "benchmarking reference data not loaded yet; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(500 * u64::from(attempt))).await;
                }
            }
        }
    }

    /// Returns the area hierarchies, loading them on first use.
    pub(crate) async fn areas(&self, principal: &Principal) -> ServiceResult<Arc<AreaIndex>> {
        self.directory.areas(principal).await
    }

    /// Returns organisation names by ODS code, loading them on first use.
    pub(crate) async fn organisation_names(
        &self,
        principal: &Principal,
    ) -> ServiceResult<Arc<HashMap<String, String>>> {
        self.organisation_names
            .get_or_try_init(|| async {
                let organisations = self.directory.organisations(principal).await?;
                Ok(Arc::new(organisations.iter().map(|o| (o.code.clone(), o.name.clone())).collect()))
            })
            .await
            .cloned()
    }

    /// Returns the cached answer for a request, or computes, stores and returns it. The flag is
    /// true for a cache hit. `metrics` are (code, version, insider) of every metric the answer
    /// reads; `extra` is anything else the answer depends on that the request does not carry
    /// (a peer group's version).
    pub(crate) async fn cached<T, F, Fut>(
        &self,
        rpc: &str,
        principal: &Principal,
        request: &impl Message,
        extra: &[u8],
        metrics: &[(String, u32, bool)],
        compute: F,
    ) -> ServiceResult<(T, Vec<MetricGeneration>, bool)>
    where
        T: Message + Default,
        F: FnOnce(Vec<MetricGeneration>) -> Fut,
        Fut: std::future::Future<Output = ServiceResult<T>>,
    {
        let mut bytes = request.encode_to_vec();
        bytes.extend_from_slice(extra);
        let Some(generations) = self.answers.generations(metrics).await else {
            return self.fallback_cached(rpc, principal, &bytes, metrics, compute).await;
        };
        let key = cache_key(rpc, &bytes, &generations, principal);
        if let Some(answer) = self.answers.get::<T>(&key).await {
            // Inside an answer being computed for the fallback, this part's reads are unknown.
            crate::cache::record_unknown_reads();
            return Ok((answer, generations, true));
        }
        let answer = compute(generations.clone()).await?;
        self.answers.put(&key, &answer, &generations).await;
        Ok((answer, generations, false))
    }

    /// [`Self::cached`] while the shared cache is down, when no generation can say whether a
    /// publication made in another process changed the data: an answer kept in this process
    /// is served only if every observation read it was computed from, made again now, returns
    /// the same rows (the reads are cheap; the computation is not). Generations read as 0.
    async fn fallback_cached<T, F, Fut>(
        &self,
        rpc: &str,
        principal: &Principal,
        request: &[u8],
        metrics: &[(String, u32, bool)],
        compute: F,
    ) -> ServiceResult<(T, Vec<MetricGeneration>, bool)>
    where
        T: Message + Default,
        F: FnOnce(Vec<MetricGeneration>) -> Fut,
        Fut: std::future::Future<Output = ServiceResult<T>>,
    {
        let unknown: Vec<MetricGeneration> = metrics
            .iter()
            .map(|(code, version, insider)| MetricGeneration {
                code: code.clone(),
                version: *version,
                generation: 0,
                insider: *insider,
            })
            .collect();
        let key = cache_key(rpc, request, &unknown, principal);
        if let Some((answer, reads)) = self.answers.fallback_get::<T>(&key).await
            && self.reads_unchanged(principal, &reads).await?
        {
            // An enclosing answer (a profile's comparison) depends on these reads too.
            reads.into_iter().for_each(crate::cache::record_read);
            return Ok((answer, unknown, true));
        }
        let (answer, reads) = crate::cache::recording(compute(unknown.clone())).await;
        let answer = answer?;
        match reads {
            Some(reads) => {
                reads.iter().cloned().for_each(crate::cache::record_read);
                self.answers.fallback_put(&key, &answer, reads).await;
            }
            None => crate::cache::record_unknown_reads(),
        }
        Ok((answer, unknown, false))
    }

    /// Returns whether every read returns now what it returned when recorded.
    async fn reads_unchanged(
        &self,
        principal: &Principal,
        reads: &[crate::cache::RecordedRead],
    ) -> ServiceResult<bool> {
        for read in reads {
            let request = read.request.clone().unwrap_or_default();
            if crate::observations::digest(&self.submissions, principal, request).await? != read.digest {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

pub(crate) use sharedmetrics_grpc::paging::{next_page_token, page_window};

#[async_trait::async_trait]
impl BenchmarkingApi for BenchmarkingService {
    async fn compute_statistics(
        &self,
        _principal: &Principal,
        request: ComputeStatisticsRequest,
    ) -> ServiceResult<ComputeStatisticsResponse> {
        // A pure calculation over the request: nothing to read, nothing worth caching.
        crate::calculator::compute_statistics(&request)
    }

    async fn compare_areas(
        &self,
        principal: &Principal,
        request: CompareAreasRequest,
    ) -> ServiceResult<CompareAreasResponse> {
        let (offset, size) = page_window(request.page_size, &request.page_token)?;
        let full = self.compare_all(principal, request).await?;
        Ok(crate::compare::page(full, offset, size))
    }

    async fn get_trend(&self, principal: &Principal, request: GetTrendRequest) -> ServiceResult<GetTrendResponse> {
        self.trend(principal, request).await
    }

    async fn get_inequality(
        &self,
        principal: &Principal,
        request: GetInequalityRequest,
    ) -> ServiceResult<GetInequalityResponse> {
        self.inequality(principal, request).await
    }

    async fn get_area_profile(
        &self,
        principal: &Principal,
        request: GetAreaProfileRequest,
    ) -> ServiceResult<GetAreaProfileResponse> {
        self.profile(principal, request).await
    }
}
