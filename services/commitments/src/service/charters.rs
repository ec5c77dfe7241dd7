//! Charters: creating them, listing them, managing their membership.

use sea_orm::TransactionTrait;
use sharedmetrics_access::Principal;
use sharedmetrics_error::{FieldViolation, ServiceError, ServiceResult};
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;

use super::{CommitmentsService, conflict_or_internal, db_error};
use crate::access;
use crate::convert;
use crate::entity::{charter, charter_member};
use crate::store;
use crate::validate;
use sharedmetrics_grpc::paging::Window;
use sharedmetrics_proto::Label;

impl CommitmentsService {
    pub(super) async fn create_charter_impl(
        &self,
        principal: &Principal,
        request: CreateCharterRequest,
    ) -> ServiceResult<CreateCharterResponse> {
        access::check_create_charter(principal)?;
        let charter =
            request.charter.ok_or_else(|| ServiceError::invalid_field("charter", "REQUIRED", "charter is required"))?;
        let mut violations = validate::charter(&charter);
        let mut ancestors = Vec::new();
        if !charter.place_area_code.trim().is_empty() {
            match self.area(principal, &charter.place_area_code).await? {
                None => violations.push(FieldViolation::new(
                    "charter.place_area_code",
                    "UNKNOWN_AREA",
                    format!("area {:?} does not exist", charter.place_area_code),
                )),
                Some(area) => ancestors = area.parents.into_iter().map(|p| p.code).collect(),
            }
        }
        for (i, template) in charter.templates.iter().enumerate() {
            if !template.metric_code.is_empty() && self.metric_facts(principal, &template.metric_code).await?.is_none()
            {
                violations.push(FieldViolation::new(
                    format!("charter.templates[{i}].metric_code"),
                    "UNKNOWN_METRIC",
                    format!("metric {:?} does not exist", template.metric_code),
                ));
            }
            if let Some(local) = &template.local_definition {
                let prefix = format!("charter.templates[{i}].local_definition");
                self.check_local_areas(principal, local, &prefix, &mut violations).await?;
            }
        }
        if !violations.is_empty() {
            return Err(ServiceError::invalid(format!("charter {:?} is not valid", charter.code), violations));
        }
        if store::get_charter(&self.db, &charter.code).await.map_err(db_error("reading a charter"))?.is_some() {
            return Err(ServiceError::already_exists("charter", &charter.code));
        }

        let now = chrono::Utc::now();
        let row = charter::Model {
            code: charter.code.clone(),
            name: charter.name.trim().to_owned(),
            place_area_code: charter.place_area_code.clone(),
            place_ancestors: convert::json_list(&ancestors),
            description: charter.description.clone(),
            visibility: charter.visibility().label(),
            created_at: now,
            created_by: principal.id.clone(),
        };
        let first_member = charter_member::Model {
            charter_code: charter.code.clone(),
            organisation_code: principal.organisation.clone(),
            role: CharterRole::Admin.label(),
            joined_at: now,
            added_by: principal.id.clone(),
        };
        let templates: Vec<_> =
            charter.templates.iter().enumerate().map(|(i, t)| convert::template_row(&charter.code, i, t)).collect();
        let txn = self.db.begin().await.map_err(db_error("starting a transaction"))?;
        store::insert_charter(&txn, row.clone(), first_member.clone(), templates.clone())
            .await
            .map_err(|e| conflict_or_internal(e, "charter", &charter.code))?;
        txn.commit().await.map_err(db_error("committing a charter"))?;
        tracing::info!(charter = %charter.code, principal = %principal.id, "charter created");
        Ok(CreateCharterResponse { charter: Some(convert::charter(&row, &[first_member], &templates)) })
    }

    pub(super) async fn list_charters_impl(
        &self,
        principal: &Principal,
        request: ListChartersRequest,
    ) -> ServiceResult<ListChartersResponse> {
        let window = Window::of(request.page_size, &request.page_token)?;
        let rows = store::list_charters(&self.db).await.map_err(db_error("listing charters"))?;
        let place = request.place_area_code.trim();
        let member = request.member_organisation_code.trim();
        let charters: Vec<Charter> = self
            .load_charters(rows)
            .await?
            .into_iter()
            .filter(|c| access::may_read_charter(principal, &c.row, &c.members))
            .filter(|c| {
                place.is_empty()
                    || c.row.place_area_code == place
                    || convert::parse_list(&c.row.place_ancestors).iter().any(|a| a == place)
            })
            .filter(|c| member.is_empty() || c.members.iter().any(|m| m.organisation_code == member))
            .map(|c| c.message())
            .collect();
        let (charters, next_page_token) = window.page(charters);
        Ok(ListChartersResponse { charters, next_page_token })
    }

    pub(super) async fn add_charter_member_impl(
        &self,
        principal: &Principal,
        request: AddCharterMemberRequest,
    ) -> ServiceResult<AddCharterMemberResponse> {
        let loaded = self
            .readable_charter(principal, &request.charter_code)
            .await?
            .ok_or_else(|| ServiceError::not_found("charter", &request.charter_code))?;
        access::check_charter_admin(principal, &loaded.row, &loaded.members)?;
        let organisation = request.organisation_code.trim();
        let mut violations = Vec::new();
        if organisation.is_empty() {
            violations.push(FieldViolation::new("organisation_code", "REQUIRED", "name the organisation to add"));
        } else if !self.organisation_exists(principal, organisation).await? {
            violations.push(FieldViolation::new(
                "organisation_code",
                "UNKNOWN_ORGANISATION",
                format!("organisation {organisation:?} does not exist"),
            ));
        }
        let role = match CharterRole::try_from(request.role).unwrap_or(CharterRole::Unspecified) {
            CharterRole::Unspecified if request.role != 0 => {
                violations.push(FieldViolation::new(
                    "role",
                    "INVALID",
                    format!("role {} is not member or admin", request.role),
                ));
                CharterRole::Member
            }
            CharterRole::Unspecified => CharterRole::Member,
            role => role,
        };
        if !violations.is_empty() {
            return Err(ServiceError::invalid("the member is not valid", violations));
        }
        let admins_after = loaded
            .members
            .iter()
            .filter(|m| m.role == CharterRole::Admin.label() && m.organisation_code != organisation)
            .count()
            + usize::from(role == CharterRole::Admin);
        if admins_after == 0 {
            return Err(ServiceError::failed_precondition(format!(
                "{organisation} is the only admin of charter {:?}; make another organisation admin first",
                loaded.row.code
            )));
        }
        store::upsert_member(
            &self.db,
            charter_member::Model {
                charter_code: loaded.row.code.clone(),
                organisation_code: organisation.to_owned(),
                role: role.label(),
                joined_at: chrono::Utc::now(),
                added_by: principal.id.clone(),
            },
        )
        .await
        .map_err(db_error("adding a charter member"))?;
        tracing::info!(charter = %loaded.row.code, organisation, role = %role.label(), principal = %principal.id, "charter member set");
        let charter = self
            .readable_charter(principal, &loaded.row.code)
            .await?
            .ok_or_else(|| ServiceError::not_found("charter", &loaded.row.code))?;
        Ok(AddCharterMemberResponse { charter: Some(charter.message()) })
    }
}
