//! Means with Student's t limits.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::confidence::{ConfidenceLevel, Interval};
use crate::error::{Expected, Field, Result, StatisticsError, finite};
use crate::estimate::Estimate;
use crate::method;

/// Returns the mean of `values` with limits mean ∓ t(k−1)·s/√k, s the sample SD (divisor k − 1).
///
/// A single value has no spread to estimate, so its interval is `None` rather than an error.
pub fn mean(values: &[f64], confidence: ConfidenceLevel) -> Result<Estimate> {
    if values.is_empty() {
        return Err(StatisticsError::WrongLength {
            field: Field::named("values"),
            expected: Expected::AtLeast(1),
            actual: 0,
        });
    }
    for (i, &v) in values.iter().enumerate() {
        finite(Field::item("values", i), v)?;
    }
    let k = values.len() as f64;
    let mean = values.iter().sum::<f64>() / k;
    if values.len() == 1 {
        return Ok(Estimate { value: mean, interval: None, method: method::MEAN });
    }
    // Two passes (mean, then squared deviations) rather than Σx² − (Σx)²/k, which cancels
    // badly for values such as life expectancies that are large relative to their spread.
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0);
    let half_width = t_quantile(confidence, k - 1.0) * variance.sqrt() / k.sqrt();
    Ok(Estimate {
        value: mean,
        interval: Some(Interval {
            lower: mean - half_width,
            upper: mean + half_width,
            confidence,
            method: method::STUDENT_T,
        }),
        method: method::MEAN,
    })
}

fn t_quantile(confidence: ConfidenceLevel, degrees_of_freedom: f64) -> f64 {
    let t = StudentsT::new(0.0, 1.0, degrees_of_freedom)
        .expect("k − 1 ≥ 1 degrees of freedom with unit scale is a valid distribution");
    // Taken from the lower tail and negated: asking for the 1 − α/2 quantile would make
    // statrs recompute α/2 as 1 − (1 − α/2) and lose digits.
    -t.inverse_cdf(confidence.alpha() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_close;

    const C95: ConfidenceLevel = ConfidenceLevel::NINETY_FIVE;
    const C998: ConfidenceLevel = ConfidenceLevel::NINETY_NINE_POINT_EIGHT;

    #[test]
    fn student_t_limits_match_worked_values_to_1e_9() {
        // reference/counts_wilson_mean.py, mpmath at 50 digits: mean and sample SD of the
        // decimal values, t from inverting the regularised incomplete beta form of Student's t
        // CDF (scipy's t.ppf agrees).
        let cases: &[(&[f64], f64, f64, f64, f64)] = &[
            (&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95, 3.0, 1.0367568385224423, 4.9632431614775577),
            (&[1.0, 2.0, 3.0, 4.0, 5.0], 0.998, 3.0, -2.0722057902948421, 8.0722057902948421),
            (&[12.5, 13.1, 11.8], 0.95, 12.466666666666667, 10.850385542491583, 14.08294779084175),
            (&[12.5, 13.1, 11.8], 0.998, 12.466666666666667, 4.0795360777780791, 20.853797255555254),
            (
                &[70.2, 81.4, 77.7, 79.9, 82.3, 75.0, 80.1, 78.8, 76.4, 79.0],
                0.95,
                78.08,
                75.554926351889724,
                80.605073648110276,
            ),
            (
                &[70.2, 81.4, 77.7, 79.9, 82.3, 75.0, 80.1, 78.8, 76.4, 79.0],
                0.998,
                78.08,
                73.283803286333305,
                82.876196713666695,
            ),
            (&[5.0, 5.5], 0.95, 5.25, 2.0734488159563238, 8.4265511840436762),
            (&[5.0, 5.5], 0.998, 5.25, -74.327209746387611, 84.827209746387611),
        ];
        for &(values, c, value, lower, upper) in cases {
            let m = mean(values, ConfidenceLevel::new(c).unwrap()).unwrap();
            let i = m.interval.unwrap();
            assert_close(m.value, value, 1e-12);
            assert_close(i.lower, lower, 1e-9);
            assert_close(i.upper, upper, 1e-9);
            assert_eq!(i.method, method::STUDENT_T);
        }
    }

    #[test]
    fn one_value_has_no_limits_and_none_is_an_error() {
        let one = mean(&[81.2], C95).unwrap();
        assert_eq!((one.value, one.interval), (81.2, None));
        assert_eq!(mean(&[], C95).unwrap_err().to_string(), "values has 0 items but at least 1 are required");
        assert_eq!(mean(&[1.0, f64::NAN], C95).unwrap_err().to_string(), "values[1] is not a finite number");
    }

    #[test]
    fn limits_bracket_the_mean_and_nest_across_levels() {
        for k in 2..40 {
            let values: Vec<f64> = (0..k).map(|i| ((i * 7919) % 23) as f64 * 0.37 + 50.0).collect();
            let narrow = mean(&values, C95).unwrap();
            let wide = mean(&values, C998).unwrap();
            let (n, w) = (narrow.interval.unwrap(), wide.interval.unwrap());
            assert!(w.lower <= n.lower && n.lower <= narrow.value && narrow.value <= n.upper);
            assert!(n.upper <= w.upper, "k={k}");
        }
    }
}
