//! England as councils live it, through the gateway, in both topologies, on PostgreSQL and on
//! SQLite: a county council submits for its county and its districts and is compared with its
//! region and with England; a unitary authority submits at upper tier under its district code;
//! a council's row for an area outside its own is refused, naming the rule; a council reads its
//! trusts' indicator for its own area, weighted by their catchments; and every differencing a
//! reader outside a submitter can do over aggregates of many small LSOA counts recovers none.

use sharedmetrics_e2e::{Scene, Suite, proportion, submit_and_publish, submit_rows as submit};
use sharedmetrics_proto::sharedmetrics::access::v1 as access;
use sharedmetrics_proto::sharedmetrics::access::v1::access_service_client::AccessServiceClient;
use sharedmetrics_proto::sharedmetrics::access::v1::{Action, ExplainAccessRequest, ResourceKind};
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{
    AreaComparison, Benchmark, CompareAreasRequest, CompareAreasResponse, StatisticalMethod, benchmark,
};
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;
use sharedmetrics_proto::sharedmetrics::definitions::v1::{
    Area, GetAreaRequest, ListAreasRequest, ListAreasResponse, MetricVersionSpec,
};
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;

const KENT: &str = "E10000016";
/// Kent County Council's ODS code.
const KENT_COUNCIL: &str = "820";
const ASHFORD: &str = "E07000105";
const CANTERBURY: &str = "E07000106";
/// Medway: a unitary authority inside Kent's ceremonial county, but not in Kent County Council's area.
const MEDWAY: &str = "E06000035";
const MEDWAY_COUNCIL: &str = "821";
const SOUTH_EAST: &str = "E12000008";
const ENGLAND: &str = "E92000001";
const PERIOD: &str = "2023/24";

fn row(area: &str, numerator: f64, denominator: f64) -> ObservationRow {
    ObservationRow {
        area_code: area.into(),
        period_code: PERIOD.into(),
        numerator: Some(numerator),
        denominator: Some(denominator),
        ..Default::default()
    }
}

async fn compare(scene: &Scene, metric: &str, area_type: AreaType, parent: Option<AreaType>) -> CompareAreasResponse {
    BenchmarkingServiceClient::new(scene.admin())
        .compare_areas(CompareAreasRequest {
            metric_code: metric.into(),
            period_code: PERIOD.into(),
            area_type: area_type as i32,
            benchmark: parent.map(|t| Benchmark { kind: Some(benchmark::Kind::ParentAreaType(t as i32)) }),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("a comparison")
        .into_inner()
}

fn area<'a>(answer: &'a CompareAreasResponse, code: &str) -> &'a AreaComparison {
    answer.areas.iter().find(|a| a.area_code == code).unwrap_or_else(|| panic!("{code} is compared"))
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

async fn a_county_submits_for_itself_and_its_districts_and_is_compared_with_its_region_and_england(scene: &Scene) {
    let metric = "county-indicator";
    let spec = MetricVersionSpec {
        area_types: vec![
            AreaType::UpperTierLocalAuthority as i32,
            AreaType::LocalAuthorityDistrict as i32,
            AreaType::Region as i32,
            AreaType::England as i32,
        ],
        dimensions: Vec::new(),
        ..proportion(metric)
    };
    scene.define(spec, true).await;

    // Kent County Council submits for Kent and two of its districts; its row for Medway, a
    // unitary outside its area, is refused naming the rule.
    let kent = scene.key(KENT_COUNCIL, &[access::Role::Submitter]).await;
    let receipt = submit_and_publish(
        &kent,
        metric,
        vec![row(KENT, 300.0, 1000.0), row(ASHFORD, 40.0, 100.0), row(CANTERBURY, 60.0, 200.0), row(MEDWAY, 1.0, 2.0)],
    )
    .await;
    assert_eq!(receipt.rejections.len(), 1, "{:?}", receipt.rejections);
    let refused = &receipt.rejections[0];
    assert_eq!(
        (refused.row_index, refused.code.as_str(), refused.field.as_str()),
        (3, "AREA_NOT_PERMITTED", "area_code")
    );
    assert!(refused.message.contains("submit.outside_catchment"), "{}", refused.message);

    // Medway Council submits at upper tier under its own (district) code: a unitary is both.
    let medway = scene.key(MEDWAY_COUNCIL, &[access::Role::Submitter]).await;
    let receipt = submit_and_publish(&medway, metric, vec![row(MEDWAY, 50.0, 250.0)]).await;
    assert!(receipt.rejections.is_empty(), "{:?}", receipt.rejections);

    // Upper tiers compared with their regions: Kent and Medway against the South East, whose
    // figure is summed from the finest level with data, its districts (Medway among them).
    let by_region = compare(scene, metric, AreaType::UpperTierLocalAuthority, Some(AreaType::Region)).await;
    assert_eq!(by_region.total_size, 153, "every upper-tier authority of the 2023 boundaries, in force in 2023/24");
    let kent_row = area(&by_region, KENT);
    assert!(close(kent_row.value, 30.0), "{kent_row:?}");
    assert_eq!(kent_row.benchmark_code, SOUTH_EAST);
    assert!(close(kent_row.benchmark_value, 150.0 / 550.0 * 100.0), "{kent_row:?}");
    assert!(close(area(&by_region, MEDWAY).value, 20.0));
    let south_east = by_region.benchmarks.iter().find(|b| b.code == SOUTH_EAST).expect("the South East's figures");
    assert_eq!((south_east.numerator, south_east.denominator), (Some(150.0), Some(550.0)));

    // ... and with England.
    let with_england = compare(scene, metric, AreaType::UpperTierLocalAuthority, None).await;
    assert_eq!(area(&with_england, KENT).benchmark_code, ENGLAND);

    // Kent's districts compared with Kent.
    let by_county =
        compare(scene, metric, AreaType::LocalAuthorityDistrict, Some(AreaType::UpperTierLocalAuthority)).await;
    let ashford = area(&by_county, ASHFORD);
    assert_eq!(ashford.benchmark_code, KENT);
    assert!(close(ashford.value, 40.0) && close(ashford.benchmark_value, 30.0), "{ashford:?}");
}

async fn counties_are_listed_with_their_districts_and_unitaries_count_as_both(scene: &Scene) {
    let mut definitions = DefinitionsServiceClient::new(scene.admin());
    let uppers = definitions
        .list_areas(ListAreasRequest {
            r#type: AreaType::UpperTierLocalAuthority as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("upper tiers are listed")
        .into_inner();
    assert_eq!(uppers.total_size, 156, "the 152 of 2021 and the four authorities new in 2023");
    let in_vintage = |vintage: &'static str| {
        let mut definitions = definitions.clone();
        async move {
            definitions
                .list_areas(ListAreasRequest {
                    r#type: AreaType::UpperTierLocalAuthority as i32,
                    vintage: vintage.into(),
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .expect("upper tiers of a vintage")
                .into_inner()
        }
    };
    let (of_2021, of_2023) = (in_vintage("2021").await, in_vintage("2023").await);
    assert_eq!((of_2021.total_size, of_2023.total_size), (152, 153));
    let codes = |list: &ListAreasResponse| list.areas.iter().map(|a| a.code.clone()).collect::<Vec<_>>();
    assert!(codes(&of_2021).contains(&"E10000006".to_owned()) && !codes(&of_2023).contains(&"E10000006".to_owned()));
    assert!(codes(&of_2023).contains(&"E06000063".to_owned()), "Cumberland");
    let counties = of_2021.areas.iter().filter(|a| a.r#type == AreaType::UpperTierLocalAuthority as i32).count();
    assert_eq!(counties, 27, "24 counties and the three unitaries made after 2019");
    let medway = uppers.areas.iter().find(|a| a.code == MEDWAY).expect("Medway is an upper tier");
    assert_eq!(medway.r#type, AreaType::LocalAuthorityDistrict as i32);
    assert_eq!(medway.also_types, vec![AreaType::UpperTierLocalAuthority as i32]);

    let kent_districts = definitions
        .list_areas(ListAreasRequest {
            r#type: AreaType::LocalAuthorityDistrict as i32,
            parent_code: KENT.into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("Kent's districts are listed")
        .into_inner();
    assert_eq!(kent_districts.total_size, 12);
    let kent = definitions
        .get_area(GetAreaRequest { code: KENT.into() })
        .await
        .expect("Kent is an area")
        .into_inner()
        .area
        .expect("an area");
    assert_eq!(kent.name, "Kent");
    assert!(kent.parents.iter().any(|p| p.code == SOUTH_EAST), "{:?}", kent.parents);
    assert!(kent.population > 1_000_000, "Kent's LSOAs' population: {}", kent.population);
    assert_eq!(kent.vintage, "2021");

    // A 2019 district abolished since names the authority that replaced it, and that one it.
    let area = |code: &'static str| {
        let mut definitions = definitions.clone();
        async move {
            definitions
                .get_area(GetAreaRequest { code: code.into() })
                .await
                .expect("an area")
                .into_inner()
                .area
                .expect("one")
        }
    };
    let corby = area("E07000150").await;
    assert_eq!((corby.vintage.as_str(), corby.successor_codes.clone()), ("2019", vec!["E06000061".to_owned()]));
    assert_eq!(corby.replaced_in, "2021");
    let north_northamptonshire = area("E06000061").await;
    assert!(north_northamptonshire.predecessor_codes.contains(&"E07000150".to_owned()));
    assert_eq!(north_northamptonshire.introduced_in, "2021");
    let cumbria = area("E10000006").await;
    assert_eq!((cumbria.vintage.as_str(), cumbria.replaced_in.as_str()), ("2021", "2023"));
    let cumberland = area("E06000063").await;
    assert_eq!((cumberland.vintage.as_str(), cumberland.introduced_in.as_str()), ("2023", "2023"));
}

async fn a_row_for_an_area_outside_the_periods_boundaries_is_refused_naming_the_vintage(scene: &Scene) {
    let metric = "vintage-indicator";
    let spec = MetricVersionSpec {
        area_types: vec![AreaType::UpperTierLocalAuthority as i32, AreaType::LocalAuthorityDistrict as i32],
        dimensions: Vec::new(),
        ..proportion(metric)
    };
    scene.define(spec, true).await;
    let at = |area: &str, period: &str| ObservationRow {
        area_code: area.into(),
        period_code: period.into(),
        numerator: Some(5.0),
        denominator: Some(10.0),
        ..Default::default()
    };
    let rows = vec![
        at("E10000006", "2022/23"), // Cumbria, in its last year
        at("E10000006", "2023/24"), // Cumbria, replaced on 1 April 2023
        at("E06000063", "2022/23"), // Cumberland, before it began
        at("E06000063", "2023/24"), // Cumberland, in its first year
        at("E07000150", "2021/22"), // Corby, replaced by North Northamptonshire in 2021
    ];
    let receipt = submit(&scene.admin(), metric, rows).await;
    let refused: Vec<(u64, &str, &str)> =
        receipt.rejections.iter().map(|r| (r.row_index, r.code.as_str(), r.field.as_str())).collect();
    assert_eq!(
        refused,
        [
            (1, "AREA_NOT_IN_PERIOD", "area_code"),
            (2, "AREA_NOT_IN_PERIOD", "area_code"),
            (4, "AREA_NOT_IN_PERIOD", "area_code")
        ]
    );
    assert!(receipt.rejections[0].message.contains("2023 boundaries"), "{}", receipt.rejections[0].message);
    assert!(receipt.rejections[1].message.contains("Cumberland"), "{}", receipt.rejections[1].message);
}

/// Returns the share of `trust`'s admissions from `area` in a built-in catchment file (columns
/// trust, area, share), 0 when the file does not list the pair.
fn catchment_share(file: &str, trust: &str, area: &str) -> f64 {
    let rows: Vec<(String, String, f64)> =
        sharedmetrics_reference::Folder::reference_data(None).read_csv(file).expect("a built-in catchment file");
    rows.iter().find(|(t, a, _)| t == trust && a == area).map_or(0.0, |(_, _, share)| *share)
}

async fn a_council_reads_its_trusts_indicator_weighted_by_their_catchments(scene: &Scene) {
    const WIRRAL: &str = "E08000015";
    let metric = "trust-joint-indicator";
    let spec = MetricVersionSpec {
        area_types: vec![
            AreaType::Organisation as i32,
            AreaType::LocalAuthorityDistrict as i32,
            AreaType::UpperTierLocalAuthority as i32,
            AreaType::Icb as i32,
            AreaType::Region as i32,
            AreaType::England as i32,
        ],
        dimensions: Vec::new(),
        ..proportion(metric)
    };
    scene.define(spec, true).await;
    // Two acute trusts and a mental health trust (no catchment) submit for themselves.
    let submitted = [("RBL", 120.0, 400.0), ("REM", 900.0, 3000.0), ("RW4", 50.0, 500.0)];
    for (trust, numerator, denominator) in submitted {
        let key = scene.key(trust, &[access::Role::Submitter]).await;
        let receipt = submit_and_publish(&key, metric, vec![row(trust, numerator, denominator)]).await;
        assert!(receipt.rejections.is_empty(), "{trust}: {:?}", receipt.rejections);
    }

    // Wirral hospital's row for Middlesbrough, far outside its catchment, is refused naming the
    // rule; Wirral itself is in it, and ExplainAccess says by what share.
    let rbl = scene.key("RBL", &[access::Role::Submitter]).await;
    let refused = submit(&rbl, metric, vec![row("E06000002", 10.0, 20.0)]).await;
    assert_eq!(refused.rejections.len(), 1);
    assert_eq!(refused.rejections[0].code, "AREA_NOT_PERMITTED");
    assert!(refused.rejections[0].message.contains("submit.outside_catchment"), "{}", refused.rejections[0].message);
    let explained = AccessServiceClient::new(rbl.clone())
        .explain_access(ExplainAccessRequest {
            principal_id: String::new(),
            action: Action::Submit as i32,
            resource_kind: ResourceKind::Metric as i32,
            resource_code: metric.into(),
            area_code: WIRRAL.into(),
        })
        .await
        .expect("explained")
        .into_inner();
    assert_eq!((explained.allowed, explained.rule.as_str()), (true, "submit.catchment_share"));
    assert!(explained.explanation.contains("91.75% of RBL's admissions"), "{}", explained.explanation);

    // Wirral Borough Council reads its own area: the trusts' figures apportioned by the share of
    // their admissions from Wirral, summed; checked here against the catchment file itself.
    let wirral = scene.key("319", &[access::Role::Reader]).await;
    let answer = BenchmarkingServiceClient::new(wirral)
        .compare_areas(CompareAreasRequest {
            metric_code: metric.into(),
            period_code: PERIOD.into(),
            area_type: AreaType::LocalAuthorityDistrict as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("the council compares districts")
        .into_inner();
    let share = |trust: &str| catchment_share("organisations/trust_catchments_ltla21.csv", trust, WIRRAL);
    let expected_numerator: f64 = submitted.iter().map(|(t, x, _)| share(t) * x).sum();
    let expected_denominator: f64 = submitted.iter().map(|(t, _, n)| share(t) * n).sum();
    let wirral_row = area(&answer, WIRRAL);
    assert!(close(wirral_row.numerator, expected_numerator), "{wirral_row:?} vs {expected_numerator}");
    assert!(close(wirral_row.denominator, expected_denominator), "{wirral_row:?} vs {expected_denominator}");
    let aggregation = wirral_row.aggregation.as_ref().expect("named as aggregated");
    assert_eq!(aggregation.method, "catchment-weighted");
    assert_eq!(aggregation.source_area_type, AreaType::Organisation as i32);
    assert_eq!(aggregation.source_count, 2, "RBL and REM serve Wirral");
    assert_eq!(answer.not_apportioned, vec!["RW4".to_owned()], "the mental health trust is named, not apportioned");
    let weighted = StatisticalMethod::CatchmentWeighted as i32;
    assert!(answer.method_versions.iter().any(|m| m.method == weighted), "{:?}", answer.method_versions);

    // Cheshire and Merseyside ICB, by the trusts' shares of admissions by ICB.
    const CHESHIRE_AND_MERSEYSIDE: &str = "E54000008";
    let by_icb = compare(scene, metric, AreaType::Icb, None).await;
    let icb_share =
        |trust: &str| catchment_share("organisations/trust_catchments_icb22.csv", trust, CHESHIRE_AND_MERSEYSIDE);
    let icb_row = area(&by_icb, CHESHIRE_AND_MERSEYSIDE);
    let expected: f64 = submitted.iter().map(|(t, x, _)| icb_share(t) * x).sum();
    assert!(close(icb_row.numerator, expected), "{icb_row:?} vs {expected}");
    assert_eq!(icb_row.aggregation.as_ref().map(|a| a.method.as_str()), Some("catchment-weighted"));
}

/// The numerator `reader` sees of every area of a type (within `parent`, if given): None where
/// it is suppressed or has no data.
async fn numerators(
    reader: &sharedmetrics_e2e::AuthChannel,
    metric: &str,
    area_type: AreaType,
    parent: &str,
) -> Vec<(String, Option<f64>)> {
    let answer = BenchmarkingServiceClient::new(reader.clone())
        .compare_areas(CompareAreasRequest {
            metric_code: metric.into(),
            period_code: PERIOD.into(),
            area_type: area_type as i32,
            parent_area_code: parent.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("a comparison")
        .into_inner();
    assert!(answer.next_page_token.is_empty(), "one page holds them");
    answer.areas.into_iter().map(|a| (a.area_code, a.numerator.filter(|_| !a.suppressed))).collect()
}

async fn differencing_published_aggregates_recovers_no_hidden_lsoa_count(scene: &Scene) {
    const THRESHOLD: f64 = 7.0;
    let metric = "kent-small-counts";
    use AreaType::*;
    let geography = [Lsoa, Ward, LocalAuthorityDistrict, UpperTierLocalAuthority, Region, England];
    let nhs = [Lsoa, SubIcbLocation, Icb, NhsRegion, England];
    let spec = MetricVersionSpec {
        area_types: geography.iter().chain(&nhs[1..4]).map(|t| *t as i32).collect(),
        dimensions: Vec::new(),
        ..proportion(metric)
    };
    scene.define(spec, true).await;

    // Kent County Council submits every LSOA of Kent, about a third of them with a count from 1
    // to 7, which every reader outside the council sees suppressed.
    let lsoas = scene.areas(AreaType::Lsoa, KENT).await;
    assert!(lsoas.len() > 800, "{} LSOAs in Kent", lsoas.len());
    let count = |i: usize| ((i * 7) % 23) as f64;
    let counts: std::collections::HashMap<&str, f64> =
        lsoas.iter().enumerate().map(|(i, a)| (a.code.as_str(), count(i))).collect();
    let kent = scene.key(KENT_COUNCIL, &[access::Role::Submitter]).await;
    let rows = lsoas.iter().enumerate().map(|(i, a)| row(&a.code, count(i), 1500.0)).collect();
    let receipt = submit_and_publish(&kent, metric, rows).await;
    assert!(receipt.rejections.is_empty(), "{:?}", receipt.rejections.first());

    // What Medway Council's reader sees of every area holding Kent's LSOAs, at every level.
    let reader = scene.key(MEDWAY_COUNCIL, &[access::Role::Reader]).await;
    let mut seen = std::collections::HashMap::new();
    for area_type in geography.iter().chain(&nhs[1..4]) {
        let parent = if matches!(area_type, Lsoa | Ward | LocalAuthorityDistrict) { KENT } else { "" };
        seen.extend(numerators(&reader, metric, *area_type, parent).await);
    }
    let visible = |code: &str| seen.get(code).copied().flatten();
    for (lsoa, n) in &counts {
        let small = (1.0..=THRESHOLD).contains(n);
        assert_eq!(visible(lsoa).is_none(), small, "{lsoa} with {n} is suppressed exactly when small");
    }
    let total: f64 = counts.values().sum();
    for published in [ENGLAND, SOUTH_EAST, KENT] {
        assert!(close(visible(published), total), "{published} is published: {:?} vs {total}", visible(published));
    }

    // Every differencing: each published parent, minus its visible children of each finer type
    // of its hierarchy, minus the visible LSOAs under no visible child, leaves the sum of the
    // hidden LSOAs under no visible child. That must be nothing, or two or more hidden counts
    // summing above the threshold.
    let ancestor = |lsoa: &Area, t: AreaType| -> String {
        if t == Lsoa {
            return lsoa.code.clone();
        }
        lsoa.parents.iter().find(|p| p.r#type == t as i32).map(|p| p.code.clone()).unwrap_or_default()
    };
    let (mut checks, mut withheld_with_hidden, mut published_with_hidden) = (0, 0, 0);
    for hierarchy in [&geography[..], &nhs[..]] {
        for (level, parent_type) in hierarchy.iter().enumerate().skip(1) {
            let mut parents: std::collections::HashMap<String, Vec<&Area>> = std::collections::HashMap::new();
            for lsoa in &lsoas {
                parents.entry(ancestor(lsoa, *parent_type)).or_default().push(lsoa);
            }
            for (parent, members) in parents.iter().filter(|(parent, _)| !parent.is_empty()) {
                let hidden_inside =
                    members.iter().filter(|l| visible(&l.code).is_none() && counts[l.code.as_str()] > 0.0);
                let Some(value) = visible(parent) else {
                    withheld_with_hidden += usize::from(hidden_inside.count() > 0);
                    continue;
                };
                published_with_hidden += usize::from(hidden_inside.count() > 0);
                for child_type in &hierarchy[..level] {
                    let mut children: Vec<String> = members.iter().map(|l| ancestor(l, *child_type)).collect();
                    children.sort();
                    children.dedup();
                    let shown: f64 = children.iter().filter_map(|c| visible(c)).sum();
                    let uncovered = members.iter().filter(|l| visible(&ancestor(l, *child_type)).is_none());
                    let (visible_left, hidden_left): (Vec<&&Area>, Vec<&&Area>) =
                        uncovered.partition(|l| visible(&l.code).is_some());
                    let derived = value - shown - visible_left.iter().map(|l| counts[l.code.as_str()]).sum::<f64>();
                    let hidden: Vec<f64> =
                        hidden_left.iter().map(|l| counts[l.code.as_str()]).filter(|n| *n > 0.0).collect();
                    assert!((derived - hidden.iter().sum::<f64>()).abs() < 1e-6, "{parent} adds in its hidden counts");
                    assert!(
                        hidden.is_empty() || (hidden.len() >= 2 && derived > THRESHOLD),
                        "{parent} minus its visible {child_type:?} children reveals {hidden:?}"
                    );
                    checks += 1;
                }
            }
        }
    }
    // Kent has about 270 wards and 12 districts: most wards hold one hidden count and are
    // withheld; the districts, Kent, the South East and England, and many wards, are published.
    assert!(checks >= 100, "{checks} differencings checked");
    assert!(withheld_with_hidden > 100, "{withheld_with_hidden} areas over a lone small count are withheld");
    assert!(published_with_hidden >= 40, "{published_with_hidden} areas over hidden counts are published");
    let districts =
        lsoas.iter().map(|l| ancestor(l, LocalAuthorityDistrict)).collect::<std::collections::BTreeSet<_>>();
    assert!(districts.iter().all(|d| visible(d).is_some()), "every district of Kent is published");
}

static SUITE: Suite = Suite::new();

sharedmetrics_e2e::scenarios!(SUITE:
    a_county_submits_for_itself_and_its_districts_and_is_compared_with_its_region_and_england,
    counties_are_listed_with_their_districts_and_unitaries_count_as_both,
    a_council_reads_its_trusts_indicator_weighted_by_their_catchments,
    differencing_published_aggregates_recovers_no_hidden_lsoa_count,
    a_row_for_an_area_outside_the_periods_boundaries_is_refused_naming_the_vintage,
);
