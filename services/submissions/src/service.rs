//! [`SubmissionsService`]: the submissions API on the database, with the access policy and
//! disclosure control applied to every call.

use std::sync::Arc;

use futures::StreamExt;
use sea_orm::{DatabaseConnection, TransactionTrait};
use sharedmetrics_access::Principal;
use sharedmetrics_access::policy;
use sharedmetrics_db::db_error;
use sharedmetrics_definitions::DefinitionsApi;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_grpc::paging;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::definitions::v1::{MetricStatus, MetricVersion};
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;
use tokio::sync::Mutex;

use crate::entity::submission;
use crate::ingest::{Ingest, now_us, timestamp};
use crate::reference::ReferenceCache;
use crate::store::{self, NewRow};
use crate::{ResultStream, SubmissionsApi};
use sharedmetrics_definitions::directory::Directory;

mod query;

/// The submissions service on a database, reading definitions through their API.
pub struct SubmissionsService {
    db: DatabaseConnection,
    reference: ReferenceCache,
    /// Serialises ingests in this process (PostgreSQL also takes a per-metric lock): SQLite has
    /// one writer, and two ingests must never both treat the same version as current.
    ingest_lock: Mutex<()>,
    /// Bumped whenever a metric's readable data may change, so cached results are invalidated.
    data_versions: sharedmetrics_cache::DataVersions,
}

fn micros(timestamp: &prost_types::Timestamp) -> i64 {
    timestamp.seconds * 1_000_000 + i64::from(timestamp.nanos / 1_000)
}

impl SubmissionsService {
    /// Returns the service on `db` (migrated), reading definitions through `definitions` and
    /// announcing data changes through `data_versions`.
    pub fn new(
        db: DatabaseConnection,
        definitions: Arc<dyn DefinitionsApi>,
        data_versions: sharedmetrics_cache::DataVersions,
    ) -> Self {
        Self {
            reference: ReferenceCache::new(Arc::new(Directory::new(definitions))),
            db,
            ingest_lock: Mutex::new(()),
            data_versions,
        }
    }

    /// Returns the service reading areas and organisations through `directory` (one per
    /// process, shared with the other roles it serves) instead of a directory of its own.
    pub fn with_directory(mut self, directory: Arc<Directory>) -> Self {
        self.reference = ReferenceCache::new(directory);
        self
    }

    /// Announces that a committed receipt changed its metric's data.
    async fn announce(&self, receipt: &SubmissionReceipt) {
        if receipt.committed && !receipt.idempotent_replay {
            self.data_versions.bump(&receipt.metric_code).await;
        }
    }

    /// Returns the metric version a request names (0: the current one), as the principal sees it.
    async fn metric_version(&self, principal: &Principal, code: &str, version: u32) -> ServiceResult<MetricVersion> {
        self.reference.directory().metric_version(principal, code, version).await
    }

    /// Returns the metric version a read names, kept briefly when it cannot change (see
    /// [`Directory::readable_version`]): reads that name their version (benchmarking's) then
    /// skip the definitions service's look-up.
    async fn readable_version(&self, principal: &Principal, code: &str, version: u32) -> ServiceResult<MetricVersion> {
        self.reference.directory().readable_version(principal, code, version).await
    }

    /// Returns whether the principal sees every version of the metric's data (owners, national).
    fn insider(principal: &Principal, version: &MetricVersion) -> bool {
        let owners = version.spec.as_ref().map(|s| s.owners.as_slice()).unwrap_or_default();
        policy::read_unpublished(principal, owners).allowed
    }

    async fn start(&self, principal: &Principal, header: Option<SubmissionHeader>) -> ServiceResult<Ingest> {
        let header = header
            .ok_or_else(|| ServiceError::invalid_field("header", "REQUIRED", "a submission starts with its header"))?;
        policy::submit_role(principal).check()?;
        let version = self.metric_version(principal, &header.metric_code, header.metric_version).await?;
        let status = MetricStatus::try_from(version.status).unwrap_or(MetricStatus::Unspecified);
        if status != MetricStatus::Published {
            return Err(ServiceError::failed_precondition(format!(
                "metric {} version {} is {}; only published, current metric versions take submissions",
                header.metric_code,
                version.version,
                status.label()
            )));
        }
        let spec = version.spec.clone().ok_or_else(|| ServiceError::internal("reading a metric", "no spec"))?;
        let reference = self.reference.get(principal).await?;
        Ingest::begin(&self.db, principal, header, spec, version.version as i32, reference).await
    }

    async fn load_submission(
        &self,
        principal: &Principal,
        id: &str,
    ) -> ServiceResult<(submission::Model, MetricVersion)> {
        let row = store::get_submission(&self.db, id)
            .await
            .map_err(db_error("reading a submission"))?
            .ok_or_else(|| ServiceError::not_found("submission", id))?;
        let version = self.metric_version(principal, &row.metric_code, row.metric_version as u32).await?;
        let owners = version.spec.as_ref().map(|s| s.owners.clone()).unwrap_or_default();
        // Say "not found" so that other organisations cannot probe submission ids.
        policy::read_submission(principal, &row.organisation_code, &owners).check_visible("submission", id)?;
        Ok((row, version))
    }

    /// Allows publishing or retracting: the submitting organisation, the metric's owners, national.
    fn check_manage(
        principal: &Principal,
        row: &submission::Model,
        version: &MetricVersion,
        what: &str,
    ) -> ServiceResult<()> {
        let owners = version.spec.as_ref().map(|s| s.owners.clone()).unwrap_or_default();
        policy::manage_submission(principal, &row.organisation_code, &owners, what).check()
    }
}

/// Returns a submission's state at `now`: a published one is embargoed until it is visible.
fn state(row: &submission::Model, now: i64) -> PublicationState {
    match row.stored_state() {
        PublicationState::Published if row.visible_from_us.is_some_and(|v| v > now) => PublicationState::Embargoed,
        stored => stored,
    }
}

fn submission_message(row: &submission::Model) -> (Submission, Vec<RowRejection>) {
    let receipt = <SubmissionReceipt as prost::Message>::decode(row.receipt.as_slice()).unwrap_or_default();
    let scope: serde_json::Value = serde_json::from_str(&row.replace_scope).unwrap_or_default();
    let strings = |key: &str| -> Vec<String> {
        scope[key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let mode = SubmissionMode::from_label(&row.mode).unwrap_or(SubmissionMode::Unspecified);
    let submission = Submission {
        submission_id: row.id.clone(),
        metric_code: row.metric_code.clone(),
        metric_version: row.metric_version as u32,
        mode: mode as i32,
        state: state(row, now_us()) as i32,
        atomic: row.atomic,
        idempotency_key: row.idempotency_key.clone(),
        replace_scope: (mode == SubmissionMode::Replace).then(|| ReplaceScope {
            period_codes: strings("period_codes"),
            area_codes: strings("area_codes"),
            breakdown_dimensions: strings("breakdown_dimensions"),
            all_breakdowns: scope["all_breakdowns"].as_bool().unwrap_or(false),
        }),
        source_system: row.source_system.clone(),
        submitter: row.submitter.clone(),
        key_id: row.key_id.clone(),
        organisation_code: row.organisation_code.clone(),
        counts: receipt.counts,
        submitted_at: Some(timestamp(row.submitted_at_us)),
        published_at: row.published_at_us.map(timestamp),
        published_by: row.published_by.clone().unwrap_or_default(),
        retracted_at: row.retracted_at_us.map(timestamp),
        retracted_by: row.retracted_by.clone().unwrap_or_default(),
        retraction_reason: row.retraction_reason.clone().unwrap_or_default(),
    };
    (submission, receipt.rejections)
}

#[async_trait::async_trait]
impl SubmissionsApi for SubmissionsService {
    async fn submit_observations(
        &self,
        principal: &Principal,
        request: SubmitObservationsRequest,
    ) -> ServiceResult<SubmitObservationsResponse> {
        let _guard = self.ingest_lock.lock().await;
        let mut ingest = self.start(principal, request.header).await?;
        ingest.chunk(&request.rows).await?;
        let receipt = ingest.finish().await?;
        self.announce(&receipt).await;
        Ok(SubmitObservationsResponse { receipt: Some(receipt) })
    }

    async fn stream_observations(
        &self,
        principal: &Principal,
        mut frames: ResultStream<StreamObservationsRequest>,
    ) -> ServiceResult<StreamObservationsResponse> {
        let header = match frames.next().await {
            Some(Ok(StreamObservationsRequest { frame: Some(stream_observations_request::Frame::Header(header)) })) => {
                header
            }
            Some(Ok(_)) => {
                return Err(ServiceError::invalid_field(
                    "frame",
                    "HEADER_FIRST",
                    "the first message of a stream is the submission header",
                ));
            }
            Some(Err(error)) => return Err(error),
            None => return Err(ServiceError::invalid_field("frame", "HEADER_FIRST", "the stream carried no messages")),
        };
        let _guard = self.ingest_lock.lock().await;
        let mut ingest = self.start(principal, Some(header)).await?;
        // Any early return below (an error from the client's side, a malformed frame, a stream
        // that stops without its end frame) drops the transaction, which rolls it back: the
        // submission is whole or absent.
        loop {
            let Some(frame) = frames.next().await else {
                return Err(ServiceError::invalid_field(
                    "frame",
                    "STREAM_NOT_ENDED",
                    "the stream stopped before its end frame; nothing was written",
                ));
            };
            match frame?.frame {
                Some(stream_observations_request::Frame::Chunk(chunk)) => ingest.chunk(&chunk.rows).await?,
                Some(stream_observations_request::Frame::End(end)) => {
                    if end.row_count != ingest.rows_received() {
                        return Err(ServiceError::invalid_field(
                            "end.row_count",
                            "ROW_COUNT_MISMATCH",
                            format!(
                                "the end frame counts {} rows but {} arrived; nothing was written",
                                end.row_count,
                                ingest.rows_received()
                            ),
                        ));
                    }
                    break;
                }
                Some(stream_observations_request::Frame::Header(_)) => {
                    return Err(ServiceError::invalid_field(
                        "frame",
                        "HEADER_FIRST",
                        "a stream carries one header, first",
                    ));
                }
                None => {}
            }
        }
        if frames.next().await.is_some() {
            return Err(ServiceError::invalid_field("frame", "END_LAST", "the end frame must be the last message"));
        }
        let receipt = ingest.finish().await?;
        self.announce(&receipt).await;
        Ok(StreamObservationsResponse { receipt: Some(receipt) })
    }

    async fn get_submission(
        &self,
        principal: &Principal,
        request: GetSubmissionRequest,
    ) -> ServiceResult<GetSubmissionResponse> {
        let (row, _) = self.load_submission(principal, &request.submission_id).await?;
        let (submission, rejections) = submission_message(&row);
        Ok(GetSubmissionResponse { submission: Some(submission), rejections })
    }

    async fn list_submissions(
        &self,
        principal: &Principal,
        request: ListSubmissionsRequest,
    ) -> ServiceResult<ListSubmissionsResponse> {
        // Empty means the caller's organisation, or every organisation's for national.
        let organisation = match request.organisation_code.as_str() {
            "" if principal.is_national() => None,
            "" => Some(principal.organisation.as_str()),
            code => Some(code),
        };
        policy::list_submissions(principal, organisation).check()?;
        let metric = (!request.metric_code.is_empty()).then_some(request.metric_code.as_str());
        let rows =
            store::list_submissions(&self.db, metric, organisation).await.map_err(db_error("listing submissions"))?;
        let now = now_us();
        let wanted_state = PublicationState::try_from(request.state).unwrap_or(PublicationState::Unspecified);
        let after = request.submitted_after.as_ref().map(micros);
        let before = request.submitted_before.as_ref().map(micros);
        let filtered: Vec<Submission> = rows
            .iter()
            .filter(|r| wanted_state == PublicationState::Unspecified || state(r, now) == wanted_state)
            .filter(|r| after.is_none_or(|a| r.submitted_at_us > a) && before.is_none_or(|b| r.submitted_at_us < b))
            .map(|r| submission_message(r).0)
            .collect();
        let (offset, limit) = paging::page_window(request.page_size, &request.page_token)?;
        let next_page_token = paging::next_page_token(offset, limit, filtered.len());
        Ok(ListSubmissionsResponse {
            submissions: filtered.into_iter().skip(offset).take(limit).collect(),
            next_page_token,
        })
    }

    async fn query_observations(
        &self,
        principal: &Principal,
        request: QueryObservationsRequest,
    ) -> ServiceResult<ResultStream<QueryObservationsResponse>> {
        self.query(principal, request).await
    }

    async fn get_observation_history(
        &self,
        principal: &Principal,
        request: GetObservationHistoryRequest,
    ) -> ServiceResult<GetObservationHistoryResponse> {
        self.history(principal, request).await
    }

    async fn publish_submission(
        &self,
        principal: &Principal,
        request: PublishSubmissionRequest,
    ) -> ServiceResult<PublishSubmissionResponse> {
        let (mut row, version) = self.load_submission(principal, &request.submission_id).await?;
        Self::check_manage(principal, &row, &version, "publishing a submission")?;
        if row.stored_state() != PublicationState::Draft {
            return Err(ServiceError::failed_precondition(format!(
                "submission {} is {}; only a draft can be published",
                row.id, row.state
            )));
        }
        let now = now_us();
        let embargo = request.embargo_until.as_ref().map(micros);
        row.set_state(PublicationState::Published);
        row.published_at_us = Some(now);
        row.published_by = Some(principal.id.clone());
        row.visible_from_us = Some(embargo.map_or(now, |e| e.max(now)));
        let row = store::update_submission(&self.db, row).await.map_err(db_error("publishing a submission"))?;
        self.data_versions.bump(&row.metric_code).await;
        tracing::info!(submission = %row.id, principal = %principal.id, embargo_us = ?embargo, "submission published");
        Ok(PublishSubmissionResponse { submission: Some(submission_message(&row).0) })
    }

    async fn retract_submission(
        &self,
        principal: &Principal,
        request: RetractSubmissionRequest,
    ) -> ServiceResult<RetractSubmissionResponse> {
        let (mut row, version) = self.load_submission(principal, &request.submission_id).await?;
        Self::check_manage(principal, &row, &version, "retracting a submission")?;
        if request.reason.trim().is_empty() {
            return Err(ServiceError::invalid_field("reason", "REQUIRED", "a retraction states its reason"));
        }
        if row.stored_state() == PublicationState::Retracted {
            return Err(ServiceError::failed_precondition(format!("submission {} is already retracted", row.id)));
        }
        let _guard = self.ingest_lock.lock().await;
        let now = now_us();
        let txn = self.db.begin().await.map_err(db_error("starting a transaction"))?;
        let current =
            store::current_rows_of_submission(&txn, &row.id).await.map_err(db_error("reading a submission's rows"))?;
        let ids: Vec<i64> = current.iter().map(|r| r.id).collect();
        let tombstones: Vec<NewRow> = current
            .iter()
            .map(|r| NewRow {
                row: r.tombstone(&request.reason),
                submission_id: row.id.clone(),
                organisation_code: row.organisation_code.clone(),
                deleted: true,
                valid_from_us: now,
            })
            .collect();
        store::close_rows(&txn, &ids, now).await.map_err(db_error("retracting observations"))?;
        store::insert_rows(&txn, &row.metric_code, row.metric_version, &tombstones)
            .await
            .map_err(db_error("retracting observations"))?;
        row.set_state(PublicationState::Retracted);
        row.retracted_at_us = Some(now);
        row.retracted_by = Some(principal.id.clone());
        row.retraction_reason = Some(request.reason.clone());
        let row = store::update_submission(&txn, row).await.map_err(db_error("retracting a submission"))?;
        txn.commit().await.map_err(db_error("committing a retraction"))?;
        self.data_versions.bump(&row.metric_code).await;
        tracing::info!(submission = %row.id, principal = %principal.id, rows = ids.len(), "submission retracted");
        Ok(RetractSubmissionResponse {
            submission: Some(submission_message(&row).0),
            retracted_count: ids.len() as u64,
            data_version: Some(timestamp(now)),
        })
    }
}
