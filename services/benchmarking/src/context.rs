//! What every answer over stored data starts from: the metric version read (with the value type,
//! multiplier and polarity that decide its statistics), the request's validated parts (period,
//! breakdown, benchmark, comparison level), and [`Figures`], which turns the observations of any
//! area, period and breakdown into a [`Statistic`], aggregating and pooling where needed.

use std::sync::Arc;

use sharedmetrics_access::Principal;
use sharedmetrics_definitions::DefinitionsApi;
use sharedmetrics_definitions::directory::Directory;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{
    Benchmark, ComparisonLevel, ComparisonResult, StatisticSuppressionReason, benchmark,
};
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, CiMethod, PeriodType, Polarity, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{ListPeerGroupsRequest, MetricVersionSpec, PeerGroup};
use sharedmetrics_statistics::{self as stats, Count, Judgement};

use crate::aggregate::{self, Deprivation, Resolved, Source};
use crate::areas::AreaIndex;
use crate::disclosure::{self, Leaf};
use crate::life_table::{LIFE_TABLE_BANDS, LIFE_TABLE_DIMENSION};
use crate::observations::{AreaCells, CellState, Observations, Pairs, Withheld, breakdown_key, key_without, with_pair};
use crate::statistic::{self, Input, Levels, LifeTableCounts, Statistic};

/// The 19 bands of the European Standard Population 2013, in the order of its weights.
const ESP_2013_BANDS: [&str; 19] = [
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59", "60-64",
    "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
];

/// The metric version an answer reads, with what decides its statistics.
#[derive(Clone, Debug)]
pub(crate) struct MetricContext {
    pub code: String,
    pub version: u32,
    pub spec: MetricVersionSpec,
    pub value_type: ValueType,
    pub multiplier: f64,
    pub polarity: Polarity,
    /// False when the metric's CI method is "none".
    pub intervals: bool,
    /// Whether the caller owns the metric (or is national) and so reads its drafts.
    pub insider: bool,
}

impl MetricContext {
    /// Returns the metric of a spec and version as `principal` reads it.
    pub fn new(spec: MetricVersionSpec, version: u32, principal: &Principal) -> Self {
        let value_type = ValueType::try_from(spec.value_type).unwrap_or(ValueType::Unspecified);
        let multiplier =
            if spec.multiplier == 0 { statistic::default_multiplier(value_type) } else { f64::from(spec.multiplier) };
        let polarity = Polarity::try_from(spec.polarity).unwrap_or(Polarity::NoJudgement);
        let intervals = CiMethod::try_from(spec.ci_method).unwrap_or(CiMethod::Unspecified) != CiMethod::None;
        let insider = principal.is_national() || spec.owners.iter().any(|o| principal.belongs_to(o));
        Self { code: spec.code.clone(), version, value_type, multiplier, polarity, intervals, insider, spec }
    }

    /// Returns the largest count disclosure control hides (the spec's, or the default).
    pub fn disclosure_threshold(&self) -> u32 {
        self.spec.disclosure_threshold.unwrap_or(sharedmetrics_definitions::DEFAULT_DISCLOSURE_THRESHOLD)
    }

    /// Returns the polarity as the statistics crate takes it.
    pub fn stats_polarity(&self) -> stats::Polarity {
        match self.polarity {
            Polarity::HighIsGood => stats::Polarity::HighIsGood,
            Polarity::LowIsGood => stats::Polarity::LowIsGood,
            Polarity::NoJudgement | Polarity::Unspecified => stats::Polarity::NoJudgement,
        }
    }

    /// Returns whether the proto polarity has a judgement (for the response).
    pub fn proto_polarity(&self) -> i32 {
        match self.polarity {
            Polarity::Unspecified => Polarity::NoJudgement as i32,
            p => p as i32,
        }
    }

    /// Returns whether figures of several areas may be summed: counts and counts-based values.
    pub fn additive(&self) -> bool {
        matches!(
            self.value_type,
            ValueType::Count | ValueType::Proportion | ValueType::CrudeRate | ValueType::IndirectlyStandardisedRatio
        )
    }

    /// Returns whether the metric's values are directly standardised from age-band rows.
    pub fn standardised_by_age(&self) -> bool {
        self.value_type == ValueType::DirectlyStandardisedRate && self.spec.dimensions.iter().any(|d| d == "age_band")
    }

    /// Returns whether the metric is a life expectancy made from deaths and populations in the
    /// life table's age bands.
    pub fn life_table(&self) -> bool {
        self.value_type == ValueType::LifeExpectancy && self.spec.dimensions.iter().any(|d| d == LIFE_TABLE_DIMENSION)
    }

    /// Returns the age-band dimension the metric's statistic is made from (a DSR's standardisation
    /// bands, or a life table's), whose cells' periods are the metric's periods.
    pub fn band_dimension(&self) -> Option<&'static str> {
        if self.standardised_by_age() {
            Some("age_band")
        } else if self.life_table() {
            Some(LIFE_TABLE_DIMENSION)
        } else {
            None
        }
    }

    /// Returns whether the metric is published at an area type.
    pub fn published_at(&self, area_type: AreaType) -> bool {
        self.spec.area_types.contains(&(area_type as i32))
    }

    /// Returns the first of an area's types (its own first, then those it also counts as) that
    /// the metric is published at: a unitary authority reads an upper-tier metric as an
    /// upper-tier authority.
    pub fn type_among(&self, types: &[AreaType]) -> Option<AreaType> {
        types.iter().copied().find(|t| self.published_at(*t))
    }

    /// Checks a request's breakdown uses only the metric's dimensions.
    pub fn check_breakdown(&self, pairs: &Pairs, field: &str) -> ServiceResult<()> {
        for (dimension, _) in pairs {
            if !self.spec.dimensions.contains(dimension) {
                return Err(ServiceError::invalid_field(
                    field,
                    "UNKNOWN_DIMENSION",
                    format!("metric {} is not broken down by {dimension:?}", self.code),
                ));
            }
        }
        Ok(())
    }

    /// Parses a request's period (empty: none), checking it is of the metric's period type.
    pub fn period(&self, code: &str, field: &str) -> ServiceResult<Option<Period>> {
        if code.is_empty() {
            return Ok(None);
        }
        let period_type = PeriodType::try_from(self.spec.period_type).unwrap_or(PeriodType::Unspecified);
        let parsed = if period_type == PeriodType::Unspecified {
            Period::parse(code)
        } else {
            Period::parse_as(code, period_type)
        };
        parsed.map(Some).map_err(|e| {
            let reason = if matches!(e, sharedmetrics_periods::PeriodError::WrongType { .. }) {
                "WRONG_PERIOD_TYPE"
            } else {
                "INVALID_PERIOD"
            };
            ServiceError::invalid_field(field, reason, e.to_string())
        })
    }
}

/// Returns the metric version a request names (0: the current one), as `principal` reads it.
pub(crate) async fn metric(
    directory: &Directory,
    principal: &Principal,
    code: &str,
    version: u32,
) -> ServiceResult<MetricContext> {
    let current = directory.metric_version(principal, code, version).await?;
    let spec = current.spec.ok_or_else(|| ServiceError::internal("reading a metric", "no spec"))?;
    Ok(MetricContext::new(spec, current.version, principal))
}

/// The level a comparison is made at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Single95,
    Single998,
    /// 95% and 99.8% together (much better, better, similar, worse, much worse).
    Both,
}

impl Level {
    /// Returns the level a request asks for (unset: 95%).
    pub fn parse(value: i32, field: &str) -> ServiceResult<Self> {
        match ComparisonLevel::try_from(value) {
            Ok(ComparisonLevel::Unspecified | ComparisonLevel::Single95) => Ok(Self::Single95),
            Ok(ComparisonLevel::Single998) => Ok(Self::Single998),
            Ok(ComparisonLevel::TwoLevel) => Ok(Self::Both),
            Err(_) => {
                Err(ServiceError::invalid_field(field, "INVALID_ENUM", format!("{value} is not a comparison level")))
            }
        }
    }
}

/// Returns the proto result of a judgement.
pub(crate) fn comparison_result(judgement: Judgement) -> ComparisonResult {
    match judgement {
        Judgement::Similar => ComparisonResult::Similar,
        Judgement::Better => ComparisonResult::Better,
        Judgement::Worse => ComparisonResult::Worse,
        Judgement::MuchBetter => ComparisonResult::MuchBetter,
        Judgement::MuchWorse => ComparisonResult::MuchWorse,
        Judgement::Higher => ComparisonResult::Higher,
        Judgement::Lower => ComparisonResult::Lower,
        Judgement::MuchHigher => ComparisonResult::MuchHigher,
        Judgement::MuchLower => ComparisonResult::MuchLower,
    }
}

/// What a request compares with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum BenchmarkSpec {
    England,
    Parent(AreaType),
    PeerGroup(PeerGroup),
    Target(f64),
}

/// Returns the latest version of a peer group, or a violation of `field`.
pub(crate) async fn peer_group(
    definitions: &Arc<dyn DefinitionsApi>,
    principal: &Principal,
    code: &str,
    field: &str,
) -> ServiceResult<PeerGroup> {
    let mut page_token = String::new();
    let mut latest: Option<PeerGroup> = None;
    loop {
        let page = definitions
            .list_peer_groups(principal, ListPeerGroupsRequest { page_size: 1_000, page_token, ..Default::default() })
            .await?;
        for group in page.peer_groups.into_iter().filter(|g| g.code == code) {
            if latest.as_ref().is_none_or(|l| l.version < group.version) {
                latest = Some(group);
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    latest.ok_or_else(|| {
        ServiceError::invalid_field(field, "UNKNOWN_PEER_GROUP", format!("peer group {code:?} does not exist"))
    })
}

/// Returns what a request's benchmark asks for (unset: England), validated.
pub(crate) async fn benchmark_spec(
    definitions: &Arc<dyn DefinitionsApi>,
    principal: &Principal,
    benchmark: Option<&Benchmark>,
    field: &str,
) -> ServiceResult<BenchmarkSpec> {
    match benchmark.and_then(|b| b.kind.as_ref()) {
        None => Ok(BenchmarkSpec::England),
        Some(benchmark::Kind::England(true)) => Ok(BenchmarkSpec::England),
        Some(benchmark::Kind::England(false)) => Err(ServiceError::invalid_field(
            format!("{field}.england"),
            "MUST_BE_TRUE",
            "england is a flag that must be true when set",
        )),
        Some(benchmark::Kind::ParentAreaType(t)) => match AreaType::try_from(*t) {
            Ok(
                t @ (AreaType::Ward
                | AreaType::LocalAuthorityDistrict
                | AreaType::UpperTierLocalAuthority
                | AreaType::SubIcbLocation
                | AreaType::Icb
                | AreaType::NhsRegion
                | AreaType::Region
                | AreaType::England),
            ) => Ok(BenchmarkSpec::Parent(t)),
            _ => Err(ServiceError::invalid_field(
                format!("{field}.parent_area_type"),
                "INVALID_PARENT_TYPE",
                "parent_area_type must be an area type that contains others (ward up to England)",
            )),
        },
        Some(benchmark::Kind::PeerGroupCode(code)) => {
            peer_group(definitions, principal, code, &format!("{field}.peer_group_code"))
                .await
                .map(BenchmarkSpec::PeerGroup)
        }
        Some(benchmark::Kind::Target(target)) if target.is_finite() => Ok(BenchmarkSpec::Target(*target)),
        Some(benchmark::Kind::Target(_)) => {
            Err(ServiceError::invalid_field(format!("{field}.target"), "NOT_FINITE", "target must be a finite number"))
        }
    }
}

/// A statistic over stored data, with where its figures came from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Computed {
    pub statistic: Statistic,
    /// Set when the figures were summed from lower-level areas.
    pub aggregation: Option<(AreaType, u32)>,
}

impl Computed {
    fn without(reason: StatisticSuppressionReason) -> Self {
        Self { statistic: Statistic::suppressed(reason), aggregation: None }
    }
}

/// Statistics of any area, period and breakdown of one metric's observations.
pub(crate) struct Figures<'a> {
    pub metric: &'a MetricContext,
    pub observations: &'a Observations,
    pub areas: &'a AreaIndex,
}

/// Age-band counts of one area, or why they cannot be used.
enum Bands {
    Counts(Vec<Count>, Vec<f64>, Option<(AreaType, u32)>),
    Suppressed,
    Unavailable,
}

impl Figures<'_> {
    /// Returns the figures of an area: its own or summed from below (docs/benchmarking.md).
    pub fn resolve(&self, area: &str, period: &str, pairs: &Pairs, additive: bool) -> Resolved {
        let exact = self.observations.cells(period, pairs);
        let (deprivation, rest) = Deprivation::split(pairs);
        let derived = match &deprivation {
            Some(d) => self.observations.cells(period, &rest).map(|cells| (cells, d)),
            None => None,
        };
        let withheld = self.withheld(period, pairs, exact, derived);
        aggregate::resolve(self.areas, &Source { exact, derived, withheld: withheld.as_deref() }, area, additive)
    }

    /// Returns the aggregates disclosure control withholds from the caller for one period and
    /// breakdown (computed once), when some of its LSOA cells are hidden with counts read.
    fn withheld(
        &self,
        period: &str,
        pairs: &Pairs,
        exact: Option<&AreaCells>,
        derived: Option<(&AreaCells, &Deprivation)>,
    ) -> Option<Withheld> {
        self.observations.withheld(period, pairs, || {
            let (cells, deprivation) = match (exact, derived) {
                (Some(cells), _) => (cells, None),
                (None, Some((cells, d))) => (cells, Some(d)),
                (None, None) => return None,
            };
            if !cells.values().any(|c| c.hidden.is_some()) {
                return None;
            }
            let leaves: Vec<Leaf<'_>> = cells
                .iter()
                .filter(|(code, _)| {
                    self.areas.get(code).is_some_and(|a| {
                        a.area_type == AreaType::Lsoa && deprivation.is_none_or(|d| d.matches(a.imd_decile))
                    })
                })
                .filter_map(|(code, cell)| match (cell.state, cell.hidden) {
                    (CellState::Available, _) => cell.numerator.map(|count| Leaf { code, count, hidden: false }),
                    (CellState::Suppressed, Some(h)) => Some(Leaf { code, count: h.numerator, hidden: true }),
                    _ => None,
                })
                .collect();
            Some(disclosure::withheld(self.areas, &leaves, self.metric.disclosure_threshold()))
        })
    }

    /// Returns the periods with data for a breakdown, oldest first: periods with cells of the
    /// breakdown itself, of its non-deprivation part (LSOA totals make deprivation groups), or
    /// of its age bands (for a DSR standardised by age).
    pub fn periods(&self, pairs: &Pairs) -> Vec<Period> {
        let exact = breakdown_key(pairs);
        let (deprivation, rest) = Deprivation::split(pairs);
        let base = deprivation.map(|_| breakdown_key(&rest));
        let bands = self.metric.band_dimension();
        self.observations.periods_where(|key| {
            key == exact
                || base.as_deref() == Some(key)
                || bands.is_some_and(|dimension| {
                    key_without(key, dimension).is_some_and(|k| k == exact || base.as_deref() == Some(k.as_str()))
                })
        })
    }

    /// Returns the statistic of one area.
    pub fn statistic(&self, area: &str, period: &str, pairs: &Pairs) -> Computed {
        if self.metric.life_table() {
            return self.life_table(std::slice::from_ref(&area.to_owned()), period, pairs);
        }
        match self.bands(std::slice::from_ref(&area.to_owned()), period, pairs) {
            Bands::Counts(counts, weights, aggregation) => return self.dsr(counts, weights, aggregation),
            Bands::Suppressed => return Computed::without(StatisticSuppressionReason::DisclosureControl),
            Bands::Unavailable => {}
        }
        self.statistic_of(self.resolve(area, period, pairs, self.metric.additive()))
    }

    /// Returns the statistic of several areas pooled (a peer group, or organisations as England).
    pub fn pooled(&self, members: &[String], period: &str, pairs: &Pairs) -> Computed {
        if self.metric.life_table() {
            return self.life_table(members, period, pairs);
        }
        match self.bands(members, period, pairs) {
            Bands::Counts(counts, weights, aggregation) => return self.dsr(counts, weights, aggregation),
            Bands::Suppressed => return Computed::without(StatisticSuppressionReason::DisclosureControl),
            Bands::Unavailable => {}
        }
        if !self.metric.additive() {
            return Computed::without(StatisticSuppressionReason::NoData);
        }
        let parts = members.iter().map(|m| self.resolve(m, period, pairs, true));
        self.statistic_of(aggregate::sum(parts))
    }

    /// Returns one age band's counts of the areas: one area keeps its resolution (and where it
    /// came from); several are pooled. Bands are counts, so they always sum from below.
    fn band(&self, members: &[String], period: &str, band_pairs: &Pairs) -> Resolved {
        let mut parts = members.iter().map(|m| self.resolve(m, period, band_pairs, true));
        if members.len() == 1 { parts.next().unwrap_or(Resolved::NoData) } else { aggregate::sum(parts) }
    }

    /// Returns the life expectancy of one area, or several pooled, from deaths (numerators) and
    /// populations (denominators) in the life table's 20 age bands, each band summed from below
    /// like any count (so by IMD decile from the LSOAs' own bands). Every band is required.
    fn life_table(&self, members: &[String], period: &str, pairs: &Pairs) -> Computed {
        if pairs.iter().any(|(d, _)| d == LIFE_TABLE_DIMENSION) {
            return Computed::without(StatisticSuppressionReason::NotComputable);
        }
        let (mut deaths, mut populations) = (Vec::new(), Vec::new());
        let (mut aggregation, mut missing) = (None, 0);
        for code in LIFE_TABLE_BANDS {
            match self.band(members, period, &with_pair(pairs, LIFE_TABLE_DIMENSION, code)) {
                Resolved::Suppressed => return Computed::without(StatisticSuppressionReason::DisclosureControl),
                Resolved::Figure(f) if f.numerator.is_some() && f.denominator.is_some() => {
                    deaths.push(f.numerator.unwrap_or_default());
                    populations.push(f.denominator.unwrap_or_default());
                    aggregation = aggregation.or(f.aggregation.filter(|(t, _)| *t != AreaType::Unspecified));
                }
                _ => missing += 1,
            }
        }
        if missing == LIFE_TABLE_BANDS.len() {
            return Computed::without(StatisticSuppressionReason::NoData);
        }
        if missing > 0 {
            return Computed::without(StatisticSuppressionReason::MissingBand);
        }
        let input = Input::LifeTable(LifeTableCounts { deaths, populations, health: None });
        let statistic = statistic::compute(self.metric.value_type, 1.0, &input, Levels::BOTH, true)
            .unwrap_or_else(|_| Statistic::suppressed(StatisticSuppressionReason::NotComputable));
        Computed { statistic, aggregation }
    }

    /// Returns the age-band counts of the areas pooled, for a DSR standardised by age band.
    fn bands(&self, members: &[String], period: &str, pairs: &Pairs) -> Bands {
        if !self.metric.standardised_by_age() || pairs.iter().any(|(d, _)| d == "age_band") {
            return Bands::Unavailable;
        }
        // The bands the metric reports for this period (an under-75 indicator has fewer than 19);
        // every area must have every one of them.
        let codes = self.observations.codes_of(period, "age_band");
        let bands: Vec<(usize, &String)> =
            codes.iter().filter_map(|c| ESP_2013_BANDS.iter().position(|b| b == c).map(|i| (i, c))).collect();
        if bands.is_empty() {
            return Bands::Unavailable;
        }
        let mut counts = vec![Count::new(0.0, 0.0); bands.len()];
        let mut aggregation = None;
        for (slot, (_, code)) in counts.iter_mut().zip(&bands) {
            match self.band(members, period, &with_pair(pairs, "age_band", code)) {
                Resolved::Suppressed => return Bands::Suppressed,
                Resolved::NoData => return Bands::Unavailable,
                Resolved::Figure(f) => match (f.numerator, f.denominator) {
                    (Some(x), Some(n)) if n > 0.0 => {
                        *slot = Count::new(x, n);
                        aggregation = aggregation.or(f.aggregation.filter(|(t, _)| *t != AreaType::Unspecified));
                    }
                    _ => return Bands::Unavailable,
                },
            }
        }
        let weights = bands.iter().map(|(i, _)| stats::EUROPEAN_STANDARD_POPULATION_2013[*i]).collect();
        Bands::Counts(counts, weights, aggregation)
    }

    fn dsr(&self, counts: Vec<Count>, weights: Vec<f64>, aggregation: Option<(AreaType, u32)>) -> Computed {
        let Ok(standard) = stats::StandardPopulation::new(weights) else {
            return Computed::without(StatisticSuppressionReason::NotComputable);
        };
        let input = Input::Dsr { bands: counts, standard };
        let statistic = statistic::compute(
            self.metric.value_type,
            self.metric.multiplier,
            &input,
            Levels::BOTH,
            self.metric.intervals,
        )
        .unwrap_or_else(|_| Statistic::suppressed(StatisticSuppressionReason::NotComputable));
        Computed { statistic, aggregation }
    }

    /// Returns the statistic of resolved figures.
    fn statistic_of(&self, resolved: Resolved) -> Computed {
        let figure = match resolved {
            Resolved::Suppressed => return Computed::without(StatisticSuppressionReason::DisclosureControl),
            Resolved::NoData => return Computed::without(StatisticSuppressionReason::NoData),
            Resolved::Figure(figure) => figure,
        };
        let counts = match self.metric.value_type {
            ValueType::Count => {
                figure.numerator.map(|x| Input::Counts { numerator: x, denominator: figure.denominator })
            }
            ValueType::Proportion | ValueType::CrudeRate => figure
                .numerator
                .zip(figure.denominator)
                .map(|(x, n)| Input::Counts { numerator: x, denominator: Some(n) }),
            // For an indirectly standardised ratio the stored denominator is the expected count.
            ValueType::IndirectlyStandardisedRatio => figure
                .numerator
                .zip(figure.denominator)
                .map(|(o, e)| Input::Isr { observed: o, expected: e, reference_rate: None }),
            _ => None,
        };
        let input = counts.or_else(|| {
            figure.value.map(|value| Input::Supplied { value, lower95: figure.lower95, upper95: figure.upper95 })
        });
        let Some(input) = input else { return Computed::without(StatisticSuppressionReason::NoData) };
        let statistic = statistic::compute(
            self.metric.value_type,
            self.metric.multiplier,
            &input,
            Levels::BOTH,
            self.metric.intervals,
        )
        .unwrap_or_else(|_| Statistic::suppressed(StatisticSuppressionReason::NotComputable));
        // An aggregate's "source" type is set by the resolver; a pool of members has none.
        let aggregation = figure.aggregation.filter(|(t, _)| *t != AreaType::Unspecified);
        Computed { statistic, aggregation }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::areas::tests::small_country;
    use crate::observations::CellState;
    use crate::test_support::{available, national};
    use sharedmetrics_statistics::ConfidenceLevel;

    fn dsr_metric() -> MetricContext {
        let spec = MetricVersionSpec {
            code: "dsr".into(),
            value_type: ValueType::DirectlyStandardisedRate as i32,
            multiplier: 100_000,
            polarity: Polarity::LowIsGood as i32,
            ci_method: CiMethod::Dobson as i32,
            dimensions: vec!["age_band".into(), "sex".into()],
            ..Default::default()
        };
        MetricContext::new(spec, 1, &national())
    }

    fn band(observations: &mut Observations, area: &str, code: &str, x: f64, n: f64) {
        let pairs = with_pair(&Pairs::new(), "age_band", code);
        observations.insert("2024", &pairs, area, available(x, n));
    }

    #[test]
    fn a_dsr_pools_its_lsoas_band_by_band_with_esp_weights() {
        let index = small_country();
        let mut observations = Observations::default();
        band(&mut observations, "L1", "0-4", 6.0, 1_000.0);
        band(&mut observations, "L1", "5-9", 8.0, 2_000.0);
        band(&mut observations, "L2", "0-4", 4.0, 1_000.0);
        band(&mut observations, "L2", "5-9", 2.0, 1_000.0);
        let metric = dsr_metric();
        let figures = Figures { metric: &metric, observations: &observations, areas: &index };
        let district = figures.statistic("D1", "2024", &Pairs::new());
        let standard = stats::StandardPopulation::new(vec![5_000.0, 5_500.0]).unwrap();
        let pooled = [Count::new(10.0, 2_000.0), Count::new(10.0, 3_000.0)];
        let want = stats::directly_standardised_rate(&pooled, &standard, 1e5, ConfidenceLevel::NINETY_FIVE).unwrap();
        let want = want.estimate().unwrap();
        assert_eq!(district.statistic.value, Some(want.value));
        assert_eq!(district.statistic.interval95, want.interval);
        assert_eq!((district.statistic.numerator, district.statistic.denominator), (Some(20.0), Some(5_000.0)));
        assert_eq!(district.aggregation, Some((AreaType::Lsoa, 2)));
        assert_eq!(figures.periods(&Pairs::new()).len(), 1, "band rows give the total's periods");
        let small = figures.statistic("L2", "2024", &Pairs::new());
        assert_eq!(small.statistic.suppression, Some(StatisticSuppressionReason::SmallTotalCount));
        let none = figures.statistic("D2", "2024", &Pairs::new());
        assert_eq!(none.statistic.suppression, Some(StatisticSuppressionReason::NoData));

        let hidden = crate::observations::Cell { state: CellState::Suppressed, ..available(0.0, 0.0) };
        observations.insert("2024", &with_pair(&Pairs::new(), "age_band", "5-9"), "L2", hidden);
        let figures = Figures { metric: &metric, observations: &observations, areas: &index };
        let district = figures.statistic("D1", "2024", &Pairs::new());
        assert_eq!(district.statistic.suppression, Some(StatisticSuppressionReason::DisclosureControl));
    }

    #[test]
    fn an_isr_reads_its_denominator_as_the_expected_count() {
        let index = small_country();
        let mut observations = Observations::default();
        observations.insert("2024", &Pairs::new(), "L1", available(25.0, 18.0));
        let spec = MetricVersionSpec {
            code: "isr".into(),
            value_type: ValueType::IndirectlyStandardisedRatio as i32,
            multiplier: 100,
            ci_method: CiMethod::Byar as i32,
            ..Default::default()
        };
        let metric = MetricContext::new(spec, 1, &national());
        let figures = Figures { metric: &metric, observations: &observations, areas: &index };
        let s = figures.statistic("D1", "2024", &Pairs::new()).statistic;
        let want =
            stats::indirectly_standardised_ratio(25.0, 18.0, stats::Scale::Hundred, ConfidenceLevel::NINETY_FIVE)
                .unwrap();
        assert_eq!((s.value, s.interval95), (Some(want.value), want.interval));
    }
}
