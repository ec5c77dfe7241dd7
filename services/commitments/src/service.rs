//! [`CommitmentsService`]: the commitments API implemented on the database, with validation, the
//! access policy and the status rule applied to every call. The operations live in one file per
//! resource (`charters`, `commitments`, `reports`); this file holds what they share.

mod charters;
mod commitments;
mod reports;

use sharedmetrics_db::db_error;
use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use sea_orm::{DatabaseConnection, DbErr};
use sharedmetrics_access::Principal;
use sharedmetrics_definitions::DefinitionsApi;
use sharedmetrics_error::{ErrorCode, FieldViolation, ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, PeriodType, Polarity, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{Area, GetAreaRequest, GetOrganisationRequest};

use crate::ObservationSource;
use crate::convert;
use crate::entity::{charter, charter_member, charter_template, commitment, progress};
use crate::rule::{self, Plan};
use crate::store;
use crate::validate::{self, MetricFacts};

/// Most areas a definition of local may list (each is checked with the definitions service).
const MAX_LOCAL_AREAS: usize = 2_000;
/// Area look-ups in flight at once while checking a definition of local.
const LOOKUP_CONCURRENCY: usize = 16;

/// The commitments service on a database, checking metrics, areas and organisations with the
/// definitions service and taking metric-sourced progress from an observation source, if any.
#[derive(Clone)]
pub struct CommitmentsService {
    db: DatabaseConnection,
    definitions: Arc<dyn DefinitionsApi>,
    observations: Option<Arc<dyn ObservationSource>>,
}

impl CommitmentsService {
    /// Returns the service on `db` (migrated), checking references with `definitions` and
    /// deriving progress from `observations` (none until the submissions service exists).
    pub fn new(
        db: DatabaseConnection,
        definitions: Arc<dyn DefinitionsApi>,
        observations: Option<Arc<dyn ObservationSource>>,
    ) -> Self {
        Self { db, definitions, observations }
    }
}

/// Maps a unique-key violation (a concurrent write) to ALREADY_EXISTS, anything else as any
/// database failure ([`db_error`]).
fn conflict_or_internal(error: DbErr, kind: &str, key: &str) -> ServiceError {
    match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => ServiceError::already_exists(kind, key),
        _ => db_error("writing commitments")(error),
    }
}

/// A charter with its members and templates, loaded once per call.
#[derive(Debug, Clone)]
struct LoadedCharter {
    row: charter::Model,
    members: Vec<charter_member::Model>,
    templates: Vec<charter_template::Model>,
}

impl LoadedCharter {
    fn message(&self) -> Charter {
        convert::charter(&self.row, &self.members, &self.templates)
    }
}

/// A stored commitment as the status rule reads it.
struct Tracked {
    plan: Plan,
    measure: Measure,
    reporting_period_type: PeriodType,
}

/// Returns what the status rule needs from a stored commitment (validated when it was created).
fn tracked(row: &commitment::Model) -> ServiceResult<Tracked> {
    let corrupt = |what: &str| ServiceError::internal("reading a commitment", format!("{} has a bad {what}", row.id));
    let plan = Plan {
        baseline_value: row.baseline_value,
        baseline_period: Period::parse(&row.baseline_period).map_err(|_| corrupt("baseline period"))?,
        target_value: row.target_value,
        target_date: validate::date(&row.target_date).ok_or_else(|| corrupt("target date"))?,
        shape: TrajectoryShape::from_label(&row.trajectory_shape).unwrap_or(TrajectoryShape::Linear),
        points: convert::points(row)
            .into_iter()
            .map(|p| Period::parse(&p.period_code).map(|period| (period, p.value)))
            .collect::<Result<_, _>>()
            .map_err(|_| corrupt("trajectory point"))?,
        tolerance: row.tolerance,
        high_is_good: Polarity::from_label(&row.polarity) != Some(Polarity::LowIsGood),
    };
    Ok(Tracked {
        plan,
        measure: Measure::from_label(&row.measure).ok_or_else(|| corrupt("measure"))?,
        reporting_period_type: PeriodType::from_label(&row.reporting_period_type)
            .ok_or_else(|| corrupt("reporting period type"))?,
    })
}

/// Returns a commitment's figures with their periods, latest period first.
fn by_period_desc(rows: Vec<progress::Model>) -> Vec<(Period, progress::Model)> {
    let mut rows: Vec<(Period, progress::Model)> =
        rows.into_iter().filter_map(|row| Period::parse(&row.period_code).ok().map(|p| (p, row))).collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    rows
}

/// Returns the status of a commitment from its latest figure whose period ends by `as_of` (any
/// figure when none), by the rule of `docs/commitments.md`; NO_DATA when there is none.
fn assess(
    row: &commitment::Model,
    figures: &[progress::Model],
    as_of: Option<&Period>,
) -> ServiceResult<StatusAssessment> {
    let tracked = tracked(row)?;
    let latest = by_period_desc(figures.to_vec())
        .into_iter()
        .find(|(period, _)| as_of.is_none_or(|as_of| period.end_date() <= as_of.end_date()));
    let Some((period, figure)) = latest else {
        return Ok(StatusAssessment {
            status: CommitmentStatus::NoData as i32,
            explanation: "no progress reported yet".to_owned(),
            tolerance: Some(tracked.plan.tolerance()),
            ..Default::default()
        });
    };
    let assessment = tracked.plan.assess(&period, figure.value);
    Ok(StatusAssessment {
        status: assessment.status as i32,
        period_code: period.to_string(),
        actual_value: Some(figure.value),
        expected_value: Some(assessment.expected),
        explanation: rule::explain(&tracked.plan, &period, figure.value, &assessment, &row.unit),
        tolerance: Some(assessment.tolerance),
    })
}

/// Returns the message of a commitment with the status its figures give.
fn commitment_message(row: &commitment::Model, figures: &[progress::Model]) -> ServiceResult<Commitment> {
    Ok(convert::commitment(row, assess(row, figures, None)?))
}

/// Returns the message of a figure with what the trajectory expects of it.
fn progress_message(row: &commitment::Model, figure: &progress::Model) -> ServiceResult<Progress> {
    let tracked = tracked(row)?;
    let period = Period::parse(&figure.period_code)
        .map_err(|e| ServiceError::internal("reading progress", format!("{}: {e}", figure.id)))?;
    let assessment = tracked.plan.assess(&period, figure.value);
    Ok(convert::progress(figure, assessment.expected, assessment.status))
}

/// The area types each kind of definition of local may name.
fn local_area_types(field: &str) -> &'static [AreaType] {
    if field.ends_with(".boundary_code") {
        &[AreaType::Icb, AreaType::LocalAuthorityDistrict, AreaType::UpperTierLocalAuthority]
    } else if field.ends_with(".radius.area_code") {
        &[AreaType::Lsoa, AreaType::Ward, AreaType::LocalAuthorityDistrict]
    } else {
        &[
            AreaType::Lsoa,
            AreaType::Ward,
            AreaType::LocalAuthorityDistrict,
            AreaType::UpperTierLocalAuthority,
            AreaType::Icb,
        ]
    }
}

impl CommitmentsService {
    /// Loads charters with their members and templates.
    async fn load_charters(&self, rows: Vec<charter::Model>) -> ServiceResult<Vec<LoadedCharter>> {
        let codes: Vec<String> = rows.iter().map(|c| c.code.clone()).collect();
        let mut members: HashMap<String, Vec<charter_member::Model>> = HashMap::new();
        for m in store::members_of(&self.db, &codes).await.map_err(db_error("reading charter members"))? {
            members.entry(m.charter_code.clone()).or_default().push(m);
        }
        let mut templates: HashMap<String, Vec<charter_template::Model>> = HashMap::new();
        for t in store::templates_of(&self.db, &codes).await.map_err(db_error("reading charter templates"))? {
            templates.entry(t.charter_code.clone()).or_default().push(t);
        }
        Ok(rows
            .into_iter()
            .map(|row| LoadedCharter {
                members: members.remove(&row.code).unwrap_or_default(),
                templates: templates.remove(&row.code).unwrap_or_default(),
                row,
            })
            .collect())
    }

    /// Returns a charter the principal may read, or none (whether missing or hidden, so a
    /// members-only charter's existence does not leak).
    async fn readable_charter(&self, principal: &Principal, code: &str) -> ServiceResult<Option<LoadedCharter>> {
        let Some(row) = store::get_charter(&self.db, code).await.map_err(db_error("reading a charter"))? else {
            return Ok(None);
        };
        let loaded = self.load_charters(vec![row]).await?.pop().expect("one charter in, one out");
        Ok(crate::access::may_read_charter(principal, &loaded.row, &loaded.members).then_some(loaded))
    }

    /// Returns whether the principal may read a commitment, given the charters already loaded.
    fn may_read_commitment(
        principal: &Principal,
        row: &commitment::Model,
        charters: &HashMap<String, LoadedCharter>,
    ) -> bool {
        match &row.charter_code {
            Some(code) => {
                charters.get(code).is_some_and(|c| crate::access::may_read_charter(principal, &c.row, &c.members))
            }
            None => sharedmetrics_access::policy::read_commitment(principal, &row.organisation_code, None).allowed,
        }
    }

    /// Loads the charters the given commitments are made under, by code.
    async fn charters_of(&self, rows: &[commitment::Model]) -> ServiceResult<HashMap<String, LoadedCharter>> {
        let mut codes: Vec<String> = rows.iter().filter_map(|r| r.charter_code.clone()).collect();
        codes.sort();
        codes.dedup();
        let mut charters = Vec::new();
        for code in codes {
            if let Some(row) = store::get_charter(&self.db, &code).await.map_err(db_error("reading a charter"))? {
                charters.push(row);
            }
        }
        Ok(self.load_charters(charters).await?.into_iter().map(|c| (c.row.code.clone(), c)).collect())
    }

    /// Returns a commitment the principal may read, or NOT_FOUND.
    async fn readable_commitment(&self, principal: &Principal, id: &str) -> ServiceResult<commitment::Model> {
        let not_found = || ServiceError::not_found("commitment", id);
        let row = store::get_commitment(&self.db, id)
            .await
            .map_err(db_error("reading a commitment"))?
            .ok_or_else(not_found)?;
        let charters = self.charters_of(std::slice::from_ref(&row)).await?;
        if !Self::may_read_commitment(principal, &row, &charters) {
            return Err(not_found());
        }
        Ok(row)
    }

    /// Returns the current figures of the given commitments, by commitment id.
    async fn figures_of(&self, ids: &[String]) -> ServiceResult<HashMap<String, Vec<progress::Model>>> {
        let mut figures: HashMap<String, Vec<progress::Model>> = HashMap::new();
        for row in store::current_progress(&self.db, ids).await.map_err(db_error("reading progress"))? {
            figures.entry(row.commitment_id.clone()).or_default().push(row);
        }
        Ok(figures)
    }

    /// Returns what the definitions service says about a metric the principal may read, or none
    /// when it does not exist for the principal.
    async fn metric_facts(&self, principal: &Principal, code: &str) -> ServiceResult<Option<MetricFacts>> {
        if code.is_empty() {
            return Ok(None);
        }
        let metric =
            match sharedmetrics_definitions::directory::metric(self.definitions.as_ref(), principal, code, 0).await {
                Ok(metric) => metric,
                Err(error) if error.code == ErrorCode::NotFound => return Ok(None),
                Err(error) => return Err(error),
            };
        let spec = metric.current.and_then(|v| v.spec).unwrap_or_default();
        Ok(Some(MetricFacts {
            value_type: ValueType::try_from(spec.value_type).unwrap_or(ValueType::Unspecified),
            polarity: Polarity::try_from(spec.polarity).unwrap_or(Polarity::Unspecified),
            period_type: PeriodType::try_from(spec.period_type).unwrap_or(PeriodType::Unspecified),
            deprecated: metric.deprecated,
        }))
    }

    /// Returns an area from the definitions service, or none when it does not exist.
    async fn area(&self, principal: &Principal, code: &str) -> ServiceResult<Option<Area>> {
        match self.definitions.get_area(principal, GetAreaRequest { code: code.to_owned() }).await {
            Ok(response) => Ok(response.area),
            Err(error) if error.code == ErrorCode::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Returns whether the definitions service knows an organisation.
    async fn organisation_exists(&self, principal: &Principal, code: &str) -> ServiceResult<bool> {
        match self.definitions.get_organisation(principal, GetOrganisationRequest { code: code.to_owned() }).await {
            Ok(response) => Ok(response.organisation.is_some()),
            Err(error) if error.code == ErrorCode::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Checks that every area a definition of local names exists and is of a type that kind of
    /// definition allows, adding a violation for each that does not.
    async fn check_local_areas(
        &self,
        principal: &Principal,
        local: &LocalDefinition,
        prefix: &str,
        violations: &mut Vec<FieldViolation>,
    ) -> ServiceResult<()> {
        let codes = validate::local_area_codes(local, prefix);
        if codes.len() > MAX_LOCAL_AREAS {
            violations.push(FieldViolation::new(
                format!("{prefix}.areas.area_codes"),
                "TOO_MANY",
                format!("a list of areas names at most {MAX_LOCAL_AREAS}; use a boundary or a radius"),
            ));
            return Ok(());
        }
        let found: Vec<(String, String, ServiceResult<Option<Area>>)> = futures::stream::iter(codes)
            .map(|(field, code)| async move {
                let area = self.area(principal, &code).await;
                (field, code, area)
            })
            .buffered(LOOKUP_CONCURRENCY)
            .collect()
            .await;
        for (field, code, area) in found {
            if code.trim().is_empty() {
                continue; // Already reported as REQUIRED by the shape check.
            }
            match area? {
                None => violations.push(FieldViolation::new(
                    &field,
                    "UNKNOWN_AREA",
                    format!("area {code:?} does not exist"),
                )),
                Some(area) => {
                    let area_type = AreaType::try_from(area.r#type).unwrap_or(AreaType::Unspecified);
                    let allowed = local_area_types(&field);
                    if !allowed.contains(&area_type) {
                        violations.push(FieldViolation::new(
                            &field,
                            "WRONG_AREA_TYPE",
                            format!(
                                "{code} is a {}; here an area is a {}",
                                area_type.label(),
                                allowed.iter().map(|t| t.label()).collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::CommitmentsApi for CommitmentsService {
    async fn create_charter(
        &self,
        principal: &Principal,
        request: CreateCharterRequest,
    ) -> ServiceResult<CreateCharterResponse> {
        self.create_charter_impl(principal, request).await
    }

    async fn list_charters(
        &self,
        principal: &Principal,
        request: ListChartersRequest,
    ) -> ServiceResult<ListChartersResponse> {
        self.list_charters_impl(principal, request).await
    }

    async fn add_charter_member(
        &self,
        principal: &Principal,
        request: AddCharterMemberRequest,
    ) -> ServiceResult<AddCharterMemberResponse> {
        self.add_charter_member_impl(principal, request).await
    }

    async fn create_commitment(
        &self,
        principal: &Principal,
        request: CreateCommitmentRequest,
    ) -> ServiceResult<CreateCommitmentResponse> {
        self.create_commitment_impl(principal, request).await
    }

    async fn get_commitment(
        &self,
        principal: &Principal,
        request: GetCommitmentRequest,
    ) -> ServiceResult<GetCommitmentResponse> {
        let row = self.readable_commitment(principal, &request.commitment_id).await?;
        let figures = self.figures_of(std::slice::from_ref(&row.id)).await?;
        let commitment = commitment_message(&row, figures.get(&row.id).map_or(&[][..], Vec::as_slice))?;
        Ok(GetCommitmentResponse { commitment: Some(commitment) })
    }

    async fn list_commitments(
        &self,
        principal: &Principal,
        request: ListCommitmentsRequest,
    ) -> ServiceResult<ListCommitmentsResponse> {
        self.list_commitments_impl(principal, request).await
    }

    async fn report_progress(
        &self,
        principal: &Principal,
        request: ReportProgressRequest,
    ) -> ServiceResult<ReportProgressResponse> {
        self.report_progress_impl(principal, request).await
    }

    async fn list_progress(
        &self,
        principal: &Principal,
        request: ListProgressRequest,
    ) -> ServiceResult<ListProgressResponse> {
        self.list_progress_impl(principal, request).await
    }

    async fn get_charter_summary(
        &self,
        principal: &Principal,
        request: GetCharterSummaryRequest,
    ) -> ServiceResult<GetCharterSummaryResponse> {
        self.get_charter_summary_impl(principal, request).await
    }
}
