//! CompareAreas: every area of a type (within a parent or a peer group) with its value and
//! limits computed from stored numerators and denominators, compared with a benchmark by its
//! own interval or by funnel limits, and placed in quintiles and ranks within the set. The pure
//! assembly (comparison, funnel, ordering, paging) is separate from the reading so it can be
//! tested without a store.

use std::collections::{BTreeMap, HashMap};

use sharedmetrics_access::Principal;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::*;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, ValueType};
use sharedmetrics_proto::sharedmetrics::submissions::v1::QueryObservationsRequest;
use sharedmetrics_statistics::{self as stats, ConfidenceLevel, Count, Interval, Significance};

use crate::areas::{AreaIndex, ENGLAND};
use crate::context::{self, BenchmarkSpec, Computed, Figures, Level, MetricContext};
use crate::observations::{self, Observations, Pairs};
use crate::service::{BenchmarkingService, next_page_token};
use crate::statistic::{self, Methods, Statistic};

/// A benchmark's figures, with the statistic behind them when it has one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BenchmarkFigure {
    pub code: String,
    pub name: String,
    /// Unset for a target.
    pub statistic: Option<Statistic>,
    pub value: Option<f64>,
}

impl BenchmarkFigure {
    /// Returns the benchmark of a computed statistic.
    pub fn of(code: &str, name: &str, computed: &Computed) -> Self {
        Self {
            code: code.to_owned(),
            name: name.to_owned(),
            statistic: Some(computed.statistic.clone()),
            value: computed.statistic.value,
        }
    }

    /// Returns a fixed target.
    pub fn target(value: f64) -> Self {
        Self { code: String::new(), name: "Target".to_owned(), statistic: None, value: Some(value) }
    }

    /// Returns the benchmark as the proto carries it.
    pub fn message(&self) -> BenchmarkValue {
        BenchmarkValue {
            code: self.code.clone(),
            name: self.name.clone(),
            numerator: self.statistic.as_ref().and_then(|s| s.numerator),
            denominator: self.statistic.as_ref().and_then(|s| s.denominator),
            value: self.value,
            limits: self.statistic.as_ref().map(Statistic::limits),
        }
    }
}

/// Returns the significance at a single level from a two-level one.
fn at_level(significance: Significance, level: Level) -> Significance {
    use Significance as S;
    match (level, significance) {
        (Level::Both, s) => s,
        (Level::Single95, S::MuchHigher) | (Level::Single998, S::MuchHigher) => S::Higher,
        (Level::Single95, S::MuchLower) | (Level::Single998, S::MuchLower) => S::Lower,
        // Outside 95% but inside 99.8% is not significant at 99.8%.
        (Level::Single998, S::Higher | S::Lower) => S::Similar,
        (_, s) => s,
    }
}

/// Returns how a statistic compares with a benchmark value by its own interval(s), with the
/// method used; not compared when either side is missing or the level's interval is.
pub(crate) fn compare_interval(
    statistic: &Statistic,
    benchmark: Option<f64>,
    level: Level,
    polarity: stats::Polarity,
) -> (ComparisonResult, Option<&'static str>) {
    let (Some(_), Some(b)) = (statistic.value, benchmark) else { return (ComparisonResult::NotCompared, None) };
    let compared = match (level, &statistic.interval95, &statistic.interval998) {
        (Level::Single95, Some(i), _) | (Level::Single998, _, Some(i)) => stats::compare_with_benchmark(i, b, polarity),
        (Level::Both, Some(narrow), Some(wide)) => stats::compare_with_benchmark_two_levels(narrow, wide, b, polarity),
        _ => return (ComparisonResult::NotCompared, None),
    };
    match compared {
        Ok(c) => (context::comparison_result(c.judgement), Some(c.method)),
        Err(_) => (ComparisonResult::NotCompared, None),
    }
}

/// Returns whether funnel comparison is defined for a value type (METHODS.md).
pub(crate) fn funnel_defined(value_type: ValueType) -> bool {
    matches!(value_type, ValueType::Proportion | ValueType::CrudeRate | ValueType::IndirectlyStandardisedRatio)
}

/// Returns how a statistic compares with the funnel around a benchmark, and, for proportions,
/// the funnel's limits at the area's denominator (on the metric's scale).
///
/// Proportions test the area's x/n against Wilson funnel limits around p̄ (the benchmark's pooled
/// proportion, or a target on the metric's scale). Rates and ratios test 1 against the count
/// limits of O ÷ E, where E is what the area would have observed at the benchmark's rate:
/// n × B ÷ multiplier for a crude rate, and E × B ÷ multiplier for an indirectly standardised ratio.
pub(crate) fn compare_funnel(
    metric: &MetricContext,
    statistic: &Statistic,
    benchmark: &BenchmarkFigure,
    level: Level,
) -> (ComparisonResult, Option<ConfidenceLimits>, Option<&'static str>) {
    let not = (ComparisonResult::NotCompared, None, None);
    let (Some(x), Some(n), Some(b)) = (statistic.numerator, statistic.denominator, benchmark.value) else { return not };
    if statistic.value.is_none() {
        return not;
    }
    let polarity = metric.stats_polarity();
    let m = metric.multiplier;
    match metric.value_type {
        ValueType::Proportion => {
            // The pooled proportion from the benchmark's own counts, when it has them, avoids
            // rounding through the multiplied value.
            let pooled = match benchmark.statistic.as_ref().and_then(|s| s.numerator.zip(s.denominator)) {
                Some((bx, bn)) if bn > 0.0 => bx / bn,
                _ => b / m,
            };
            let Ok(c) = stats::compare_proportion_with_funnel(Count::new(x, n), pooled, polarity) else { return not };
            let limit = |level| stats::proportion_funnel_limits(pooled, n, stats::Scale::Unit, level).ok();
            let limits = limit(ConfidenceLevel::NINETY_FIVE).zip(limit(ConfidenceLevel::NINETY_NINE_POINT_EIGHT)).map(
                |(i95, i998): (Interval, Interval)| {
                    let scaled = |i: Interval| Interval { lower: i.lower * m, upper: i.upper * m, ..i };
                    statistic::limits(Some(&scaled(i95)), Some(&scaled(i998)))
                },
            );
            let judgement = polarity.judge(at_level(c.significance, level));
            (context::comparison_result(judgement), limits, Some(c.method))
        }
        ValueType::CrudeRate | ValueType::IndirectlyStandardisedRatio => {
            let expected = n * b / m;
            let Ok(c) = stats::compare_observed_with_expected(x, expected, polarity) else { return not };
            let judgement = polarity.judge(at_level(c.significance, level));
            (context::comparison_result(judgement), None, Some(c.method))
        }
        _ => not,
    }
}

/// One area of the comparison set before ordering.
struct Row {
    code: String,
    name: String,
    computed: Computed,
    benchmark: Option<BenchmarkFigure>,
}

/// How a comparison places its areas in quantiles: how many, and whether among each parent's
/// areas rather than the whole set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placing {
    pub quantiles: u32,
    pub within_parent: bool,
}

impl Placing {
    /// Returns the placing a request asks for (0 quantiles means quintiles), checking the number is
    /// from 2 to 100 and that quantiles within parents have a parent benchmark.
    pub fn parse(quantiles: u32, within_parent: bool, benchmark: &BenchmarkSpec) -> ServiceResult<Self> {
        let quantiles = if quantiles == 0 { 5 } else { quantiles };
        if !(2..=100).contains(&quantiles) {
            return Err(ServiceError::invalid_field(
                "quantiles",
                "OUT_OF_RANGE",
                format!("quantiles must be from 2 to 100 (0 means 5), not {quantiles}"),
            ));
        }
        if within_parent && !matches!(benchmark, BenchmarkSpec::Parent(_)) {
            return Err(ServiceError::invalid_field(
                "quantiles_within_parent",
                "NEEDS_PARENT_BENCHMARK",
                "quantiles within parents need a parent_area_type benchmark",
            ));
        }
        Ok(Self { quantiles, within_parent })
    }
}

/// Returns each row's quantile of `placing`, within the whole set or within each parent (rows
/// grouped by their benchmark's code), recording the method when any row is placed.
fn quantiles_of(rows: &[Row], metric: &MetricContext, placing: Placing, methods: &mut Methods) -> Vec<u32> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let parent = if placing.within_parent { row.benchmark.as_ref().map(|b| b.code.clone()) } else { None };
        groups.entry(parent.unwrap_or_default()).or_default().push(i);
    }
    let mut out = vec![0; rows.len()];
    for members in groups.values() {
        let values: Vec<Option<f64>> = members.iter().map(|&i| rows[i].computed.statistic.value).collect();
        let Ok(places) = stats::assign_quantiles(&values, placing.quantiles, metric.stats_polarity()) else {
            continue;
        };
        if places.ranked > 0 {
            methods.add(places.method);
        }
        for (&i, place) in members.iter().zip(&places.places) {
            out[i] = place.quantile.unwrap_or(0);
        }
    }
    out
}

/// Returns the rows as messages in rank order (unranked last, by code), with quintiles, the
/// requested quantiles, ranks and comparisons, and records the methods used.
fn assemble(
    metric: &MetricContext,
    rows: Vec<Row>,
    level: Level,
    funnel: bool,
    placing: Placing,
    methods: &mut Methods,
) -> Vec<AreaComparison> {
    let values: Vec<Option<f64>> = rows.iter().map(|r| r.computed.statistic.value).collect();
    let places = stats::assign_quantiles(&values, 5, metric.stats_polarity()).ok();
    if let Some(p) = &places
        && p.ranked > 0
    {
        methods.add(p.method);
    }
    let quantiles = quantiles_of(&rows, metric, placing, methods);
    let mut out: Vec<AreaComparison> = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let s = &row.computed.statistic;
            methods.add(s.method);
            let aggregation = methods.aggregation(row.computed.aggregation);
            let benchmark_value = row.benchmark.as_ref().and_then(|b| b.value);
            let (comparison, funnel_limits, method) = match &row.benchmark {
                Some(b) if funnel => compare_funnel(metric, s, b, level),
                _ => {
                    let (c, m) = compare_interval(s, benchmark_value, level, metric.stats_polarity());
                    (c, None, m)
                }
            };
            if let Some(m) = method {
                methods.add(m);
            }
            let place = places.as_ref().map(|p| p.places[i]);
            AreaComparison {
                area_code: row.code,
                area_name: row.name,
                numerator: s.numerator,
                denominator: s.denominator,
                value: s.value,
                limits: Some(s.limits()),
                benchmark_value,
                benchmark_code: row.benchmark.as_ref().map(|b| b.code.clone()).unwrap_or_default(),
                comparison: comparison as i32,
                funnel_limits,
                quintile: place.and_then(|p| p.quantile).unwrap_or(0),
                rank: place.and_then(|p| p.rank).map_or(0, |r| r as u32),
                suppressed: s.suppression == Some(StatisticSuppressionReason::DisclosureControl)
                    || s.suppression == Some(StatisticSuppressionReason::SmallTotalCount),
                suppression_reason: s.suppression.map_or(0, |r| r as i32),
                aggregation,
                quantile: quantiles[i],
            }
        })
        .collect();
    out.sort_by(|a, b| match (a.rank, b.rank) {
        (0, 0) => a.area_code.cmp(&b.area_code),
        (0, _) => std::cmp::Ordering::Greater,
        (_, 0) => std::cmp::Ordering::Less,
        (x, y) => x.cmp(&y).then_with(|| a.area_code.cmp(&b.area_code)),
    });
    out
}

/// Returns one page of a full answer, with the benchmarks of that page's areas only.
pub(crate) fn page(mut full: CompareAreasResponse, offset: usize, size: usize) -> CompareAreasResponse {
    let total = full.areas.len();
    full.areas = full.areas.into_iter().skip(offset).take(size).collect();
    if full.benchmarks.len() > 1 {
        let on_page: Vec<&str> = full.areas.iter().map(|a| a.benchmark_code.as_str()).collect();
        full.benchmarks.retain(|b| on_page.contains(&b.code.as_str()));
    }
    full.next_page_token = next_page_token(offset, size, total);
    full.total_size = total as u32;
    full
}

impl BenchmarkingService {
    /// Returns the whole comparison set (every page), from the cache when it holds it.
    pub(crate) async fn compare_all(
        &self,
        principal: &Principal,
        request: CompareAreasRequest,
    ) -> ServiceResult<CompareAreasResponse> {
        let metric = context::metric(&self.directory, principal, &request.metric_code, request.metric_version).await?;
        let area_type = AreaType::try_from(request.area_type).unwrap_or(AreaType::Unspecified);
        if area_type == AreaType::Unspecified {
            return Err(ServiceError::invalid_field("area_type", "REQUIRED", "area_type is required"));
        }
        if !metric.published_at(area_type) {
            return Err(ServiceError::invalid_field(
                "area_type",
                "WRONG_AREA_TYPE",
                format!("metric {} is not published at {}", metric.code, sharedmetrics_proto::Label::label(area_type)),
            ));
        }
        let period = metric.period(&request.period_code, "period_code")?;
        let pairs = observations::parse_pairs(&request.breakdown_codes, "breakdown_codes")?;
        metric.check_breakdown(&pairs, "breakdown_codes")?;
        let benchmark =
            context::benchmark_spec(&self.definitions, principal, request.benchmark.as_ref(), "benchmark").await?;
        let level = Level::parse(request.comparison_level, "comparison_level")?;
        // Checked before any reading; comparison() takes it from the request again.
        Placing::parse(request.quantiles, request.quantiles_within_parent, &benchmark)?;
        if request.funnel && !funnel_defined(metric.value_type) {
            return Err(ServiceError::invalid_field(
                "funnel",
                "FUNNEL_NOT_DEFINED",
                "funnel limits are defined for proportions, crude rates and indirectly standardised ratios",
            ));
        }
        let peers = match request.peer_group_code.as_str() {
            "" => None,
            code => Some(context::peer_group(&self.definitions, principal, code, "peer_group_code").await?),
        };
        let areas = self.areas(principal).await?;
        if !request.parent_area_code.is_empty() && areas.get(&request.parent_area_code).is_none() {
            return Err(ServiceError::invalid_field(
                "parent_area_code",
                "UNKNOWN_AREA",
                format!("area {:?} does not exist", request.parent_area_code),
            ));
        }
        // What the answer depends on beyond the request: the peer groups' versions.
        let mut extra = Vec::new();
        for group in [peers.as_ref(), if let BenchmarkSpec::PeerGroup(g) = &benchmark { Some(g) } else { None }]
            .into_iter()
            .flatten()
        {
            extra.extend_from_slice(format!("{}@{};", group.code, group.version).as_bytes());
        }
        let mut keyed = request.clone();
        keyed.page_size = 0;
        keyed.page_token.clear();
        let metrics = [(metric.code.clone(), metric.version, metric.insider)];
        let (mut answer, generations, hit) = self
            .cached("compare_areas", principal, &keyed, &extra, &metrics, |_| async {
                let observations = observations::read(
                    &self.submissions,
                    principal,
                    QueryObservationsRequest {
                        metric_code: metric.code.clone(),
                        metric_version: metric.version,
                        period_from: period.map(|p| p.to_string()).unwrap_or_default(),
                        period_to: period.map(|p| p.to_string()).unwrap_or_default(),
                        as_of: request.as_of,
                        ..Default::default()
                    },
                )
                .await?;
                let set = Comparison { metric: &metric, areas: &areas, observations: &observations };
                self.comparison(principal, &set, area_type, period, &pairs, &request, peers.as_ref(), &benchmark, level)
                    .await
            })
            .await?;
        answer.cache_hit = hit;
        answer.data_generation = generations.first().map_or(answer.data_generation, |g| g.generation);
        Ok(answer)
    }

    #[allow(clippy::too_many_arguments)]
    async fn comparison(
        &self,
        principal: &Principal,
        set: &Comparison<'_>,
        area_type: AreaType,
        period: Option<sharedmetrics_periods::Period>,
        pairs: &Pairs,
        request: &CompareAreasRequest,
        peers: Option<&sharedmetrics_proto::sharedmetrics::definitions::v1::PeerGroup>,
        benchmark: &BenchmarkSpec,
        level: Level,
    ) -> ServiceResult<CompareAreasResponse> {
        let metric = set.metric;
        let figures = Figures { metric, observations: set.observations, areas: set.areas };
        let period = period.or_else(|| figures.periods(pairs).last().copied());
        // A period is compared within the areas whose boundaries cover it (a county replaced in
        // 2023 is not in 2024/25's set, nor the unitary that replaced it in 2022/23's).
        let valid =
            |code: &str| period.is_none_or(|p| set.areas.get(code).is_none_or(|area| area.invalid_for(&p).is_none()));
        let period = period.map(|p| p.to_string()).unwrap_or_default();
        // The comparison set: areas of the type (or organisations with data), narrowed.
        let members: Vec<(String, String)> = if area_type == AreaType::Organisation {
            let names = self.organisation_names(principal).await?;
            let mut codes = organisations_with_data(set.observations, set.areas, &period, pairs);
            if let Some(group) = peers {
                codes.extend(group.members.iter().cloned());
            }
            codes.sort();
            codes.dedup();
            codes.into_iter().map(|c| (names.get(&c).cloned().unwrap_or_default(), c)).map(|(n, c)| (c, n)).collect()
        } else {
            set.areas.of_type(area_type).into_iter().map(|a| (a.code.clone(), a.name.clone())).collect()
        };
        let members: Vec<(String, String)> = members
            .into_iter()
            .filter(|(code, _)| {
                request.parent_area_code.is_empty() || set.areas.within(code, &request.parent_area_code)
            })
            .filter(|(code, _)| peers.is_none_or(|g| g.members.contains(code)))
            .filter(|(code, _)| valid(code))
            .collect();
        let member_codes: Vec<String> = members.iter().map(|(c, _)| c.clone()).collect();
        let benchmarks = benchmark_figures(&figures, benchmark, &member_codes, &period, pairs, area_type);
        let rows: Vec<Row> = members
            .into_iter()
            .map(|(code, name)| Row {
                computed: figures.statistic(&code, &period, pairs),
                benchmark: benchmarks.for_area(set.areas, &code),
                code,
                name,
            })
            .collect();
        let mut methods = Methods::default();
        let placing = Placing::parse(request.quantiles, request.quantiles_within_parent, benchmark)?;
        let areas = assemble(metric, rows, level, request.funnel, placing, &mut methods);
        let weighted = areas
            .iter()
            .any(|a| a.aggregation.as_ref().is_some_and(|g| g.method == statistic::CATCHMENT_WEIGHTED_METHOD));
        let not_apportioned = match set.observations.cells(&period, pairs) {
            Some(cells) if weighted => crate::aggregate::not_apportioned(set.areas, cells),
            _ => Vec::new(),
        };
        Ok(CompareAreasResponse {
            not_apportioned,
            metric_code: metric.code.clone(),
            metric_version: metric.version,
            period_code: period,
            polarity: metric.proto_polarity(),
            areas,
            benchmarks: benchmarks.messages(),
            data_version: set.observations.snapshot,
            method_versions: methods.into_versions(),
            next_page_token: String::new(),
            total_size: 0,
            data_generation: 0,
            cache_hit: false,
        })
    }
}

/// Returns the organisations (codes that are not areas) with a cell for a period and breakdown,
/// by code: the comparison set of an organisation-level metric, and what England pools for it.
pub(crate) fn organisations_with_data(
    observations: &Observations,
    areas: &AreaIndex,
    period: &str,
    pairs: &Pairs,
) -> Vec<String> {
    let mut codes: Vec<String> = observations
        .cells(period, pairs)
        .map(|cells| cells.keys().filter(|c| areas.get(c).is_none()).cloned().collect())
        .unwrap_or_default();
    codes.sort();
    codes
}

/// What one comparison reads.
pub(crate) struct Comparison<'a> {
    pub metric: &'a MetricContext,
    pub areas: &'a AreaIndex,
    pub observations: &'a Observations,
}

/// The benchmark of a comparison: one figure, or one per parent area.
pub(crate) enum Benchmarks {
    One(BenchmarkFigure),
    PerParent(AreaType, BTreeMap<String, BenchmarkFigure>),
}

impl Benchmarks {
    /// Returns the benchmark an area is compared with.
    pub fn for_area(&self, areas: &AreaIndex, code: &str) -> Option<BenchmarkFigure> {
        match self {
            Self::One(b) => Some(b.clone()),
            Self::PerParent(t, parents) => areas.ancestor_of_type(code, *t).and_then(|p| parents.get(&p.code)).cloned(),
        }
    }

    /// Returns every benchmark as the proto carries them.
    pub fn messages(&self) -> Vec<BenchmarkValue> {
        match self {
            Self::One(b) => vec![b.message()],
            Self::PerParent(_, parents) => parents.values().map(BenchmarkFigure::message).collect(),
        }
    }
}

/// Returns the benchmark figures a request asks for, over the comparison set `members`.
pub(crate) fn benchmark_figures(
    figures: &Figures<'_>,
    benchmark: &BenchmarkSpec,
    members: &[String],
    period: &str,
    pairs: &Pairs,
    area_type: AreaType,
) -> Benchmarks {
    match benchmark {
        BenchmarkSpec::England => {
            // Organisations are not areas of England: their benchmark is England's own
            // observation when one was submitted, and otherwise every organisation pooled.
            let own = figures.statistic(ENGLAND, period, pairs);
            let computed = if area_type == AreaType::Organisation
                && own.statistic.suppression == Some(StatisticSuppressionReason::NoData)
            {
                figures.pooled(members, period, pairs)
            } else {
                own
            };
            Benchmarks::One(BenchmarkFigure::of(ENGLAND, "England", &computed))
        }
        BenchmarkSpec::Parent(parent_type) => {
            let mut parents: HashMap<String, String> = HashMap::new();
            for code in members {
                if let Some(parent) = figures.areas.ancestor_of_type(code, *parent_type) {
                    parents.insert(parent.code.clone(), parent.name.clone());
                }
            }
            Benchmarks::PerParent(
                *parent_type,
                parents
                    .into_iter()
                    .map(|(code, name)| {
                        let figure = BenchmarkFigure::of(&code, &name, &figures.statistic(&code, period, pairs));
                        (code, figure)
                    })
                    .collect(),
            )
        }
        BenchmarkSpec::PeerGroup(group) => Benchmarks::One(BenchmarkFigure::of(
            &group.code,
            &group.name,
            &figures.pooled(&group.members, period, pairs),
        )),
        BenchmarkSpec::Target(value) => Benchmarks::One(BenchmarkFigure::target(*value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::areas::tests::small_country;
    use crate::statistic::{Input, Levels, compute};
    use crate::test_support::*;
    use sharedmetrics_proto::sharedmetrics::common::v1::Polarity;
    use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;

    fn metric(value_type: ValueType, polarity: Polarity) -> MetricContext {
        let spec = MetricVersionSpec {
            code: "m".into(),
            value_type: value_type as i32,
            multiplier: 100,
            polarity: polarity as i32,
            ci_method: 1,
            ..Default::default()
        };
        MetricContext::new(spec, 1, &national())
    }

    fn proportion(x: f64, n: f64) -> Statistic {
        compute(ValueType::Proportion, 100.0, &Input::Counts { numerator: x, denominator: Some(n) }, Levels::BOTH, true)
            .unwrap()
    }

    #[test]
    fn interval_comparison_follows_the_level_and_polarity() {
        let s = proportion(65.0, 100.0); // 95%: 55.3–73.6, 99.8%: 49.5–77.8
        let high = stats::Polarity::HighIsGood;
        assert_eq!(compare_interval(&s, Some(75.0), Level::Single95, high).0, ComparisonResult::Worse);
        assert_eq!(compare_interval(&s, Some(75.0), Level::Single998, high).0, ComparisonResult::Similar);
        assert_eq!(compare_interval(&s, Some(75.0), Level::Both, high).0, ComparisonResult::Worse);
        assert_eq!(compare_interval(&s, Some(80.0), Level::Both, high).0, ComparisonResult::MuchWorse);
        assert_eq!(
            compare_interval(&s, Some(40.0), Level::Both, stats::Polarity::NoJudgement).0,
            ComparisonResult::MuchHigher
        );
        assert_eq!(compare_interval(&s, None, Level::Single95, high).0, ComparisonResult::NotCompared);
        let hidden = Statistic::suppressed(StatisticSuppressionReason::DisclosureControl);
        assert_eq!(compare_interval(&hidden, Some(1.0), Level::Single95, high), (ComparisonResult::NotCompared, None));
    }

    #[test]
    fn funnel_comparison_uses_the_benchmarks_pooled_proportion() {
        let m = metric(ValueType::Proportion, Polarity::HighIsGood);
        let england = BenchmarkFigure {
            code: ENGLAND.into(),
            name: "England".into(),
            statistic: Some(proportion(7_500.0, 10_000.0)),
            value: Some(75.0),
        };
        let (result, limits, method) = compare_funnel(&m, &proportion(65.0, 100.0), &england, Level::Both);
        let expected =
            stats::compare_proportion_with_funnel(Count::new(65.0, 100.0), 0.75, stats::Polarity::HighIsGood).unwrap();
        assert_eq!(result, context::comparison_result(expected.judgement));
        assert_eq!(method, Some("funnel-proportion/2"));
        let i95 =
            stats::proportion_funnel_limits(0.75, 100.0, stats::Scale::Hundred, ConfidenceLevel::NINETY_FIVE).unwrap();
        let limits = limits.unwrap();
        assert!(
            (limits.lower_95.unwrap() - i95.lower).abs() < 1e-12
                && (limits.upper_95.unwrap() - i95.upper).abs() < 1e-12
        );
        let target = BenchmarkFigure::target(75.0);
        assert_eq!(compare_funnel(&m, &proportion(65.0, 100.0), &target, Level::Both).0, result, "a target is p̄ too");
    }

    #[test]
    fn a_rate_funnel_tests_the_count_against_the_benchmarks_expected_count() {
        let m = MetricContext { multiplier: 100_000.0, ..metric(ValueType::CrudeRate, Polarity::LowIsGood) };
        let rate = compute(
            ValueType::CrudeRate,
            1e5,
            &Input::Counts { numerator: 60.0, denominator: Some(40_000.0) },
            Levels::BOTH,
            true,
        )
        .unwrap();
        // At England's 100 per 100,000 the area would expect 40 events; 60 is significantly more.
        let england =
            BenchmarkFigure { code: ENGLAND.into(), name: "England".into(), statistic: None, value: Some(100.0) };
        let expected = stats::compare_observed_with_expected(60.0, 40.0, stats::Polarity::LowIsGood).unwrap();
        let (result, limits, _) = compare_funnel(&m, &rate, &england, Level::Both);
        assert_eq!(result, context::comparison_result(expected.judgement));
        assert!(limits.is_none());
        assert_eq!(compare_funnel(&m, &rate, &england, Level::Single95).0, ComparisonResult::Worse);
    }

    const QUINTILES: Placing = Placing { quantiles: 5, within_parent: false };

    #[test]
    fn areas_are_placed_in_any_number_of_quantiles_within_the_set_or_within_each_parent() {
        let m = metric(ValueType::Proportion, Polarity::HighIsGood);
        let parent = |code: &str| BenchmarkFigure { code: code.into(), ..BenchmarkFigure::target(50.0) };
        let rows = || -> Vec<Row> {
            (1..=8)
                .map(|i| Row {
                    code: format!("A{i}"),
                    name: format!("A{i}"),
                    computed: Computed { statistic: proportion(f64::from(i) * 10.0, 100.0), aggregation: None },
                    benchmark: Some(parent(if i <= 4 { "P1" } else { "P2" })),
                })
                .collect()
        };
        let quantile = |out: &[AreaComparison], code: &str| out.iter().find(|a| a.area_code == code).unwrap().quantile;
        // Quartiles of eight (N/q = 2): ranks 1…8 give ⌊5 − ⌈(9 − r)/2⌉⌋ → 1, 1, 2, 2, 3, 3, 4, 4.
        let quartiles = Placing { quantiles: 4, within_parent: false };
        let out = assemble(&m, rows(), Level::Single95, false, quartiles, &mut Methods::default());
        assert_eq!((quantile(&out, "A8"), quantile(&out, "A6"), quantile(&out, "A1")), (1, 2, 4));
        assert_eq!(quantile(&out, "A8"), out.iter().find(|a| a.area_code == "A8").unwrap().quintile);
        // Halves within each parent of four: the best two of each are in the first.
        let halves = Placing { quantiles: 2, within_parent: true };
        let out = assemble(&m, rows(), Level::Single95, false, halves, &mut Methods::default());
        let got: Vec<u32> = (1..=8).map(|i| quantile(&out, &format!("A{i}"))).collect();
        assert_eq!(got, [2, 2, 1, 1, 2, 2, 1, 1]);
        // Ten deciles of eight values: fewer values than quantiles, so none.
        let deciles = Placing { quantiles: 10, within_parent: false };
        let out = assemble(&m, rows(), Level::Single95, false, deciles, &mut Methods::default());
        assert!(out.iter().all(|a| a.quantile == 0));
        assert!(Placing::parse(101, false, &BenchmarkSpec::England).is_err());
        assert!(Placing::parse(1, false, &BenchmarkSpec::England).is_err());
        assert!(Placing::parse(4, true, &BenchmarkSpec::England).is_err(), "within parents needs a parent benchmark");
        assert_eq!(Placing::parse(0, false, &BenchmarkSpec::England).unwrap(), QUINTILES);
    }

    #[test]
    fn rows_come_out_in_rank_order_with_quintiles_and_unranked_last() {
        let m = metric(ValueType::Proportion, Polarity::HighIsGood);
        let england = BenchmarkFigure::target(50.0);
        let mut rows: Vec<Row> = [("A6", 60.0), ("A1", 10.0), ("A3", 30.0), ("A5", 50.0), ("A2", 20.0), ("A4", 40.0)]
            .into_iter()
            .map(|(code, x)| Row {
                code: code.into(),
                name: code.into(),
                computed: Computed { statistic: proportion(x, 100.0), aggregation: Some((AreaType::Lsoa, 3)) },
                benchmark: Some(england.clone()),
            })
            .collect();
        rows.push(Row {
            code: "A0".into(),
            name: "A0".into(),
            computed: Computed {
                statistic: Statistic::suppressed(StatisticSuppressionReason::DisclosureControl),
                aggregation: None,
            },
            benchmark: Some(england.clone()),
        });
        let mut methods = Methods::default();
        let out = assemble(&m, rows, Level::Single95, false, QUINTILES, &mut methods);
        let order: Vec<(&str, u32, u32)> = out.iter().map(|a| (a.area_code.as_str(), a.rank, a.quintile)).collect();
        assert!(out.iter().all(|a| a.quantile == a.quintile), "quintiles by default");
        // Six values in quintiles (N/q = 1.2): ranks 1…6 give ⌊6 − ⌈(7 − r)/1.2⌉⌋ → 1, 1, 2, 3, 4, 5.
        assert_eq!(
            order,
            [("A6", 1, 1), ("A5", 2, 1), ("A4", 3, 2), ("A3", 4, 3), ("A2", 5, 4), ("A1", 6, 5), ("A0", 0, 0)]
        );
        assert_eq!(out[0].comparison, ComparisonResult::Better as i32);
        assert_eq!(out[1].comparison, ComparisonResult::Similar as i32);
        assert_eq!(out[5].comparison, ComparisonResult::Worse as i32);
        assert!(
            out[6].suppressed && out[6].value.is_none() && out[6].comparison == ComparisonResult::NotCompared as i32
        );
        assert_eq!(out[0].aggregation.as_ref().map(|a| a.source_count), Some(3));
        let listed: Vec<i32> = methods.into_versions().iter().map(|v| v.method).collect();
        for m in [
            StatisticalMethod::Wilson,
            StatisticalMethod::IntervalComparison,
            StatisticalMethod::Quantiles,
            StatisticalMethod::Aggregation,
        ] {
            assert!(listed.contains(&(m as i32)), "{m:?}");
        }
    }

    #[test]
    fn parent_benchmarks_and_pages_follow_the_areas() {
        let index = small_country();
        let mut observations = Observations::default();
        for (code, x, n) in [("L1", 10.0, 40.0), ("L2", 5.0, 50.0), ("L3", 7.0, 70.0), ("L4", 3.0, 30.0)] {
            observations.insert("2024", &Pairs::new(), code, available(x, n));
        }
        let m = metric(ValueType::Proportion, Polarity::HighIsGood);
        let figures = Figures { metric: &m, observations: &observations, areas: &index };
        let districts = vec!["D1".to_owned(), "D2".to_owned()];
        let b = benchmark_figures(
            &figures,
            &BenchmarkSpec::Parent(AreaType::Region),
            &districts,
            "2024",
            &Pairs::new(),
            AreaType::LocalAuthorityDistrict,
        );
        let region = b.for_area(&index, "D2").unwrap();
        assert_eq!(region.code, "R1");
        assert_eq!(region.statistic.as_ref().and_then(|s| s.numerator.zip(s.denominator)), Some((25.0, 190.0)));
        let full = CompareAreasResponse {
            areas: ["a", "b", "c"]
                .iter()
                .map(|c| AreaComparison { area_code: (*c).into(), ..Default::default() })
                .collect(),
            ..Default::default()
        };
        let first = page(full.clone(), 0, 2);
        assert_eq!((first.areas.len(), first.next_page_token.as_str(), first.total_size), (2, "2", 3));
        let last = page(full, 2, 2);
        assert_eq!((last.areas.len(), last.next_page_token.as_str()), (1, ""));
    }
}
