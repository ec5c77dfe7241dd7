//! ComputeStatistics: the stateless calculator. It checks that the input kind suits the value
//! type, pools grouped input (counts and denominators summed, standardisation bands summed band
//! by band, mean values concatenated), computes through [`statistic::compute`] exactly as answers
//! over stored data do, and reports every input error as a violation of the request field at
//! fault (for example `grouped.groups[2].counts.numerator`).

use sharedmetrics_error::{FieldViolation, ServiceError, ServiceResult};
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::*;
use sharedmetrics_proto::sharedmetrics::common::v1::ValueType;
use sharedmetrics_statistics::{self as stats, Count, StatisticsError};

use crate::statistic::{self, Input, Levels, method_version};

/// One input as the request gives it, from the top level or a group.
#[derive(Clone, Copy)]
enum Given<'a> {
    Counts(&'a CountInput),
    Dsr(&'a DsrInput),
    Isr(&'a IsrInput),
    Mean(&'a MeanInput),
    LifeTable(&'a LifeTableInput),
}

impl Given<'_> {
    fn field(self) -> &'static str {
        match self {
            Self::Counts(_) => "counts",
            Self::Dsr(_) => "dsr",
            Self::Isr(_) => "isr",
            Self::Mean(_) => "mean",
            Self::LifeTable(_) => "life_table",
        }
    }
}

/// Returns the input field a value type takes.
fn expected_field(value_type: ValueType) -> Option<&'static str> {
    match value_type {
        ValueType::Count | ValueType::Proportion | ValueType::CrudeRate => Some("counts"),
        ValueType::DirectlyStandardisedRate => Some("dsr"),
        ValueType::IndirectlyStandardisedRatio => Some("isr"),
        ValueType::Mean => Some("mean"),
        ValueType::LifeExpectancy | ValueType::HealthyLifeExpectancy => Some("life_table"),
        _ => None,
    }
}

fn invalid(violations: Vec<FieldViolation>) -> ServiceError {
    let message = match violations.as_slice() {
        [one] => format!("{}: {}", one.field, one.description),
        _ => format!("{} fields of the request are not valid", violations.len()),
    };
    ServiceError::invalid(message, violations)
}

/// Returns the violation a statistics error makes, naming the request field at fault.
fn violation(error: &StatisticsError, prefix: &str, kind: &str) -> FieldViolation {
    let field = match error {
        StatisticsError::Negative { field, .. }
        | StatisticsError::NotPositive { field, .. }
        | StatisticsError::NotFinite { field }
        | StatisticsError::NumeratorExceedsDenominator { field, .. }
        | StatisticsError::OutOfRange { field, .. }
        | StatisticsError::WrongLength { field, .. }
        | StatisticsError::LimitsReversed { field, .. }
        | StatisticsError::LimitsRequiredForScale { field, .. } => Some(*field),
        StatisticsError::IntervalsNotNested { .. } => None,
    };
    let reason = match error {
        StatisticsError::Negative { .. } => "NEGATIVE",
        StatisticsError::NotPositive { .. } => "NOT_POSITIVE",
        StatisticsError::NotFinite { .. } => "NOT_FINITE",
        StatisticsError::NumeratorExceedsDenominator { .. } => "NUMERATOR_ABOVE_DENOMINATOR",
        StatisticsError::OutOfRange { .. } => "OUT_OF_RANGE",
        StatisticsError::WrongLength { .. } => "WRONG_LENGTH",
        StatisticsError::LimitsReversed { .. } => "LIMITS_REVERSED",
        StatisticsError::IntervalsNotNested { .. } => "INTERVALS_NOT_NESTED",
        StatisticsError::LimitsRequiredForScale { .. } => "LIMITS_REQUIRED",
    };
    let path = field.map_or_else(|| prefix.to_owned(), |f| request_path(prefix, kind, f.name, f.index));
    // The statistics crate names its own inputs; the description names the request's.
    let description = error.to_string().replacen(&field.map(|f| f.to_string()).unwrap_or_default(), &path, 1);
    FieldViolation::new(path, reason, description)
}

/// Returns the request path of an input the statistics crate names.
fn request_path(prefix: &str, kind: &str, name: &str, index: Option<usize>) -> String {
    let at = |list: &str, leaf: &str| match index {
        Some(i) => format!("{prefix}.{list}[{i}].{leaf}"),
        None => format!("{prefix}.{list}"),
    };
    match (kind, name) {
        (_, "multiplier") => "multiplier".to_owned(),
        ("counts", "observed") => format!("{prefix}.numerator"),
        ("dsr", "numerator") => at("bands", "count"),
        ("dsr", "denominator") => at("bands", "population"),
        ("dsr", "weights") => {
            index.map_or(format!("{prefix}.standard_population"), |i| format!("{prefix}.standard_population[{i}]"))
        }
        ("dsr", "total weight") => format!("{prefix}.standard_population"),
        ("isr", "reference_rates") => at("bands", "reference_rate"),
        ("isr", "populations") => at("bands", "population"),
        ("isr", "reference_rate") => format!("{prefix}.reference_crude_rate"),
        ("life_table", "deaths") => at("bands", "deaths"),
        ("life_table", "populations") => at("bands", "population"),
        ("life_table", "healthy") => at("bands", "healthy_proportion"),
        ("life_table", "sample_sizes") => at("bands", "sample_size"),
        (_, name) => match index {
            Some(i) => format!("{prefix}.{name}[{i}]"),
            None => format!("{prefix}.{name}"),
        },
    }
}

/// Returns the calculation input of one given input, or the violations it has.
fn prepare(value_type: ValueType, given: Given<'_>, prefix: &str) -> Result<Input, Vec<FieldViolation>> {
    let kind = given.field();
    let stats_error = |e: StatisticsError| vec![violation(&e, prefix, kind)];
    match given {
        Given::Counts(c) => {
            if matches!(value_type, ValueType::Proportion | ValueType::CrudeRate) && c.denominator.is_none() {
                return Err(vec![FieldViolation::new(
                    format!("{prefix}.denominator"),
                    "REQUIRED",
                    format!("a {} needs a denominator", sharedmetrics_proto::Label::label(value_type)),
                )]);
            }
            Ok(Input::Counts { numerator: c.numerator, denominator: c.denominator })
        }
        Given::Dsr(d) => {
            let weights = if d.standard_population.is_empty() {
                stats::EUROPEAN_STANDARD_POPULATION_2013.to_vec()
            } else {
                d.standard_population.clone()
            };
            let standard = stats::StandardPopulation::new(weights).map_err(stats_error)?;
            let bands = d.bands.iter().map(|b| Count::new(b.count, b.population)).collect();
            Ok(Input::Dsr { bands, standard })
        }
        Given::Isr(i) => {
            let expected = match (i.bands.is_empty(), i.expected) {
                (false, Some(_)) => {
                    return Err(vec![FieldViolation::new(
                        format!("{prefix}.expected"),
                        "CONFLICTING_INPUT",
                        "give either bands or expected, not both",
                    )]);
                }
                (true, None) => {
                    return Err(vec![FieldViolation::new(
                        format!("{prefix}.bands"),
                        "REQUIRED",
                        "an indirectly standardised ratio needs bands or an expected count",
                    )]);
                }
                (true, Some(expected)) => expected,
                (false, None) => {
                    let rates: Vec<f64> = i.bands.iter().map(|b| b.reference_rate).collect();
                    let populations: Vec<f64> = i.bands.iter().map(|b| b.population).collect();
                    stats::expected_count(&rates, &populations).map_err(stats_error)?
                }
            };
            Ok(Input::Isr { observed: i.observed, expected, reference_rate: i.reference_crude_rate })
        }
        Given::Mean(m) => Ok(Input::Mean(m.values.clone())),
        Given::LifeTable(t) => life_table_input(value_type, t, prefix),
    }
}

/// Returns a life table's input, requiring its 20 bands and, for healthy life expectancy, each
/// band's proportion in good health and sample size.
fn life_table_input(value_type: ValueType, t: &LifeTableInput, prefix: &str) -> Result<Input, Vec<FieldViolation>> {
    let count = stats::LIFE_TABLE_START_AGES.len();
    if t.bands.len() != count {
        return Err(vec![FieldViolation::new(
            format!("{prefix}.bands"),
            "WRONG_LENGTH",
            format!("a life table has exactly {count} bands (<1, 1-4, 5-9 ... 85-89, 90+), not {}", t.bands.len()),
        )]);
    }
    let health = if value_type == ValueType::HealthyLifeExpectancy {
        let mut violations = Vec::new();
        for (i, band) in t.bands.iter().enumerate() {
            for (given, leaf) in [(band.healthy_proportion, "healthy_proportion"), (band.sample_size, "sample_size")] {
                if given.is_none() {
                    violations.push(FieldViolation::new(
                        format!("{prefix}.bands[{i}].{leaf}"),
                        "REQUIRED",
                        "healthy life expectancy needs each band's proportion in good health and sample size",
                    ));
                }
            }
        }
        if !violations.is_empty() {
            return Err(violations);
        }
        Some((
            t.bands.iter().map(|b| b.healthy_proportion.unwrap_or_default()).collect(),
            t.bands.iter().map(|b| b.sample_size.unwrap_or_default()).collect(),
        ))
    } else {
        None
    };
    Ok(Input::LifeTable(statistic::LifeTableCounts {
        deaths: t.bands.iter().map(|b| b.deaths).collect(),
        populations: t.bands.iter().map(|b| b.population).collect(),
        health,
    }))
}

/// Returns the inputs of several groups pooled into one, or the violations of the groups that
/// cannot be pooled with the first.
fn pool(groups: &[(Given<'_>, Input)]) -> Result<Input, Vec<FieldViolation>> {
    let path = |i: usize, given: Given<'_>, leaf: &str| format!("grouped.groups[{i}].{}.{leaf}", given.field());
    let mut violations = Vec::new();
    let pooled = match &groups[0].1 {
        Input::Counts { .. } => {
            let (mut x, mut n) = (0.0, Some(0.0));
            for (_, input) in groups {
                if let Input::Counts { numerator, denominator } = input {
                    x += numerator;
                    n = n.zip(*denominator).map(|(a, b)| a + b);
                }
            }
            Input::Counts { numerator: x, denominator: n }
        }
        Input::Dsr { standard, .. } => {
            let mut parts: Vec<&[Count]> = Vec::new();
            for (i, (given, input)) in groups.iter().enumerate() {
                if let Input::Dsr { bands, standard: own } = input {
                    if own != standard {
                        violations.push(FieldViolation::new(
                            path(i, *given, "standard_population"),
                            "MISMATCHED_STANDARD",
                            "every group must use the same standard population",
                        ));
                    }
                    parts.push(bands);
                }
            }
            match stats::pool_bands(&parts) {
                Ok(bands) => Input::Dsr { bands, standard: standard.clone() },
                Err(StatisticsError::WrongLength { field, expected, actual }) => {
                    let i = field.index.unwrap_or(0);
                    violations.push(FieldViolation::new(
                        path(i, groups[i].0, "bands"),
                        "WRONG_LENGTH",
                        format!("group {i} has {actual} bands but {expected} are required"),
                    ));
                    return Err(violations);
                }
                Err(e) => return Err(vec![violation(&e, "grouped", "dsr")]),
            }
        }
        Input::Isr { reference_rate, .. } => {
            let (mut o, mut e) = (0.0, 0.0);
            let first_rates = first_band_rates(groups[0].0);
            for (i, (given, input)) in groups.iter().enumerate() {
                if let Input::Isr { observed, expected, reference_rate: own } = input {
                    if own != reference_rate {
                        violations.push(FieldViolation::new(
                            path(i, *given, "reference_crude_rate"),
                            "MISMATCHED_REFERENCE_RATE",
                            "every group must use the same reference crude rate",
                        ));
                    }
                    let rates = first_band_rates(*given);
                    if !rates.is_empty() && !first_rates.is_empty() && rates != first_rates {
                        violations.push(FieldViolation::new(
                            path(i, *given, "bands"),
                            "MISMATCHED_REFERENCE_RATES",
                            "every group's bands must use the same reference rates",
                        ));
                    }
                    o += observed;
                    e += expected;
                }
            }
            Input::Isr { observed: o, expected: e, reference_rate: *reference_rate }
        }
        Input::Mean(_) => Input::Mean(
            groups
                .iter()
                .flat_map(|(_, input)| if let Input::Mean(v) = input { v.clone() } else { Vec::new() })
                .collect(),
        ),
        // Grouped input has no life tables, and the calculator never takes supplied values.
        Input::Supplied { .. } | Input::LifeTable(_) => {
            unreachable!("grouped input holds neither supplied values nor life tables")
        }
    };
    if violations.is_empty() { Ok(pooled) } else { Err(violations) }
}

fn first_band_rates(given: Given<'_>) -> Vec<f64> {
    match given {
        Given::Isr(i) => i.bands.iter().map(|b| b.reference_rate).collect(),
        _ => Vec::new(),
    }
}

/// Returns the value and limits of the counts in the request.
pub(crate) fn compute_statistics(request: &ComputeStatisticsRequest) -> ServiceResult<ComputeStatisticsResponse> {
    let value_type = ValueType::try_from(request.value_type).unwrap_or(ValueType::Unspecified);
    let Some(expected) = expected_field(value_type) else {
        let description = if value_type == ValueType::Unspecified {
            "value_type is required".to_owned()
        } else {
            format!("the platform computes no interval for a {}", sharedmetrics_proto::Label::label(value_type))
        };
        return Err(invalid(vec![FieldViolation::new("value_type", "NO_METHOD", description)]));
    };
    let mut violations = Vec::new();
    let multiplier = match request.multiplier {
        0 => statistic::default_multiplier(value_type),
        m if matches!(
            value_type,
            ValueType::Count | ValueType::Mean | ValueType::LifeExpectancy | ValueType::HealthyLifeExpectancy
        ) && m != 1 =>
        {
            violations.push(FieldViolation::new(
                "multiplier",
                "NOT_SCALABLE",
                format!("a {} is not scaled; multiplier must be 0 or 1", sharedmetrics_proto::Label::label(value_type)),
            ));
            1.0
        }
        m => f64::from(m),
    };
    let mut levels = Levels {
        ninety_five: request.confidence_levels.is_empty(),
        ninety_nine_point_eight: request.confidence_levels.is_empty(),
    };
    for (i, level) in request.confidence_levels.iter().enumerate() {
        match ConfidenceLevel::try_from(*level) {
            Ok(ConfidenceLevel::ConfidenceLevel95) => levels.ninety_five = true,
            Ok(ConfidenceLevel::ConfidenceLevel998) => levels.ninety_nine_point_eight = true,
            _ => violations.push(FieldViolation::new(
                format!("confidence_levels[{i}]"),
                "INVALID_ENUM",
                "confidence levels are 95% or 99.8%",
            )),
        }
    }
    use compute_statistics_request::Input as Top;
    let given: Vec<(String, Given<'_>)> = match &request.input {
        None => {
            violations.push(FieldViolation::new(expected, "REQUIRED", format!("a {expected} input is required")));
            Vec::new()
        }
        Some(Top::Counts(c)) => vec![("counts".into(), Given::Counts(c))],
        Some(Top::Dsr(d)) => vec![("dsr".into(), Given::Dsr(d))],
        Some(Top::Isr(i)) => vec![("isr".into(), Given::Isr(i))],
        Some(Top::Mean(m)) => vec![("mean".into(), Given::Mean(m))],
        Some(Top::LifeTable(t)) => vec![("life_table".into(), Given::LifeTable(t))],
        Some(Top::Grouped(g)) => {
            if g.groups.is_empty() {
                violations.push(FieldViolation::new(
                    "grouped.groups",
                    "REQUIRED",
                    "grouped input needs at least one group",
                ));
            }
            g.groups
                .iter()
                .enumerate()
                .filter_map(|(i, group)| {
                    use input_group::Input as G;
                    let given = match group.input.as_ref() {
                        Some(G::Counts(c)) => Given::Counts(c),
                        Some(G::Dsr(d)) => Given::Dsr(d),
                        Some(G::Isr(x)) => Given::Isr(x),
                        Some(G::Mean(m)) => Given::Mean(m),
                        None => {
                            violations.push(FieldViolation::new(
                                format!("grouped.groups[{i}]"),
                                "REQUIRED",
                                "a group needs an input",
                            ));
                            return None;
                        }
                    };
                    Some((format!("grouped.groups[{i}].{}", given.field()), given))
                })
                .collect()
        }
    };
    let mut prepared = Vec::new();
    for (prefix, given) in &given {
        if given.field() != expected {
            violations.push(FieldViolation::new(
                prefix.clone(),
                "WRONG_INPUT_KIND",
                format!(
                    "a {} takes a {expected} input, not {}",
                    sharedmetrics_proto::Label::label(value_type),
                    given.field()
                ),
            ));
            continue;
        }
        // Each input is checked on its own first, so an error names the group at fault rather
        // than the pooled sum.
        let checked = prepare(value_type, *given, prefix).and_then(|input| {
            statistic::compute(value_type, multiplier, &input, Levels::BOTH, true)
                .map(|_| input)
                .map_err(|e| vec![violation(&e, prefix, given.field())])
        });
        match checked {
            Ok(input) => prepared.push((*given, input)),
            Err(v) => violations.extend(v),
        }
    }
    if !violations.is_empty() {
        return Err(invalid(violations));
    }
    let input = if prepared.len() == 1 { prepared.remove(0).1 } else { pool(&prepared).map_err(invalid)? };
    // A life table gives the statistic at birth and every start age from one computation.
    let (s, by_age) = match &input {
        Input::LifeTable(table) => crate::life_table::statistic(table, levels)
            .map_err(|e| invalid(vec![violation(&e, "life_table", "life_table")]))?,
        _ => (
            statistic::compute(value_type, multiplier, &input, levels, true)
                .map_err(|e| invalid(vec![violation(&e, "grouped", expected)]))?,
            Vec::new(),
        ),
    };
    let suppressed = s.suppression.is_some();
    // A life expectancy withheld for a wide interval keeps its limits.
    let wide = s.suppression == Some(StatisticSuppressionReason::WideInterval);
    Ok(ComputeStatisticsResponse {
        value: s.value,
        limits: (!suppressed || wide).then(|| s.limits()),
        numerator: s.numerator,
        denominator: s.denominator,
        // Before life tables only a DSR could be suppressed here; a suppressed statistic that
        // names no method of its own is that DSR.
        method: method_version(if suppressed && s.method == statistic::NO_INTERVAL {
            stats::method::DSR_DOBSON
        } else {
            s.method
        }),
        suppressed,
        suppression_reason: s.suppression.map_or(0, |r| r as i32),
        by_age,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharedmetrics_statistics::{ConfidenceLevel as Level, Scale};

    fn counts(value_type: ValueType, x: f64, n: Option<f64>) -> ComputeStatisticsRequest {
        ComputeStatisticsRequest {
            value_type: value_type as i32,
            input: Some(compute_statistics_request::Input::Counts(CountInput { numerator: x, denominator: n })),
            ..Default::default()
        }
    }

    fn fields(error: &ServiceError) -> Vec<(&str, &str)> {
        error.violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect()
    }

    #[test]
    fn a_proportion_gives_wilson_limits_at_both_levels_by_default() {
        let r = compute_statistics(&counts(ValueType::Proportion, 65.0, Some(100.0))).unwrap();
        let p95 = stats::proportion(65.0, 100.0, Scale::Hundred, Level::NINETY_FIVE).unwrap().interval.unwrap();
        let p998 =
            stats::proportion(65.0, 100.0, Scale::Hundred, Level::NINETY_NINE_POINT_EIGHT).unwrap().interval.unwrap();
        let limits = r.limits.unwrap();
        assert_eq!((r.value, limits.lower_95, limits.upper_99_8), (Some(65.0), Some(p95.lower), Some(p998.upper)));
        assert_eq!(r.method.unwrap().method, StatisticalMethod::Wilson as i32);
        let only = ComputeStatisticsRequest {
            confidence_levels: vec![ConfidenceLevel::ConfidenceLevel998 as i32],
            ..counts(ValueType::Proportion, 65.0, Some(100.0))
        };
        let limits = compute_statistics(&only).unwrap().limits.unwrap();
        assert_eq!((limits.lower_95, limits.lower_99_8), (None, Some(p998.lower)));
    }

    #[test]
    fn documented_input_errors_name_the_field() {
        let e = compute_statistics(&counts(ValueType::Proportion, 12.0, Some(10.0))).unwrap_err();
        assert_eq!(fields(&e), [("counts.numerator", "NUMERATOR_ABOVE_DENOMINATOR")]);
        let e = compute_statistics(&counts(ValueType::CrudeRate, -1.0, Some(10.0))).unwrap_err();
        assert_eq!(fields(&e), [("counts.numerator", "NEGATIVE")]);
        let e = compute_statistics(&counts(ValueType::CrudeRate, 1.0, Some(0.0))).unwrap_err();
        assert_eq!(fields(&e), [("counts.denominator", "NOT_POSITIVE")]);
        let e = compute_statistics(&counts(ValueType::Proportion, 1.0, None)).unwrap_err();
        assert_eq!(fields(&e), [("counts.denominator", "REQUIRED")]);
        let e = compute_statistics(&counts(ValueType::Mean, 1.0, None)).unwrap_err();
        assert_eq!(fields(&e), [("counts", "WRONG_INPUT_KIND")]);
        let e = compute_statistics(&counts(ValueType::Unspecified, 1.0, None)).unwrap_err();
        assert_eq!(fields(&e), [("value_type", "NO_METHOD")]);
        let dsr = ComputeStatisticsRequest {
            value_type: ValueType::DirectlyStandardisedRate as i32,
            input: Some(compute_statistics_request::Input::Dsr(DsrInput {
                bands: vec![DsrBand { band: "0-4".into(), count: 3.0, population: 100.0 }],
                standard_population: vec![],
            })),
            ..Default::default()
        };
        assert_eq!(fields(&compute_statistics(&dsr).unwrap_err()), [("dsr.bands", "WRONG_LENGTH")]);
    }

    #[test]
    fn grouped_counts_are_pooled_and_a_bad_group_is_named() {
        let group = |x, n| InputGroup {
            input: Some(input_group::Input::Counts(CountInput { numerator: x, denominator: Some(n) })),
        };
        let request = |groups| ComputeStatisticsRequest {
            value_type: ValueType::Proportion as i32,
            input: Some(compute_statistics_request::Input::Grouped(GroupedInput { groups })),
            ..Default::default()
        };
        let pooled =
            compute_statistics(&request(vec![group(30.0, 60.0), group(25.0, 30.0), group(10.0, 10.0)])).unwrap();
        let single = compute_statistics(&counts(ValueType::Proportion, 65.0, Some(100.0))).unwrap();
        assert_eq!(pooled, single);
        let e = compute_statistics(&request(vec![group(1.0, 2.0), group(3.0, 2.0)])).unwrap_err();
        assert_eq!(fields(&e), [("grouped.groups[1].counts.numerator", "NUMERATOR_ABOVE_DENOMINATOR")]);
    }

    #[test]
    fn a_dsr_uses_the_european_standard_population_and_suppresses_small_totals() {
        let bands = |count: f64| {
            (0..19).map(|i| DsrBand { band: format!("{i}"), count, population: 1_000.0 }).collect::<Vec<_>>()
        };
        let request = |count| ComputeStatisticsRequest {
            value_type: ValueType::DirectlyStandardisedRate as i32,
            input: Some(compute_statistics_request::Input::Dsr(DsrInput {
                bands: bands(count),
                standard_population: vec![],
            })),
            ..Default::default()
        };
        let r = compute_statistics(&request(2.0)).unwrap();
        let counts: Vec<Count> = (0..19).map(|_| Count::new(2.0, 1_000.0)).collect();
        let expected = stats::directly_standardised_rate(
            &counts,
            &stats::StandardPopulation::european_2013(),
            1e5,
            Level::NINETY_FIVE,
        )
        .unwrap();
        assert_eq!(r.value, expected.estimate().map(|e| e.value));
        assert_eq!(r.method.unwrap().method, StatisticalMethod::Dobson as i32);
        let small = compute_statistics(&request(0.0)).unwrap();
        assert!(small.suppressed && small.value.is_none());
        assert_eq!(small.suppression_reason, StatisticSuppressionReason::SmallTotalCount as i32);
    }

    #[test]
    fn isr_ratio_and_rate_and_a_mean() {
        let isr = |reference_crude_rate| ComputeStatisticsRequest {
            value_type: ValueType::IndirectlyStandardisedRatio as i32,
            multiplier: 100,
            input: Some(compute_statistics_request::Input::Isr(IsrInput {
                observed: 25.0,
                bands: vec![
                    IsrBand { band: "a".into(), reference_rate: 0.001, population: 2_000.0 },
                    IsrBand { band: "b".into(), reference_rate: 0.004, population: 1_500.0 },
                    IsrBand { band: "c".into(), reference_rate: 0.02, population: 500.0 },
                ],
                expected: None,
                reference_crude_rate,
            })),
            ..Default::default()
        };
        let ratio = compute_statistics(&isr(None)).unwrap();
        let want = stats::indirectly_standardised_ratio(25.0, 18.0, Scale::Hundred, Level::NINETY_FIVE).unwrap();
        assert!((ratio.value.unwrap() - want.value).abs() < 1e-9);
        assert_eq!((ratio.denominator, ratio.method.unwrap().method), (Some(18.0), StatisticalMethod::Byar as i32));
        let rate = compute_statistics(&isr(Some(8.5))).unwrap();
        assert!((rate.value.unwrap() - 25.0 / 18.0 * 850.0).abs() < 1e-9);
        let mean = ComputeStatisticsRequest {
            value_type: ValueType::Mean as i32,
            input: Some(compute_statistics_request::Input::Mean(MeanInput { values: vec![1.0, 2.0, 3.0, 4.0, 5.0] })),
            ..Default::default()
        };
        let m = compute_statistics(&mean).unwrap();
        assert_eq!((m.value, m.method.unwrap().method), (Some(3.0), StatisticalMethod::StudentT as i32));
    }
    /// The example table of PHEindicatormethods' phe_life_expectancy documentation, as bands.
    fn life_table(value_type: ValueType, healthy: Option<f64>) -> ComputeStatisticsRequest {
        let populations = [
            7060.0, 35059.0, 46974.0, 48489.0, 43219.0, 38561.0, 46009.0, 57208.0, 61435.0, 55601.0, 50209.0, 56416.0,
            46411.0, 39820.0, 37978.0, 37039.0, 33288.0, 23306.0, 11936.0, 11936.0,
        ];
        let deaths = [
            17.0, 9.0, 4.0, 8.0, 20.0, 15.0, 24.0, 33.0, 50.0, 71.0, 100.0, 163.0, 263.0, 304.0, 536.0, 872.0, 1390.0,
            1605.0, 1936.0, 1937.0,
        ];
        let bands = crate::life_table::LIFE_TABLE_BANDS
            .iter()
            .zip(deaths.iter().zip(populations))
            .map(|(band, (d, p))| LifeTableBand {
                band: (*band).to_owned(),
                deaths: *d,
                population: p,
                healthy_proportion: healthy,
                sample_size: healthy.map(|_| 300.0),
            })
            .collect();
        ComputeStatisticsRequest {
            value_type: value_type as i32,
            input: Some(compute_statistics_request::Input::LifeTable(LifeTableInput { bands })),
            ..Default::default()
        }
    }

    #[test]
    // Worked values are quoted with every digit the reference script printed.
    #[allow(clippy::excessive_precision)]
    fn a_life_table_gives_life_expectancy_at_birth_and_at_every_start_age() {
        let r = compute_statistics(&life_table(ValueType::LifeExpectancy, None)).unwrap();
        // crates/statistics/reference/life_expectancy.py, case A.
        assert!((r.value.unwrap() - 80.169608131948394).abs() < 1e-9, "{:?}", r.value);
        assert_eq!(r.by_age.len(), 20);
        assert_eq!((r.by_age[13].start_age, r.by_age[19].start_age), (60, 90));
        assert!((r.by_age[13].value.unwrap() - 22.971914398304057).abs() < 1e-9);
        let limits = r.limits.unwrap();
        assert!((limits.lower_95.unwrap() - 79.882690753927054).abs() < 1e-9);
        assert!((limits.upper_99_8.unwrap() - 80.621984480573279).abs() < 1e-9);
        assert_eq!((r.numerator, r.denominator.map(f64::round)), (Some(9357.0), Some(787_954.0)));
        assert_eq!(r.method.unwrap().method, StatisticalMethod::LifeExpectancy as i32);
    }

    #[test]
    // Worked values are quoted with every digit the reference script printed.
    #[allow(clippy::excessive_precision)]
    fn healthy_life_expectancy_needs_each_bands_health_and_a_life_table_needs_twenty_bands() {
        let r = compute_statistics(&life_table(ValueType::HealthyLifeExpectancy, Some(0.8))).unwrap();
        assert_eq!(r.method.unwrap().method, StatisticalMethod::HealthyLifeExpectancy as i32);
        assert!((r.value.unwrap() - 0.8 * 80.169608131948394).abs() < 1e-9, "a constant share of healthy years");
        let e = compute_statistics(&life_table(ValueType::HealthyLifeExpectancy, None)).unwrap_err();
        assert_eq!(
            fields(&e)[..2],
            [("life_table.bands[0].healthy_proportion", "REQUIRED"), ("life_table.bands[0].sample_size", "REQUIRED")]
        );
        let mut short = life_table(ValueType::LifeExpectancy, None);
        if let Some(compute_statistics_request::Input::LifeTable(t)) = &mut short.input {
            t.bands.pop();
        }
        let e = compute_statistics(&short).unwrap_err();
        assert_eq!(fields(&e), [("life_table.bands", "WRONG_LENGTH")]);
        let mut negative = life_table(ValueType::LifeExpectancy, None);
        if let Some(compute_statistics_request::Input::LifeTable(t)) = &mut negative.input {
            t.bands[4].population = f64::NAN;
        }
        let e = compute_statistics(&negative).unwrap_err();
        assert_eq!(fields(&e), [("life_table.bands[4].population", "NOT_FINITE")]);
    }

    #[test]
    fn a_small_life_table_is_suppressed_with_its_reason() {
        let mut small = life_table(ValueType::LifeExpectancy, None);
        if let Some(compute_statistics_request::Input::LifeTable(t)) = &mut small.input {
            for band in &mut t.bands {
                band.population = (band.population / 200.0).round();
                band.deaths = (band.deaths / 200.0).floor();
            }
        }
        let r = compute_statistics(&small).unwrap();
        assert!(r.suppressed && r.value.is_none() && r.limits.is_none() && r.by_age.is_empty());
        assert_eq!(r.suppression_reason, StatisticSuppressionReason::SmallPopulation as i32);
    }
}
