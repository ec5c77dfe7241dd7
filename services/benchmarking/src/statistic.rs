//! One statistic from one set of inputs: the value and its limits at 95% and 99.8% by the method
//! METHODS.md gives the value type, all computed by the statistics crate. Both the calculator
//! RPC and every answer over stored data go through [`compute`], so the two can never disagree.

use std::collections::BTreeSet;

pub(crate) use crate::life_table::LifeTableCounts;

use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{
    Aggregation, ConfidenceLimits, MethodVersion, StatisticSuppressionReason, StatisticalMethod,
};
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, ValueType};
use sharedmetrics_statistics::{self as stats, ConfidenceLevel, Count, Estimate, Interval, Scale, StatisticsError};

/// Version string of the aggregation of lower-level areas (docs/benchmarking.md).
pub(crate) const AGGREGATION: &str = "aggregation/1";
/// Version string of the catchment-weighted apportionment of organisations' figures
/// (docs/benchmarking.md).
pub(crate) const CATCHMENT_WEIGHTED: &str = "catchment-weighted/1";
/// `Aggregation.method` of a figure apportioned from organisations by catchment.
pub(crate) const CATCHMENT_WEIGHTED_METHOD: &str = "catchment-weighted";
/// Version string of limits taken as the source supplied them.
pub(crate) const SUPPLIED: &str = "supplied/1";
/// Version string of a value reported without an interval.
pub(crate) const NO_INTERVAL: &str = "no-interval/1";

/// The inputs of one statistic, already pooled where several groups or areas were combined.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Input {
    /// A count x (with n for a proportion or crude rate).
    Counts { numerator: f64, denominator: Option<f64> },
    /// Per-band counts and populations, with the standard population's band weights.
    Dsr { bands: Vec<Count>, standard: stats::StandardPopulation },
    /// Observed and expected counts; with a reference rate, the ISR is a rate rather than a ratio.
    Isr { observed: f64, expected: f64, reference_rate: Option<f64> },
    /// The values of a mean.
    Mean(Vec<f64>),
    /// A value (on the metric's scale) and 95% limits as the source supplied them.
    Supplied { value: f64, lower95: Option<f64>, upper95: Option<f64> },
    /// Deaths and populations by age band (with health by band) for a life expectancy.
    LifeTable(LifeTableCounts),
}

/// A computed value with its limits, or the reason it has none.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Statistic {
    pub value: Option<f64>,
    pub interval95: Option<Interval>,
    pub interval998: Option<Interval>,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    /// The interval method's version string (`wilson/1`, `no-interval/1`, …).
    pub method: &'static str,
    pub suppression: Option<StatisticSuppressionReason>,
}

impl Statistic {
    /// Returns a statistic with no value for `reason`.
    pub fn suppressed(reason: StatisticSuppressionReason) -> Self {
        Self {
            value: None,
            interval95: None,
            interval998: None,
            numerator: None,
            denominator: None,
            method: NO_INTERVAL,
            suppression: Some(reason),
        }
    }

    /// Returns the limits as the proto carries them.
    pub fn limits(&self) -> ConfidenceLimits {
        limits(self.interval95.as_ref(), self.interval998.as_ref())
    }
}

/// Returns proto limits from the intervals computed.
pub(crate) fn limits(i95: Option<&Interval>, i998: Option<&Interval>) -> ConfidenceLimits {
    ConfidenceLimits {
        lower_95: i95.map(|i| i.lower),
        upper_95: i95.map(|i| i.upper),
        lower_99_8: i998.map(|i| i.lower),
        upper_99_8: i998.map(|i| i.upper),
    }
}

/// Returns the multiplier a value type uses when none is given (METHODS.md defaults).
pub(crate) fn default_multiplier(value_type: ValueType) -> f64 {
    match value_type {
        ValueType::Proportion => 100.0,
        ValueType::CrudeRate | ValueType::DirectlyStandardisedRate => stats::DEFAULT_RATE_MULTIPLIER,
        _ => 1.0,
    }
}

/// Which levels to compute limits at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Levels {
    pub ninety_five: bool,
    pub ninety_nine_point_eight: bool,
}

impl Levels {
    /// Both levels, as every answer over stored data reports.
    pub const BOTH: Self = Self { ninety_five: true, ninety_nine_point_eight: true };
}

/// Returns the statistic of `input` for a metric of `value_type` scaled by `multiplier`.
///
/// `intervals` is false for a metric whose CI method is "none" (counts, scores). The input kind
/// must suit the value type; callers check that, and a mismatch here is reported as
/// not computable rather than guessed at.
pub(crate) fn compute(
    value_type: ValueType,
    multiplier: f64,
    input: &Input,
    levels: Levels,
    intervals: bool,
) -> Result<Statistic, StatisticsError> {
    let at = |level: ConfidenceLevel| -> Result<Option<Estimate>, StatisticsError> {
        let wanted =
            if level == ConfidenceLevel::NINETY_FIVE { levels.ninety_five } else { levels.ninety_nine_point_eight };
        if !wanted {
            return Ok(None);
        }
        estimate(value_type, multiplier, input, level).map(Some)
    };
    if let Input::LifeTable(table) = input {
        return crate::life_table::statistic(table, levels).map(|(statistic, _)| statistic);
    }
    if let (ValueType::DirectlyStandardisedRate, Input::Dsr { bands, standard }) = (value_type, input) {
        return dsr(bands, standard, multiplier, levels);
    }
    if let Input::Supplied { value, lower95, upper95 } = *input {
        let interval95 = match (lower95, upper95) {
            (Some(lower), Some(upper)) if lower <= upper && levels.ninety_five && intervals => {
                Some(Interval { lower, upper, confidence: ConfidenceLevel::NINETY_FIVE, method: SUPPLIED })
            }
            _ => None,
        };
        let method = if interval95.is_some() { SUPPLIED } else { NO_INTERVAL };
        return Ok(Statistic {
            value: Some(value),
            interval95,
            interval998: None,
            numerator: None,
            denominator: None,
            method,
            suppression: None,
        });
    }
    // The value is the same at both levels; computing at 95% even when only 99.8% is asked for
    // also validates the input once, with the same error either way.
    let base = estimate(value_type, multiplier, input, ConfidenceLevel::NINETY_FIVE)?;
    let (interval95, interval998) = if intervals {
        (
            at(ConfidenceLevel::NINETY_FIVE)?.and_then(|e| e.interval),
            at(ConfidenceLevel::NINETY_NINE_POINT_EIGHT)?.and_then(|e| e.interval),
        )
    } else {
        (None, None)
    };
    let method = interval95.or(interval998).map_or(NO_INTERVAL, |i| i.method);
    let (numerator, denominator) = totals(input);
    Ok(Statistic {
        value: Some(base.value),
        interval95,
        interval998,
        numerator,
        denominator,
        method,
        suppression: None,
    })
}

/// Returns the pooled numerator and denominator reported beside a value.
fn totals(input: &Input) -> (Option<f64>, Option<f64>) {
    match input {
        Input::Counts { numerator, denominator } => (Some(*numerator), *denominator),
        Input::Dsr { bands, .. } => {
            (Some(bands.iter().map(|b| b.numerator).sum()), Some(bands.iter().map(|b| b.denominator).sum()))
        }
        Input::Isr { observed, expected, .. } => (Some(*observed), Some(*expected)),
        Input::Mean(values) => (Some(values.iter().sum()), Some(values.len() as f64)),
        Input::Supplied { .. } => (None, None),
        Input::LifeTable(t) => (Some(t.deaths.iter().sum()), Some(t.populations.iter().sum())),
    }
}

/// Returns the scale the statistics crate takes for a multiplier of 1 or 100, if it is one.
pub(crate) fn scale_of(multiplier: f64) -> Option<Scale> {
    if multiplier == 1.0 {
        Some(Scale::Unit)
    } else if multiplier == 100.0 {
        Some(Scale::Hundred)
    } else {
        None
    }
}

/// Returns an estimate scaled by a factor the statistics crate has no scale for.
fn rescaled(estimate: Estimate, factor: f64) -> Estimate {
    Estimate {
        value: estimate.value * factor,
        interval: estimate.interval.map(|i| Interval { lower: i.lower * factor, upper: i.upper * factor, ..i }),
        method: estimate.method,
    }
}

fn estimate(
    value_type: ValueType,
    multiplier: f64,
    input: &Input,
    level: ConfidenceLevel,
) -> Result<Estimate, StatisticsError> {
    let denominator_of = |d: Option<f64>| d.unwrap_or(0.0);
    match (value_type, input) {
        (ValueType::Count, Input::Counts { numerator, .. }) => {
            let limits = stats::count_limits(*numerator, level)?;
            Ok(Estimate {
                value: *numerator,
                interval: Some(Interval {
                    lower: limits.lower.unwrap_or(0.0),
                    upper: limits.upper,
                    confidence: level,
                    method: limits.method,
                }),
                method: limits.method,
            })
        }
        (ValueType::Proportion, Input::Counts { numerator, denominator }) => match scale_of(multiplier) {
            Some(scale) => stats::proportion(*numerator, denominator_of(*denominator), scale, level),
            None => stats::proportion(*numerator, denominator_of(*denominator), Scale::Unit, level)
                .map(|e| rescaled(e, multiplier)),
        },
        (ValueType::CrudeRate, Input::Counts { numerator, denominator }) => {
            stats::crude_rate(*numerator, denominator_of(*denominator), multiplier, level)
        }
        (ValueType::IndirectlyStandardisedRatio, Input::Isr { observed, expected, reference_rate: None }) => {
            match scale_of(multiplier) {
                Some(scale) => stats::indirectly_standardised_ratio(*observed, *expected, scale, level),
                None => stats::indirectly_standardised_ratio(*observed, *expected, Scale::Unit, level)
                    .map(|e| rescaled(e, multiplier)),
            }
        }
        (ValueType::IndirectlyStandardisedRatio, Input::Isr { observed, expected, reference_rate: Some(rate) }) => {
            stats::indirectly_standardised_rate(*observed, *expected, rate * multiplier, level)
        }
        (ValueType::Mean, Input::Mean(values)) => stats::mean(values, level),
        _ => Err(StatisticsError::NotFinite { field: stats::Field::named("input") }),
    }
}

fn dsr(
    bands: &[Count],
    standard: &stats::StandardPopulation,
    multiplier: f64,
    levels: Levels,
) -> Result<Statistic, StatisticsError> {
    let run = |level| stats::directly_standardised_rate(bands, standard, multiplier, level);
    let base = run(ConfidenceLevel::NINETY_FIVE)?;
    let numerator = Some(base.observed());
    let denominator = Some(bands.iter().map(|b| b.denominator).sum());
    let Some(estimate) = base.estimate() else {
        return Ok(Statistic {
            numerator,
            denominator,
            ..Statistic::suppressed(StatisticSuppressionReason::SmallTotalCount)
        });
    };
    let interval998 = if levels.ninety_nine_point_eight {
        run(ConfidenceLevel::NINETY_NINE_POINT_EIGHT)?.estimate().and_then(|e| e.interval)
    } else {
        None
    };
    Ok(Statistic {
        value: Some(estimate.value),
        interval95: if levels.ninety_five { estimate.interval } else { None },
        interval998,
        numerator,
        denominator,
        method: stats::method::DSR_DOBSON,
        suppression: None,
    })
}

/// Returns the proto method of a method version string, when the proto names it.
///
/// Value methods such as `proportion/1` have no proto value: the interval method names them.
pub(crate) fn method_version(method: &str) -> Option<MethodVersion> {
    let (name, version) = method.split_once('/')?;
    let method = match name {
        "wilson" => StatisticalMethod::Wilson,
        "byar" => StatisticalMethod::Byar,
        "exact-poisson" => StatisticalMethod::ExactPoisson,
        "dsr-dobson" => StatisticalMethod::Dobson,
        "student-t" => StatisticalMethod::StudentT,
        "no-interval" => StatisticalMethod::NoInterval,
        "benchmark-one-level" | "benchmark-two-levels" => StatisticalMethod::IntervalComparison,
        "funnel-proportion" => StatisticalMethod::FunnelProportion,
        "funnel-ratio" => StatisticalMethod::FunnelRatio,
        "quantiles" => StatisticalMethod::Quantiles,
        "trend-chi-square" => StatisticalMethod::ChiSquareTrend,
        "trend-weighted-regression" => StatisticalMethod::WeightedRegressionTrend,
        "sii-simulated" => StatisticalMethod::SlopeIndexOfInequality,
        "aggregation" => StatisticalMethod::Aggregation,
        "catchment-weighted" => StatisticalMethod::CatchmentWeighted,
        "supplied" => StatisticalMethod::Supplied,
        "core20" => StatisticalMethod::Core20,
        "life-expectancy-chiang-silcocks" => StatisticalMethod::LifeExpectancy,
        "healthy-life-expectancy-sullivan" => StatisticalMethod::HealthyLifeExpectancy,
        _ => return None,
    };
    Some(MethodVersion { method: method as i32, version: version.to_owned() })
}

/// Collects the methods an answer used, to list each once.
#[derive(Default, Debug)]
pub(crate) struct Methods(BTreeSet<&'static str>);

impl Methods {
    /// Records a method version string.
    pub fn add(&mut self, method: &'static str) {
        self.0.insert(method);
    }

    /// Records how an aggregated figure was made (summed from finer areas, or weighted from
    /// organisations by catchment) and returns its message; none for an area's own figure.
    pub fn aggregation(&mut self, aggregation: Option<(AreaType, u32)>) -> Option<Aggregation> {
        let (source, count) = aggregation?;
        let weighted = source == AreaType::Organisation;
        self.add(if weighted { CATCHMENT_WEIGHTED } else { AGGREGATION });
        Some(Aggregation {
            source_area_type: source as i32,
            source_count: count,
            method: if weighted { CATCHMENT_WEIGHTED_METHOD } else { "sum" }.to_owned(),
        })
    }

    /// Returns the methods as the proto lists them, ordered by method.
    pub fn into_versions(self) -> Vec<MethodVersion> {
        let mut versions: Vec<MethodVersion> = self.0.iter().filter_map(|m| method_version(m)).collect();
        versions.sort_by_key(|v| v.method);
        versions.dedup();
        versions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proportion_matches_the_statistics_crate_at_both_levels() {
        let input = Input::Counts { numerator: 65.0, denominator: Some(100.0) };
        let s = compute(ValueType::Proportion, 100.0, &input, Levels::BOTH, true).unwrap();
        let p95 = stats::proportion(65.0, 100.0, Scale::Hundred, ConfidenceLevel::NINETY_FIVE).unwrap();
        let p998 = stats::proportion(65.0, 100.0, Scale::Hundred, ConfidenceLevel::NINETY_NINE_POINT_EIGHT).unwrap();
        assert_eq!(s.value, Some(65.0));
        assert_eq!(s.interval95, p95.interval);
        assert_eq!(s.interval998, p998.interval);
        assert_eq!((s.numerator, s.denominator, s.method), (Some(65.0), Some(100.0), "wilson/1"));
    }

    #[test]
    fn a_crude_rate_names_exact_or_byar_by_the_count() {
        let small = Input::Counts { numerator: 9.0, denominator: Some(25_000.0) };
        let large = Input::Counts { numerator: 10.0, denominator: Some(25_000.0) };
        assert_eq!(compute(ValueType::CrudeRate, 1e5, &small, Levels::BOTH, true).unwrap().method, "exact-poisson/1");
        assert_eq!(compute(ValueType::CrudeRate, 1e5, &large, Levels::BOTH, true).unwrap().method, "byar/1");
    }

    #[test]
    fn a_dsr_under_ten_is_suppressed_for_its_small_total() {
        let standard = stats::StandardPopulation::new(vec![1.0, 1.0]).unwrap();
        let bands = vec![Count::new(4.0, 100.0), Count::new(5.0, 100.0)];
        let s = compute(ValueType::DirectlyStandardisedRate, 1e5, &Input::Dsr { bands, standard }, Levels::BOTH, true)
            .unwrap();
        assert_eq!(s.suppression, Some(StatisticSuppressionReason::SmallTotalCount));
        assert_eq!((s.value, s.numerator, s.denominator), (None, Some(9.0), Some(200.0)));
    }

    #[test]
    fn supplied_limits_are_kept_and_named_as_supplied() {
        let input = Input::Supplied { value: 78.1, lower95: Some(77.0), upper95: Some(79.2) };
        let s = compute(ValueType::Mean, 1.0, &input, Levels::BOTH, true).unwrap();
        assert_eq!((s.value, s.method), (Some(78.1), SUPPLIED));
        assert_eq!(s.limits().lower_95, Some(77.0));
        assert_eq!(s.limits().lower_99_8, None, "the platform cannot widen limits it did not compute");
    }

    #[test]
    fn methods_are_listed_once_with_their_versions() {
        let mut methods = Methods::default();
        for m in ["wilson/1", "proportion/1", "wilson/1", "quantiles/1", AGGREGATION] {
            methods.add(m);
        }
        let versions = methods.into_versions();
        let names: Vec<i32> = versions.iter().map(|v| v.method).collect();
        assert_eq!(
            names,
            vec![
                StatisticalMethod::Wilson as i32,
                StatisticalMethod::Quantiles as i32,
                StatisticalMethod::Aggregation as i32
            ]
        );
        assert!(versions.iter().all(|v| v.version == "1"));
    }
}
