//! The authorization policy end to end, through the gateway: an authorization matrix (every RPC
//! of the five services, enumerated from the descriptor set, × each role × the organisation that
//! owns the resources or another one), leak checks on every list and query, and ExplainAccess
//! answering with the rule a real call meets.
//!
//! Organisation A is Wirral University Teaching Hospital (RBL), which owns a private metric, a
//! public metric with a draft, an embargoed and a published submission, a members-only charter
//! with a commitment, its API keys and its audit events. Organisation B is St Helens and Knowsley
//! Teaching Hospitals (RBN), another trust of the same ICB. Each organisation holds one key per
//! role (`national` included, granted by the bootstrap admin).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;

use prost::Message;
use sharedmetrics_e2e::{AuthChannel, BoxFuture, Sandbox, Scene, Suite, proportion};
use sharedmetrics_error::ServiceError;
use sharedmetrics_proto::sharedmetrics::access::v1::access_service_client::AccessServiceClient;
use sharedmetrics_proto::sharedmetrics::access::v1::{self as access, Action, ExplainAccessRequest, ResourceKind};
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::*;
use sharedmetrics_proto::sharedmetrics::commitments::v1::commitments_service_client::CommitmentsServiceClient;
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, PeriodType, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;
use sharedmetrics_proto::sharedmetrics::definitions::v1::*;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;
use tonic::{Code, Status};

#[path = "access/as_of.rs"]
mod as_of;

/// Organisation A: owns every resource of the fixture.
const OWNER: &str = "RBL";
/// Organisation B: another trust of the same ICB, owning nothing here.
const OTHER: &str = "RBN";
/// Liverpool City Council, for a council's own-area submission.
const COUNCIL: &str = "316";
/// Liverpool local authority district.
const LIVERPOOL: &str = "E08000012";
/// A Wirral LSOA (Cheshire and Merseyside ICB, where both trusts are listed).
const WIRRAL_LSOA: &str = "E01007124";
/// A City of London LSOA: outside both trusts' catchment.
const LONDON_LSOA: &str = "E01000001";
/// RBL's owners-only metric.
const PRIVATE_METRIC: &str = "acc-private";
/// RBL's public metric, with unpublished and published submissions.
const PUBLIC_METRIC: &str = "acc-public";
/// RBL's members-only charter.
const CHARTER: &str = "acc-charter";
/// RBL's metric shared with the partner group [`PARTNERS`].
const PARTNERS_METRIC: &str = "acc-partners";
/// RBL's peer group of partner organisations (Liverpool City Council).
const PARTNERS: &str = "acc-partner-orgs";
/// The tag of every metric this file defines.
const TAG: &str = "access-e2e";

/// The role of a matrix key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum R {
    Submitter,
    Reader,
    Steward,
    OrgAdmin,
    National,
}

impl R {
    const ALL: [R; 5] = [R::Submitter, R::Reader, R::Steward, R::OrgAdmin, R::National];

    fn proto(self) -> access::Role {
        match self {
            R::Submitter => access::Role::Submitter,
            R::Reader => access::Role::Reader,
            R::Steward => access::Role::Steward,
            R::OrgAdmin => access::Role::OrgAdmin,
            R::National => access::Role::National,
        }
    }
}

/// Whose organisation the key belongs to, relative to the resources (all owned by [`OWNER`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Org {
    Own,
    Other,
}

impl Org {
    fn code(self) -> &'static str {
        match self {
            Org::Own => OWNER,
            Org::Other => OTHER,
        }
    }
}

/// What the policy should do with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The policy lets it through, and the call (whose request is valid) succeeds.
    Pass,
    /// The policy refuses with this code (PERMISSION_DENIED, or NOT_FOUND for a hidden resource).
    Refused(Code),
    /// The call failed otherwise: never expected, so a broken request cannot pass for a decision.
    Failed(Code),
}

/// The resources of organisation A and the keys of both organisations.
struct Fixture {
    admin: AuthChannel,
    keys: HashMap<(R, Org), (AuthChannel, String)>,
    /// RBL's submitter and org admin, to make fresh resources a matrix cell acts on.
    owner_submitter: AuthChannel,
    owner_admin: AuthChannel,
    draft_submission: String,
    embargoed_submission: String,
    published_submission: String,
    /// A draft revision (numerator [`as_of::REVISED`]) of a published row of 2020/21.
    revision_submission: String,
    /// A time after the 2020/21 row was published and before its draft revision was made.
    before_revision: prost_types::Timestamp,
    commitment: String,
}

type CallResult = Result<(), Status>;
type CallFuture<'a> = Pin<Box<dyn Future<Output = CallResult> + Send + 'a>>;
/// Makes one call as the given key; `tag` is unique per cell, for codes the call creates.
type CallFn = for<'a> fn(&'a Fixture, AuthChannel, String) -> CallFuture<'a>;
/// The expected outcome for a role of the own or the other organisation.
type ExpectFn = fn(R, Org) -> Expect;

/// Turns `|fixture, channel, tag| async body` into a [`CallFn`].
macro_rules! call {
    (|$f:ident, $ch:ident, $tag:ident| $body:expr) => {{
        fn c<'a>($f: &'a Fixture, $ch: AuthChannel, $tag: String) -> CallFuture<'a> {
            let _ = (&$f, &$tag);
            Box::pin(async move { $body })
        }
        c as CallFn
    }};
}

fn ok<T>(result: Result<tonic::Response<T>, Status>) -> CallResult {
    result.map(|_| ())
}

async fn drain<T>(result: Result<tonic::Response<tonic::Streaming<T>>, Status>) -> CallResult {
    let mut stream = result?.into_inner();
    while stream.message().await?.is_some() {}
    Ok(())
}

fn everyone(_: R, _: Org) -> Expect {
    Expect::Pass
}

/// Readers of an A-only resource: its organisation (any role) and national; others do not see it.
fn own_or_national(role: R, org: Org) -> Expect {
    if org == Org::Own || role == R::National { Expect::Pass } else { Expect::Refused(Code::NotFound) }
}

fn refused_unless(pass: bool, code: Code) -> Expect {
    if pass { Expect::Pass } else { Expect::Refused(code) }
}

fn spec(code: &str, owners: &[&str], visibility: Visibility) -> MetricVersionSpec {
    MetricVersionSpec {
        title: format!("Access test indicator {code}"),
        owners: owners.iter().map(|o| (*o).to_owned()).collect(),
        visibility: visibility as i32,
        // One tag on every metric of this file, so an area profile can be asked for these only.
        tags: vec![TAG.into()],
        ..proportion(code)
    }
}

fn rows(period: &str) -> Vec<ObservationRow> {
    rows_with(period, 40.0)
}

fn rows_with(period: &str, numerator: f64) -> Vec<ObservationRow> {
    vec![ObservationRow {
        area_code: WIRRAL_LSOA.into(),
        period_code: period.into(),
        numerator: Some(numerator),
        denominator: Some(100.0),
        ..Default::default()
    }]
}

fn header(metric: &str, dry_run: bool) -> SubmissionHeader {
    SubmissionHeader {
        metric_code: metric.into(),
        mode: SubmissionMode::Merge as i32,
        source_system: "access-e2e".into(),
        dry_run,
        ..Default::default()
    }
}

/// Submits RBL's rows for `period` on the public metric as RBL's submitter; returns the id.
async fn owner_submission(fixture_submitter: &AuthChannel, period: &str) -> String {
    owner_submission_of(fixture_submitter, rows(period)).await
}

/// Submits `rows` on the public metric as RBL's submitter; returns the id.
async fn owner_submission_of(fixture_submitter: &AuthChannel, rows: Vec<ObservationRow>) -> String {
    let receipt = SubmissionsServiceClient::new(fixture_submitter.clone())
        .submit_observations(SubmitObservationsRequest { header: Some(header(PUBLIC_METRIC, false)), rows })
        .await
        .expect("RBL submits")
        .into_inner()
        .receipt
        .expect("a receipt");
    assert_eq!(receipt.counts.map(|c| c.rejected), Some(0), "{:?}", receipt.rejections);
    receipt.submission_id
}

async fn create_metric(channel: &AuthChannel, spec: MetricVersionSpec, publish: bool) {
    DefinitionsServiceClient::new(channel.clone())
        .create_metric(CreateMetricRequest { spec: Some(spec), new_version: false, publish })
        .await
        .unwrap_or_else(|e| panic!("the metric is created: {}", ServiceError::from(e)));
}

fn commitment_for(charter: &str) -> Commitment {
    Commitment {
        organisation_code: OWNER.into(),
        charter_code: charter.into(),
        r#type: CommitmentType::ApprenticeshipStarts as i32,
        title: "Apprenticeship starts".into(),
        baseline: Some(Baseline { value: 10.0, period_code: "2023/24".into() }),
        target: Some(Target { value: 40.0, date: "2026-03-31".into() }),
        reporting_period_type: PeriodType::FinancialQuarter as i32,
        ..Default::default()
    }
}

/// Makes organisation A's resources and both organisations' keys, once per scene.
fn set_up(sandbox: &Sandbox) -> BoxFuture<'_, Fixture> {
    Box::pin(make_fixture(sandbox))
}

async fn make_fixture(sandbox: &Sandbox) -> Fixture {
    let admin = sandbox.admin();
    let mut keys = HashMap::new();
    for org in [Org::Own, Org::Other] {
        for role in R::ALL {
            let key = sandbox.create_key(org.code(), &[role.proto()]).await.expect("the admin creates keys");
            keys.insert((role, org), key);
        }
    }
    let (owner_submitter, _) = sandbox.create_key(OWNER, &[access::Role::Submitter]).await.unwrap();
    let (owner_admin, _) = sandbox.create_key(OWNER, &[access::Role::OrgAdmin, access::Role::Steward]).await.unwrap();
    create_metric(&owner_admin, spec(PRIVATE_METRIC, &[OWNER], Visibility::OwnersOnly), true).await;
    create_metric(&owner_admin, spec(PUBLIC_METRIC, &[OWNER], Visibility::Public), true).await;
    DefinitionsServiceClient::new(owner_admin.clone())
        .create_peer_group(CreatePeerGroupRequest {
            peer_group: Some(PeerGroup {
                code: PARTNERS.into(),
                name: "RBL's partners".into(),
                member_type: PeerGroupMemberType::Organisation as i32,
                members: vec![COUNCIL.into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap_or_else(|e| panic!("RBL names its partners: {}", ServiceError::from(e)));
    let partners_spec = MetricVersionSpec {
        partner_groups: vec![PARTNERS.into()],
        ..spec(PARTNERS_METRIC, &[OWNER], Visibility::Partners)
    };
    create_metric(&owner_admin, partners_spec, true).await;

    let published_submission = owner_submission(&owner_submitter, "2022/23").await;
    let embargoed_submission = owner_submission(&owner_submitter, "2021/22").await;
    let draft_submission = owner_submission(&owner_submitter, "2023/24").await;
    let mut submissions = SubmissionsServiceClient::new(owner_submitter.clone());
    submissions
        .publish_submission(PublishSubmissionRequest {
            submission_id: published_submission.clone(),
            embargo_until: None,
        })
        .await
        .expect("RBL publishes");
    let far = prost_types::Timestamp { seconds: 4_102_444_800, nanos: 0 };
    submissions
        .publish_submission(PublishSubmissionRequest {
            submission_id: embargoed_submission.clone(),
            embargo_until: Some(far),
        })
        .await
        .expect("RBL publishes under embargo");
    let revised = owner_submission(&owner_submitter, as_of::REVISED_PERIOD).await;
    submissions
        .publish_submission(PublishSubmissionRequest { submission_id: revised, embargo_until: None })
        .await
        .expect("RBL publishes the row it will revise");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before_revision = prost_types::Timestamp::from(std::time::SystemTime::now());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let revision_submission =
        owner_submission_of(&owner_submitter, rows_with(as_of::REVISED_PERIOD, as_of::REVISED)).await;

    let mut commitments = CommitmentsServiceClient::new(owner_admin.clone());
    commitments
        .create_charter(CreateCharterRequest {
            charter: Some(Charter {
                code: CHARTER.into(),
                name: "RBL's members-only charter".into(),
                place_area_code: LIVERPOOL.into(),
                visibility: CharterVisibility::MembersOnly as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap_or_else(|e| panic!("RBL creates a charter: {}", ServiceError::from(e)));
    let commitment = commitments
        .create_commitment(CreateCommitmentRequest { commitment: Some(commitment_for(CHARTER)) })
        .await
        .unwrap_or_else(|e| panic!("RBL makes a commitment: {}", ServiceError::from(e)))
        .into_inner()
        .commitment
        .expect("a commitment")
        .commitment_id;
    Fixture {
        admin,
        keys,
        owner_submitter,
        owner_admin,
        draft_submission,
        embargoed_submission,
        published_submission,
        revision_submission,
        before_revision,
        commitment,
    }
}

/// Lists and queries by B's keys never carry A's unpublished observations, private metric,
/// submissions, keys, audit events, charter or commitment; A's own keys see them (so the checks
/// are not vacuous).
async fn nothing_of_a_leaks_into_b_lists(scene: &Scene<Fixture>) {
    let fixture = &scene.fixture;
    for org in [Org::Own, Org::Other] {
        for role in R::ALL {
            let channel = fixture.keys[&(role, org)].0.clone();
            let insider = org == Org::Own || role == R::National;
            let who = format!("{role:?} of {}", org.code());

            let metrics = DefinitionsServiceClient::new(channel.clone())
                .list_metrics(ListMetricsRequest { page_size: 1000, ..Default::default() })
                .await
                .expect("listed")
                .into_inner()
                .metrics;
            let sees_private = metrics.iter().any(|m| m.code == PRIVATE_METRIC);
            assert_eq!(sees_private, insider, "{who}: the private metric in ListMetrics");

            let mut stream = SubmissionsServiceClient::new(channel.clone())
                .query_observations(QueryObservationsRequest {
                    metric_code: PUBLIC_METRIC.into(),
                    ..Default::default()
                })
                .await
                .expect("queried")
                .into_inner();
            let mut submissions_seen = BTreeSet::new();
            while let Some(batch) = stream.message().await.expect("streamed") {
                submissions_seen.extend(batch.observations.into_iter().map(|o| o.submission_id));
            }
            assert!(submissions_seen.contains(&fixture.published_submission), "{who}: published data is read");
            for unpublished in [&fixture.draft_submission, &fixture.embargoed_submission] {
                assert_eq!(submissions_seen.contains(unpublished), insider, "{who}: unpublished rows of {unpublished}");
            }

            let listed = SubmissionsServiceClient::new(channel.clone())
                .list_submissions(ListSubmissionsRequest::default())
                .await
                .expect("listed")
                .into_inner()
                .submissions;
            assert_eq!(
                listed.iter().any(|s| s.organisation_code == OWNER),
                insider,
                "{who}: A's submissions in ListSubmissions"
            );

            let charters = CommitmentsServiceClient::new(channel.clone())
                .list_charters(ListChartersRequest::default())
                .await
                .expect("listed")
                .into_inner()
                .charters;
            assert_eq!(charters.iter().any(|c| c.code == CHARTER), insider, "{who}: the members-only charter");
            let commitments = CommitmentsServiceClient::new(channel.clone())
                .list_commitments(ListCommitmentsRequest::default())
                .await
                .expect("listed")
                .into_inner()
                .commitments;
            assert_eq!(
                commitments.iter().any(|c| c.commitment_id == fixture.commitment),
                insider,
                "{who}: the commitment under the members-only charter"
            );

            if role == R::OrgAdmin || role == R::National {
                let keys = AccessServiceClient::new(channel.clone())
                    .list_api_keys(access::ListApiKeysRequest::default())
                    .await
                    .expect("listed")
                    .into_inner()
                    .api_keys;
                assert_eq!(keys.iter().any(|k| k.organisation_code == OWNER), insider, "{who}: A's API keys");
                let events = AccessServiceClient::new(channel.clone())
                    .list_audit_events(access::ListAuditEventsRequest { page_size: 1000, ..Default::default() })
                    .await
                    .expect("listed")
                    .into_inner()
                    .events;
                assert_eq!(events.iter().any(|e| e.organisation_code == OWNER), insider, "{who}: A's audit events");
            }

            let profile = BenchmarkingServiceClient::new(channel.clone())
                .get_area_profile(GetAreaProfileRequest {
                    // A district, not an LSOA: a profile compares every area of its type.
                    area_code: LIVERPOOL.into(),
                    period_code: "2022/23".into(),
                    tag: TAG.into(),
                    ..Default::default()
                })
                .await
                .expect("profiled")
                .into_inner();
            let profiled: BTreeSet<String> = profile.metrics.into_iter().map(|m| m.metric_code).collect();
            assert!(profiled.contains(PUBLIC_METRIC), "{who}: the public metric in the area profile");
            assert_eq!(profiled.contains(PRIVATE_METRIC), insider, "{who}: the private metric in the area profile");
            assert_eq!(profiled.contains(PARTNERS_METRIC), insider, "{who}: the partners' metric in the area profile");

            let explained = explain(&channel, Action::Read, ResourceKind::Metric, PRIVATE_METRIC, "").await;
            assert_eq!(explained.allowed, insider, "{who}: {}", explained.explanation);
            if !insider {
                assert!(!explained.explanation.contains(OWNER), "an explanation names no hidden owner: {explained:?}");
            }
        }
    }
}

async fn explain(
    channel: &AuthChannel,
    action: Action,
    kind: ResourceKind,
    code: &str,
    area: &str,
) -> access::ExplainAccessResponse {
    explain_as(channel, "", action, kind, code, area).await.expect("explained")
}

async fn explain_as(
    channel: &AuthChannel,
    principal_id: &str,
    action: Action,
    kind: ResourceKind,
    code: &str,
    area: &str,
) -> Result<access::ExplainAccessResponse, Status> {
    AccessServiceClient::new(channel.clone())
        .explain_access(ExplainAccessRequest {
            principal_id: principal_id.into(),
            action: action as i32,
            resource_kind: kind as i32,
            resource_code: code.into(),
            area_code: area.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Asserts the explanation refuses with `rule` and the real call is refused with the same rule.
fn same_refusal(explained: &access::ExplainAccessResponse, real: Result<impl std::fmt::Debug, Status>, rule: &str) {
    assert!(!explained.allowed, "{explained:?}");
    assert_eq!(explained.rule, rule, "{}", explained.explanation);
    let error = ServiceError::from(real.expect_err("the real call is refused"));
    assert_eq!(error.rule(), Some(rule), "{error}");
}

fn allowed(explained: &access::ExplainAccessResponse, rule: &str) {
    assert!(explained.allowed, "{explained:?}");
    assert_eq!(explained.rule, rule, "{}", explained.explanation);
}

async fn explain_access_names_the_rule_the_services_apply(scene: &Scene<Fixture>) {
    let (sandbox, fixture) = (&scene.sandbox, &scene.fixture);
    let key = |role: R, org: Org| fixture.keys[&(role, org)].0.clone();

    // Metric: defining it.
    allowed(
        &explain(&key(R::Steward, Org::Own), Action::Update, ResourceKind::Metric, PUBLIC_METRIC, "").await,
        "define.steward_of_owner",
    );
    let explained =
        explain(&key(R::Steward, Org::Other), Action::Update, ResourceKind::Metric, PUBLIC_METRIC, "").await;
    let real = DefinitionsServiceClient::new(key(R::Steward, Org::Other))
        .deprecate_metric(DeprecateMetricRequest { code: PUBLIC_METRIC.into(), reason: "not ours".into() })
        .await;
    same_refusal(&explained, real, "define.not_owner");

    // Metric: reading it. A hidden resource is refused as NOT_FOUND by the service, with no rule.
    allowed(
        &explain(&key(R::Reader, Org::Own), Action::Read, ResourceKind::Metric, PRIVATE_METRIC, "").await,
        "read.owner",
    );
    allowed(
        &explain(&key(R::Reader, Org::Other), Action::Read, ResourceKind::Metric, PUBLIC_METRIC, "").await,
        "read.public",
    );
    let explained = explain(&key(R::Reader, Org::Other), Action::Read, ResourceKind::Metric, PRIVATE_METRIC, "").await;
    assert_eq!((explained.allowed, explained.rule.as_str()), (false, "read.not_in_audience"));
    let real = DefinitionsServiceClient::new(key(R::Reader, Org::Other))
        .get_metric(GetMetricRequest { code: PRIVATE_METRIC.into(), version: 0 })
        .await
        .expect_err("hidden");
    assert_eq!(real.code(), Code::NotFound);
    let (partner, _) = sandbox.create_key(COUNCIL, &[access::Role::Reader]).await.unwrap();
    allowed(&explain(&partner, Action::Read, ResourceKind::Metric, PARTNERS_METRIC, "").await, "read.partner");
    DefinitionsServiceClient::new(partner.clone())
        .get_metric(GetMetricRequest { code: PARTNERS_METRIC.into(), version: 0 })
        .await
        .expect("a partner reads the partners' metric");
    let listed: Vec<String> = DefinitionsServiceClient::new(partner.clone())
        .list_metrics(ListMetricsRequest { page_size: 1000, tag: TAG.into(), ..Default::default() })
        .await
        .expect("listed")
        .into_inner()
        .metrics
        .into_iter()
        .map(|m| m.code)
        .collect();
    assert!(listed.contains(&PARTNERS_METRIC.to_owned()), "{listed:?}");
    assert!(!listed.contains(&PRIVATE_METRIC.to_owned()), "a partner sees no owners-only metric: {listed:?}");
    let outsider = explain(&key(R::Reader, Org::Other), Action::Read, ResourceKind::Metric, PARTNERS_METRIC, "").await;
    assert_eq!((outsider.allowed, outsider.rule.as_str()), (false, "read.not_in_audience"));
    let refused = DefinitionsServiceClient::new(key(R::Reader, Org::Other))
        .get_metric(GetMetricRequest { code: PARTNERS_METRIC.into(), version: 0 })
        .await
        .expect_err("not a partner");
    assert_eq!(refused.code(), Code::NotFound);
    let missing = explain(&key(R::Reader, Org::Other), Action::Read, ResourceKind::Metric, "acc-no-such", "").await;
    assert_eq!(
        missing.explanation.replace("acc-no-such", PRIVATE_METRIC),
        explained.explanation,
        "missing and hidden alike"
    );
    allowed(
        &explain(&key(R::Reader, Org::Own), Action::ReadUnpublished, ResourceKind::Metric, PUBLIC_METRIC, "").await,
        "read_unpublished.owner",
    );

    // Metric: submitting for an area. The role refusal is a status; the area refusal a row rejection.
    let explained =
        explain(&key(R::Reader, Org::Own), Action::Submit, ResourceKind::Metric, PUBLIC_METRIC, WIRRAL_LSOA).await;
    let real = SubmissionsServiceClient::new(key(R::Reader, Org::Own))
        .submit_observations(SubmitObservationsRequest {
            header: Some(header(PUBLIC_METRIC, true)),
            rows: rows("2020/21"),
        })
        .await;
    same_refusal(&explained, real, "submit.role_missing");
    allowed(
        &explain(&key(R::Submitter, Org::Own), Action::Submit, ResourceKind::Metric, PUBLIC_METRIC, WIRRAL_LSOA).await,
        "submit.catchment_share",
    );
    allowed(
        &explain(&key(R::Submitter, Org::Own), Action::Submit, ResourceKind::Metric, PUBLIC_METRIC, OWNER).await,
        "submit.own_organisation",
    );
    let (council, _) = sandbox.create_key(COUNCIL, &[access::Role::Submitter]).await.unwrap();
    allowed(
        &explain(&council, Action::Submit, ResourceKind::Metric, PUBLIC_METRIC, LIVERPOOL).await,
        "submit.own_area",
    );
    let explained =
        explain(&key(R::Submitter, Org::Own), Action::Submit, ResourceKind::Metric, PUBLIC_METRIC, LONDON_LSOA).await;
    assert_eq!((explained.allowed, explained.rule.as_str()), (false, "submit.outside_catchment"));
    let mut london = rows("2020/21");
    london[0].area_code = LONDON_LSOA.into();
    let receipt = SubmissionsServiceClient::new(key(R::Submitter, Org::Own))
        .submit_observations(SubmitObservationsRequest { header: Some(header(PUBLIC_METRIC, true)), rows: london })
        .await
        .expect("answered")
        .into_inner()
        .receipt
        .expect("a receipt");
    let rejection = &receipt.rejections[0];
    assert_eq!(rejection.code, "AREA_NOT_PERMITTED");
    assert!(rejection.message.contains("(rule submit.outside_catchment)"), "{}", rejection.message);
    assert!(rejection.message.starts_with(&explained.explanation), "{} / {}", rejection.message, explained.explanation);

    // Submission: publishing it.
    let id = owner_submission(&fixture.owner_submitter, "2019/20").await;
    allowed(
        &explain(&key(R::Submitter, Org::Own), Action::Publish, ResourceKind::Submission, &id, "").await,
        "manage_submission.submitting_organisation",
    );
    allowed(
        &explain(&key(R::Steward, Org::Own), Action::Publish, ResourceKind::Submission, &id, "").await,
        "manage_submission.steward_of_owner",
    );
    let explained = explain(&key(R::Reader, Org::Own), Action::Publish, ResourceKind::Submission, &id, "").await;
    let real = SubmissionsServiceClient::new(key(R::Reader, Org::Own))
        .publish_submission(PublishSubmissionRequest { submission_id: id.clone(), embargo_until: None })
        .await;
    same_refusal(&explained, real, "manage_submission.role_missing");
    let hidden = explain(&key(R::OrgAdmin, Org::Other), Action::Read, ResourceKind::Submission, &id, "").await;
    assert_eq!((hidden.allowed, hidden.rule.as_str()), (false, "read_unpublished.not_owner"));

    // Charter: its membership.
    allowed(
        &explain(&key(R::OrgAdmin, Org::Own), Action::Update, ResourceKind::Charter, CHARTER, "").await,
        "charter.admin_member",
    );
    let explained = explain(&key(R::Reader, Org::Own), Action::Update, ResourceKind::Charter, CHARTER, "").await;
    let real = CommitmentsServiceClient::new(key(R::Reader, Org::Own))
        .add_charter_member(AddCharterMemberRequest {
            charter_code: CHARTER.into(),
            organisation_code: COUNCIL.into(),
            role: CharterRole::Member as i32,
        })
        .await;
    same_refusal(&explained, real, "charter.role_missing");
    allowed(&explain(&key(R::Reader, Org::Own), Action::Read, ResourceKind::Charter, CHARTER, "").await, "read.member");

    // Commitment: reporting progress, and creating one for another organisation.
    allowed(
        &explain(&key(R::Submitter, Org::Own), Action::Update, ResourceKind::Commitment, &fixture.commitment, "").await,
        "commitment.own_organisation",
    );
    let explained =
        explain(&key(R::Reader, Org::Own), Action::Update, ResourceKind::Commitment, &fixture.commitment, "").await;
    let real = CommitmentsServiceClient::new(key(R::Reader, Org::Own))
        .report_progress(ReportProgressRequest {
            commitment_id: fixture.commitment.clone(),
            period_code: "2024/25-Q2".into(),
            numerator: Some(1.0),
            ..Default::default()
        })
        .await;
    same_refusal(&explained, real, "commitment.role_missing");
    let explained = explain(&key(R::OrgAdmin, Org::Other), Action::Create, ResourceKind::Commitment, OWNER, "").await;
    let real = CommitmentsServiceClient::new(key(R::OrgAdmin, Org::Other))
        .create_commitment(CreateCommitmentRequest { commitment: Some(commitment_for("")) })
        .await;
    same_refusal(&explained, real, "commitment.other_organisation");

    // API key: revoking one.
    let (_, victim) = sandbox.create_key(OWNER, &[access::Role::Reader]).await.unwrap();
    allowed(
        &explain(&key(R::OrgAdmin, Org::Own), Action::Revoke, ResourceKind::ApiKey, &victim, "").await,
        "manage_keys.own_org_admin",
    );
    let explained = explain(&key(R::Steward, Org::Own), Action::Revoke, ResourceKind::ApiKey, &victim, "").await;
    let real = AccessServiceClient::new(key(R::Steward, Org::Own))
        .revoke_api_key(access::RevokeApiKeyRequest { key_id: victim.clone() })
        .await;
    same_refusal(&explained, real, "manage_keys.role_missing");
    let outsider = explain(&key(R::OrgAdmin, Org::Other), Action::Revoke, ResourceKind::ApiKey, &victim, "").await;
    assert_eq!((outsider.allowed, outsider.rule.as_str()), (false, "manage_keys.other_organisation"));

    // Organisation: its audit log.
    allowed(
        &explain(&key(R::OrgAdmin, Org::Own), Action::ReadAudit, ResourceKind::Organisation, OWNER, "").await,
        "read_audit.own_org_admin",
    );
    let explained =
        explain(&key(R::OrgAdmin, Org::Other), Action::ReadAudit, ResourceKind::Organisation, OWNER, "").await;
    let real = AccessServiceClient::new(key(R::OrgAdmin, Org::Other))
        .list_audit_events(access::ListAuditEventsRequest { organisation_code: OWNER.into(), ..Default::default() })
        .await;
    same_refusal(&explained, real, "read_audit.other_organisation");

    // Organisation: listing its submissions.
    let explained =
        explain(&key(R::OrgAdmin, Org::Other), Action::ReadUnpublished, ResourceKind::Organisation, OWNER, "").await;
    let real = SubmissionsServiceClient::new(key(R::OrgAdmin, Org::Other))
        .list_submissions(ListSubmissionsRequest { organisation_code: OWNER.into(), ..Default::default() })
        .await;
    same_refusal(&explained, real, "read_unpublished.other_organisation");

    // Peer group: a new version changes its members, and so who reads the metrics shared with it.
    allowed(
        &explain(&key(R::Steward, Org::Own), Action::Update, ResourceKind::PeerGroup, PARTNERS, "").await,
        "peer_group.owner",
    );
    let explained = explain(&key(R::Steward, Org::Other), Action::Update, ResourceKind::PeerGroup, PARTNERS, "").await;
    let real = DefinitionsServiceClient::new(key(R::Steward, Org::Other))
        .create_peer_group(CreatePeerGroupRequest {
            peer_group: Some(PeerGroup {
                code: PARTNERS.into(),
                name: "Hijacked".into(),
                member_type: PeerGroupMemberType::Organisation as i32,
                members: vec![OTHER.into()],
                ..Default::default()
            }),
        })
        .await;
    same_refusal(&explained, real, "peer_group.not_owner");

    // Anything no rule grants.
    let explained = explain(&key(R::National, Org::Own), Action::Retract, ResourceKind::Charter, CHARTER, "").await;
    assert_eq!((explained.allowed, explained.rule.as_str()), (false, "default.deny"));
    assert!(explained.explanation.starts_with("no rule grants"), "{}", explained.explanation);

    // Explaining for another principal: an org admin for its organisation's keys only.
    let reader_id = &fixture.keys[&(R::Reader, Org::Own)].1;
    let for_reader = explain_as(
        &key(R::OrgAdmin, Org::Own),
        &format!("key:{reader_id}"),
        Action::Publish,
        ResourceKind::Submission,
        &id,
        "",
    )
    .await
    .expect("an org admin explains for its organisation's key");
    assert_eq!(for_reader.principal.as_ref().map(|p| p.key_id.as_str()), Some(reader_id.as_str()));
    assert_eq!(for_reader.rule, "manage_submission.role_missing");
    let other_id = &fixture.keys[&(R::Reader, Org::Other)].1;
    let refused = explain_as(
        &key(R::OrgAdmin, Org::Own),
        &format!("key:{other_id}"),
        Action::Read,
        ResourceKind::Metric,
        PUBLIC_METRIC,
        "",
    )
    .await
    .expect_err("another organisation's key looks missing");
    assert_eq!(refused.code(), Code::NotFound);
    let refused = explain_as(
        &key(R::Reader, Org::Own),
        &format!("key:{reader_id}"),
        Action::Read,
        ResourceKind::Metric,
        PUBLIC_METRIC,
        "",
    )
    .await;
    // Explaining for oneself by id is allowed; for a colleague it needs org_admin.
    assert!(refused.is_ok());
    let submitter_id = &fixture.keys[&(R::Submitter, Org::Own)].1;
    let refused = explain_as(
        &key(R::Reader, Org::Own),
        &format!("key:{submitter_id}"),
        Action::Read,
        ResourceKind::Metric,
        PUBLIC_METRIC,
        "",
    )
    .await
    .expect_err("a reader explains only for itself");
    assert_eq!(ServiceError::from(refused).rule(), Some("manage_keys.role_missing"));
}

// After the `call!` macro, which the matrix's rows are written with.
#[path = "access/matrix.rs"]
mod matrix;

static SUITE: Suite<Fixture> = Suite::with_fixture(set_up);

/// The read-only scenarios on one scene (the matrix has its own, in [`matrix`]).
use as_of::no_as_of_reveals_what_is_hidden_now;
sharedmetrics_e2e::scenarios!(SUITE:
    explain_access_names_the_rule_the_services_apply,
    nothing_of_a_leaks_into_b_lists,
    no_as_of_reveals_what_is_hidden_now,
);
