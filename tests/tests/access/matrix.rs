//! The authorization matrix: one row per RPC of the five services, each made by every role of
//! the owning organisation and of another one, split by the service that owns the resource.

use super::*;

const D: &str = "sharedmetrics.definitions.v1.DefinitionsService/";
const S: &str = "sharedmetrics.submissions.v1.SubmissionsService/";
const B: &str = "sharedmetrics.benchmarking.v1.BenchmarkingService/";
const C: &str = "sharedmetrics.commitments.v1.CommitmentsService/";
const A: &str = "sharedmetrics.access.v1.AccessService/";

/// A row: the RPC's full name, the call, and who the policy lets through.
pub type Row = (String, CallFn, ExpectFn);

/// The definitions service's rows.
fn definitions_rows() -> Vec<Row> {
    vec![
        // Definitions: metrics owned by A are defined by A's stewards (and national); the private
        // metric is seen by A and national only.
        (
            format!("{D}CreateMetric"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .create_metric(CreateMetricRequest {
                    spec: Some(spec(&format!("acc-new-{tag}"), &[OWNER], Visibility::Public)),
                    new_version: false,
                    publish: false,
                })
                .await)),
            |r, o| match r {
                R::National => Expect::Pass,
                R::Steward if o == Org::Own => Expect::Pass,
                _ => Expect::Refused(Code::PermissionDenied),
            },
        ),
        (
            format!("{D}GetMetric"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .get_metric(GetMetricRequest { code: PRIVATE_METRIC.into(), version: 0 })
                .await)),
            own_or_national,
        ),
        (
            format!("{D}ListMetrics"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .list_metrics(ListMetricsRequest { page_size: 10, ..Default::default() })
                .await)),
            everyone,
        ),
        (
            format!("{D}PublishMetricVersion"),
            call!(|f, ch, tag| {
                // A fresh draft of A's per cell, so each cell publishes something unpublished.
                let code = format!("acc-draft-{tag}");
                create_metric(&f.owner_admin, spec(&code, &[OWNER], Visibility::Public), false).await;
                ok(DefinitionsServiceClient::new(ch)
                    .publish_metric_version(PublishMetricVersionRequest { code, version: 1 })
                    .await)
            }),
            |r, o| match (r, o) {
                (R::National, _) | (R::Steward, Org::Own) => Expect::Pass,
                (_, Org::Own) => Expect::Refused(Code::PermissionDenied),
                // A draft is its owners' only: another organisation does not see it.
                (_, Org::Other) => Expect::Refused(Code::NotFound),
            },
        ),
        (
            format!("{D}DeprecateMetric"),
            call!(|f, ch, tag| {
                let code = format!("acc-old-{tag}");
                create_metric(&f.owner_admin, spec(&code, &[OWNER], Visibility::Public), true).await;
                ok(DefinitionsServiceClient::new(ch)
                    .deprecate_metric(DeprecateMetricRequest { code, reason: "superseded".into() })
                    .await)
            }),
            |r, o| refused_unless(r == R::National || (r == R::Steward && o == Org::Own), Code::PermissionDenied),
        ),
        (
            format!("{D}ListMetricVersions"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .list_metric_versions(ListMetricVersionsRequest { code: PRIVATE_METRIC.into(), ..Default::default() })
                .await)),
            own_or_national,
        ),
        (
            format!("{D}CreateDimension"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .create_dimension(CreateDimensionRequest {
                    dimension: Some(Dimension {
                        code: format!("acc-dim-{tag}"),
                        title: "Shift".into(),
                        codes: vec![DimensionCode { code: "day".into(), label: "Day".into(), order: 1 }],
                        ..Default::default()
                    }),
                })
                .await)),
            |r, _| refused_unless(matches!(r, R::Steward | R::National), Code::PermissionDenied),
        ),
        (
            format!("{D}ListDimensions"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .list_dimensions(ListDimensionsRequest::default())
                .await)),
            everyone,
        ),
        (
            format!("{D}GetArea"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .get_area(GetAreaRequest { code: LIVERPOOL.into() })
                .await)),
            everyone,
        ),
        (
            format!("{D}ListAreas"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .list_areas(ListAreasRequest { page_size: 5, ..Default::default() })
                .await)),
            everyone,
        ),
        (
            format!("{D}GetOrganisation"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .get_organisation(GetOrganisationRequest { code: OWNER.into() })
                .await)),
            everyone,
        ),
        (
            format!("{D}ListOrganisations"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .list_organisations(ListOrganisationsRequest { page_size: 5, ..Default::default() })
                .await)),
            everyone,
        ),
        (
            format!("{D}CreatePeerGroup"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .create_peer_group(CreatePeerGroupRequest {
                    peer_group: Some(PeerGroup {
                        code: format!("acc-peers-{tag}"),
                        name: "Merseyside".into(),
                        member_type: PeerGroupMemberType::Area as i32,
                        members: vec![LIVERPOOL.into()],
                        ..Default::default()
                    }),
                })
                .await)),
            |r, _| refused_unless(matches!(r, R::Steward | R::OrgAdmin | R::National), Code::PermissionDenied),
        ),
        (
            format!("{D}ListPeerGroups"),
            call!(|f, ch, tag| ok(DefinitionsServiceClient::new(ch)
                .list_peer_groups(ListPeerGroupsRequest::default())
                .await)),
            everyone,
        ),
    ]
}

/// The submissions service's rows.
fn submissions_rows() -> Vec<Row> {
    vec![
        // Submissions: a submitter submits (the rows' areas are the scope's business, see the
        // explain scenario); A's unpublished submissions are A's, its metric owners' (A) and
        // national's.
        (
            format!("{S}SubmitObservations"),
            call!(|f, ch, tag| ok(SubmissionsServiceClient::new(ch)
                .submit_observations(SubmitObservationsRequest {
                    header: Some(header(PUBLIC_METRIC, true)),
                    rows: rows("2020/21"),
                })
                .await)),
            |r, _| refused_unless(matches!(r, R::Submitter | R::National), Code::PermissionDenied),
        ),
        (
            format!("{S}StreamObservations"),
            call!(|f, ch, tag| {
                let frames = vec![
                    StreamObservationsRequest {
                        frame: Some(stream_observations_request::Frame::Header(header(PUBLIC_METRIC, true))),
                    },
                    StreamObservationsRequest {
                        frame: Some(stream_observations_request::Frame::Chunk(ObservationChunk {
                            rows: rows("2020/21"),
                        })),
                    },
                    StreamObservationsRequest {
                        frame: Some(stream_observations_request::Frame::End(StreamEnd { row_count: 1 })),
                    },
                ];
                ok(SubmissionsServiceClient::new(ch).stream_observations(tokio_stream::iter(frames)).await)
            }),
            |r, _| refused_unless(matches!(r, R::Submitter | R::National), Code::PermissionDenied),
        ),
        (
            format!("{S}GetSubmission"),
            call!(|f, ch, tag| ok(SubmissionsServiceClient::new(ch)
                .get_submission(GetSubmissionRequest { submission_id: f.draft_submission.clone() })
                .await)),
            own_or_national,
        ),
        (
            format!("{S}ListSubmissions"),
            call!(|f, ch, tag| ok(SubmissionsServiceClient::new(ch)
                .list_submissions(ListSubmissionsRequest { organisation_code: OWNER.into(), ..Default::default() })
                .await)),
            |r, o| refused_unless(o == Org::Own || r == R::National, Code::PermissionDenied),
        ),
        (
            format!("{S}QueryObservations"),
            call!(|f, ch, tag| drain(
                SubmissionsServiceClient::new(ch)
                    .query_observations(QueryObservationsRequest {
                        metric_code: PRIVATE_METRIC.into(),
                        ..Default::default()
                    })
                    .await
            )
            .await),
            own_or_national,
        ),
        (
            format!("{S}GetObservationHistory"),
            call!(|f, ch, tag| ok(SubmissionsServiceClient::new(ch)
                .get_observation_history(GetObservationHistoryRequest {
                    metric_code: PRIVATE_METRIC.into(),
                    area_code: WIRRAL_LSOA.into(),
                    period_code: "2022/23".into(),
                    ..Default::default()
                })
                .await)),
            own_or_national,
        ),
        (
            format!("{S}PublishSubmission"),
            call!(|f, ch, tag| {
                let id = owner_submission(&f.owner_submitter, "2019/20").await;
                ok(SubmissionsServiceClient::new(ch)
                    .publish_submission(PublishSubmissionRequest { submission_id: id, embargo_until: None })
                    .await)
            }),
            manage_submission,
        ),
        (
            format!("{S}RetractSubmission"),
            call!(|f, ch, tag| {
                let id = owner_submission(&f.owner_submitter, "2020/21").await;
                ok(SubmissionsServiceClient::new(ch)
                    .retract_submission(RetractSubmissionRequest { submission_id: id, reason: "wrong extract".into() })
                    .await)
            }),
            manage_submission,
        ),
    ]
}

/// The benchmarking service's rows.
fn benchmarking_rows() -> Vec<Row> {
    vec![
        // Benchmarking: the calculator is stateless; everything else reads through the metric's
        // visibility, so A's private metric is hidden from B.
        (
            format!("{B}ComputeStatistics"),
            call!(|f, ch, tag| ok(BenchmarkingServiceClient::new(ch)
                .compute_statistics(ComputeStatisticsRequest {
                    value_type: ValueType::Proportion as i32,
                    multiplier: 100,
                    input: Some(compute_statistics_request::Input::Counts(CountInput {
                        numerator: 40.0,
                        denominator: Some(100.0),
                    })),
                    ..Default::default()
                })
                .await)),
            everyone,
        ),
        (
            format!("{B}CompareAreas"),
            call!(|f, ch, tag| ok(BenchmarkingServiceClient::new(ch)
                .compare_areas(CompareAreasRequest {
                    metric_code: PRIVATE_METRIC.into(),
                    period_code: "2022/23".into(),
                    area_type: AreaType::Lsoa as i32,
                    parent_area_code: "E08000015".into(),
                    ..Default::default()
                })
                .await)),
            own_or_national,
        ),
        (
            format!("{B}GetTrend"),
            call!(|f, ch, tag| ok(BenchmarkingServiceClient::new(ch)
                .get_trend(GetTrendRequest {
                    metric_code: PRIVATE_METRIC.into(),
                    area_code: WIRRAL_LSOA.into(),
                    ..Default::default()
                })
                .await)),
            own_or_national,
        ),
        (
            format!("{B}GetInequality"),
            call!(|f, ch, tag| ok(BenchmarkingServiceClient::new(ch)
                .get_inequality(GetInequalityRequest {
                    metric_code: PRIVATE_METRIC.into(),
                    area_code: WIRRAL_LSOA.into(),
                    period_code: "2022/23".into(),
                    dimension: "imd_decile".into(),
                    ..Default::default()
                })
                .await)),
            own_or_national,
        ),
        (
            format!("{B}GetAreaProfile"),
            call!(|f, ch, tag| ok(BenchmarkingServiceClient::new(ch)
                .get_area_profile(GetAreaProfileRequest {
                    // A district, not an LSOA: a profile compares every area of its type.
                    area_code: LIVERPOOL.into(),
                    period_code: "2022/23".into(),
                    tag: TAG.into(),
                    ..Default::default()
                })
                .await)),
            everyone,
        ),
    ]
}

/// The commitments service's rows.
fn commitments_rows() -> Vec<Row> {
    vec![
        // Commitments: A's members-only charter is hidden from B; A manages its own commitments.
        (
            format!("{C}CreateCharter"),
            call!(|f, ch, tag| ok(CommitmentsServiceClient::new(ch)
                .create_charter(CreateCharterRequest {
                    charter: Some(Charter {
                        code: format!("acc-charter-{tag}"),
                        name: "A charter".into(),
                        place_area_code: LIVERPOOL.into(),
                        visibility: CharterVisibility::Public as i32,
                        ..Default::default()
                    }),
                })
                .await)),
            |r, _| refused_unless(matches!(r, R::OrgAdmin | R::National), Code::PermissionDenied),
        ),
        (
            format!("{C}ListCharters"),
            call!(|f, ch, tag| ok(CommitmentsServiceClient::new(ch)
                .list_charters(ListChartersRequest::default())
                .await)),
            everyone,
        ),
        (
            format!("{C}AddCharterMember"),
            call!(|f, ch, tag| ok(CommitmentsServiceClient::new(ch)
                .add_charter_member(AddCharterMemberRequest {
                    charter_code: CHARTER.into(),
                    organisation_code: COUNCIL.into(),
                    role: CharterRole::Member as i32,
                })
                .await)),
            |r, o| match (r, o) {
                (R::National, _) | (R::OrgAdmin, Org::Own) => Expect::Pass,
                (_, Org::Own) => Expect::Refused(Code::PermissionDenied),
                (_, Org::Other) => Expect::Refused(Code::NotFound),
            },
        ),
        (
            format!("{C}CreateCommitment"),
            call!(|f, ch, tag| ok(CommitmentsServiceClient::new(ch)
                .create_commitment(CreateCommitmentRequest { commitment: Some(commitment_for("")) })
                .await)),
            |r, o| {
                refused_unless(
                    r == R::National || (o == Org::Own && matches!(r, R::Steward | R::OrgAdmin)),
                    Code::PermissionDenied,
                )
            },
        ),
        (
            format!("{C}GetCommitment"),
            call!(|f, ch, tag| ok(CommitmentsServiceClient::new(ch)
                .get_commitment(GetCommitmentRequest { commitment_id: f.commitment.clone() })
                .await)),
            own_or_national,
        ),
        (
            format!("{C}ListCommitments"),
            call!(|f, ch, tag| ok(CommitmentsServiceClient::new(ch)
                .list_commitments(ListCommitmentsRequest::default())
                .await)),
            everyone,
        ),
        (
            format!("{C}ReportProgress"),
            call!(|f, ch, tag| ok(CommitmentsServiceClient::new(ch)
                .report_progress(ReportProgressRequest {
                    commitment_id: f.commitment.clone(),
                    period_code: "2024/25-Q1".into(),
                    numerator: Some(12.0),
                    ..Default::default()
                })
                .await)),
            |r, o| match (r, o) {
                (R::National, _) | (R::Submitter | R::Steward | R::OrgAdmin, Org::Own) => Expect::Pass,
                (R::Reader, Org::Own) => Expect::Refused(Code::PermissionDenied),
                (_, Org::Other) => Expect::Refused(Code::NotFound),
            },
        ),
        (
            format!("{C}ListProgress"),
            call!(|f, ch, tag| ok(CommitmentsServiceClient::new(ch)
                .list_progress(ListProgressRequest { commitment_id: f.commitment.clone(), ..Default::default() })
                .await)),
            own_or_national,
        ),
        (
            format!("{C}GetCharterSummary"),
            call!(|f, ch, tag| ok(CommitmentsServiceClient::new(ch)
                .get_charter_summary(GetCharterSummaryRequest { charter_code: CHARTER.into(), ..Default::default() })
                .await)),
            own_or_national,
        ),
    ]
}

/// The access service's rows.
fn access_rows() -> Vec<Row> {
    vec![
        // Access: A's keys and audit log are its org admins' and national's.
        (
            format!("{A}WhoAmI"),
            call!(|f, ch, tag| ok(AccessServiceClient::new(ch).who_am_i(access::WhoAmIRequest {}).await)),
            everyone,
        ),
        (
            format!("{A}CreateApiKey"),
            call!(|f, ch, tag| ok(AccessServiceClient::new(ch)
                .create_api_key(access::CreateApiKeyRequest {
                    name: format!("acc-{tag}"),
                    roles: vec![access::Role::Reader as i32],
                    organisation_code: OWNER.into(),
                    expires_at: None,
                })
                .await)),
            key_admin,
        ),
        (
            format!("{A}ListApiKeys"),
            call!(|f, ch, tag| ok(AccessServiceClient::new(ch)
                .list_api_keys(access::ListApiKeysRequest { organisation_code: OWNER.into(), ..Default::default() })
                .await)),
            key_admin,
        ),
        (
            format!("{A}RevokeApiKey"),
            call!(|f, ch, tag| {
                let key = AccessServiceClient::new(f.admin.clone())
                    .create_api_key(access::CreateApiKeyRequest {
                        name: format!("acc-revoke-{tag}"),
                        roles: vec![access::Role::Reader as i32],
                        organisation_code: OWNER.into(),
                        expires_at: None,
                    })
                    .await?
                    .into_inner()
                    .api_key
                    .expect("a key");
                ok(AccessServiceClient::new(ch)
                    .revoke_api_key(access::RevokeApiKeyRequest { key_id: key.key_id })
                    .await)
            }),
            |r, o| match (r, o) {
                (R::National, _) | (R::OrgAdmin, Org::Own) => Expect::Pass,
                (_, Org::Own) => Expect::Refused(Code::PermissionDenied),
                // Another organisation's key looks missing, so key ids cannot be probed.
                (_, Org::Other) => Expect::Refused(Code::NotFound),
            },
        ),
        (
            format!("{A}ExplainAccess"),
            call!(|f, ch, tag| ok(AccessServiceClient::new(ch)
                .explain_access(ExplainAccessRequest {
                    action: Action::Read as i32,
                    resource_kind: ResourceKind::Metric as i32,
                    resource_code: PRIVATE_METRIC.into(),
                    ..Default::default()
                })
                .await)),
            everyone,
        ),
        (
            format!("{A}ListAuditEvents"),
            call!(|f, ch, tag| ok(AccessServiceClient::new(ch)
                .list_audit_events(access::ListAuditEventsRequest {
                    organisation_code: OWNER.into(),
                    ..Default::default()
                })
                .await)),
            key_admin,
        ),
    ]
}

/// Every row, service by service.
pub fn matrix() -> Vec<Row> {
    [definitions_rows(), submissions_rows(), benchmarking_rows(), commitments_rows(), access_rows()].concat()
}

/// Publishing or retracting A's submission: A's submitter and org admin, a steward of the
/// metric's owner (A), national; B does not see the draft.
fn manage_submission(role: R, org: Org) -> Expect {
    match (role, org) {
        (R::National, _) | (R::Submitter | R::OrgAdmin | R::Steward, Org::Own) => Expect::Pass,
        (R::Reader, Org::Own) => Expect::Refused(Code::PermissionDenied),
        (_, Org::Other) => Expect::Refused(Code::NotFound),
    }
}

/// A's keys and audit log: A's org admins and national.
fn key_admin(role: R, org: Org) -> Expect {
    refused_unless(role == R::National || (role == R::OrgAdmin && org == Org::Own), Code::PermissionDenied)
}

/// Every RPC of the five services, from the descriptor set the gateway serves.
fn every_rpc() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(sharedmetrics_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let mut rpcs = BTreeSet::new();
    for file in set.file {
        for service in &file.service {
            let full = format!("{}.{}", file.package(), service.name());
            if sharedmetrics_proto::SERVICE_NAMES.contains(&full.as_str()) {
                for method in &service.method {
                    rpcs.insert(format!("{full}/{}", method.name()));
                }
            }
        }
    }
    rpcs
}

fn outcome(result: &CallResult) -> Expect {
    match result {
        Ok(()) => Expect::Pass,
        Err(status) => match status.code() {
            Code::PermissionDenied | Code::NotFound | Code::Unauthenticated => Expect::Refused(status.code()),
            code => Expect::Failed(code),
        },
    }
}

#[test]
fn every_rpc_has_one_matrix_row() {
    let rows = matrix();
    let covered: BTreeSet<String> = rows.iter().map(|(name, _, _)| name.clone()).collect();
    let rpcs = every_rpc();
    let missing: Vec<&String> = rpcs.difference(&covered).collect();
    assert!(missing.is_empty(), "RPCs without a matrix row: {missing:?}");
    let stale: Vec<&String> = covered.difference(&rpcs).collect();
    assert!(stale.is_empty(), "matrix rows for RPCs the contract does not have: {stale:?}");
    assert_eq!(covered.len(), rows.len(), "one row per RPC");
}

/// Makes every call of `rows` as each role of both organisations and compares the outcome with
/// the row's expectation; `service` keeps the codes a cell creates apart from other services'.
async fn holds(fixture: &Fixture, service: &str, rows: Vec<Row>) {
    let mut wrong = Vec::new();
    let mut n = 0;
    for (name, call, expect) in &rows {
        for org in [Org::Own, Org::Other] {
            for role in R::ALL {
                n += 1;
                let role_name = format!("{role:?}").to_lowercase();
                let tag = format!("{service}-{role_name}-{}-{n}", org.code().to_lowercase());
                let channel = fixture.keys[&(role, org)].0.clone();
                let result = call(fixture, channel, tag).await;
                let got = outcome(&result);
                let want = expect(role, org);
                if got != want {
                    let detail = result.err().map(|s| format!("{:?}: {}", s.code(), s.message())).unwrap_or_default();
                    wrong
                        .push(format!("{name} as {role:?} of {}: expected {want:?}, got {got:?} {detail}", org.code()));
                }
            }
        }
    }
    assert_eq!(n, rows.len() * 10, "every RPC × five roles × two organisations");
    assert!(wrong.is_empty(), "{} of {n} decisions differ from the matrix:\n{}", wrong.len(), wrong.join("\n"));
}

pub async fn the_definitions_matrix_holds(scene: &Scene<Fixture>) {
    holds(&scene.fixture, "d", definitions_rows()).await;
}

pub async fn the_submissions_matrix_holds(scene: &Scene<Fixture>) {
    holds(&scene.fixture, "s", submissions_rows()).await;
}

pub async fn the_benchmarking_matrix_holds(scene: &Scene<Fixture>) {
    holds(&scene.fixture, "b", benchmarking_rows()).await;
}

pub async fn the_commitments_matrix_holds(scene: &Scene<Fixture>) {
    holds(&scene.fixture, "c", commitments_rows()).await;
}

pub async fn the_access_matrix_holds(scene: &Scene<Fixture>) {
    holds(&scene.fixture, "a", access_rows()).await;
}

/// The matrix's calls make resources of A's (drafts, submissions, keys) that the read-only
/// scenarios must not see, so they have a scene of their own.
static MATRIX: Suite<Fixture> = Suite::with_fixture(set_up);

sharedmetrics_e2e::scenarios!(MATRIX:
    the_definitions_matrix_holds,
    the_submissions_matrix_holds,
    the_benchmarking_matrix_holds,
    the_commitments_matrix_holds,
    the_access_matrix_holds,
);
