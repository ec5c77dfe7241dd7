//! ExplainAccess: why a principal may or may not do an action on a resource. The facts of the
//! resource (a metric's owners, visibility and partners; a submission's organisation and metric;
//! a charter's visibility, members and admins; a commitment's organisation and charter; a key's
//! organisation; an organisation's area and catchment) are read through the services' own APIs
//! with an internal national principal, then put to the same [`policy`] functions the services
//! enforce, so the answer is the decision a real call would meet.
//!
//! Which action on which kind is decided (anything else is `default.deny`):
//!
//! | kind | actions |
//! | --- | --- |
//! | metric | READ, READ_UNPUBLISHED, SUBMIT (with `area_code`), CREATE (a new metric or version), UPDATE, PUBLISH |
//! | submission | READ, READ_UNPUBLISHED, PUBLISH, RETRACT |
//! | charter | READ, CREATE, UPDATE (membership) |
//! | commitment | READ, UPDATE (progress); CREATE with `resource_code` the organisation it would be for |
//! | api key | READ, UPDATE, REVOKE; CREATE with `resource_code` the organisation it would be for |
//! | organisation | READ, READ_AUDIT, READ_UNPUBLISHED (listing its submissions) |
//! | area, dimension, peer group | READ; CREATE for dimensions and peer groups; UPDATE (a new version) for peer groups |
//!
//! A resource the principal may not see answers the same refusal whether or not it exists, so an
//! explanation never confirms another organisation's private metric, submission or key.

use std::sync::Arc;

use sharedmetrics_access::policy::{self, Audience, Decision, MetricVisibility, rules};
use sharedmetrics_access::{Principal, PrincipalKind, Role};
use sharedmetrics_commitments::CommitmentsApi;
use sharedmetrics_definitions::DefinitionsApi;
use sharedmetrics_definitions::directory::Directory;
use sharedmetrics_error::{ErrorCode, ServiceError, ServiceResult};
use sharedmetrics_proto::sharedmetrics::access::v1::{Action, ExplainAccessRequest, ResourceKind};
use sharedmetrics_proto::sharedmetrics::commitments::v1::{
    Charter, CharterRole, CharterVisibility, GetCommitmentRequest, ListChartersRequest,
};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{
    ListPeerGroupsRequest, MetricStatus, MetricVersion, Visibility,
};
use sharedmetrics_proto::sharedmetrics::submissions::v1::GetSubmissionRequest;
use sharedmetrics_submissions::SubmissionsApi;

/// Gathers a resource's facts through the service APIs and decides with the shared policy.
pub struct Explainer {
    /// Metrics, areas and organisations, read through the process's shared directory.
    directory: Arc<Directory>,
    definitions: Arc<dyn DefinitionsApi>,
    submissions: Arc<dyn SubmissionsApi>,
    commitments: Arc<dyn CommitmentsApi>,
}

/// The principal the explainer reads facts as: national, so that it sees what the policy needs
/// to weigh, never handing those facts back beyond what the decision says.
fn internal() -> Principal {
    Principal {
        id: "internal:explain-access".to_owned(),
        kind: PrincipalKind::ApiKey,
        organisation: String::new(),
        roles: vec![Role::National],
        key_id: None,
        display_name: "ExplainAccess".to_owned(),
    }
}

/// Returns `Ok(None)` for a NOT_FOUND, so a missing resource is a fact rather than an error.
fn found<T>(result: ServiceResult<T>) -> ServiceResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.code == ErrorCode::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The refusal for a resource that is missing or hidden from the principal: the same either way.
fn unseen(kind: &str, code: &str, principal: &Principal) -> Decision {
    Decision::deny(
        rules::READ_NOT_IN_AUDIENCE,
        format!(
            "no {kind} {code:?} is visible to {}: it does not exist or is not shared with it",
            principal.organisation
        ),
    )
}

/// The facts of a metric that the policy weighs.
struct MetricFacts {
    owners: Vec<String>,
    draft: bool,
    visibility: MetricVisibility,
    partners: Vec<String>,
}

impl MetricFacts {
    fn audience(&self) -> Audience<'_> {
        policy::metric_audience(self.draft, self.visibility, &self.owners, &self.partners)
    }
}

impl Explainer {
    /// Returns an explainer reading facts from the given services.
    pub fn new(
        directory: Arc<Directory>,
        submissions: Arc<dyn SubmissionsApi>,
        commitments: Arc<dyn CommitmentsApi>,
    ) -> Self {
        let definitions = directory.definitions().clone();
        Self { directory, definitions, submissions, commitments }
    }

    /// Decides `request`'s action on its resource for `principal`.
    pub async fn explain(&self, principal: &Principal, request: &ExplainAccessRequest) -> ServiceResult<Decision> {
        let action = Action::try_from(request.action).unwrap_or(Action::Unspecified);
        let kind = ResourceKind::try_from(request.resource_kind).unwrap_or(ResourceKind::Unspecified);
        let code = request.resource_code.as_str();
        if code.is_empty()
            && !matches!((kind, action), (ResourceKind::Commitment | ResourceKind::ApiKey, Action::Create))
        {
            return Err(ServiceError::invalid_field("resource_code", "REQUIRED", "name the resource to explain"));
        }
        let what = format!("{} on {} {code:?}", action.as_str_name(), kind.as_str_name());
        match kind {
            ResourceKind::Metric => self.metric(principal, action, code, &request.area_code, &what).await,
            ResourceKind::Submission => self.submission(principal, action, code, &what).await,
            ResourceKind::Charter => self.charter(principal, action, code, &what).await,
            ResourceKind::Commitment => self.commitment(principal, action, code, &what).await,
            ResourceKind::Organisation => Ok(match action {
                Action::Read => {
                    Decision::allow(rules::READ_PUBLIC, "organisations are reference data every caller reads")
                }
                Action::ReadAudit => policy::read_audit(principal, code),
                // Listing the organisation's submissions, drafts included.
                Action::ReadUnpublished => policy::list_submissions(principal, Some(code)),
                _ => policy::default_deny(&what),
            }),
            ResourceKind::Area => Ok(match action {
                Action::Read => Decision::allow(rules::READ_PUBLIC, "areas are reference data every caller reads"),
                _ => policy::default_deny(&what),
            }),
            ResourceKind::Dimension => Ok(match action {
                Action::Read => Decision::allow(rules::READ_PUBLIC, "dimensions are reference data every caller reads"),
                Action::Create => policy::any_role(principal, &[Role::Steward], "creating a dimension"),
                _ => policy::default_deny(&what),
            }),
            ResourceKind::PeerGroup => Ok(match action {
                Action::Read => Decision::allow(rules::READ_PUBLIC, "peer groups are readable by every caller"),
                Action::Create => {
                    policy::any_role(principal, &[Role::Steward, Role::OrgAdmin], "creating a peer group")
                }
                Action::Update => {
                    let owner = self.peer_group_owner(code).await?;
                    let owner = owner.ok_or_else(|| ServiceError::not_found("peer group", code))?;
                    policy::version_peer_group(principal, code, &owner)
                }
                _ => policy::default_deny(&what),
            }),
            // API keys live in the gateway's own store; the access service decides them.
            ResourceKind::ApiKey | ResourceKind::Unspecified => Ok(policy::default_deny(&what)),
        }
    }

    /// Returns the owner of peer group `code`, if it exists (peer groups are readable by all).
    async fn peer_group_owner(&self, code: &str) -> ServiceResult<Option<String>> {
        let mut token = String::new();
        loop {
            let request = ListPeerGroupsRequest { page_size: 1000, page_token: token, ..Default::default() };
            let page = self.definitions.list_peer_groups(&internal(), request).await?;
            if let Some(group) = page.peer_groups.into_iter().find(|g| g.code == code) {
                return Ok(Some(group.owner));
            }
            if page.next_page_token.is_empty() {
                return Ok(None);
            }
            token = page.next_page_token;
        }
    }

    async fn metric_facts(&self, code: &str, version: u32) -> ServiceResult<Option<(MetricVersion, MetricFacts)>> {
        if code.is_empty() {
            return Ok(None);
        }
        let system = internal();
        let current =
            sharedmetrics_definitions::directory::metric_version(self.definitions.as_ref(), &system, code, version);
        let Some(current) = found(current.await)? else { return Ok(None) };
        let spec = current.spec.clone().unwrap_or_default();
        let visibility = match spec.visibility() {
            Visibility::Public => MetricVisibility::Public,
            Visibility::Partners => MetricVisibility::Partners,
            _ => MetricVisibility::OwnersOnly,
        };
        let mut partners = Vec::new();
        if visibility == MetricVisibility::Partners {
            let mut token = String::new();
            loop {
                let request = ListPeerGroupsRequest { page_size: 1000, page_token: token, ..Default::default() };
                let page = self.definitions.list_peer_groups(&internal(), request).await?;
                for group in page.peer_groups.into_iter().filter(|g| spec.partner_groups.contains(&g.code)) {
                    partners.extend(group.members);
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        }
        let draft = current.status() == MetricStatus::Draft;
        Ok(Some((current, MetricFacts { owners: spec.owners, draft, visibility, partners })))
    }

    async fn metric(
        &self,
        principal: &Principal,
        action: Action,
        code: &str,
        area_code: &str,
        what: &str,
    ) -> ServiceResult<Decision> {
        let Some((_, facts)) = self.metric_facts(code, 0).await? else {
            return Ok(match action {
                // A new metric: its creator's organisation would own it.
                Action::Create => {
                    policy::define(principal, std::slice::from_ref(&principal.organisation), "creating a metric")
                }
                _ => unseen("metric", code, principal),
            });
        };
        let read = policy::read(principal, facts.audience());
        if !read.allowed {
            return Ok(unseen("metric", code, principal));
        }
        Ok(match action {
            Action::Read => read,
            Action::ReadUnpublished => policy::read_unpublished(principal, &facts.owners),
            Action::Create | Action::Update => policy::define(principal, &facts.owners, "changing a metric"),
            Action::Publish => policy::define(principal, &facts.owners, "publishing a metric version"),
            Action::Submit => {
                let role = policy::submit_role(principal);
                if !role.allowed || principal.is_national() {
                    return Ok(role);
                }
                if area_code.is_empty() {
                    let explanation = format!("{}; name an area_code to check the area too", role.explanation);
                    return Ok(Decision { explanation, ..role });
                }
                // National returned above: the area part decides.
                self.directory.submit_decision(&internal(), &principal.organisation, area_code).await?
            }
            _ => policy::default_deny(what),
        })
    }

    async fn submission(&self, principal: &Principal, action: Action, id: &str, what: &str) -> ServiceResult<Decision> {
        let request = GetSubmissionRequest { submission_id: id.to_owned() };
        let submission = found(self.submissions.get_submission(&internal(), request).await)?.and_then(|r| r.submission);
        let Some(submission) = submission else { return Ok(unseen("submission", id, principal)) };
        let owners = self
            .metric_facts(&submission.metric_code, submission.metric_version)
            .await?
            .map(|(_, facts)| facts.owners)
            .unwrap_or_default();
        let read = policy::read_submission(principal, &submission.organisation_code, &owners);
        if !read.allowed {
            return Ok(Decision { explanation: unseen("submission", id, principal).explanation, ..read });
        }
        let organisation = &submission.organisation_code;
        Ok(match action {
            Action::Read | Action::ReadUnpublished => read,
            Action::Publish => policy::manage_submission(principal, organisation, &owners, "publishing a submission"),
            Action::Retract => policy::manage_submission(principal, organisation, &owners, "retracting a submission"),
            _ => policy::default_deny(what),
        })
    }

    async fn find_charter(&self, code: &str) -> ServiceResult<Option<Charter>> {
        let mut token = String::new();
        loop {
            let request = ListChartersRequest { page_size: 1000, page_token: token, ..Default::default() };
            let page = self.commitments.list_charters(&internal(), request).await?;
            if let Some(charter) = page.charters.into_iter().find(|c| c.code == code) {
                return Ok(Some(charter));
            }
            if page.next_page_token.is_empty() {
                return Ok(None);
            }
            token = page.next_page_token;
        }
    }

    async fn charter(&self, principal: &Principal, action: Action, code: &str, what: &str) -> ServiceResult<Decision> {
        if action == Action::Create {
            return Ok(policy::any_role(principal, &[Role::OrgAdmin], "creating a charter"));
        }
        let Some(charter) = self.find_charter(code).await? else { return Ok(unseen("charter", code, principal)) };
        let members: Vec<String> = charter.members.iter().map(|m| m.organisation_code.clone()).collect();
        let public = charter.visibility() == CharterVisibility::Public;
        let read = policy::read(principal, policy::charter_audience(public, &members));
        if !read.allowed {
            return Ok(unseen("charter", code, principal));
        }
        let admins: Vec<String> = charter
            .members
            .iter()
            .filter(|m| m.role() == CharterRole::Admin)
            .map(|m| m.organisation_code.clone())
            .collect();
        Ok(match action {
            Action::Read => read,
            Action::Update => policy::manage_charter(principal, code, &admins),
            _ => policy::default_deny(what),
        })
    }

    async fn commitment(&self, principal: &Principal, action: Action, id: &str, what: &str) -> ServiceResult<Decision> {
        if action == Action::Create {
            let organisation = if id.is_empty() { principal.organisation.as_str() } else { id };
            return Ok(policy::define_commitment(principal, organisation));
        }
        let request = GetCommitmentRequest { commitment_id: id.to_owned() };
        let commitment = found(self.commitments.get_commitment(&internal(), request).await)?.and_then(|r| r.commitment);
        let Some(commitment) = commitment else { return Ok(unseen("commitment", id, principal)) };
        let charter = match commitment.charter_code.as_str() {
            "" => None,
            code => self.find_charter(code).await?,
        };
        let members: Vec<String> =
            charter.iter().flat_map(|c| c.members.iter().map(|m| m.organisation_code.clone())).collect();
        let audience =
            charter.as_ref().map(|c| policy::charter_audience(c.visibility() == CharterVisibility::Public, &members));
        let read = policy::read_commitment(principal, &commitment.organisation_code, audience);
        if !read.allowed {
            return Ok(unseen("commitment", id, principal));
        }
        Ok(match action {
            Action::Read => read,
            Action::Update => policy::report_progress(principal, &commitment.organisation_code),
            _ => policy::default_deny(what),
        })
    }
}

/// Decides an action on an API key of `organisation` (`None`: no such key) for `principal`.
/// Another organisation's key looks like a missing one, as RevokeApiKey answers NOT_FOUND.
pub fn explain_key(principal: &Principal, action: Action, key_id: &str, organisation: Option<&str>) -> Decision {
    match action {
        Action::Create => {
            let organisation = if key_id.is_empty() { principal.organisation.as_str() } else { key_id };
            policy::manage_keys(principal, organisation, "creating an API key")
        }
        Action::Read | Action::Update | Action::Revoke => match organisation {
            Some(org) if principal.is_national() || principal.belongs_to(org) => {
                let what = if action == Action::Revoke { "revoking an API key" } else { "managing an API key" };
                policy::manage_keys(principal, org, what)
            }
            _ => Decision::deny(
                rules::MANAGE_KEYS_OTHER_ORGANISATION,
                format!("{key_id:?} is not an API key of {}", principal.organisation),
            ),
        },
        _ => policy::default_deny(&format!("{} on API key {key_id:?}", action.as_str_name())),
    }
}
