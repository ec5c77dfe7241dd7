//! The authorization policy: one function per decision, each returning the rule that refused.
//! The gateway and the services call the same functions (DESIGN.md §6).

use sharedmetrics_error::{ServiceError, ServiceResult};

use crate::{Principal, Role};

/// Who may read a resource with restricted visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience<'a> {
    /// Everyone authenticated.
    Public,
    /// The owners and members of the partner groups (resolved by the caller to organisation codes).
    Partners {
        /// Owning organisations.
        owners: &'a [String],
        /// Organisations in the partner groups.
        partners: &'a [String],
    },
    /// The owners only.
    OwnersOnly {
        /// Owning organisations.
        owners: &'a [String],
    },
}

/// Allows reading a resource visible to `audience`; `national` reads everything.
pub fn may_read(principal: &Principal, audience: Audience<'_>) -> bool {
    if principal.is_national() {
        return true;
    }
    match audience {
        Audience::Public => true,
        Audience::Partners { owners, partners } => owners.iter().chain(partners).any(|o| principal.belongs_to(o)),
        Audience::OwnersOnly { owners } => owners.iter().any(|o| principal.belongs_to(o)),
    }
}

/// Allows defining a resource owned by `owners`: a steward of one of the owners, or `national`.
pub fn check_steward_of(principal: &Principal, owners: &[String], what: &str) -> ServiceResult<()> {
    if principal.is_national() {
        return Ok(());
    }
    if !principal.has_role(Role::Steward) {
        return Err(ServiceError::permission_denied(format!(
            "{what} needs the steward role; {} holds {}",
            principal.id,
            role_list(principal)
        )));
    }
    if !owners.iter().any(|o| principal.belongs_to(o)) {
        return Err(ServiceError::permission_denied(format!(
            "{what}: a steward may only define resources its organisation {} owns (owners: {})",
            principal.organisation,
            owners.join(", ")
        )));
    }
    Ok(())
}

/// Allows an action that needs any of `roles` (or `national`).
pub fn check_any_role(principal: &Principal, roles: &[Role], what: &str) -> ServiceResult<()> {
    if principal.is_national() || roles.iter().any(|r| principal.has_role(*r)) {
        return Ok(());
    }
    let wanted: Vec<&str> = roles.iter().map(|r| r.name()).collect();
    Err(ServiceError::permission_denied(format!(
        "{what} needs one of the roles {}; {} holds {}",
        wanted.join(", "),
        principal.id,
        role_list(principal)
    )))
}

fn role_list(principal: &Principal) -> String {
    if principal.roles.is_empty() {
        return "no roles".to_owned();
    }
    principal.roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrincipalKind;

    fn principal(org: &str, roles: &[Role]) -> Principal {
        Principal {
            id: format!("key:{org}"),
            kind: PrincipalKind::ApiKey,
            organisation: org.into(),
            roles: roles.to_vec(),
            key_id: None,
            display_name: org.into(),
        }
    }

    #[test]
    fn owners_only_resources_are_hidden_from_other_organisations() {
        let owners = vec!["RBL".to_owned()];
        let audience = Audience::OwnersOnly { owners: &owners };
        assert!(may_read(&principal("RBL", &[Role::Reader]), audience));
        assert!(!may_read(&principal("RBN", &[Role::Reader]), audience));
        assert!(may_read(&principal("X24", &[Role::National]), audience));
    }

    #[test]
    fn partners_read_partner_resources() {
        let owners = vec!["RBL".to_owned()];
        let partners = vec!["316".to_owned()];
        let audience = Audience::Partners { owners: &owners, partners: &partners };
        assert!(may_read(&principal("316", &[Role::Reader]), audience));
        assert!(!may_read(&principal("317", &[Role::Reader]), audience));
    }

    #[test]
    fn only_stewards_of_an_owner_define() {
        let owners = vec!["RBL".to_owned(), "316".to_owned()];
        assert!(check_steward_of(&principal("316", &[Role::Steward]), &owners, "x").is_ok());
        let err = check_steward_of(&principal("RBN", &[Role::Steward]), &owners, "x").unwrap_err();
        assert!(err.message.contains("owners: RBL, 316"), "{}", err.message);
        assert!(check_steward_of(&principal("RBL", &[Role::Reader]), &owners, "x").is_err());
        assert!(check_steward_of(&principal("X24", &[Role::National]), &owners, "x").is_ok());
    }
}
