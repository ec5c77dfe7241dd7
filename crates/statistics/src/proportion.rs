//! Proportions with Wilson score limits.

use crate::confidence::{ConfidenceLevel, Interval};
use crate::error::{Field, Result, StatisticsError, non_negative, positive};
use crate::estimate::{Count, Estimate, Scale};
use crate::method;

/// Returns the proportion x ÷ n with Wilson score limits (no continuity correction), scaled.
///
/// x = 0 gives a lower limit of exactly 0 and x = n an upper limit of exactly 1 (times the
/// scale): the formula reaches those values only up to rounding, and published tables show
/// them exact.
pub fn proportion(numerator: f64, denominator: f64, scale: Scale, confidence: ConfidenceLevel) -> Result<Estimate> {
    validate(Count::new(numerator, denominator), None)?;
    Ok(proportion_unchecked(numerator, denominator, scale, confidence))
}

/// Returns an error unless 0 ≤ x ≤ n and n > 0; `index` names the list position, if any.
pub(crate) fn validate(count: Count, index: Option<usize>) -> Result<()> {
    let field = |name| Field { name, index };
    let x = non_negative(field("numerator"), count.numerator)?;
    let n = positive(field("denominator"), count.denominator)?;
    if x > n {
        return Err(StatisticsError::NumeratorExceedsDenominator {
            field: field("numerator"),
            numerator: x,
            denominator: n,
        });
    }
    Ok(())
}

pub(crate) fn proportion_unchecked(x: f64, n: f64, scale: Scale, confidence: ConfidenceLevel) -> Estimate {
    let (lower, upper) = wilson(x, n, confidence.z());
    let multiplier = scale.multiplier();
    Estimate {
        value: x / n * multiplier,
        interval: Some(Interval { lower, upper, confidence, method: method::WILSON }.scaled(multiplier)),
        method: method::PROPORTION,
    }
}

fn wilson(x: f64, n: f64, z: f64) -> (f64, f64) {
    let z2 = z * z;
    let centre = 2.0 * x + z2;
    let spread = z * (z2 + 4.0 * x * (1.0 - x / n)).sqrt();
    let denominator = 2.0 * (n + z2);
    let lower = if x == 0.0 { 0.0 } else { (centre - spread) / denominator };
    let upper = if x == n { 1.0 } else { (centre + spread) / denominator };
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_close;

    const C95: ConfidenceLevel = ConfidenceLevel::NINETY_FIVE;
    const C998: ConfidenceLevel = ConfidenceLevel::NINETY_NINE_POINT_EIGHT;

    // Worked values (reference/counts_wilson_mean.py): the Wilson formula in mpmath at
    // 50 digits with z = √2·erfinv(c).
    // (x, n, confidence, lower, upper) as fractions.
    const WORKED: &[(f64, f64, f64, f64, f64)] = &[
        (0.0, 10.0, 0.95, 0.0, 0.27753279986288925),
        (1.0, 10.0, 0.95, 0.017876213095072904, 0.4041500267952385),
        (5.0, 10.0, 0.95, 0.23659309051256398, 0.76340690948743602),
        (10.0, 10.0, 0.95, 0.72246720013711075, 1.0),
        (65.0, 100.0, 0.95, 0.5525444329688796, 0.73635751756902469),
        (12345.0, 67890.0, 0.95, 0.17895489704038055, 0.18475764195033372),
        (0.0, 10.0, 0.998, 0.0, 0.48847890045346229),
        (65.0, 100.0, 0.998, 0.49549465740704473, 0.77835406140896857),
        (12345.0, 67890.0, 0.998, 0.1773085457657874, 0.18645748367918591),
    ];

    #[test]
    fn wilson_matches_worked_values_to_1e_9() {
        for &(x, n, c, lower, upper) in WORKED {
            let level = ConfidenceLevel::new(c).unwrap();
            for scale in [Scale::Unit, Scale::Hundred] {
                let m = scale.multiplier();
                let p = proportion(x, n, scale, level).unwrap();
                let interval = p.interval.unwrap();
                assert_close(p.value, x / n * m, 1e-15);
                if lower == 0.0 {
                    assert_eq!(interval.lower, 0.0);
                } else {
                    assert_close(interval.lower, lower * m, 1e-9);
                }
                assert_close(interval.upper, upper * m, 1e-9);
                assert_eq!(interval.method, method::WILSON);
            }
        }
    }

    #[test]
    fn all_or_nothing_proportions_hit_the_bounds_exactly() {
        let none = proportion(0.0, 37.0, Scale::Hundred, C95).unwrap().interval.unwrap();
        assert_eq!(none.lower, 0.0);
        let all = proportion(37.0, 37.0, Scale::Hundred, C998).unwrap().interval.unwrap();
        assert_eq!(all.upper, 100.0);
        let all = proportion(3.0, 3.0, Scale::Unit, C95).unwrap().interval.unwrap();
        assert_eq!(all.upper, 1.0);
    }

    #[test]
    fn bad_inputs_are_rejected_by_name() {
        let msg = |x, n| proportion(x, n, Scale::Unit, C95).unwrap_err().to_string();
        assert_eq!(msg(-1.0, 10.0), "numerator -1 is negative");
        assert_eq!(msg(12.0, 10.0), "numerator 12 exceeds denominator 10");
        assert_eq!(msg(0.0, 0.0), "denominator 0 is not positive");
        assert_eq!(msg(1.0, -5.0), "denominator -5 is not positive");
        assert_eq!(msg(f64::NAN, 5.0), "numerator is not a finite number");
    }

    #[test]
    fn limits_bracket_the_value_and_the_wider_level_contains_the_narrower() {
        for n in [1.0, 2.0, 7.0, 50.0, 999.0, 123_456.0] {
            let steps = 40.0_f64.min(n);
            for i in 0..=(steps as usize) {
                let x = (n * i as f64 / steps).round();
                let narrow = proportion(x, n, Scale::Unit, C95).unwrap();
                let wide = proportion(x, n, Scale::Unit, C998).unwrap();
                let (ni, wi) = (narrow.interval.unwrap(), wide.interval.unwrap());
                assert!(0.0 <= wi.lower && wi.lower <= ni.lower, "x={x} n={n}");
                assert!(ni.lower <= narrow.value && narrow.value <= ni.upper, "x={x} n={n}");
                assert!(ni.upper <= wi.upper && wi.upper <= 1.0, "x={x} n={n}");
            }
        }
    }
}
