//! Confidence levels, their z values and the interval type every estimate reports.

use statrs::function::erf::erfc_inv;

use crate::error::{Field, Result, StatisticsError};

/// A two-sided confidence level such as 95% or 99.8%.
///
/// Limited to 50%–99.99% so that Byar's lower limit stays positive for every count of 10 or
/// more (it turns negative only past z ≈ 9.4), which lets rates and DSRs always report one.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct ConfidenceLevel(f64);

impl ConfidenceLevel {
    /// The 95% level used for everyday intervals.
    pub const NINETY_FIVE: Self = Self(0.95);
    /// The 99.8% level used for "much better/worse" and for trends.
    pub const NINETY_NINE_POINT_EIGHT: Self = Self(0.998);
    /// The smallest level accepted.
    pub const MINIMUM: f64 = 0.5;
    /// The largest level accepted.
    pub const MAXIMUM: f64 = 0.9999;

    /// Returns the level for a confidence given as a fraction (0.95, not 95).
    pub fn new(confidence: f64) -> Result<Self> {
        if !confidence.is_finite() {
            return Err(StatisticsError::NotFinite { field: Field::named("confidence") });
        }
        if !(Self::MINIMUM..=Self::MAXIMUM).contains(&confidence) {
            return Err(StatisticsError::OutOfRange {
                field: Field::named("confidence"),
                value: confidence,
                minimum: Self::MINIMUM,
                maximum: Self::MAXIMUM,
            });
        }
        Ok(Self(confidence))
    }

    /// Returns the level as a fraction, e.g. 0.95.
    pub fn value(self) -> f64 {
        self.0
    }

    /// Returns α = 1 − confidence, the total probability outside the interval.
    pub fn alpha(self) -> f64 {
        1.0 - self.0
    }

    /// Returns z = Φ⁻¹(1 − α/2) at full double precision (1.959963984540054 at 95%).
    pub fn z(self) -> f64 {
        // Φ⁻¹(1 − α/2) = √2·erfc⁻¹(α): working from α avoids forming 1 − α/2, which would
        // throw away the low-order bits that the 1e-9 agreement with published values needs.
        std::f64::consts::SQRT_2 * erfc_inv(self.alpha())
    }
}

/// A confidence interval, with the level and method that produced it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Returns the lower limit.
    pub lower: f64,
    /// Returns the upper limit.
    pub upper: f64,
    /// Returns the confidence level of the limits.
    pub confidence: ConfidenceLevel,
    /// Returns the version string of the method behind the limits, e.g. `wilson/1`.
    pub method: &'static str,
}

impl Interval {
    /// Returns whether `value` lies inside the interval, limits included.
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }

    /// Returns the interval with both limits multiplied by a positive `factor`.
    pub(crate) fn scaled(self, factor: f64) -> Self {
        Self { lower: self.lower * factor, upper: self.upper * factor, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_values_match_the_published_full_precision_constants() {
        // METHODS.md quotes these (from R's qnorm(0.975) and qnorm(0.999)).
        let z95 = ConfidenceLevel::NINETY_FIVE.z();
        let z998 = ConfidenceLevel::NINETY_NINE_POINT_EIGHT.z();
        assert!((z95 - 1.959963984540054).abs() < 1e-15, "{z95}");
        assert!((z998 - 3.090232306167813).abs() < 1e-15, "{z998}");
    }

    #[test]
    fn z_matches_scipy_for_other_levels() {
        // scipy.stats.norm.ppf(1 - (1 - c)/2) for c = 0.5, 0.9, 0.99, 0.9999.
        let cases = [
            (0.5, 0.6744897501960817),
            (0.9, 1.6448536269514722),
            (0.99, 2.5758293035489004),
            (0.9999, 3.8905918864131204),
        ];
        for (c, expected) in cases {
            let z = ConfidenceLevel::new(c).unwrap().z();
            assert!(((z - expected) / expected).abs() < 1e-12, "{c}: {z}");
        }
    }

    #[test]
    fn rejects_levels_outside_the_supported_range() {
        for bad in [0.0, 0.49, 1.0, 95.0, f64::NAN] {
            assert!(ConfidenceLevel::new(bad).is_err(), "{bad}");
        }
        assert_eq!(ConfidenceLevel::new(1.0).unwrap_err().to_string(), "confidence 1 is outside 0.5 to 0.9999");
    }
}
