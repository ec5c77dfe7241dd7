//! The charter of the issue: Liverpool's anchor charter with a trust and a council as members,
//! three commitments each, two years of quarterly progress whose statuses are worked by hand from
//! the rule of docs/commitments.md, and a roll-up equal to the members' sums every quarter.

use sharedmetrics_access::Principal;
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;

use crate::harness::*;

/// Creates a public charter for Liverpool led by the council, with the trust as a member.
pub async fn liverpool_charter(h: &Harness, code: &str, visibility: CharterVisibility) -> Charter {
    let template = |code: &str, kind: CommitmentType, metric: &str| CommitmentTemplate {
        code: code.to_owned(),
        r#type: kind as i32,
        title: format!("Liverpool anchor pledge: {code}"),
        metric_code: metric.to_owned(),
        ..Default::default()
    };
    let created = h
        .service
        .create_charter(
            &council(),
            CreateCharterRequest {
                charter: Some(Charter {
                    code: code.to_owned(),
                    name: "Liverpool Anchor Charter".to_owned(),
                    place_area_code: "E08000012".to_owned(),
                    description: "Liverpool's anchor institutions' shared pledge".to_owned(),
                    visibility: visibility as i32,
                    templates: vec![
                        CommitmentTemplate {
                            local_definition: Some(boundary("E08000012")),
                            target_value: Some(40.0),
                            target_date: "2026-03-31".to_owned(),
                            ..template("local-spend", CommitmentType::LocalSpend, "anchor-local-spend-share")
                        },
                        template(
                            "living-wage",
                            CommitmentType::RealLivingWageDirectStaff,
                            "anchor-real-living-wage-direct-staff",
                        ),
                        template(
                            "apprenticeships",
                            CommitmentType::ApprenticeshipStarts,
                            "anchor-apprenticeship-starts",
                        ),
                        template(
                            "core20-staff",
                            CommitmentType::StaffFromMostDeprivedAreas,
                            "anchor-staff-core20-residence",
                        ),
                        template("carbon", CommitmentType::CarbonAgainstBaseline, ""),
                    ],
                    ..Default::default()
                }),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the council creates the charter: {e}"))
        .charter
        .expect("a charter");
    assert_eq!(created.members.len(), 1);
    assert_eq!(
        (created.members[0].organisation_code.as_str(), created.members[0].role),
        ("316", CharterRole::Admin as i32)
    );
    let charter = h
        .service
        .add_charter_member(
            &council(),
            AddCharterMemberRequest { charter_code: code.to_owned(), organisation_code: "RBL".to_owned(), role: 0 },
        )
        .await
        .expect("the admin adds the trust")
        .charter
        .expect("a charter");
    let members: Vec<(&str, i32)> = charter.members.iter().map(|m| (m.organisation_code.as_str(), m.role)).collect();
    assert_eq!(members, vec![("316", CharterRole::Admin as i32), ("RBL", CharterRole::Member as i32)]);
    charter
}

/// One commitment of the scenario: who makes it, and each quarter's figures with the status the
/// rule gives them (worked by hand in the comments).
pub struct Planned {
    pub who: Principal,
    pub commitment: Commitment,
    pub numerators: [f64; 8],
    pub denominator: Option<f64>,
    pub statuses: [CommitmentStatus; 8],
}

use sharedmetrics_proto::sharedmetrics::commitments::v1::CommitmentStatus::{
    Achieved as A, AtRisk as R, OffTrack as X, OnTrack as O,
};

pub fn planned(charter: &str) -> Vec<Planned> {
    let fq = "2026-03-31";
    vec![
        // RBL local spend, 30% → 40% by 31 March 2026; expects 31.25, 32.51, 33.77, 35, 36.25, 37.51,
        // 38.77, 40 (730 days, linear); tolerance 1. Spend in pounds of £10m addressable a quarter.
        Planned {
            who: trust(),
            commitment: Commitment {
                local_definition: Some(boundary("E54000008")),
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
            statuses: [O, R, O, R, O, R, O, A],
        },
        // RBL real Living Wage, stepped: 95% in 2024/25, 98% in 2025/26, 100% from 31 March 2026;
        // tolerance 0.8. Staff of 6,000.
        Planned {
            who: trust(),
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
            statuses: [O, O, R, O, R, O, X, X],
        },
        // RBL apprenticeship starts, 20 a quarter → 30; expects 21.25, 22.51, 23.77, 25, 26.25,
        // 27.51, 28.77, 30; tolerance 1 (a start exactly 1 behind is at risk).
        Planned {
            who: trust(),
            commitment: commitment(
                charter,
                "apprenticeships",
                CommitmentType::ApprenticeshipStarts,
                (20.0, "2023/24-Q4"),
                (30.0, fq),
            ),
            numerators: [22.0, 22.0, 24.0, 24.0, 27.0, 26.0, 29.0, 29.0],
            denominator: None,
            statuses: [O, R, O, R, O, X, O, R],
        },
        // Council local spend within 15 km of its offices, 25% → 35%, tolerance 2; expects 26.25,
        // 27.51, 28.77, 30, 31.25, 32.51, 33.77, 35. £20m addressable a quarter.
        Planned {
            who: council(),
            commitment: Commitment {
                local_definition: Some(LocalDefinition {
                    kind: Some(local_definition::Kind::Radius(Radius {
                        postcode: "l2 2dh".into(),
                        radius_km: 15.0,
                        area_code: "E08000012".into(),
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
            statuses: [R, O, R, X, O, R, R, X],
        },
        // Council staff living in Core20 areas, 38% → 44% by 31 March 2027 (1,095 days); expects
        // 38.50, 39.00, 39.51, 40, 40.50, 41.00, 41.51, 42; tolerance 0.6. Staff of 8,000.
        Planned {
            who: council(),
            commitment: commitment(
                charter,
                "core20-staff",
                CommitmentType::StaffFromMostDeprivedAreas,
                (38.0, "2023/24-Q4"),
                (44.0, "2027-03-31"),
            ),
            numerators: [3_100.0, 3_110.0, 3_200.0, 3_150.0, 3_250.0, 3_260.0, 3_330.0, 3_380.0],
            denominator: Some(8_000.0),
            statuses: [O, R, O, X, O, R, O, O],
        },
        // Council carbon, 10,000 tCO2e a quarter → 8,000 (low is good), tolerance 250; expects
        // 9,750.7, 9,498.6, 9,246.6, 9,000, 8,750.7, 8,498.6, 8,246.6, 8,000.
        Planned {
            who: council(),
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
            statuses: [O, R, X, O, R, O, R, A],
        },
    ]
}

pub async fn a_place_charter_rolls_up_two_years_of_its_members_progress(h: &Harness) {
    let code = "liverpool-anchor-charter";
    liverpool_charter(h, code, CharterVisibility::Public).await;
    let plans = planned(code);
    let mut ids = Vec::new();
    for plan in &plans {
        let created = create_commitment(h, &plan.who, plan.commitment.clone()).await;
        assert_eq!(created.organisation_code, plan.who.organisation);
        assert_eq!(created.status, CommitmentStatus::NoData as i32);
        ids.push(created);
    }
    // Template defaults and type defaults were applied.
    assert_eq!(ids[0].metric_code, "anchor-local-spend-share");
    assert_eq!((ids[0].measure, ids[0].unit.as_str()), (Measure::Percentage as i32, "%"));
    assert_eq!((ids[2].measure, ids[2].unit.as_str()), (Measure::Total as i32, "starts"));
    let polarity = sharedmetrics_proto::sharedmetrics::common::v1::Polarity::LowIsGood as i32;
    assert_eq!((ids[5].measure, ids[5].polarity, ids[5].unit.as_str()), (Measure::Total as i32, polarity, "tCO2e"));
    let Some(local_definition::Kind::Radius(radius)) = ids[3].local_definition.clone().and_then(|l| l.kind) else {
        panic!("the council's local spend is a radius")
    };
    assert_eq!(radius.postcode, "L2 2DH", "postcodes are stored in canonical form");

    for (plan, created) in plans.iter().zip(&ids) {
        for (i, period) in quarters().iter().enumerate() {
            let response =
                report(h, &plan.who, &created.commitment_id, &period.to_string(), plan.numerators[i], plan.denominator)
                    .await
                    .unwrap_or_else(|e| panic!("{} {period}: {e}", created.title));
            let progress = response.progress.expect("the figure");
            assert_eq!(
                CommitmentStatus::try_from(progress.status),
                Ok(plan.statuses[i]),
                "{} in {period}: {:?} against {:?}",
                created.title,
                progress.value,
                progress.expected_value
            );
            let commitment = response.commitment.expect("the commitment, recomputed");
            assert_eq!(commitment.status, plan.statuses[i] as i32, "the latest figure sets the status");
        }
    }

    // Expected values follow the documented straight line (checked on the two linear local-spend ones).
    for (plan, created) in
        plans.iter().zip(&ids).filter(|(p, _)| p.commitment.r#type == CommitmentType::LocalSpend as i32)
    {
        let progress = h
            .service
            .list_progress(
                &plan.who,
                ListProgressRequest { commitment_id: created.commitment_id.clone(), ..Default::default() },
            )
            .await
            .expect("progress is listed")
            .progress;
        assert_eq!(progress.len(), 8);
        assert_eq!(progress[0].period_code, "2025/26-Q4", "newest first");
        let baseline = plan.commitment.baseline.as_ref().unwrap().value;
        let target = plan.commitment.target.as_ref().unwrap().value;
        for figure in &progress {
            let period = Period::parse(&figure.period_code).unwrap();
            let expected = linear_expectation(baseline, day("2024-03-31"), target, day("2026-03-31"), &period);
            assert!(
                (figure.expected_value.unwrap() - expected).abs() < 1e-9,
                "{period}: {:?} vs {expected}",
                figure.expected_value
            );
            assert_eq!(
                figure.local_definition, created.local_definition,
                "the definition of local is stored with every figure"
            );
            assert_eq!(figure.source, ProgressSource::Reported as i32);
        }
    }

    // Real Living Wage figures carry the rates in force, from the versioned reference data.
    let living_wage = h
        .service
        .list_progress(
            &trust(),
            ListProgressRequest { commitment_id: ids[1].commitment_id.clone(), ..Default::default() },
        )
        .await
        .expect("listed")
        .progress;
    for (figure, (uk, london)) in [(&living_wage[0], (13.45, 14.80)), (&living_wage[7], (12.60, 13.85))] {
        let rates: Vec<(&str, f64, u32)> =
            figure.reference_values.iter().map(|r| (r.scope.as_str(), r.value, r.data_version)).collect();
        assert_eq!(rates, vec![("london", london, 1), ("uk", uk, 1)], "{}", figure.period_code);
        assert!(figure.reference_values.iter().all(|r| r.source == "Living Wage Foundation"));
    }

    // Each commitment's status is its latest quarter's.
    for (plan, created) in plans.iter().zip(&ids) {
        let got = h
            .service
            .get_commitment(&other_trust(), GetCommitmentRequest { commitment_id: created.commitment_id.clone() })
            .await
            .expect("a public charter's commitments are readable by all")
            .commitment
            .unwrap();
        assert_eq!(got.status, plan.statuses[7] as i32, "{}", got.title);
        let assessment = got.status_assessment.unwrap();
        assert_eq!(assessment.period_code, "2025/26-Q4");
        assert!(!assessment.explanation.is_empty());
    }
    let off_track = h
        .service
        .list_commitments(
            &national(),
            ListCommitmentsRequest {
                charter_code: code.into(),
                status: CommitmentStatus::OffTrack as i32,
                ..Default::default()
            },
        )
        .await
        .expect("listed")
        .commitments;
    let mut off_track: Vec<&str> = off_track.iter().map(|c| c.commitment_id.as_str()).collect();
    off_track.sort();
    let mut expected = vec![ids[1].commitment_id.as_str(), ids[3].commitment_id.as_str()];
    expected.sort();
    assert_eq!(off_track, expected);

    // The roll-up of every quarter equals the sum of the members' numerators and denominators.
    for (i, period) in quarters().iter().enumerate() {
        let summary = h
            .service
            .get_charter_summary(
                &trust(),
                GetCharterSummaryRequest { charter_code: code.into(), period_code: period.to_string() },
            )
            .await
            .expect("members read the summary");
        assert_eq!(summary.period_code, period.to_string());
        let types: Vec<i32> = summary.types.iter().map(|t| t.r#type).collect();
        assert_eq!(
            types,
            [
                CommitmentType::LocalSpend,
                CommitmentType::RealLivingWageDirectStaff,
                CommitmentType::StaffFromMostDeprivedAreas,
                CommitmentType::ApprenticeshipStarts,
                CommitmentType::CarbonAgainstBaseline
            ]
            .map(|t| t as i32)
        );
        for group in &summary.types {
            let members: Vec<&Planned> = plans.iter().filter(|p| p.commitment.r#type == group.r#type).collect();
            let numerator: f64 = members.iter().map(|p| p.numerators[i]).sum();
            let denominator: Option<f64> = members.iter().map(|p| p.denominator).sum();
            assert_eq!((group.member_count, group.reporting_count), (members.len() as u32, members.len() as u32));
            assert_eq!(group.numerator, Some(numerator), "{period} type {}", group.r#type);
            assert_eq!(group.denominator, denominator, "{period} type {}", group.r#type);
            let pooled = denominator.map_or(numerator, |d| 100.0 * numerator / d);
            assert!((group.pooled_value.unwrap() - pooled).abs() < 1e-9);
            let member_sum: f64 = group.members.iter().map(|m| m.numerator.unwrap()).sum();
            assert_eq!(Some(member_sum), group.numerator, "the members listed add up to the total");
            for member in &group.members {
                let plan = members.iter().find(|p| p.who.organisation == member.organisation_code).unwrap();
                assert_eq!(member.status, plan.statuses[i] as i32, "{} {period}", member.organisation_code);
            }
        }
        let local = &summary.types[0];
        let definitions: Vec<(&str, Option<&LocalDefinition>)> =
            local.members.iter().map(|m| (m.organisation_code.as_str(), m.local_definition.as_ref())).collect();
        assert_eq!(
            definitions,
            vec![("316", ids[3].local_definition.as_ref()), ("RBL", ids[0].local_definition.as_ref())]
        );
    }
    let latest = h
        .service
        .get_charter_summary(
            &other_trust(),
            GetCharterSummaryRequest { charter_code: code.into(), period_code: String::new() },
        )
        .await
        .expect("a public charter's summary is readable by all");
    assert_eq!(latest.period_code, "2025/26-Q4", "the latest period any member reported");
    assert_eq!(latest.types[0].numerator, Some(4_050_000.0 + 6_500_000.0));
    assert_eq!(latest.types[0].denominator, Some(30_000_000.0));
}
