//! Pooling of grouped input: summing several areas' (or periods') numerators and
//! denominators before calculating, which is how aggregate areas and peer groups get values
//! that are not averages of their members' values.

use crate::confidence::ConfidenceLevel;
use crate::dsr::{Dsr, StandardPopulation, directly_standardised_rate};
use crate::error::{Expected, Field, Result, StatisticsError, non_negative};
use crate::estimate::{Count, Estimate, Scale};
use crate::proportion::proportion;
use crate::rate::crude_rate;

/// Returns the sum of the numerators and of the denominators of `counts`.
///
/// Zero denominators are allowed in the parts (a member with no eligible population adds
/// nothing); the calculation the pool feeds rejects a zero total.
pub fn pool(counts: &[Count]) -> Result<Count> {
    if counts.is_empty() {
        return Err(StatisticsError::WrongLength {
            field: Field::named("counts"),
            expected: Expected::AtLeast(1),
            actual: 0,
        });
    }
    let mut total = Count::new(0.0, 0.0);
    for (i, count) in counts.iter().enumerate() {
        total.numerator += non_negative(Field::item("numerator", i), count.numerator)?;
        total.denominator += non_negative(Field::item("denominator", i), count.denominator)?;
    }
    Ok(total)
}

/// Returns band-by-band sums over several areas' standardisation bands.
pub fn pool_bands(areas: &[&[Count]]) -> Result<Vec<Count>> {
    let Some(first) = areas.first() else {
        return Err(StatisticsError::WrongLength {
            field: Field::named("areas"),
            expected: Expected::AtLeast(1),
            actual: 0,
        });
    };
    let mut totals = vec![Count::new(0.0, 0.0); first.len()];
    for (a, bands) in areas.iter().enumerate() {
        if bands.len() != first.len() {
            return Err(StatisticsError::WrongLength {
                field: Field::item("areas", a),
                expected: Expected::Exactly(first.len()),
                actual: bands.len(),
            });
        }
        for (total, band) in totals.iter_mut().zip(bands.iter()) {
            total.numerator += non_negative(Field::item("numerator", a), band.numerator)?;
            total.denominator += non_negative(Field::item("denominator", a), band.denominator)?;
        }
    }
    Ok(totals)
}

/// Returns the proportion Σx ÷ Σn with Wilson limits, rejecting any part whose x exceeds its n.
pub fn pooled_proportion(counts: &[Count], scale: Scale, confidence: ConfidenceLevel) -> Result<Estimate> {
    for (i, count) in counts.iter().enumerate() {
        if count.numerator > count.denominator {
            return Err(StatisticsError::NumeratorExceedsDenominator {
                field: Field::item("numerator", i),
                numerator: count.numerator,
                denominator: count.denominator,
            });
        }
    }
    let total = pool(counts)?;
    proportion(total.numerator, total.denominator, scale, confidence)
}

/// Returns the crude rate Σx ÷ Σn × multiplier with count limits of Σx.
pub fn pooled_crude_rate(counts: &[Count], multiplier: f64, confidence: ConfidenceLevel) -> Result<Estimate> {
    let total = pool(counts)?;
    crude_rate(total.numerator, total.denominator, multiplier, confidence)
}

/// Returns the DSR of several areas pooled band by band.
pub fn pooled_directly_standardised_rate(
    areas: &[&[Count]],
    standard: &StandardPopulation,
    multiplier: f64,
    confidence: ConfidenceLevel,
) -> Result<Dsr> {
    directly_standardised_rate(&pool_bands(areas)?, standard, multiplier, confidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_close;

    const C95: ConfidenceLevel = ConfidenceLevel::NINETY_FIVE;

    #[test]
    fn pooling_sums_then_calculates() {
        let areas = [Count::new(30.0, 60.0), Count::new(25.0, 30.0), Count::new(10.0, 10.0)];
        // 65 of 100: the Wilson worked value in proportion.rs.
        let p = pooled_proportion(&areas, Scale::Hundred, C95).unwrap();
        assert_close(p.value, 65.0, 1e-15);
        assert_close(p.interval.unwrap().lower, 55.25444329688796, 1e-9);

        // 9 events in 25,000: the exact-limits crude-rate case in rate.rs.
        let rates = [Count::new(4.0, 10_000.0), Count::new(5.0, 15_000.0)];
        let r = pooled_crude_rate(&rates, 1e5, C95).unwrap();
        assert_close(r.value, 36.0, 1e-15);
        assert_close(r.interval.unwrap().upper, 17.08480345141917 * 4.0, 1e-9);
    }

    #[test]
    fn pooled_bands_feed_the_dsr() {
        let standard = StandardPopulation::new(vec![30.0, 50.0, 20.0]).unwrap();
        let a = [Count::new(5.0, 1500.0), Count::new(10.0, 1000.0), Count::new(28.0, 700.0)];
        let b = [Count::new(7.0, 2500.0), Count::new(20.0, 2000.0), Count::new(30.0, 800.0)];
        let pooled = pool_bands(&[&a, &b]).unwrap();
        assert_eq!(pooled[2], Count::new(58.0, 1500.0));
        // Sums are case C of reference/dsr.py, whose DSR per 1,000 is 13.6333….
        let dsr = pooled_directly_standardised_rate(&[&a, &b], &standard, 1000.0, C95).unwrap();
        assert_close(dsr.estimate().unwrap().value, 13.633333333333333, 1e-12);
    }

    #[test]
    fn missing_or_bad_parts_are_errors_naming_the_part() {
        assert_eq!(pool(&[]).unwrap_err().to_string(), "counts has 0 items but at least 1 are required");
        assert_eq!(
            pool(&[Count::new(1.0, 2.0), Count::new(-1.0, 2.0)]).unwrap_err().to_string(),
            "numerator[1] -1 is negative"
        );
        assert_eq!(
            pooled_proportion(&[Count::new(1.0, 2.0), Count::new(3.0, 2.0)], Scale::Unit, C95).unwrap_err().to_string(),
            "numerator[1] 3 exceeds denominator 2"
        );
        let a = [Count::new(1.0, 2.0)];
        let b = [Count::new(1.0, 2.0), Count::new(1.0, 2.0)];
        assert_eq!(pool_bands(&[&a, &b]).unwrap_err().to_string(), "areas[1] has 2 items but exactly 1 are required");
        assert!(pooled_crude_rate(&[Count::new(0.0, 0.0)], 1e5, C95).is_err());
    }
}
