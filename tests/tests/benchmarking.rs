//! The benchmarking scenario through the gateway, in both topologies, on PostgreSQL and SQLite:
//! LSOA-level data for a metric is submitted and published; district comparisons computed from
//! the LSOAs' numerators and denominators, an inequality result and an area profile are read
//! back; a second identical query is a cache hit; after a published revision the answer changes
//! and names the new data version.

use std::collections::HashMap;

use sharedmetrics_e2e::{Sandbox, Scene, Suite, proportion};
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{
    Benchmark, CompareAreasRequest, CompareAreasResponse, GetAreaProfileRequest, GetInequalityRequest, benchmark,
};
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;
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

async fn compare(sandbox: &Sandbox) -> CompareAreasResponse {
    BenchmarkingServiceClient::new(sandbox.admin())
        .compare_areas(CompareAreasRequest {
            metric_code: METRIC.into(),
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
    let response = compare(sandbox).await;
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
    let again = compare(sandbox).await;
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
    let revised = compare(sandbox).await;
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

static SUITE: Suite = Suite::new();

sharedmetrics_e2e::scenarios!(SUITE: lsoa_data_is_benchmarked_by_district_cached_and_revised);
