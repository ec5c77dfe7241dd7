//! Progress: reporting a period's figure (or taking it from the metric's observations), listing
//! a commitment's figures, and rolling a period up across a charter's members.

use std::collections::BTreeMap;

use sea_orm::TransactionTrait;
use sharedmetrics_access::Principal;
use sharedmetrics_error::{ErrorCode, FieldViolation, ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;

use super::{CommitmentsService, assess, by_period_desc, commitment_message, db_error, progress_message, tracked};
use crate::access;
use crate::convert::{self, StoredReference};
use crate::entity::{commitment, progress};
use crate::import::{self, REAL_LIVING_WAGE};
use crate::store::{self, CommitmentFilter};
use crate::validate;
use sharedmetrics_grpc::paging::Window;
use sharedmetrics_proto::Label;

/// The figures of one period, checked, with where they came from.
struct Figures {
    numerator: Option<f64>,
    denominator: Option<f64>,
    value: f64,
    source: ProgressSource,
    data_version: Option<chrono::DateTime<chrono::Utc>>,
}

/// Returns whether a commitment type's figures are checked against the real Living Wage rates.
fn uses_living_wage(commitment_type: &str) -> bool {
    matches!(
        CommitmentType::from_label(commitment_type),
        Some(CommitmentType::RealLivingWageDirectStaff | CommitmentType::RealLivingWageContractedStaff)
    )
}

impl CommitmentsService {
    /// Returns the figures a metric's observations give for a period.
    async fn observed_figures(
        &self,
        principal: &Principal,
        row: &commitment::Model,
        period: &Period,
        measure: Measure,
    ) -> ServiceResult<Figures> {
        let metric = row.metric_code.as_deref().unwrap_or_default();
        let Some(source) = &self.observations else {
            return Err(ServiceError::failed_precondition(format!(
                "progress from the observations of metric {metric:?} needs the submissions service, which this \
                 deployment does not run yet; report the numerator and denominator instead"
            )));
        };
        let figure = source.figure(principal, metric, &row.organisation_code, period).await?.ok_or_else(|| {
            ServiceError::not_found("observation", &format!("{metric} {} {period}", row.organisation_code))
        })?;
        let value =
            validate::figures(measure, Some(figure.numerator), figure.denominator, None).map_err(|violations| {
                let reasons: Vec<String> = violations.iter().map(|v| v.description.clone()).collect();
                ServiceError::failed_precondition(format!(
                    "the observation of {metric} for {} in {period} cannot measure this commitment: {}",
                    row.organisation_code,
                    reasons.join("; ")
                ))
            })?;
        Ok(Figures {
            numerator: Some(figure.numerator),
            denominator: figure.denominator,
            value,
            source: ProgressSource::MetricObservations,
            data_version: figure.data_version,
        })
    }

    pub(super) async fn report_progress_impl(
        &self,
        principal: &Principal,
        request: ReportProgressRequest,
    ) -> ServiceResult<ReportProgressResponse> {
        let row = self.readable_commitment(principal, &request.commitment_id).await?;
        access::check_report(principal, &row.organisation_code)?;
        let tracked = tracked(&row)?;
        let mut violations = Vec::new();
        let period = match validate::progress_period(&request.period_code, &tracked.plan, tracked.reporting_period_type)
        {
            Ok(period) => Some(period),
            Err(violation) => {
                violations.push(violation);
                None
            }
        };

        let mut figures = None;
        if request.from_metric_observations {
            if request.numerator.is_some() || request.denominator.is_some() || request.value.is_some() {
                violations.push(FieldViolation::new(
                    "from_metric_observations",
                    "CONFLICTS_WITH_FIGURES",
                    "figures come either from the request or from the metric's observations, not both",
                ));
            }
            if row.metric_code.is_none() {
                violations.push(FieldViolation::new(
                    "from_metric_observations",
                    "NO_METRIC",
                    "this commitment is measured by no metric; report its figures instead",
                ));
            }
        } else {
            match validate::figures(tracked.measure, request.numerator, request.denominator, request.value) {
                Ok(value) => {
                    figures = Some(Figures {
                        numerator: request.numerator,
                        denominator: request.denominator,
                        value,
                        source: ProgressSource::Reported,
                        data_version: None,
                    })
                }
                Err(found) => violations.extend(found),
            }
        }

        // A real Living Wage figure means "paid at least the rate in force", so the rate must be known.
        let mut references: Vec<StoredReference> = Vec::new();
        if let Some(period) = &period
            && uses_living_wage(&row.commitment_type)
        {
            let year = import::rate_year(period);
            references = store::reference_values(&self.db, REAL_LIVING_WAGE, &year.to_string())
                .await
                .map_err(db_error("reading reference values"))?
                .iter()
                .map(StoredReference::from)
                .collect();
            if references.is_empty() {
                violations.push(FieldViolation::new(
                    "period_code",
                    "NO_REFERENCE_VALUE",
                    format!("no real Living Wage rate for {year} is loaded; import a newer data version first"),
                ));
            }
        }
        if !violations.is_empty() {
            return Err(ServiceError::invalid("the progress report is not valid", violations));
        }
        let period = period.expect("no violations means a period");
        let figures = match figures {
            Some(figures) => figures,
            None => self.observed_figures(principal, &row, &period, tracked.measure).await?,
        };

        let now = chrono::Utc::now();
        let period_code = period.to_string();
        let txn = self.db.begin().await.map_err(db_error("starting a transaction"))?;
        let replaced =
            store::latest_revision(&txn, &row.id, &period_code).await.map_err(db_error("reading progress"))?;
        let figure = progress::Model {
            id: uuid::Uuid::new_v4().to_string(),
            commitment_id: row.id.clone(),
            period_code: period_code.clone(),
            revision: replaced.as_ref().map_or(1, |r| r.revision + 1),
            numerator: figures.numerator,
            denominator: figures.denominator,
            value: figures.value,
            note: request.note.clone(),
            source: figures.source.label(),
            reported_by: if figures.source == ProgressSource::Reported { principal.id.clone() } else { String::new() },
            reported_at: now,
            data_version: figures.data_version,
            local_definition: row.local_definition.clone(),
            reference_values: convert::json(&references),
            superseded_at: None,
        };
        store::record_progress(&txn, replaced, figure.clone()).await.map_err(|error| match error.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => ServiceError::new(
                ErrorCode::AlreadyExists,
                format!("another report for {period_code} was recorded at the same time; read it and report again"),
            ),
            _ => db_error("recording progress")(error),
        })?;
        txn.commit().await.map_err(db_error("committing progress"))?;
        tracing::info!(commitment = %row.id, period = %period_code, revision = figure.revision, principal = %principal.id, "progress recorded");

        let current = self.figures_of(std::slice::from_ref(&row.id)).await?.remove(&row.id).unwrap_or_default();
        Ok(ReportProgressResponse {
            progress: Some(progress_message(&row, &figure)?),
            commitment: Some(commitment_message(&row, &current)?),
        })
    }

    pub(super) async fn list_progress_impl(
        &self,
        principal: &Principal,
        request: ListProgressRequest,
    ) -> ServiceResult<ListProgressResponse> {
        let window = Window::of(request.page_size, &request.page_token)?;
        let row = self.readable_commitment(principal, &request.commitment_id).await?;
        let source = ProgressSource::try_from(request.source).unwrap_or(ProgressSource::Unspecified);
        let figures = self.figures_of(std::slice::from_ref(&row.id)).await?.remove(&row.id).unwrap_or_default();
        let mut progress = Vec::new();
        for (_, figure) in by_period_desc(figures) {
            if source == ProgressSource::Unspecified || figure.source == source.label() {
                progress.push(progress_message(&row, &figure)?);
            }
        }
        let (progress, next_page_token) = window.page(progress);
        Ok(ListProgressResponse { progress, next_page_token })
    }

    pub(super) async fn get_charter_summary_impl(
        &self,
        principal: &Principal,
        request: GetCharterSummaryRequest,
    ) -> ServiceResult<GetCharterSummaryResponse> {
        let charter = self
            .readable_charter(principal, &request.charter_code)
            .await?
            .ok_or_else(|| ServiceError::not_found("charter", &request.charter_code))?;
        let filter = CommitmentFilter { charter: Some(&charter.row.code), ..Default::default() };
        let mut rows = store::list_commitments(&self.db, &filter).await.map_err(db_error("listing commitments"))?;
        rows.sort_by(|a, b| a.organisation_code.cmp(&b.organisation_code).then_with(|| a.id.cmp(&b.id)));
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let figures = self.figures_of(&ids).await?;

        let period = if request.period_code.trim().is_empty() {
            figures.values().flatten().filter_map(|f| Period::parse(&f.period_code).ok()).max()
        } else {
            Some(
                Period::parse(&request.period_code)
                    .map_err(|error| ServiceError::invalid_field("period_code", "INVALID_PERIOD", error.to_string()))?,
            )
        };
        let period_code = period.map(|p| p.to_string()).unwrap_or_default();

        // One group per type and measure (and per template for custom commitments, which mean
        // different things in different templates), in type order.
        let mut groups: BTreeMap<(i32, String, i32), Vec<&commitment::Model>> = BTreeMap::new();
        for row in &rows {
            let kind = CommitmentType::from_label(&row.commitment_type).unwrap_or(CommitmentType::Unspecified);
            let template = if kind == CommitmentType::Custom {
                row.template_code.clone().unwrap_or_default()
            } else {
                String::new()
            };
            let measure = Measure::from_label(&row.measure).unwrap_or(Measure::Unspecified);
            groups.entry((kind as i32, template, measure as i32)).or_default().push(row);
        }

        let mut types = Vec::new();
        for ((kind, template_code, measure), members) in groups {
            let percentage = measure == Measure::Percentage as i32;
            let mut summary = CommitmentTypeSummary {
                r#type: kind,
                template_code,
                measure,
                member_count: members.len() as u32,
                ..Default::default()
            };
            let (mut numerator, mut denominator) = (0.0, 0.0);
            for row in members {
                let own = figures.get(&row.id).map_or(&[][..], Vec::as_slice);
                let figure = own.iter().find(|f| f.period_code == period_code);
                let status = assess(row, own, period.as_ref())?.status;
                if let Some(figure) = figure {
                    summary.reporting_count += 1;
                    numerator += figure.numerator.unwrap_or(figure.value);
                    denominator += figure.denominator.unwrap_or_default();
                }
                summary.members.push(MemberCommitmentSummary {
                    organisation_code: row.organisation_code.clone(),
                    commitment_id: row.id.clone(),
                    status,
                    // The definition stored with the figure, which the figure was measured by.
                    local_definition: convert::local_message(
                        figure.map_or(row.local_definition.as_deref(), |f| f.local_definition.as_deref()),
                    ),
                    period_code: period_code.clone(),
                    numerator: figure.and_then(|f| f.numerator),
                    denominator: figure.and_then(|f| f.denominator),
                    value: figure.map(|f| f.value),
                });
            }
            if summary.reporting_count > 0 {
                summary.numerator = Some(numerator);
                if percentage {
                    summary.denominator = Some(denominator);
                    summary.pooled_value = (denominator > 0.0).then(|| 100.0 * numerator / denominator);
                } else {
                    summary.pooled_value = Some(numerator);
                }
            }
            types.push(summary);
        }
        Ok(GetCharterSummaryResponse {
            charter_code: charter.row.code.clone(),
            charter_name: charter.row.name.clone(),
            period_code,
            types,
        })
    }
}
