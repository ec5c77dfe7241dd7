//! Who may read and change charters and commitments (DESIGN.md §6, issue 5), built on the shared
//! policy so the roles mean the same here as everywhere:
//! - a public charter, its summary and its members' commitments are readable by everyone; a
//!   members-only charter by its member organisations and national only (others get NOT_FOUND);
//!   a stand-alone commitment by its organisation and national;
//! - charters are created by an `org_admin` (its organisation becomes the first admin member);
//! - only a charter admin organisation's `org_admin` (or national) manages membership;
//! - an organisation manages only its own commitments: creating them needs `steward` or
//!   `org_admin` of that organisation, reporting progress `submitter`, `steward` or `org_admin`.

use sharedmetrics_access::policy;
use sharedmetrics_access::{Principal, Role};
use sharedmetrics_error::ServiceResult;
use sharedmetrics_proto::sharedmetrics::commitments::v1::{CharterRole, CharterVisibility};

use crate::entity::{charter, charter_member};
use sharedmetrics_proto::Label;

/// Returns whether the principal may read a charter, its summary and the commitments under it.
pub fn may_read_charter(principal: &Principal, row: &charter::Model, members: &[charter_member::Model]) -> bool {
    let members: Vec<String> = members.iter().map(|m| m.organisation_code.clone()).collect();
    let public = CharterVisibility::from_label(&row.visibility) == Some(CharterVisibility::Public);
    policy::read(principal, policy::charter_audience(public, &members)).allowed
}

/// Allows creating a charter.
pub fn check_create_charter(principal: &Principal) -> ServiceResult<()> {
    policy::check_any_role(principal, &[Role::OrgAdmin], "creating a charter")
}

/// Allows changing a charter's membership: an admin member organisation's `org_admin`, or national.
pub fn check_charter_admin(
    principal: &Principal,
    row: &charter::Model,
    members: &[charter_member::Model],
) -> ServiceResult<()> {
    let admins: Vec<String> =
        members.iter().filter(|m| m.role == CharterRole::Admin.label()).map(|m| m.organisation_code.clone()).collect();
    policy::manage_charter(principal, &row.code, &admins).check()
}

/// Allows creating a commitment for `organisation`.
pub fn check_define(principal: &Principal, organisation: &str) -> ServiceResult<()> {
    policy::define_commitment(principal, organisation).check()
}

/// Allows reporting progress on a commitment of `organisation`.
pub fn check_report(principal: &Principal, organisation: &str) -> ServiceResult<()> {
    policy::report_progress(principal, organisation).check()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharedmetrics_error::ErrorCode;

    fn principal(org: &str, roles: &[Role]) -> Principal {
        Principal::api_key(org, roles)
    }

    fn charter(visibility: CharterVisibility) -> charter::Model {
        charter::Model {
            code: "liverpool".into(),
            name: "Liverpool".into(),
            place_area_code: "E08000012".into(),
            place_ancestors: "[]".into(),
            description: String::new(),
            visibility: visibility.label(),
            created_at: chrono::Utc::now(),
            created_by: "key:316".into(),
        }
    }

    fn member(org: &str, role: CharterRole) -> charter_member::Model {
        charter_member::Model {
            charter_code: "liverpool".into(),
            organisation_code: org.into(),
            role: role.label(),
            joined_at: chrono::Utc::now(),
            added_by: "key:316".into(),
        }
    }

    #[test]
    fn members_only_charters_are_read_by_members_and_national() {
        let members = vec![member("316", CharterRole::Admin), member("RBL", CharterRole::Member)];
        let row = charter(CharterVisibility::MembersOnly);
        assert!(may_read_charter(&principal("RBL", &[Role::Reader]), &row, &members));
        assert!(!may_read_charter(&principal("REM", &[Role::Reader]), &row, &members));
        assert!(may_read_charter(&principal("X24", &[Role::National]), &row, &members));
        assert!(may_read_charter(&principal("REM", &[]), &charter(CharterVisibility::Public), &members));
    }

    #[test]
    fn only_admin_organisations_manage_membership() {
        let members = vec![member("316", CharterRole::Admin), member("RBL", CharterRole::Member)];
        let row = charter(CharterVisibility::Public);
        assert!(check_charter_admin(&principal("316", &[Role::OrgAdmin]), &row, &members).is_ok());
        let err = check_charter_admin(&principal("RBL", &[Role::OrgAdmin]), &row, &members).unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied);
        assert!(err.message.contains("(316)"), "{}", err.message);
        assert!(check_charter_admin(&principal("316", &[Role::Reader]), &row, &members).is_err());
    }

    #[test]
    fn an_organisation_manages_only_its_own_commitments() {
        assert!(check_report(&principal("RBL", &[Role::Submitter]), "RBL").is_ok());
        let err = check_report(&principal("REM", &[Role::Submitter]), "RBL").unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied);
        assert!(
            check_define(&principal("RBL", &[Role::Submitter]), "RBL").is_err(),
            "a submitter reports, not defines"
        );
        assert!(check_define(&principal("X24", &[Role::National]), "RBL").is_ok());
    }
}
