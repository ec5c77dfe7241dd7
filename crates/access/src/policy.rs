//! The authorization policy: one pure function per decision, over the facts of the resource,
//! each returning a [`Decision`] that names the rule that allowed or refused (a stable id from
//! [`rules`], listed with who and what in docs/access.md). The services enforce decisions with
//! [`Decision::check`]; the gateway's ExplainAccess returns them as they are; both call the same
//! functions, so an explanation cannot drift from what a call does (DESIGN.md §6).

use sharedmetrics_error::{RULE_METADATA_KEY, ServiceError, ServiceResult};

use crate::{Principal, Role};

/// The stable ids of the policy's rules. Clients may match on them; they never change meaning.
pub mod rules {
    /// National reads everything.
    pub const READ_NATIONAL: &str = "read.national";
    /// Everyone authenticated reads a public resource.
    pub const READ_PUBLIC: &str = "read.public";
    /// An owner organisation reads its resource.
    pub const READ_OWNER: &str = "read.owner";
    /// A member of a partner group reads a partners-visible metric.
    pub const READ_PARTNER: &str = "read.partner";
    /// A member organisation reads a members-only charter and the commitments under it.
    pub const READ_MEMBER: &str = "read.member";
    /// Refused: the principal's organisation is not in the resource's audience.
    pub const READ_NOT_IN_AUDIENCE: &str = "read.not_in_audience";
    /// National reads unpublished data.
    pub const READ_UNPUBLISHED_NATIONAL: &str = "read_unpublished.national";
    /// A metric's owners read its unpublished data.
    pub const READ_UNPUBLISHED_OWNER: &str = "read_unpublished.owner";
    /// The submitting organisation reads its own unpublished submission.
    pub const READ_UNPUBLISHED_SUBMITTER: &str = "read_unpublished.submitting_organisation";
    /// Refused: unpublished data of a metric the organisation does not own.
    pub const READ_UNPUBLISHED_NOT_OWNER: &str = "read_unpublished.not_owner";
    /// Refused: listing another organisation's submissions (only national lists others').
    pub const READ_UNPUBLISHED_OTHER_ORGANISATION: &str = "read_unpublished.other_organisation";
    /// National versions any peer group.
    pub const PEER_GROUP_NATIONAL: &str = "peer_group.national";
    /// The owning organisation versions its peer group.
    pub const PEER_GROUP_OWNER: &str = "peer_group.owner";
    /// Refused: another organisation's peer group (its members decide partner visibility).
    pub const PEER_GROUP_NOT_OWNER: &str = "peer_group.not_owner";
    /// Refused: submitting needs the `submitter` role.
    pub const SUBMIT_ROLE_MISSING: &str = "submit.role_missing";
    /// National submits for any area.
    pub const SUBMIT_NATIONAL: &str = "submit.national";
    /// An organisation submits for itself (its own code).
    pub const SUBMIT_OWN_ORGANISATION: &str = "submit.own_organisation";
    /// An organisation submits for the area it governs and every area under it.
    pub const SUBMIT_OWN_AREA: &str = "submit.own_area";
    /// A trust without a weighted catchment submits for the areas of the ICBs it is listed under.
    pub const SUBMIT_OWN_CATCHMENT: &str = "submit.own_catchment";
    /// An acute trust submits for the authorities holding at least the configured share of its
    /// admissions (its weighted catchment), and everything under them.
    pub const SUBMIT_CATCHMENT_SHARE: &str = "submit.catchment_share";
    /// Refused: the area is outside what the organisation is responsible for.
    pub const SUBMIT_OUTSIDE_CATCHMENT: &str = "submit.outside_catchment";
    /// National defines any metric.
    pub const DEFINE_NATIONAL: &str = "define.national";
    /// A steward of one of the owners defines a metric (new versions, publication, deprecation).
    pub const DEFINE_STEWARD_OF_OWNER: &str = "define.steward_of_owner";
    /// Refused: defining needs the `steward` role.
    pub const DEFINE_ROLE_MISSING: &str = "define.role_missing";
    /// Refused: the steward's organisation is not an owner.
    pub const DEFINE_NOT_OWNER: &str = "define.not_owner";
    /// National publishes or retracts any submission.
    pub const MANAGE_SUBMISSION_NATIONAL: &str = "manage_submission.national";
    /// The submitting organisation's `submitter` or `org_admin` publishes or retracts it.
    pub const MANAGE_SUBMISSION_OWN: &str = "manage_submission.submitting_organisation";
    /// A steward of one of the metric's owners publishes or retracts a submission.
    pub const MANAGE_SUBMISSION_STEWARD_OF_OWNER: &str = "manage_submission.steward_of_owner";
    /// Refused: of the submitting organisation but without `submitter` or `org_admin`.
    pub const MANAGE_SUBMISSION_ROLE_MISSING: &str = "manage_submission.role_missing";
    /// Refused: neither the submitting organisation nor a steward of an owner.
    pub const MANAGE_SUBMISSION_NOT_OWNER: &str = "manage_submission.not_owner";
    /// National manages every charter's membership.
    pub const CHARTER_NATIONAL: &str = "charter.national";
    /// An `org_admin` of an admin member organisation manages a charter's membership.
    pub const CHARTER_ADMIN_MEMBER: &str = "charter.admin_member";
    /// Refused: the organisation is not an admin member of the charter.
    pub const CHARTER_NOT_ADMIN: &str = "charter.not_admin";
    /// Refused: an admin member organisation's principal without `org_admin`.
    pub const CHARTER_ROLE_MISSING: &str = "charter.role_missing";
    /// National manages every organisation's commitments.
    pub const COMMITMENT_NATIONAL: &str = "commitment.national";
    /// An organisation manages its own commitments with the right role.
    pub const COMMITMENT_OWN_ORGANISATION: &str = "commitment.own_organisation";
    /// Refused: of the organisation but without the role the action needs.
    pub const COMMITMENT_ROLE_MISSING: &str = "commitment.role_missing";
    /// Refused: another organisation's commitment.
    pub const COMMITMENT_OTHER_ORGANISATION: &str = "commitment.other_organisation";
    /// National manages every organisation's API keys.
    pub const MANAGE_KEYS_NATIONAL: &str = "manage_keys.national";
    /// An `org_admin` manages its own organisation's API keys.
    pub const MANAGE_KEYS_OWN_ORG_ADMIN: &str = "manage_keys.own_org_admin";
    /// Refused: managing keys needs `org_admin`.
    pub const MANAGE_KEYS_ROLE_MISSING: &str = "manage_keys.role_missing";
    /// Refused: another organisation's keys.
    pub const MANAGE_KEYS_OTHER_ORGANISATION: &str = "manage_keys.other_organisation";
    /// Refused: only national grants the national role.
    pub const MANAGE_KEYS_NATIONAL_ROLE: &str = "manage_keys.grant_national";
    /// Refused: a key may carry only roles its creator holds (`reader` excepted).
    pub const MANAGE_KEYS_UNHELD_ROLE: &str = "manage_keys.grant_unheld_role";
    /// Roles granted: each is held by the creator, or the creator is national.
    pub const MANAGE_KEYS_GRANT: &str = "manage_keys.grant";
    /// National reads every organisation's audit log.
    pub const READ_AUDIT_NATIONAL: &str = "read_audit.national";
    /// An `org_admin` reads its own organisation's audit log.
    pub const READ_AUDIT_OWN_ORG_ADMIN: &str = "read_audit.own_org_admin";
    /// Refused: reading the audit log needs `org_admin`.
    pub const READ_AUDIT_ROLE_MISSING: &str = "read_audit.role_missing";
    /// Refused: another organisation's audit log.
    pub const READ_AUDIT_OTHER_ORGANISATION: &str = "read_audit.other_organisation";
    /// National holds every role.
    pub const ROLE_NATIONAL: &str = "role.national";
    /// The principal holds one of the roles the action needs.
    pub const ROLE_HELD: &str = "role.held";
    /// Refused: the principal holds none of the roles the action needs.
    pub const ROLE_MISSING: &str = "role.missing";
    /// Refused: no rule grants the action.
    pub const DEFAULT_DENY: &str = "default.deny";
}

/// The policy's answer: whether an action is allowed, the rule that decided, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// Stable id of the deciding rule (see [`rules`]).
    pub rule: &'static str,
    /// Why, for a person.
    pub explanation: String,
}

impl Decision {
    /// Returns an allowing decision.
    pub fn allow(rule: &'static str, explanation: impl Into<String>) -> Self {
        Self { allowed: true, rule, explanation: explanation.into() }
    }

    /// Returns a refusing decision.
    pub fn deny(rule: &'static str, explanation: impl Into<String>) -> Self {
        Self { allowed: false, rule, explanation: explanation.into() }
    }

    /// Returns `Ok` when allowed, or PERMISSION_DENIED carrying the rule in its metadata.
    pub fn check(self) -> ServiceResult<()> {
        if self.allowed { Ok(()) } else { Err(self.refusal()) }
    }

    /// Returns the PERMISSION_DENIED error of this decision, with the rule in its metadata.
    pub fn refusal(self) -> ServiceError {
        ServiceError::permission_denied(self.explanation).with_metadata(RULE_METADATA_KEY, self.rule)
    }

    /// Returns `Ok` when allowed, or NOT_FOUND for `kind` `key` when refused: a hidden resource
    /// must look like a missing one, so no rule travels with it.
    pub fn check_visible(self, kind: &str, key: &str) -> ServiceResult<()> {
        if self.allowed { Ok(()) } else { Err(ServiceError::not_found(kind, key)) }
    }
}

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
    /// The member organisations only (a members-only charter).
    MembersOnly {
        /// Member organisations.
        members: &'a [String],
    },
}

/// How widely a metric version is shared (the definitions contract's `Visibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricVisibility {
    /// Everyone authenticated.
    Public,
    /// The owners and the members of the named partner groups.
    Partners,
    /// The owners only (also the reading of an unknown visibility: fail closed).
    OwnersOnly,
}

/// Returns who reads a metric version: a draft only its owners, otherwise as its visibility says.
pub fn metric_audience<'a>(
    draft: bool,
    visibility: MetricVisibility,
    owners: &'a [String],
    partners: &'a [String],
) -> Audience<'a> {
    match visibility {
        _ if draft => Audience::OwnersOnly { owners },
        MetricVisibility::Public => Audience::Public,
        MetricVisibility::Partners => Audience::Partners { owners, partners },
        MetricVisibility::OwnersOnly => Audience::OwnersOnly { owners },
    }
}

/// Decides reading a resource visible to `audience`; `national` reads everything.
pub fn read(principal: &Principal, audience: Audience<'_>) -> Decision {
    let org = &principal.organisation;
    if principal.is_national() {
        return Decision::allow(
            rules::READ_NATIONAL,
            format!("{} holds the national role, which reads everything", principal.id),
        );
    }
    let owns = |owners: &[String]| owners.iter().any(|o| principal.belongs_to(o));
    match audience {
        Audience::Public => Decision::allow(rules::READ_PUBLIC, "the resource is public to every authenticated caller"),
        Audience::Partners { owners, .. } | Audience::OwnersOnly { owners } if owns(owners) => {
            Decision::allow(rules::READ_OWNER, format!("{org} is an owner ({})", owners.join(", ")))
        }
        Audience::Partners { partners, .. } if partners.iter().any(|p| principal.belongs_to(p)) => {
            Decision::allow(rules::READ_PARTNER, format!("{org} is in one of the resource's partner groups"))
        }
        Audience::MembersOnly { members } if members.iter().any(|m| principal.belongs_to(m)) => {
            Decision::allow(rules::READ_MEMBER, format!("{org} is a member"))
        }
        Audience::Partners { .. } => Decision::deny(
            rules::READ_NOT_IN_AUDIENCE,
            format!("{org} is neither an owner nor in a partner group of the resource"),
        ),
        Audience::OwnersOnly { .. } => Decision::deny(
            rules::READ_NOT_IN_AUDIENCE,
            format!("the resource is visible to its owners only; {org} is not one"),
        ),
        Audience::MembersOnly { .. } => Decision::deny(
            rules::READ_NOT_IN_AUDIENCE,
            format!("the resource is visible to its members only; {org} is not one"),
        ),
    }
}

/// Returns whether `principal` may read a resource visible to `audience` (see [`read`]).
pub fn may_read(principal: &Principal, audience: Audience<'_>) -> bool {
    read(principal, audience).allowed
}

/// Decides reading a metric's unpublished (draft or embargoed) data: its owners and national.
pub fn read_unpublished(principal: &Principal, owners: &[String]) -> Decision {
    if principal.is_national() {
        return Decision::allow(rules::READ_UNPUBLISHED_NATIONAL, "national reads unpublished data");
    }
    if owners.iter().any(|o| principal.belongs_to(o)) {
        return Decision::allow(
            rules::READ_UNPUBLISHED_OWNER,
            format!(
                "{} is an owner of the metric ({}) and sees its unpublished data",
                principal.organisation,
                owners.join(", ")
            ),
        );
    }
    Decision::deny(
        rules::READ_UNPUBLISHED_NOT_OWNER,
        format!(
            "unpublished data is seen only by the metric's owners ({}) and its submitters; {} is not an owner",
            owners.join(", "),
            principal.organisation
        ),
    )
}

/// Decides reading a submission (and its unpublished rows): the submitting organisation, the
/// metric's owners, national.
pub fn read_submission(principal: &Principal, submitting_organisation: &str, owners: &[String]) -> Decision {
    if !principal.is_national() && principal.belongs_to(submitting_organisation) {
        return Decision::allow(
            rules::READ_UNPUBLISHED_SUBMITTER,
            format!("{submitting_organisation} made the submission and reads it"),
        );
    }
    read_unpublished(principal, owners)
}

/// Decides listing the submissions of `organisation` (`None`: every organisation's): its own
/// organisation's, or national.
pub fn list_submissions(principal: &Principal, organisation: Option<&str>) -> Decision {
    if principal.is_national() {
        return Decision::allow(rules::READ_UNPUBLISHED_NATIONAL, "national lists every organisation's submissions");
    }
    match organisation {
        Some(org) if principal.belongs_to(org) => {
            Decision::allow(rules::READ_UNPUBLISHED_SUBMITTER, format!("{org} lists its own submissions"))
        }
        _ => Decision::deny(
            rules::READ_UNPUBLISHED_OTHER_ORGANISATION,
            format!("{} lists only its own submissions (national lists all)", principal.organisation),
        ),
    }
}

/// Decides making a new version of peer group `code` owned by `owner`: its owner, or national.
/// (Creating a group needs a role, see [`any_role`]; versioning one changes who its members are,
/// and with them who reads the metrics shared with it.)
pub fn version_peer_group(principal: &Principal, code: &str, owner: &str) -> Decision {
    if principal.is_national() {
        return Decision::allow(rules::PEER_GROUP_NATIONAL, "national versions any peer group");
    }
    if principal.belongs_to(owner) {
        return Decision::allow(rules::PEER_GROUP_OWNER, format!("peer group {code:?} belongs to {owner}"));
    }
    Decision::deny(
        rules::PEER_GROUP_NOT_OWNER,
        format!("peer group {code:?} belongs to {owner}; only its owner can version it"),
    )
}

/// Decides defining a resource owned by `owners`: a steward of one of the owners, or `national`.
pub fn define(principal: &Principal, owners: &[String], what: &str) -> Decision {
    if principal.is_national() {
        return Decision::allow(rules::DEFINE_NATIONAL, format!("{what}: national defines any metric"));
    }
    if !principal.has_role(Role::Steward) {
        return Decision::deny(
            rules::DEFINE_ROLE_MISSING,
            format!("{what} needs the steward role; {} holds {}", principal.id, role_list(principal)),
        );
    }
    if !owners.iter().any(|o| principal.belongs_to(o)) {
        return Decision::deny(
            rules::DEFINE_NOT_OWNER,
            format!(
                "{what}: a steward may only define resources its organisation {} owns (owners: {})",
                principal.organisation,
                owners.join(", ")
            ),
        );
    }
    Decision::allow(
        rules::DEFINE_STEWARD_OF_OWNER,
        format!("{what}: {} is a steward of {}, an owner", principal.id, principal.organisation),
    )
}

/// Allows defining a resource owned by `owners` (see [`define`]).
pub fn check_steward_of(principal: &Principal, owners: &[String], what: &str) -> ServiceResult<()> {
    define(principal, owners, what).check()
}

/// Decides an action that needs any of `roles` (or `national`).
pub fn any_role(principal: &Principal, roles: &[Role], what: &str) -> Decision {
    let wanted: Vec<&str> = roles.iter().map(|r| r.name()).collect();
    if principal.is_national() {
        return Decision::allow(rules::ROLE_NATIONAL, format!("{what}: national holds every role"));
    }
    if let Some(role) = roles.iter().find(|r| principal.has_role(**r)) {
        return Decision::allow(rules::ROLE_HELD, format!("{what}: {} holds the {} role", principal.id, role.name()));
    }
    Decision::deny(
        rules::ROLE_MISSING,
        format!("{what} needs one of the roles {}; {} holds {}", wanted.join(", "), principal.id, role_list(principal)),
    )
}

/// Allows an action that needs any of `roles` (or `national`).
pub fn check_any_role(principal: &Principal, roles: &[Role], what: &str) -> ServiceResult<()> {
    any_role(principal, roles, what).check()
}

/// What an organisation is responsible for when it submits observations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubmitScope {
    /// The areas the organisation governs (a council's own area; every area under them counts).
    pub own_areas: Vec<String>,
    /// The areas of its catchment: for an acute trust, the authorities holding at least
    /// `min_share` of its admissions; for another trust, the areas of the ICBs it is listed under.
    pub catchment_areas: Vec<String>,
    /// An acute trust's weighted catchment: each authority's share of its admissions.
    pub shares: Vec<(String, f64)>,
    /// The share of a trust's admissions that puts an authority in its catchment.
    pub min_share: f64,
}

/// The share of a trust's admissions that puts an authority in its catchment by default: the
/// OHID files list shares as small as 0.0004%, which would let a trust submit for an authority
/// at the other end of England.
pub const DEFAULT_CATCHMENT_MIN_SHARE: f64 = 0.01;

impl SubmitScope {
    /// Returns the scope of an organisation governing `own_area` (empty for none) whose parent
    /// organisations govern `parent_areas`. Only a trust takes its parents' areas as its
    /// catchment: the reference data has no finer trust catchment, and a council's or an ICB's
    /// parents (regions, national bodies) are not areas it reports for.
    pub fn of(own_area: &str, is_trust: bool, parent_areas: impl IntoIterator<Item = String>) -> Self {
        Self {
            own_areas: if own_area.is_empty() { Vec::new() } else { vec![own_area.to_owned()] },
            catchment_areas: if is_trust { parent_areas.into_iter().collect() } else { Vec::new() },
            shares: Vec::new(),
            min_share: DEFAULT_CATCHMENT_MIN_SHARE,
        }
    }

    /// Returns the scope with a weighted catchment (area, share of admissions), when there is
    /// one: the authorities holding at least `min_share` replace the ICBs' areas.
    pub fn with_catchment(mut self, shares: Vec<(String, f64)>, min_share: f64) -> Self {
        if !shares.is_empty() {
            self.catchment_areas = shares.iter().filter(|(_, s)| *s >= min_share).map(|(a, _)| a.clone()).collect();
            self.shares = shares;
        }
        self.min_share = min_share;
        self
    }

    /// Returns the share of admissions of `area` (or of the first of `ancestors` that has one).
    fn share_of(&self, code: &str, ancestors: &[String]) -> Option<(&str, f64)> {
        self.shares.iter().find(|(a, _)| a == code || ancestors.contains(a)).map(|(a, s)| (a.as_str(), *s))
    }
}

/// Decides whether `organisation` may submit rows for area (or organisation) `code`, whose
/// ancestors on every hierarchy are `ancestors`. The role check is [`submit_role`]'s.
pub fn submit_for(principal: &Principal, scope: &SubmitScope, code: &str, ancestors: &[String]) -> Decision {
    let org = &principal.organisation;
    if principal.is_national() {
        return Decision::allow(rules::SUBMIT_NATIONAL, format!("national submits for any area, {code} included"));
    }
    submit_scope(org, scope, code, ancestors)
}

/// Decides the area part of submitting, for organisation `org` (national aside).
pub fn submit_scope(org: &str, scope: &SubmitScope, code: &str, ancestors: &[String]) -> Decision {
    if org == code {
        return Decision::allow(rules::SUBMIT_OWN_ORGANISATION, format!("{org} submits for itself"));
    }
    let covers = |areas: &[String]| areas.iter().find(|a| *a == code || ancestors.contains(a)).cloned();
    if let Some(area) = covers(&scope.own_areas) {
        return Decision::allow(rules::SUBMIT_OWN_AREA, format!("{code} is (within) {area}, the area {org} governs"));
    }
    let percent = |share: f64| format!("{:.2}%", share * 100.0);
    if let Some(area) = covers(&scope.catchment_areas) {
        return match scope.share_of(&area, &[]) {
            Some((_, share)) => Decision::allow(
                rules::SUBMIT_CATCHMENT_SHARE,
                format!(
                    "{code} is (within) {area}, which holds {} of {org}'s admissions (at least {} puts an authority in a trust's catchment)",
                    percent(share),
                    percent(scope.min_share)
                ),
            ),
            None => Decision::allow(
                rules::SUBMIT_OWN_CATCHMENT,
                format!("{code} is (within) {area}, in the catchment of {org}"),
            ),
        };
    }
    match scope.share_of(code, ancestors) {
        Some((area, share)) => Decision::deny(
            rules::SUBMIT_OUTSIDE_CATCHMENT,
            format!(
                "organisation {org} may not submit for {code}: {area} holds {} of its admissions, under the {} that puts an authority in a trust's catchment",
                percent(share),
                percent(scope.min_share)
            ),
        ),
        None => Decision::deny(
            rules::SUBMIT_OUTSIDE_CATCHMENT,
            format!("organisation {org} may not submit for {code}: it is not an area it is responsible for"),
        ),
    }
}

/// Decides the role part of submitting: `submitter` (or national).
pub fn submit_role(principal: &Principal) -> Decision {
    if principal.is_national() || principal.has_role(Role::Submitter) {
        return Decision::allow(
            if principal.is_national() { rules::SUBMIT_NATIONAL } else { rules::ROLE_HELD },
            format!("{} may submit observations", principal.id),
        );
    }
    Decision::deny(
        rules::SUBMIT_ROLE_MISSING,
        format!("submitting observations needs the submitter role; {} holds {}", principal.id, role_list(principal)),
    )
}

/// Decides publishing or retracting a submission: the submitting organisation's `submitter` or
/// `org_admin`, a steward of one of the metric's owners, or national.
pub fn manage_submission(
    principal: &Principal,
    submitting_organisation: &str,
    owners: &[String],
    what: &str,
) -> Decision {
    if principal.is_national() {
        return Decision::allow(
            rules::MANAGE_SUBMISSION_NATIONAL,
            format!("{what}: national manages every submission"),
        );
    }
    let own = principal.belongs_to(submitting_organisation);
    if own && let Some(role) = [Role::Submitter, Role::OrgAdmin].into_iter().find(|r| principal.has_role(*r)) {
        return Decision::allow(
            rules::MANAGE_SUBMISSION_OWN,
            format!(
                "{what}: {} is a {} of {submitting_organisation}, which made the submission",
                principal.id,
                role.name()
            ),
        );
    }
    // A steward of an owner manages every submission of the metric, its own organisation's too.
    let define = define(principal, owners, what);
    if define.allowed {
        return Decision { rule: rules::MANAGE_SUBMISSION_STEWARD_OF_OWNER, ..define };
    }
    if own {
        return Decision::deny(
            rules::MANAGE_SUBMISSION_ROLE_MISSING,
            format!(
                "{what} needs the submitter or org_admin role of {submitting_organisation}, or steward of an owner ({}); {} holds {}",
                owners.join(", "),
                principal.id,
                role_list(principal)
            ),
        );
    }
    let rule = rules::MANAGE_SUBMISSION_NOT_OWNER;
    Decision { rule, ..define }
}

/// Decides managing a charter's membership: an `org_admin` of an admin member organisation, or
/// national.
pub fn manage_charter(principal: &Principal, charter: &str, admins: &[String]) -> Decision {
    if principal.is_national() {
        return Decision::allow(rules::CHARTER_NATIONAL, "national manages every charter");
    }
    if !admins.iter().any(|a| principal.belongs_to(a)) {
        return Decision::deny(
            rules::CHARTER_NOT_ADMIN,
            format!(
                "only the admin organisations of charter {charter:?} ({}) manage its membership; {} belongs to {}",
                admins.join(", "),
                principal.id,
                principal.organisation
            ),
        );
    }
    if !principal.has_role(Role::OrgAdmin) {
        return Decision::deny(
            rules::CHARTER_ROLE_MISSING,
            format!(
                "managing a charter's membership needs the org_admin role; {} holds {}",
                principal.id,
                role_list(principal)
            ),
        );
    }
    Decision::allow(
        rules::CHARTER_ADMIN_MEMBER,
        format!(
            "{} is an org_admin of {}, an admin member of charter {charter:?}",
            principal.id, principal.organisation
        ),
    )
}

/// Decides an action on a commitment of `organisation` that needs one of `roles`: an
/// organisation manages only its own commitments.
pub fn manage_commitment(principal: &Principal, organisation: &str, roles: &[Role], what: &str) -> Decision {
    if principal.is_national() {
        return Decision::allow(rules::COMMITMENT_NATIONAL, format!("{what}: national manages every commitment"));
    }
    if !principal.belongs_to(organisation) {
        return Decision::deny(
            rules::COMMITMENT_OTHER_ORGANISATION,
            format!(
                "{what}: an organisation manages only its own commitments; {} belongs to {}, the commitment to {organisation}",
                principal.id, principal.organisation
            ),
        );
    }
    match roles.iter().find(|r| principal.has_role(**r)) {
        Some(role) => Decision::allow(
            rules::COMMITMENT_OWN_ORGANISATION,
            format!("{what}: {} is a {} of {organisation}", principal.id, role.name()),
        ),
        None => {
            let wanted: Vec<&str> = roles.iter().map(|r| r.name()).collect();
            Decision::deny(
                rules::COMMITMENT_ROLE_MISSING,
                format!(
                    "{what} needs one of the roles {}; {} holds {}",
                    wanted.join(", "),
                    principal.id,
                    role_list(principal)
                ),
            )
        }
    }
}

/// Roles that define commitments for their organisation.
pub const COMMITMENT_DEFINING_ROLES: &[Role] = &[Role::Steward, Role::OrgAdmin];
/// Roles that report progress on their organisation's commitments.
pub const COMMITMENT_REPORTING_ROLES: &[Role] = &[Role::Submitter, Role::Steward, Role::OrgAdmin];

/// Decides creating a commitment for `organisation`.
pub fn define_commitment(principal: &Principal, organisation: &str) -> Decision {
    manage_commitment(principal, organisation, COMMITMENT_DEFINING_ROLES, "creating a commitment")
}

/// Decides reporting progress on a commitment of `organisation`.
pub fn report_progress(principal: &Principal, organisation: &str) -> Decision {
    manage_commitment(principal, organisation, COMMITMENT_REPORTING_ROLES, "reporting progress")
}

/// Returns who reads a charter: everyone when it is public, else its member organisations.
pub fn charter_audience(public: bool, members: &[String]) -> Audience<'_> {
    if public { Audience::Public } else { Audience::MembersOnly { members } }
}

/// Decides reading a commitment of `organisation`: under a charter, whoever reads the charter
/// (`charter`, its audience); stand-alone, its organisation and national.
pub fn read_commitment(principal: &Principal, organisation: &str, charter: Option<Audience<'_>>) -> Decision {
    match charter {
        Some(audience) => read(principal, audience),
        None => read(principal, Audience::OwnersOnly { owners: std::slice::from_ref(&organisation.to_owned()) }),
    }
}

/// Decides managing (creating, listing, revoking) the API keys of `organisation`: its
/// `org_admin`s, or national.
pub fn manage_keys(principal: &Principal, organisation: &str, what: &str) -> Decision {
    if principal.is_national() {
        return Decision::allow(
            rules::MANAGE_KEYS_NATIONAL,
            format!("{what}: national manages every organisation's keys"),
        );
    }
    if !principal.has_role(Role::OrgAdmin) {
        return Decision::deny(
            rules::MANAGE_KEYS_ROLE_MISSING,
            format!("{what} needs the org_admin role; {} holds {}", principal.id, role_list(principal)),
        );
    }
    if !principal.belongs_to(organisation) {
        return Decision::deny(
            rules::MANAGE_KEYS_OTHER_ORGANISATION,
            format!("{what}: an org admin manages only the keys of its own organisation {}", principal.organisation),
        );
    }
    Decision::allow(
        rules::MANAGE_KEYS_OWN_ORG_ADMIN,
        format!("{what}: {} is an org_admin of {organisation}", principal.id),
    )
}

/// Decides granting `roles` to a new key: national grants any role (it already acts on every
/// organisation's resources); anyone else grants only roles it holds itself, and `reader`,
/// which gives nothing a key of its organisation does not already have. So an org admin cannot
/// mint a steward or submitter key it could not act as.
pub fn grant_roles(principal: &Principal, roles: &[Role]) -> Decision {
    if principal.is_national() {
        return Decision::allow(rules::MANAGE_KEYS_GRANT, "national grants any role");
    }
    if roles.contains(&Role::National) {
        return Decision::deny(
            rules::MANAGE_KEYS_NATIONAL_ROLE,
            "only a national principal may grant the national role",
        );
    }
    let unheld: Vec<&str> =
        roles.iter().filter(|r| **r != Role::Reader && !principal.has_role(**r)).map(|r| r.name()).collect();
    if !unheld.is_empty() {
        return Decision::deny(
            rules::MANAGE_KEYS_UNHELD_ROLE,
            format!(
                "a key may carry only roles its creator holds: {} holds {}, not {}",
                principal.id,
                role_list(principal),
                unheld.join(", ")
            ),
        );
    }
    Decision::allow(rules::MANAGE_KEYS_GRANT, format!("{} holds every role it grants", principal.id))
}

/// Decides reading the audit log of `organisation`: its `org_admin`s, or national (who may also
/// read every organisation's at once).
pub fn read_audit(principal: &Principal, organisation: &str) -> Decision {
    let decision = manage_keys(principal, organisation, "reading the audit log");
    let rule = match decision.rule {
        rules::MANAGE_KEYS_NATIONAL => rules::READ_AUDIT_NATIONAL,
        rules::MANAGE_KEYS_OWN_ORG_ADMIN => rules::READ_AUDIT_OWN_ORG_ADMIN,
        rules::MANAGE_KEYS_ROLE_MISSING => rules::READ_AUDIT_ROLE_MISSING,
        _ => rules::READ_AUDIT_OTHER_ORGANISATION,
    };
    Decision { rule, ..decision }
}

/// Returns the refusal for an action no rule grants.
pub fn default_deny(what: &str) -> Decision {
    Decision::deny(rules::DEFAULT_DENY, format!("no rule grants {what}"))
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

    fn principal(org: &str, roles: &[Role]) -> Principal {
        Principal::api_key(org, roles)
    }

    #[test]
    fn a_key_carries_only_roles_its_creator_holds() {
        let admin = principal("RBL", &[Role::OrgAdmin, Role::Reader]);
        let escalation = grant_roles(&admin, &[Role::Steward, Role::Submitter]);
        assert!(!escalation.allowed);
        assert_eq!(escalation.rule, rules::MANAGE_KEYS_UNHELD_ROLE);
        assert!(escalation.explanation.contains("steward, submitter"), "{}", escalation.explanation);
        assert!(grant_roles(&admin, &[Role::Reader, Role::OrgAdmin]).allowed);
        // reader gives nothing a key of the organisation lacks, so any org admin grants it.
        assert!(grant_roles(&principal("RBL", &[Role::OrgAdmin]), &[Role::Reader]).allowed);
        assert_eq!(grant_roles(&admin, &[Role::National]).rule, rules::MANAGE_KEYS_NATIONAL_ROLE);
        assert!(grant_roles(&principal("X24", &[Role::National]), &[Role::Steward, Role::National]).allowed);
    }

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn owners_only_resources_are_hidden_from_other_organisations() {
        let owners = codes(&["RBL"]);
        let audience = Audience::OwnersOnly { owners: &owners };
        assert_eq!(read(&principal("RBL", &[Role::Reader]), audience).rule, rules::READ_OWNER);
        let refused = read(&principal("RBN", &[Role::Reader]), audience);
        assert!(!refused.allowed);
        assert_eq!(refused.rule, rules::READ_NOT_IN_AUDIENCE);
        assert_eq!(read(&principal("X24", &[Role::National]), audience).rule, rules::READ_NATIONAL);
    }

    #[test]
    fn partners_read_partner_resources() {
        let owners = codes(&["RBL"]);
        let partners = codes(&["316"]);
        let audience = Audience::Partners { owners: &owners, partners: &partners };
        assert_eq!(read(&principal("316", &[Role::Reader]), audience).rule, rules::READ_PARTNER);
        assert!(!may_read(&principal("317", &[Role::Reader]), audience));
    }

    #[test]
    fn only_stewards_of_an_owner_define() {
        let owners = codes(&["RBL", "316"]);
        assert_eq!(define(&principal("316", &[Role::Steward]), &owners, "x").rule, rules::DEFINE_STEWARD_OF_OWNER);
        let err = check_steward_of(&principal("RBN", &[Role::Steward]), &owners, "x").unwrap_err();
        assert!(err.message.contains("owners: RBL, 316"), "{}", err.message);
        assert_eq!(err.rule(), Some(rules::DEFINE_NOT_OWNER));
        assert_eq!(define(&principal("RBL", &[Role::Reader]), &owners, "x").rule, rules::DEFINE_ROLE_MISSING);
        assert!(check_steward_of(&principal("X24", &[Role::National]), &owners, "x").is_ok());
    }

    #[test]
    fn a_council_submits_under_its_area_and_a_trust_in_its_catchment() {
        let council = SubmitScope { own_areas: codes(&["E08000012"]), ..SubmitScope::default() };
        let lsoa_ancestors = codes(&["E08000012", "E12000002", "E92000001"]);
        let council_reader = principal("316", &[Role::Submitter]);
        assert_eq!(submit_for(&council_reader, &council, "E01006512", &lsoa_ancestors).rule, rules::SUBMIT_OWN_AREA);
        assert_eq!(submit_for(&council_reader, &council, "316", &[]).rule, rules::SUBMIT_OWN_ORGANISATION);
        let elsewhere = submit_for(&council_reader, &council, "E08000013", &codes(&["E12000002"]));
        assert_eq!((elsewhere.allowed, elsewhere.rule), (false, rules::SUBMIT_OUTSIDE_CATCHMENT));
        let trust = SubmitScope { catchment_areas: codes(&["E54000008"]), ..SubmitScope::default() };
        let under_icb = codes(&["E54000008", "E40000010"]);
        let rbl = principal("RBL", &[Role::Submitter]);
        assert_eq!(submit_for(&rbl, &trust, "E08000012", &under_icb).rule, rules::SUBMIT_OWN_CATCHMENT);
        assert_eq!(submit_role(&principal("RBL", &[Role::Reader])).rule, rules::SUBMIT_ROLE_MISSING);
    }

    #[test]
    fn an_acute_trust_submits_where_it_draws_at_least_the_minimum_share_of_its_admissions() {
        let shares = vec![("E08000015".to_owned(), 0.62), ("E06000002".to_owned(), 0.000_004)];
        let trust = SubmitScope::of("", true, codes(&["E54000008"])).with_catchment(shares, 0.01);
        assert_eq!(trust.catchment_areas, codes(&["E08000015"]), "the ICB's areas give way to the weighted catchment");
        let rbl = principal("RBL", &[Role::Submitter]);
        let wirral_lsoa = submit_for(&rbl, &trust, "E01007124", &codes(&["E08000015", "E12000002"]));
        assert_eq!((wirral_lsoa.allowed, wirral_lsoa.rule), (true, rules::SUBMIT_CATCHMENT_SHARE));
        assert!(wirral_lsoa.explanation.contains("62.00% of RBL's admissions"), "{}", wirral_lsoa.explanation);
        let middlesbrough = submit_for(&rbl, &trust, "E06000002", &[]);
        assert_eq!((middlesbrough.allowed, middlesbrough.rule), (false, rules::SUBMIT_OUTSIDE_CATCHMENT));
        assert!(middlesbrough.explanation.contains("under the 1.00%"), "{}", middlesbrough.explanation);
        // A trust without a weighted catchment keeps its ICBs' areas.
        let mental_health = SubmitScope::of("", true, codes(&["E54000008"])).with_catchment(Vec::new(), 0.01);
        assert_eq!(mental_health.catchment_areas, codes(&["E54000008"]));
    }

    #[test]
    fn a_submission_is_managed_by_its_organisation_or_a_steward_of_an_owner() {
        let owners = codes(&["316"]);
        let manage = |p: &Principal| manage_submission(p, "RBL", &owners, "publishing");
        assert_eq!(manage(&principal("RBL", &[Role::Submitter])).rule, rules::MANAGE_SUBMISSION_OWN);
        assert_eq!(manage(&principal("RBL", &[Role::Reader])).rule, rules::MANAGE_SUBMISSION_ROLE_MISSING);
        let steward_of_both = manage_submission(&principal("RBL", &[Role::Steward]), "RBL", &codes(&["RBL"]), "x");
        assert_eq!(
            steward_of_both.rule,
            rules::MANAGE_SUBMISSION_STEWARD_OF_OWNER,
            "the owner's steward is not shut out"
        );
        assert_eq!(manage(&principal("316", &[Role::Steward])).rule, rules::MANAGE_SUBMISSION_STEWARD_OF_OWNER);
        let other = manage(&principal("RBN", &[Role::Steward]));
        assert_eq!((other.allowed, other.rule), (false, rules::MANAGE_SUBMISSION_NOT_OWNER));
        assert_eq!(read_submission(&principal("RBL", &[]), "RBL", &owners).rule, rules::READ_UNPUBLISHED_SUBMITTER);
        assert_eq!(read_submission(&principal("RBN", &[]), "RBL", &owners).rule, rules::READ_UNPUBLISHED_NOT_OWNER);
    }

    #[test]
    fn keys_are_managed_by_their_organisations_admins() {
        assert_eq!(
            manage_keys(&principal("RBL", &[Role::OrgAdmin]), "RBL", "x").rule,
            rules::MANAGE_KEYS_OWN_ORG_ADMIN
        );
        assert_eq!(
            manage_keys(&principal("RBL", &[Role::OrgAdmin]), "RBN", "x").rule,
            rules::MANAGE_KEYS_OTHER_ORGANISATION
        );
        assert_eq!(manage_keys(&principal("RBL", &[Role::Reader]), "RBL", "x").rule, rules::MANAGE_KEYS_ROLE_MISSING);
    }

    #[test]
    fn a_refusal_carries_its_rule_and_a_hidden_resource_none() {
        let err = default_deny("x").check().unwrap_err();
        assert_eq!(err.rule(), Some(rules::DEFAULT_DENY));
        let hidden = read(&principal("RBN", &[]), Audience::OwnersOnly { owners: &codes(&["RBL"]) });
        let err = hidden.check_visible("metric", "m").unwrap_err();
        assert_eq!((err.code, err.rule()), (sharedmetrics_error::ErrorCode::NotFound, None));
    }

    #[test]
    fn an_organisation_lists_its_own_submissions_and_versions_its_own_peer_groups() {
        assert_eq!(
            list_submissions(&principal("RBL", &[Role::Reader]), Some("RBL")).rule,
            rules::READ_UNPUBLISHED_SUBMITTER
        );
        let other = list_submissions(&principal("RBN", &[Role::OrgAdmin]), Some("RBL"));
        assert_eq!((other.allowed, other.rule), (false, rules::READ_UNPUBLISHED_OTHER_ORGANISATION));
        assert!(!list_submissions(&principal("RBN", &[Role::Reader]), None).allowed);
        assert!(list_submissions(&principal("X24", &[Role::National]), None).allowed);
        assert_eq!(version_peer_group(&principal("RBL", &[Role::Steward]), "p", "RBL").rule, rules::PEER_GROUP_OWNER);
        let hijack = version_peer_group(&principal("RBN", &[Role::Steward]), "p", "RBL");
        assert_eq!((hijack.allowed, hijack.rule), (false, rules::PEER_GROUP_NOT_OWNER));
    }

    #[test]
    fn charters_are_managed_by_admin_members_org_admins() {
        let admins = codes(&["316"]);
        assert_eq!(
            manage_charter(&principal("316", &[Role::OrgAdmin]), "c", &admins).rule,
            rules::CHARTER_ADMIN_MEMBER
        );
        assert_eq!(manage_charter(&principal("316", &[Role::Reader]), "c", &admins).rule, rules::CHARTER_ROLE_MISSING);
        assert_eq!(manage_charter(&principal("RBL", &[Role::OrgAdmin]), "c", &admins).rule, rules::CHARTER_NOT_ADMIN);
        assert_eq!(
            manage_commitment(&principal("RBN", &[Role::OrgAdmin]), "RBL", &[Role::OrgAdmin], "x").rule,
            rules::COMMITMENT_OTHER_ORGANISATION
        );
    }
}
