//! The benchmarking service through its trait, on a fresh SQLite file with the real definitions
//! service (real reference data and catalogue) and the real submissions service: LSOA rows for
//! every LSOA of the North East are submitted and published by a national principal, and every
//! answer is checked against figures summed by hand here and limits from the statistics crate.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use sharedmetrics_access::{Principal, Role};
use sharedmetrics_benchmarking::{BenchmarkingApi, BenchmarkingService};
use sharedmetrics_cache::{Cache, DataVersions};
use sharedmetrics_config::{DatabaseConfig, Secret};
use sharedmetrics_definitions::DefinitionsApi;
use sharedmetrics_error::ErrorCode;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::*;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, CiMethod, PeriodType, Polarity, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{
    CreateMetricRequest, ListAreasRequest, MetricVersionSpec, Visibility,
};
use sharedmetrics_proto::sharedmetrics::submissions::v1::{
    ObservationRow, PublishSubmissionRequest, SubmissionHeader, SubmissionMode, SubmitObservationsRequest,
};
use sharedmetrics_statistics::{self as stats, ConfidenceLevel as Level, Scale};
use sharedmetrics_submissions::SubmissionsApi;

const METRIC: &str = "bench-test-late-diagnosis";
const NORTH_EAST: &str = "E12000001";
const ENGLAND: &str = "E92000001";
const YEARS: [i32; 5] = [2019, 2020, 2021, 2022, 2023];

struct Harness {
    service: Arc<dyn BenchmarkingApi>,
    submissions: Arc<dyn SubmissionsApi>,
    definitions: Arc<dyn DefinitionsApi>,
    scratch: PathBuf,
}

fn principal(organisation: &str, roles: &[Role]) -> Principal {
    Principal::api_key(organisation, roles)
}

fn national() -> Principal {
    principal("X24", &[Role::National])
}

/// A trust's analyst: outside the submitting organisation, so disclosure control applies.
fn reader() -> Principal {
    principal("RBL", &[Role::Reader])
}

impl Harness {
    async fn start() -> Self {
        let scratch =
            std::env::temp_dir().join(format!("sharedmetrics-benchmarking-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&scratch).expect("a scratch folder");
        let url = format!("sqlite://{}?mode=rwc", scratch.join("bench.db").display());
        let config = DatabaseConfig { url: Secret::new(url), max_connections: 5, ..DatabaseConfig::default() };
        let db = sharedmetrics_db::connect(&config).await.expect("the database");
        sharedmetrics_db::migrate::<sharedmetrics_definitions::Migrator>(&db, "definitions").await.expect("migrated");
        sharedmetrics_db::migrate::<sharedmetrics_submissions::Migrator>(&db, "submissions").await.expect("migrated");
        sharedmetrics_definitions::import::import_builtin(&db).await.expect("reference data and catalogue");
        let definitions: Arc<dyn DefinitionsApi> =
            Arc::new(sharedmetrics_definitions::DefinitionsService::new(db.clone()));
        let cache = Cache::in_process("bench-test:");
        let versions = DataVersions::new(&cache);
        let submissions: Arc<dyn SubmissionsApi> = Arc::new(sharedmetrics_submissions::SubmissionsService::new(
            db.clone(),
            definitions.clone(),
            versions.clone(),
        ));
        let service = Arc::new(BenchmarkingService::new(definitions.clone(), submissions.clone(), cache, versions));
        Self { service, submissions, definitions, scratch }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// One LSOA of the North East with what the test needs to sum by hand.
struct Lsoa {
    code: String,
    district: String,
    decile: u32,
}

async fn north_east_lsoas(h: &Harness) -> Vec<Lsoa> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = h
            .definitions
            .list_areas(
                &national(),
                ListAreasRequest {
                    r#type: AreaType::Lsoa as i32,
                    parent_code: NORTH_EAST.into(),
                    page_size: 1_000,
                    page_token,
                    ..Default::default()
                },
            )
            .await
            .expect("areas");
        for area in page.areas {
            let district = area
                .parents
                .iter()
                .find(|p| p.r#type == AreaType::LocalAuthorityDistrict as i32)
                .expect("every LSOA is in a district")
                .code
                .clone();
            let decile = area.deprivation.as_ref().expect("deprivation").imd_decile;
            out.push(Lsoa { code: area.code, district, decile });
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    out
}

/// The counts of one LSOA in one year: more deprived areas and later years have higher
/// proportions; the first LSOA of the first district has a count small enough to be suppressed
/// for readers outside the submitting organisation in the last year.
fn counts(i: usize, lsoa: &Lsoa, year: i32, planted: &str) -> (f64, f64) {
    let n = 200.0 + ((i * 7919) % 300) as f64;
    if year == 2023 && lsoa.code == planted {
        return (3.0, n);
    }
    let p = 0.40 - 0.025 * f64::from(lsoa.decile) + 0.01 * f64::from(year - 2019);
    ((p * n).round(), n)
}

async fn submit_and_publish(h: &Harness, rows: Vec<ObservationRow>) {
    let receipt = h
        .submissions
        .submit_observations(
            &national(),
            SubmitObservationsRequest {
                header: Some(SubmissionHeader {
                    metric_code: METRIC.into(),
                    mode: SubmissionMode::Merge as i32,
                    source_system: "benchmarking-test".into(),
                    ..Default::default()
                }),
                rows,
            },
        )
        .await
        .expect("submitted")
        .receipt
        .expect("a receipt");
    assert!(receipt.committed && receipt.rejections.is_empty(), "{:?}", receipt.rejections.first());
    h.submissions
        .publish_submission(
            &national(),
            PublishSubmissionRequest { submission_id: receipt.submission_id, embargo_until: None },
        )
        .await
        .expect("published");
}

fn row(code: &str, year: i32, (x, n): (f64, f64)) -> ObservationRow {
    ObservationRow {
        area_code: code.into(),
        period_code: year.to_string(),
        numerator: Some(x),
        denominator: Some(n),
        ..Default::default()
    }
}

fn compare_request(parent: &str) -> CompareAreasRequest {
    CompareAreasRequest {
        metric_code: METRIC.into(),
        period_code: "2023".into(),
        area_type: AreaType::LocalAuthorityDistrict as i32,
        parent_area_code: parent.into(),
        ..Default::default()
    }
}

fn limits(x: f64, n: f64) -> ConfidenceLimits {
    let p95 = stats::proportion(x, n, Scale::Hundred, Level::NINETY_FIVE).unwrap().interval.unwrap();
    let p998 = stats::proportion(x, n, Scale::Hundred, Level::NINETY_NINE_POINT_EIGHT).unwrap().interval.unwrap();
    ConfidenceLimits {
        lower_95: Some(p95.lower),
        upper_95: Some(p95.upper),
        lower_99_8: Some(p998.lower),
        upper_99_8: Some(p998.upper),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmarking_over_north_east_lsoas() {
    let h = Harness::start().await;
    h.definitions
        .create_metric(
            &national(),
            CreateMetricRequest {
                spec: Some(MetricVersionSpec {
                    code: METRIC.into(),
                    title: "Late diagnosis (benchmarking test)".into(),
                    value_type: ValueType::Proportion as i32,
                    multiplier: 100,
                    unit: "%".into(),
                    polarity: Polarity::LowIsGood as i32,
                    ci_method: CiMethod::Wilson as i32,
                    period_type: PeriodType::CalendarYear as i32,
                    area_types: vec![
                        AreaType::Lsoa as i32,
                        AreaType::LocalAuthorityDistrict as i32,
                        AreaType::Region as i32,
                        AreaType::England as i32,
                    ],
                    dimensions: vec!["imd_decile".into()],
                    owners: vec!["X24".into()],
                    visibility: Visibility::Public as i32,
                    valid_from: "2019-01-01".into(),
                    ..Default::default()
                }),
                new_version: false,
                publish: true,
            },
        )
        .await
        .expect("the metric is defined");

    let lsoas = north_east_lsoas(&h).await;
    assert!(lsoas.len() > 1_500, "the North East has about 1,650 LSOAs: {}", lsoas.len());
    let mut districts: Vec<String> = lsoas.iter().map(|l| l.district.clone()).collect();
    districts.sort();
    districts.dedup();
    let planted = lsoas.iter().find(|l| l.district == districts[0]).expect("an LSOA").code.clone();
    let mut figures: BTreeMap<(i32, String), (f64, f64)> = BTreeMap::new();
    for year in YEARS {
        let rows = lsoas
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let c = counts(i, l, year, &planted);
                figures.insert((year, l.code.clone()), c);
                row(&l.code, year, c)
            })
            .collect();
        submit_and_publish(&h, rows).await;
    }
    let district_of: HashMap<&str, &str> = lsoas.iter().map(|l| (l.code.as_str(), l.district.as_str())).collect();
    let sum_by = |year: i32, key: &dyn Fn(&str) -> Option<String>| {
        let mut sums: BTreeMap<String, (f64, f64, u32)> = BTreeMap::new();
        for ((y, code), (x, n)) in &figures {
            if *y == year
                && let Some(k) = key(code)
            {
                let e = sums.entry(k).or_default();
                *e = (e.0 + x, e.1 + n, e.2 + 1);
            }
        }
        sums
    };

    // CompareAreas over the region's districts: sums of their LSOAs, Wilson limits, England
    // (here the North East's LSOAs, the only ones submitted) as the benchmark.
    let compared = h.service.compare_areas(&national(), compare_request(NORTH_EAST)).await.expect("compared");
    let by_district = sum_by(2023, &|code| Some(district_of[code].to_owned()));
    assert_eq!(compared.total_size as usize, districts.len());
    assert_eq!((compared.period_code.as_str(), compared.polarity), ("2023", Polarity::LowIsGood as i32));
    assert!(!compared.cache_hit && compared.data_generation >= 10, "five submissions and five publications");
    let total = sum_by(2023, &|_| Some(String::new()))[""];
    let england = &compared.benchmarks[0];
    assert_eq!(
        (england.code.as_str(), england.numerator, england.denominator),
        (ENGLAND, Some(total.0), Some(total.1))
    );
    for area in &compared.areas {
        let (x, n, count) = by_district[&area.area_code];
        assert_eq!((area.numerator, area.denominator), (Some(x), Some(n)), "{}", area.area_code);
        assert_eq!(area.value, Some(x / n * 100.0));
        assert_eq!(area.limits, Some(limits(x, n)), "{}", area.area_code);
        assert_eq!(
            area.aggregation,
            Some(Aggregation { source_area_type: AreaType::Lsoa as i32, source_count: count, method: "sum".into() }),
            "summed from its LSOAs"
        );
        let interval = stats::proportion(x, n, Scale::Hundred, Level::NINETY_FIVE).unwrap().interval.unwrap();
        let judged =
            stats::compare_with_benchmark(&interval, total.0 / total.1 * 100.0, stats::Polarity::LowIsGood).unwrap();
        let expected = match judged.judgement {
            stats::Judgement::Similar => ComparisonResult::Similar,
            stats::Judgement::Better => ComparisonResult::Better,
            stats::Judgement::Worse => ComparisonResult::Worse,
            other => panic!("single level gave {other:?}"),
        };
        assert_eq!(area.comparison, expected as i32, "{}", area.area_code);
        assert!(area.rank >= 1 && (1..=5).contains(&area.quintile));
    }
    let values: Vec<f64> = compared.areas.iter().map(|a| a.value.unwrap()).collect();
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "rank 1 is the lowest value when low is good");
    let methods: Vec<i32> = compared.method_versions.iter().map(|m| m.method).collect();
    for m in [
        StatisticalMethod::Wilson,
        StatisticalMethod::IntervalComparison,
        StatisticalMethod::Quantiles,
        StatisticalMethod::Aggregation,
    ] {
        assert!(methods.contains(&(m as i32)), "{m:?} is named");
    }
    assert!(compared.data_version.is_some());

    // A second identical query is a cache hit with the same answer; a page of it too.
    let again = h.service.compare_areas(&national(), compare_request(NORTH_EAST)).await.unwrap();
    assert!(again.cache_hit);
    assert_eq!(CompareAreasResponse { cache_hit: false, ..again.clone() }, compared);
    let paged = h
        .service
        .compare_areas(&national(), CompareAreasRequest { page_size: 5, ..compare_request(NORTH_EAST) })
        .await
        .unwrap();
    assert!(paged.cache_hit && paged.areas.len() == 5 && paged.next_page_token == "5");
    assert_eq!(paged.areas[..], compared.areas[..5]);

    // Disclosure control: the reader's answer is not the national one from the cache. The
    // district holding the small count is suppressed (its sum would reveal it), and so are the
    // region and England; every other district is visible but has no benchmark to compare with.
    let seen = h.service.compare_areas(&reader(), compare_request(NORTH_EAST)).await.expect("a reader compares");
    assert!(!seen.cache_hit);
    for area in &seen.areas {
        if area.area_code == districts[0] {
            assert!(area.suppressed && area.numerator.is_none() && area.value.is_none(), "{area:?}");
            assert_eq!(area.suppression_reason, StatisticSuppressionReason::DisclosureControl as i32);
            assert_eq!((area.rank, area.quintile), (0, 0));
        } else {
            let (x, n, _) = by_district[&area.area_code];
            assert_eq!((area.numerator, area.denominator), (Some(x), Some(n)));
            assert_eq!(area.comparison, ComparisonResult::NotCompared as i32);
        }
    }
    assert!(seen.benchmarks[0].value.is_none() && seen.benchmarks[0].numerator.is_none());
    let region_benchmark = CompareAreasRequest {
        benchmark: Some(Benchmark { kind: Some(benchmark::Kind::ParentAreaType(AreaType::Region as i32)) }),
        ..compare_request(NORTH_EAST)
    };
    let by_region = h.service.compare_areas(&reader(), region_benchmark.clone()).await.unwrap();
    assert_eq!(by_region.benchmarks.len(), 1);
    assert_eq!((by_region.benchmarks[0].code.as_str(), by_region.benchmarks[0].value), (NORTH_EAST, None));
    let national_by_region = h.service.compare_areas(&national(), region_benchmark).await.unwrap();
    assert_eq!(national_by_region.benchmarks[0].numerator, Some(total.0), "the region sums the same LSOAs");

    // Funnel and two-level comparison are the statistics crate's, around England's pooled value.
    let funnel = h
        .service
        .compare_areas(
            &national(),
            CompareAreasRequest {
                funnel: true,
                comparison_level: ComparisonLevel::TwoLevel as i32,
                ..compare_request(NORTH_EAST)
            },
        )
        .await
        .unwrap();
    for area in &funnel.areas {
        let (x, n, _) = by_district[&area.area_code];
        let c = stats::compare_proportion_with_funnel(
            stats::Count::new(x, n),
            total.0 / total.1,
            stats::Polarity::LowIsGood,
        )
        .unwrap();
        let expected = match c.judgement {
            stats::Judgement::Similar => ComparisonResult::Similar,
            stats::Judgement::Better => ComparisonResult::Better,
            stats::Judgement::Worse => ComparisonResult::Worse,
            stats::Judgement::MuchBetter => ComparisonResult::MuchBetter,
            stats::Judgement::MuchWorse => ComparisonResult::MuchWorse,
            other => panic!("{other:?}"),
        };
        assert_eq!(area.comparison, expected as i32, "{}", area.area_code);
        assert!(area.funnel_limits.is_some_and(|l| l.lower_99_8 < l.lower_95));
    }

    // Inequality across IMD deciles within the region: each decile is the sum of the region's
    // LSOAs in it; the SII falls from most to least deprived; Core20 is worse (higher).
    let inequality_request = GetInequalityRequest {
        metric_code: METRIC.into(),
        area_code: NORTH_EAST.into(),
        simulation_draws: 10_000,
        seed: Some(42),
        ..Default::default()
    };
    let inequality = h.service.get_inequality(&national(), inequality_request.clone()).await.expect("inequality");
    let decile_of: HashMap<&str, u32> = lsoas.iter().map(|l| (l.code.as_str(), l.decile)).collect();
    let by_decile = sum_by(2023, &|code| Some(decile_of[code].to_string()));
    assert_eq!((inequality.period_code.as_str(), inequality.dimension.as_str()), ("2023", "imd_decile"));
    assert_eq!(inequality.groups.len(), 10);
    for group in &inequality.groups {
        let (x, n, _) = by_decile[&group.code];
        assert_eq!(
            (group.numerator, group.denominator, group.population),
            (Some(x), Some(n), Some(n)),
            "decile {}",
            group.code
        );
        assert_eq!(group.limits, Some(limits(x, n)));
    }
    assert_eq!((inequality.most_deprived_code.as_str(), inequality.least_deprived_code.as_str()), ("1", "10"));
    let sii = inequality.sii.expect("an SII");
    assert!(
        sii.value.unwrap() < 0.0
            && sii.lower_95.unwrap() < sii.value.unwrap()
            && sii.value.unwrap() < sii.upper_95.unwrap()
    );
    assert!(inequality.rii.and_then(|r| r.value).unwrap() < 1.0);
    assert_eq!((inequality.seed, inequality.simulation_draws), (42, 10_000));
    let core20 = inequality.core20.expect("core20");
    assert!(core20.core20_value > core20.rest_value);
    assert_eq!(core20.comparison, ComparisonResult::Worse as i32);
    let repeated = h.service.get_inequality(&national(), inequality_request).await.unwrap();
    assert!(repeated.cache_hit);
    assert_eq!(GetInequalityResponse { cache_hit: false, ..repeated }, inequality, "seeded, so reproducible");

    // The trend of a district: five years of rising proportions, which is getting worse.
    let trend = h
        .service
        .get_trend(
            &national(),
            GetTrendRequest { metric_code: METRIC.into(), area_code: districts[1].clone(), ..Default::default() },
        )
        .await
        .expect("trend");
    assert_eq!(trend.points.len(), 5);
    let result = trend.trend.expect("a trend");
    assert_eq!(
        (result.direction, result.judgement),
        (TrendDirection::Increasing as i32, TrendJudgement::GettingWorse as i32)
    );
    assert_eq!((result.first_period_code.as_str(), result.last_period_code.as_str()), ("2019", "2023"));
    assert_eq!(result.method.map(|m| m.method), Some(StatisticalMethod::ChiSquareTrend as i32));

    // The area profile of a district: every catalogue metric published at districts, ours with
    // the same comparison and quintile as CompareAreas over all of England's districts.
    let profile_request = GetAreaProfileRequest { area_code: districts[1].clone(), ..Default::default() };
    let profile = h.service.get_area_profile(&national(), profile_request.clone()).await.expect("a profile");
    assert!(profile.metrics.len() > 1 && profile.benchmark_code == ENGLAND);
    let ours = profile.metrics.iter().find(|m| m.metric_code == METRIC).expect("our metric");
    let everywhere = h.service.compare_areas(&national(), compare_request("")).await.unwrap();
    // Every district of England whose boundaries cover 2023: the 317 of 2019 less the eleven
    // replaced in 2021 by Buckinghamshire and North and West Northamptonshire (Cumbria's, North
    // Yorkshire's and Somerset's districts lasted until April 2023, so they are in 2023's set).
    assert_eq!(everywhere.total_size, 306, "every district of England valid in 2023");
    let same = everywhere.areas.iter().find(|a| a.area_code == districts[1]).unwrap();
    assert_eq!((ours.value, ours.comparison, ours.quintile), (same.value, same.comparison, same.quintile));
    assert_eq!(ours.trend.as_ref().map(|t| t.judgement), Some(TrendJudgement::GettingWorse as i32));
    assert!(ours.range.is_some_and(|r| r.lowest <= ours.value && ours.value <= r.highest));
    let others = profile.metrics.iter().filter(|m| m.metric_code != METRIC);
    assert!(others.into_iter().all(|m| m.suppression_reason == StatisticSuppressionReason::NoData as i32));
    let filtered = h
        .service
        .get_area_profile(&national(), GetAreaProfileRequest { worse_and_worsening_only: true, ..profile_request })
        .await
        .unwrap();
    let worse = matches!(
        ComparisonResult::try_from(ours.comparison),
        Ok(ComparisonResult::Worse | ComparisonResult::MuchWorse)
    );
    assert_eq!(
        filtered.metrics.iter().map(|m| m.metric_code.as_str()).collect::<Vec<_>>(),
        if worse { vec![METRIC] } else { vec![] }
    );

    // A revision, published, moves the data generation: the same query is recomputed and
    // names a newer data version.
    let revised_lsoa = lsoas.iter().find(|l| l.district == districts[1]).unwrap();
    let (x, n) = figures[&(2023, revised_lsoa.code.clone())];
    submit_and_publish(&h, vec![row(&revised_lsoa.code, 2023, (x + 40.0, n))]).await;
    let revised = h.service.compare_areas(&national(), compare_request(NORTH_EAST)).await.unwrap();
    assert!(!revised.cache_hit && revised.data_generation > compared.data_generation);
    let (before, after) = (compared.data_version.unwrap(), revised.data_version.unwrap());
    assert!((after.seconds, after.nanos) > (before.seconds, before.nanos));
    let district = |r: &CompareAreasResponse| r.areas.iter().find(|a| a.area_code == districts[1]).cloned().unwrap();
    assert_eq!(district(&revised).numerator, district(&compared).numerator.map(|v| v + 40.0));
    assert_eq!(revised.benchmarks[0].numerator, Some(total.0 + 40.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_the_field_at_fault() {
    let h = Harness::start().await;
    let field = |e: sharedmetrics_error::ServiceError| {
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{e}");
        (e.violations[0].field.clone(), e.violations[0].reason.clone())
    };
    let metric = "smoking-prevalence-adults";
    let base = CompareAreasRequest {
        metric_code: metric.into(),
        area_type: AreaType::LocalAuthorityDistrict as i32,
        ..Default::default()
    };
    let e =
        h.service.compare_areas(&national(), CompareAreasRequest { area_type: 0, ..base.clone() }).await.unwrap_err();
    assert_eq!(field(e), ("area_type".into(), "REQUIRED".into()));
    let e = h
        .service
        .compare_areas(&national(), CompareAreasRequest { area_type: AreaType::Ward as i32, ..base.clone() })
        .await
        .unwrap_err();
    assert_eq!(field(e), ("area_type".into(), "WRONG_AREA_TYPE".into()));
    let e = h
        .service
        .compare_areas(&national(), CompareAreasRequest { period_code: "2023/24".into(), ..base.clone() })
        .await
        .unwrap_err();
    assert_eq!(field(e), ("period_code".into(), "WRONG_PERIOD_TYPE".into()));
    let e = h
        .service
        .compare_areas(
            &national(),
            CompareAreasRequest { breakdown_codes: vec!["imd_decile:1".into()], ..base.clone() },
        )
        .await
        .unwrap_err();
    assert_eq!(field(e), ("breakdown_codes".into(), "UNKNOWN_DIMENSION".into()));
    let e = h
        .service
        .compare_areas(&national(), CompareAreasRequest { peer_group_code: "no-such-group".into(), ..base.clone() })
        .await
        .unwrap_err();
    assert_eq!(field(e), ("peer_group_code".into(), "UNKNOWN_PEER_GROUP".into()));
    let e = h
        .service
        .get_inequality(
            &national(),
            GetInequalityRequest {
                metric_code: metric.into(),
                area_code: "E08000021".into(),
                dimension: "sex".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(field(e), ("dimension".into(), "NOT_ORDERED".into()));
    let e = h
        .service
        .get_trend(
            &national(),
            GetTrendRequest { metric_code: metric.into(), area_code: "E99999999".into(), ..Default::default() },
        )
        .await
        .unwrap_err();
    assert_eq!(field(e), ("area_code".into(), "UNKNOWN_AREA".into()));
    let empty = h.service.compare_areas(&national(), base).await.expect("a metric without data compares to nothing");
    assert_eq!((empty.period_code.as_str(), empty.total_size), ("", 317));
    assert!(empty.areas.iter().all(|a| a.comparison == ComparisonResult::NotCompared as i32 && a.value.is_none()));
    let calculated = h
        .service
        .compute_statistics(
            &reader(),
            ComputeStatisticsRequest {
                value_type: ValueType::CrudeRate as i32,
                input: Some(compute_statistics_request::Input::Counts(CountInput {
                    numerator: 9.0,
                    denominator: Some(25_000.0),
                })),
                ..Default::default()
            },
        )
        .await
        .expect("the calculator needs no stored data");
    assert_eq!(
        (calculated.value, calculated.method.map(|m| m.method)),
        (Some(36.0), Some(StatisticalMethod::ExactPoisson as i32))
    );
}
