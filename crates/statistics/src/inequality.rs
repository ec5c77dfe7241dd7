//! Inequality across ordered groups (deprivation deciles or quintiles, or any other ordered
//! breakdown): the slope and relative indices of inequality with simulated limits, the gap
//! between the ends, and Core20 against the rest.

mod simulation;

use crate::confidence::{ConfidenceLevel, Interval};
use crate::error::{Expected, Field, Result, StatisticsError, finite, non_negative, positive};
use crate::estimate::{Count, Estimate, Scale};
use crate::method;

/// The fewest groups the SII accepts.
pub const MINIMUM_GROUPS: usize = 5;
/// The most groups the SII accepts.
pub const MAXIMUM_GROUPS: usize = 100;
/// The number of simulated draws used unless the caller asks otherwise.
pub const DEFAULT_DRAWS: usize = 100_000;
/// The fewest draws accepted: below this the 99.8% order statistics rest on one or two draws.
pub const MINIMUM_DRAWS: usize = 1_000;
/// The seed used unless the caller asks otherwise, so the same data always gives the same limits.
pub const DEFAULT_SEED: u64 = 2013;

/// The scale the SII regression is fitted on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InequalityScale {
    /// Returns the scale for fitting values as they are (any indicator).
    #[default]
    Identity,
    /// Returns the scale for fitting log values (rates; values and limits must be positive).
    Log,
    /// Returns the scale for fitting logit values (proportions as fractions strictly inside 0–1).
    Logit,
}

impl InequalityScale {
    fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Log => "log",
            Self::Logit => "logit",
        }
    }

    /// Returns h(v), the value on this scale.
    fn forward(self, v: f64) -> f64 {
        match self {
            Self::Identity => v,
            Self::Log => v.ln(),
            Self::Logit => (v / (1.0 - v)).ln(),
        }
    }

    /// Returns h⁻¹(y), the value back on the original scale.
    fn inverse(self, y: f64) -> f64 {
        match self {
            Self::Identity => y,
            Self::Log => y.exp(),
            Self::Logit => 1.0 / (1.0 + (-y).exp()),
        }
    }

    /// Returns (SII before the multiplier, RII) from the fitted intercept A and slope B.
    fn indices(self, a: f64, b: f64) -> (f64, f64) {
        match self {
            Self::Identity => (b, (a + b) / a),
            Self::Log | Self::Logit => {
                let (start, end) = (self.inverse(a), self.inverse(a + b));
                (end - start, end / start)
            }
        }
    }

    fn check(self, field: Field, v: f64) -> Result<f64> {
        finite(field, v)?;
        match self {
            Self::Identity => Ok(v),
            Self::Log => positive(field, v),
            Self::Logit if v > 0.0 && v < 1.0 => Ok(v),
            Self::Logit => Err(StatisticsError::OutOfRange { field, value: v, minimum: 0.0, maximum: 1.0 }),
        }
    }
}

/// How a group's uncertainty is given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Spread {
    /// Returns a standard error of the value (identity scale only).
    StandardError(f64),
    /// Returns the value's 95% limits, from which the standard error on the fitted scale is
    /// (h(upper) − h(lower)) / (2·z₉₅).
    Limits95 {
        /// The lower 95% limit.
        lower: f64,
        /// The upper 95% limit.
        upper: f64,
    },
}

/// One ordered group: its population, value and uncertainty.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InequalityGroup {
    /// Returns the group's population Pq, which sets its share of the population rank.
    pub population: f64,
    /// Returns the group's value vq, unmultiplied (a proportion as a fraction, a rate per person).
    pub value: f64,
    /// Returns the group's uncertainty.
    pub spread: Spread,
}

/// Settings for [`slope_index_of_inequality`].
#[derive(Clone, Debug, PartialEq)]
pub struct SiiOptions {
    /// Returns the scale to fit on.
    pub scale: InequalityScale,
    /// Returns the positive multiplier of the SII and the absolute gap (e.g. 100 for percentages).
    pub multiplier: f64,
    /// Returns the confidence levels to report limits at; all come from the same draws.
    pub confidence_levels: Vec<ConfidenceLevel>,
    /// Returns the number of simulated draws.
    pub draws: usize,
    /// Returns the seed of the simulation's random number generator.
    pub seed: u64,
}

impl Default for SiiOptions {
    fn default() -> Self {
        Self {
            scale: InequalityScale::Identity,
            multiplier: 1.0,
            confidence_levels: vec![ConfidenceLevel::NINETY_FIVE],
            draws: DEFAULT_DRAWS,
            seed: DEFAULT_SEED,
        }
    }
}

/// The SII and RII limits at one confidence level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InequalityInterval {
    /// Returns the SII's limits.
    pub sii: Interval,
    /// Returns the RII's limits.
    pub rii: Interval,
}

/// The inequality across a set of ordered groups.
#[derive(Clone, Debug, PartialEq)]
pub struct Inequality {
    /// Returns the slope index of inequality: the modelled change from the start of the order
    /// (rank 0) to its end (rank 1), times the multiplier.
    pub sii: f64,
    /// Returns the relative index of inequality: the modelled value at rank 1 over that at rank 0.
    pub rii: f64,
    /// Returns the fitted intercept A (the value at rank 0), on the fitted scale.
    pub intercept: f64,
    /// Returns the fitted slope B, on the fitted scale.
    pub slope: f64,
    /// Returns the simulated limits, one per requested confidence level, in the order requested.
    pub intervals: Vec<InequalityInterval>,
    /// Returns the absolute gap: first group's value minus last group's, times the multiplier.
    pub absolute_gap: f64,
    /// Returns the relative gap: first group's value over the last's, or `None` when the last is 0.
    pub relative_gap: Option<f64>,
    /// Returns the scale the regression was fitted on.
    pub scale: InequalityScale,
    /// Returns the number of simulated draws.
    pub draws: usize,
    /// Returns the seed the draws came from.
    pub seed: u64,
    /// Returns the version string of the method.
    pub method: &'static str,
}

/// Returns the SII and RII of `groups`, with simulated limits, and the gap between the end groups.
///
/// Groups are given in their order, most deprived first for deprivation, so the population
/// rank b runs from 0 at the first group to 1 at the last: aq = Pq/ΣP and bq is the
/// cumulative share before q plus aq/2. The fit, by least squares without a free intercept,
/// regresses √aq·h(vq) on √aq and bq·√aq, giving A and B. On the identity scale
/// SII = multiplier·B and RII = (A + B)/A; on the log or logit scale A′ = h⁻¹(A),
/// B′ = h⁻¹(A + B), SII = multiplier·(B′ − A′) and RII = B′/A′.
///
/// Limits: each draw redraws every group from Normal(h(vq), seq), refits and recomputes the
/// SII and RII; the limits at level c are the order statistics at positions
/// round(draws·α/2) and round(draws·(1 − α/2)) (1-based, halves to even as R rounds) of the
/// sorted draws.
pub fn slope_index_of_inequality(groups: &[InequalityGroup], options: &SiiOptions) -> Result<Inequality> {
    let k = groups.len();
    if !(MINIMUM_GROUPS..=MAXIMUM_GROUPS).contains(&k) {
        return Err(StatisticsError::WrongLength {
            field: Field::named("groups"),
            expected: Expected::Between(MINIMUM_GROUPS, MAXIMUM_GROUPS),
            actual: k,
        });
    }
    let multiplier = positive(Field::named("multiplier"), options.multiplier)?;
    if options.draws < MINIMUM_DRAWS {
        return Err(StatisticsError::OutOfRange {
            field: Field::named("draws"),
            value: options.draws as f64,
            minimum: MINIMUM_DRAWS as f64,
            maximum: f64::INFINITY,
        });
    }
    let scale = options.scale;
    let z95 = ConfidenceLevel::NINETY_FIVE.z();
    let mut fitted = Vec::with_capacity(k);
    let mut standard_errors = Vec::with_capacity(k);
    let mut populations = Vec::with_capacity(k);
    for (i, group) in groups.iter().enumerate() {
        populations.push(positive(Field::item("population", i), group.population)?);
        let value = scale.check(Field::item("value", i), group.value)?;
        fitted.push(scale.forward(value));
        let se = match group.spread {
            Spread::StandardError(se) if scale == InequalityScale::Identity => {
                non_negative(Field::item("standard_error", i), se)?
            }
            Spread::StandardError(_) => {
                return Err(StatisticsError::LimitsRequiredForScale {
                    field: Field::item("groups", i),
                    scale: scale.name(),
                });
            }
            Spread::Limits95 { lower, upper } => {
                let lower = scale.check(Field::item("lower95", i), lower)?;
                let upper = scale.check(Field::item("upper95", i), upper)?;
                if lower > upper {
                    return Err(StatisticsError::LimitsReversed { field: Field::item("groups", i), lower, upper });
                }
                (scale.forward(upper) - scale.forward(lower)) / (2.0 * z95)
            }
        };
        standard_errors.push(se);
    }

    let design = Design::new(&populations);
    let (a, b) = design.fit(&fitted);
    let (sii, rii) = scale.indices(a, b);
    let intervals = simulation::intervals(&design, &fitted, &standard_errors, scale, multiplier, options);
    let (first, last) = (groups[0].value, groups[k - 1].value);
    Ok(Inequality {
        sii: multiplier * sii,
        rii,
        intercept: a,
        slope: b,
        intervals,
        absolute_gap: multiplier * (first - last),
        relative_gap: (last != 0.0).then(|| first / last),
        scale,
        draws: options.draws,
        seed: options.seed,
        method: method::SII,
    })
}

/// The regression's fixed design: the population shares and rank midpoints of the groups,
/// reduced to the two weight vectors that turn any set of fitted values into A and B.
pub(crate) struct Design {
    intercept_weights: Vec<f64>,
    slope_weights: Vec<f64>,
}

impl Design {
    fn new(populations: &[f64]) -> Self {
        let total: f64 = populations.iter().sum();
        let shares: Vec<f64> = populations.iter().map(|p| p / total).collect();
        let mut before = 0.0;
        let midpoints: Vec<f64> = shares
            .iter()
            .map(|a| {
                let b = before + a / 2.0;
                before += a;
                b
            })
            .collect();
        // Normal equations of √a·y on (√a, b·√a): XᵀX = [[Σa, Σab], [Σab, Σab²]] and
        // Xᵀ(√a·y) = [Σa·y, Σab·y]. Solving once for the weights makes each simulated refit
        // two dot products instead of a fresh least-squares solve.
        let s_a: f64 = shares.iter().sum();
        let s_ab: f64 = shares.iter().zip(&midpoints).map(|(a, b)| a * b).sum();
        let s_abb: f64 = shares.iter().zip(&midpoints).map(|(a, b)| a * b * b).sum();
        let det = s_a * s_abb - s_ab * s_ab;
        let intercept_weights = shares.iter().zip(&midpoints).map(|(a, b)| a * (s_abb - s_ab * b) / det).collect();
        let slope_weights = shares.iter().zip(&midpoints).map(|(a, b)| a * (s_a * b - s_ab) / det).collect();
        Self { intercept_weights, slope_weights }
    }

    /// Returns (A, B) for fitted values y on the regression's scale.
    fn fit(&self, y: &[f64]) -> (f64, f64) {
        let dot = |w: &[f64]| w.iter().zip(y).map(|(w, y)| w * y).sum::<f64>();
        (dot(&self.intercept_weights), dot(&self.slope_weights))
    }
}

/// How pooled Core20 and rest values are calculated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PooledMeasure {
    /// Returns pooled proportions with Wilson limits.
    Proportion(Scale),
    /// Returns pooled crude rates with count limits, at this multiplier.
    CrudeRate {
        /// The rate multiplier, e.g. 100,000.
        multiplier: f64,
    },
}

/// Core20 (deciles 1–2 pooled) against the rest (deciles 3–10 pooled).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Core20Comparison {
    /// Returns the pooled value for deciles 1 and 2.
    pub core20: Estimate,
    /// Returns the pooled value for deciles 3 to 10.
    pub rest: Estimate,
    /// Returns Core20 minus the rest.
    pub absolute_gap: f64,
    /// Returns Core20 over the rest, or `None` when the rest is 0.
    pub relative_gap: Option<f64>,
    /// Returns the version string of the method.
    pub method: &'static str,
}

/// Returns Core20 against the rest from ten deprivation deciles' counts, most deprived first.
///
/// Pooled from numerators and denominators, not averaged from decile values, so that each
/// side is the value its whole population would have.
pub fn core20_comparison(
    deciles: &[Count],
    measure: PooledMeasure,
    confidence: ConfidenceLevel,
) -> Result<Core20Comparison> {
    if deciles.len() != 10 {
        return Err(StatisticsError::WrongLength {
            field: Field::named("deciles"),
            expected: Expected::Exactly(10),
            actual: deciles.len(),
        });
    }
    let calculate = |part: &[Count]| match measure {
        PooledMeasure::Proportion(scale) => crate::grouped::pooled_proportion(part, scale, confidence),
        PooledMeasure::CrudeRate { multiplier } => crate::grouped::pooled_crude_rate(part, multiplier, confidence),
    };
    let core20 = calculate(&deciles[..2])?;
    let rest = calculate(&deciles[2..]).map_err(|e| reindex(e, 2))?;
    Ok(Core20Comparison {
        core20,
        rest,
        absolute_gap: core20.value - rest.value,
        relative_gap: (rest.value != 0.0).then(|| core20.value / rest.value),
        method: method::CORE20,
    })
}

/// Returns the error with list positions shifted back to decile positions.
fn reindex(error: StatisticsError, offset: usize) -> StatisticsError {
    let shift = |field: Field| Field { index: field.index.map(|i| i + offset), ..field };
    match error {
        StatisticsError::Negative { field, value } => StatisticsError::Negative { field: shift(field), value },
        StatisticsError::NumeratorExceedsDenominator { field, numerator, denominator } => {
            StatisticsError::NumeratorExceedsDenominator { field: shift(field), numerator, denominator }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::simulation::order_statistic_positions;
    use super::*;
    use crate::test_support::assert_close;

    const POPULATIONS: [f64; 10] =
        [52000.0, 50500.0, 49800.0, 51200.0, 50100.0, 49000.0, 48700.0, 50300.0, 51800.0, 50600.0];

    fn life_expectancy() -> Vec<InequalityGroup> {
        let values = [74.1, 75.0, 75.9, 76.6, 77.5, 78.2, 79.0, 79.6, 80.5, 81.3];
        let ses = [0.30, 0.28, 0.29, 0.27, 0.26, 0.27, 0.25, 0.26, 0.24, 0.25];
        (0..10)
            .map(|i| InequalityGroup {
                population: POPULATIONS[i],
                value: values[i],
                spread: Spread::StandardError(ses[i]),
            })
            .collect()
    }

    fn with_limits(values: [f64; 10], lower: [f64; 10], upper: [f64; 10]) -> Vec<InequalityGroup> {
        (0..10)
            .map(|i| InequalityGroup {
                population: POPULATIONS[i],
                value: values[i],
                spread: Spread::Limits95 { lower: lower[i], upper: upper[i] },
            })
            .collect()
    }

    fn mortality() -> Vec<InequalityGroup> {
        with_limits(
            [0.0123, 0.0110, 0.0101, 0.0095, 0.0088, 0.0080, 0.0074, 0.0069, 0.0061, 0.0055],
            [0.0113, 0.0101, 0.0092, 0.0086, 0.0080, 0.0072, 0.0066, 0.0062, 0.0054, 0.0048],
            [0.0134, 0.0120, 0.0111, 0.0105, 0.0097, 0.0089, 0.0083, 0.0077, 0.0069, 0.0063],
        )
    }

    fn smoking() -> Vec<InequalityGroup> {
        with_limits(
            [0.31, 0.29, 0.27, 0.25, 0.24, 0.22, 0.20, 0.19, 0.17, 0.15],
            [0.29, 0.27, 0.25, 0.23, 0.22, 0.20, 0.18, 0.17, 0.15, 0.13],
            [0.33, 0.31, 0.29, 0.27, 0.26, 0.24, 0.22, 0.21, 0.19, 0.17],
        )
    }

    fn options(scale: InequalityScale, multiplier: f64, draws: usize) -> SiiOptions {
        SiiOptions {
            scale,
            multiplier,
            confidence_levels: vec![ConfidenceLevel::NINETY_FIVE, ConfidenceLevel::NINETY_NINE_POINT_EIGHT],
            draws,
            seed: DEFAULT_SEED,
        }
    }

    // Point estimates: the weighted no-intercept regression solved by normal equations in
    // mpmath at 40 digits and by numpy.linalg.lstsq on the √a-scaled design (reference/sii.py).
    #[test]
    fn identity_sii_matches_worked_values_and_simulation_matches_theory() {
        let result =
            slope_index_of_inequality(&life_expectancy(), &options(InequalityScale::Identity, 1.0, DEFAULT_DRAWS))
                .unwrap();
        assert_close(result.intercept, 73.807137086924277, 1e-12);
        assert_close(result.slope, 7.9089401118657309, 1e-12);
        assert_close(result.sii, 7.9089401118657309, 1e-12);
        assert_close(result.rii, 1.1071568472104696, 1e-12);
        assert_close(result.absolute_gap, 74.1 - 81.3, 1e-12);
        assert_close(result.relative_gap.unwrap(), 74.1 / 81.3, 1e-12);
        // On the identity scale B is linear in the draws, so its simulated limits should sit
        // near B ∓ z·sd(B), sd(B) = √Σ(c_B,q·se_q)² = 0.29991412361174740 (reference/sii.py). With
        // 100,000 draws the 2.5% order statistic's own error is about 0.4% of the half-width.
        for (interval, z) in result.intervals.iter().zip([1.959963984540054, 3.090232306167813]) {
            let half = z * 0.2999141236117474;
            assert!((interval.sii.lower - (result.sii - half)).abs() < 0.02 * half);
            assert!((interval.sii.upper - (result.sii + half)).abs() < 0.02 * half);
            assert!(interval.rii.lower < result.rii && result.rii < interval.rii.upper);
            assert_eq!(interval.sii.method, method::SII);
        }
        let (i95, i998) = (result.intervals[0], result.intervals[1]);
        assert!(i998.sii.lower < i95.sii.lower && i95.sii.upper < i998.sii.upper);
        assert_eq!((result.draws, result.seed, result.method), (DEFAULT_DRAWS, DEFAULT_SEED, method::SII));
    }

    #[test]
    fn log_and_logit_fits_match_worked_values() {
        let log = slope_index_of_inequality(&mortality(), &options(InequalityScale::Log, 100_000.0, 20_000)).unwrap();
        assert_close(log.intercept, -4.3591907265877856, 1e-12);
        assert_close(log.slope, -0.86130295902231322, 1e-12);
        assert_close(log.sii, -738.40727797677254, 1e-10);
        assert_close(log.rii, 0.42261107851033652, 1e-12);
        assert_close(log.absolute_gap, (0.0123 - 0.0055) * 100_000.0, 1e-12);

        let logit = slope_index_of_inequality(&smoking(), &options(InequalityScale::Logit, 100.0, 20_000)).unwrap();
        assert_close(logit.intercept, -0.73286364470317711, 1e-12);
        assert_close(logit.slope, -1.0054056471972444, 1e-12);
        assert_close(logit.sii, -17.503373506872996, 1e-10);
        assert_close(logit.rii, 0.46071556309566413, 1e-12);

        for result in [log, logit] {
            let (i95, i998) = (result.intervals[0], result.intervals[1]);
            assert!(i95.sii.lower < result.sii && result.sii < i95.sii.upper);
            assert!(i95.rii.lower < result.rii && result.rii < i95.rii.upper);
            assert!(i998.sii.lower <= i95.sii.lower && i95.sii.upper <= i998.sii.upper);
            assert!(i998.rii.lower <= i95.rii.lower && i95.rii.upper <= i998.rii.upper);
        }
    }

    #[test]
    fn the_same_seed_reproduces_the_limits_and_another_seed_moves_them() {
        let opts = options(InequalityScale::Log, 1.0, 5_000);
        let first = slope_index_of_inequality(&mortality(), &opts).unwrap();
        let again = slope_index_of_inequality(&mortality(), &opts).unwrap();
        assert_eq!(first, again);
        let other = slope_index_of_inequality(&mortality(), &SiiOptions { seed: 7, ..opts }).unwrap();
        assert_ne!(first.intervals, other.intervals);
        assert_eq!(first.sii, other.sii);
    }

    #[test]
    fn order_statistics_sit_at_rounded_positions() {
        assert_eq!(order_statistic_positions(100_000, 0.05), (2_500, 97_500));
        assert_eq!(order_statistic_positions(100_000, 1.0 - 0.998), (100, 99_900));
        assert_eq!(order_statistic_positions(1_000, 1.0 - 0.998), (1, 999));
        assert_eq!(order_statistic_positions(1_020, 0.05), (26, 994)); // 25.5 → 26, 994.5 → 994
    }

    #[test]
    fn invalid_inequality_inputs_are_errors_naming_the_group() {
        let opts = options(InequalityScale::Identity, 1.0, 1_000);
        let groups = life_expectancy();
        assert_eq!(
            slope_index_of_inequality(&groups[..4], &opts).unwrap_err().to_string(),
            "groups has 4 items but between 5 and 100 are required"
        );
        let many = vec![groups[0]; 101];
        assert!(slope_index_of_inequality(&many, &opts).is_err());
        let log = options(InequalityScale::Log, 1.0, 1_000);
        assert_eq!(
            slope_index_of_inequality(&groups, &log).unwrap_err().to_string(),
            "groups[0] gives a standard error, but a log fit needs 95% limits to transform"
        );
        let mut bad = smoking();
        bad[4].spread = Spread::Limits95 { lower: 0.0, upper: 0.3 };
        assert_eq!(
            slope_index_of_inequality(&bad, &options(InequalityScale::Logit, 1.0, 1_000)).unwrap_err().to_string(),
            "lower95[4] 0 is outside 0 to 1"
        );
        let mut bad = groups.clone();
        bad[2].population = 0.0;
        assert_eq!(slope_index_of_inequality(&bad, &opts).unwrap_err().to_string(), "population[2] 0 is not positive");
        let mut bad = groups.clone();
        bad[1].spread = Spread::StandardError(-0.1);
        assert!(slope_index_of_inequality(&bad, &opts).is_err());
        let mut bad = groups.clone();
        bad[3].value = f64::NAN;
        assert_eq!(slope_index_of_inequality(&bad, &opts).unwrap_err().to_string(), "value[3] is not a finite number");
        let few = SiiOptions { draws: 999, ..opts.clone() };
        assert!(slope_index_of_inequality(&groups, &few).is_err());
        let negative = SiiOptions { multiplier: -1.0, ..opts };
        assert!(slope_index_of_inequality(&groups, &negative).is_err());
    }

    #[test]
    fn core20_pools_the_two_most_deprived_deciles_against_the_rest() {
        // Core20 pools to 65 of 100 (the Wilson worked value in proportion.rs); the rest to
        // 400 of 800 = 50% by hand.
        let mut deciles = vec![Count::new(40.0, 60.0), Count::new(25.0, 40.0)];
        deciles.extend([Count::new(50.0, 100.0); 8]);
        let c = core20_comparison(&deciles, PooledMeasure::Proportion(Scale::Hundred), ConfidenceLevel::NINETY_FIVE)
            .unwrap();
        assert_close(c.core20.value, 65.0, 1e-15);
        assert_close(c.core20.interval.unwrap().upper, 73.635751756902469, 1e-9);
        assert_close(c.rest.value, 50.0, 1e-15);
        assert_close(c.absolute_gap, 15.0, 1e-12);
        assert_close(c.relative_gap.unwrap(), 1.3, 1e-15);
        assert_eq!(c.method, method::CORE20);

        let rates =
            core20_comparison(&deciles, PooledMeasure::CrudeRate { multiplier: 1_000.0 }, ConfidenceLevel::NINETY_FIVE)
                .unwrap();
        assert_close(rates.core20.value, 650.0, 1e-12);
        assert_eq!(rates.core20.interval.unwrap().method, method::BYAR);

        assert_eq!(
            core20_comparison(&deciles[..5], PooledMeasure::Proportion(Scale::Unit), ConfidenceLevel::NINETY_FIVE)
                .unwrap_err()
                .to_string(),
            "deciles has 5 items but exactly 10 are required"
        );
        deciles[6] = Count::new(120.0, 100.0);
        assert_eq!(
            core20_comparison(&deciles, PooledMeasure::Proportion(Scale::Unit), ConfidenceLevel::NINETY_FIVE)
                .unwrap_err()
                .to_string(),
            "numerator[6] 120 exceeds denominator 100"
        );
    }
}
