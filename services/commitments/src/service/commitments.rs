//! Commitments: creating them (with charter, template, metric and area checks) and listing them
//! with their computed status.

use sharedmetrics_access::Principal;
use sharedmetrics_error::{FieldViolation, ServiceError, ServiceResult};
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;

use super::{CommitmentsService, assess, conflict_or_internal, db_error};
use crate::access;
use crate::convert;
use crate::entity::{charter_template, commitment};
use crate::store::{self, CommitmentFilter};
use crate::validate;
use sharedmetrics_grpc::paging::Window;

/// Fills what a commitment leaves unset from the template it follows.
fn apply_template(c: &mut Commitment, template: &charter_template::Model) {
    if c.title.trim().is_empty() {
        c.title = template.title.clone();
    }
    if c.description.trim().is_empty() {
        c.description = template.description.clone();
    }
    if c.metric_code.is_empty()
        && let Some(metric) = &template.metric_code
    {
        c.metric_code = metric.clone();
    }
    if c.local_definition.is_none() {
        c.local_definition = convert::local_message(template.local_definition.as_deref());
    }
    if c.target.is_none()
        && let (Some(value), Some(date)) = (template.target_value, &template.target_date)
    {
        c.target = Some(Target { value, date: date.clone() });
    }
}

impl CommitmentsService {
    pub(super) async fn create_commitment_impl(
        &self,
        principal: &Principal,
        request: CreateCommitmentRequest,
    ) -> ServiceResult<CreateCommitmentResponse> {
        let mut c = request
            .commitment
            .ok_or_else(|| ServiceError::invalid_field("commitment", "REQUIRED", "commitment is required"))?;
        let organisation = match c.organisation_code.trim() {
            "" => principal.organisation.clone(),
            code => code.to_owned(),
        };
        // Refuse another organisation's commitment before looking at its content.
        access::check_define(principal, &organisation)?;
        let mut violations = Vec::new();
        if !self.organisation_exists(principal, &organisation).await? {
            violations.push(FieldViolation::new(
                "commitment.organisation_code",
                "UNKNOWN_ORGANISATION",
                format!("organisation {organisation:?} does not exist"),
            ));
        }

        let charter_code = c.charter_code.trim().to_owned();
        let template = self.charter_template(principal, &c, &organisation, &charter_code, &mut violations).await?;
        if let Some(template) = &template {
            follow_template(&mut c, template, &mut violations);
        }
        let commitment_type = CommitmentType::try_from(c.r#type).unwrap_or(CommitmentType::Unspecified);
        if !charter_code.is_empty() && commitment_type == CommitmentType::Custom && c.template_code.is_empty() {
            violations.push(FieldViolation::new(
                "commitment.template_code",
                "REQUIRED",
                "a custom commitment in a charter follows one of its templates, so members' figures add up",
            ));
        }

        // The metric and the areas, as the caller may see them.
        let metric = self.commitment_metric(principal, &c.metric_code, &mut violations).await?;
        if let Some(local) = &c.local_definition {
            self.check_local_areas(principal, local, "commitment.local_definition", &mut violations).await?;
        }
        let resolved = match validate::commitment(&c, metric.as_ref()) {
            Ok(resolved) => Some(resolved),
            Err(found) => {
                violations.extend(found);
                None
            }
        };
        let Some(resolved) = resolved.filter(|_| violations.is_empty()) else {
            return Err(ServiceError::invalid(format!("commitment {:?} is not valid", c.title), violations));
        };

        if !charter_code.is_empty() {
            self.refuse_second_in_charter(&organisation, &charter_code, &c.template_code, &resolved).await?;
        }
        let row = commitment_row(principal, &organisation, &charter_code, &c, &resolved);
        store::insert_commitment(&self.db, row.clone())
            .await
            .map_err(|e| conflict_or_internal(e, "commitment", &row.id))?;
        tracing::info!(commitment = %row.id, organisation = %organisation, r#type = %row.commitment_type, principal = %principal.id, "commitment created");
        Ok(CreateCommitmentResponse { commitment: Some(convert::commitment(&row, assess(&row, &[], None)?)) })
    }

    pub(super) async fn list_commitments_impl(
        &self,
        principal: &Principal,
        request: ListCommitmentsRequest,
    ) -> ServiceResult<ListCommitmentsResponse> {
        let window = Window::of(request.page_size, &request.page_token)?;
        let kind = CommitmentType::try_from(request.r#type).unwrap_or(CommitmentType::Unspecified);
        let kind_label = (kind != CommitmentType::Unspecified).then(|| kind.label());
        let non_empty = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
        let (organisation, charter, metric) =
            (non_empty(&request.organisation_code), non_empty(&request.charter_code), non_empty(&request.metric_code));
        let filter = CommitmentFilter {
            organisation: organisation.as_deref(),
            charter: charter.as_deref(),
            commitment_type: kind_label.as_deref(),
            metric: metric.as_deref(),
        };
        let rows = store::list_commitments(&self.db, &filter).await.map_err(db_error("listing commitments"))?;
        let charters = self.charters_of(&rows).await?;
        let rows: Vec<commitment::Model> =
            rows.into_iter().filter(|r| Self::may_read_commitment(principal, r, &charters)).collect();
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let figures = self.figures_of(&ids).await?;
        let status = CommitmentStatus::try_from(request.status).unwrap_or(CommitmentStatus::Unspecified);
        let mut commitments = Vec::new();
        for row in &rows {
            let message =
                convert::commitment(row, assess(row, figures.get(&row.id).map_or(&[][..], Vec::as_slice), None)?);
            if status == CommitmentStatus::Unspecified || message.status == status as i32 {
                commitments.push(message);
            }
        }
        let (commitments, next_page_token) = window.page(commitments);
        Ok(ListCommitmentsResponse { commitments, next_page_token })
    }
    /// Returns the template a commitment follows, after checking the charter it is made under
    /// exists, is readable and has the organisation as a member.
    async fn charter_template(
        &self,
        principal: &Principal,
        c: &Commitment,
        organisation: &str,
        charter_code: &str,
        violations: &mut Vec<FieldViolation>,
    ) -> ServiceResult<Option<charter_template::Model>> {
        let mut template = None;
        if !charter_code.is_empty() {
            match self.readable_charter(principal, charter_code).await? {
                None => violations.push(FieldViolation::new(
                    "commitment.charter_code",
                    "UNKNOWN_CHARTER",
                    format!("charter {charter_code:?} does not exist"),
                )),
                Some(charter) => {
                    if !charter.members.iter().any(|m| m.organisation_code == organisation) {
                        violations.push(FieldViolation::new(
                            "commitment.charter_code",
                            "NOT_A_MEMBER",
                            format!("{organisation} is not a member of charter {charter_code:?}; a charter admin adds it first"),
                        ));
                    }
                    if !c.template_code.is_empty() {
                        template = charter.templates.iter().find(|t| t.code == c.template_code).cloned();
                        if template.is_none() {
                            violations.push(FieldViolation::new(
                                "commitment.template_code",
                                "UNKNOWN_TEMPLATE",
                                format!("charter {charter_code:?} has no template {:?}", c.template_code),
                            ));
                        }
                    }
                }
            }
        } else if !c.template_code.is_empty() {
            violations.push(FieldViolation::new(
                "commitment.template_code",
                "NO_CHARTER",
                "a template belongs to a charter: give charter_code too",
            ));
        }
        Ok(template)
    }

    /// Returns what the definitions service knows of a commitment's metric, if it names one the
    /// caller may see.
    async fn commitment_metric(
        &self,
        principal: &Principal,
        metric_code: &str,
        violations: &mut Vec<FieldViolation>,
    ) -> ServiceResult<Option<validate::MetricFacts>> {
        if metric_code.is_empty() {
            return Ok(None);
        }
        let facts = self.metric_facts(principal, metric_code).await?;
        if facts.is_none() {
            violations.push(FieldViolation::new(
                "commitment.metric_code",
                "UNKNOWN_METRIC",
                format!("metric {metric_code:?} does not exist"),
            ));
        }
        Ok(facts)
    }

    /// Refuses an organisation a second commitment of one type and template in a charter, so a
    /// roll-up never counts the same spend or staff twice.
    async fn refuse_second_in_charter(
        &self,
        organisation: &str,
        charter_code: &str,
        template_code: &str,
        resolved: &validate::Resolved,
    ) -> ServiceResult<()> {
        let filter = CommitmentFilter {
            organisation: Some(organisation),
            charter: Some(charter_code),
            commitment_type: Some(&resolved.commitment_type.label()),
            metric: None,
        };
        let existing = store::list_commitments(&self.db, &filter).await.map_err(db_error("reading commitments"))?;
        if let Some(existing) =
            existing.iter().find(|e| e.template_code.as_deref().unwrap_or_default() == template_code)
        {
            return Err(ServiceError::already_exists(
                "commitment",
                &format!("{organisation} {} in {charter_code} ({})", resolved.commitment_type.label(), existing.id),
            ));
        }
        Ok(())
    }
}

/// Takes a template's type, refusing a different one, and fills what the commitment leaves unset.
fn follow_template(c: &mut Commitment, template: &charter_template::Model, violations: &mut Vec<FieldViolation>) {
    let template_type = CommitmentType::from_label(&template.commitment_type).unwrap_or(CommitmentType::Unspecified);
    if c.r#type == 0 {
        c.r#type = template_type as i32;
    } else if c.r#type != template_type as i32 {
        violations.push(FieldViolation::new(
            "commitment.type",
            "TEMPLATE_TYPE_MISMATCH",
            format!("template {:?} is a {} commitment", template.code, template.commitment_type),
        ));
    }
    apply_template(c, template);
}

/// Returns the row a valid commitment is stored as, stamped as created now by the caller.
fn commitment_row(
    principal: &Principal,
    organisation: &str,
    charter_code: &str,
    c: &Commitment,
    resolved: &validate::Resolved,
) -> commitment::Model {
    let now = chrono::Utc::now();
    let plan = &resolved.plan;
    commitment::Model {
        id: uuid::Uuid::new_v4().to_string(),
        organisation_code: organisation.to_owned(),
        charter_code: (!charter_code.is_empty()).then(|| charter_code.to_owned()),
        template_code: (!c.template_code.is_empty()).then(|| c.template_code.clone()),
        commitment_type: resolved.commitment_type.label(),
        title: c.title.trim().to_owned(),
        description: c.description.clone(),
        metric_code: (!c.metric_code.is_empty()).then(|| c.metric_code.clone()),
        measure: resolved.measure.label(),
        polarity: resolved.polarity.label(),
        unit: resolved.unit.clone(),
        reporting_period_type: resolved.reporting_period_type.label(),
        local_definition: convert::local_json(resolved.local.as_ref()),
        baseline_value: plan.baseline_value,
        baseline_period: plan.baseline_period.to_string(),
        target_value: plan.target_value,
        target_date: plan.target_date.to_string(),
        trajectory_shape: plan.shape.label(),
        trajectory_points: convert::json(
            &plan
                .points
                .iter()
                .map(|(period, value)| convert::StoredPoint { period_code: period.to_string(), value: *value })
                .collect::<Vec<_>>(),
        ),
        tolerance: plan.tolerance,
        evidence: convert::json(&resolved.evidence),
        owner: if c.owner.trim().is_empty() { principal.id.clone() } else { c.owner.trim().to_owned() },
        created_at: now,
        created_by: principal.id.clone(),
        updated_at: now,
    }
}
