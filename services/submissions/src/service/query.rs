//! Reading observations: the latest versions a principal may see (as of a time, filtered and
//! paged), streamed as the database yields them with disclosure control applied per
//! (area, period), and one key's history.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use sharedmetrics_access::Principal;
use sharedmetrics_db::db_error;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, Breakdown, BreakdownCode};
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;
use tracing::Instrument;

use super::{SubmissionsService, micros};
use crate::ResultStream;
use crate::disclosure::{self, Cell, Suppression};
use crate::ingest::{now_us, timestamp};
use crate::store::{self, Read, Viewer, VisibleRow};
use crate::validate::breakdown_pairs;

/// Observations per message of a QueryObservations stream.
const BATCH: usize = 500;

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
        // A retracted submission's rows were published until their retraction records.
        match crate::entity::submission::stored_state(&visible.state) {
            PublicationState::Published if visible.visible_from_us.is_some_and(|v| v > now) => {
                PublicationState::Embargoed
            }
            PublicationState::Published | PublicationState::Retracted if visible.visible_from_us.is_some() => {
                PublicationState::Published
            }
            stored => stored,
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
/// other organisations. Confidential rows are hidden from other organisations outright. A
/// platform service (benchmarking building aggregates, which applies its own control to what it
/// publishes) gets the small and secondary counts, never confidential rows.
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
            out[i] = match suppression.filter(|_| !principal.is_service()) {
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
            && reference.area(&row.area_code).is_none_or(|found| !found.is(*area_type))
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

impl SubmissionsService {
    /// Reads the latest visible versions, streamed in pages with disclosure control per (area, period).
    pub(super) async fn query(
        &self,
        principal: &Principal,
        request: QueryObservationsRequest,
    ) -> ServiceResult<ResultStream<QueryObservationsResponse>> {
        let version = self.readable_version(principal, &request.metric_code, request.metric_version).await?;
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
        let offset = sharedmetrics_grpc::paging::page_offset(&request.page_token)?;
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

    /// Returns every version of one key the principal may see, with today's disclosure control.
    pub(super) async fn history(
        &self,
        principal: &Principal,
        request: GetObservationHistoryRequest,
    ) -> ServiceResult<GetObservationHistoryResponse> {
        let version = self.readable_version(principal, &request.metric_code, request.metric_version).await?;
        let pairs = parse_codes(&request.breakdown_codes, "breakdown_codes")?;
        let breakdown =
            Breakdown { codes: pairs.into_iter().map(|(dimension, code)| BreakdownCode { dimension, code }).collect() };
        let key = crate::validate::breakdown_key(Some(&breakdown)).map_err(|(field, reason, message)| {
            ServiceError::invalid_field(field, crate::validate::code_name(reason), message)
        })?;
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
}
