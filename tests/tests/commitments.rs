//! The commitments scenarios through the gateway, in both topologies, on PostgreSQL and on
//! SQLite: Liverpool's anchor charter with a trust (RBL) and the council (316) as members, two
//! years of quarterly progress whose statuses are worked by hand from the rule of
//! docs/commitments.md, the charter roll-up, refusals of another organisation (RBN), field errors,
//! and progress taken from a metric's published observations via the submissions service. Every
//! organisation calls with its own API key.

use sharedmetrics_e2e::{AuthChannel, BoxFuture, Sandbox, Scene, Suite, proportion};
use sharedmetrics_error::{ErrorCode, ServiceError};
use sharedmetrics_proto::sharedmetrics::access::v1 as access;
use sharedmetrics_proto::sharedmetrics::commitments::v1::commitments_service_client::CommitmentsServiceClient;
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, PeriodType, Polarity};
use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::{
    ObservationRow, PublishSubmissionRequest, SubmissionHeader, SubmissionMode, SubmitObservationsRequest,
};

use CommitmentStatus::{Achieved as A, AtRisk as R, OffTrack as X, OnTrack as O};

type Client = CommitmentsServiceClient<AuthChannel>;

/// Wirral University Teaching Hospital NHS Foundation Trust.
const TRUST: &str = "RBL";
/// Liverpool City Council.
const COUNCIL: &str = "316";
/// St Helens and Knowsley Teaching Hospitals NHS Trust: a member of none of the charters below.
const OTHER: &str = "RBN";
/// Liverpool local authority district.
const LIVERPOOL: &str = "E08000012";
/// Cheshire and Merseyside ICB.
const CHESHIRE_AND_MERSEYSIDE: &str = "E54000008";

/// The eight financial quarters of the scenario.
const QUARTERS: [&str; 8] =
    ["2024/25-Q1", "2024/25-Q2", "2024/25-Q3", "2024/25-Q4", "2025/26-Q1", "2025/26-Q2", "2025/26-Q3", "2025/26-Q4"];

/// Each organisation's own key (org_admin, steward, submitter and reader of that organisation).
struct Keys {
    trust: AuthChannel,
    council: AuthChannel,
    other: AuthChannel,
}

impl Keys {
    fn of(&self, organisation: &str) -> Client {
        let channel = match organisation {
            TRUST => &self.trust,
            COUNCIL => &self.council,
            OTHER => &self.other,
            other => panic!("no key for {other}"),
        };
        CommitmentsServiceClient::new(channel.clone())
    }
}

const ALL_ORG_ROLES: &[access::Role] =
    &[access::Role::OrgAdmin, access::Role::Steward, access::Role::Submitter, access::Role::Reader];

fn error(status: tonic::Status) -> ServiceError {
    ServiceError::from(status)
}

fn violations(error: &ServiceError) -> Vec<(String, String)> {
    error.violations.iter().map(|v| (v.field.clone(), v.reason.clone())).collect()
}

fn pair(field: &str, reason: &str) -> Vec<(String, String)> {
    vec![(field.to_owned(), reason.to_owned())]
}

fn boundary(code: &str) -> LocalDefinition {
    LocalDefinition { kind: Some(local_definition::Kind::BoundaryCode(code.to_owned())) }
}

fn areas(codes: &[&str]) -> LocalDefinition {
    LocalDefinition {
        kind: Some(local_definition::Kind::Areas(AreaList {
            area_codes: codes.iter().map(|c| (*c).to_owned()).collect(),
        })),
    }
}

fn commitment(
    charter: &str,
    template: &str,
    kind: CommitmentType,
    baseline: (f64, &str),
    target: (f64, &str),
) -> Commitment {
    Commitment {
        charter_code: charter.to_owned(),
        template_code: template.to_owned(),
        r#type: kind as i32,
        baseline: Some(Baseline { value: baseline.0, period_code: baseline.1.to_owned() }),
        target: Some(Target { value: target.0, date: target.1.to_owned() }),
        reporting_period_type: PeriodType::FinancialQuarter as i32,
        ..Default::default()
    }
}

async fn create_commitment(client: &mut Client, commitment: Commitment) -> Commitment {
    client
        .create_commitment(CreateCommitmentRequest { commitment: Some(commitment) })
        .await
        .unwrap_or_else(|e| panic!("the commitment is created: {}", error(e)))
        .into_inner()
        .commitment
        .expect("a commitment")
}

async fn report(
    client: &mut Client,
    id: &str,
    period: &str,
    numerator: f64,
    denominator: Option<f64>,
) -> Result<ReportProgressResponse, ServiceError> {
    client
        .report_progress(ReportProgressRequest {
            commitment_id: id.to_owned(),
            period_code: period.to_owned(),
            numerator: Some(numerator),
            denominator,
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(error)
}

async fn list_progress(client: &mut Client, id: &str, source: ProgressSource) -> Vec<Progress> {
    client
        .list_progress(ListProgressRequest {
            commitment_id: id.to_owned(),
            source: source as i32,
            ..Default::default()
        })
        .await
        .expect("progress is listed")
        .into_inner()
        .progress
}

/// Creates a Liverpool charter led by the council (with its own key), and the council adds the
/// trust as a member.
async fn liverpool_charter(keys: &Keys, code: &str, visibility: CharterVisibility) -> Charter {
    let template = |code: &str, kind: CommitmentType, metric: &str| CommitmentTemplate {
        code: code.to_owned(),
        r#type: kind as i32,
        title: format!("Liverpool anchor pledge: {code}"),
        metric_code: metric.to_owned(),
        ..Default::default()
    };
    let mut council = keys.of(COUNCIL);
    let created = council
        .create_charter(CreateCharterRequest {
            charter: Some(Charter {
                code: code.to_owned(),
                name: "Liverpool Anchor Charter".to_owned(),
                place_area_code: LIVERPOOL.to_owned(),
                description: "Liverpool's anchor institutions' shared pledge".to_owned(),
                visibility: visibility as i32,
                templates: vec![
                    CommitmentTemplate {
                        local_definition: Some(boundary(LIVERPOOL)),
                        target_value: Some(40.0),
                        target_date: "2026-03-31".to_owned(),
                        ..template("local-spend", CommitmentType::LocalSpend, "anchor-local-spend-share")
                    },
                    template(
                        "living-wage",
                        CommitmentType::RealLivingWageDirectStaff,
                        "anchor-real-living-wage-direct-staff",
                    ),
                    template("apprenticeships", CommitmentType::ApprenticeshipStarts, "anchor-apprenticeship-starts"),
                    template(
                        "core20-staff",
                        CommitmentType::StaffFromMostDeprivedAreas,
                        "anchor-staff-core20-residence",
                    ),
                    template("carbon", CommitmentType::CarbonAgainstBaseline, ""),
                ],
                ..Default::default()
            }),
        })
        .await
        .unwrap_or_else(|e| panic!("the council creates the charter: {}", error(e)))
        .into_inner()
        .charter
        .expect("a charter");
    let members: Vec<(&str, i32)> = created.members.iter().map(|m| (m.organisation_code.as_str(), m.role)).collect();
    assert_eq!(members, vec![(COUNCIL, CharterRole::Admin as i32)], "the creator is the first admin");
    let charter = council
        .add_charter_member(AddCharterMemberRequest {
            charter_code: code.to_owned(),
            organisation_code: TRUST.to_owned(),
            role: 0,
        })
        .await
        .unwrap_or_else(|e| panic!("the admin adds the trust: {}", error(e)))
        .into_inner()
        .charter
        .expect("a charter");
    let members: Vec<(&str, i32)> = charter.members.iter().map(|m| (m.organisation_code.as_str(), m.role)).collect();
    assert_eq!(members, vec![(COUNCIL, CharterRole::Admin as i32), (TRUST, CharterRole::Member as i32)]);
    charter
}

/// One commitment of the scenario: who makes it, each quarter's figures, and the expected value
/// (to 2 decimal places), tolerance and status the rule of docs/commitments.md gives them, worked by
/// hand (the same table as the service test, services/commitments/tests/service/two_years.rs).
struct Planned {
    who: &'static str,
    commitment: Commitment,
    numerators: [f64; 8],
    denominator: Option<f64>,
    expected: [f64; 8],
    tolerance: f64,
    statuses: [CommitmentStatus; 8],
}

fn planned(charter: &str) -> Vec<Planned> {
    let fq = "2026-03-31";
    vec![
        // RBL local spend, 30% → 40% by 31 March 2026: 730 days from the end of 2023/24, linear;
        // tolerance 10% of 10 = 1. Spend in pounds of £10m addressable a quarter.
        Planned {
            who: TRUST,
            commitment: Commitment {
                local_definition: Some(boundary(CHESHIRE_AND_MERSEYSIDE)),
                ..commitment(charter, "local-spend", CommitmentType::LocalSpend, (30.0, "2023/24"), (40.0, fq))
            },
            numerators: [
                3_150_000.0,
                3_200_000.0,
                3_400_000.0,
                3_450_000.0,
                3_650_000.0,
                3_700_000.0,
                3_900_000.0,
                4_050_000.0,
            ],
            denominator: Some(10_000_000.0),
            expected: [31.25, 32.51, 33.77, 35.0, 36.25, 37.51, 38.77, 40.0],
            tolerance: 1.0,
            statuses: [O, R, O, R, O, R, O, A],
        },
        // RBL real Living Wage, stepped: 95% from 2024/25, 98% from 2025/26, 100% on 31 March 2026
        // (the last day of 2025/26-Q4); tolerance 10% of 8 = 0.8. Staff of 6,000.
        Planned {
            who: TRUST,
            commitment: Commitment {
                trajectory: Some(Trajectory {
                    shape: TrajectoryShape::Stepped as i32,
                    points: vec![
                        TrajectoryPoint { period_code: "2024/25".into(), value: 95.0 },
                        TrajectoryPoint { period_code: "2025/26".into(), value: 98.0 },
                    ],
                    tolerance: None,
                }),
                evidence: vec![Evidence {
                    reference: "Living Wage Foundation accredited employer, accreditation 2023-0417".into(),
                    date: "2023-11-01".into(),
                    description: "Accreditation covering directly employed staff".into(),
                }],
                ..commitment(
                    charter,
                    "living-wage",
                    CommitmentType::RealLivingWageDirectStaff,
                    (92.0, "2023/24"),
                    (100.0, fq),
                )
            },
            numerators: [5_730.0, 5_700.0, 5_680.0, 5_720.0, 5_850.0, 5_900.0, 5_800.0, 5_880.0],
            denominator: Some(6_000.0),
            expected: [95.0, 95.0, 95.0, 95.0, 98.0, 98.0, 98.0, 100.0],
            tolerance: 0.8,
            statuses: [O, O, R, O, R, O, X, X],
        },
        // RBL apprenticeship starts, 20 a quarter → 30, linear; tolerance 1 (a start exactly 1
        // behind is at risk).
        Planned {
            who: TRUST,
            commitment: commitment(
                charter,
                "apprenticeships",
                CommitmentType::ApprenticeshipStarts,
                (20.0, "2023/24-Q4"),
                (30.0, fq),
            ),
            numerators: [22.0, 22.0, 24.0, 24.0, 27.0, 26.0, 29.0, 29.0],
            denominator: None,
            expected: [21.25, 22.51, 23.77, 25.0, 26.25, 27.51, 28.77, 30.0],
            tolerance: 1.0,
            statuses: [O, R, O, R, O, X, O, R],
        },
        // Council local spend within 15 km of its offices, 25% → 35%, tolerance 2. £20m a quarter.
        Planned {
            who: COUNCIL,
            commitment: Commitment {
                local_definition: Some(LocalDefinition {
                    kind: Some(local_definition::Kind::Radius(Radius {
                        postcode: "l2 2dh".into(),
                        radius_km: 15.0,
                        area_code: LIVERPOOL.into(),
                    })),
                }),
                trajectory: Some(Trajectory { tolerance: Some(2.0), ..Default::default() }),
                ..commitment(charter, "local-spend", CommitmentType::LocalSpend, (25.0, "2023/24"), (35.0, fq))
            },
            numerators: [
                5_000_000.0,
                5_600_000.0,
                5_600_000.0,
                5_500_000.0,
                6_300_000.0,
                6_300_000.0,
                6_400_000.0,
                6_500_000.0,
            ],
            denominator: Some(20_000_000.0),
            expected: [26.25, 27.51, 28.77, 30.0, 31.25, 32.51, 33.77, 35.0],
            tolerance: 2.0,
            statuses: [R, O, R, X, O, R, R, X],
        },
        // Council staff living in Core20 areas, 38% → 44% by 31 March 2027 (1,095 days);
        // tolerance 0.6. Staff of 8,000.
        Planned {
            who: COUNCIL,
            commitment: commitment(
                charter,
                "core20-staff",
                CommitmentType::StaffFromMostDeprivedAreas,
                (38.0, "2023/24-Q4"),
                (44.0, "2027-03-31"),
            ),
            numerators: [3_100.0, 3_110.0, 3_200.0, 3_150.0, 3_250.0, 3_260.0, 3_330.0, 3_380.0],
            denominator: Some(8_000.0),
            expected: [38.5, 39.0, 39.51, 40.0, 40.5, 41.0, 41.51, 42.0],
            tolerance: 0.6,
            statuses: [O, R, O, X, O, R, O, O],
        },
        // Council carbon, 10,000 tCO2e a quarter → 8,000 (low is good), tolerance 250.
        Planned {
            who: COUNCIL,
            commitment: Commitment {
                title: "Cut the council's carbon emissions by a fifth".into(),
                trajectory: Some(Trajectory { tolerance: Some(250.0), ..Default::default() }),
                ..commitment(
                    charter,
                    "carbon",
                    CommitmentType::CarbonAgainstBaseline,
                    (10_000.0, "2023/24-Q4"),
                    (8_000.0, fq),
                )
            },
            numerators: [9_700.0, 9_600.0, 9_550.0, 8_950.0, 8_900.0, 8_400.0, 8_300.0, 7_950.0],
            denominator: None,
            expected: [9_750.68, 9_498.63, 9_246.58, 9_000.0, 8_750.68, 8_498.63, 8_246.58, 8_000.0],
            tolerance: 250.0,
            statuses: [O, R, X, O, R, O, R, A],
        },
    ]
}

fn status(value: i32) -> CommitmentStatus {
    CommitmentStatus::try_from(value).unwrap_or(CommitmentStatus::Unspecified)
}

async fn a_place_charter_rolls_up_two_years_of_its_members_progress(scene: &Scene<Keys>) {
    let keys = &scene.fixture;
    let code = "liverpool-anchor-charter";
    liverpool_charter(keys, code, CharterVisibility::Public).await;
    let plans = planned(code);
    let mut created = Vec::new();
    for plan in &plans {
        let commitment = create_commitment(&mut keys.of(plan.who), plan.commitment.clone()).await;
        assert_eq!(commitment.organisation_code, plan.who, "the caller's organisation makes it");
        assert_eq!(commitment.status, CommitmentStatus::NoData as i32);
        created.push(commitment);
    }
    // Template defaults and type defaults were applied.
    assert_eq!(created[0].metric_code, "anchor-local-spend-share");
    assert_eq!((created[0].measure, created[0].unit.as_str()), (Measure::Percentage as i32, "%"));
    assert_eq!((created[2].measure, created[2].unit.as_str()), (Measure::Total as i32, "starts"));
    assert_eq!(
        (created[5].measure, created[5].polarity, created[5].unit.as_str()),
        (Measure::Total as i32, Polarity::LowIsGood as i32, "tCO2e")
    );
    let Some(local_definition::Kind::Radius(radius)) = created[3].local_definition.clone().and_then(|l| l.kind) else {
        panic!("the council's local spend is a radius")
    };
    assert_eq!(radius.postcode, "L2 2DH", "postcodes are stored in canonical form");

    // Two years of quarterly progress, each member with its own key.
    for (plan, made) in plans.iter().zip(&created) {
        let mut client = keys.of(plan.who);
        for (i, period) in QUARTERS.iter().enumerate() {
            let response = report(&mut client, &made.commitment_id, period, plan.numerators[i], plan.denominator)
                .await
                .unwrap_or_else(|e| panic!("{} {period}: {e}", made.title));
            let progress = response.progress.expect("the figure");
            let expected = progress.expected_value.expect("an expected value");
            assert!(
                (expected - plan.expected[i]).abs() < 0.005,
                "{} in {period}: expected {expected}, worked by hand {}",
                made.title,
                plan.expected[i]
            );
            assert_eq!(
                status(progress.status),
                plan.statuses[i],
                "{} in {period}: {:?} against {expected}",
                made.title,
                progress.value
            );
            assert_eq!(progress.source, ProgressSource::Reported as i32);
            assert_eq!(progress.local_definition, made.local_definition, "the definition of local is stored with it");
            let commitment = response.commitment.expect("the commitment, recomputed");
            assert_eq!(status(commitment.status), plan.statuses[i], "the latest figure sets the status");
            let assessment = commitment.status_assessment.expect("an assessment");
            assert_eq!(assessment.period_code, *period);
            let tolerance = assessment.tolerance.expect("the tolerance applied");
            assert!((tolerance - plan.tolerance).abs() < 1e-9, "{}: tolerance {tolerance}", made.title);
        }
    }

    // Real Living Wage figures carry the rates in force, from the versioned reference data.
    let living_wage = list_progress(&mut keys.of(TRUST), &created[1].commitment_id, ProgressSource::Unspecified).await;
    assert_eq!(living_wage.len(), 8);
    assert_eq!(living_wage[0].period_code, "2025/26-Q4", "newest first");
    for (figure, (uk, london)) in [(&living_wage[0], (13.45, 14.80)), (&living_wage[7], (12.60, 13.85))] {
        let rates: Vec<(&str, f64)> = figure.reference_values.iter().map(|r| (r.scope.as_str(), r.value)).collect();
        assert_eq!(rates, vec![("london", london), ("uk", uk)], "{}", figure.period_code);
        assert!(figure.reference_values.iter().all(|r| r.source == "Living Wage Foundation"));
    }

    // Each commitment's status is its latest quarter's, readable by anyone on a public charter.
    for (plan, made) in plans.iter().zip(&created) {
        let got = keys
            .of(OTHER)
            .get_commitment(GetCommitmentRequest { commitment_id: made.commitment_id.clone() })
            .await
            .expect("a public charter's commitments are readable by all")
            .into_inner()
            .commitment
            .unwrap();
        assert_eq!(status(got.status), plan.statuses[7], "{}", got.title);
        let assessment = got.status_assessment.unwrap();
        assert_eq!(assessment.period_code, "2025/26-Q4");
        assert!(!assessment.explanation.is_empty());
    }
    let off_track = keys
        .of(COUNCIL)
        .list_commitments(ListCommitmentsRequest {
            charter_code: code.into(),
            status: CommitmentStatus::OffTrack as i32,
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .commitments;
    let mut off_track: Vec<&str> = off_track.iter().map(|c| c.commitment_id.as_str()).collect();
    off_track.sort();
    let mut expected = vec![created[1].commitment_id.as_str(), created[3].commitment_id.as_str()];
    expected.sort();
    assert_eq!(off_track, expected, "the trust's living wage and the council's local spend end off track");

    // The roll-up of every quarter equals the sum of the members' numerators and denominators.
    let type_order = [
        CommitmentType::LocalSpend,
        CommitmentType::RealLivingWageDirectStaff,
        CommitmentType::StaffFromMostDeprivedAreas,
        CommitmentType::ApprenticeshipStarts,
        CommitmentType::CarbonAgainstBaseline,
    ]
    .map(|t| t as i32);
    for (i, period) in QUARTERS.iter().enumerate() {
        let summary = keys
            .of(TRUST)
            .get_charter_summary(GetCharterSummaryRequest { charter_code: code.into(), period_code: (*period).into() })
            .await
            .expect("members read the summary")
            .into_inner();
        assert_eq!(summary.period_code, *period);
        assert_eq!(summary.charter_name, "Liverpool Anchor Charter");
        let types: Vec<i32> = summary.types.iter().map(|t| t.r#type).collect();
        assert_eq!(types, type_order, "one group per type, in type order");
        for group in &summary.types {
            let members: Vec<&Planned> = plans.iter().filter(|p| p.commitment.r#type == group.r#type).collect();
            let numerator: f64 = members.iter().map(|p| p.numerators[i]).sum();
            let denominator: Option<f64> = members.iter().map(|p| p.denominator).sum();
            assert_eq!((group.member_count, group.reporting_count), (members.len() as u32, members.len() as u32));
            assert_eq!(group.numerator, Some(numerator), "{period} type {}", group.r#type);
            assert_eq!(group.denominator, denominator, "{period} type {}", group.r#type);
            let pooled = denominator.map_or(numerator, |d| 100.0 * numerator / d);
            assert!((group.pooled_value.unwrap() - pooled).abs() < 1e-9, "{period} type {}", group.r#type);
            let member_sum: f64 = group.members.iter().map(|m| m.numerator.unwrap()).sum();
            assert_eq!(Some(member_sum), group.numerator, "the members listed add up to the total");
            for member in &group.members {
                let plan = members.iter().find(|p| p.who == member.organisation_code).expect("a planned member");
                assert_eq!(member.period_code, *period);
                assert_eq!((member.numerator, member.denominator), (Some(plan.numerators[i]), plan.denominator));
                assert_eq!(status(member.status), plan.statuses[i], "{} {period}", member.organisation_code);
            }
        }
        let local = &summary.types[0];
        assert_eq!(local.numerator, Some(plans[0].numerators[i] + plans[3].numerators[i]));
        assert_eq!(local.denominator, Some(30_000_000.0));
        let definitions: Vec<(&str, Option<&LocalDefinition>)> =
            local.members.iter().map(|m| (m.organisation_code.as_str(), m.local_definition.as_ref())).collect();
        assert_eq!(
            definitions,
            vec![(COUNCIL, created[3].local_definition.as_ref()), (TRUST, created[0].local_definition.as_ref())]
        );
    }
    let latest = keys
        .of(OTHER)
        .get_charter_summary(GetCharterSummaryRequest { charter_code: code.into(), period_code: String::new() })
        .await
        .expect("a public charter's summary is readable by all")
        .into_inner();
    assert_eq!(latest.period_code, "2025/26-Q4", "the latest period any member reported");
    assert_eq!(latest.types[0].numerator, Some(4_050_000.0 + 6_500_000.0));
    assert_eq!(latest.types[0].denominator, Some(30_000_000.0));
    assert_eq!(latest.types[3].numerator, Some(29.0), "only the trust counts apprenticeship starts");
    assert_eq!(latest.types[3].denominator, None, "a total has no denominator");
}

async fn another_organisation_is_refused_when_it_edits_a_members_commitment(scene: &Scene<Keys>) {
    let (keys, sandbox) = (&scene.fixture, &scene.sandbox);
    let code = "liverpool-refusals";
    liverpool_charter(keys, code, CharterVisibility::Public).await;
    let plan = &planned(code)[0];
    let made = create_commitment(&mut keys.of(TRUST), plan.commitment.clone()).await;
    report(&mut keys.of(TRUST), &made.commitment_id, "2024/25-Q1", 3_150_000.0, Some(10_000_000.0))
        .await
        .expect("the trust reports its own");

    let refused =
        report(&mut keys.of(OTHER), &made.commitment_id, "2024/25-Q1", 1.0, Some(10_000_000.0)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::PermissionDenied, "{refused}");
    assert!(refused.message.contains("only its own commitments"), "{}", refused.message);
    let refused =
        report(&mut keys.of(COUNCIL), &made.commitment_id, "2024/25-Q1", 1.0, Some(10_000_000.0)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::PermissionDenied, "a fellow member, even the charter admin: {refused}");

    let on_behalf = Commitment { organisation_code: TRUST.into(), ..plan.commitment.clone() };
    let refused = keys
        .of(OTHER)
        .create_commitment(CreateCommitmentRequest { commitment: Some(on_behalf) })
        .await
        .map_err(error)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::PermissionDenied, "{refused}");
    assert!(refused.message.contains("only its own commitments"), "{}", refused.message);

    let progress = list_progress(&mut keys.of(TRUST), &made.commitment_id, ProgressSource::Unspecified).await;
    assert_eq!(
        progress.iter().map(|p| (p.period_code.as_str(), p.numerator)).collect::<Vec<_>>(),
        vec![("2024/25-Q1", Some(3_150_000.0))],
        "the refused edits changed nothing"
    );
    let listed = keys
        .of(TRUST)
        .list_commitments(ListCommitmentsRequest { charter_code: code.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .commitments;
    assert_eq!(listed.len(), 1, "no commitment was made on the trust's behalf");

    // Its own commitment in a charter it is not a member of is refused by field.
    let refused = keys
        .of(OTHER)
        .create_commitment(CreateCommitmentRequest { commitment: Some(plan.commitment.clone()) })
        .await
        .map_err(error)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidArgument);
    assert_eq!(violations(&refused), pair("commitment.charter_code", "NOT_A_MEMBER"));

    for who in [TRUST, OTHER] {
        let refused = keys
            .of(who)
            .add_charter_member(AddCharterMemberRequest {
                charter_code: code.into(),
                organisation_code: OTHER.into(),
                role: 0,
            })
            .await
            .map_err(error)
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::PermissionDenied, "only charter admins manage membership: {who}");
    }

    let mut reader = CommitmentsServiceClient::new(sandbox.key(TRUST, &[access::Role::Reader]).await);
    let refused = report(&mut reader, &made.commitment_id, "2024/25-Q2", 1.0, Some(2.0)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::PermissionDenied, "a reader of the organisation reports nothing");
}

async fn bad_input_names_the_field_at_fault(scene: &Scene<Keys>) {
    let keys = &scene.fixture;
    let code = "liverpool-bad-input";
    liverpool_charter(keys, code, CharterVisibility::Public).await;
    let valid = planned(code).remove(0).commitment;
    let mut trust = keys.of(TRUST);
    for (case, commitment, expected) in [
        (
            "a target date before the end of the baseline period",
            Commitment { target: Some(Target { value: 40.0, date: "2024-01-31".into() }), ..valid.clone() },
            pair("commitment.target.date", "TARGET_BEFORE_BASELINE"),
        ),
        (
            "a percentage target above 100",
            Commitment { target: Some(Target { value: 140.0, date: "2026-03-31".into() }), ..valid.clone() },
            pair("commitment.target.value", "PERCENTAGE_ABOVE_100"),
        ),
        (
            "an unknown metric",
            Commitment { metric_code: "anchor-no-such-metric".into(), ..valid.clone() },
            pair("commitment.metric_code", "UNKNOWN_METRIC"),
        ),
        (
            "an unknown area, second in the list",
            Commitment { local_definition: Some(areas(&[LIVERPOOL, "E08999999"])), ..valid.clone() },
            pair("commitment.local_definition.areas.area_codes[1]", "UNKNOWN_AREA"),
        ),
        (
            "an LSOA as a boundary",
            Commitment { local_definition: Some(boundary("E01000001")), ..valid.clone() },
            pair("commitment.local_definition.boundary_code", "WRONG_AREA_TYPE"),
        ),
    ] {
        let refused = trust
            .create_commitment(CreateCommitmentRequest { commitment: Some(commitment) })
            .await
            .map_err(error)
            .expect_err(case);
        assert_eq!(refused.code, ErrorCode::InvalidArgument, "{case}: {refused}");
        assert_eq!(violations(&refused), expected, "{case}");
    }

    let made = create_commitment(&mut trust, valid).await;
    for (period, reason) in [
        ("2023/24-Q4", "PERIOD_OUTSIDE_COMMITMENT"),
        ("2026/27-Q1", "PERIOD_OUTSIDE_COMMITMENT"),
        ("2024/25", "WRONG_PERIOD_TYPE"),
        ("2024-Q1", "WRONG_PERIOD_TYPE"),
        ("2024/25-Q9", "INVALID_PERIOD"),
    ] {
        let refused = report(&mut trust, &made.commitment_id, period, 1.0, Some(2.0)).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidArgument, "{period}");
        assert_eq!(violations(&refused), pair("period_code", reason), "{period}");
    }
    let refused =
        report(&mut trust, &made.commitment_id, "2024/25-Q1", 12_000_000.0, Some(10_000_000.0)).await.unwrap_err();
    assert_eq!(violations(&refused), pair("numerator", "PERCENTAGE_ABOVE_100"));
    let refused = report(&mut trust, &made.commitment_id, "2024/25-Q1", 1.0, None).await.unwrap_err();
    assert_eq!(violations(&refused), pair("denominator", "REQUIRED"), "a network adds numerators and denominators up");
    let refused = trust
        .report_progress(ReportProgressRequest {
            commitment_id: made.commitment_id.clone(),
            period_code: "2024/25-Q1".into(),
            numerator: Some(3_150_000.0),
            denominator: Some(10_000_000.0),
            value: Some(35.0),
            ..Default::default()
        })
        .await
        .map_err(error)
        .unwrap_err();
    assert_eq!(violations(&refused), pair("value", "VALUE_INCONSISTENT"), "31.5% is not 35%");
    assert!(
        list_progress(&mut trust, &made.commitment_id, ProgressSource::Unspecified).await.is_empty(),
        "no refused report was recorded"
    );

    let mut council = keys.of(COUNCIL);
    let refused = council
        .add_charter_member(AddCharterMemberRequest {
            charter_code: code.into(),
            organisation_code: "ZZZ99".into(),
            role: 0,
        })
        .await
        .map_err(error)
        .unwrap_err();
    assert_eq!(violations(&refused), pair("organisation_code", "UNKNOWN_ORGANISATION"));
    let refused = council
        .create_charter(CreateCharterRequest {
            charter: Some(Charter {
                code: "nowhere-charter".into(),
                name: "Nowhere".into(),
                place_area_code: "E08999999".into(),
                visibility: CharterVisibility::Public as i32,
                ..Default::default()
            }),
        })
        .await
        .map_err(error)
        .unwrap_err();
    assert_eq!(violations(&refused), pair("charter.place_area_code", "UNKNOWN_AREA"));
}

async fn progress_is_taken_from_the_trusts_published_observations(scene: &Scene<Keys>) {
    let (keys, sandbox) = (&scene.fixture, &scene.sandbox);
    let metric = "e2e-anchor-sme-spend-share";
    let spec = MetricVersionSpec {
        title: "Anchor: share of addressable spend with SMEs (end-to-end test)".into(),
        period_type: PeriodType::FinancialQuarter as i32,
        area_types: vec![AreaType::Organisation as i32],
        dimensions: vec![],
        ..proportion(metric)
    };
    sandbox.define(spec, true).await;

    let made = create_commitment(
        &mut keys.of(TRUST),
        Commitment {
            r#type: CommitmentType::SmeSpend as i32,
            title: "Spend a third of addressable spend with SMEs".into(),
            metric_code: metric.into(),
            ..commitment("", "", CommitmentType::SmeSpend, (25.0, "2023/24"), (35.0, "2026-03-31"))
        },
    )
    .await;
    assert_eq!(made.organisation_code, TRUST);
    assert_eq!(
        (made.measure, made.polarity),
        (Measure::Percentage as i32, Polarity::HighIsGood as i32),
        "the metric's"
    );

    // The trust's submitter reports from the observations: none yet, then its published one.
    let submitter = sandbox.key(TRUST, &[access::Role::Submitter]).await;
    let mut reporter = CommitmentsServiceClient::new(submitter.clone());
    let from_observations = |period: &str| ReportProgressRequest {
        commitment_id: made.commitment_id.clone(),
        period_code: period.to_owned(),
        from_metric_observations: true,
        ..Default::default()
    };
    let none = reporter.report_progress(from_observations("2024/25-Q1")).await.map_err(error).unwrap_err();
    assert_eq!(none.code, ErrorCode::NotFound, "no observation, no figure: {none}");

    let mut submissions = SubmissionsServiceClient::new(submitter);
    let receipt = submissions
        .submit_observations(SubmitObservationsRequest {
            header: Some(SubmissionHeader {
                metric_code: metric.into(),
                mode: SubmissionMode::Merge as i32,
                source_system: "e2e".into(),
                ..Default::default()
            }),
            rows: vec![ObservationRow {
                area_code: TRUST.into(),
                period_code: "2024/25-Q1".into(),
                numerator: Some(2_750_000.0),
                denominator: Some(10_000_000.0),
                ..Default::default()
            }],
        })
        .await
        .unwrap_or_else(|e| panic!("the trust submits: {}", error(e)))
        .into_inner()
        .receipt
        .expect("a receipt");
    assert!(receipt.committed && receipt.rejections.is_empty(), "{:?}", receipt.rejections);
    assert_eq!(receipt.counts.unwrap_or_default().created, 1);
    submissions
        .publish_submission(PublishSubmissionRequest {
            submission_id: receipt.submission_id.clone(),
            embargo_until: None,
        })
        .await
        .unwrap_or_else(|e| panic!("the trust publishes: {}", error(e)));

    let response = reporter
        .report_progress(from_observations("2024/25-Q1"))
        .await
        .unwrap_or_else(|e| panic!("progress is derived: {}", error(e)))
        .into_inner();
    let figure = response.progress.expect("the figure");
    assert_eq!(
        (figure.numerator, figure.denominator, figure.value),
        (Some(2_750_000.0), Some(10_000_000.0), Some(27.5)),
        "the figures are the observation's"
    );
    assert_eq!(figure.source, ProgressSource::MetricObservations as i32);
    assert!(figure.reported_by.is_empty(), "a derived figure has no reporter");
    assert_eq!(figure.data_version, receipt.data_version, "the data version of the observation it came from");
    // 25% → 35% over 730 days expects 26.25 at the end of 2024/25-Q1; 27.5 is on track.
    assert!((figure.expected_value.unwrap() - 26.25).abs() < 0.005);
    assert_eq!(status(figure.status), O);
    assert_eq!(status(response.commitment.unwrap().status), O);

    let derived = list_progress(&mut keys.of(TRUST), &made.commitment_id, ProgressSource::MetricObservations).await;
    assert_eq!(derived.len(), 1);
    assert_eq!(derived[0].numerator, Some(2_750_000.0));
    assert!(
        list_progress(&mut keys.of(TRUST), &made.commitment_id, ProgressSource::Reported).await.is_empty(),
        "nothing was reported by hand"
    );

    let conflicting = reporter
        .report_progress(ReportProgressRequest { numerator: Some(1.0), ..from_observations("2024/25-Q2") })
        .await
        .map_err(error)
        .unwrap_err();
    assert_eq!(violations(&conflicting), pair("from_metric_observations", "CONFLICTS_WITH_FIGURES"));
    let hidden = keys.of(OTHER).report_progress(from_observations("2024/25-Q1")).await.map_err(error).unwrap_err();
    assert_eq!(hidden.code, ErrorCode::NotFound, "a stand-alone commitment is its organisation's: {hidden}");
}

/// Each organisation's key, made once per scene.
fn set_up(sandbox: &Sandbox) -> BoxFuture<'_, Keys> {
    Box::pin(async move {
        Keys {
            trust: sandbox.key(TRUST, ALL_ORG_ROLES).await,
            council: sandbox.key(COUNCIL, ALL_ORG_ROLES).await,
            other: sandbox.key(OTHER, ALL_ORG_ROLES).await,
        }
    })
}

static SUITE: Suite<Keys> = Suite::with_fixture(set_up);

sharedmetrics_e2e::scenarios!(SUITE:
    a_place_charter_rolls_up_two_years_of_its_members_progress,
    another_organisation_is_refused_when_it_edits_a_members_commitment,
    bad_input_names_the_field_at_fault,
    progress_is_taken_from_the_trusts_published_observations,
);
