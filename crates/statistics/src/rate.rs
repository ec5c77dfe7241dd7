//! Crude rates and indirectly standardised ratios and rates, all of which take their limits
//! from the observed count by the exact-below-10, Byar's-from-10 rule.

use crate::confidence::ConfidenceLevel;
use crate::counts::rule_interval;
use crate::error::{Expected, Field, Result, StatisticsError, non_negative, positive};
use crate::estimate::{Estimate, Scale};
use crate::method;

/// The usual crude-rate multiplier: a rate per 100,000 population.
pub const DEFAULT_RATE_MULTIPLIER: f64 = 100_000.0;

/// Returns the crude rate x ÷ n × multiplier, with count limits of x divided by n.
///
/// x may exceed n: a rate counts events, and a person can have several.
pub fn crude_rate(numerator: f64, denominator: f64, multiplier: f64, confidence: ConfidenceLevel) -> Result<Estimate> {
    let x = non_negative(Field::named("numerator"), numerator)?;
    let n = positive(Field::named("denominator"), denominator)?;
    let multiplier = positive(Field::named("multiplier"), multiplier)?;
    Ok(Estimate {
        value: x / n * multiplier,
        interval: Some(rule_interval(x, confidence).scaled(multiplier / n)),
        method: method::CRUDE_RATE,
    })
}

/// Returns the expected count E = Σ reference rateᵢ × nᵢ over standardisation bands.
///
/// Reference rates are per person (events ÷ population in the reference area, with no
/// multiplier), so E is in events.
pub fn expected_count(reference_rates: &[f64], populations: &[f64]) -> Result<f64> {
    if populations.len() != reference_rates.len() {
        return Err(StatisticsError::WrongLength {
            field: Field::named("populations"),
            expected: Expected::Exactly(reference_rates.len()),
            actual: populations.len(),
        });
    }
    if reference_rates.is_empty() {
        return Err(StatisticsError::WrongLength {
            field: Field::named("reference_rates"),
            expected: Expected::AtLeast(1),
            actual: 0,
        });
    }
    let mut expected = 0.0;
    for (i, (&rate, &population)) in reference_rates.iter().zip(populations).enumerate() {
        let rate = non_negative(Field::item("reference_rates", i), rate)?;
        let population = non_negative(Field::item("populations", i), population)?;
        expected += rate * population;
    }
    Ok(expected)
}

/// Returns the indirectly standardised ratio O ÷ E (times 1 or 100) with count limits of O ÷ E.
pub fn indirectly_standardised_ratio(
    observed: f64,
    expected: f64,
    scale: Scale,
    confidence: ConfidenceLevel,
) -> Result<Estimate> {
    let (o, e) = validate_observed_expected(observed, expected)?;
    let factor = scale.multiplier() / e;
    Ok(Estimate {
        value: o * factor,
        interval: Some(rule_interval(o, confidence).scaled(factor)),
        method: method::ISR_RATIO,
    })
}

/// Returns the indirectly standardised rate O ÷ E × reference crude rate, limits scaled alike.
///
/// `reference_rate` carries its own multiplier (e.g. 850 per 100,000), and the result is in
/// the same units.
pub fn indirectly_standardised_rate(
    observed: f64,
    expected: f64,
    reference_rate: f64,
    confidence: ConfidenceLevel,
) -> Result<Estimate> {
    let (o, e) = validate_observed_expected(observed, expected)?;
    let reference_rate = positive(Field::named("reference_rate"), reference_rate)?;
    let factor = reference_rate / e;
    Ok(Estimate {
        value: o * factor,
        interval: Some(rule_interval(o, confidence).scaled(factor)),
        method: method::ISR_RATE,
    })
}

pub(crate) fn validate_observed_expected(observed: f64, expected: f64) -> Result<(f64, f64)> {
    Ok((non_negative(Field::named("observed"), observed)?, positive(Field::named("expected"), expected)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_close;

    const C95: ConfidenceLevel = ConfidenceLevel::NINETY_FIVE;
    const C998: ConfidenceLevel = ConfidenceLevel::NINETY_NINE_POINT_EIGHT;

    #[test]
    fn crude_rate_uses_exact_limits_below_ten_and_byar_from_ten() {
        // Count limits from the worked table in counts.rs (mpmath), divided by n and × 100,000.
        let nine = crude_rate(9.0, 25_000.0, DEFAULT_RATE_MULTIPLIER, C95).unwrap();
        let i = nine.interval.unwrap();
        assert_close(nine.value, 36.0, 1e-15);
        assert_close(i.lower, 4.1153730973783324 * 4.0, 1e-9);
        assert_close(i.upper, 17.08480345141917 * 4.0, 1e-9);
        assert_eq!(i.method, method::EXACT_POISSON);

        let ten = crude_rate(10.0, 25_000.0, DEFAULT_RATE_MULTIPLIER, C998).unwrap();
        let i = ten.interval.unwrap();
        assert_close(ten.value, 40.0, 1e-15);
        assert_close(i.lower, 2.9163183746956851 * 4.0, 1e-9);
        assert_close(i.upper, 24.193724927880539 * 4.0, 1e-9);
        assert_eq!(i.method, method::BYAR);
    }

    #[test]
    fn zero_events_give_a_zero_rate_with_lower_limit_zero() {
        let r = crude_rate(0.0, 1_000.0, DEFAULT_RATE_MULTIPLIER, C95).unwrap();
        let i = r.interval.unwrap();
        assert_eq!((r.value, i.lower), (0.0, 0.0));
        assert_close(i.upper, 3.6888794541139363 * 100.0, 1e-9);
    }

    #[test]
    fn rates_allow_more_events_than_people_but_not_bad_inputs() {
        assert!(crude_rate(12.0, 10.0, 1.0, C95).is_ok());
        let msg = |x, n| crude_rate(x, n, 1.0, C95).unwrap_err().to_string();
        assert_eq!(msg(-1.0, 10.0), "numerator -1 is negative");
        assert_eq!(msg(1.0, 0.0), "denominator 0 is not positive");
        assert_eq!(crude_rate(1.0, 10.0, 0.0, C95).unwrap_err().to_string(), "multiplier 0 is not positive");
    }

    #[test]
    fn indirect_standardisation_scales_count_limits_by_expected() {
        // E = 0.001·2000 + 0.004·1500 + 0.02·500 = 2 + 6 + 10 = 18, by hand.
        let e = expected_count(&[0.001, 0.004, 0.02], &[2_000.0, 1_500.0, 500.0]).unwrap();
        assert_close(e, 18.0, 1e-15);
        let ratio = indirectly_standardised_ratio(25.0, e, Scale::Hundred, C95).unwrap();
        let i = ratio.interval.unwrap();
        assert_close(ratio.value, 2500.0 / 18.0, 1e-15);
        assert_close(i.lower, 16.174265921657206 * 100.0 / 18.0, 1e-9);
        assert_close(i.upper, 36.906450692185356 * 100.0 / 18.0, 1e-9);
        assert_eq!((ratio.method, i.method), (method::ISR_RATIO, method::BYAR));

        let rate = indirectly_standardised_rate(5.0, e, 850.0, C95).unwrap();
        let i = rate.interval.unwrap();
        assert_close(rate.value, 5.0 / 18.0 * 850.0, 1e-15);
        assert_close(i.lower, 1.6234863901184205 / 18.0 * 850.0, 1e-9);
        assert_close(i.upper, 11.66833207932267 / 18.0 * 850.0, 1e-9);
        assert_eq!((rate.method, i.method), (method::ISR_RATE, method::EXACT_POISSON));
    }

    #[test]
    fn indirect_standardisation_rejects_mismatched_or_missing_inputs() {
        assert_eq!(
            expected_count(&[0.1, 0.2], &[10.0]).unwrap_err().to_string(),
            "populations has 1 items but exactly 2 are required"
        );
        assert!(expected_count(&[], &[]).is_err());
        assert_eq!(
            expected_count(&[0.1, -0.2], &[10.0, 10.0]).unwrap_err().to_string(),
            "reference_rates[1] -0.2 is negative"
        );
        assert_eq!(
            indirectly_standardised_ratio(3.0, 0.0, Scale::Unit, C95).unwrap_err().to_string(),
            "expected 0 is not positive"
        );
    }

    #[test]
    fn rate_limits_bracket_the_value_and_nest_across_levels() {
        for x in (0..200).map(f64::from) {
            let narrow = crude_rate(x, 5_000.0, DEFAULT_RATE_MULTIPLIER, C95).unwrap();
            let wide = crude_rate(x, 5_000.0, DEFAULT_RATE_MULTIPLIER, C998).unwrap();
            let (n, w) = (narrow.interval.unwrap(), wide.interval.unwrap());
            assert!(w.lower <= n.lower && n.lower <= narrow.value, "x={x}");
            assert!(narrow.value < n.upper && n.upper < w.upper, "x={x}");
        }
    }
}
