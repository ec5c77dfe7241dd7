//! The benchmarking scenario through the gateway, in both topologies, on PostgreSQL and SQLite:
//! LSOA-level data for a metric is submitted and published; district comparisons computed from
//! the LSOAs' numerators and denominators, an inequality result and an area profile are read
//! back; a second identical query is a cache hit; after a published revision the answer changes
//! and names the new data version. Life expectancy is built from LSOAs' deaths and populations by
//! age band, for a district, by IMD decile and for Core20 against the rest.

use std::collections::HashMap;

use sharedmetrics_e2e::{Sandbox, Scene, Suite, proportion};
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{
    Benchmark, CompareAreasRequest, CompareAreasResponse, ComputeStatisticsRequest, ComputeStatisticsResponse,
    GetAreaProfileRequest, GetInequalityRequest, LifeTableBand, LifeTableInput, benchmark, compute_statistics_request,
};
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, Breakdown, BreakdownCode, CiMethod, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{Area, MetricVersionSpec};
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;

const METRIC: &str = "e2e-bench-screening";
/// The North East region: 12 districts, 1,657 LSOAs.
const NORTH_EAST: &str = "E12000001";
const PERIOD: &str = "2024/25";

/// An LSOA with its district and IMD decile.
struct Lsoa {
    code: String,
    district: String,
}

async fn north_east_lsoas(sandbox: &Sandbox) -> Vec<Lsoa> {
    let areas = sandbox.areas(AreaType::Lsoa, NORTH_EAST).await;
    areas
        .into_iter()
        .map(|area| {
            let district = area
                .parents
                .iter()
                .find(|p| p.r#type == AreaType::LocalAuthorityDistrict as i32)
                .map(|p| p.code.clone())
                .expect("an LSOA has a district");
            Lsoa { code: area.code, district }
        })
        .collect()
}

fn counts(i: usize) -> (f64, f64) {
    (40.0 + (i % 37) as f64, 100.0 + (i % 11) as f64)
}

/// Returns `metric`'s North East districts compared with England.
async fn compare(sandbox: &Sandbox, metric: &str) -> CompareAreasResponse {
    BenchmarkingServiceClient::new(sandbox.admin())
        .compare_areas(CompareAreasRequest {
            metric_code: metric.into(),
            period_code: PERIOD.into(),
            area_type: AreaType::LocalAuthorityDistrict as i32,
            parent_area_code: NORTH_EAST.into(),
            benchmark: Some(Benchmark { kind: Some(benchmark::Kind::England(true)) }),
            ..Default::default()
        })
        .await
        .expect("districts are compared")
        .into_inner()
}

async fn lsoa_data_is_benchmarked_by_district_cached_and_revised(sandbox: &Scene) {
    let spec = MetricVersionSpec {
        title: "Screening coverage (end-to-end benchmark)".into(),
        dimensions: vec!["imd_decile".into()],
        ..proportion(METRIC)
    };
    sandbox.define(spec, true).await;
    let lsoas = north_east_lsoas(sandbox).await;
    assert_eq!(lsoas.len(), 1657, "every North East LSOA");
    let rows: Vec<ObservationRow> = lsoas
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (n, d) = counts(i);
            ObservationRow {
                area_code: l.code.clone(),
                period_code: PERIOD.into(),
                numerator: Some(n),
                denominator: Some(d),
                ..Default::default()
            }
        })
        .collect();
    let first = sandbox.publish_rows(METRIC, rows).await;
    assert_eq!(first.counts.unwrap().created, 1657);

    let mut expected: HashMap<&str, (f64, f64)> = HashMap::new();
    for (i, l) in lsoas.iter().enumerate() {
        let (n, d) = counts(i);
        let e = expected.entry(l.district.as_str()).or_default();
        e.0 += n;
        e.1 += d;
    }
    let response = compare(sandbox, METRIC).await;
    assert_eq!(response.areas.len(), expected.len(), "every North East district is compared");
    assert!(!response.cache_hit, "the first answer is computed");
    assert!(response.data_version.is_some() && !response.method_versions.is_empty());
    for area in &response.areas {
        let (n, d) = expected[area.area_code.as_str()];
        assert_eq!((area.numerator, area.denominator), (Some(n), Some(d)), "{} sums its LSOAs", area.area_code);
        let value = area.value.expect("a value");
        assert!((value - 100.0 * n / d).abs() < 1e-9, "{}: {value}", area.area_code);
        let limits = area.limits.as_ref().expect("limits");
        let (l95, u95) = (limits.lower_95.unwrap(), limits.upper_95.unwrap());
        let (l998, u998) = (limits.lower_99_8.unwrap(), limits.upper_99_8.unwrap());
        assert!(l998 <= l95 && l95 <= value && value <= u95 && u95 <= u998, "{}: nested limits", area.area_code);
        assert!(area.rank >= 1 && area.quintile >= 1, "{} is ranked and in a quintile", area.area_code);
    }
    let again = compare(sandbox, METRIC).await;
    assert!(again.cache_hit, "a second identical query is a cache hit");
    assert_eq!(again.areas, response.areas);

    let inequality = BenchmarkingServiceClient::new(sandbox.admin())
        .get_inequality(GetInequalityRequest {
            metric_code: METRIC.into(),
            area_code: NORTH_EAST.into(),
            period_code: PERIOD.into(),
            dimension: "imd_decile".into(),
            simulation_draws: 2_000,
            ..Default::default()
        })
        .await
        .expect("inequality by decile")
        .into_inner();
    assert_eq!(inequality.groups.len(), 10, "ten deciles");
    assert!(inequality.sii.is_some() && inequality.absolute_gap.is_some() && inequality.core20.is_some());

    let district = &response.areas[0].area_code;
    let profile = BenchmarkingServiceClient::new(sandbox.admin())
        .get_area_profile(GetAreaProfileRequest {
            area_code: district.clone(),
            period_code: PERIOD.into(),
            metric_codes: vec![METRIC.into()],
            benchmark: Some(Benchmark { kind: Some(benchmark::Kind::England(true)) }),
            ..Default::default()
        })
        .await
        .expect("the area profile")
        .into_inner();
    let row = profile.metrics.iter().find(|m| m.metric_code == METRIC).expect("the metric is in the profile");
    assert_eq!(row.value, response.areas[0].value, "the profile agrees with the comparison");

    // A revision of one LSOA, published: the district's answer changes and names new data.
    let (index, lsoa) = lsoas.iter().enumerate().find(|(_, l)| &l.district == district).unwrap();
    let (n, d) = counts(index);
    sandbox
        .publish_rows(
            METRIC,
            vec![ObservationRow {
                area_code: lsoa.code.clone(),
                period_code: PERIOD.into(),
                numerator: Some(n - 30.0),
                denominator: Some(d),
                ..Default::default()
            }],
        )
        .await;
    let revised = compare(sandbox, METRIC).await;
    assert!(!revised.cache_hit, "publishing invalidated the cached answer");
    assert_ne!(revised.data_generation, response.data_generation);
    let seconds = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos)).unwrap();
    assert!(
        seconds(&revised.data_version) > seconds(&response.data_version),
        "the answer names the newer data version"
    );
    let before = expected[district.as_str()];
    let after = revised.areas.iter().find(|a| &a.area_code == district).unwrap();
    assert_eq!(after.numerator, Some(before.0 - 30.0), "the revision is in the district's sum");
}

const LIFE_METRIC: &str = "e2e-life-expectancy";
/// County Durham: 324 LSOAs across the IMD deciles.
const DURHAM: &str = "E06000047";
/// The life table's 20 age bands, as the `life_table_age_band` dimension codes them.
const LIFE_BANDS: [&str; 20] = [
    "0", "1-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59",
    "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
];
/// Each band's share of a population.
const AGE_SHARES: [f64; 20] = [
    0.011, 0.045, 0.058, 0.060, 0.058, 0.062, 0.066, 0.066, 0.064, 0.062, 0.066, 0.069, 0.067, 0.059, 0.052, 0.050,
    0.036, 0.026, 0.015, 0.008,
];
/// Deaths a year per person in each band, in the least deprived decile.
const MORTALITY: [f64; 20] = [
    0.0040, 0.00015, 0.0001, 0.0001, 0.0003, 0.0005, 0.0006, 0.0008, 0.0011, 0.0016, 0.0024, 0.0038, 0.0060, 0.0095,
    0.0150, 0.0240, 0.0400, 0.0700, 0.1250, 0.2400,
];

/// An LSOA's deaths and population in each band: mortality 6% higher for each decile more
/// deprived, rounded to whole deaths with a fixed fractional offset per cell.
fn life_table_bands(i: usize, population: u64, decile: u32) -> Vec<(f64, f64)> {
    let excess = 1.0 + 0.06 * f64::from(10 - decile);
    (0..20)
        .map(|b| {
            let people = (population as f64 * AGE_SHARES[b]).round().max(1.0);
            let offset = ((i * 20 + b) as f64 * 0.618_033_988_7).fract();
            ((people * MORTALITY[b] * excess + offset).floor().min(people), people)
        })
        .collect()
}

/// Returns life expectancy computed by ComputeStatistics from summed bands.
async fn life_expectancy_of(sandbox: &Scene, bands: &[(f64, f64)]) -> ComputeStatisticsResponse {
    let bands = LIFE_BANDS
        .iter()
        .zip(bands)
        .map(|(band, (deaths, population))| LifeTableBand {
            band: (*band).into(),
            deaths: *deaths,
            population: *population,
            ..Default::default()
        })
        .collect();
    BenchmarkingServiceClient::new(sandbox.admin())
        .compute_statistics(ComputeStatisticsRequest {
            value_type: ValueType::LifeExpectancy as i32,
            input: Some(compute_statistics_request::Input::LifeTable(LifeTableInput { bands })),
            ..Default::default()
        })
        .await
        .expect("a life table")
        .into_inner()
}

async fn life_expectancy_by_deprivation_is_built_from_lsoa_life_tables(sandbox: &Scene) {
    let spec = MetricVersionSpec {
        title: "Life expectancy at birth (end-to-end)".into(),
        value_type: ValueType::LifeExpectancy as i32,
        multiplier: 1,
        unit: "years".into(),
        ci_method: CiMethod::ChiangSilcocks as i32,
        dimensions: vec!["life_table_age_band".into(), "imd_decile".into()],
        area_types: vec![AreaType::Lsoa as i32, AreaType::LocalAuthorityDistrict as i32],
        ..proportion(LIFE_METRIC)
    };
    sandbox.define(spec, true).await;
    let lsoas = sandbox.areas(AreaType::Lsoa, DURHAM).await;
    assert_eq!(lsoas.len(), 324, "County Durham's LSOAs");
    let decile = |a: &Area| a.deprivation.as_ref().map_or(0, |d| d.imd_decile);
    let tables: Vec<Vec<(f64, f64)>> =
        lsoas.iter().enumerate().map(|(i, a)| life_table_bands(i, a.population, decile(a))).collect();
    let mut rows = Vec::new();
    for (lsoa, bands) in lsoas.iter().zip(&tables) {
        for (band, (deaths, population)) in LIFE_BANDS.iter().zip(bands) {
            rows.push(ObservationRow {
                area_code: lsoa.code.clone(),
                period_code: PERIOD.into(),
                breakdown: Some(Breakdown {
                    codes: vec![BreakdownCode { dimension: "life_table_age_band".into(), code: (*band).into() }],
                }),
                numerator: Some(*deaths),
                denominator: Some(*population),
                ..Default::default()
            });
        }
    }
    let receipt = sandbox.publish_rows(LIFE_METRIC, rows).await;
    assert!(receipt.rejections.is_empty(), "{:?}", receipt.rejections.first());
    let summed = |keep: &dyn Fn(u32) -> bool| -> Vec<(f64, f64)> {
        let mut out = vec![(0.0, 0.0); 20];
        for (lsoa, bands) in lsoas.iter().zip(&tables) {
            if keep(decile(lsoa)) {
                for (o, (d, p)) in out.iter_mut().zip(bands) {
                    o.0 += d;
                    o.1 += p;
                }
            }
        }
        out
    };
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        (a, b) => a == b,
    };

    // The district's life expectancy is the life table of all its LSOAs' bands.
    let district = compare(sandbox, LIFE_METRIC).await;
    let durham = district.areas.iter().find(|a| a.area_code == DURHAM).expect("Durham is compared");
    let whole = life_expectancy_of(sandbox, &summed(&|_| true)).await;
    assert!(close(durham.value, whole.value), "{:?} vs {:?}", durham.value, whole.value);
    assert!(whole.value.is_some_and(|v| (70.0..90.0).contains(&v)), "{:?}", whole.value);

    // By IMD decile: each decile's life table from its LSOAs; the SII in years; Core20 against the rest.
    let inequality = BenchmarkingServiceClient::new(sandbox.admin())
        .get_inequality(GetInequalityRequest {
            metric_code: LIFE_METRIC.into(),
            area_code: DURHAM.into(),
            period_code: PERIOD.into(),
            dimension: "imd_decile".into(),
            simulation_draws: 2_000,
            ..Default::default()
        })
        .await
        .expect("inequality by decile")
        .into_inner();
    assert_eq!(inequality.groups.len(), 10);
    let mut with_values = 0;
    for group in &inequality.groups {
        let d: u32 = group.code.parse().expect("a decile");
        let expected = life_expectancy_of(sandbox, &summed(&|x| x == d)).await;
        assert!(close(group.value, expected.value), "decile {d}: {:?} vs {:?}", group.value, expected.value);
        if expected.suppressed {
            assert_eq!(group.suppression_reason, expected.suppression_reason, "decile {d}");
        }
        with_values += usize::from(group.value.is_some());
    }
    assert!(with_values >= 6, "{with_values} deciles have a life expectancy");
    let sii = inequality.sii.as_ref().and_then(|s| s.value).expect("an SII");
    assert!((1.0..15.0).contains(&sii.abs()), "the SII is a gap of a few years: {sii}");
    let core20 = inequality.core20.as_ref().expect("Core20 against the rest");
    let (c, r) = (
        life_expectancy_of(sandbox, &summed(&|x| x <= 2)).await,
        life_expectancy_of(sandbox, &summed(&|x| x > 2)).await,
    );
    assert!(close(core20.core20_value, c.value) && close(core20.rest_value, r.value), "{core20:?}");
    assert!(core20.absolute_gap.is_some_and(|g| g < 0.0), "Core20 lives shorter: {core20:?}");
}

static SUITE: Suite = Suite::new();

sharedmetrics_e2e::scenarios!(SUITE:
    lsoa_data_is_benchmarked_by_district_cached_and_revised,
    life_expectancy_by_deprivation_is_built_from_lsoa_life_tables,
);
