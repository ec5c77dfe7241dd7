//! The write path: one submission (a unary batch or a stream of chunks) applied as one
//! transaction. Rows are validated, compared with the current versions of their keys and
//! classified (created, updated, unchanged, retracted, rejected); new versions are appended and
//! superseded ones closed. A dry run, or an atomic submission with a rejected row, rolls back.

use sharedmetrics_db::db_error;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prost::Message;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, TransactionTrait};
use sha2::{Digest, Sha256};
use sharedmetrics_access::Principal;
use sharedmetrics_error::{ErrorCode, ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::PeriodType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;
use sharedmetrics_proto::sharedmetrics::submissions::v1::{
    ObservationRow, PublicationState, RowCounts, RowRejection, RowRejectionCode, SubmissionHeader, SubmissionMode,
    SubmissionReceipt,
};
use sharedmetrics_telemetry::RowOutcome;

use crate::entity::submission;
use crate::reference::Reference;
use crate::store::{self, NewRow, StoredRow};
use crate::validate::{self, RowContext, ValidRow};

type Key = (String, String, String);

/// The REPLACE scope, validated.
struct Scope {
    periods: HashSet<String>,
    areas: Option<HashSet<String>>,
    /// Exact dimension sets in scope; none means every breakdown.
    dimensions: Option<Vec<String>>,
}

impl Scope {
    fn contains(&self, row: &ValidRow) -> bool {
        self.periods.contains(&row.period_code)
            && self.areas.as_ref().is_none_or(|a| a.contains(&row.area_code))
            && self.dimensions.as_ref().is_none_or(|dims| {
                let mut own: Vec<String> =
                    validate::breakdown_pairs(&row.breakdown_key).into_iter().map(|(d, _)| d).collect();
                own.sort();
                &own == dims
            })
    }
}

/// Returns microseconds since the epoch.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Returns a timestamp message for microseconds since the epoch.
pub fn timestamp(us: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: us.div_euclid(1_000_000), nanos: (us.rem_euclid(1_000_000) * 1_000) as i32 }
}

/// One submission being applied.
pub struct Ingest {
    principal: Principal,
    header: SubmissionHeader,
    mode: SubmissionMode,
    spec: MetricVersionSpec,
    version: i32,
    reference: Arc<Reference>,
    txn: DatabaseTransaction,
    id: String,
    now_us: i64,
    seen: HashSet<Key>,
    counts: RowCounts,
    rejections: Vec<RowRejection>,
    next_index: u64,
    received: u64,
    hasher: Sha256,
    scope: Option<Scope>,
    /// The earlier submission with the same idempotency key, if any: rows are then only hashed.
    replay_of: Option<submission::Model>,
}

impl Ingest {
    /// Checks the header and opens the transaction.
    pub async fn begin(
        db: &sea_orm::DatabaseConnection,
        principal: &Principal,
        header: SubmissionHeader,
        spec: MetricVersionSpec,
        version: i32,
        reference: Arc<Reference>,
    ) -> ServiceResult<Self> {
        let mode = SubmissionMode::try_from(header.mode).unwrap_or(SubmissionMode::Unspecified);
        if mode == SubmissionMode::Unspecified {
            return Err(ServiceError::invalid_field(
                "header.mode",
                "REQUIRED",
                "mode must be MERGE, REPLACE or DELETE",
            ));
        }
        let scope = match (&header.replace_scope, mode) {
            (Some(scope), SubmissionMode::Replace) => Some(Self::scope(scope, &spec)?),
            (None, SubmissionMode::Replace) => {
                return Err(ServiceError::invalid_field(
                    "header.replace_scope",
                    "REQUIRED",
                    "REPLACE needs a declared scope",
                ));
            }
            (Some(_), _) => {
                return Err(ServiceError::invalid_field(
                    "header.replace_scope",
                    "NOT_ALLOWED",
                    "only REPLACE takes a scope",
                ));
            }
            (None, _) => None,
        };
        let replay_of = if header.idempotency_key.is_empty() {
            None
        } else {
            store::find_by_idempotency_key(db, &principal.organisation, &header.idempotency_key)
                .await
                .map_err(db_error("reading a submission"))?
        };
        let txn = db.begin().await.map_err(db_error("starting a transaction"))?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // Ingests of one metric are serialised across replicas, so two submissions never
            // both see the same version as current.
            let lock = txn.get_database_backend();
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                lock,
                "SELECT pg_advisory_xact_lock(hashtext($1))",
                vec![spec.code.clone().into()],
            ))
            .await
            .map_err(db_error("locking the metric"))?;
            // A table being loaded has no statistics yet, and a cached generic plan ignores the
            // parameters: either way the planner would scan the metric's rows once per key.
            // Per-execution plans without sequential scans keep the key lookups index-driven.
            txn.execute_unprepared("SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_custom_plan")
                .await
                .map_err(db_error("configuring the ingest"))?;
        }
        let mut hasher = Sha256::new();
        let mut canonical = header.clone();
        canonical.idempotency_key.clear();
        hasher.update(canonical.encode_to_vec());
        Ok(Self {
            principal: principal.clone(),
            header,
            mode,
            spec,
            version,
            reference,
            txn,
            id: uuid::Uuid::new_v4().to_string(),
            now_us: now_us(),
            seen: HashSet::new(),
            counts: RowCounts::default(),
            rejections: Vec::new(),
            next_index: 0,
            received: 0,
            hasher,
            scope,
            replay_of,
        })
    }

    fn scope(
        scope: &sharedmetrics_proto::sharedmetrics::submissions::v1::ReplaceScope,
        spec: &MetricVersionSpec,
    ) -> ServiceResult<Scope> {
        if scope.period_codes.is_empty() {
            return Err(ServiceError::invalid_field(
                "header.replace_scope.period_codes",
                "REQUIRED",
                "a REPLACE scope names its periods",
            ));
        }
        let period_type = PeriodType::try_from(spec.period_type).unwrap_or(PeriodType::Unspecified);
        let mut periods = HashSet::new();
        for (i, code) in scope.period_codes.iter().enumerate() {
            let period = Period::parse_as(code, period_type).map_err(|e| {
                ServiceError::invalid_field(
                    format!("header.replace_scope.period_codes[{i}]"),
                    "INVALID_PERIOD",
                    e.to_string(),
                )
            })?;
            periods.insert(period.to_string());
        }
        if scope.all_breakdowns && !scope.breakdown_dimensions.is_empty() {
            return Err(ServiceError::invalid_field(
                "header.replace_scope.breakdown_dimensions",
                "NOT_ALLOWED",
                "all_breakdowns and breakdown_dimensions exclude each other",
            ));
        }
        let dimensions = (!scope.all_breakdowns).then(|| {
            let mut dims = scope.breakdown_dimensions.clone();
            dims.sort();
            dims
        });
        let areas = (!scope.area_codes.is_empty()).then(|| scope.area_codes.iter().cloned().collect());
        Ok(Scope { periods, areas, dimensions })
    }

    /// Returns the number of rows received so far.
    pub fn rows_received(&self) -> u64 {
        self.received
    }

    /// Validates and applies a chunk of rows.
    pub async fn chunk(&mut self, rows: &[ObservationRow]) -> ServiceResult<()> {
        self.received += rows.len() as u64;
        for row in rows {
            self.hasher.update(row.encode_to_vec());
        }
        if self.replay_of.is_some() {
            return Ok(());
        }
        let organisation = (!self.principal.is_national()).then_some(self.principal.organisation.as_str());
        let context = RowContext { spec: &self.spec, reference: &self.reference, organisation };
        let keys_only = self.mode == SubmissionMode::Delete;
        let mut valid: Vec<(u64, ValidRow)> = Vec::with_capacity(rows.len());
        for row in rows {
            let index = self.next_index;
            self.next_index += 1;
            match validate::row(index, row, &context, keys_only) {
                Err(rejection) => self.rejections.push(rejection),
                Ok(valid_row) => {
                    if let Some(scope) = &self.scope
                        && !scope.contains(&valid_row)
                    {
                        self.rejections.push(validate::reject(
                            index,
                            "",
                            RowRejectionCode::OutOfReplaceScope,
                            format!(
                                "{} {} {:?} is outside the declared REPLACE scope",
                                valid_row.area_code, valid_row.period_code, valid_row.breakdown_key
                            ),
                        ));
                    } else if !self.seen.insert(valid_row.key()) {
                        self.rejections.push(validate::reject(
                            index,
                            "",
                            RowRejectionCode::DuplicateKey,
                            format!(
                                "{} {} {:?} appears earlier in this submission",
                                valid_row.area_code, valid_row.period_code, valid_row.breakdown_key
                            ),
                        ));
                    } else {
                        valid.push((index, valid_row));
                    }
                }
            }
        }
        if valid.is_empty() {
            return Ok(());
        }
        let keys: Vec<Key> = valid.iter().map(|(_, r)| r.key()).collect();
        let current: HashMap<Key, StoredRow> =
            store::current_rows_for_keys(&self.txn, &self.spec.code, self.version, &keys)
                .await
                .map_err(db_error("reading current observations"))?
                .into_iter()
                .map(|r| ((r.area_code.clone(), r.period_code.clone(), r.breakdown_key.clone()), r))
                .collect();
        let mut inserts = Vec::new();
        let mut closes = Vec::new();
        for (index, row) in valid {
            let existing = current.get(&row.key()).filter(|r| !r.deleted);
            match (self.mode, existing) {
                (SubmissionMode::Delete, None) => self.rejections.push(validate::reject(
                    index,
                    "",
                    RowRejectionCode::KeyNotFound,
                    format!(
                        "{} {} {:?} has no current value to delete",
                        row.area_code, row.period_code, row.breakdown_key
                    ),
                )),
                (SubmissionMode::Delete, Some(old)) => {
                    self.counts.retracted += 1;
                    closes.push(old.id);
                    inserts.push(self.new_row(row, true));
                }
                (_, Some(old)) if old.same_values(&row) => self.counts.unchanged += 1,
                (_, Some(old)) => {
                    self.counts.updated += 1;
                    closes.push(old.id);
                    inserts.push(self.new_row(row, false));
                }
                (_, None) => {
                    self.counts.created += 1;
                    if let Some(retraction) = current.get(&row.key()) {
                        closes.push(retraction.id);
                    }
                    inserts.push(self.new_row(row, false));
                }
            }
        }
        store::close_rows(&self.txn, &closes, self.now_us)
            .await
            .map_err(db_error("closing superseded observations"))?;
        store::insert_rows(&self.txn, &self.spec.code, self.version, &inserts)
            .await
            .map_err(db_error("writing observations"))?;
        Ok(())
    }

    fn new_row(&self, row: ValidRow, deleted: bool) -> NewRow {
        NewRow {
            row,
            submission_id: self.id.clone(),
            organisation_code: self.principal.organisation.clone(),
            deleted,
            valid_from_us: self.now_us,
        }
    }

    /// Retracts the REPLACE scope's rows that were not resent, then commits (or rolls back a
    /// dry run or a failed atomic submission) and returns the receipt.
    pub async fn finish(mut self) -> ServiceResult<SubmissionReceipt> {
        let payload_hash = hex::encode(self.hasher.clone().finalize());
        if let Some(original) = &self.replay_of {
            if original.payload_hash != payload_hash {
                return Err(ServiceError::new(
                    ErrorCode::IdempotencyConflict,
                    format!(
                        "idempotency key {:?} was used by submission {} with a different payload",
                        self.header.idempotency_key, original.id
                    ),
                ));
            }
            let mut receipt = SubmissionReceipt::decode(original.receipt.as_slice())
                .map_err(|e| ServiceError::internal("decoding a stored receipt", e))?;
            receipt.idempotent_replay = true;
            return Ok(receipt);
        }
        if let Some(scope) = self.scope.take() {
            self.retract_unsent(&scope).await?;
        }
        self.counts.rejected = self.rejections.len() as u64;
        let committed = !self.header.dry_run && (!self.header.atomic || self.rejections.is_empty());
        let mut receipt = SubmissionReceipt {
            submission_id: if committed { self.id.clone() } else { String::new() },
            state: PublicationState::Draft as i32,
            mode: self.mode as i32,
            metric_code: self.spec.code.clone(),
            metric_version: self.version as u32,
            counts: Some(self.counts),
            rejections: std::mem::take(&mut self.rejections),
            dry_run: self.header.dry_run,
            committed,
            idempotent_replay: false,
            data_version: committed.then(|| timestamp(self.now_us)),
        };
        if !committed {
            self.txn.rollback().await.map_err(db_error("rolling back"))?;
            receipt.state = PublicationState::Unspecified as i32;
            return Ok(receipt);
        }
        let scope_json = serde_json::json!({
            "period_codes": self.header.replace_scope.as_ref().map(|s| s.period_codes.clone()).unwrap_or_default(),
            "area_codes": self.header.replace_scope.as_ref().map(|s| s.area_codes.clone()).unwrap_or_default(),
            "breakdown_dimensions": self.header.replace_scope.as_ref().map(|s| s.breakdown_dimensions.clone()).unwrap_or_default(),
            "all_breakdowns": self.header.replace_scope.as_ref().is_some_and(|s| s.all_breakdowns),
        });
        let row = submission::Model {
            id: self.id.clone(),
            metric_code: self.spec.code.clone(),
            metric_version: self.version,
            mode: self.mode.label(),
            atomic: self.header.atomic,
            idempotency_key: self.header.idempotency_key.clone(),
            payload_hash,
            replace_scope: scope_json.to_string(),
            source_system: self.header.source_system.clone(),
            submitter: self.principal.id.clone(),
            key_id: self.principal.key_id.clone().unwrap_or_default(),
            organisation_code: self.principal.organisation.clone(),
            receipt: receipt.encode_to_vec(),
            state: PublicationState::Draft.label(),
            submitted_at_us: self.now_us,
            visible_from_us: None,
            published_at_us: None,
            published_by: None,
            retracted_at_us: None,
            retracted_by: None,
            retraction_reason: None,
        };
        store::insert_submission(&self.txn, row).await.map_err(|e| match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => ServiceError::new(
                ErrorCode::IdempotencyConflict,
                "a concurrent submission used the same idempotency key; retry to get its receipt",
            ),
            _ => db_error("recording a submission")(e),
        })?;
        self.txn.commit().await.map_err(db_error("committing a submission"))?;
        // Counted only once the rows are durable: a dry run, a rolled-back atomic submission and
        // a replay write nothing, and unchanged rows are not written.
        let telemetry = sharedmetrics_telemetry::PlatformTelemetry::global();
        telemetry.record_ingested_rows(RowOutcome::Created, self.counts.created);
        telemetry.record_ingested_rows(RowOutcome::Updated, self.counts.updated);
        telemetry.record_ingested_rows(RowOutcome::Retracted, self.counts.retracted);
        tracing::info!(
            submission = %self.id, metric = %self.spec.code, organisation = %self.principal.organisation,
            created = self.counts.created, updated = self.counts.updated, unchanged = self.counts.unchanged,
            retracted = self.counts.retracted, rejected = self.counts.rejected, "submission committed"
        );
        Ok(receipt)
    }

    async fn retract_unsent(&mut self, scope: &Scope) -> ServiceResult<()> {
        let periods: Vec<String> = scope.periods.iter().cloned().collect();
        let areas: Option<Vec<String>> = scope.areas.as_ref().map(|a| a.iter().cloned().collect());
        let current = store::current_rows(&self.txn, &self.spec.code, self.version, &periods, areas.as_deref())
            .await
            .map_err(db_error("reading the REPLACE scope"))?;
        let mut closes = Vec::new();
        let mut inserts = Vec::new();
        for old in current {
            let key = (old.area_code.clone(), old.period_code.clone(), old.breakdown_key.clone());
            let may = self.principal.is_national()
                || self.reference.responsible_for(&self.principal.organisation, &old.area_code);
            let as_valid = old.tombstone("");
            if old.deleted || self.seen.contains(&key) || !may || !scope.contains(&as_valid) {
                continue;
            }
            self.counts.retracted += 1;
            closes.push(old.id);
            inserts.push(self.new_row(as_valid, true));
        }
        store::close_rows(&self.txn, &closes, self.now_us).await.map_err(db_error("closing retracted observations"))?;
        store::insert_rows(&self.txn, &self.spec.code, self.version, &inserts)
            .await
            .map_err(db_error("writing retractions"))
    }
}
