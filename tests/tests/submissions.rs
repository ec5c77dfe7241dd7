//! The submissions scenarios through the gateway, in both topologies, on PostgreSQL and on
//! SQLite: validation with row indexes and codes, receipts, idempotency, revisions and `as_of`,
//! REPLACE and DELETE, publication, disclosure control, streamed and paged queries, and
//! whole-or-absent streams.

use std::time::Duration;

use sharedmetrics_e2e::{AuthChannel, Backend, Sandbox, Scene, Suite, Topology, proportion};
use sharedmetrics_error::{ErrorCode, ServiceError};
use sharedmetrics_proto::sharedmetrics::access::v1 as access;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, Breakdown, BreakdownCode, PeriodType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;
use sharedmetrics_proto::sharedmetrics::definitions::v1::{ListAreasRequest, MetricVersionSpec};
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;
use tonic::Code;

type Client = SubmissionsServiceClient<AuthChannel>;

/// A trust's LSOA in Wirral (Cheshire and Merseyside ICB, where RBL is listed).
const WIRRAL_LSOA: &str = "E01007124";
/// Another Wirral LSOA.
const WIRRAL_LSOA_2: &str = "E01007125";
/// A City of London LSOA: outside RBL's ICB.
const LONDON_LSOA: &str = "E01000001";

fn spec(code: &str, period_type: PeriodType) -> MetricVersionSpec {
    MetricVersionSpec { period_type: period_type as i32, ..proportion(code) }
}

fn breakdown(pairs: &[(&str, &str)]) -> Option<Breakdown> {
    Some(Breakdown {
        codes: pairs.iter().map(|(d, c)| BreakdownCode { dimension: (*d).into(), code: (*c).into() }).collect(),
    })
}

fn row(area: &str, period: &str, pairs: &[(&str, &str)], numerator: f64, denominator: f64) -> ObservationRow {
    ObservationRow {
        area_code: area.into(),
        period_code: period.into(),
        breakdown: breakdown(pairs),
        numerator: Some(numerator),
        denominator: Some(denominator),
        ..Default::default()
    }
}

fn header(metric: &str, mode: SubmissionMode) -> SubmissionHeader {
    SubmissionHeader {
        metric_code: metric.into(),
        mode: mode as i32,
        source_system: "e2e".into(),
        ..Default::default()
    }
}

async fn submit(client: &mut Client, header: SubmissionHeader, rows: Vec<ObservationRow>) -> SubmissionReceipt {
    client
        .submit_observations(SubmitObservationsRequest { header: Some(header), rows })
        .await
        .expect("the submission is answered")
        .into_inner()
        .receipt
        .expect("a receipt")
}

async fn query(client: &mut Client, request: QueryObservationsRequest) -> Vec<Observation> {
    let mut stream = client.query_observations(request).await.expect("the query is answered").into_inner();
    let mut out = Vec::new();
    while let Some(batch) = stream.message().await.expect("the stream completes") {
        out.extend(batch.observations);
    }
    out
}

fn counts(receipt: &SubmissionReceipt) -> (u64, u64, u64, u64, u64) {
    let c = receipt.counts.unwrap_or_default();
    (c.created, c.updated, c.unchanged, c.retracted, c.rejected)
}

async fn every_validation_rule_names_the_row_and_code(sandbox: &Scene) {
    let metric = "e2e-sub-validation";
    sandbox.define(spec(metric, PeriodType::FinancialYear), true).await;
    let trust = sandbox.key("RBL", &[access::Role::Submitter, access::Role::Reader]).await;
    let mut client = SubmissionsServiceClient::new(trust);
    let rows = vec![
        row(WIRRAL_LSOA, "2024/25", &[], 30.0, 100.0),
        row("E01999999", "2024/25", &[], 1.0, 2.0),
        row("E12000002", "2024/25", &[], 1.0, 2.0),
        row(WIRRAL_LSOA, "2024-Q1", &[], 1.0, 2.0),
        row(WIRRAL_LSOA, "2024/26", &[], 1.0, 2.0),
        row(WIRRAL_LSOA, "2024/25", &[("ethnic_group", "not_stated")], 1.0, 2.0),
        row(WIRRAL_LSOA, "2024/25", &[("imd_decile", "11")], 1.0, 2.0),
        row(WIRRAL_LSOA, "2024/25", &[("sex", "F")], 12.0, 10.0),
        row(WIRRAL_LSOA, "2024/25", &[("sex", "M")], -1.0, 10.0),
        ObservationRow { value: Some(50.0), ..row(WIRRAL_LSOA, "2024/25", &[("imd_decile", "1")], 1.0, 10.0) },
        row(WIRRAL_LSOA, "2024/25", &[], 31.0, 100.0),
        row(LONDON_LSOA, "2024/25", &[], 1.0, 2.0),
        ObservationRow { area_code: WIRRAL_LSOA_2.into(), period_code: "2024/25".into(), ..Default::default() },
        ObservationRow { note: "n".repeat(1_001), ..row(WIRRAL_LSOA, "2024/25", &[("imd_decile", "3")], 1.0, 10.0) },
        ObservationRow { note: "é".repeat(1_000), ..row(WIRRAL_LSOA, "2024/25", &[("imd_decile", "2")], 1.0, 10.0) },
    ];
    let receipt = submit(&mut client, header(metric, SubmissionMode::Merge), rows).await;
    let rejections: Vec<(u64, &str, &str)> =
        receipt.rejections.iter().map(|r| (r.row_index, r.code.as_str(), r.field.as_str())).collect();
    assert_eq!(
        rejections,
        vec![
            (1, "UNKNOWN_AREA", "area_code"),
            (2, "WRONG_AREA_TYPE", "area_code"),
            (3, "WRONG_PERIOD_TYPE", "period_code"),
            (4, "INVALID_PERIOD", "period_code"),
            (5, "UNKNOWN_DIMENSION", "breakdown.codes[0].dimension"),
            (6, "UNKNOWN_BREAKDOWN_CODE", "breakdown.codes[0].code"),
            (7, "NUMERATOR_ABOVE_DENOMINATOR", "numerator"),
            (8, "NEGATIVE_COUNT", "numerator"),
            (9, "VALUE_INCONSISTENT", "value"),
            (10, "DUPLICATE_KEY", ""),
            (11, "AREA_NOT_PERMITTED", "area_code"),
            (12, "MISSING_VALUE", "value"),
            (13, "NOTE_TOO_LONG", "note"),
        ]
    );
    assert!(receipt.rejections.iter().all(|r| !r.message.is_empty()));
    assert!(receipt.rejections[12].message.contains("1001 characters"), "{:?}", receipt.rejections[12]);
    assert_eq!(
        counts(&receipt),
        (2, 0, 0, 0, 13),
        "two rows created (a note of 1,000 characters is kept), the others rejected one by one"
    );
    assert!(receipt.committed);

    // The metric must be published and current.
    sandbox.define(spec("e2e-sub-draft", PeriodType::FinancialYear), false).await;
    let draft = client
        .submit_observations(SubmitObservationsRequest {
            header: Some(header("e2e-sub-draft", SubmissionMode::Merge)),
            rows: vec![row(WIRRAL_LSOA, "2024/25", &[], 1.0, 2.0)],
        })
        .await
        .unwrap_err();
    assert!(matches!(draft.code(), Code::FailedPrecondition | Code::NotFound), "{draft:?}");

    // A reader cannot submit at all.
    let reader = sandbox.key("RBL", &[access::Role::Reader]).await;
    let refused = SubmissionsServiceClient::new(reader)
        .submit_observations(SubmitObservationsRequest {
            header: Some(header(metric, SubmissionMode::Merge)),
            rows: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

async fn atomic_and_dry_run_write_nothing(sandbox: &Scene) {
    let metric = "e2e-sub-atomic";
    sandbox.define(spec(metric, PeriodType::FinancialYear), true).await;
    let mut client = SubmissionsServiceClient::new(sandbox.admin());
    let rows = vec![row(WIRRAL_LSOA, "2024/25", &[], 30.0, 100.0), row("E01999999", "2024/25", &[], 1.0, 2.0)];
    let atomic =
        submit(&mut client, SubmissionHeader { atomic: true, ..header(metric, SubmissionMode::Merge) }, rows.clone())
            .await;
    assert!(!atomic.committed);
    assert_eq!(counts(&atomic), (1, 0, 0, 0, 1), "counts say what would have happened");
    assert_eq!(atomic.rejections[0].row_index, 1);
    let dry =
        submit(&mut client, SubmissionHeader { dry_run: true, ..header(metric, SubmissionMode::Merge) }, rows).await;
    assert!(!dry.committed && dry.dry_run);
    assert_eq!(counts(&dry), (1, 0, 0, 0, 1));
    let stored =
        query(&mut client, QueryObservationsRequest { metric_code: metric.into(), ..Default::default() }).await;
    assert!(stored.is_empty(), "neither wrote anything: {stored:?}");
}

async fn a_replayed_key_returns_the_first_receipt_and_changes_nothing(sandbox: &Scene) {
    let metric = "e2e-sub-idempotent";
    sandbox.define(spec(metric, PeriodType::FinancialYear), true).await;
    let mut client = SubmissionsServiceClient::new(sandbox.admin());
    let keyed =
        SubmissionHeader { idempotency_key: "batch-2024-25-001".into(), ..header(metric, SubmissionMode::Merge) };
    let rows = vec![row(WIRRAL_LSOA, "2024/25", &[], 30.0, 100.0), row(WIRRAL_LSOA_2, "2024/25", &[], 40.0, 100.0)];
    let first = submit(&mut client, keyed.clone(), rows.clone()).await;
    assert_eq!(counts(&first), (2, 0, 0, 0, 0));
    let replay = submit(&mut client, keyed.clone(), rows.clone()).await;
    assert!(replay.idempotent_replay);
    assert_eq!(replay.submission_id, first.submission_id);
    assert_eq!(counts(&replay), counts(&first));
    assert_eq!(replay.data_version, first.data_version);
    let listed = client
        .list_submissions(ListSubmissionsRequest { metric_code: metric.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.submissions.len(), 1, "the replay wrote no second submission");
    let mut changed = rows;
    changed[0].numerator = Some(31.0);
    let conflict =
        client.submit_observations(SubmitObservationsRequest { header: Some(keyed), rows: changed }).await.unwrap_err();
    assert_eq!(conflict.code(), Code::AlreadyExists);
    assert_eq!(ServiceError::from(conflict).code, ErrorCode::IdempotencyConflict);
}

async fn revisions_keep_history_and_as_of_reads_the_past(sandbox: &Scene) {
    let metric = "e2e-sub-revisions";
    sandbox.define(spec(metric, PeriodType::FinancialYear), true).await;
    let mut client = SubmissionsServiceClient::new(sandbox.admin());
    let first =
        submit(&mut client, header(metric, SubmissionMode::Merge), vec![row(WIRRAL_LSOA, "2023/24", &[], 30.0, 100.0)])
            .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let same =
        submit(&mut client, header(metric, SubmissionMode::Merge), vec![row(WIRRAL_LSOA, "2023/24", &[], 30.0, 100.0)])
            .await;
    assert_eq!(counts(&same), (0, 0, 1, 0, 0), "an identical row is unchanged");
    let second =
        submit(&mut client, header(metric, SubmissionMode::Merge), vec![row(WIRRAL_LSOA, "2023/24", &[], 45.0, 100.0)])
            .await;
    assert_eq!(counts(&second), (0, 1, 0, 0, 0));
    let now = query(&mut client, QueryObservationsRequest { metric_code: metric.into(), ..Default::default() }).await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].numerator, Some(45.0));
    assert_eq!(now[0].value, Some(45.0), "the value is derived from numerator and denominator");
    let before = query(
        &mut client,
        QueryObservationsRequest { metric_code: metric.into(), as_of: first.data_version, ..Default::default() },
    )
    .await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].numerator, Some(30.0), "as_of before the revision reads the old value");
    let changed = query(
        &mut client,
        QueryObservationsRequest {
            metric_code: metric.into(),
            changed_since: first.data_version,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(changed.len(), 1, "changed_since finds the revised row");
    let history = client
        .get_observation_history(GetObservationHistoryRequest {
            metric_code: metric.into(),
            area_code: WIRRAL_LSOA.into(),
            period_code: "2023/24".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(history.iter().map(|v| v.numerator).collect::<Vec<_>>(), vec![Some(30.0), Some(45.0)]);
    assert!(
        history[0].valid_to.is_some() && history[1].valid_to.is_none(),
        "the first version was superseded, not overwritten"
    );
    assert_eq!(history[0].submission_id, first.submission_id);
    assert_eq!(history[1].organisation_code, "X24", "who changed it is recorded");
}

async fn replace_retracts_rows_not_resent_and_delete_removes_them(sandbox: &Scene) {
    let metric = "e2e-sub-replace";
    sandbox.define(spec(metric, PeriodType::FinancialYear), true).await;
    let mut client = SubmissionsServiceClient::new(sandbox.admin());
    let initial = vec![
        row(WIRRAL_LSOA, "2024/25", &[], 30.0, 100.0),
        row(WIRRAL_LSOA_2, "2024/25", &[], 40.0, 100.0),
        row(WIRRAL_LSOA, "2023/24", &[], 20.0, 100.0),
    ];
    submit(&mut client, header(metric, SubmissionMode::Merge), initial).await;
    let replace = SubmissionHeader {
        replace_scope: Some(ReplaceScope {
            period_codes: vec!["2024/25".into()],
            all_breakdowns: true,
            ..Default::default()
        }),
        ..header(metric, SubmissionMode::Replace)
    };
    let receipt = submit(
        &mut client,
        replace,
        vec![row(WIRRAL_LSOA, "2024/25", &[], 32.0, 100.0), row(WIRRAL_LSOA, "2022/23", &[], 1.0, 2.0)],
    )
    .await;
    assert_eq!(counts(&receipt), (0, 1, 0, 1, 1), "one updated, the unsent one retracted, one outside the scope");
    assert_eq!(receipt.rejections[0].code, "OUT_OF_REPLACE_SCOPE");
    let now = query(&mut client, QueryObservationsRequest { metric_code: metric.into(), ..Default::default() }).await;
    let keys: Vec<(&str, &str)> = now.iter().map(|o| (o.area_code.as_str(), o.period_code.as_str())).collect();
    assert_eq!(
        keys,
        vec![(WIRRAL_LSOA, "2023/24"), (WIRRAL_LSOA, "2024/25")],
        "2023/24 was outside the scope and stays"
    );

    let delete = submit(
        &mut client,
        header(metric, SubmissionMode::Delete),
        vec![
            ObservationRow { area_code: WIRRAL_LSOA.into(), period_code: "2023/24".into(), ..Default::default() },
            ObservationRow { area_code: WIRRAL_LSOA_2.into(), period_code: "2024/25".into(), ..Default::default() },
        ],
    )
    .await;
    assert_eq!(counts(&delete), (0, 0, 0, 1, 1));
    assert_eq!((delete.rejections[0].row_index, delete.rejections[0].code.as_str()), (1, "KEY_NOT_FOUND"));
    let now = query(&mut client, QueryObservationsRequest { metric_code: metric.into(), ..Default::default() }).await;
    assert_eq!(now.len(), 1);
}

async fn outsiders_see_published_data_with_small_counts_suppressed(sandbox: &Scene) {
    let metric = "e2e-sub-disclosure";
    sandbox.define(spec(metric, PeriodType::FinancialYear), true).await;
    let trust = sandbox.key("RBL", &[access::Role::Submitter, access::Role::Reader]).await;
    let council = sandbox.key("316", &[access::Role::Reader]).await;
    let mut trust_client = SubmissionsServiceClient::new(trust);
    let mut council_client = SubmissionsServiceClient::new(council);
    let rows = vec![
        row(WIRRAL_LSOA, "2024/25", &[], 50.0, 1000.0),
        row(WIRRAL_LSOA, "2024/25", &[("sex", "F")], 3.0, 480.0),
        row(WIRRAL_LSOA, "2024/25", &[("sex", "M")], 47.0, 520.0),
        row(WIRRAL_LSOA, "2024/25", &[("imd_decile", "3")], 0.0, 1000.0),
    ];
    let receipt = submit(&mut trust_client, header(metric, SubmissionMode::Merge), rows).await;
    assert_eq!(counts(&receipt), (4, 0, 0, 0, 0));
    let request = QueryObservationsRequest { metric_code: metric.into(), ..Default::default() };
    assert!(
        query(&mut council_client, request.clone()).await.is_empty(),
        "unpublished data is invisible to other organisations"
    );
    let own = query(&mut trust_client, request.clone()).await;
    assert_eq!(own.len(), 4, "the submitter sees its draft");
    assert!(own.iter().all(|o| !o.suppressed), "and no suppression of its own data");

    trust_client
        .publish_submission(PublishSubmissionRequest {
            submission_id: receipt.submission_id.clone(),
            embargo_until: None,
        })
        .await
        .expect("the submitter publishes");
    let seen = query(&mut council_client, request).await;
    assert_eq!(seen.len(), 4);
    let by_code = |pairs: &[(&str, &str)]| {
        seen.iter()
            .find(|o| {
                let codes: Vec<(&str, &str)> = o
                    .breakdown
                    .as_ref()
                    .unwrap()
                    .codes
                    .iter()
                    .map(|c| (c.dimension.as_str(), c.code.as_str()))
                    .collect();
                codes == pairs
            })
            .expect("the cell is listed")
            .clone()
    };
    let female = by_code(&[("sex", "F")]);
    assert!(female.suppressed);
    assert_eq!(female.suppression_reason, SuppressionReason::SmallCount as i32);
    assert_eq!(
        (female.numerator, female.value, female.lower_ci_95),
        (None, None, None),
        "the count and what derives from it are hidden"
    );
    let male = by_code(&[("sex", "M")]);
    assert_eq!(male.suppression_reason, SuppressionReason::Secondary as i32, "50 − 47 would reveal 3");
    assert_eq!(male.numerator, None);
    let total = by_code(&[]);
    assert!(!total.suppressed);
    assert_eq!(total.numerator, Some(50.0), "totals are computed before suppression and shown");
    let zero = by_code(&[("imd_decile", "3")]);
    assert!(!zero.suppressed);
    assert_eq!(zero.numerator, Some(0.0), "zero is not suppressed");

    let history = council_client
        .get_observation_history(GetObservationHistoryRequest {
            metric_code: metric.into(),
            area_code: WIRRAL_LSOA.into(),
            period_code: "2024/25".into(),
            breakdown_codes: vec!["sex:M".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert!(history.iter().all(|v| v.numerator.is_none()), "history cannot undo secondary suppression");

    let retract = trust_client
        .retract_submission(RetractSubmissionRequest {
            submission_id: receipt.submission_id.clone(),
            reason: "wrong extract".into(),
        })
        .await
        .expect("the submitter retracts")
        .into_inner();
    assert_eq!(retract.retracted_count, 4);
    assert!(
        query(&mut council_client, QueryObservationsRequest { metric_code: metric.into(), ..Default::default() })
            .await
            .is_empty()
    );
    let outsider_submission = SubmissionsServiceClient::new(sandbox.key("RBN", &[access::Role::Reader]).await)
        .get_submission(GetSubmissionRequest { submission_id: receipt.submission_id })
        .await
        .unwrap_err();
    assert_eq!(outsider_submission.code(), Code::NotFound);
}

/// Wirral's district code: its LSOAs are in RBL's ICB.
const WIRRAL: &str = "E08000015";

/// Reads a query as its messages, so the test sees how the answer was cut.
async fn messages(client: &mut Client, request: QueryObservationsRequest) -> Vec<QueryObservationsResponse> {
    let mut stream = client.query_observations(request).await.expect("the query is answered").into_inner();
    let mut out = Vec::new();
    while let Some(message) = stream.message().await.expect("the stream completes") {
        out.push(message);
    }
    out
}

/// A query of more rows than one message holds streams in several messages, pages join up to
/// the whole answer, and disclosure control is the same for every (area, period) however the
/// answer is cut: the service suppresses each cell group as the database yields it.
async fn a_large_query_streams_and_pages_with_disclosure_per_cell(sandbox: &Scene) {
    let metric = "e2e-sub-pages";
    sandbox.define(spec(metric, PeriodType::FinancialYear), true).await;
    let mut definitions = DefinitionsServiceClient::new(sandbox.admin());
    let lsoas: Vec<String> = definitions
        .list_areas(ListAreasRequest {
            r#type: AreaType::Lsoa as i32,
            parent_code: WIRRAL.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .areas
        .into_iter()
        .map(|a| a.code)
        .collect();
    assert!(lsoas.len() > 150, "Wirral has about 200 LSOAs, not {}", lsoas.len());
    let mut rows = Vec::new();
    for period in ["2023/24", "2024/25"] {
        for lsoa in &lsoas {
            rows.push(row(lsoa, period, &[], 50.0, 1000.0));
            rows.push(row(lsoa, period, &[("sex", "F")], 3.0, 480.0));
            rows.push(row(lsoa, period, &[("sex", "M")], 47.0, 520.0));
        }
    }
    let total = rows.len();
    let mut trust_client =
        SubmissionsServiceClient::new(sandbox.key("RBL", &[access::Role::Submitter, access::Role::Reader]).await);
    let receipt = submit(&mut trust_client, header(metric, SubmissionMode::Merge), rows).await;
    assert_eq!(counts(&receipt).0, total as u64);
    trust_client
        .publish_submission(PublishSubmissionRequest { submission_id: receipt.submission_id, embargo_until: None })
        .await
        .expect("the submitter publishes");

    let mut council = SubmissionsServiceClient::new(sandbox.key("316", &[access::Role::Reader]).await);
    let whole_request = QueryObservationsRequest { metric_code: metric.into(), ..Default::default() };
    let whole = messages(&mut council, whole_request.clone()).await;
    assert!(whole.len() >= 3, "{total} rows come in several messages, not {}", whole.len());
    assert!(whole.iter().all(|m| m.next_page_token.is_empty()), "an unpaged query has no next page");
    let whole: Vec<Observation> = whole.into_iter().flat_map(|m| m.observations).collect();
    assert_eq!(whole.len(), total);
    let reason = |pairs: &str| {
        whole
            .iter()
            .filter(|o| {
                let codes: Vec<String> = o
                    .breakdown
                    .as_ref()
                    .map(|b| b.codes.iter().map(|c| format!("{}:{}", c.dimension, c.code)).collect())
                    .unwrap_or_default();
                codes.join(";") == pairs
            })
            .map(|o| (o.suppression_reason, o.numerator))
            .collect::<Vec<_>>()
    };
    let cells = total / 3;
    assert_eq!(reason("sex:F"), vec![(SuppressionReason::SmallCount as i32, None); cells]);
    assert_eq!(reason("sex:M"), vec![(SuppressionReason::Secondary as i32, None); cells], "50 − 47 reveals 3");
    assert_eq!(reason(""), vec![(SuppressionReason::Unspecified as i32, Some(50.0)); cells]);

    // Pages of 500 join up to the whole answer, in its order; the last has no token.
    let mut paged = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let request = QueryObservationsRequest { page_size: 500, page_token: token, ..whole_request.clone() };
        let answer = messages(&mut council, request).await;
        let last = answer.last().expect("every answer has a message").next_page_token.clone();
        let page: Vec<Observation> = answer.into_iter().flat_map(|m| m.observations).collect();
        assert!(page.len() <= 500);
        paged.extend(page);
        pages += 1;
        if last.is_empty() {
            break;
        }
        token = last;
    }
    assert_eq!(pages, total.div_ceil(500));
    assert_eq!(paged, whole, "the pages are the whole answer, cell for cell");
    let exact =
        messages(&mut council, QueryObservationsRequest { page_size: total as u32, ..whole_request.clone() }).await;
    assert!(exact.last().unwrap().next_page_token.is_empty(), "a page holding the rest has no successor");

    // A filter applies after disclosure control, so filtering cannot reveal a hidden cell.
    let males = query(
        &mut council,
        QueryObservationsRequest { breakdown_codes: vec!["sex:M".into()], page_size: 100, ..whole_request },
    )
    .await;
    assert_eq!(males.len(), 100);
    assert!(males.iter().all(|o| o.suppression_reason == SuppressionReason::Secondary as i32));
}

/// Rows of a monthly metric: `count` distinct keys over every LSOA.
fn monthly_rows(lsoas: &[String], count: usize) -> impl Iterator<Item = ObservationRow> + '_ {
    (0..count).map(move |i| {
        let lsoa = &lsoas[i % lsoas.len()];
        let month = i / lsoas.len();
        let period = format!("{}-{:02}", 2020 + month / 12, month % 12 + 1);
        row(lsoa, &period, &[], (i % 50) as f64, 100.0)
    })
}

async fn all_lsoas(sandbox: &Sandbox) -> Vec<String> {
    sandbox.areas(AreaType::Lsoa, "").await.into_iter().map(|a| a.code).collect()
}

/// 50,000 rows, in several chunks: the million-row test below takes the scale.
async fn a_stream_commits_whole_and_a_killed_stream_leaves_nothing(sandbox: &Scene) {
    let rows = 50_000;
    let metric = "e2e-sub-stream";
    sandbox
        .define(MetricVersionSpec { area_types: vec![AreaType::Lsoa as i32], ..spec(metric, PeriodType::Month) }, true)
        .await;
    let lsoas = all_lsoas(sandbox).await;
    let mut client = SubmissionsServiceClient::new(sandbox.admin());

    let frames = std::iter::once(StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::Header(header(metric, SubmissionMode::Merge))),
    })
    .chain(monthly_rows(&lsoas, rows).collect::<Vec<_>>().chunks(5_000).map(|chunk| StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::Chunk(ObservationChunk { rows: chunk.to_vec() })),
    }))
    .chain(std::iter::once(StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::End(StreamEnd { row_count: rows as u64 })),
    }))
    .collect::<Vec<_>>();
    let started = std::time::Instant::now();
    let receipt = client
        .stream_observations(tokio_stream::iter(frames))
        .await
        .expect("the stream commits")
        .into_inner()
        .receipt
        .unwrap();
    eprintln!("streamed {rows} rows in {:?}", started.elapsed());
    assert!(receipt.committed);
    assert_eq!(counts(&receipt), (rows as u64, 0, 0, 0, 0), "every row is counted exactly once");

    // A client that dies mid-stream: the call is dropped after some chunks.
    let killed = "e2e-sub-killed";
    sandbox
        .define(MetricVersionSpec { area_types: vec![AreaType::Lsoa as i32], ..spec(killed, PeriodType::Month) }, true)
        .await;
    let first_chunks: Vec<StreamObservationsRequest> = std::iter::once(StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::Header(header(killed, SubmissionMode::Merge))),
    })
    .chain(monthly_rows(&lsoas, 20_000).collect::<Vec<_>>().chunks(5_000).map(|chunk| StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::Chunk(ObservationChunk { rows: chunk.to_vec() })),
    }))
    .collect();
    let never_ending =
        tokio_stream::StreamExt::chain(tokio_stream::iter(first_chunks.clone()), tokio_stream::pending());
    let outcome = tokio::time::timeout(Duration::from_secs(3), client.stream_observations(never_ending)).await;
    assert!(outcome.is_err(), "the client gave up mid-stream");
    // A stream whose transport closes cleanly without the end frame is refused the same way.
    let unfinished = client.stream_observations(tokio_stream::iter(first_chunks)).await.unwrap_err();
    assert_eq!(unfinished.code(), Code::InvalidArgument);
    assert!(unfinished.message().contains("end frame"), "{}", unfinished.message());
    // Wait for the server to finish with the abandoned stream (the ingest lock serialises).
    let _ = submit(&mut client, header(killed, SubmissionMode::Merge), vec![]).await;
    let left = query(&mut client, QueryObservationsRequest { metric_code: killed.into(), ..Default::default() }).await;
    assert!(left.is_empty(), "a killed stream leaves none of its rows, found {}", left.len());
    let listed = client
        .list_submissions(ListSubmissionsRequest { metric_code: killed.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.submissions.len(), 1, "and no submission but the empty one made to wait");
}

static SUITE: Suite = Suite::new();

sharedmetrics_e2e::scenarios!(SUITE:
    every_validation_rule_names_the_row_and_code,
    atomic_and_dry_run_write_nothing,
    a_replayed_key_returns_the_first_receipt_and_changes_nothing,
    revisions_keep_history_and_as_of_reads_the_past,
    replace_retracts_rows_not_resent_and_delete_removes_them,
    outsiders_see_published_data_with_small_counts_suppressed,
    a_large_query_streams_and_pages_with_disclosure_per_cell,
    a_stream_commits_whole_and_a_killed_stream_leaves_nothing,
);

/// The scale: one stream of 1,000,000 rows commits in one transaction, with every row
/// counted exactly once (PostgreSQL, one process; `make bench` times the same path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_row_stream_commits_with_exact_receipt_counts() {
    let sandbox = Sandbox::start(Backend::Postgres, Topology::SingleBinary).await.expect("the platform starts");
    let metric = "e2e-sub-million";
    sandbox
        .define(MetricVersionSpec { area_types: vec![AreaType::Lsoa as i32], ..spec(metric, PeriodType::Month) }, true)
        .await;
    let lsoas = all_lsoas(&sandbox).await;
    let count = 1_000_000usize;
    let (sender, receiver) = tokio::sync::mpsc::channel::<StreamObservationsRequest>(8);
    let producer = tokio::spawn(async move {
        let header = StreamObservationsRequest {
            frame: Some(stream_observations_request::Frame::Header(header(metric, SubmissionMode::Merge))),
        };
        sender.send(header).await.unwrap();
        let mut rows = Vec::with_capacity(10_000);
        for row in monthly_rows(&lsoas, count) {
            rows.push(row);
            if rows.len() == 10_000 {
                let chunk = ObservationChunk { rows: std::mem::take(&mut rows) };
                sender
                    .send(StreamObservationsRequest { frame: Some(stream_observations_request::Frame::Chunk(chunk)) })
                    .await
                    .unwrap();
            }
        }
        let end = StreamEnd { row_count: count as u64 };
        sender
            .send(StreamObservationsRequest { frame: Some(stream_observations_request::Frame::End(end)) })
            .await
            .unwrap();
    });
    let mut client = SubmissionsServiceClient::new(sandbox.admin());
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(receiver));
    request.set_timeout(Duration::from_secs(1200));
    let started = std::time::Instant::now();
    let receipt = client.stream_observations(request).await.expect("the stream commits").into_inner().receipt.unwrap();
    eprintln!("streamed {count} rows in {:?}", started.elapsed());
    producer.await.unwrap();
    assert!(receipt.committed);
    assert_eq!(counts(&receipt), (count as u64, 0, 0, 0, 0));
    let listed = client
        .list_submissions(ListSubmissionsRequest { metric_code: metric.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.submissions[0].counts.unwrap().created, count as u64, "the stored submission agrees");
    sandbox.stop().await.expect("the platform stops");
}
