//! GetInequality: one area's values across an ordered breakdown (IMD deciles by default), each
//! group's figures its own observation or, for deprivation groups, the sums of the area's LSOAs
//! in that group; then the gap between the ends, the slope and relative indices of inequality
//! with seeded simulated limits, and Core20 against the rest.

use sharedmetrics_access::Principal;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::*;
use sharedmetrics_proto::sharedmetrics::common::v1::ValueType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::{Dimension, DimensionCode, ListDimensionsRequest};
use sharedmetrics_proto::sharedmetrics::submissions::v1::QueryObservationsRequest;
use sharedmetrics_statistics::inequality::{DEFAULT_DRAWS, DEFAULT_SEED, MINIMUM_DRAWS};
use sharedmetrics_statistics::{self as stats, ConfidenceLevel, Count, PooledMeasure};

use crate::compare::compare_interval;
use crate::context::{self, Computed, Figures, Level, MetricContext};
use crate::observations::{self, Pairs, with_pair};
use crate::service::BenchmarkingService;
use crate::statistic::{Methods, limits};

/// The most simulation draws a request may ask for.
const MAXIMUM_DRAWS: u32 = 1_000_000;

/// One group's statistic, with its population weight.
pub(crate) struct Group {
    pub code: String,
    pub computed: Computed,
    pub population: Option<f64>,
}

/// Returns the SII and RII of the groups that have values, or `None` when any group is hidden
/// by disclosure control, fewer than five have values, or the fit is not defined on the scale.
pub(crate) fn indices(
    metric: &MetricContext,
    groups: &[Group],
    scale: stats::InequalityScale,
    draws: usize,
    seed: u64,
) -> Option<stats::Inequality> {
    if groups.iter().any(|g| g.computed.statistic.suppression == Some(StatisticSuppressionReason::DisclosureControl)) {
        return None;
    }
    let m = metric.multiplier;
    // Groups with no data (a district with no LSOA in decile 1) have no population to rank.
    let fitted: Vec<stats::InequalityGroup> = groups
        .iter()
        .filter_map(|g| {
            let s = &g.computed.statistic;
            let (value, interval, population) = (s.value?, s.interval95?, g.population.filter(|p| *p > 0.0)?);
            Some(stats::InequalityGroup {
                population,
                value: value / m,
                spread: stats::Spread::Limits95 { lower: interval.lower / m, upper: interval.upper / m },
            })
        })
        .collect();
    let options = stats::SiiOptions {
        scale,
        multiplier: m,
        confidence_levels: vec![ConfidenceLevel::NINETY_FIVE, ConfidenceLevel::NINETY_NINE_POINT_EIGHT],
        draws,
        seed,
    };
    stats::slope_index_of_inequality(&fitted, &options).ok()
}

/// Returns Core20 (deciles 1–2, or quintile 1) pooled against the rest, for proportions and
/// crude rates whose every group is visible.
pub(crate) fn core20(metric: &MetricContext, dimension: &str, groups: &[Group]) -> Option<Core20Comparison> {
    let measure = match metric.value_type {
        ValueType::Proportion => PooledMeasure::Proportion(crate::statistic::scale_of(metric.multiplier)?),
        ValueType::CrudeRate => PooledMeasure::CrudeRate { multiplier: metric.multiplier },
        _ => return None,
    };
    let mut counts = Vec::with_capacity(groups.len());
    for g in groups {
        let s = &g.computed.statistic;
        match s.suppression {
            // A group with no data has no one in it; a hidden one would be revealed by the pool.
            Some(StatisticSuppressionReason::NoData) => counts.push(Count::new(0.0, 0.0)),
            Some(_) => return None,
            None => counts.push(Count::new(s.numerator?, s.denominator?)),
        }
    }
    let pooled = |level| match (dimension, counts.len()) {
        ("imd_decile", 10) => stats::core20_comparison(&counts, measure, level).ok(),
        ("imd_quintile", 5) => {
            let pool = |part: &[Count]| match measure {
                PooledMeasure::Proportion(scale) => stats::pooled_proportion(part, scale, level),
                PooledMeasure::CrudeRate { multiplier } => stats::pooled_crude_rate(part, multiplier, level),
            };
            let (core20, rest) = (pool(&counts[..1]).ok()?, pool(&counts[1..]).ok()?);
            Some(stats::Core20Comparison {
                core20,
                rest,
                absolute_gap: core20.value - rest.value,
                relative_gap: (rest.value != 0.0).then(|| core20.value / rest.value),
                method: stats::method::CORE20,
            })
        }
        _ => None,
    };
    let (c95, c998) = (pooled(ConfidenceLevel::NINETY_FIVE)?, pooled(ConfidenceLevel::NINETY_NINE_POINT_EIGHT)?);
    let core20_stat = crate::statistic::Statistic {
        value: Some(c95.core20.value),
        interval95: c95.core20.interval,
        interval998: c998.core20.interval,
        numerator: None,
        denominator: None,
        method: c95.core20.interval.map_or(crate::statistic::NO_INTERVAL, |i| i.method),
        suppression: None,
    };
    let (comparison, _) =
        compare_interval(&core20_stat, Some(c95.rest.value), Level::Single95, metric.stats_polarity());
    Some(Core20Comparison {
        core20_value: Some(c95.core20.value),
        core20_limits: Some(limits(c95.core20.interval.as_ref(), c998.core20.interval.as_ref())),
        rest_value: Some(c95.rest.value),
        rest_limits: Some(limits(c95.rest.interval.as_ref(), c998.rest.interval.as_ref())),
        absolute_gap: Some(c95.absolute_gap),
        relative_gap: c95.relative_gap,
        comparison: comparison as i32,
    })
}

/// Returns Core20 against the rest for a life expectancy: a life table each, built from the
/// bands of the LSOAs in IMD deciles 1 and 2 and of the others (a life expectancy cannot be
/// pooled from the groups' values). None unless both have a value.
fn life_table_core20(
    figures: &Figures<'_>,
    query: &InequalityQuery,
    area: &str,
    period: &str,
) -> Option<Core20Comparison> {
    if !matches!(query.dimension_code.as_str(), "imd_decile" | "imd_quintile") {
        return None;
    }
    let read = |code: &str| figures.statistic(area, period, &with_pair(&query.fixed, "core20", code)).statistic;
    let (core20, rest) = (read("core20"), read("other"));
    let (core20_value, rest_value) = (core20.value?, rest.value?);
    let (comparison, _) = compare_interval(&core20, Some(rest_value), Level::Single95, query.metric.stats_polarity());
    Some(Core20Comparison {
        core20_value: Some(core20_value),
        core20_limits: Some(core20.limits()),
        rest_value: Some(rest_value),
        rest_limits: Some(rest.limits()),
        absolute_gap: Some(core20_value - rest_value),
        relative_gap: (rest_value != 0.0).then(|| core20_value / rest_value),
        comparison: comparison as i32,
    })
}

/// Returns a dimension by code, from the definitions service.
async fn dimension(
    service: &BenchmarkingService,
    principal: &Principal,
    code: &str,
) -> ServiceResult<Option<Dimension>> {
    let mut page_token = String::new();
    loop {
        let page = service
            .definitions
            .list_dimensions(principal, ListDimensionsRequest { page_size: 1_000, page_token })
            .await?;
        if let Some(found) = page.dimensions.into_iter().find(|d| d.code == code) {
            return Ok(Some(found));
        }
        if page.next_page_token.is_empty() {
            return Ok(None);
        }
        page_token = page.next_page_token;
    }
}

/// A checked GetInequality request: everything the answer is computed from.
struct InequalityQuery {
    metric: MetricContext,
    /// The period asked for; `None` answers the latest period any group has.
    period: Option<Period>,
    dimension_code: String,
    /// The breakdown codes held fixed across the groups.
    fixed: Pairs,
    /// The dimension's codes in their order on its scale, one group each.
    codes: Vec<DimensionCode>,
    scale: stats::InequalityScale,
    draws: u32,
    seed: u64,
}

impl BenchmarkingService {
    /// Answers GetInequality, from the cache when it holds the answer.
    pub(crate) async fn inequality(
        &self,
        principal: &Principal,
        request: GetInequalityRequest,
    ) -> ServiceResult<GetInequalityResponse> {
        let query = self.inequality_query(principal, &request).await?;
        let metric = &query.metric;
        let metrics = [(metric.code.clone(), metric.version, metric.insider)];
        let (mut answer, generations, hit) = self
            .cached("get_inequality", principal, &request, &[], &metrics, |_| {
                self.compute_inequality(principal, &request, &query)
            })
            .await?;
        answer.cache_hit = hit;
        answer.data_generation = generations.first().map_or(answer.data_generation, |g| g.generation);
        Ok(answer)
    }

    /// Checks a GetInequality request, field by field, before anything is read for it.
    async fn inequality_query(
        &self,
        principal: &Principal,
        request: &GetInequalityRequest,
    ) -> ServiceResult<InequalityQuery> {
        let metric = context::metric(&self.directory, principal, &request.metric_code, request.metric_version).await?;
        self.area_named(principal, &request.area_code).await?;
        let period = metric.period(&request.period_code, "period_code")?;
        let dimension_code =
            if request.dimension.is_empty() { "imd_decile".to_owned() } else { request.dimension.clone() };
        let fixed = observations::parse_pairs(&request.breakdown_codes, "breakdown_codes")?;
        metric.check_breakdown(&fixed, "breakdown_codes")?;
        metric.check_breakdown(&vec![(dimension_code.clone(), String::new())], "dimension")?;
        if fixed.iter().any(|(d, _)| *d == dimension_code) {
            return Err(ServiceError::invalid_field(
                "breakdown_codes",
                "DUPLICATE_DIMENSION",
                format!("{dimension_code} is the dimension measured and cannot also be held fixed"),
            ));
        }
        let codes = ordered_codes(self, principal, &dimension_code).await?;
        let scale = inequality_scale(request.scale)?;
        let draws = simulation_draws(request.simulation_draws)?;
        let seed = request.seed.unwrap_or(DEFAULT_SEED);
        Ok(InequalityQuery { metric, period, dimension_code, fixed, codes, scale, draws, seed })
    }

    /// Computes the answer the cache does not hold: the groups, the gap, SII/RII and Core20.
    async fn compute_inequality(
        &self,
        principal: &Principal,
        request: &GetInequalityRequest,
        query: &InequalityQuery,
    ) -> ServiceResult<GetInequalityResponse> {
        let metric = &query.metric;
        let areas = self.areas(principal).await?;
        let observations = observations::read(
            &self.submissions,
            principal,
            QueryObservationsRequest {
                metric_code: metric.code.clone(),
                metric_version: metric.version,
                period_from: query.period.map(|p| p.to_string()).unwrap_or_default(),
                period_to: query.period.map(|p| p.to_string()).unwrap_or_default(),
                as_of: request.as_of,
                ..Default::default()
            },
        )
        .await?;
        let figures = Figures { metric, observations: &observations, areas: &areas };
        let (period, groups) = read_groups(&figures, query, &request.area_code);
        let mut methods = Methods::default();
        let sii = indices(metric, &groups, query.scale, query.draws as usize, query.seed);
        let core20 = if metric.life_table() {
            life_table_core20(&figures, query, &request.area_code, &period)
        } else {
            core20(metric, &query.dimension_code, &groups)
        };
        let with_values: Vec<&Group> = groups.iter().filter(|g| g.computed.statistic.value.is_some()).collect();
        let (first, last) = (with_values.first(), with_values.last());
        let (absolute_gap, relative_gap) = gaps(&with_values, sii.as_ref());
        if let Some(s) = &sii {
            methods.add(s.method);
        }
        if core20.is_some() {
            methods.add(stats::method::CORE20);
        }
        let group_messages = group_messages(&query.codes, &groups, &mut methods);
        Ok(GetInequalityResponse {
            metric_code: metric.code.clone(),
            metric_version: metric.version,
            area_code: request.area_code.clone(),
            period_code: period,
            dimension: query.dimension_code.clone(),
            groups: group_messages,
            most_deprived_code: first.map(|g| g.code.clone()).unwrap_or_default(),
            least_deprived_code: last.map(|g| g.code.clone()).unwrap_or_default(),
            absolute_gap,
            relative_gap,
            sii: Some(inequality_index(sii.as_ref(), sii.as_ref().map(|s| s.sii), |i| i.sii)),
            rii: Some(inequality_index(sii.as_ref(), sii.as_ref().map(|s| s.rii), |i| i.rii)),
            scale: match query.scale {
                stats::InequalityScale::Identity => InequalityScale::Identity,
                stats::InequalityScale::Log => InequalityScale::Log,
                stats::InequalityScale::Logit => InequalityScale::Logit,
            } as i32,
            simulation_draws: query.draws,
            seed: query.seed,
            core20,
            data_version: observations.snapshot,
            method_versions: methods.into_versions(),
            data_generation: 0,
            cache_hit: false,
            sii_intercept: sii
                .as_ref()
                .filter(|s| s.scale == stats::InequalityScale::Identity)
                .map(|s| s.intercept * metric.multiplier),
        })
    }
}

/// Returns the codes of an ordered dimension in their order, refusing one without a gradient.
async fn ordered_codes(
    service: &BenchmarkingService,
    principal: &Principal,
    dimension_code: &str,
) -> ServiceResult<Vec<DimensionCode>> {
    let Some(dimension) = dimension(service, principal, dimension_code).await? else {
        return Err(ServiceError::invalid_field(
            "dimension",
            "UNKNOWN_DIMENSION",
            format!("no dimension {dimension_code:?}"),
        ));
    };
    if !dimension.ordered {
        return Err(ServiceError::invalid_field(
            "dimension",
            "NOT_ORDERED",
            format!("{dimension_code} is not an ordered dimension, so it has no gradient to measure"),
        ));
    }
    let mut codes = dimension.codes.clone();
    codes.sort_by_key(|c| c.order);
    Ok(codes)
}

/// Returns the scale a request fits SII/RII on, identity when it names none.
fn inequality_scale(scale: i32) -> ServiceResult<stats::InequalityScale> {
    match InequalityScale::try_from(scale) {
        Ok(InequalityScale::Unspecified | InequalityScale::Identity) => Ok(stats::InequalityScale::Identity),
        Ok(InequalityScale::Log) => Ok(stats::InequalityScale::Log),
        Ok(InequalityScale::Logit) => Ok(stats::InequalityScale::Logit),
        Err(_) => Err(ServiceError::invalid_field("scale", "INVALID_ENUM", "unknown inequality scale")),
    }
}

/// Returns the simulation draws a request asks for, the default for 0, within the bounds that
/// keep the simulated limits stable and the work bounded.
fn simulation_draws(draws: u32) -> ServiceResult<u32> {
    match draws {
        0 => Ok(DEFAULT_DRAWS as u32),
        n if n < MINIMUM_DRAWS as u32 || n > MAXIMUM_DRAWS => Err(ServiceError::invalid_field(
            "simulation_draws",
            "OUT_OF_RANGE",
            format!("simulation_draws must be 0 (the default, {DEFAULT_DRAWS}) or {MINIMUM_DRAWS} to {MAXIMUM_DRAWS}"),
        )),
        n => Ok(n),
    }
}

/// Returns the period answered (the one asked, else the latest any group has) and each
/// group's statistic and population in it.
fn read_groups(figures: &Figures<'_>, query: &InequalityQuery, area: &str) -> (String, Vec<Group>) {
    let group_pairs: Vec<Pairs> =
        query.codes.iter().map(|c| with_pair(&query.fixed, &query.dimension_code, &c.code)).collect();
    let period = query
        .period
        .or_else(|| group_pairs.iter().filter_map(|p| figures.periods(p).last().copied()).max())
        .map(|p| p.to_string())
        .unwrap_or_default();
    let groups = query
        .codes
        .iter()
        .zip(&group_pairs)
        .map(|(code, pairs)| {
            let computed = figures.statistic(area, &period, pairs);
            let population = population(figures, area, pairs, &computed);
            Group { code: code.code.clone(), computed, population }
        })
        .collect();
    (period, groups)
}

/// Returns the absolute and relative gaps between the ends of the gradient: the fitted ones
/// when SII is defined, else the first and last groups with values.
fn gaps(with_values: &[&Group], sii: Option<&stats::Inequality>) -> (Option<f64>, Option<f64>) {
    match (with_values.first(), with_values.last(), sii) {
        (_, _, Some(s)) => (Some(s.absolute_gap), s.relative_gap),
        (Some(f), Some(l), None) if with_values.len() > 1 => {
            let (a, b) =
                (f.computed.statistic.value.unwrap_or_default(), l.computed.statistic.value.unwrap_or_default());
            (Some(a - b), (b != 0.0).then(|| a / b))
        }
        _ => (None, None),
    }
}

/// Returns an index's value with its 95% and 99.8% simulated limits (the fit's two levels, in
/// that order), picked from the SII fit.
fn inequality_index(
    sii: Option<&stats::Inequality>,
    value: Option<f64>,
    pick: fn(&stats::InequalityInterval) -> stats::Interval,
) -> InequalityIndex {
    let at = |level: usize| sii.and_then(|s| s.intervals.get(level)).map(pick);
    InequalityIndex {
        value,
        lower_95: at(0).map(|i| i.lower),
        upper_95: at(0).map(|i| i.upper),
        lower_99_8: at(1).map(|i| i.lower),
        upper_99_8: at(1).map(|i| i.upper),
    }
}

/// Returns the groups as the answer shows them, noting each group's methods.
fn group_messages(codes: &[DimensionCode], groups: &[Group], methods: &mut Methods) -> Vec<InequalityGroup> {
    codes
        .iter()
        .zip(groups)
        .enumerate()
        .map(|(i, (code, g))| {
            let s = &g.computed.statistic;
            methods.add(s.method);
            let aggregation = methods.aggregation(g.computed.aggregation);
            InequalityGroup {
                code: code.code.clone(),
                label: code.label.clone(),
                order: i as u32 + 1,
                population: g.population,
                numerator: s.numerator,
                denominator: s.denominator,
                value: s.value,
                limits: Some(s.limits()),
                suppressed: matches!(
                    s.suppression,
                    Some(StatisticSuppressionReason::DisclosureControl | StatisticSuppressionReason::SmallTotalCount)
                ),
                suppression_reason: s.suppression.map_or(0, |r| r as i32),
                aggregation,
            }
        })
        .collect()
}

/// Returns a group's population weight: its denominator for proportions, crude rates and
/// age-standardised rates, and otherwise (for IMD groups) the reference population of the
/// area's LSOAs in the group.
fn population(figures: &Figures<'_>, area: &str, pairs: &Pairs, computed: &Computed) -> Option<f64> {
    let s = &computed.statistic;
    if matches!(figures.metric.value_type, ValueType::Proportion | ValueType::CrudeRate)
        || (figures.metric.value_type == ValueType::DirectlyStandardisedRate && s.denominator.is_some())
    {
        return s.denominator;
    }
    let (deprivation, _) = crate::aggregate::Deprivation::split(pairs);
    let deprivation = deprivation?;
    let total: u64 = figures
        .areas
        .descendants_of_type(area, sharedmetrics_proto::sharedmetrics::common::v1::AreaType::Lsoa)
        .into_iter()
        .filter(|l| deprivation.matches(l.imd_decile))
        .map(|l| l.population)
        .sum();
    (total > 0).then_some(total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statistic::{Input, Levels, Statistic, compute};
    use crate::test_support::national;
    use sharedmetrics_proto::sharedmetrics::common::v1::Polarity;
    use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;
    use sharedmetrics_statistics::Scale;

    fn metric() -> MetricContext {
        let spec = MetricVersionSpec {
            code: "m".into(),
            value_type: ValueType::Proportion as i32,
            multiplier: 100,
            polarity: Polarity::LowIsGood as i32,
            ci_method: 1,
            ..Default::default()
        };
        MetricContext::new(spec, 1, &national())
    }

    fn group(code: usize, x: f64, n: f64) -> Group {
        let s = compute(
            ValueType::Proportion,
            100.0,
            &Input::Counts { numerator: x, denominator: Some(n) },
            Levels::BOTH,
            true,
        )
        .unwrap();
        Group { code: code.to_string(), computed: Computed { statistic: s, aggregation: None }, population: Some(n) }
    }

    fn deciles() -> Vec<Group> {
        (1..=10).map(|d| group(d, 400.0 - 25.0 * d as f64, 1_000.0)).collect()
    }

    #[test]
    fn the_indices_are_the_statistics_crates_on_the_fractional_scale() {
        let groups = deciles();
        let got = indices(&metric(), &groups, stats::InequalityScale::Identity, 1_000, 7).unwrap();
        let input: Vec<stats::InequalityGroup> = groups
            .iter()
            .map(|g| {
                let s = &g.computed.statistic;
                let i = s.interval95.unwrap();
                stats::InequalityGroup {
                    population: 1_000.0,
                    value: s.value.unwrap() / 100.0,
                    spread: stats::Spread::Limits95 { lower: i.lower / 100.0, upper: i.upper / 100.0 },
                }
            })
            .collect();
        let options = stats::SiiOptions {
            scale: stats::InequalityScale::Identity,
            multiplier: 100.0,
            confidence_levels: vec![ConfidenceLevel::NINETY_FIVE, ConfidenceLevel::NINETY_NINE_POINT_EIGHT],
            draws: 1_000,
            seed: 7,
        };
        assert_eq!(got, stats::slope_index_of_inequality(&input, &options).unwrap());
        let (i95, i998) = (got.intervals[0].sii, got.intervals[1].sii);
        assert!(i998.lower < i95.lower && i95.upper < i998.upper, "99.8% limits from the same draws, wider");
        let index = inequality_index(Some(&got), Some(got.sii), |i| i.sii);
        assert_eq!((index.lower_95, index.upper_99_8), (Some(i95.lower), Some(i998.upper)));
        // Equal groups falling 2.5 points a decile fall 25 points from rank 0 to rank 1.
        assert!((got.sii + 25.0).abs() < 1e-9, "{}", got.sii);
    }

    #[test]
    fn a_hidden_group_withholds_the_indices_and_core20_but_an_empty_one_does_not() {
        let mut groups = deciles();
        groups[3].computed.statistic = Statistic::suppressed(StatisticSuppressionReason::DisclosureControl);
        assert!(indices(&metric(), &groups, stats::InequalityScale::Identity, 1_000, 7).is_none());
        assert!(core20(&metric(), "imd_decile", &groups).is_none());
        let mut groups = deciles();
        groups[0] = Group { population: None, ..groups[0].clone_empty() };
        assert!(indices(&metric(), &groups, stats::InequalityScale::Identity, 1_000, 7).is_some());
        let c = core20(&metric(), "imd_decile", &groups).unwrap();
        // Decile 1 is empty, so Core20 is decile 2 alone: 350 of 1,000.
        assert_eq!(c.core20_value, Some(35.0));
    }

    #[test]
    fn core20_pools_deciles_one_and_two_against_the_rest() {
        let groups = deciles();
        let c = core20(&metric(), "imd_decile", &groups).unwrap();
        let counts: Vec<Count> = (1..=10).map(|d| Count::new(400.0 - 25.0 * d as f64, 1_000.0)).collect();
        let want =
            stats::core20_comparison(&counts, PooledMeasure::Proportion(Scale::Hundred), ConfidenceLevel::NINETY_FIVE)
                .unwrap();
        assert_eq!((c.core20_value, c.rest_value), (Some(want.core20.value), Some(want.rest.value)));
        assert_eq!(c.comparison, ComparisonResult::Worse as i32, "more is worse when low is good");
        assert!(core20(&metric(), "sex", &groups).is_none());
    }

    impl Group {
        fn clone_empty(&self) -> Self {
            Group {
                code: self.code.clone(),
                computed: Computed {
                    statistic: Statistic::suppressed(StatisticSuppressionReason::NoData),
                    aggregation: None,
                },
                population: None,
            }
        }
    }
}
