//! The commitments service through its trait, on real databases (a fresh SQLite file and a fresh
//! PostgreSQL database per run), with the definitions service on the real reference data and
//! catalogue as its source of metrics, areas and organisations. The gateway end-to-end version of
//! the charter scenario lives in the workspace's `tests/` crate.

// The crate root of a test resolves modules beside it, so the folder is named explicitly.
#[path = "service/harness.rs"]
mod harness;
#[path = "service/two_years.rs"]
mod two_years;

use std::sync::Arc;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sharedmetrics_access::{Principal, Role};
use sharedmetrics_commitments::{CommitmentsApi, ObservationSource, ObservedFigure};
use sharedmetrics_error::{ErrorCode, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;

use harness::*;
use two_years::{a_place_charter_rolls_up_two_years_of_its_members_progress, liverpool_charter, planned};

async fn another_organisation_is_refused_when_it_edits_a_members_commitment(h: &Harness) {
    let code = "liverpool-refusals";
    liverpool_charter(h, code, CharterVisibility::Public).await;
    let plan = &planned(code)[0];
    let created = create_commitment(h, &trust(), plan.commitment.clone()).await;
    report(h, &trust(), &created.commitment_id, "2024/25-Q1", 3_150_000.0, Some(10_000_000.0)).await.expect("reported");

    let refused =
        report(h, &other_trust(), &created.commitment_id, "2024/25-Q1", 1.0, Some(10_000_000.0)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::PermissionDenied, "{refused}");
    assert!(refused.message.contains("only its own commitments"), "{}", refused.message);
    let council_refused =
        report(h, &council(), &created.commitment_id, "2024/25-Q1", 1.0, Some(10_000_000.0)).await.unwrap_err();
    assert_eq!(
        council_refused.code,
        ErrorCode::PermissionDenied,
        "a fellow member, even the charter admin, is refused"
    );

    let progress = h
        .service
        .list_progress(
            &trust(),
            ListProgressRequest { commitment_id: created.commitment_id.clone(), ..Default::default() },
        )
        .await
        .unwrap()
        .progress;
    assert_eq!(progress.len(), 1);
    assert_eq!(progress[0].numerator, Some(3_150_000.0), "the refused edits changed nothing");

    let on_behalf = Commitment { organisation_code: "RBL".into(), ..plan.commitment.clone() };
    let refused = h
        .service
        .create_commitment(&other_trust(), CreateCommitmentRequest { commitment: Some(on_behalf) })
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::PermissionDenied);

    let refused = h
        .service
        .add_charter_member(
            &trust(),
            AddCharterMemberRequest { charter_code: code.into(), organisation_code: "REM".into(), role: 0 },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::PermissionDenied, "only charter admins manage membership");

    let refused = h
        .service
        .create_commitment(&other_trust(), CreateCommitmentRequest { commitment: Some(plan.commitment.clone()) })
        .await
        .unwrap_err();
    assert_eq!(violations(&refused), pair("commitment.charter_code", "NOT_A_MEMBER"));

    let reader = principal("RBL", &[Role::Reader]);
    let refused = report(h, &reader, &created.commitment_id, "2024/25-Q2", 1.0, Some(2.0)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::PermissionDenied, "a reader of the organisation reports nothing");
}

async fn a_members_only_charter_is_hidden_from_other_organisations(h: &Harness) {
    let code = "liverpool-members-only";
    liverpool_charter(h, code, CharterVisibility::MembersOnly).await;
    let created = create_commitment(h, &trust(), planned(code).remove(0).commitment).await;
    let visible = |charters: Vec<Charter>| charters.iter().any(|c| c.code == code);

    let listed = h.service.list_charters(&other_trust(), ListChartersRequest::default()).await.unwrap().charters;
    assert!(!visible(listed), "a non-member does not see it");
    for (who, seen) in [(trust(), true), (council(), true), (national(), true)] {
        let listed = h.service.list_charters(&who, ListChartersRequest::default()).await.unwrap().charters;
        assert_eq!(visible(listed), seen, "{}", who.organisation);
    }
    let summary = GetCharterSummaryRequest { charter_code: code.into(), period_code: String::new() };
    assert_eq!(
        h.service.get_charter_summary(&other_trust(), summary.clone()).await.unwrap_err().code,
        ErrorCode::NotFound
    );
    h.service.get_charter_summary(&trust(), summary).await.expect("members read the summary");
    let get = GetCommitmentRequest { commitment_id: created.commitment_id.clone() };
    assert_eq!(h.service.get_commitment(&other_trust(), get.clone()).await.unwrap_err().code, ErrorCode::NotFound);
    h.service.get_commitment(&national(), get).await.expect("national reads everything");

    // Charters are found by their place or any area it lies in (Liverpool is in the North West).
    let by_region = h
        .service
        .list_charters(&national(), ListChartersRequest { place_area_code: "E12000002".into(), ..Default::default() })
        .await
        .unwrap()
        .charters;
    assert!(visible(by_region));
    let by_member = h
        .service
        .list_charters(
            &national(),
            ListChartersRequest { member_organisation_code: "REM".into(), ..Default::default() },
        )
        .await
        .unwrap()
        .charters;
    assert!(!visible(by_member));
}

async fn bad_input_names_the_field_at_fault(h: &Harness) {
    let code = "liverpool-bad-input";
    liverpool_charter(h, code, CharterVisibility::Public).await;
    let valid = planned(code).remove(0).commitment;
    let refuse = |commitment: Commitment| async move {
        let error = h
            .service
            .create_commitment(&trust(), CreateCommitmentRequest { commitment: Some(commitment) })
            .await
            .expect_err("refused");
        assert_eq!(error.code, ErrorCode::InvalidArgument, "{error}");
        violations(&error)
    };

    let early = Commitment { target: Some(Target { value: 40.0, date: "2024-01-31".into() }), ..valid.clone() };
    assert_eq!(refuse(early).await, pair("commitment.target.date", "TARGET_BEFORE_BASELINE"));
    let above = Commitment { target: Some(Target { value: 140.0, date: "2026-03-31".into() }), ..valid.clone() };
    assert_eq!(refuse(above).await, pair("commitment.target.value", "PERCENTAGE_ABOVE_100"));
    let unknown_metric = Commitment { metric_code: "anchor-no-such-metric".into(), ..valid.clone() };
    assert_eq!(refuse(unknown_metric).await, pair("commitment.metric_code", "UNKNOWN_METRIC"));
    let unknown_area = Commitment { local_definition: Some(areas(&["E08000012", "E08999999"])), ..valid.clone() };
    assert_eq!(refuse(unknown_area).await, pair("commitment.local_definition.areas.area_codes[1]", "UNKNOWN_AREA"));
    let lsoa_boundary = Commitment { local_definition: Some(boundary("E01000001")), ..valid.clone() };
    assert_eq!(refuse(lsoa_boundary).await, pair("commitment.local_definition.boundary_code", "WRONG_AREA_TYPE"));
    let unknown_template =
        Commitment { template_code: "no-such-template".into(), title: "Local spend".into(), ..valid.clone() };
    assert_eq!(refuse(unknown_template).await, pair("commitment.template_code", "UNKNOWN_TEMPLATE"));

    let created = create_commitment(h, &trust(), valid).await;
    for (period, reason) in [
        ("2023/24-Q4", "PERIOD_OUTSIDE_COMMITMENT"),
        ("2026/27-Q1", "PERIOD_OUTSIDE_COMMITMENT"),
        ("2024/25", "WRONG_PERIOD_TYPE"),
        ("2024-Q1", "WRONG_PERIOD_TYPE"),
        ("2024/25-Q9", "INVALID_PERIOD"),
    ] {
        let error = report(h, &trust(), &created.commitment_id, period, 1.0, Some(2.0)).await.unwrap_err();
        assert_eq!(violations(&error), pair("period_code", reason), "{period}");
    }
    let error =
        report(h, &trust(), &created.commitment_id, "2024/25-Q1", 12_000_000.0, Some(10_000_000.0)).await.unwrap_err();
    assert_eq!(violations(&error), pair("numerator", "PERCENTAGE_ABOVE_100"));
    let error = report(h, &trust(), &created.commitment_id, "2024/25-Q1", 1.0, None).await.unwrap_err();
    assert_eq!(violations(&error), pair("denominator", "REQUIRED"), "a network adds numerators and denominators up");

    let error = h
        .service
        .add_charter_member(
            &council(),
            AddCharterMemberRequest { charter_code: code.into(), organisation_code: "ZZZ99".into(), role: 0 },
        )
        .await
        .unwrap_err();
    assert_eq!(violations(&error), pair("organisation_code", "UNKNOWN_ORGANISATION"));
    let error = h
        .service
        .create_charter(
            &council(),
            CreateCharterRequest {
                charter: Some(Charter {
                    code: "nowhere-charter".into(),
                    name: "Nowhere".into(),
                    place_area_code: "E08999999".into(),
                    visibility: CharterVisibility::Public as i32,
                    ..Default::default()
                }),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(violations(&error), pair("charter.place_area_code", "UNKNOWN_AREA"));
    let error = h
        .service
        .add_charter_member(
            &council(),
            AddCharterMemberRequest {
                charter_code: code.into(),
                organisation_code: "316".into(),
                role: CharterRole::Member as i32,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::FailedPrecondition, "a charter keeps an admin: {error}");
}

async fn a_second_report_for_a_period_supersedes_the_first(h: &Harness) {
    let code = "liverpool-revisions";
    liverpool_charter(h, code, CharterVisibility::Public).await;
    let created = create_commitment(h, &trust(), planned(code).remove(0).commitment).await;
    report(h, &trust(), &created.commitment_id, "2024/25-Q1", 3_000_000.0, Some(10_000_000.0)).await.unwrap();
    let second =
        report(h, &trust(), &created.commitment_id, "2024/25-Q1", 3_300_000.0, Some(10_000_000.0)).await.unwrap();
    assert_eq!(second.progress.unwrap().value, Some(33.0));
    let listed = h
        .service
        .list_progress(
            &trust(),
            ListProgressRequest { commitment_id: created.commitment_id.clone(), ..Default::default() },
        )
        .await
        .unwrap()
        .progress;
    assert_eq!(listed.iter().map(|p| p.value).collect::<Vec<_>>(), vec![Some(33.0)]);
    use sharedmetrics_commitments::entity::progress;
    let revisions = progress::Entity::find()
        .filter(progress::Column::CommitmentId.eq(created.commitment_id.clone()))
        .all(&h.db)
        .await
        .unwrap();
    let mut kept: Vec<(i32, bool)> = revisions.iter().map(|r| (r.revision, r.superseded_at.is_some())).collect();
    kept.sort();
    assert_eq!(kept, vec![(1, true), (2, false)], "the first figure is kept, superseded");
}

async fn a_real_living_wage_figure_needs_the_rate_of_its_year(h: &Harness) {
    let code = "liverpool-living-wage";
    liverpool_charter(h, code, CharterVisibility::Public).await;
    let mut commitment = planned(code).remove(1).commitment;
    commitment.target = Some(Target { value: 100.0, date: "2027-03-31".into() });
    commitment.trajectory = None;
    let created = create_commitment(h, &trust(), commitment).await;
    report(h, &trust(), &created.commitment_id, "2025/26-Q4", 5_900.0, Some(6_000.0))
        .await
        .expect("2025/26 has a rate");
    let error = report(h, &trust(), &created.commitment_id, "2026/27-Q1", 5_900.0, Some(6_000.0)).await.unwrap_err();
    assert_eq!(violations(&error), pair("period_code", "NO_REFERENCE_VALUE"), "2026/27's rate is not in the data yet");
    let again = sharedmetrics_commitments::import::import_reference_values(
        &h.db,
        &sharedmetrics_definitions::import::Folder::values(None),
    )
    .await
    .expect("a second import");
    assert_eq!((again.inserted, again.unchanged), (0, 20), "the import is idempotent");
}

/// A stand-in for the submissions service, which does not exist yet: it answers one figure.
struct OneObservation;

#[async_trait::async_trait]
impl ObservationSource for OneObservation {
    async fn figure(
        &self,
        _: &Principal,
        metric: &str,
        organisation: &str,
        period: &Period,
    ) -> ServiceResult<Option<ObservedFigure>> {
        let known =
            (metric, organisation, period.to_string()) == ("anchor-local-spend-share", "RBL", "2024/25-Q1".to_owned());
        Ok(known.then(|| ObservedFigure {
            numerator: 3_100_000.0,
            denominator: Some(10_000_000.0),
            data_version: Some(chrono::DateTime::from_timestamp(1_720_000_000, 0).unwrap()),
        }))
    }
}

async fn metric_sourced_progress_needs_the_submissions_service(h: &Harness) {
    let code = "liverpool-observations";
    liverpool_charter(h, code, CharterVisibility::Public).await;
    let created = create_commitment(h, &trust(), planned(code).remove(0).commitment).await;
    let request = |period: &str| ReportProgressRequest {
        commitment_id: created.commitment_id.clone(),
        period_code: period.to_owned(),
        from_metric_observations: true,
        ..Default::default()
    };
    let error = h.service.report_progress(&trust(), request("2024/25-Q1")).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::FailedPrecondition);
    assert!(error.message.contains("submissions service"), "{}", error.message);

    let with_source = h.with_observations(Arc::new(OneObservation));
    let figure = with_source.report_progress(&trust(), request("2024/25-Q1")).await.expect("derived").progress.unwrap();
    assert_eq!(
        (figure.numerator, figure.denominator, figure.value),
        (Some(3_100_000.0), Some(10_000_000.0), Some(31.0))
    );
    assert_eq!(figure.source, ProgressSource::MetricObservations as i32);
    assert!(figure.data_version.is_some() && figure.reported_by.is_empty());
    let error = with_source.report_progress(&trust(), request("2024/25-Q2")).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::NotFound, "no observation, no figure: {error}");
}

async fn run_all(backend: Backend) {
    let h = Harness::start(backend).await;
    a_place_charter_rolls_up_two_years_of_its_members_progress(&h).await;
    another_organisation_is_refused_when_it_edits_a_members_commitment(&h).await;
    a_members_only_charter_is_hidden_from_other_organisations(&h).await;
    bad_input_names_the_field_at_fault(&h).await;
    a_second_report_for_a_period_supersedes_the_first(&h).await;
    a_real_living_wage_figure_needs_the_rate_of_its_year(&h).await;
    metric_sourced_progress_needs_the_submissions_service(&h).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commitments_scenarios_on_sqlite() {
    run_all(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commitments_scenarios_on_postgres() {
    run_all(Backend::Postgres).await;
}
