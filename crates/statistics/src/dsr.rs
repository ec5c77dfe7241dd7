//! Directly standardised rates with Dobson's limits.

use crate::confidence::{ConfidenceLevel, Interval};
use crate::counts::byar_interval;
use crate::error::{Expected, Field, Result, StatisticsError, non_negative, positive};
use crate::estimate::{Count, Estimate};
use crate::method;

/// The European Standard Population 2013, in 19 five-year bands 0–4, 5–9, …, 85–89 and 90+.
pub const EUROPEAN_STANDARD_POPULATION_2013: [f64; 19] = [
    5000.0, 5500.0, 5500.0, 5500.0, 6000.0, 6000.0, 6500.0, 7000.0, 7000.0, 7000.0, 7000.0, 6500.0, 6000.0, 5500.0,
    5000.0, 4000.0, 2500.0, 1500.0, 1000.0,
];

/// A DSR's total count must reach this for a value to be published.
pub const DSR_MINIMUM_COUNT: f64 = 10.0;

/// A standard population: the weight wᵢ of each standardisation band.
#[derive(Clone, Debug, PartialEq)]
pub struct StandardPopulation {
    weights: Vec<f64>,
}

impl StandardPopulation {
    /// Returns the European Standard Population 2013 (19 bands, total 100,000).
    pub fn european_2013() -> Self {
        Self { weights: EUROPEAN_STANDARD_POPULATION_2013.to_vec() }
    }

    /// Returns a standard population from band weights, each zero or more with a positive total.
    pub fn new(weights: Vec<f64>) -> Result<Self> {
        if weights.is_empty() {
            return Err(StatisticsError::WrongLength {
                field: Field::named("weights"),
                expected: Expected::AtLeast(1),
                actual: 0,
            });
        }
        for (i, &w) in weights.iter().enumerate() {
            non_negative(Field::item("weights", i), w)?;
        }
        positive(Field::named("total weight"), weights.iter().sum())?;
        Ok(Self { weights })
    }

    /// Returns the band weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

/// Returns the outcome of a DSR: a value with limits, or suppression for a small total count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dsr {
    /// Returns the DSR and its Dobson limits, with the total count O they rest on.
    Calculated {
        /// The DSR with its limits.
        estimate: Estimate,
        /// The total count O = Σxᵢ.
        observed: f64,
    },
    /// Returns no value because O < 10: the method's rule, not a fault in the input.
    SuppressedSmallCount {
        /// The total count O = Σxᵢ.
        observed: f64,
    },
}

impl Dsr {
    /// Returns the estimate when one was calculated.
    pub fn estimate(&self) -> Option<&Estimate> {
        match self {
            Self::Calculated { estimate, .. } => Some(estimate),
            Self::SuppressedSmallCount { .. } => None,
        }
    }

    /// Returns the total count O = Σxᵢ.
    pub fn observed(&self) -> f64 {
        match *self {
            Self::Calculated { observed, .. } | Self::SuppressedSmallCount { observed } => observed,
        }
    }
}

/// Returns the directly standardised rate of `bands` (count xᵢ, population nᵢ), Dobson's limits.
///
/// DSR = multiplier·Σ(xᵢwᵢ/nᵢ)/W and V = Σxᵢ(wᵢ/nᵢ)²/W², W = Σwᵢ; limits are
/// DSR + multiplier·√(V/O)·(Byar(O) − O), always from Byar's limits of O (never exact, as
/// Dobson's method approximates the DSR by a weighted Poisson count). Every band needs
/// nᵢ > 0, even with xᵢ = 0: a band with no population has no rate to weight, so callers
/// must merge it into a neighbour rather than have it silently dropped.
pub fn directly_standardised_rate(
    bands: &[Count],
    standard: &StandardPopulation,
    multiplier: f64,
    confidence: ConfidenceLevel,
) -> Result<Dsr> {
    let weights = standard.weights();
    if bands.len() != weights.len() {
        return Err(StatisticsError::WrongLength {
            field: Field::named("bands"),
            expected: Expected::Exactly(weights.len()),
            actual: bands.len(),
        });
    }
    let multiplier = positive(Field::named("multiplier"), multiplier)?;
    let total_weight: f64 = weights.iter().sum();
    let (mut observed, mut weighted_rate, mut weighted_variance) = (0.0, 0.0, 0.0);
    for (i, (band, &w)) in bands.iter().zip(weights).enumerate() {
        let x = non_negative(Field::item("numerator", i), band.numerator)?;
        let n = positive(Field::item("denominator", i), band.denominator)?;
        observed += x;
        weighted_rate += x * w / n;
        weighted_variance += x * (w / n).powi(2);
    }
    if observed < DSR_MINIMUM_COUNT {
        return Ok(Dsr::SuppressedSmallCount { observed });
    }
    let value = multiplier * weighted_rate / total_weight;
    let variance = weighted_variance / total_weight.powi(2);
    let byar = byar_interval(observed, confidence);
    let spread = multiplier * (variance / observed).sqrt();
    Ok(Dsr::Calculated {
        estimate: Estimate {
            value,
            interval: Some(Interval {
                lower: value + spread * (byar.lower - observed),
                upper: value + spread * (byar.upper - observed),
                confidence,
                method: method::DSR_DOBSON,
            }),
            method: method::DSR_DOBSON,
        },
        observed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::DEFAULT_RATE_MULTIPLIER;
    use crate::test_support::assert_close;

    const C95: ConfidenceLevel = ConfidenceLevel::NINETY_FIVE;
    const C998: ConfidenceLevel = ConfidenceLevel::NINETY_NINE_POINT_EIGHT;

    const POPULATION: [f64; 19] = [
        5100.0, 5300.0, 5400.0, 5600.0, 5900.0, 6200.0, 6400.0, 6900.0, 7100.0, 7000.0, 6900.0, 6700.0, 6300.0, 5600.0,
        4900.0, 3900.0, 2600.0, 1500.0, 700.0,
    ];

    fn bands(counts: &[f64]) -> Vec<Count> {
        counts.iter().zip(POPULATION).map(|(&x, n)| Count::new(x, n)).collect()
    }

    fn calculated(dsr: Dsr) -> (f64, Interval) {
        let e = dsr.estimate().copied().expect("calculated");
        (e.value, e.interval.unwrap())
    }

    // Worked values: Dobson's formulas evaluated in mpmath at 50 digits with Byar's limits
    // from z = √2·erfinv(c) (script reference/dsr.py).
    // (value, lower95, upper95, lower998, upper998)
    #[test]
    fn esp2013_dsr_matches_worked_values_to_1e_9() {
        let counts =
            [0.0, 1.0, 0.0, 1.0, 2.0, 1.0, 3.0, 4.0, 6.0, 9.0, 14.0, 22.0, 31.0, 45.0, 60.0, 81.0, 95.0, 110.0, 88.0];
        let esp = StandardPopulation::european_2013();
        let run = |c| directly_standardised_rate(&bands(&counts), &esp, DEFAULT_RATE_MULTIPLIER, c);
        let (value, i95) = calculated(run(C95).unwrap());
        let (_, i998) = calculated(run(C998).unwrap());
        assert_close(value, 607.6701305803406, 1e-12);
        assert_close(i95.lower, 558.38462060370986, 1e-9);
        assert_close(i95.upper, 660.10266058664716, 1e-9);
        assert_close(i998.lower, 531.38774587848323, 1e-9);
        assert_close(i998.upper, 691.20449330763225, 1e-9);
        assert_eq!(run(C95).unwrap().observed(), 573.0);
    }

    #[test]
    fn total_of_exactly_ten_is_calculated_and_nine_is_suppressed() {
        let esp = StandardPopulation::european_2013();
        let ten = [0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 1., 1., 1., 1., 1., 1., 1., 1., 2.];
        let (value, i95) =
            calculated(directly_standardised_rate(&bands(&ten), &esp, DEFAULT_RATE_MULTIPLIER, C95).unwrap());
        assert_close(value, 10.783896324465992, 1e-12);
        assert_close(i95.lower, 5.0877976046964225, 1e-9);
        assert_close(i95.upper, 19.953798931124866, 1e-9);
        let (_, i998) =
            calculated(directly_standardised_rate(&bands(&ten), &esp, DEFAULT_RATE_MULTIPLIER, C998).unwrap());
        assert_close(i998.lower, 3.043088241821118, 1e-9);
        assert_close(i998.upper, 26.294319640513267, 1e-9);

        let mut nine = ten;
        nine[18] = 1.0;
        let dsr = directly_standardised_rate(&bands(&nine), &esp, DEFAULT_RATE_MULTIPLIER, C95);
        assert_eq!(dsr.unwrap(), Dsr::SuppressedSmallCount { observed: 9.0 });
        let zero = directly_standardised_rate(&bands(&[0.0; 19]), &esp, 1.0, C95).unwrap();
        assert_eq!(zero.estimate(), None);
    }

    #[test]
    fn any_standard_population_is_accepted() {
        // Three bands, weights 30/50/20, per 1,000 (reference/dsr.py case C).
        let standard = StandardPopulation::new(vec![30.0, 50.0, 20.0]).unwrap();
        let counts = [Count::new(12.0, 4000.0), Count::new(30.0, 3000.0), Count::new(58.0, 1500.0)];
        let (value, i95) = calculated(directly_standardised_rate(&counts, &standard, 1000.0, C95).unwrap());
        assert_close(value, 13.633333333333333, 1e-12);
        assert_close(i95.lower, 11.042770287394123, 1e-9);
        assert_close(i95.upper, 16.639495634772344, 1e-9);
        let (_, i998) = calculated(directly_standardised_rate(&counts, &standard, 1000.0, C998).unwrap());
        assert_close(i998.lower, 9.7281037203436649, 1e-9);
        assert_close(i998.upper, 18.490301226492633, 1e-9);
    }

    #[test]
    fn mismatched_or_bad_bands_are_errors_naming_the_band() {
        let esp = StandardPopulation::european_2013();
        let short = bands(&[5.0; 18]);
        assert_eq!(
            directly_standardised_rate(&short[..18], &esp, 1.0, C95).unwrap_err().to_string(),
            "bands has 18 items but exactly 19 are required"
        );
        let mut bad = bands(&[5.0; 19]);
        bad[3].denominator = 0.0;
        assert_eq!(
            directly_standardised_rate(&bad, &esp, 1.0, C95).unwrap_err().to_string(),
            "denominator[3] 0 is not positive"
        );
        bad[3] = Count::new(-2.0, 10.0);
        assert_eq!(
            directly_standardised_rate(&bad, &esp, 1.0, C95).unwrap_err().to_string(),
            "numerator[3] -2 is negative"
        );
        assert!(StandardPopulation::new(vec![]).is_err());
        assert!(StandardPopulation::new(vec![0.0, 0.0]).is_err());
        assert!(StandardPopulation::new(vec![1.0, -1.0]).is_err());
    }

    #[test]
    fn dobson_limits_bracket_the_dsr_and_nest_across_levels() {
        let esp = StandardPopulation::european_2013();
        for scale in [0.02, 0.1, 0.5, 1.0, 3.0, 10.0, 100.0] {
            let counts: Vec<f64> = (0..19).map(|i| (f64::from(i) * scale).round()).collect();
            if counts.iter().sum::<f64>() < DSR_MINIMUM_COUNT {
                continue;
            }
            let (v, n) = calculated(directly_standardised_rate(&bands(&counts), &esp, 1e5, C95).unwrap());
            let (_, w) = calculated(directly_standardised_rate(&bands(&counts), &esp, 1e5, C998).unwrap());
            assert!(w.lower < n.lower && n.lower < v && v < n.upper && n.upper < w.upper);
        }
    }
}
