//! [`SubmissionsService`]: the submissions API on the database, with the access policy and
//! disclosure control applied to every call.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use sea_orm::{DatabaseConnection, TransactionTrait};
use sharedmetrics_access::Principal;
use sharedmetrics_access::policy;
use sharedmetrics_definitions::DefinitionsApi;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, Breakdown, BreakdownCode};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{GetMetricRequest, MetricStatus, MetricVersion};
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::disclosure::{self, Cell, Suppression};
use crate::entity::submission;
use crate::ingest::{Ingest, now_us, timestamp};
use crate::reference::ReferenceCache;
use crate::store::{self, NewRow, Read, Viewer, VisibleRow};
use crate::validate::{ValidRow, breakdown_pairs};
use crate::{ResultStream, SubmissionsApi};

/// Observations per message of a QueryObservations stream.
const BATCH: usize = 500;

/// The submissions service on a database, reading definitions through their API.
pub struct SubmissionsService {
    db: DatabaseConnection,
    definitions: Arc<dyn DefinitionsApi>,
    reference: ReferenceCache,
    /// Serialises ingests in this process (PostgreSQL also takes a per-metric lock): SQLite has
    /// one writer, and two ingests must never both treat the same version as current.
    ingest_lock: Mutex<()>,
    /// Bumped whenever a metric's readable data may change, so cached results are invalidated.
    data_versions: sharedmetrics_cache::DataVersions,
}

fn db_error(context: &'static str) -> impl FnOnce(sea_orm::DbErr) -> ServiceError {
    move |error| ServiceError::internal(context, error)
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
            reference: ReferenceCache::new(definitions.clone()),
            db,
            definitions,
            ingest_lock: Mutex::new(()),
            data_versions,
        }
    }

    /// Announces that a committed receipt changed its metric's data.
    async fn announce(&self, receipt: &SubmissionReceipt) {
        if receipt.committed && !receipt.idempotent_replay {
            self.data_versions.bump(&receipt.metric_code).await;
        }
    }

    /// Returns the metric version a request names (0: the current one), as the principal sees it.
    async fn metric_version(&self, principal: &Principal, code: &str, version: u32) -> ServiceResult<MetricVersion> {
        if code.is_empty() {
            return Err(ServiceError::invalid_field("metric_code", "REQUIRED", "metric_code is required"));
        }
        let metric =
            self.definitions.get_metric(principal, GetMetricRequest { code: code.to_owned(), version }).await?;
        metric.metric.and_then(|m| m.current).ok_or_else(|| ServiceError::not_found("metric", code))
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

fn state(row: &submission::Model, now: i64) -> PublicationState {
    match row.state.as_str() {
        "retracted" => PublicationState::Retracted,
        "published" if row.visible_from_us.is_some_and(|v| v > now) => PublicationState::Embargoed,
        "published" => PublicationState::Published,
        _ => PublicationState::Draft,
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

/// Parses `dimension:code` filters.
fn parse_codes(codes: &[String], field: &str) -> ServiceResult<Vec<(String, String)>> {
    codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.split_once(':').map(|(d, v)| (d.to_owned(), v.to_owned())).ok_or_else(|| {
                ServiceError::invalid_field(
                    format!("{field}[{i}]"),
                    "INVALID_BREAKDOWN",
                    format!("{c:?} is not dimension:code"),
                )
            })
        })
        .collect()
}

fn breakdown_message(key: &str) -> Breakdown {
    Breakdown {
        codes: breakdown_pairs(key).into_iter().map(|(dimension, code)| BreakdownCode { dimension, code }).collect(),
    }
}

/// Builds the message of a visible row for a reader, hiding what disclosure control hides.
fn observation(
    metric: &str,
    version: u32,
    visible: &VisibleRow,
    now: i64,
    suppression: Option<SuppressionReason>,
) -> Observation {
    let row = &visible.row;
    let publication = if row.deleted {
        PublicationState::Retracted
    } else {
        match visible.state.as_str() {
            "published" if visible.visible_from_us.is_some_and(|v| v > now) => PublicationState::Embargoed,
            "published" | "retracted" if visible.visible_from_us.is_some() => PublicationState::Published,
            "retracted" => PublicationState::Retracted,
            _ => PublicationState::Draft,
        }
    };
    let hidden = row.deleted || suppression.is_some();
    Observation {
        metric_code: metric.to_owned(),
        metric_version: version,
        area_code: row.area_code.clone(),
        period_code: row.period_code.clone(),
        breakdown: Some(breakdown_message(&row.breakdown_key)),
        numerator: if hidden { None } else { row.numerator },
        denominator: if row.deleted { None } else { row.denominator },
        value: if hidden { None } else { row.value },
        lower_ci_95: if hidden { None } else { row.lower_ci_95 },
        upper_ci_95: if hidden { None } else { row.upper_ci_95 },
        observation_status: if suppression.is_some() {
            ObservationStatus::Suppressed as i32
        } else {
            ObservationStatus::from_label(&row.observation_status).unwrap_or(ObservationStatus::Normal) as i32
        },
        confidentiality_status: ConfidentialityStatus::from_label(&row.confidentiality_status)
            .unwrap_or(ConfidentialityStatus::Free) as i32,
        note: row.note.clone(),
        submission_id: row.submission_id.clone(),
        submitter: String::new(),
        organisation_code: row.organisation_code.clone(),
        source_system: String::new(),
        valid_from: Some(timestamp(row.valid_from_us)),
        valid_to: row.valid_to_us.map(timestamp),
        publication_state: publication as i32,
        published_at: visible.visible_from_us.map(timestamp),
        suppressed: suppression.is_some(),
        suppression_reason: suppression.map_or(0, |s| s as i32),
    }
}

/// Returns the suppression each row gets for `principal`: disclosure control over the cells of
/// each (area, period), computed on everything visible before any filter, applied to rows from
/// other organisations. Confidential rows are hidden from other organisations outright.
fn suppressions(rows: &[VisibleRow], principal: &Principal, threshold: u32) -> Vec<Option<SuppressionReason>> {
    let mut groups: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, v) in rows.iter().enumerate() {
        if !v.row.deleted {
            groups.entry((v.row.area_code.as_str(), v.row.period_code.as_str())).or_default().push(i);
        }
    }
    let mut out = vec![None; rows.len()];
    for members in groups.values() {
        let cells: Vec<Cell> = members
            .iter()
            .map(|&i| Cell { breakdown_key: rows[i].row.breakdown_key.clone(), numerator: rows[i].row.numerator })
            .collect();
        for (&i, suppression) in members.iter().zip(disclosure::suppress(&cells, threshold)) {
            if principal.belongs_to(&rows[i].row.organisation_code) {
                continue;
            }
            out[i] = match suppression {
                Some(Suppression::SmallCount) => Some(SuppressionReason::SmallCount),
                Some(Suppression::Secondary) => Some(SuppressionReason::Secondary),
                None if rows[i].row.confidentiality_status != "free" => Some(SuppressionReason::Confidential),
                None => None,
            };
        }
    }
    out
}

/// The filters of a QueryObservations request applied after disclosure control (which sees every
/// visible cell of an area and period, so filtering cannot reveal a suppressed cell).
struct Selection {
    changed_since: Option<i64>,
    area_type: Option<(Arc<crate::reference::Reference>, AreaType)>,
    codes: Vec<(String, String)>,
    /// Sorted.
    dimensions: Vec<String>,
    include_totals: bool,
}

impl Selection {
    /// Returns whether the request asks for this row.
    fn keeps(&self, visible: &VisibleRow) -> bool {
        let row = &visible.row;
        let current = match self.changed_since {
            Some(since) => row.valid_from_us > since,
            None => !row.deleted,
        };
        if !current {
            return false;
        }
        if let Some((reference, area_type)) = &self.area_type
            && reference.areas.get(&row.area_code).is_none_or(|a| a.area_type != *area_type)
        {
            return false;
        }
        let pairs = breakdown_pairs(&row.breakdown_key);
        if pairs.is_empty() {
            return (self.codes.is_empty() && self.dimensions.is_empty()) || self.include_totals;
        }
        let mut dims: Vec<&str> = pairs.iter().map(|(d, _)| d.as_str()).collect();
        dims.sort_unstable();
        (self.dimensions.is_empty() || dims == self.dimensions) && self.codes.iter().all(|c| pairs.contains(c))
    }
}

/// Sends a query's observations in messages of [`BATCH`], keeping to the page the request asked
/// for; the last message carries the next page's token.
struct Pager {
    offset: usize,
    page_size: Option<usize>,
    /// Rows that passed the selection so far, including those before `offset`.
    matched: usize,
    batch: Vec<Observation>,
    data_version: Option<prost_types::Timestamp>,
    sender: tokio::sync::mpsc::Sender<ServiceResult<QueryObservationsResponse>>,
}

/// Whether the pager wants more rows.
enum Next {
    More,
    /// The page is full and another row exists, or the reader has gone.
    Stop,
}

impl Pager {
    /// Takes the next selected row.
    async fn push(&mut self, observation: impl FnOnce() -> Observation) -> Next {
        self.matched += 1;
        if self.matched <= self.offset {
            return Next::More;
        }
        if let Some(size) = self.page_size
            && self.matched > self.offset + size
        {
            // One row past the page: the page is complete and has a successor.
            return Next::Stop;
        }
        if self.batch.len() == BATCH && !self.flush(String::new()).await {
            return Next::Stop;
        }
        self.batch.push(observation());
        Next::More
    }

    /// Sends the rows held, with `next_page_token`; false when the reader has gone.
    async fn flush(&mut self, next_page_token: String) -> bool {
        let message = QueryObservationsResponse {
            observations: std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH)),
            data_version: self.data_version,
            next_page_token,
        };
        self.sender.send(Ok(message)).await.is_ok()
    }

    /// Sends the last message (possibly empty, so every answer has one carrying the token).
    async fn finish(mut self) {
        let next = match self.page_size {
            Some(size) if self.matched > self.offset + size => (self.offset + size).to_string(),
            _ => String::new(),
        };
        self.flush(next).await;
    }
}

/// Who asked a query and what it reads: what turns a stored row into the reader's message.
struct Answer {
    principal: Principal,
    metric: String,
    version: u32,
    threshold: u32,
    now: i64,
}

impl Answer {
    /// Reads `rows` (ordered so each area and period is adjacent), applies disclosure control
    /// to each (area, period) group as it completes, and sends the selected rows through
    /// `pager`. A database error mid-way is sent as the stream's last item.
    async fn send(
        &self,
        rows: impl futures::Stream<Item = Result<VisibleRow, sea_orm::DbErr>>,
        selection: &Selection,
        mut pager: Pager,
    ) {
        let mut rows = std::pin::pin!(rows);
        let mut group: Vec<VisibleRow> = Vec::new();
        loop {
            let row = match rows.next().await {
                Some(Ok(row)) => row,
                Some(Err(error)) => {
                    let _ = pager.sender.send(Err(db_error("reading observations")(error))).await;
                    return;
                }
                None => break,
            };
            let same_cell = group
                .first()
                .is_none_or(|g| g.row.area_code == row.row.area_code && g.row.period_code == row.row.period_code);
            if !same_cell {
                if let Next::Stop = self.emit(&group, selection, &mut pager).await {
                    return pager.finish().await;
                }
                group.clear();
            }
            group.push(row);
        }
        self.emit(&group, selection, &mut pager).await;
        pager.finish().await
    }

    /// Applies disclosure control to one (area, period) group and passes its selected rows on.
    async fn emit(&self, group: &[VisibleRow], selection: &Selection, pager: &mut Pager) -> Next {
        let suppression = suppressions(group, &self.principal, self.threshold);
        for (visible, suppressed) in group.iter().zip(suppression) {
            if selection.keeps(visible)
                && let Next::Stop =
                    pager.push(|| observation(&self.metric, self.version, visible, self.now, suppressed)).await
            {
                return Next::Stop;
            }
        }
        Next::More
    }
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
        let limit = if request.page_size == 0 { 100 } else { request.page_size.min(1000) } as usize;
        let offset: usize = if request.page_token.is_empty() {
            0
        } else {
            request.page_token.parse().map_err(|_| {
                ServiceError::invalid_field(
                    "page_token",
                    "INVALID_PAGE_TOKEN",
                    "page token was not issued by this service",
                )
            })?
        };
        let next_page_token =
            if offset + limit < filtered.len() { (offset + limit).to_string() } else { String::new() };
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
        let version = self.metric_version(principal, &request.metric_code, request.metric_version).await?;
        let spec = version.spec.clone().ok_or_else(|| ServiceError::internal("reading a metric", "no spec"))?;
        let period_bound = |code: &str, field: &str| -> ServiceResult<Option<String>> {
            if code.is_empty() {
                return Ok(None);
            }
            Period::parse(code)
                .map(|p| Some(p.start_date().to_string()))
                .map_err(|e| ServiceError::invalid_field(field, "INVALID_PERIOD", e.to_string()))
        };
        let now = now_us();
        // A future `as_of` means now: what is hidden now (an embargo, a draft) stays hidden
        // whatever time the caller names, and the answer's data version says so.
        let as_of = request.as_of.as_ref().map_or(now, micros).min(now);
        let viewer = if request.published_only {
            Viewer { insider: false, organisation: String::new() }
        } else {
            Viewer { insider: Self::insider(principal, &version), organisation: principal.organisation.clone() }
        };
        let read = Read {
            metric: spec.code.clone(),
            version: version.version as i32,
            as_of_us: as_of,
            now_us: now,
            viewer,
            areas: (!request.area_codes.is_empty()).then(|| request.area_codes.clone()),
            period_start_from: period_bound(&request.period_from, "period_from")?,
            period_start_to: period_bound(&request.period_to, "period_to")?,
        };
        let area_type = AreaType::try_from(request.area_type).unwrap_or(AreaType::Unspecified);
        let reference =
            if area_type == AreaType::Unspecified { None } else { Some(self.reference.get(principal).await?) };
        let mut dimensions = request.breakdown_dimensions.clone();
        dimensions.sort();
        let selection = Selection {
            changed_since: request.changed_since.as_ref().map(micros),
            area_type: reference.map(|r| (r, area_type)),
            codes: parse_codes(&request.breakdown_codes, "breakdown_codes")?,
            dimensions,
            include_totals: request.include_totals,
        };
        let offset: usize = if request.page_token.is_empty() {
            0
        } else {
            request.page_token.parse().map_err(|_| {
                ServiceError::invalid_field(
                    "page_token",
                    "INVALID_PAGE_TOKEN",
                    "page token was not issued by this service",
                )
            })?
        };
        let (sender, receiver) = tokio::sync::mpsc::channel(2);
        let pager = Pager {
            offset,
            page_size: (request.page_size > 0).then_some(request.page_size as usize),
            matched: 0,
            batch: Vec::with_capacity(BATCH),
            data_version: Some(timestamp(as_of)),
            sender,
        };
        let answer = Answer {
            principal: principal.clone(),
            metric: spec.code.clone(),
            version: version.version,
            threshold: version.effective_disclosure_threshold,
            now,
        };
        // The rows are read, grouped, suppressed and sent as the database yields them, through a
        // channel of two messages: memory stays bounded by the largest (area, period) group
        // whatever the query's size, and a reader that stops (or disconnects) stops the read.
        let db = self.db.clone();
        tokio::spawn(
            async move {
                let rows = store::latest_visible_stream(&db, &read);
                answer.send(rows, &selection, pager).await;
            }
            .instrument(tracing::Span::current()),
        );
        Ok(tokio_stream::wrappers::ReceiverStream::new(receiver).boxed())
    }

    async fn get_observation_history(
        &self,
        principal: &Principal,
        request: GetObservationHistoryRequest,
    ) -> ServiceResult<GetObservationHistoryResponse> {
        let version = self.metric_version(principal, &request.metric_code, request.metric_version).await?;
        let pairs = parse_codes(&request.breakdown_codes, "breakdown_codes")?;
        let breakdown =
            Breakdown { codes: pairs.into_iter().map(|(dimension, code)| BreakdownCode { dimension, code }).collect() };
        let key = crate::validate::breakdown_key(Some(&breakdown))
            .map_err(|(field, reason, message)| ServiceError::invalid_field(field, reason, message))?;
        let period = Period::parse(&request.period_code)
            .map_err(|e| ServiceError::invalid_field("period_code", "INVALID_PERIOD", e.to_string()))?;
        let now = now_us();
        let insider = Self::insider(principal, &version);
        let versions = store::history(
            &self.db,
            &request.metric_code,
            version.version as i32,
            &request.area_code,
            &period.to_string(),
            &key,
        )
        .await
        .map_err(db_error("reading observation history"))?;
        let mut visible: Vec<VisibleRow> = versions
            .into_iter()
            .filter(|v| {
                insider
                    || principal.belongs_to(&v.row.organisation_code)
                    || v.visible_from_us.is_some_and(|at| at <= now)
            })
            .collect();
        // Each version an outsider sees ends where the next one it sees begins: the stored end
        // of a published row may be a hidden revision's start, which it must not learn of.
        if !insider {
            let starts: Vec<i64> = visible.iter().skip(1).map(|v| v.row.valid_from_us).collect();
            for (i, v) in visible.iter_mut().enumerate() {
                v.row.valid_to_us = starts.get(i).copied();
            }
        }
        // A cell hidden today by secondary suppression stays hidden in its history too, so the
        // history cannot undo disclosure control: check the cell against its current siblings.
        let siblings = store::latest_visible(
            &self.db,
            &Read {
                metric: request.metric_code.clone(),
                version: version.version as i32,
                as_of_us: now,
                now_us: now,
                viewer: Viewer { insider, organisation: principal.organisation.clone() },
                areas: Some(vec![request.area_code.clone()]),
                period_start_from: Some(period.start_date().to_string()),
                period_start_to: Some(period.start_date().to_string()),
            },
        )
        .await
        .map_err(db_error("reading observations"))?;
        let current = suppressions(&siblings, principal, version.effective_disclosure_threshold);
        let hidden_now = siblings
            .iter()
            .zip(&current)
            .find(|(v, _)| v.row.breakdown_key == key && v.row.period_code == period.to_string())
            .and_then(|(_, s)| *s);
        let threshold = version.effective_disclosure_threshold;
        let versions = visible
            .iter()
            .map(|v| {
                let outside = !principal.belongs_to(&v.row.organisation_code);
                let small = v.row.numerator.is_some_and(|n| threshold > 0 && n >= 1.0 && n <= f64::from(threshold));
                let suppression = if !outside {
                    None
                } else if small {
                    Some(SuppressionReason::SmallCount)
                } else {
                    hidden_now
                };
                let mut message = observation(&request.metric_code, version.version, v, now, suppression);
                message.submitter = String::new();
                message
            })
            .collect();
        Ok(GetObservationHistoryResponse { versions })
    }

    async fn publish_submission(
        &self,
        principal: &Principal,
        request: PublishSubmissionRequest,
    ) -> ServiceResult<PublishSubmissionResponse> {
        let (mut row, version) = self.load_submission(principal, &request.submission_id).await?;
        Self::check_manage(principal, &row, &version, "publishing a submission")?;
        if row.state != "draft" {
            return Err(ServiceError::failed_precondition(format!(
                "submission {} is {}; only a draft can be published",
                row.id, row.state
            )));
        }
        let now = now_us();
        let embargo = request.embargo_until.as_ref().map(micros);
        row.state = "published".into();
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
        if row.state == "retracted" {
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
                row: ValidRow {
                    area_code: r.area_code.clone(),
                    period_code: r.period_code.clone(),
                    period_start: r.period_start.clone(),
                    breakdown_key: r.breakdown_key.clone(),
                    numerator: None,
                    denominator: None,
                    value: None,
                    lower_ci_95: None,
                    upper_ci_95: None,
                    observation_status: "missing".into(),
                    confidentiality_status: "free".into(),
                    note: request.reason.clone(),
                },
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
        row.state = "retracted".into();
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
