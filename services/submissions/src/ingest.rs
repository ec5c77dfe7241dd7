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

/// What a valid row does to its key, given the key's current stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// A key with no value: new, or last retracted (that retraction record is closed).
    Create { closes: Option<i64> },
    /// New values for a key: its current record is closed.
    Update { closes: i64 },
    /// The values stored already: nothing is written, so a resubmission is not a revision.
    Unchanged,
    /// DELETE of a key with a value: its record is closed and a retraction appended.
    Retract { closes: i64 },
    /// DELETE of a key with no value: the row is rejected (`KEY_NOT_FOUND`).
    NothingToDelete,
}

/// Classifies a valid row against its key's current record (live or a retraction).
fn classify(mode: SubmissionMode, current: Option<&StoredRow>, row: &ValidRow) -> Change {
    let live = current.filter(|r| !r.deleted);
    match (mode, live) {
        (SubmissionMode::Delete, None) => Change::NothingToDelete,
        (SubmissionMode::Delete, Some(old)) => Change::Retract { closes: old.id },
        (_, Some(old)) if old.same_values(row) => Change::Unchanged,
        (_, Some(old)) => Change::Update { closes: old.id },
        (_, None) => Change::Create { closes: current.map(|r| r.id) },
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
            match classify(self.mode, current.get(&row.key()), &row) {
                Change::NothingToDelete => self.rejections.push(validate::reject(
                    index,
                    "",
                    RowRejectionCode::KeyNotFound,
                    format!(
                        "{} {} {:?} has no current value to delete",
                        row.area_code, row.period_code, row.breakdown_key
                    ),
                )),
                Change::Retract { closes: old } => {
                    self.counts.retracted += 1;
                    closes.push(old);
                    inserts.push(self.new_row(row, true));
                }
                Change::Unchanged => self.counts.unchanged += 1,
                Change::Update { closes: old } => {
                    self.counts.updated += 1;
                    closes.push(old);
                    inserts.push(self.new_row(row, false));
                }
                Change::Create { closes: retraction } => {
                    self.counts.created += 1;
                    closes.extend(retraction);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(area: &str, period: &str, breakdown: &str, numerator: f64) -> ValidRow {
        ValidRow {
            area_code: area.into(),
            period_code: period.into(),
            period_start: "2024-04-01".into(),
            breakdown_key: breakdown.into(),
            numerator: Some(numerator),
            denominator: Some(100.0),
            value: Some(numerator / 100.0),
            lower_ci_95: None,
            upper_ci_95: None,
            observation_status: "A".into(),
            confidentiality_status: "F".into(),
            note: String::new(),
        }
    }

    fn stored(id: i64, values: ValidRow, deleted: bool) -> StoredRow {
        StoredRow {
            id,
            values,
            submission_id: "earlier".into(),
            organisation_code: "RBL".into(),
            deleted,
            valid_from_us: 0,
            valid_to_us: None,
        }
    }

    const MERGE: SubmissionMode = SubmissionMode::Merge;
    const REPLACE: SubmissionMode = SubmissionMode::Replace;
    const DELETE: SubmissionMode = SubmissionMode::Delete;

    #[test]
    fn a_key_never_seen_is_created_and_closes_nothing() {
        let new = row("E01007124", "2024/25", "", 40.0);
        assert_eq!(classify(MERGE, None, &new), Change::Create { closes: None });
        assert_eq!(classify(REPLACE, None, &new), Change::Create { closes: None });
    }

    #[test]
    fn the_same_values_again_are_unchanged_and_write_nothing() {
        let new = row("E01007124", "2024/25", "sex=f", 40.0);
        let current = stored(7, new.clone(), false);
        assert_eq!(classify(MERGE, Some(&current), &new), Change::Unchanged);
        assert_eq!(classify(REPLACE, Some(&current), &new), Change::Unchanged);
    }

    #[test]
    fn any_changed_value_or_label_is_an_update_closing_the_current_record() {
        let old = row("E01007124", "2024/25", "", 40.0);
        let current = stored(7, old.clone(), false);
        assert_eq!(
            classify(MERGE, Some(&current), &row("E01007124", "2024/25", "", 41.0)),
            Change::Update { closes: 7 }
        );
        let noted = ValidRow { note: "revised".into(), ..old.clone() };
        assert_eq!(classify(MERGE, Some(&current), &noted), Change::Update { closes: 7 });
        let provisional = ValidRow { observation_status: "P".into(), ..old.clone() };
        assert_eq!(classify(MERGE, Some(&current), &provisional), Change::Update { closes: 7 });
        let limits = ValidRow { lower_ci_95: Some(0.3), ..old };
        assert_eq!(classify(MERGE, Some(&current), &limits), Change::Update { closes: 7 });
    }

    #[test]
    fn a_retracted_key_sent_again_is_created_and_closes_the_retraction() {
        let new = row("E01007124", "2024/25", "", 40.0);
        // The retraction carries the old values; they must not make the row "unchanged".
        let retraction = stored(9, new.clone(), true);
        assert_eq!(classify(MERGE, Some(&retraction), &new), Change::Create { closes: Some(9) });
    }

    #[test]
    fn delete_retracts_a_live_key_and_rejects_one_without_a_value() {
        let key = row("E01007124", "2024/25", "", 40.0);
        let live = stored(7, key.clone(), false);
        assert_eq!(classify(DELETE, Some(&live), &key), Change::Retract { closes: 7 });
        let retraction = stored(9, key.clone(), true);
        assert_eq!(classify(DELETE, Some(&retraction), &key), Change::NothingToDelete);
        assert_eq!(classify(DELETE, None, &key), Change::NothingToDelete);
    }

    #[test]
    fn a_replace_scope_holds_its_periods_areas_and_exact_dimension_sets() {
        let scope = Scope {
            periods: HashSet::from(["2024/25".to_owned()]),
            areas: Some(HashSet::from(["E01007124".to_owned()])),
            dimensions: Some(vec!["imd_decile".to_owned(), "sex".to_owned()]),
        };
        assert!(scope.contains(&row("E01007124", "2024/25", "imd_decile=1;sex=f", 1.0)));
        assert!(!scope.contains(&row("E01007124", "2023/24", "imd_decile=1;sex=f", 1.0)), "another period");
        assert!(!scope.contains(&row("E01007125", "2024/25", "imd_decile=1;sex=f", 1.0)), "another area");
        assert!(!scope.contains(&row("E01007124", "2024/25", "sex=f", 1.0)), "a subset of the dimensions");
        assert!(!scope.contains(&row("E01007124", "2024/25", "", 1.0)), "the total");
        let everywhere = Scope { periods: HashSet::from(["2024/25".to_owned()]), areas: None, dimensions: None };
        assert!(everywhere.contains(&row("E01000001", "2024/25", "", 1.0)));
        assert!(everywhere.contains(&row("E01000001", "2024/25", "sex=m", 1.0)));
    }
}
